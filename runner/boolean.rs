//! Ansible's notion of a boolean, in one place.
//!
//! Why this module exists: YAML 1.1, Jinja's truthiness and Ansible's `boolean()` disagree
//! (`'no'` is truthy in Jinja, false in Ansible). Keywords like `become:`, the `bool` filter
//! and `when:` results all use these rules, so `'no'` means no everywhere.

use serde_json::Value;

/// Ansible's `boolean()` on a string: `yes/on/true/y/t/1` and `no/off/false/n/f/0/""`,
/// case-insensitive; anything else is not a boolean.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "y" | "t" | "1" | "1.0" => Some(true),
        "no" | "off" | "false" | "n" | "f" | "0" | "0.0" | "" => Some(false),
        _ => None,
    }
}

/// Truthiness of a value as Ansible sees a conditional's result: booleans as they are,
/// strings by [`parse_bool`] (other non-empty strings are true), numbers non-zero,
/// collections non-empty, null false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => parse_bool(s).unwrap_or(true),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_booleans() {
        assert_eq!(parse_bool("No"), Some(false));
        assert_eq!(parse_bool("YES"), Some(true));
        assert_eq!(parse_bool("maybe"), None);
        assert!(!truthy(&Value::String("off".into())));
        assert!(truthy(&Value::String("x".into())));
    }
}
