//! Ansible's filters (the ones Kubespray-style playbooks use), with Ansible's semantics.
//!
//! Why this module exists: minijinja brings Jinja2's built-in filters; Ansible adds many
//! more (`combine`, `regex_replace`, `to_nice_yaml`, `ipaddr`, …) and changes a few
//! (`bool`, `int`, `string`). They are registered here on the shared environment.

use std::path::Path;

use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State};

use super::convert::{ansible_bool_word, json_to_value, py_str, value_to_json};
use super::{ipaddr, yamlout};

/// Prefix of the error detail the `mandatory` filter raises (the renderer names the variable).
pub(crate) const MANDATORY_MARK: &str = "\u{1}mandatory:";

/// Positional and keyword arguments as plain values (keywords last, as a kwargs map).
pub(crate) fn values(args: Rest<ValueOrKwargs>) -> Vec<Value> {
    args.0.into_iter().map(ValueOrKwargs::into_value).collect()
}

pub(crate) fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn not_undefined(v: &Value) -> Result<(), Error> {
    if v.is_undefined() {
        Err(Error::new(ErrorKind::UndefinedError, "undefined value"))
    } else {
        Ok(())
    }
}

/// A value as text the way Python's `str()` (Ansible's `to_text`) would make it.
pub(crate) fn text(v: &Value) -> Result<String, Error> {
    not_undefined(v)?;
    Ok(py_str(v))
}

pub(crate) fn to_json(v: &Value) -> Result<serde_json::Value, Error> {
    value_to_json(v).map_err(err)
}

fn kw_bool(kw: &Kwargs, name: &str, default: bool) -> Result<bool, Error> {
    Ok(kw.get::<Option<bool>>(name)?.unwrap_or(default))
}

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("d", minijinja::filters::default);
    env.add_filter("bool", bool_filter);
    env.add_filter("int", int_filter);
    env.add_filter("float", float_filter);
    env.add_filter("string", |v: &Value| text(v).map(Value::from));
    env.add_filter("to_json", to_json_filter);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("to_yaml", |v: &Value, kw: Kwargs| {
        yaml_opts(&kw, 2, true).and_then(|o| yamlout::dump(&to_json(v)?, o).map(Value::from))
    });
    env.add_filter("to_nice_yaml", |v: &Value, kw: Kwargs| {
        yaml_opts(&kw, 4, false).and_then(|o| yamlout::dump(&to_json(v)?, o).map(Value::from))
    });
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", |s: String| py_re_escape(&s));
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("ternary", ternary);
    env.add_filter("flatten", flatten);
    env.add_filter("union", |a: Value, b: Value| set_op(a, b, SetOp::Union));
    env.add_filter("difference", |a: Value, b: Value| {
        set_op(a, b, SetOp::Difference)
    });
    env.add_filter("intersect", |a: Value, b: Value| {
        set_op(a, b, SetOp::Intersect)
    });
    env.add_filter("symmetric_difference", |a: Value, b: Value| {
        set_op(a, b, SetOp::Symmetric)
    });
    env.add_filter("basename", |p: String| basename(&p).to_owned());
    env.add_filter("dirname", |p: String| dirname(&p).to_owned());
    env.add_filter("expanduser", expanduser);
    env.add_filter("path_join", path_join);
    env.add_filter("splitext", splitext);
    env.add_filter("b64encode", |s: String| {
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
    });
    env.add_filter("b64decode", |s: String| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim().as_bytes())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| err(format!("b64decode: {e}")))
    });
    env.add_filter("hash", |v: &Value, kind: Option<String>| {
        hash(&text(v)?, kind.as_deref().unwrap_or("sha1"))
    });
    env.add_filter("checksum", |v: &Value| hash(&text(v)?, "sha1"));
    env.add_filter("sha1", |v: &Value| hash(&text(v)?, "sha1"));
    env.add_filter("md5", |v: &Value| hash(&text(v)?, "md5"));
    env.add_filter("quote", |v: &Value| text(v).map(|s| shlex_quote(&s)));
    env.add_filter("mandatory", mandatory);
    env.add_filter("zip", zip);
    env.add_filter("product", product);
    env.add_filter("type_debug", type_debug);
    env.add_filter("extract", extract);
    env.add_filter("dict", |args: Rest<ValueOrKwargs>| dict_fn(&values(args)));
    env.add_function("dict", |args: Rest<ValueOrKwargs>| dict_fn(&values(args)));
    env.add_filter("wordcount", |s: String| s.split_whitespace().count());
    env.add_filter("center", center);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("to_uuid", to_uuid);
    env.add_filter("comment", comment);
    ipaddr::register(env);
}

