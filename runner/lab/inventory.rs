//! The lab as an Ansible YAML inventory, for `windlass run -i` (and ansible-playbook).
//!
//! Why this file exists: the one description of how to reach the hosts (address, root, the
//! lab's key, no host-key memory: every `up` makes new host keys).

use serde_json::{Map, Value};

use super::model::{Lab, arg};

/// What reaches every host of `lab`: the `all` variables of [`yaml`], as data (for an
/// inventory of other host names, `windlass test`'s).
pub fn vars(lab: &Lab) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("ansible_user", "root".to_string()),
        ("ansible_ssh_private_key_file", arg(&lab.key())),
        ("ansible_python_interpreter", "/usr/bin/python3".into()),
        ("ansible_ssh_common_args", SSH_ARGS.into()),
        ("windlass_lab", lab.name.as_str().into()),
    ] {
        m.insert(k.into(), Value::String(v));
    }
    m
}

/// No host-key memory: every `up` makes new host keys.
const SSH_ARGS: &str =
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";

/// The inventory of `lab`'s running `hosts` (names), in lab order.
pub fn yaml(lab: &Lab, running: &[&str]) -> String {
    let key = serde_json::to_string(&arg(&lab.key())).unwrap_or_default();
    let mut out = String::from("all:\n  vars:\n    ansible_user: root\n");
    out.push_str(&format!("    ansible_ssh_private_key_file: {key}\n"));
    out.push_str("    ansible_python_interpreter: /usr/bin/python3\n");
    out.push_str(&format!("    ansible_ssh_common_args: '{SSH_ARGS}'\n"));
    out.push_str(&format!("    windlass_lab: {}\n", lab.name.as_str()));
    out.push_str("  hosts:\n");
    for h in lab
        .hosts
        .iter()
        .filter(|h| running.contains(&h.name.as_str()))
    {
        out.push_str(&format!("    {}:\n      ansible_host: {}\n", h.name, h.ip));
    }
    if running.is_empty() {
        out.truncate(out.len() - "  hosts:\n".len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::{Lab, LabName, Layout, Suite};

    #[test]
    fn inventory_of_running_hosts() {
        let lab = Lab::new(
            LabName::parse("s13-doc").unwrap(),
            Suite::Bookworm,
            &Layout::new("/var/tmp/windlass-lab"),
            3,
            3,
        )
        .unwrap();
        insta::assert_snapshot!(
            "inventory",
            super::yaml(&lab, &["s13-doc-01", "s13-doc-03"])
        );
        assert!(!super::yaml(&lab, &[]).contains("hosts:"));
        // the data and the YAML say the same
        let parsed = crate::yaml::parse(
            &super::yaml(&lab, &[]),
            std::path::Path::new("inventory.yml"),
        )
        .unwrap()
        .to_value();
        assert_eq!(
            parsed["all"]["vars"],
            serde_json::Value::Object(super::vars(&lab))
        );
    }
}
