//! A scenario's inventory: its host names, groups and host variables, each host reached at
//! the address of the lab host in its place.
//!
//! Why this file exists: a scenario names its hosts as the playbooks under test expect
//! (`lb1`, `cp1`, in `loadbalancer`, `kube_control_plane`), while the lab names its own
//! (`LAB-01`, …); this is the one place the two meet. Written as JSON, which every YAML
//! inventory reader reads, so no value needs YAML quoting.

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::lab::model::Host;

use super::model::Scenario;

/// The inventory of `scenario` on the lab hosts `lab_hosts` (in lab order), with `reach`
/// (the lab's connection variables) for every host.
pub fn render(
    scenario: &Scenario,
    lab_hosts: &[Host],
    reach: &Map<String, Value>,
) -> Result<String> {
    if lab_hosts.len() < scenario.hosts.len() {
        return Err(Error::Other(format!(
            "scenario {}: {} host(s) running in its lab, {} needed",
            scenario.id,
            lab_hosts.len(),
            scenario.hosts.len()
        )));
    }
    let mut hosts = Map::new();
    let mut groups: Map<String, Value> = Map::new();
    for (h, lab_host) in scenario.hosts.iter().zip(lab_hosts) {
        let mut vars = Map::new();
        vars.insert(
            "ansible_host".into(),
            Value::String(lab_host.ip.to_string()),
        );
        vars.insert(
            "windlass_lab_host".into(),
            Value::String(lab_host.name.clone()),
        );
        vars.extend(h.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        hosts.insert(h.name.clone(), Value::Object(vars));
        for g in &h.groups {
            let group = groups
                .entry(g.clone())
                .or_insert_with(|| json!({"hosts": {}}));
            group["hosts"][h.name.as_str()] = json!({});
        }
    }
    for (parent, kids) in &scenario.children {
        let group = groups.entry(parent.clone()).or_insert_with(|| json!({}));
        let mut children = Map::new();
        for k in kids {
            children.insert(k.clone(), json!({}));
        }
        group["children"] = Value::Object(children);
    }
    let all = json!({"all": {"vars": reach, "hosts": hosts, "children": groups}});
    serde_json::to_string_pretty(&all).map_err(|e| Error::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::Path;

    use super::*;

    fn scenario(text: &str) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("converge.yml"), "- hosts: all\n").unwrap();
        let node = crate::yaml::parse(text, Path::new("scenario.yml")).unwrap();
        Scenario::from_node(&node, dir.path(), "r/default").unwrap()
    }

    fn lab(n: u8) -> Vec<Host> {
        (1..=n)
            .map(|i| Host {
                name: format!("s14-x-{i:02}"),
                ip: Ipv4Addr::new(10, 240, 3, 10 + i),
            })
            .collect()
    }

    #[test]
    fn hosts_groups_and_vars_on_lab_addresses() {
        let s = scenario(
            "hosts:\n  - name: lb1\n    groups: [loadbalancer]\n    vars: {node_ip: 1.2.3.4}\n  - name: cp1\n    groups: [kube_control_plane, loadbalancer]\nchildren:\n  k8s_cluster: [kube_control_plane]\n",
        );
        let mut reach = Map::new();
        reach.insert("ansible_user".into(), json!("root"));
        let text = render(&s, &lab(2), &reach).unwrap();
        let inv = crate::inventory::Inventory::parse_str(&text, Path::new("inv.json")).unwrap();
        let names = |g: &str| inv.select(g).unwrap();
        assert_eq!(names("loadbalancer"), vec!["lb1", "cp1"]);
        assert_eq!(names("k8s_cluster"), vec!["cp1"]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["all"]["hosts"]["cp1"]["ansible_host"], "10.240.3.12");
        assert_eq!(v["all"]["hosts"]["lb1"]["node_ip"], "1.2.3.4");
        assert_eq!(v["all"]["hosts"]["lb1"]["windlass_lab_host"], "s14-x-01");
        assert_eq!(v["all"]["vars"]["ansible_user"], "root");
    }

    #[test]
    fn too_few_lab_hosts_is_an_error() {
        let s = scenario("hosts:\n  - name: a\n  - name: b\n");
        assert!(render(&s, &lab(1), &Map::new()).is_err());
    }
}