fn yaml_opts(kw: &Kwargs, indent: usize, flow_leaves: bool) -> Result<yamlout::Opts, Error> {
    let indent = kw.get::<Option<usize>>("indent")?.unwrap_or(indent);
    let sort_keys = kw.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let width = kw.get::<Option<usize>>("width")?.unwrap_or(80);
    for k in ["default_flow_style", "allow_unicode"] {
        let _ = kw.get::<Option<Value>>(k)?;
    }
    kw.assert_all_used()?;
    Ok(yamlout::Opts {
        indent,
        flow_leaves,
        sort_keys,
        width,
    })
}

/// Ansible's `bool`: booleans pass, strings by word, 1 is true, anything else false.
fn bool_filter(v: &Value) -> Result<bool, Error> {
    not_undefined(v)?;
    Ok(match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::None => false,
        ValueKind::String => ansible_bool_word(v.as_str().unwrap_or_default()) == Some(true),
        ValueKind::Number => f64::try_from(v.clone()).map(|f| f == 1.0).unwrap_or(false),
        _ => false,
    })
}

/// Jinja2's `int`: numbers truncate, strings parse (as float too), failures give the default.
fn int_filter(
    v: &Value,
    default: Option<Value>,
    base: Option<u32>,
    kw: Kwargs,
) -> Result<Value, Error> {
    not_undefined(v)?;
    let default = match default {
        Some(d) => d,
        None => kw
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(b) => b,
        None => kw.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kw.assert_all_used()?;
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(v.is_true() as i64),
        ValueKind::Number => {
            if v.is_integer() {
                v.clone()
            } else {
                match f64::try_from(v.clone()) {
                    Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
                    _ => default,
                }
            }
        }
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim().replace('_', "");
            let digits = match base {
                16 => s.trim_start_matches("0x").trim_start_matches("0X"),
                8 => s.trim_start_matches("0o").trim_start_matches("0O"),
                2 => s.trim_start_matches("0b").trim_start_matches("0B"),
                _ => s.as_str(),
            };
            match i64::from_str_radix(digits, base) {
                Ok(i) => Value::from(i),
                Err(_) if base == 10 => match s.parse::<f64>() {
                    Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
                    _ => default,
                },
                Err(_) => default,
            }
        }
        _ => default,
    })
}

