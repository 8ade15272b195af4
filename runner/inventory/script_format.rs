//! Inventory scripts and their JSON: an executable inventory file is run with `--list` (and
//! `--host NAME` per host when its answer has no `_meta.hostvars`), as ansible-core's
//! `script` inventory plugin does; the same JSON saved to a file (`ansible-inventory
//! --list > inventory.json`) is read as it stands.
//!
//! Why this module exists: teams keep dynamic inventories (a CMDB or cloud query printing
//! JSON) and snapshots of them; refusing both made windlass unusable there. The shape is
//! the plugin's (`plugins/inventory/script.py`, `_parse_group`): each top-level key but
//! `_meta` is a group, a mapping with `hosts` (a list), `vars` and `children` (a list); a
//! bare list is the group's hosts, and a mapping with none of those keys is one host of
//! that name with those variables. The script runs on the controller, as the user running
//! windlass, from the current directory, with no shell in between.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Inventory;
use crate::error::{Error, Loc, Result};

/// Run the script `path` with `--list` and add what it prints to `inv`.
pub(super) fn load_script(inv: &mut Inventory, path: &Path) -> Result<()> {
    let data = run(path, &["--list"])?;
    let loc = Loc::file(format!("<inventory script output from {}>", path.display()));
    let Value::Object(top) = parse(&data, &loc)? else {
        return Err(Error::invalid(
            &loc,
            "the script printed JSON that is not an object",
        ));
    };
    let meta = hostvars(&top, &loc)?;
    let hosts = add_groups(inv, &top, path, &loc)?;
    for host in hosts {
        let vars = match &meta {
            Some(m) => m.get(&host).cloned().unwrap_or(Value::Null),
            None => host_query(path, &host)?,
        };
        set_host_vars(inv, &host, vars, &loc)?;
    }
    Ok(())
}

/// The JSON of `text` when it is an inventory script's answer (an object with `_meta`, or
/// a group whose hosts or children are a list), not a YAML inventory.
pub(super) fn saved_listing(text: &str) -> Option<Map<String, Value>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let Ok(Value::Object(top)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let listed = |v: &Value| match v {
        Value::Array(_) => true,
        Value::Object(g) => {
            g.get("hosts").is_some_and(Value::is_array)
                || g.get("children").is_some_and(Value::is_array)
        }
        _ => false,
    };
    (top.contains_key("_meta") || top.values().any(listed)).then_some(top)
}

/// Add a saved listing (see [`saved_listing`]) read from `file` to `inv`.
pub(super) fn parse_saved(
    inv: &mut Inventory,
    top: &Map<String, Value>,
    file: &Path,
) -> Result<()> {
    let loc = Loc::file(file.display().to_string());
    let meta = hostvars(top, &loc)?;
    for host in add_groups(inv, top, file, &loc)? {
        let vars = meta.as_ref().and_then(|m| m.get(&host)).cloned();
        set_host_vars(inv, &host, vars.unwrap_or(Value::Null), &loc)?;
    }
    Ok(())
}

/// `_meta.hostvars`, when the answer has it.
fn hostvars(top: &Map<String, Value>, loc: &Loc) -> Result<Option<Map<String, Value>>> {
    let Some(meta) = top.get("_meta") else {
        return Ok(None);
    };
    match meta.get("hostvars") {
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        None => Ok(None),
        Some(other) => Err(Error::invalid(
            loc,
            format!("`_meta.hostvars` must be an object, found {}", kind(other)),
        )),
    }
}

/// Add every group of `top`; the hosts named, in order of first mention.
fn add_groups(
    inv: &mut Inventory,
    top: &Map<String, Value>,
    file: &Path,
    loc: &Loc,
) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = Vec::new();
    for (name, data) in top.iter().filter(|(k, _)| *k != "_meta") {
        inv.ensure_group(name, None);
        let data = normal_group(name, data);
        for host in list(&data, "hosts", name, loc)? {
            inv.ensure_host(&host, Some(file), None);
            inv.put_host_in_group(&host, name);
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        match data.get("vars") {
            None | Some(Value::Null) => {}
            Some(Value::Object(vars)) => {
                let g = inv.ensure_group(name, None);
                g.vars
                    .extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Some(other) => {
                return Err(Error::invalid(
                    loc,
                    format!("`{name}.vars` must be an object, found {}", kind(other)),
                ));
            }
        }
        for child in list(&data, "children", name, loc)? {
            inv.ensure_group(&child, None);
            inv.add_child(name, &child, loc)?;
        }
    }
    Ok(hosts)
}

/// A group as the plugin normalises it: a list is its hosts; a mapping without `hosts`,
/// `vars` or `children` is one host of the group's name with those variables.
fn normal_group(name: &str, data: &Value) -> Map<String, Value> {
    match data {
        Value::Object(g)
            if ["hosts", "vars", "children"]
                .iter()
                .any(|k| g.contains_key(*k)) =>
        {
            g.clone()
        }
        Value::Object(g) => Map::from_iter([
            ("hosts".to_string(), Value::from(vec![name.to_string()])),
            ("vars".to_string(), Value::Object(g.clone())),
        ]),
        other => Map::from_iter([("hosts".to_string(), other.clone())]),
    }
}

/// The names listed under `key` of a group (none when absent).
fn list(g: &Map<String, Value>, key: &str, group: &str, loc: &Loc) -> Result<Vec<String>> {
    match g.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(Error::invalid(
                    loc,
                    format!("`{group}.{key}` must list names, found {}", kind(other)),
                )),
            })
            .collect(),
        Some(other) => Err(Error::invalid(
            loc,
            format!("`{group}.{key}` must be a list, found {}", kind(other)),
        )),
    }
}

fn set_host_vars(inv: &mut Inventory, host: &str, vars: Value, loc: &Loc) -> Result<()> {
    let vars = match vars {
        Value::Null => return Ok(()),
        Value::Object(m) => m,
        other => {
            return Err(Error::invalid(
                loc,
                format!(
                    "the variables of host `{host}` must be an object, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    let h = inv.ensure_host(host, None, None);
    h.vars.extend(vars);
    Ok(())
}

/// `script --host NAME`: one host's variables (an empty answer is none).
fn host_query(path: &Path, host: &str) -> Result<Value> {
    let data = run(path, &["--host", host])?;
    if data.trim().is_empty() {
        return Ok(Value::Null);
    }
    let loc = Loc::file(format!(
        "<inventory script output from {} for host {host}>",
        path.display()
    ));
    parse(&data, &loc)
}

fn parse(data: &str, loc: &Loc) -> Result<Value> {
    serde_json::from_str(data)
        .map_err(|e| Error::invalid(loc, format!("the script's output is not JSON: {e}")))
}

/// Run `path` with `args` (no shell); its stdout, or an error with its stderr.
fn run(path: &Path, args: &[&str]) -> Result<String> {
    let program: PathBuf = match path.is_absolute() || path.components().count() > 1 {
        true => path.to_path_buf(),
        // A bare name would be looked up in PATH: run the file here instead.
        false => Path::new(".").join(path),
    };
    let out = std::process::Command::new(&program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io(path, e))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let loc = Loc::file(path.display().to_string());
    if !out.status.success() {
        return Err(Error::invalid(
            &loc,
            format!(
                "the inventory script `{} {}` failed ({}){}",
                path.display(),
                args.join(" "),
                out.status,
                match stderr.trim() {
                    "" => String::new(),
                    s => format!(": {s}"),
                }
            ),
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| Error::invalid(&loc, "the inventory script printed text that is not UTF-8"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
