//! Ansible's Jinja2 tests (`x is version(...)`, `result is failed`, `s is match(...)`, …).
//!
//! Why this module exists: conditions in playbooks (`when:`, `failed_when:`, `assert`) lean on
//! Ansible's tests, which Jinja2 alone does not have.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::filters::{compile_regex, err, text};

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);
    for name in ["succeeded", "success"] {
        env.add_test(name, |v: &Value| {
            result_flag(v, "failed", "succeeded").map(|f| !f)
        });
    }
    for name in ["failed", "failure"] {
        env.add_test(name, |v: &Value| result_flag(v, "failed", "failed"));
    }
    for name in ["changed", "change"] {
        env.add_test(name, |v: &Value| result_flag(v, "changed", "changed"));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, |v: &Value| result_flag(v, "skipped", "skipped"));
    }
    env.add_test("unreachable", |v: &Value| {
        result_flag(v, "unreachable", "unreachable")
    });
    env.add_test("finished", |v: &Value| {
        result_flag(v, "finished", "finished").map(|_| {
            v.get_attr("finished")
                .map(|f| f.is_undefined() || f.is_true())
                .unwrap_or(true)
        })
    });
    env.add_test("match", |v: &Value, p: String, kw: Kwargs| {
        regex_test(v, &p, "match", kw)
    });
    env.add_test("search", |v: &Value, p: String, kw: Kwargs| {
        regex_test(v, &p, "search", kw)
    });
    env.add_test("regex", |v: &Value, p: String, kw: Kwargs| {
        let mt = kw
            .get::<Option<String>>("match_type")?
            .unwrap_or("search".into());
        regex_test(v, &p, &mt, kw)
    });
    env.add_test("contains", |seq: &Value, item: Value| contains(seq, &item));
    env.add_test("subset", |a: &Value, b: &Value| subset(a, b));
    env.add_test("superset", |a: &Value, b: &Value| subset(b, a));
    env.add_test("any", |v: &Value| -> Result<bool, Error> {
        Ok(v.try_iter()?.any(|x| x.is_true()))
    });
    env.add_test("all", |v: &Value| -> Result<bool, Error> {
        Ok(v.try_iter()?.all(|x| x.is_true()))
    });
    env.add_test("truthy", |v: &Value, kw: Kwargs| truthy(v, kw));
    env.add_test("falsy", |v: &Value, kw: Kwargs| truthy(v, kw).map(|t| !t));
    env.add_test("file", |p: String| std::path::Path::new(&p).is_file());
    env.add_test("directory", |p: String| std::path::Path::new(&p).is_dir());
    env.add_test("exists", |p: String| std::path::Path::new(&p).exists());
    env.add_test("link", |p: String| std::path::Path::new(&p).is_symlink());
    env.add_test("abs", |p: String| std::path::Path::new(&p).is_absolute());
    env.add_test("boolean", |v: &Value| v.kind() == ValueKind::Bool);
    env.add_test("integer", |v: &Value| v.is_integer());
    env.add_test("float", |v: &Value| v.is_number() && !v.is_integer());
}

/// A flag of a registered task result (`failed`, `changed`, …); errors for non-dicts.
fn result_flag(v: &Value, key: &str, test: &str) -> Result<bool, Error> {
    if v.kind() != ValueKind::Map {
        return Err(err(format!(
            "The '{test}' test expects a dictionary, got {}",
            super::filters::type_debug(v)
        )));
    }
    let f = v.get_attr(key)?;
    Ok(!f.is_undefined() && f.is_true())
}

fn regex_test(v: &Value, pattern: &str, match_type: &str, kw: Kwargs) -> Result<bool, Error> {
    let s = text(v)?;
    let ignorecase = kw.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kw.get::<Option<bool>>("multiline")?.unwrap_or(false);
    kw.assert_all_used()?;
    let anchored = match match_type {
        "search" => pattern.to_owned(),
        "match" => format!(r"\A(?:{pattern})"),
        "fullmatch" => format!(r"\A(?:{pattern})\z"),
        other => return Err(err(format!("regex: unknown match_type '{other}'"))),
    };
    compile_regex(&anchored, ignorecase, multiline)?
        .is_match(&s)
        .map_err(super::pyre::run_err)
}

fn contains(seq: &Value, item: &Value) -> Result<bool, Error> {
    if let (Some(s), Some(i)) = (seq.as_str(), item.as_str()) {
        return Ok(s.contains(i));
    }
    Ok(seq.try_iter()?.any(|x| &x == item))
}

fn subset(a: &Value, b: &Value) -> Result<bool, Error> {
    let bs: Vec<Value> = b.try_iter()?.collect();
    Ok(a.try_iter()?.all(|x| bs.contains(&x)))
}

fn truthy(v: &Value, kw: Kwargs) -> Result<bool, Error> {
    let convert = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kw.assert_all_used()?;
    if convert {
        if let Some(s) = v.as_str() {
            if let Some(b) = super::convert::ansible_bool_word(s) {
                return Ok(b);
            }
        }
    }
    Ok(v.is_true())
}

/// One piece of a LooseVersion: a number or a run of other characters.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    Num(u64),
    Str(String),
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Num(a), Part::Num(b)) => a.cmp(b),
            (Part::Str(a), Part::Str(b)) => a.cmp(b),
            (Part::Num(_), Part::Str(_)) => Ordering::Greater,
            (Part::Str(_), Part::Num(_)) => Ordering::Less,
        }
    }
}

/// Splits a version as Python's LooseVersion does: runs of digits, runs of letters, other
/// characters one by one; dots separate and are dropped.
fn loose_parts(s: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.trim().chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let n: String = chars[start..i].iter().collect();
            out.push(Part::Num(n.parse().unwrap_or(u64::MAX)));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Part::Str(chars[start..i].iter().collect()));
        } else {
            if c != '.' {
                out.push(Part::Str(c.to_string()));
            }
            i += 1;
        }
    }
    out
}

/// Ansible's `version` test: compare dotted versions with an operator.
pub(crate) fn version_test(
    v: &Value,
    other: &Value,
    op: Option<String>,
    kw: Kwargs,
) -> Result<bool, Error> {
    let op = match op {
        Some(o) => o,
        None => kw.get::<Option<String>>("operator")?.unwrap_or("eq".into()),
    };
    let _strict = kw.get::<Option<bool>>("strict")?;
    let _vt = kw.get::<Option<String>>("version_type")?;
    kw.assert_all_used()?;
    let a = text(v)?;
    let b = text(other)?;
    if a.trim().is_empty() {
        return Err(err("Input version value cannot be empty"));
    }
    let ord = loose_parts(&a).cmp(&loose_parts(&b));
    Ok(match op.as_str() {
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => return Err(err(format!("Invalid operator type ({other})"))),
    })
}