fn float_filter(v: &Value, default: Option<Value>) -> Result<Value, Error> {
    not_undefined(v)?;
    let default = default.unwrap_or(Value::from(0.0));
    Ok(match v.kind() {
        ValueKind::Bool => Value::from(if v.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(v.clone()).map(Value::from).unwrap_or(default),
        ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(default),
        _ => default,
    })
}

/// Writes JSON as Python's `json.dumps` does (separators, indent, sort_keys, ensure_ascii).
pub(crate) fn py_json(
    v: &serde_json::Value,
    indent: Option<usize>,
    sort_keys: bool,
    ascii: bool,
) -> String {
    let mut out = String::new();
    write_json(v, indent, sort_keys, ascii, 0, &mut out);
    out
}

fn write_json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(
    v: &serde_json::Value,
    indent: Option<usize>,
    sort: bool,
    ascii: bool,
    level: usize,
    out: &mut String,
) {
    use serde_json::Value as J;
    let nl = |out: &mut String, level: usize| {
        if let Some(i) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(i * level));
        }
    };
    let sep = if indent.is_some() { "," } else { ", " };
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => out.push_str(&n.to_string()),
        J::String(s) => write_json_str(s, ascii, out),
        J::Array(a) if a.is_empty() => out.push_str("[]"),
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                nl(out, level + 1);
                write_json(x, indent, sort, ascii, level + 1, out);
            }
            nl(out, level);
            out.push(']');
        }
        J::Object(m) if m.is_empty() => out.push_str("{}"),
        J::Object(m) => {
            out.push('{');
            let mut entries: Vec<_> = m.iter().collect();
            if sort {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                nl(out, level + 1);
                write_json_str(k, ascii, out);
                out.push_str(": ");
                write_json(x, indent, sort, ascii, level + 1, out);
            }
            nl(out, level);
            out.push('}');
        }
    }
}

fn to_json_filter(v: &Value, kw: Kwargs) -> Result<Value, Error> {
    let indent = kw.get::<Option<usize>>("indent")?;
    let sort = kw_bool(&kw, "sort_keys", false)?;
    let ascii = kw_bool(&kw, "ensure_ascii", true)?;
    kw.assert_all_used()?;
    Ok(Value::from(py_json(&to_json(v)?, indent, sort, ascii)))
}

fn to_nice_json(v: &Value, kw: Kwargs) -> Result<Value, Error> {
    let indent = kw.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort = kw_bool(&kw, "sort_keys", true)?;
    let ascii = kw_bool(&kw, "ensure_ascii", true)?;
    kw.assert_all_used()?;
    Ok(Value::from(py_json(
        &to_json(v)?,
        Some(indent),
        sort,
        ascii,
    )))
}

fn from_json(s: String) -> Result<Value, Error> {
    let j: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| err(format!("from_json: {e}")))?;
    Ok(json_to_value(&j))
}

fn from_yaml(s: String) -> Result<Value, Error> {
    let node = crate::yaml::parse(&s, Path::new("<from_yaml>"))
        .map_err(|e| err(format!("from_yaml: {e}")))?;
    Ok(json_to_value(&node.to_value()))
}

/// Compiles a Python regex with Ansible's `ignorecase`/`multiline` flags.
pub(crate) fn compile_regex(
    pattern: &str,
    ignorecase: bool,
    multiline: bool,
) -> Result<fancy_regex::Regex, Error> {
    super::pyre::compile(pattern, ignorecase, multiline)
}

fn regex_replace(
    v: &Value,
    pattern: Option<String>,
    replacement: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let s = text(v)?;
    let pattern = match pattern {
        Some(p) => p,
        None => kw.get::<Option<String>>("pattern")?.unwrap_or_default(),
    };
    let replacement = match replacement {
        Some(r) => r,
        None => kw.get::<Option<String>>("replacement")?.unwrap_or_default(),
    };
    let re = compile_regex(
        &pattern,
        kw_bool(&kw, "ignorecase", false)?,
        kw_bool(&kw, "multiline", false)?,
    )?;
    let count = kw.get::<Option<usize>>("count")?.unwrap_or(0);
    kw.assert_all_used()?;
    super::pyre::sub(&re, &replacement, &s, count)
}

