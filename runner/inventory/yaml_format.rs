//! The YAML inventory format, as Ansible's `yaml` inventory plugin reads it.
//!
//! Why this module exists: YAML inventories (`all: {hosts: …, vars: …, children: …}`)
//! are the other common format. Groups are mappings with `hosts`, `vars` and `children`;
//! host names may carry ranges and ports. Unlike Ansible, which warns and skips, an unknown
//! key in a group is an error at the key, since it is almost always a typo or a wrongly
//! indented host.

use std::path::Path;

use super::{Inventory, hostrange};
use crate::error::{Error, Result};
use crate::yaml::{self, Kind, Node};

/// Decide whether `text` is a YAML inventory: always for `.yml`/`.yaml`/`.json` files
/// (whose parse errors are then reported), otherwise when it parses as a mapping whose
/// values are all mappings or empty. Returns the parsed document when it is YAML, read by
/// `reader` (which reports duplicate keys only of what turns out to be YAML).
pub fn detect(text: &str, file: &Path, reader: &yaml::Reader) -> Result<Option<Node>> {
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if matches!(ext.as_deref(), Some("yml" | "yaml" | "json")) {
        return reader.parse(text, file).map(Some);
    }
    match yaml::parse_with(text, file, reader.vault()) {
        Ok(doc) => {
            let is_inventory = match &doc.kind {
                Kind::Map(entries) => {
                    !entries.is_empty()
                        && entries
                            .iter()
                            .all(|(_, v)| matches!(v.kind, Kind::Map(_) | Kind::Null))
                }
                _ => false,
            };
            match is_inventory {
                true => reader.parse(text, file).map(Some),
                false => Ok(None),
            }
        }
        Err(_) => Ok(None),
    }
}

/// Add the groups and hosts of the YAML inventory `doc` (read from `file`) to `inv`.
pub fn parse_into(inv: &mut Inventory, doc: &Node, file: &Path) -> Result<()> {
    if doc.is_null() {
        return Ok(());
    }
    let top = doc.expect_map("a YAML inventory")?;
    if let Some((_, plugin)) = top.iter().find(|(k, _)| k == "plugin")
        && plugin.as_str().is_some()
    {
        return Err(Error::invalid(
            &plugin.loc,
            "inventory plugin configurations (`plugin:`) are not supported; use a static INI or YAML inventory",
        ));
    }
    for (name, data) in top {
        let key_loc = key_loc(doc, &name).unwrap_or_else(|| data.loc.clone());
        group(inv, &name, data, file, &key_loc)?;
    }
    Ok(())
}

fn key_loc(map: &Node, key: &str) -> Option<crate::Loc> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.key_str().as_deref() == Some(key))
        .map(|(k, _)| k.loc.clone())
}

fn group(
    inv: &mut Inventory,
    name: &str,
    data: &Node,
    file: &Path,
    loc: &crate::Loc,
) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(loc, "a group name cannot be empty"));
    }
    inv.ensure_group(name, Some(loc));
    if data.is_null() {
        return Ok(());
    }
    let entries = data.expect_map(&format!("group `{name}`"))?;
    for (key, value) in entries {
        let kloc = key_loc(data, &key).unwrap_or_else(|| value.loc.clone());
        match key.as_str() {
            "hosts" => {
                for (host, hvars, hloc) in section(value, name, "hosts")? {
                    host_entry(inv, name, &host, hvars, file, &hloc)?;
                }
            }
            "vars" => {
                for (var, v, _) in section(value, name, "vars")? {
                    let v = v.map(Node::to_value).unwrap_or(serde_json::Value::Null);
                    inv.ensure_group(name, None).vars.insert(var, v);
                }
            }
            "children" => {
                for (child, cdata, cloc) in section(value, name, "children")? {
                    let null = Node::synthetic(Kind::Null, &cloc);
                    group(inv, &child, cdata.unwrap_or(&null), file, &cloc)?;
                    inv.add_child(name, &child, &cloc)?;
                }
            }
            other => {
                return Err(Error::invalid_help(
                    &kloc,
                    format!("unexpected key `{other}` in group `{name}`"),
                    "a group may only have `hosts`, `vars` and `children`; hosts go under `hosts:`",
                ));
            }
        }
    }
    Ok(())
}

