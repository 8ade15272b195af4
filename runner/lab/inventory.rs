//! The lab as an Ansible YAML inventory, for `windlass run -i` (and ansible-playbook).
//!
//! Why this file exists: the one description of how to reach the hosts (address, root, the
//! lab's key, no host-key memory: every `up` makes new host keys).

use super::model::{Lab, arg};

/// The inventory of `lab`'s running `hosts` (names), in lab order.
pub fn yaml(lab: &Lab, running: &[&str]) -> String {
    let key = serde_json::to_string(&arg(&lab.key())).unwrap_or_default();
    let mut out = String::from("all:\n  vars:\n    ansible_user: root\n");
    out.push_str(&format!("    ansible_ssh_private_key_file: {key}\n"));
    out.push_str("    ansible_python_interpreter: /usr/bin/python3\n");
    out.push_str("    ansible_ssh_common_args: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'\n");
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
    }
}