/// `regex_search`: the match, or with `'\\1'`/`'\\g<name>'` arguments the list of those
/// groups (`lib/ansible/plugins/filter/core.py`).
fn regex_search(v: &Value, pattern: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = values(args);
    let s = text(v)?;
    let mut groups = Vec::new();
    let mut ignorecase = false;
    let mut multiline = false;
    for a in args.iter() {
        if a.is_kwargs() {
            let kw = Kwargs::try_from(a.clone())?;
            ignorecase = kw_bool(&kw, "ignorecase", false)?;
            multiline = kw_bool(&kw, "multiline", false)?;
            kw.assert_all_used()?;
        } else {
            groups.push(text(a)?);
        }
    }
    let re = compile_regex(&pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(&s).map_err(super::pyre::run_err)? else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(caps.get(0).map(|m| m.as_str()).unwrap_or("")));
    }
    let mut out = Vec::new();
    for g in groups {
        let m = if let Some(n) = g.strip_prefix("\\g<").and_then(|x| x.strip_suffix('>')) {
            match n.parse::<usize>() {
                Ok(i) => caps.get(i),
                Err(_) => caps.name(n),
            }
        } else if let Some(n) = g.strip_prefix('\\').and_then(|x| x.parse::<usize>().ok()) {
            caps.get(n)
        } else {
            return Err(err(format!("Unknown argument {g}")));
        };
        out.push(match m {
            Some(m) => Value::from(m.as_str()),
            None => Value::from(()),
        });
    }
    Ok(Value::from(out))
}

fn regex_findall(v: &Value, pattern: String, kw: Kwargs) -> Result<Value, Error> {
    let s = text(v)?;
    let re = compile_regex(
        &pattern,
        kw_bool(&kw, "ignorecase", false)?,
        kw_bool(&kw, "multiline", false)?,
    )?;
    kw.assert_all_used()?;
    let ngroups = re.captures_len() - 1;
    let mut out = Vec::new();
    for caps in re.captures_iter(&s) {
        let caps = caps.map_err(super::pyre::run_err)?;
        let g = |i: usize| Value::from(caps.get(i).map(|m| m.as_str()).unwrap_or(""));
        out.push(match ngroups {
            0 => g(0),
            1 => g(1),
            n => Value::from((1..=n).map(g).collect::<Vec<_>>()),
        });
    }
    Ok(Value::from(out))
}

fn merge_lists(
    old: &[serde_json::Value],
    new: &[serde_json::Value],
    how: &str,
) -> Vec<serde_json::Value> {
    match how {
        "keep" => old.to_vec(),
        "append" => old.iter().chain(new).cloned().collect(),
        "prepend" => new.iter().chain(old).cloned().collect(),
        "append_rp" => old
            .iter()
            .filter(|x| !new.contains(x))
            .chain(new)
            .cloned()
            .collect(),
        "prepend_rp" => new
            .iter()
            .chain(old.iter().filter(|x| !new.contains(x)))
            .cloned()
            .collect(),
        _ => new.to_vec(),
    }
}

fn merge(
    a: &mut serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
    recursive: bool,
    list_merge: &str,
) {
    use serde_json::Value as J;
    for (k, v) in b {
        match (a.get_mut(k), v) {
            (Some(J::Object(x)), J::Object(y)) if recursive => merge(x, y, recursive, list_merge),
            (Some(J::Array(x)), J::Array(y)) => {
                let merged = merge_lists(x, y, list_merge);
                *x = merged;
            }
            _ => {
                a.insert(k.clone(), v.clone());
            }
        }
    }
}

fn combine(v: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = values(args);
    let mut recursive = false;
    let mut list_merge = "replace".to_owned();
    let mut dicts = vec![to_json(v)?];
    for a in args.iter() {
        if a.is_kwargs() {
            let kw = Kwargs::try_from(a.clone())?;
            recursive = kw_bool(&kw, "recursive", false)?;
            if let Some(lm) = kw.get::<Option<String>>("list_merge")? {
                if !matches!(
                    lm.as_str(),
                    "replace" | "keep" | "append" | "prepend" | "append_rp" | "prepend_rp"
                ) {
                    return Err(err(format!("combine: unknown list_merge option '{lm}'")));
                }
                list_merge = lm;
            }
            kw.assert_all_used()?;
        } else {
            dicts.push(to_json(a)?);
        }
    }
    let mut flat = Vec::new();
    for d in dicts {
        match d {
            serde_json::Value::Array(items) => flat.extend(items),
            other => flat.push(other),
        }
    }
    let mut out = serde_json::Map::new();
    for d in flat {
        match d {
            serde_json::Value::Object(m) => merge(&mut out, &m, recursive, &list_merge),
            other => {
                return Err(err(format!(
                    "combine expects dictionaries, got {}",
                    json_type(&other)
                )));
            }
        }
    }
    Ok(json_to_value(&serde_json::Value::Object(out)))
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "NoneType",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_f64() => "float",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

fn dict2items(v: &Value, kw: Kwargs) -> Result<Value, Error> {
    let key_name = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or("key".into());
    let value_name = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or("value".into());
    kw.assert_all_used()?;
    if v.kind() != ValueKind::Map {
        return Err(err(format!(
            "dict2items requires a dictionary, got {}",
            v.kind()
        )));
    }
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        out.push(Value::from_pairs([
            (key_name.as_str(), k),
            (value_name.as_str(), val),
        ]));
    }
    Ok(Value::from(out))
}

