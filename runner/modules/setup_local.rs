//! The `local` fact collector: `ansible_local` from the host's `*.fact` files.
//!
//! Why this module exists: content written for Ansible drops small facts on hosts under
//! `/etc/ansible/facts.d` (a JSON or INI file, or an executable printing one) and reads
//! them back as `ansible_local.<file>`. windlass has no Python on the host, so the
//! gathering script sends each file (or an executable's output and exit code) framed in
//! its reply, and this file turns them into the facts exactly as Ansible's
//! `LocalFactCollector` (lib/ansible/module_utils/facts/system/local.py) does: files in
//! sorted order, named by their base name without `.fact`; an executable file is run, a
//! non-zero exit becomes the fact's error string; content is read as JSON first, else as
//! Python's `configparser` INI (sections of lower-cased options); what is neither is an
//! error string. A missing `fact_path` gives `{}`.

use serde_json::{Map, Value};

use super::sysprobe::{Sections, header};
use crate::command::quote;

/// The section each fact file is sent in: `kind NUL path NUL [rc NUL]` then the base64 of
/// the content (`r`: a file read) or of the output (`x`: an executable run).
const SECTION: &str = "localfact";

/// Script text (after the sysprobe prelude) sending every `*.fact` file under `fact_path`.
pub fn script(fact_path: &str) -> String {
    let dir = quote(fact_path);
    format!(
        "for f in {dir}/*.fact; do [ -e \"$f\" ] || continue; {h}\
         if [ -x \"$f\" ]; then wl_o=$(\"$f\" 2>/dev/null); wl_rc=$?; \
         printf 'x\\0%s\\0%s\\0' \"$f\" \"$wl_rc\"; printf '%s' \"$wl_o\" | base64 -w0; \
         else printf 'r\\0%s\\0\\0' \"$f\"; base64 -w0 \"$f\" 2>/dev/null; fi; done\n",
        h = header(SECTION)
    )
}

/// The `local` fact (the value of `ansible_local`) from the reply's fact sections.
pub fn facts(sections: &Sections) -> Value {
    let mut local = Map::new();
    for body in sections.all(SECTION) {
        let mut parts = body.splitn(4, '\0');
        let (Some(kind), Some(path), Some(rc), Some(data)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let base = path.rsplit('/').next().unwrap_or(path).replace(".fact", "");
        let bytes = decode(data);
        let fact = if kind == "x" && rc != "0" {
            Value::String(format!(
                "Failure executing fact script ({path}), rc: {rc}, err: "
            ))
        } else {
            match String::from_utf8(bytes) {
                Ok(text) => parse(&text, path),
                Err(_) => Value::String(format!(
                    "error loading fact - output of running \"{path}\" was not utf-8"
                )),
            }
        };
        local.insert(base, fact);
    }
    Value::Object(local)
}

fn decode(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap_or_default()
}

/// A fact file's text: JSON, else INI, else the error string Ansible puts instead.
fn parse(text: &str, path: &str) -> Value {
    // Ansible reads a plain file stripped (`get_file_content`).
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    match ini(text) {
        Some(v) => v,
        None => Value::String(format!(
            "error loading facts as JSON or ini - please check content: {path}"
        )),
    }
}

/// Python's `configparser.ConfigParser` reading `text` (the common subset): `[section]`
/// headers, `key = value` or `key: value` options with lower-cased keys, `#`/`;` comment
/// lines, indented continuation lines, `[DEFAULT]` options in every section, `%%` for `%`.
/// `None` where configparser raises (an option before any section, a line it cannot read,
/// a `%` it cannot interpolate).
fn ini(text: &str) -> Option<Value> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut current: Option<usize> = None; // None: no section yet; usize::MAX: DEFAULT
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            last_key = None;
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if indented {
            if let (Some(k), Some(sec)) = (&last_key, current) {
                let opts = section_opts(&mut sections, &mut defaults, sec);
                if let Some((_, v)) = opts.iter_mut().find(|(n, _)| n == k) {
                    v.push('\n');
                    v.push_str(trimmed);
                    continue;
                }
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = Some(if name == "DEFAULT" {
                usize::MAX
            } else if let Some(i) = sections.iter().position(|(n, _)| n == name) {
                i
            } else {
                sections.push((name.to_string(), Vec::new()));
                sections.len() - 1
            });
            last_key = None;
            continue;
        }
        let sec = current?;
        let split = trimmed.find(['=', ':'])?;
        let key = trimmed[..split].trim().to_lowercase();
        let value = trimmed[split + 1..].trim().to_string();
        let opts = section_opts(&mut sections, &mut defaults, sec);
        match opts.iter_mut().find(|(n, _)| *n == key) {
            Some((_, v)) => *v = value,
            None => opts.push((key.clone(), value)),
        }
        last_key = Some(key);
    }
    let mut out = Map::new();
    for (name, opts) in &sections {
        let mut m = Map::new();
        for (k, v) in opts.iter().chain(defaults.iter()) {
            if !m.contains_key(k) {
                m.insert(k.clone(), Value::String(interpolate(v)?));
            }
        }
        out.insert(name.clone(), Value::Object(m));
    }
    Some(Value::Object(out))
}

