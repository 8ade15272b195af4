//! The INI inventory format, as Ansible's `ini` inventory plugin reads it.
//!
//! Why this module exists: most hand-written inventories (Kubespray's `inventory.ini`
//! among them) are INI: `[group]` sections of `host key=value ...` lines, `[group:vars]`
//! and `[group:children]` sections. Values go through Python-literal evaluation
//! ([`super::pyliteral`]), so `ansible_port=2222` is an integer and `x=True` a boolean.
//! Every error names file:line:col.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::{Inventory, hostrange, pyliteral};
use crate::error::{Error, Loc, Result};

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// Parse INI inventory `text` into `inv`; `file` is used for locations and host sources.
pub fn parse_into(inv: &mut Inventory, text: &str, file: &Path) -> Result<()> {
    let path: Arc<Path> = Arc::from(file);
    let mut state = State::Hosts;
    let mut group = "ungrouped".to_string();
    // `[g:vars]` for a group never defined in this file is an error (as in Ansible),
    // reported at its header once the whole file is read.
    let mut pending_vars: Vec<(String, Loc)> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let lineno = idx as u32 + 1;
        let indent = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        let loc_at = |offset: usize| Loc::new(path.clone(), lineno, (indent + offset) as u32 + 1);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            if let Some((name, kind)) = section_header(line) {
                let loc = loc_at(1);
                state = match kind {
                    None | Some("hosts") => State::Hosts,
                    Some("vars") => State::Vars,
                    Some("children") => State::Children,
                    Some(other) => {
                        return Err(Error::invalid_help(
                            &loc_at(name.len() + 2),
                            format!("section [{name}:{other}] has unknown type `{other}`"),
                            "a section is [group], [group:vars] or [group:children]",
                        ));
                    }
                };
                if state == State::Vars {
                    if !inv.groups.contains_key(name) {
                        pending_vars.push((name.to_string(), loc));
                    }
                } else {
                    inv.ensure_group(name, Some(&loc));
                    pending_vars.retain(|(g, _)| g != name);
                }
                group = name.to_string();
                continue;
            }
            if line.ends_with(']') {
                return Err(Error::syntax(
                    &loc_at(0),
                    format!(
                        "invalid section header `{line}` (group names cannot contain spaces, `:` or `]`)"
                    ),
                ));
            }
        }
        match state {
            State::Hosts => host_line(inv, line, &group, file, &loc_at)?,
            State::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(Error::syntax(
                        &loc_at(0),
                        format!("expected key=value in [{group}:vars], got `{line}`"),
                    ));
                };
                let key = k.trim();
                if key.is_empty() {
                    return Err(Error::syntax(
                        &loc_at(0),
                        format!("missing variable name before `=` in `{line}`"),
                    ));
                }
                let value = pyliteral::literal_or_string(v.trim());
                inv.ensure_group(&group, None)
                    .vars
                    .insert(key.to_string(), value);
            }
            State::Children => {
                let name = match line.find('#') {
                    Some(i) => line[..i].trim_end(),
                    None => line,
                };
                if name.is_empty() || name.contains([':', ']', ' ', '\t']) {
                    return Err(Error::syntax(
                        &loc_at(0),
                        format!("expected a group name in [{group}:children], got `{line}`"),
                    ));
                }
                let loc = loc_at(0);
                inv.ensure_group(name, Some(&loc));
                inv.add_child(&group, name, &loc)?;
            }
        }
    }
    if let Some((name, loc)) = pending_vars.into_iter().next() {
        return Err(Error::invalid(
            &loc,
            format!("section [{name}:vars] is for group `{name}`, which is not defined"),
        ));
    }
    Ok(())
}

/// `[name]` or `[name:kind]`, optionally followed by a `#` comment.
fn section_header(line: &str) -> Option<(&str, Option<&str>)> {
    let close = line.find(']')?;
    let after = line[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (inner, None),
    };
    let name_ok = !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '[');
    let kind_ok =
        kind.is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (name_ok && kind_ok).then_some((name, kind))
}

fn host_line(
    inv: &mut Inventory,
    line: &str,
    group: &str,
    file: &Path,
    loc_at: &dyn Fn(usize) -> Loc,
) -> Result<()> {
    let tokens = split(line).map_err(|(off, m)| Error::syntax(&loc_at(off), m))?;
    let Some((first_off, first)) = tokens.first() else {
        return Ok(()); // only a comment
    };
    let addr =
        hostrange::parse_address(first).map_err(|m| Error::syntax(&loc_at(*first_off), m))?;
    let names = hostrange::expand(&addr.name).map_err(|m| Error::syntax(&loc_at(*first_off), m))?;
    let mut vars: Vec<(String, Value)> = Vec::new();
    if let Some(port) = addr.port {
        vars.push(("ansible_port".to_string(), Value::from(port)));
    }
    for (off, tok) in &tokens[1..] {
        let Some((k, v)) = tok.split_once('=') else {
            return Err(Error::syntax(
                &loc_at(*off),
                format!("expected key=value host variable assignment, got `{tok}`"),
            ));
        };
        if k.is_empty() {
            return Err(Error::syntax(
                &loc_at(*off),
                format!("missing variable name before `=` in `{tok}`"),
            ));
        }
        vars.push((k.to_string(), pyliteral::literal_or_string(v)));
    }
    let loc = loc_at(*first_off);
    for name in names {
        let host = inv.ensure_host(&name, Some(file), Some(&loc));
        for (k, v) in &vars {
            host.vars.insert(k.clone(), v.clone());
        }
        inv.put_host_in_group(&name, group);
    }
    Ok(())
}