fn items2dict(v: &Value, kw: Kwargs) -> Result<Value, Error> {
    let key_name = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or("key".into());
    let value_name = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or("value".into());
    kw.assert_all_used()?;
    let mut pairs = Vec::new();
    for item in v.try_iter()? {
        let k = item.get_attr(&key_name)?;
        let val = item.get_attr(&value_name)?;
        if k.is_undefined() || val.is_undefined() {
            return Err(err(format!(
                "items2dict: each item needs '{key_name}' and '{value_name}' keys"
            )));
        }
        pairs.push((k, val));
    }
    Ok(Value::from_pairs(pairs))
}

fn ternary(v: &Value, t: Value, f: Value, none_val: Option<Value>) -> Result<Value, Error> {
    not_undefined(v)?;
    if v.is_none() {
        if let Some(n) = none_val {
            return Ok(n);
        }
    }
    Ok(if v.is_true() { t } else { f })
}

fn flatten_into(
    v: &Value,
    levels: Option<i64>,
    skip_nulls: bool,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    for x in v.try_iter()? {
        if skip_nulls && (x.is_none() || x.as_str() == Some("None")) {
            continue;
        }
        if x.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(&x, levels.map(|l| l - 1), skip_nulls, out)?;
        } else {
            out.push(x);
        }
    }
    Ok(())
}

fn flatten(v: &Value, levels: Option<i64>, kw: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kw.get::<Option<i64>>("levels")?,
    };
    let skip_nulls = kw_bool(&kw, "skip_nulls", true)?;
    kw.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(v, levels, skip_nulls, &mut out)?;
    Ok(Value::from(out))
}

enum SetOp {
    Union,
    Difference,
    Intersect,
    Symmetric,
}

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    not_undefined(v)?;
    Ok(v.try_iter()?.collect())
}

fn push_unique(out: &mut Vec<Value>, x: Value) {
    if !out.contains(&x) {
        out.push(x);
    }
}

fn set_op(a: Value, b: Value, op: SetOp) -> Result<Value, Error> {
    let a = items(&a)?;
    let b = items(&b)?;
    let mut out = Vec::new();
    match op {
        SetOp::Union => a
            .into_iter()
            .chain(b)
            .for_each(|x| push_unique(&mut out, x)),
        SetOp::Difference => a
            .into_iter()
            .filter(|x| !b.contains(x))
            .for_each(|x| push_unique(&mut out, x)),
        SetOp::Intersect => a
            .into_iter()
            .filter(|x| b.contains(x))
            .for_each(|x| push_unique(&mut out, x)),
        SetOp::Symmetric => {
            let left: Vec<Value> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
            let right: Vec<Value> = b.iter().filter(|x| !a.contains(x)).cloned().collect();
            left.into_iter()
                .chain(right)
                .for_each(|x| push_unique(&mut out, x));
        }
    }
    Ok(Value::from(out))
}

/// Python's `os.path.basename`.
fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or("")
}