fn section_opts<'a>(
    sections: &'a mut [(String, Vec<(String, String)>)],
    defaults: &'a mut Vec<(String, String)>,
    sec: usize,
) -> &'a mut Vec<(String, String)> {
    if sec == usize::MAX {
        defaults
    } else {
        &mut sections[sec].1
    }
}

/// configparser's `BasicInterpolation` for values without references: `%%` is `%`; any
/// other `%` (a `%(name)s` reference too, not modelled) is `None`.
fn interpolate(v: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '%' && chars.next() != Some('%') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ini_and_errors() {
        assert_eq!(
            parse(" {\"a\": [1]} \n", "/f/a.fact"),
            serde_json::json!({"a": [1]})
        );
        assert_eq!(
            parse(
                "[General]\nName = Alpha\nurl: x%%y\n; c\n[Other]\nKey = one\n  two\n",
                "/f"
            ),
            serde_json::json!({"General": {"name": "Alpha", "url": "x%y"}, "Other": {"key": "one\ntwo"}})
        );
        assert_eq!(parse("", "/f"), serde_json::json!({}));
        assert_eq!(
            parse("not json not ini", "/f/d.fact"),
            serde_json::json!(
                "error loading facts as JSON or ini - please check content: /f/d.fact"
            )
        );
        assert_eq!(
            parse("[DEFAULT]\nd = 1\n[s]\na = 2\n", "/f"),
            serde_json::json!({"s": {"a": "2", "d": "1"}})
        );
    }

    #[test]
    fn files_and_scripts_through_sh() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.fact"), "{\"x\": 1}\n").unwrap();
        std::fs::write(p.join("b.fact"), "#!/bin/sh\necho '{\"ran\": true}'\n").unwrap();
        std::fs::write(p.join("c.fact"), "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::write(p.join("skip.txt"), "{}").unwrap();
        for x in ["b.fact", "c.fact"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p.join(x), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let sections = run(&p.display().to_string());
        let c = format!("{}/c.fact", p.display());
        assert_eq!(
            facts(&sections),
            serde_json::json!({
                "a": {"x": 1},
                "b": {"ran": true},
                "c": format!("Failure executing fact script ({c}), rc: 3, err: "),
            })
        );
        assert_eq!(facts(&run("/nonexistent/facts.d")), serde_json::json!({}));
    }

    /// The reply of the local facts script for `fact_path`, run by `sh` here.
    fn run(fact_path: &str) -> Sections {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(super::super::sysprobe::framed(&script(fact_path)))
            .output()
            .unwrap();
        Sections::parse_bytes(&out.stdout).unwrap()
    }
}
