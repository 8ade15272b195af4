//! Conversions between `serde_json::Value` (the engine's data) and minijinja values, and
//! Python's ways of turning values into text and truth.
//!
//! Why this module exists: Ansible is Python; users see `True`, `['a', 'b']` and
//! `{'k': 1}` when a non-string lands in a string, and `'no'` counts as false in `when:`.
//! Keeping those rules in one place keeps filters, tests and the renderer consistent.

use minijinja::value::{Value, ValueKind};

/// Whether any string (or map key) inside `v` contains template syntax.
pub(crate) fn contains_template(v: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match v {
        J::String(s) => super::Templar::is_template(s),
        J::Array(a) => a.iter().any(contains_template),
        J::Object(m) => m
            .iter()
            .any(|(k, x)| super::Templar::is_template(k) || contains_template(x)),
        _ => false,
    }
}

/// A JSON value as a minijinja value (no templating).
pub(crate) fn json_to_value(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        // An inline `!vault` value no secret opened fails where it is used.
        J::String(s) => match crate::vault::locked::message_of(s) {
            Some(m) => Value::from(super::to_mj_error(super::TemplateError::new(m))),
            None => Value::from(s.as_str()),
        },
        J::Array(a) => Value::from(a.iter().map(json_to_value).collect::<Vec<_>>()),
        J::Object(m) => Value::from_pairs(m.iter().map(|(k, x)| (k.as_str(), json_to_value(x)))),
    }
}

/// A minijinja value as JSON. Undefined becomes null; objects are enumerated.
pub(crate) fn value_to_json(v: &Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match v.kind() {
        ValueKind::Undefined | ValueKind::None => J::Null,
        ValueKind::Bool => J::Bool(v.is_true()),
        ValueKind::Number => {
            if let (true, Some(i)) = (v.is_integer(), v.as_i64()) {
                J::from(i)
            } else if let (true, Ok(u)) = (v.is_integer(), u64::try_from(v.clone())) {
                J::from(u)
            } else {
                let f = f64::try_from(v.clone()).map_err(|e| e.to_string())?;
                serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or(J::Null)
            }
        }
        ValueKind::String => J::String(v.as_str().unwrap_or_default().to_owned()),
        ValueKind::Bytes => J::String(String::from_utf8_lossy(v.as_bytes().unwrap_or(&[])).into()),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for x in v.try_iter().map_err(|e| e.to_string())?.checked() {
                out.push(value_to_json(&x.map_err(|e| e.to_string())?)?);
            }
            J::Array(out)
        }
        ValueKind::Map => {
            let mut out = serde_json::Map::new();
            for k in v.try_iter().map_err(|e| e.to_string())?.checked() {
                let k = k.map_err(|e| e.to_string())?;
                let x = v.get_item(&k).map_err(|e| e.to_string())?;
                if x.kind() == ValueKind::Invalid {
                    // surface the error hidden in the value
                    return Err(x.to_string());
                }
                let key = match k.as_str() {
                    Some(s) => s.to_owned(),
                    None => py_str(&k),
                };
                out.insert(key, value_to_json(&x)?);
            }
            J::Object(out)
        }
        ValueKind::Invalid => return Err(v.to_string()),
        _ => J::String(v.to_string()),
    })
}

/// How the renderer writes a value into output: `None` (and undefined) as nothing.
pub(crate) fn output_str(v: &Value) -> String {
    if v.is_none() || v.is_undefined() {
        String::new()
    } else {
        py_str(v)
    }
}

/// Python's `str()` of a value: strings as they are, `True`/`False`, `None`, containers as
/// Python reprs. (`None` at the top level of an output renders as an empty string; that is
/// the formatter's business.)
pub(crate) fn py_str(v: &Value) -> String {
    if let Some(s) = v.as_str() {
        return s.to_owned();
    }
    let mut out = String::new();
    py_repr(v, &mut out);
    out
}

/// Python's `repr()` of a value, appended to `out`.
pub(crate) fn py_repr(v: &Value, out: &mut String) {
    match v.kind() {
        ValueKind::Undefined => out.push_str(""),
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&py_number(v)),
        ValueKind::String => py_str_repr(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            if let Ok(it) = v.try_iter() {
                for (i, x) in it.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&x, out);
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(it) = v.try_iter() {
                for (i, k) in it.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    py_repr(&k, out);
                    out.push_str(": ");
                    py_repr(&v.get_item(&k).unwrap_or_default(), out);
                }
            }
            out.push('}');
        }
        _ => out.push_str(&v.to_string()),
    }
}

fn py_number(v: &Value) -> String {
    if v.is_integer() {
        return v.to_string();
    }
    match f64::try_from(v.clone()) {
        Ok(f) if f.is_finite() && f == f.trunc() && f.abs() < 1e16 => format!("{f:.1}"),
        Ok(f) if f.is_nan() => "nan".to_owned(),
        Ok(f) if f.is_infinite() => if f > 0.0 { "inf" } else { "-inf" }.to_owned(),
        Ok(f) => format!("{f}"),
        Err(_) => v.to_string(),
    }
}

/// Python's repr of a string: single quotes unless the text has a single quote and no
/// double quote.
fn py_str_repr(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// Python's `str()` of a JSON value (for map keys that rendered to non-strings).
pub(crate) fn json_py_str(v: &serde_json::Value) -> String {
    py_str(&json_to_value(v))
}

/// Ansible's reading of a string as a boolean (`bool` filter, conditionals): `Some` for the
/// words it knows.
pub(crate) fn ansible_bool_word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
        "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}