/// Python's `os.path.dirname`.
fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(i) => {
            let head = &p[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                &head[..1]
            } else {
                trimmed
            }
        }
        None => "",
    }
}

fn expanduser(p: String) -> String {
    if p == "~" || p.starts_with("~/") {
        if let Ok(home) = std::env::var("HOME") {
            return format!("{home}{}", &p[1..]);
        }
    }
    p
}

fn path_join(v: &Value) -> Result<String, Error> {
    let parts: Vec<String> = if v.kind() == ValueKind::String {
        vec![text(v)?]
    } else {
        items(v)?.iter().map(text).collect::<Result<_, _>>()?
    };
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p;
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    Ok(out)
}

fn splitext(p: String) -> Value {
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &p[base_start..];
    let stripped = base.trim_start_matches('.');
    let lead = base.len() - stripped.len();
    match stripped.rfind('.') {
        Some(i) => {
            let cut = base_start + lead + i;
            Value::from(vec![Value::from(&p[..cut]), Value::from(&p[cut..])])
        }
        None => Value::from(vec![Value::from(p.as_str()), Value::from("")]),
    }
}

fn hash(s: &str, kind: &str) -> Result<String, Error> {
    use sha2::Digest;
    Ok(match kind {
        "sha1" => hex::encode(sha1::Sha1::digest(s.as_bytes())),
        "sha224" => hex::encode(sha2::Sha224::digest(s.as_bytes())),
        "sha256" => hex::encode(sha2::Sha256::digest(s.as_bytes())),
        "sha384" => hex::encode(sha2::Sha384::digest(s.as_bytes())),
        "sha512" => hex::encode(sha2::Sha512::digest(s.as_bytes())),
        "md5" => hex::encode(md5::Md5::digest(s.as_bytes())),
        other => return Err(err(format!("hash: unsupported hash type '{other}'"))),
    })
}

fn mandatory(v: &Value, msg: Option<String>) -> Result<Value, Error> {
    if v.is_undefined() {
        return Err(err(format!("{MANDATORY_MARK}{}", msg.unwrap_or_default())));
    }
    Ok(v.clone())
}

