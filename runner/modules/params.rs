//! Parameter types shared by modules, with Ansible's lenient input rules.
//!
//! Why this module exists: Ansible accepts `yes`, `"yes"` and `true` for a boolean, a
//! comma-separated string or a list for a list, and `0644`, `"0644"` or `u=rw,g=r` for a
//! mode. Modules declare fields with these deserializers so every module accepts the same
//! spellings and rejects the same mistakes, with the same messages. A parameter with a fixed
//! set of words (`state`, `selection`, …) is an enum declared with `choice!`, so a module
//! matches on variants, not on strings.

use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A word that is none of a parameter's choices. Its text is the task's whole message,
/// worded as the module always worded it (Ansible's "value of state must be one of: …,
/// got: …" for most). serde carries it on as text only, so its `Display` starts with
/// a mark by which the parameter reader shows it without the module's name in front.
#[derive(Debug)]
pub struct BadChoice(pub String);

/// The mark a [`BadChoice`]'s text starts with inside a serde error; never shown.
const BAD_CHOICE: char = '\u{1}';

impl fmt::Display for BadChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{BAD_CHOICE}{}", self.0)
    }
}

/// The message of a failed parameter deserialization: a bad choice's own text, anything
/// else after the module's name (`ansible.builtin.copy: missing field `dest``).
pub(crate) fn error_text(module: &str, e: &impl fmt::Display) -> String {
    let text = e.to_string();
    match text.strip_prefix(BAD_CHOICE) {
        Some(own) => own.to_string(),
        None => format!("{module}: {text}"),
    }
}

/// Declares the enum of a parameter with a fixed set of words: each variant with the words
/// that name it (Ansible's choice first, then its aliases), the message for any other word
/// (`{got}` is the word), `TryFrom<String>` for serde (`#[serde(try_from = "String")]`, so
/// a number or boolean is compared as its text, as Ansible compares choices) and `as_str`.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal $(| $alias:literal)* ),+ $(,)?
        }
        else $msg:literal
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
        #[serde(try_from = "String")]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The word Ansible's documentation names this choice by.
            #[allow(dead_code, reason = "generated for every choice; used where the word is printed")]
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::modules::params::BadChoice;

            fn try_from(word: String) -> Result<Self, Self::Error> {
                match word.as_str() {
                    $( $word $(| $alias)* => Ok($name::$variant), )+
                    got => Err($crate::modules::params::BadChoice(format!($msg, got = got))),
                }
            }
        }
    };
}
pub(crate) use choice;

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

/// The task message for parameters `args` that `T` refuses, as a run shows it.
#[cfg(test)]
pub(crate) fn refused<T: serde::de::DeserializeOwned + fmt::Debug>(args: Value) -> String {
    let Value::Object(args) = args else {
        panic!("test parameters are a mapping");
    };
    match super::plan::params::<T>("ansible.builtin.x", args) {
        Err(super::ModuleError::Failed(e)) => e,
        other => panic!("parameters accepted: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    choice! {
        /// A test choice.
        enum Colour {
            /// Red (alias `rouge`).
            Red = "red" | "rouge",
            /// Blue.
            Blue = "blue",
        }
        else "value of colour must be one of: blue, red, got: {got}"
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        colour: Option<Colour>,
        #[serde(default)]
        n: u8,
    }

    fn colour(v: Value) -> Option<Colour> {
        let Value::Object(m) = json!({ "colour": v }) else {
            unreachable!()
        };
        super::super::plan::params::<P>("x", m).unwrap().colour
    }

    #[test]
    fn choices_read_words_and_aliases_and_refuse_others_in_their_own_words() {
        assert_eq!(colour(json!("red")), Some(Colour::Red));
        assert_eq!(colour(json!("rouge")), Some(Colour::Red));
        assert_eq!(colour(json!("blue")), Some(Colour::Blue));
        assert_eq!(colour(Value::Null), None);
        assert_eq!(Colour::Red.as_str(), "red");
        assert_eq!(
            refused::<P>(json!({"colour": "green"})),
            "value of colour must be one of: blue, red, got: green"
        );
        // Ansible compares a number or a boolean with the choices as its text.
        assert_eq!(
            refused::<P>(json!({"colour": 1})),
            "value of colour must be one of: blue, red, got: 1"
        );
        assert_eq!(
            refused::<P>(json!({"colour": true})),
            "value of colour must be one of: blue, red, got: True"
        );
        // Any other refusal keeps the module's name in front.
        assert!(
            refused::<P>(json!({"n": "many"})).starts_with("ansible.builtin.x: "),
            "{}",
            refused::<P>(json!({"n": "many"}))
        );
    }

    /// Every module's refusal of a word none of its choices names, in the words each used
    /// before its parameter became an enum (and Ansible's where the module had them).
    #[test]
    fn every_choice_is_refused_in_its_modules_words() {
        use crate::modules::*;
        let pa = |got: &str| format!("state must be one of present, absent; got {got}");
        let ansible =
            |got: &str| format!("value of state must be one of: absent, present, got: {got}");
        let cases = [
            (
                refused::<package::PackageParams>(json!({"name": "x", "state": "gone"})),
                "state must be one of present, absent, latest; got gone".to_string(),
            ),
            (refused::<apt_key::AptKeyParams>(json!({"state": "on"})), pa("on")),
            (
                refused::<apt_repository::AptRepositoryParams>(json!({"repo": "deb x y", "state": "on"})),
                pa("on"),
            ),
            (
                refused::<deb822_repository::Deb822Params>(json!({"name": "k", "state": "on"})),
                pa("on"),
            ),
            (refused::<group::GroupParams>(json!({"name": "g", "state": 1})), pa("1")),
            (refused::<user::UserParams>(json!({"name": "u", "state": "on"})), pa("on")),
            (
                refused::<user::UserParams>(json!({"name": "u", "update_password": "never"})),
                "update_password must be always or on_create; got never".to_string(),
            ),
            (refused::<sysctl::SysctlParams>(json!({"name": "k", "state": "on"})), pa("on")),
            (
                refused::<file::FileParams>(json!({"path": "/x", "state": "dir"})),
                "value of state must be one of: absent, directory, file, hard, link, touch, got: dir"
                    .to_string(),
            ),
            (
                refused::<lineinfile::LineinfileParams>(json!({"path": "/x", "state": "on"})),
                ansible("on"),
            ),
            (
                refused::<blockinfile::BlockinfileParams>(json!({"path": "/x", "state": "on"})),
                ansible("on"),
            ),
            (
                refused::<ini_file::IniFileParams>(json!({"path": "/x", "state": false})),
                ansible("False"),
            ),
            (
                refused::<hostname::HostnameParams>(json!({"name": "h", "use": "redhat"})),
                "use=redhat is not supported (systemd, debian)".to_string(),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

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
