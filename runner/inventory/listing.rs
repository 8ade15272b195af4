//! `ansible-inventory --list` JSON and `--graph` text.
//!
//! Why this module exists: users check what an inventory means with `ansible-inventory`,
//! and scripts consume its `--list` JSON. `windlass inventory --list/--graph` prints the
//! same shapes from these functions, so the output can be compared with Ansible's.

use serde_json::{Map, Value};

use super::{Inventory, PatternError, Vars};

/// The `--list` document: `_meta.hostvars` (hosts with variables only) and one entry per
/// group reachable from `all` with its direct `hosts` and `children` (empty keys and empty
/// groups left out, `all` never lists hosts). Without `export`, host variables are fully
/// merged ([`Inventory::host_vars`]) and groups carry no `vars`; with `export`, each host
/// has only its own variables and each group its own under `vars`. Keys are sorted
/// recursively, as `ansible-inventory` prints them.
pub fn to_list_json(inv: &Inventory, export: bool) -> Value {
    let mut out = Map::new();
    let mut seen = std::collections::HashSet::new();
    seen.insert("all".to_string());
    format_group(inv, "all", export, &mut out, &mut seen);
    let mut hostvars = Map::new();
    for host in inv.hosts.keys() {
        let vars = if export {
            let mut v: Vars = inv.hosts[host].vars.clone();
            for level in 0..2 {
                if let Some(f) = inv.host_files[level].get(host) {
                    v.extend(f.iter().map(|(k, x)| (k.clone(), x.clone())));
                }
            }
            v
        } else {
            inv.host_vars(host)
        };
        if !vars.is_empty() {
            hostvars.insert(host.clone(), Value::Object(vars.into_iter().collect()));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".to_string(), Value::Object(hostvars));
    // ansible-core 2.19 names the JSON profile its inventory decoders read it with.
    meta.insert("profile".to_string(), Value::from("inventory_legacy"));
    out.insert("_meta".to_string(), Value::Object(meta));
    sort_keys(Value::Object(out))
}

fn format_group(
    inv: &Inventory,
    name: &str,
    export: bool,
    out: &mut Map<String, Value>,
    seen: &mut std::collections::HashSet<String>,
) {
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    let mut entry = Map::new();
    if name != "all" && !group.hosts.is_empty() {
        entry.insert(
            "hosts".to_string(),
            Value::Array(group.hosts.iter().cloned().map(Value::String).collect()),
        );
    }
    if !group.children.is_empty() {
        entry.insert(
            "children".to_string(),
            Value::Array(group.children.iter().cloned().map(Value::String).collect()),
        );
    }
    for child in &group.children {
        if seen.insert(child.clone()) {
            format_group(inv, child, export, out, seen);
        }
    }
    if export {
        let mut vars: Vars = group.vars.clone();
        vars.extend(inv.group_file_vars(name));
        if !vars.is_empty() {
            entry.insert(
                "vars".to_string(),
                Value::Object(vars.into_iter().collect()),
            );
        }
    }
    if !entry.is_empty() {
        out.insert(name.to_string(), Value::Object(entry));
    }
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The `--graph` text from `group` (default `all`): `@group:` lines for groups, host names
/// for hosts, each level indented by `  |` and marked `--`; children and hosts in the
/// order the inventory gave them (ansible-core 2.19's `_graph_group` walks its lists as
/// they are); `all` shows no hosts of its own. Lines are joined by `\n`, with no final
/// newline.
pub fn graph(inv: &Inventory, group: Option<&str>) -> Result<String, PatternError> {
    let start = group.unwrap_or("all");
    if !inv.groups.contains_key(start) {
        return Err(PatternError::new(format!(
            "no group named `{start}` in the inventory (--graph takes a group name)"
        )));
    }
    let mut lines = Vec::new();
    graph_group(inv, start, 0, &mut lines);
    Ok(lines.join("\n"))
}

fn graph_group(inv: &Inventory, name: &str, depth: usize, lines: &mut Vec<String>) {
    let Some(group) = inv.groups.get(name) else {
        return;
    };
    lines.push(graph_name(&format!("@{name}:"), depth));
    for kid in &group.children {
        graph_group(inv, kid, depth + 1, lines);
    }
    if name != "all" {
        for h in &group.hosts {
            lines.push(graph_name(h, depth + 1));
        }
    }
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn inv() -> Inventory {
        Inventory::parse_str(
            "solo\n[web]\nw2 x=1\nw1\n[web:vars]\ng=web\n[k8s:children]\nweb\nempty\n",
            Path::new("hosts"),
        )
        .unwrap()
    }

    #[test]
    fn list_shape() {
        assert_eq!(
            inv().to_list_json(),
            json!({
                "_meta": {
                    "hostvars": {"w1": {"g": "web"}, "w2": {"g": "web", "x": 1}},
                    "profile": "inventory_legacy"
                },
                "all": {"children": ["ungrouped", "k8s"]},
                "k8s": {"children": ["web", "empty"]},
                "ungrouped": {"hosts": ["solo"]},
                "web": {"hosts": ["w2", "w1"]}
            })
        );
        let export = inv().to_list_json_export();
        assert_eq!(export["web"]["vars"], json!({"g": "web"}));
        assert_eq!(export["_meta"]["hostvars"], json!({"w2": {"x": 1}}));
    }

    /// As ansible-core 2.19.14 prints it (with an `[empty]` section, which its INI plugin
    /// needs): groups and hosts in the inventory's order.
    #[test]
    fn graph_text() {
        assert_eq!(
            inv().graph(None).unwrap(),
            "@all:\n  |--@ungrouped:\n  |  |--solo\n  |--@k8s:\n  |  |--@web:\n  |  |  |--w2\n  |  |  |--w1\n  |  |--@empty:"
        );
        assert_eq!(inv().graph(Some("web")).unwrap(), "@web:\n  |--w2\n  |--w1");
        assert!(inv().graph(Some("nope")).is_err());
    }
}