fn zip(v: &Value, others: Rest<Value>) -> Result<Value, Error> {
    let mut lists = vec![items(v)?];
    for o in others.iter() {
        lists.push(items(o)?);
    }
    let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn product(v: &Value, others: Rest<Value>) -> Result<Value, Error> {
    let mut acc: Vec<Vec<Value>> = items(v)?.into_iter().map(|x| vec![x]).collect();
    for o in others.iter() {
        let next = items(o)?;
        acc = acc
            .into_iter()
            .flat_map(|prefix| {
                next.iter().map(move |x| {
                    let mut p = prefix.clone();
                    p.push(x.clone());
                    p
                })
            })
            .collect();
    }
    Ok(Value::from(
        acc.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// Python's type name of a value, as Ansible's `type_debug` shows it.
pub(crate) fn type_debug(v: &Value) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn extract(item: &Value, container: &Value, morekeys: Option<Value>) -> Result<Value, Error> {
    not_undefined(item)?;
    let mut v = container.get_item(item)?;
    if let Some(mk) = morekeys {
        let keys = if mk.kind() == ValueKind::Seq {
            items(&mk)?
        } else {
            vec![mk]
        };
        for k in keys {
            v = v.get_item(&k)?;
        }
    }
    Ok(v)
}

/// Python's `dict()`: from a mapping or a list of pairs, plus keyword arguments.
fn dict_fn(args: &[Value]) -> Result<Value, Error> {
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    for a in args {
        if a.kind() == ValueKind::Map {
            for k in a.try_iter()? {
                let v = a.get_item(&k)?;
                pairs.push((k, v));
            }
        } else {
            for p in items(a)? {
                let kv = items(&p)?;
                if kv.len() != 2 {
                    return Err(err("dict(): each item must be a pair"));
                }
                pairs.push((kv[0].clone(), kv[1].clone()));
            }
        }
    }
    let mut out: Vec<(Value, Value)> = Vec::new();
    for (k, v) in pairs {
        if let Some(slot) = out.iter_mut().find(|(x, _)| *x == k) {
            slot.1 = v;
        } else {
            out.push((k, v));
        }
    }
    Ok(Value::from_pairs(out))
}

fn center(s: String, width: Option<usize>) -> String {
    let width = width.unwrap_or(80);
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let total = width - len;
    // Python's str.center puts the extra space on the right for odd totals when len is even.
    let left = total / 2 + (total & width & 1);
    format!("{}{}{}", " ".repeat(left), s, " ".repeat(total - left))
}

fn human_to_bytes(v: &Value, default_unit: Option<String>, kw: Kwargs) -> Result<i64, Error> {
    let isbits = kw_bool(&kw, "isbits", false)?;
    kw.assert_all_used()?;
    let s = text(v)?;
    let re = regex::Regex::new(r"^\s*(\d*\.?\d+)\s*([KMGTPEZY]?)i?([bB]?)(?:it|yte)?s?\s*$")
        .map_err(|e| err(e.to_string()))?;
    let caps = re.captures(&s).ok_or_else(|| {
        err(format!(
            "human_to_bytes() can't interpret following string: {s}"
        ))
    })?;
    let num: f64 = caps[1]
        .parse()
        .map_err(|_| err(format!("invalid number in {s}")))?;
    let mut unit = caps[2].to_owned();
    if unit.is_empty() {
        unit = default_unit.unwrap_or_default().chars().take(1).collect();
    }
    let power = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        "Z" => 7,
        "Y" => 8,
        _ => return Err(err(format!("human_to_bytes: unknown unit in {s}"))),
    };
    let bit = &caps[3] == "b";
    if bit && !isbits && !caps[2].is_empty() {
        return Err(err(format!(
            "human_to_bytes: '{s}' is in bits; use isbits=True"
        )));
    }
    Ok((num * 1024f64.powi(power)).round() as i64)
}

fn to_uuid(v: &Value, namespace: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let namespace = match namespace {
        Some(n) => Some(n),
        None => kw.get::<Option<String>>("namespace")?,
    };
    kw.assert_all_used()?;
    // UUIDv5 (SHA-1 of namespace bytes + name), Ansible's default namespace.
    let ns = namespace.unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".into());
    let ns_hex: String = ns.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let ns_bytes = hex::decode(&ns_hex).map_err(|_| err(format!("to_uuid: bad namespace {ns}")))?;
    if ns_bytes.len() != 16 {
        return Err(err(format!("to_uuid: bad namespace {ns}")));
    }
    use sha2::Digest;
    let mut h = sha1::Sha1::new();
    h.update(&ns_bytes);
    h.update(text(v)?.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    ))
}

/// `comment(style='plain', **kw)`, as `comment` in `lib/ansible/plugins/filter/core.py`.
fn comment(state: &State, v: &Value, style: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let _ = state;
    let text = self::text(v)?;
    let style = style.unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(err(format!("Invalid style '{other}'."))),
    };
    let get = |k: &str, d: &str| -> Result<String, Error> {
        Ok(kw.get::<Option<String>>(k)?.unwrap_or_else(|| d.to_owned()))
    };
    let decoration = get("decoration", decoration)?;
    let newline = get("newline", "\n")?;
    let beginning = get("beginning", beginning)?;
    let end = get("end", end)?;
    let prefix = get("prefix", decoration.trim_end())?;
    let postfix = get("postfix", decoration.trim_end())?;
    let prefix_count = kw.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let postfix_count = kw.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    kw.assert_all_used()?;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    )
    .replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

/// Python's `re.escape` (3.7+): only the characters special in a pattern get a backslash.
fn py_re_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Python's `shlex.quote`, which Ansible's `quote` filter calls: bare when every character
/// is safe, else single-quoted with `'` written as `'"'"'`.
fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if s.chars().all(safe) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}
