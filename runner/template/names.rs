//! Load-time check that every filter, test and lookup a template names exists.
//!
//! Why this module exists: Ansible finds an unknown filter only when the template renders
//! ("No filter named 'x'"), after earlier tasks have already changed hosts. windlass refuses
//! such a playbook before any host is touched, at the template's file:line:col. Names are
//! found by scanning the source outside string constants (`x | name`, `x is name`,
//! `lookup('name'`, `query('name'`, `q('name'`) and looked up in the real environment.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use minijinja::{Environment, ErrorKind};

/// What a template names that windlass does not have: the message and the byte offset of
/// the name in `src`.
pub(crate) fn unknown(
    src: &str,
    expression: bool,
    env: &Environment<'static>,
) -> Option<(String, usize)> {
    let code = if expression {
        src.to_owned()
    } else {
        code_only(src)
    };
    for (kind, name, at) in referenced(&code) {
        if !known(env, kind, &name) {
            let what = match kind {
                Kind::Filter => format!("No filter named '{name}'."),
                Kind::Test => format!("No test named '{name}'."),
                Kind::Lookup => format!("lookup plugin ({name}) not found"),
            };
            return Some((what, at));
        }
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Filter,
    Test,
    Lookup,
}

/// Whether `name` exists in `env` (cached): evaluating `none | name` (`none is name`) fails
/// with UnknownFilter (UnknownTest) exactly when it does not.
fn known(env: &Environment<'static>, kind: Kind, name: &str) -> bool {
    if kind == Kind::Lookup {
        return super::lookups::NAMES.contains(&name);
    }
    static CACHE: OnceLock<Mutex<HashMap<(bool, String), bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (kind == Kind::Filter, name.to_owned());
    if let Some(&k) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return k;
    }
    let src = match kind {
        Kind::Filter => format!("none | {name}"),
        _ => format!("none is {name}"),
    };
    let k = match env.compile_expression(&src) {
        Ok(e) => !matches!(
            e.eval(()).map_err(|e| e.kind()),
            Err(ErrorKind::UnknownFilter | ErrorKind::UnknownTest)
        ),
        Err(_) => true,
    };
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, k);
    k
}

/// `src` with everything outside `{{ }}` and `{% %}` blanked (offsets kept).
fn code_only(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        // one scan for the next opener (searching for each kind apart is quadratic on a
        // large file with one kind missing)
        let open = rest
            .as_bytes()
            .windows(2)
            .position(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'));
        let Some(o) = open else {
            out.extend(rest.chars().map(blank));
            break;
        };
        out.extend(rest[..o].chars().map(blank));
        let close = match &rest[o..o + 2] {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let end = rest[o + 2..]
            .find(close)
            .map_or(rest.len(), |e| o + 2 + e + 2);
        if close == "#}" {
            out.extend(rest[o..end].chars().map(blank));
        } else {
            out.push_str(&rest[o..end]);
        }
        rest = &rest[end..];
    }
    out
}

/// A character replaced by spaces of the same byte length (newlines kept).
fn blank(c: char) -> String {
    if c == '\n' {
        "\n".into()
    } else {
        " ".repeat(c.len_utf8())
    }
}

/// The filters, tests and lookups `src` names, with their offsets.
fn referenced(src: &str) -> Vec<(Kind, String, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'|' => {
                let start = skip_ws(b, i + 1);
                let name = ident(src, start);
                if !name.is_empty() {
                    out.push((Kind::Filter, name.to_owned(), start));
                }
                i = start.max(i + 1);
            }
            b'i' if word_at(src, i, "is") => {
                let mut start = skip_ws(b, i + 2);
                if word_at(src, start, "not") {
                    start = skip_ws(b, start + 3);
                }
                let name = ident(src, start);
                if !name.is_empty() && start > i + 2 {
                    out.push((Kind::Test, name.to_owned(), start));
                }
                i += 2;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let name = ident(src, i);
                let next = skip_ws(b, i + name.len());
                if matches!(name, "lookup" | "query" | "q") && b.get(next) == Some(&b'(') {
                    let arg = skip_ws(b, next + 1);
                    if let Some(&q @ (b'\'' | b'"')) = b.get(arg) {
                        if let Some(end) = src[arg + 1..].find(q as char) {
                            let plugin = &src[arg + 1..arg + 1 + end];
                            let plugin = plugin.strip_prefix("ansible.builtin.").unwrap_or(plugin);
                            out.push((Kind::Lookup, plugin.to_owned(), arg + 1));
                        }
                    }
                }
                i += name.len().max(1);
            }
            _ => i += 1,
        }
    }
    out
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The (dotted) identifier starting at `i`, or "".
fn ident(src: &str, i: usize) -> &str {
    let b = src.as_bytes();
    if i >= b.len() || !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
        return "";
    }
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
        j += 1;
    }
    src[i..j].trim_end_matches('.')
}

/// Whether the word `w` stands alone at `i`.
fn word_at(src: &str, i: usize, w: &str) -> bool {
    let b = src.as_bytes();
    let before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let after = b
        .get(i + w.len())
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
    before && after && src[i..].starts_with(w)
}

#[cfg(test)]
mod tests {
    use super::{Kind, referenced};

    #[test]
    fn finds_names_outside_strings() {
        let r =
            referenced("x | regex_replace('a|b', 'c') is not sameas y and lookup('env', 'a|z')");
        let names: Vec<_> = r.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
        assert!(names.contains(&(Kind::Filter, "regex_replace")));
        assert!(names.contains(&(Kind::Test, "sameas")));
        assert!(names.contains(&(Kind::Lookup, "env")));
        assert_eq!(names.len(), 3);
    }
}
