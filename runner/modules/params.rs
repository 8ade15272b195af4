//! Parameter types shared by modules, with Ansible's lenient input rules.
//!
//! Why this module exists: Ansible accepts `yes`, `"yes"` and `true` for a boolean, a
//! comma-separated string or a list for a list, and `0644`, `"0644"` or `u=rw,g=r` for a
//! mode. Modules declare fields with these deserializers so every module accepts the same
//! spellings and rejects the same mistakes, with the same messages.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A boolean as Ansible's `boolean()` reads it.
pub fn ansible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    to_bool(&v).map_err(serde::de::Error::custom)
}

/// An optional boolean as Ansible's `boolean()` reads it.
pub fn opt_ansible_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => to_bool(&v).map(Some).map_err(serde::de::Error::custom),
    }
}

pub(crate) fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => {
            crate::boolean::parse_bool(s).ok_or_else(|| format!("expected a boolean, got {s:?}"))
        }
        Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(n.as_i64() == Some(1))
        }
        other => Err(format!("expected a boolean, got {other}")),
    }
}

/// A list of strings given as a list, or as one comma-separated string.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(s
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()),
        Value::Array(a) => a
            .into_iter()
            .map(|x| match x {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(serde::de::Error::custom(format!(
                    "expected a string, got {other}"
                ))),
            })
            .collect(),
        Value::Number(n) => Ok(vec![n.to_string()]),
        other => Err(serde::de::Error::custom(format!(
            "expected a list or a comma-separated string, got {other}"
        ))),
    }
}

/// A string given as a string or a number (`owner: 1000`, `version: 1.28`).
pub fn opt_stringish<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(if b { "True" } else { "False" }.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a string, got {other}"
        ))),
    }
}

/// A file mode: octal bits, or a symbolic mode (`u=rw,g=r,o=`) applied with chmod.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// Octal permission bits.
    Octal(u32),
    /// A symbolic mode string for chmod.
    Symbolic(String),
}

impl Mode {
    /// The bits, when octal.
    pub fn bits(&self) -> Option<u32> {
        match self {
            Mode::Octal(b) => Some(*b),
            Mode::Symbolic(_) => None,
        }
    }
}

/// A mode as Ansible reads it: YAML `0644` arrives as the integer 420 and means 0o644; a
/// string is octal (`"0644"`, `"644"`) or symbolic. An integer without a leading zero in
/// the YAML (`644`) is the decimal 644 — Ansible's trap — and is refused with a hint when
/// it cannot be a sensible mode (three octal-looking digits above 0o777).
pub fn opt_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mode>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_mode(&v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Parse one mode value (see [`opt_mode`]).
pub fn parse_mode(v: &Value) -> Result<Mode, String> {
    match v {
        Value::Number(n) => {
            let i = n.as_u64().ok_or_else(|| format!("bad mode {n}"))?;
            if i > 0o7777 {
                return Err(format!("mode {i} is out of range"));
            }
            // 420 comes from YAML `0644`. A three-digit decimal above 0o777 whose digits are
            // all octal (644, 755, 600) is Ansible's trap: it means sticky/setuid bits and
            // odd permissions, never what was meant.
            let digits = i.to_string();
            if digits.len() == 3 && digits.chars().all(|c| ('0'..='7').contains(&c)) && i > 0o777 {
                return Err(format!(
                    "mode {i} is a decimal number; write it quoted (\"0{i}\") or with a leading zero (0{i})"
                ));
            }
            Ok(Mode::Octal(i as u32))
        }
        Value::String(s) => {
            let t = s.trim();
            if !t.is_empty() && t.chars().all(|c| ('0'..='7').contains(&c)) {
                let bits = u32::from_str_radix(t, 8).map_err(|e| e.to_string())?;
                if bits > 0o7777 {
                    return Err(format!("mode {t:?} is out of range"));
                }
                return Ok(Mode::Octal(bits));
            }
            let symbolic = t.split(',').all(|clause| {
                let who_end = clause.find(['=', '+', '-']).unwrap_or(clause.len());
                let (who, rest) = clause.split_at(who_end);
                who.chars().all(|c| "ugoa".contains(c))
                    && !rest.is_empty()
                    && rest.chars().all(|c| "=+-rwxXstugo".contains(c))
            });
            if symbolic && !t.is_empty() {
                Ok(Mode::Symbolic(t.to_string()))
            } else {
                Err(format!(
                    "bad mode {s:?}: use octal like \"0644\" or symbolic like \"u=rw,g=r,o=\""
                ))
            }
        }
        other => Err(format!("bad mode {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes() {
        assert_eq!(parse_mode(&json!(420)).unwrap(), Mode::Octal(0o644));
        assert_eq!(parse_mode(&json!("0644")).unwrap(), Mode::Octal(0o644));
        assert_eq!(parse_mode(&json!("755")).unwrap(), Mode::Octal(0o755));
        assert_eq!(
            parse_mode(&json!("u=rw,g=r,o=")).unwrap(),
            Mode::Symbolic("u=rw,g=r,o=".into())
        );
        assert!(parse_mode(&json!(644)).unwrap_err().contains("decimal"));
        assert!(parse_mode(&json!("rw")).is_err());
    }
}
