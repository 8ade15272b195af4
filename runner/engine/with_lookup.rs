//! The items of the classic `with_<kind>` loops (`with_items`, `with_dict`,
//! `with_sequence`…), made from the loop's templated terms as Ansible's lookup plugins
//! make them for a `with_` loop.
//!
//! Why this module exists: a `with_` loop hands its whole templated value to the plugin as
//! its terms, which is not how `lookup()`/`query()` in a template pass them (there each
//! argument is a term, and `query('list', [1, 2])` unwraps the single list), so the two
//! entry points give different items for the same value; the template layer
//! (`template/lookups.rs`) keeps the call form, this file the loop form. Any other
//! `with_<plugin>` goes through the template layer's `query`.

use serde_json::Value;

use super::resolve::type_name;

/// The `with_<kind>` loops made here.
pub(super) const KINDS: &[&str] = &[
    "items",
    "list",
    "dict",
    "indexed_items",
    "together",
    "nested",
    "cartesian",
    "sequence",
];

/// The items of a `with_<kind>` loop, as Ansible's lookup plugins make them.
pub(super) fn with_lookup(kind: &str, terms: Value) -> Result<Vec<Value>, String> {
    match kind {
        "items" => Ok(items(terms)),
        "list" => Ok(match terms {
            Value::Array(a) => a,
            other => vec![other],
        }),
        "dict" => dict(terms),
        "indexed_items" => match terms {
            Value::Array(a) => Ok(a
                .into_iter()
                .enumerate()
                .map(|(i, v)| serde_json::json!([i, v]))
                .collect()),
            other => Err(format!(
                "with_indexed_items needs a list, got {}",
                type_name(&other)
            )),
        },
        "together" => together(terms),
        "nested" | "cartesian" => nested(terms),
        "sequence" => sequence(&sequence_spec(terms)?),
        other => Err(format!(
            "with_{other} is not supported (use loop: with a filter)"
        )),
    }
}

/// `with_items`: the list flattened one level; a single value is one item.
fn items(terms: Value) -> Vec<Value> {
    match terms {
        Value::Array(a) => a
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(inner) => inner,
                other => vec![other],
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// `with_dict`: one `{key, value}` item per entry.
fn dict(terms: Value) -> Result<Vec<Value>, String> {
    match terms {
        Value::Object(m) => Ok(m
            .into_iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect()),
        other => Err(format!(
            "with_dict needs a mapping, got {}",
            type_name(&other)
        )),
    }
}

/// The lists of a `with_together`/`with_nested` (a single value is a list of one).
fn lists(terms: Value, kind: &str) -> Result<Vec<Vec<Value>>, String> {
    match terms {
        Value::Array(lists) => Ok(lists
            .into_iter()
            .map(|l| match l {
                Value::Array(a) => a,
                other => vec![other],
            })
            .collect()),
        other => Err(format!(
            "with_{kind} needs a list of lists, got {}",
            type_name(&other)
        )),
    }
}

/// `with_together`: the lists zipped, the shorter ones padded with null.
fn together(terms: Value) -> Result<Vec<Value>, String> {
    let lists = lists(terms, "together")?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok((0..n)
        .map(|i| {
            Value::Array(
                lists
                    .iter()
                    .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect())
}

/// `with_nested`/`with_cartesian`: every combination, the first list outermost.
fn nested(terms: Value) -> Result<Vec<Value>, String> {
    let mut acc: Vec<Vec<Value>> = vec![vec![]];
    for items in lists(terms, "nested")? {
        acc = acc
            .into_iter()
            .flat_map(|prefix| {
                items.iter().map(move |it| {
                    let mut p = prefix.clone();
                    p.push(it.clone());
                    p
                })
            })
            .collect();
    }
    Ok(acc.into_iter().map(Value::Array).collect())
}

/// A `with_sequence`'s terms as its `key=value` text (a mapping gives the same pairs).
fn sequence_spec(terms: Value) -> Result<String, String> {
    Ok(match terms {
        Value::String(s) => s,
        Value::Array(a) if a.len() == 1 => a[0].as_str().unwrap_or_default().to_string(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => {
            return Err(format!(
                "with_sequence needs `start=… end=…`, got {}",
                type_name(&other)
            ));
        }
    })
}

/// `with_sequence: start=1 end=5 stride=1 format=host%02d` (or `count=`).
fn sequence(spec: &str) -> Result<Vec<Value>, String> {
    let mut start = 1i64;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride = 1i64;
    let mut format = "%d".to_string();
    for w in spec.split_whitespace() {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("bad with_sequence term `{w}`"))?;
        let num = |v: &str| -> Result<i64, String> {
            if let Some(h) = v.strip_prefix("0x") {
                i64::from_str_radix(h, 16).map_err(|_| format!("bad number `{v}`"))
            } else {
                v.parse().map_err(|_| format!("bad number `{v}`"))
            }
        };
        match k {
            "start" => start = num(v)?,
            "end" => end = Some(num(v)?),
            "count" => count = Some(num(v)?),
            "stride" => stride = num(v)?,
            "format" => format = v.to_string(),
            other => return Err(format!("unknown with_sequence option `{other}`")),
        }
    }
    let end = match (end, count) {
        (Some(e), None) => e,
        (None, Some(c)) => start + (c - 1) * stride,
        (Some(_), Some(_)) => return Err("with_sequence takes end or count, not both".into()),
        (None, None) => return Err("with_sequence needs end or count".into()),
    };
    if stride == 0 {
        return Err("with_sequence stride must not be 0".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::String(printf_int(&format, i)));
        i += stride;
        if out.len() > 1_000_000 {
            return Err("with_sequence is too long".into());
        }
    }
    Ok(out)
}

/// A tiny printf for one integer conversion (`%d`, `%02d`, `%x`, `%o`).
fn printf_int(format: &str, n: i64) -> String {
    let Some(pos) = format.find('%') else {
        return format.to_string();
    };
    let rest = &format[pos + 1..];
    let spec_len = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    let spec = &rest[..spec_len];
    let conv = spec.chars().last().unwrap_or('d');
    let flags = &spec[..spec.len().saturating_sub(1)];
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let body = match conv {
        'x' => format!("{n:x}"),
        'X' => format!("{n:X}"),
        'o' => format!("{n:o}"),
        _ => n.to_string(),
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    format!("{}{}{}", &format[..pos], padded, &rest[spec_len..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_sequence_formats() {
        let v = sequence("start=1 end=3 format=node%02d").unwrap();
        assert_eq!(
            v,
            vec![
                Value::from("node01"),
                Value::from("node02"),
                Value::from("node03")
            ]
        );
        assert_eq!(sequence("count=2 start=0").unwrap().len(), 2);
        assert!(sequence("start=1").is_err());
    }

    #[test]
    fn with_together_and_nested() {
        let t = with_lookup("together", serde_json::json!([[1, 2], ["a"]])).unwrap();
        assert_eq!(
            t,
            vec![serde_json::json!([1, "a"]), serde_json::json!([2, null])]
        );
        let n = with_lookup("nested", serde_json::json!([[1, 2], ["a", "b"]])).unwrap();
        assert_eq!(n.len(), 4);
    }
}