/// Split a host line like Python's `shlex.split(line, comments=True)` (POSIX mode): quotes
/// group and are removed, a backslash escapes, `#` outside quotes ends the line. Each token
/// comes with its byte offset in `line`. An error carries the offset of the open quote.
fn split(line: &str) -> Result<Vec<(usize, String)>, (usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(t) = cur.take() {
                    out.push(t);
                }
            }
            '#' => break,
            '\'' | '"' => {
                let tok = cur.get_or_insert_with(|| (i, String::new()));
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if c == '"'
                        && d == '\\'
                        && let Some((_, e)) = chars.peek().copied()
                        && matches!(e, '"' | '\\' | '$' | '`')
                    {
                        chars.next();
                        tok.1.push(e);
                        continue;
                    }
                    tok.1.push(d);
                }
                if !closed {
                    return Err((i, format!("unclosed quote {c} in `{line}`")));
                }
            }
            '\\' => {
                let tok = cur.get_or_insert_with(|| (i, String::new()));
                if let Some((_, e)) = chars.next() {
                    tok.1.push(e);
                }
            }
            c => cur.get_or_insert_with(|| (i, String::new())).1.push(c),
        }
    }
    if let Some(t) = cur.take() {
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv(text: &str) -> Inventory {
        Inventory::parse_str(text, Path::new("hosts.ini")).unwrap()
    }

    fn err(text: &str) -> (String, u32, u32) {
        let e = Inventory::parse_str(text, Path::new("bad.ini")).unwrap_err();
        let loc = e.loc().cloned().unwrap();
        (e.to_string(), loc.line, loc.col)
    }

    #[test]
    fn shlex_split() {
        let t = split(r#"h a="x y" b='q' c=\"z d=1#c"#).unwrap();
        let toks: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(toks, ["h", "a=x y", "b=q", "c=\"z", "d=1"]);
        assert_eq!(t[1].0, 2);
        assert!(split("h a='x").is_err());
    }

    #[test]
    fn host_lines_and_values() {
        let i = inv(
            "# comment\n; other\nfree ansible_host=10.0.0.1\n[web]\nw1:2222 x=True y=true z='5' n=5 l=\"[1, 2]\"\n",
        );
        assert_eq!(i.host_names(), ["free", "w1"]);
        let w = &i.host("w1").unwrap().vars;
        assert_eq!(w["ansible_port"], json!(2222));
        assert_eq!(w["x"], json!(true));
        assert_eq!(w["y"], json!("true"));
        // shlex removes the quotes before literal evaluation, as in Ansible.
        assert_eq!(w["z"], json!(5));
        assert_eq!(w["n"], json!(5));
        assert_eq!(w["l"], json!([1, 2]));
        assert_eq!(
            i.host("free").unwrap().vars["ansible_host"],
            json!("10.0.0.1")
        );
    }

    #[test]
    fn vars_and_children() {
        let i = inv(
            "[web]\nw1\n[web:vars]\na=1\nb = hello world\nc='5'\nd=True\n[k8s:children]\nweb\nnever_defined\n",
        );
        let g = &i.group("web").unwrap().vars;
        assert_eq!(g["a"], json!(1));
        assert_eq!(g["b"], json!("hello world"));
        assert_eq!(g["c"], json!("5"));
        assert_eq!(g["d"], json!(true));
        assert_eq!(i.group("k8s").unwrap().children, ["web", "never_defined"]);
        assert!(i.group("never_defined").unwrap().hosts.is_empty());
        assert_eq!(i.group_names("w1"), ["k8s", "web"]);
    }

    #[test]
    fn ranges_expand() {
        let i = inv("[nodes]\nnode[01:03] role=worker\n");
        assert_eq!(i.host_names(), ["node01", "node02", "node03"]);
        assert_eq!(i.host("node02").unwrap().vars["role"], json!("worker"));
    }

    #[test]
    fn errors_are_located() {
        let (m, l, c) = err("[web]\nw1\n[web:bogus]\n");
        assert!(m.contains("unknown type `bogus`"), "{m}");
        assert_eq!((l, c), (3, 6));
        let (m, l, c) = err("[web]\n  w1 novalue\n");
        assert!(m.contains("expected key=value"), "{m}");
        assert_eq!((l, c), (2, 6));
        let (m, l, _) = err("[web]\nn[3:1]\n");
        assert!(m.contains("begin <= end"), "{m}");
        assert_eq!(l, 2);
        let (m, l, _) = err("[a:vars]\nx\n");
        assert!(m.contains("expected key=value"), "{m}");
        assert_eq!(l, 2);
        let (m, l, _) = err("[ghost:vars]\nx=1\n");
        assert!(m.contains("not defined"), "{m}");
        assert_eq!(l, 1);
        let (m, l, _) = err("[a:children]\nb\n[b:children]\na\n");
        assert!(m.contains("cycle"), "{m}");
        assert_eq!(l, 4);
        let (m, l, _) = err("[bad group]\n");
        assert!(m.contains("invalid section header"), "{m}");
        assert_eq!(l, 1);
    }
}
