//! YAML output as Ansible's `to_yaml` / `to_nice_yaml` (PyYAML's dumper) writes it.
//!
//! Why this module exists: templates write config files with these filters and users diff
//! the result against what Ansible produced, so key order (sorted), indentation (PyYAML's
//! indentless sequences), flow style for leaf collections and scalar quoting follow PyYAML.

use minijinja::Error;
use serde_json::Value as J;

/// Dumps `v`: `flow_leaves` is PyYAML's `default_flow_style=None` (collections of scalars
/// inline), otherwise block style throughout.
pub(crate) fn to_yaml(v: &J, indent: usize, flow_leaves: bool) -> Result<String, Error> {
    let indent = indent.clamp(2, 9);
    let mut out = String::new();
    match v {
        J::Array(a) if block(v, flow_leaves) => seq(a, indent, 0, flow_leaves, &mut out),
        J::Object(m) if block(v, flow_leaves) => map(m, indent, 0, flow_leaves, &mut out),
        J::Array(_) | J::Object(_) => {
            flow(v, &mut out);
            out.push('\n');
        }
        scalar_v => {
            out.push_str(&scalar(scalar_v));
            out.push('\n');
            if !matches!(scalar_v, J::String(s) if s.contains('\n')) {
                out.push_str("...\n");
            }
        }
    }
    Ok(out)
}

/// Whether a value is written in block style (a non-empty collection, unless it is a leaf
/// collection and leaves are flow-styled).
fn block(v: &J, flow_leaves: bool) -> bool {
    let empty = match v {
        J::Array(a) => a.is_empty(),
        J::Object(m) => m.is_empty(),
        _ => true,
    };
    !(empty || (flow_leaves && is_leaf(v)))
}

fn is_leaf(v: &J) -> bool {
    match v {
        J::Array(a) => a.iter().all(|x| !matches!(x, J::Array(_) | J::Object(_))),
        J::Object(m) => m.values().all(|x| !matches!(x, J::Array(_) | J::Object(_))),
        _ => true,
    }
}

fn sorted(m: &serde_json::Map<String, J>) -> Vec<(&String, &J)> {
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

fn flow(v: &J, out: &mut String) {
    match v {
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(x, out);
            }
            out.push(']');
        }
        J::Object(m) => {
            out.push('{');
            for (i, (k, x)) in sorted(m).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_scalar(k, true));
                out.push_str(": ");
                flow(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&flow_scalar(other)),
    }
}

fn flow_scalar(v: &J) -> String {
    match v {
        J::String(s) => str_scalar(s, true),
        other => scalar(other),
    }
}

/// Writes a value after "key:" or "- " (the caller wrote that and no newline).
fn nested(v: &J, indent: usize, level: usize, flow_leaves: bool, in_seq: bool, out: &mut String) {
    match v {
        J::Array(a) if block(v, flow_leaves) => {
            out.push('\n');
            // sequences inside mappings are not indented (PyYAML's indentless sequences)
            let l = if in_seq { level + 1 } else { level };
            seq(a, indent, l, flow_leaves, out);
        }
        J::Object(m) if block(v, flow_leaves) => {
            out.push('\n');
            map(m, indent, level + 1, flow_leaves, out);
        }
        J::Array(_) | J::Object(_) => {
            out.push(' ');
            flow(v, out);
            out.push('\n');
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn map(m: &serde_json::Map<String, J>, indent: usize, level: usize, fl: bool, out: &mut String) {
    for (k, v) in sorted(m) {
        out.push_str(&" ".repeat(indent * level));
        out.push_str(&str_scalar(k, false));
        out.push(':');
        nested(v, indent, level, fl, false, out);
    }
}

fn seq(a: &[J], indent: usize, level: usize, fl: bool, out: &mut String) {
    let pad = " ".repeat(indent * level);
    let dash = format!("-{}", " ".repeat(indent - 1));
    for v in a {
        out.push_str(&pad);
        out.push_str(&dash);
        match v {
            J::Object(m) if block(v, fl) => {
                // first key on the dash line, the rest aligned under it
                let mut first = true;
                for (k, x) in sorted(m) {
                    if !first {
                        out.push_str(&" ".repeat(indent * (level + 1)));
                    }
                    first = false;
                    out.push_str(&str_scalar(k, false));
                    out.push(':');
                    nested(x, indent, level + 1, fl, false, out);
                }
            }
            J::Array(inner) if block(v, fl) => {
                out.push('\n');
                seq(inner, indent, level + 1, fl, out);
            }
            J::Array(_) | J::Object(_) => {
                flow(v, out);
                out.push('\n');
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &J) -> String {
    match v {
        J::Null => "null".to_owned(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => str_scalar(s, false),
        J::Array(_) | J::Object(_) => {
            let mut s = String::new();
            flow(v, &mut s);
            s
        }
    }
}

/// Words and shapes a YAML 1.1 reader would not read back as a string.
fn ambiguous(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "=", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let t = s.replace('_', "");
    let t = t.strip_prefix(['-', '+']).unwrap_or(&t);
    if t.is_empty() {
        return false;
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ':')
        && t.chars().any(|c| c.is_ascii_digit())
    {
        return true;
    }
    if t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b") {
        return true;
    }
    if matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // 1e5, 1.5e-3
    let lower = t.to_ascii_lowercase();
    if let Some((m, e)) = lower.split_once('e') {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        return !m.is_empty()
            && m.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !e.is_empty()
            && e.chars().all(|c| c.is_ascii_digit());
    }
    false
}

fn str_scalar(s: &str, in_flow: bool) -> String {
    if s.chars()
        .any(|c| c == '\n' || (c.is_control() && c != '\t'))
    {
        return double_quoted(s);
    }
    let first = s.chars().next();
    let needs_quote = s.is_empty()
        || ambiguous(s)
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\t')
        || matches!(
            first,
            Some(
                '-' | '?'
                    | ':'
                    | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '#'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            )
        ) && !(first == Some('-')
            && s.len() > 1
            && !s[1..].starts_with(' ')
            && !ambiguous(s)
            && s != "---")
        || (in_flow && s.contains([',', '[', ']', '{', '}']));
    if needs_quote {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