/// The entries of a `hosts`/`vars`/`children` section: a mapping, null, or a single string
/// (which Ansible accepts as a one-entry mapping). Each entry: name, value, key location.
fn section<'a>(
    value: &'a Node,
    group: &str,
    what: &str,
) -> Result<Vec<(String, Option<&'a Node>, crate::Loc)>> {
    match &value.kind {
        Kind::Null => Ok(Vec::new()),
        Kind::Str(s) => Ok(vec![(s.clone(), None, value.loc.clone())]),
        Kind::Map(entries) => entries
            .iter()
            .map(|(k, v)| match k.key_str() {
                Some(s) => Ok((s, Some(v), k.loc.clone())),
                None => Err(Error::invalid(
                    &k.loc,
                    format!("`{what}` of group `{group}`: keys must be names"),
                )),
            })
            .collect(),
        _ => Err(Error::invalid_help(
            &value.loc,
            format!(
                "`{what}` of group `{group}` must be a mapping, found {}",
                value.type_name()
            ),
            if what == "hosts" {
                "write hosts as a mapping (`hosts: {web1: , web2: }`), not a list"
            } else {
                "write it as a mapping of names"
            },
        )),
    }
}

fn host_entry(
    inv: &mut Inventory,
    group: &str,
    entry: &str,
    vars: Option<&Node>,
    file: &Path,
    loc: &crate::Loc,
) -> Result<()> {
    let addr = hostrange::parse_address(entry).map_err(|m| Error::invalid(loc, m))?;
    let names = hostrange::expand(&addr.name).map_err(|m| Error::invalid(loc, m))?;
    let vars = match vars {
        None => Vec::new(),
        Some(n) if n.is_null() => Vec::new(),
        Some(n) => n
            .expect_map(&format!("the variables of host `{entry}`"))?
            .into_iter()
            .map(|(k, v)| (k, v.to_value()))
            .collect(),
    };
    for name in names {
        let host = inv.ensure_host(&name, Some(file), Some(loc));
        if let Some(port) = addr.port {
            host.vars
                .insert("ansible_port".to_string(), serde_json::Value::from(port));
        }
        for (k, v) in &vars {
            host.vars.insert(k.clone(), v.clone());
        }
        inv.put_host_in_group(&name, group);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv(text: &str) -> Inventory {
        Inventory::parse_str(text, Path::new("hosts.yml")).unwrap()
    }

    #[test]
    fn groups_hosts_vars_children() {
        let i = inv(
            "all:\n  hosts:\n    solo:\n  vars:\n    v: 1\n  children:\n    web:\n      hosts:\n        w[1:2]:\n          port_like: '22'\n        w3:2200:\n    db:\n",
        );
        assert_eq!(i.host_names(), ["solo", "w1", "w2", "w3"]);
        assert_eq!(i.group("web").unwrap().hosts, ["w1", "w2", "w3"]);
        assert_eq!(i.group("all").unwrap().vars["v"], json!(1));
        assert_eq!(i.host("w1").unwrap().vars["port_like"], json!("22"));
        assert_eq!(i.host("w3").unwrap().vars["ansible_port"], json!(2200));
        assert_eq!(i.group("ungrouped").unwrap().hosts, ["solo"]);
        assert!(i.group("db").is_some());
    }

    #[test]
    fn detection_without_extension() {
        let i = Inventory::parse_str("web:\n  hosts:\n    a:\n", Path::new("inv")).unwrap();
        assert_eq!(i.group("web").unwrap().hosts, ["a"]);
        let i = Inventory::parse_str("a\nb\n", Path::new("inv")).unwrap();
        assert_eq!(i.host_names(), ["a", "b"]);
    }

    #[test]
    fn errors_are_located() {
        let e = Inventory::parse_str(
            "all:\n  children:\n    web:\n      host:\n        a:\n",
            Path::new("x.yml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unexpected key `host`"), "{e}");
        let loc = e.loc().unwrap();
        assert_eq!((loc.line, loc.col), (4, 7));
        let e = Inventory::parse_str("web:\n  hosts:\n    - a\n", Path::new("x.yml")).unwrap_err();
        assert!(e.to_string().contains("must be a mapping"), "{e}");
        assert_eq!(e.loc().unwrap().line, 3);
        let e = Inventory::parse_str("web:\n  hosts:\n    a: 5\n", Path::new("x.yml")).unwrap_err();
        assert!(e.to_string().contains("host `a`"), "{e}");
        let e = Inventory::parse_str("plugin: aws_ec2\n", Path::new("x.yml")).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }
}
