//! Masking secrets in values before the run journal writes them to disk.
//!
//! Why this module exists: the journal keeps registered results and `set_fact` values so a
//! resumed run can use them, and those values routinely carry secrets that no variable
//! name announces: a `kubeadm join … --token …` command line inside a registered `cmd`,
//! a database URL with its password, a `secret_access_key` three levels down in a
//! registered API reply. Everything that goes to disk passes through [`mask`] first; a
//! value that had anything masked is never restored on `--resume` (the task that made it
//! runs again), so a mask can never be taken for the real value.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde_json::Value;

use super::secret_like;

/// What a masked secret is replaced with.
pub const MASK: &str = "********";

/// Mask, in place, everything secret-looking in `v`, at any depth: the values of
/// secret-looking keys, and secrets inside strings (see [`mask_str`]). Whether anything
/// was masked.
pub fn mask(v: &mut Value) -> bool {
    match v {
        Value::Object(m) => {
            let mut any = false;
            for (k, val) in m.iter_mut() {
                any |= if secret_like(k) {
                    mask_whole(val)
                } else {
                    mask(val)
                };
            }
            any
        }
        Value::Array(items) => {
            let mut any = mask_flag_pairs(items);
            for item in items.iter_mut() {
                any |= mask(item);
            }
            any
        }
        Value::String(s) => match mask_str(s) {
            Some(masked) => {
                *s = masked;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Whether [`mask`] would mask anything in `v` (found without copying or rewriting it:
/// results are checked after every task, and most hold no secret).
pub fn needs_mask(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, val)| {
            if secret_like(k) {
                whole_needs(val)
            } else {
                needs_mask(val)
            }
        }),
        Value::Array(items) => {
            (1..items.len()).any(|i| secret_flag(&items[i - 1]) && not_masked(&items[i]))
                || items.iter().any(needs_mask)
        }
        Value::String(s) => str_needs(s),
        _ => false,
    }
}

/// Whether [`mask_whole`] would change `v`.
fn whole_needs(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(_)) && v.as_str() != Some(MASK)
}

/// A string other than the mask itself.
fn not_masked(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s != MASK)
}

/// A secret-looking flag given on its own (`--token`, not `--token=x`).
fn secret_flag(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix('-'))
        .is_some_and(|f| !f.contains('=') && secret_like(&f.replace('-', "_")))
}

/// Whether [`mask_str`] would change `s`.
fn str_needs(s: &str) -> bool {
    PATTERNS
        .iter()
        .any(|re| re.captures_iter(s).any(|c| is_secret(&c)))
}

/// Whether a match is a secret to mask: its `name` (if any) looks secret and its
/// `secret` is not masked already.
fn is_secret(c: &Captures) -> bool {
    c.name("secret").is_some_and(|m| m.as_str() != MASK)
        && c.name("name")
            .is_none_or(|n| secret_like(&n.as_str().replace('-', "_")))
}

/// Replace a secret-looking key's value: null and booleans say nothing secret and stay.
fn mask_whole(v: &mut Value) -> bool {
    if !whole_needs(v) {
        return false;
    }
    *v = Value::String(MASK.into());
    true
}

/// An argv-style list (a registered `cmd`): the item after a secret-looking flag given on
/// its own (`["kubeadm", "join", "--token", "abc"]`) is masked.
fn mask_flag_pairs(items: &mut [Value]) -> bool {
    let mut any = false;
    for i in 1..items.len() {
        if secret_flag(&items[i - 1]) && not_masked(&items[i]) {
            items[i] = Value::String(MASK.into());
            any = true;
        }
    }
    any
}

/// The patterns [`mask_str`] masks. Group `secret` is replaced; when there is a group
/// `name`, only if that name looks like a secret (see [`secret_like`]).
static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // PEM private keys, whole.
        r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----(?P<secret>.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
        // A URL's password: scheme://user:password@host.
        r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/?#@:]*:(?P<secret>[^\s/?#@]+)@",
        // A command-line flag with a secret-looking name and its value: --token abc,
        // --token=abc, --discovery-token-ca-cert-hash sha256:…, --certificate-key …
        r#"(?i)(?:^|[\s"'(\[,])--?(?P<name>[a-z][a-z0-9_\-]*)(?:=|[ \t]+)(?P<secret>"[^"]*"|'[^']*'|[^\s"']+)"#,
        // An assignment or a mapping entry with a secret-looking name: PGPASSWORD=x,
        // password=x, "token": "x", token: x.
        r#"(?i)\b(?P<name>[a-z_][a-z0-9_\-]*)["']?[ \t]*(?:=|:[ \t]+)[ \t]*(?P<secret>"[^"]*"|'[^']*'|[^\s"',}]+)"#,
        // A kubeadm bootstrap token on its own ([a-z0-9]{6}.[a-z0-9]{16}, the format
        // kubeadm's bootstraptoken API checks), e.g. the stdout of `kubeadm token create`.
        r"\b(?P<secret>[a-z0-9]{6}\.[a-z0-9]{16})\b",
        // The certificate key `kubeadm init phase upload-certs --upload-certs` prints.
        r"(?i)certificate key:\s*(?P<secret>[0-9a-f]{64})",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("a valid mask pattern"))
    .collect()
});

/// `s` with secrets masked, or `None` when it holds none: private keys, URL passwords,
/// values of secret-looking flags (`--token x`) and assignments (`password=x`,
/// `token: x`), kubeadm bootstrap tokens and certificate keys.
pub fn mask_str(s: &str) -> Option<String> {
    let mut out = s.to_string();
    for re in PATTERNS.iter() {
        if let std::borrow::Cow::Owned(o) = re.replace_all(&out, replacement) {
            out = o;
        }
    }
    (out != s).then_some(out)
}

/// A match with its `secret` group masked (when its `name`, if any, looks secret).
fn replacement(c: &Captures) -> String {
    let all = c.get(0).expect("group 0 always matches");
    let (Some(secret), true) = (c.name("secret"), is_secret(c)) else {
        return all.as_str().to_string();
    };
    let text = all.as_str();
    let (a, b) = (secret.start() - all.start(), secret.end() - all.start());
    format!("{}{MASK}{}", &text[..a], &text[b..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn needs_mask_agrees_with_mask() {
        for v in [
            json!({"a": {"token": "x"}}),
            json!({"a": {"token": MASK}}),
            json!({"a": {"token": true}}),
            json!(["run", "--password", "x"]),
            json!(["run", "--password", MASK]),
            json!("postgres://u:p@h/d"),
            json!(format!("postgres://u:{MASK}@h/d")),
            json!("--token=abc"),
            json!("plain text, user=bob"),
            json!({"cmd": ["a", "b"], "stdout": "x=1"}),
        ] {
            let mut m = v.clone();
            assert_eq!(needs_mask(&v), mask(&mut m), "{v}");
            assert!(!needs_mask(&m), "masking twice changes nothing: {m}");
        }
    }

    #[test]
    fn masks_secret_keys_at_any_depth() {
        let mut v = json!({"out": {"items": [{"aws": {"secret_access_key": "AKIAxyz", "region": "eu"}}],
                            "password_set": true, "db_password": null}});
        assert!(mask(&mut v));
        assert_eq!(v["out"]["items"][0]["aws"]["secret_access_key"], MASK);
        assert_eq!(v["out"]["items"][0]["aws"]["region"], "eu");
        assert_eq!(v["out"]["password_set"], true);
        assert!(!mask(&mut json!({"a": [1, "plain", {"b": "c"}]})));
    }

    #[test]
    fn masks_kubeadm_join_tokens_and_keys() {
        let join = "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef \
                    --discovery-token-ca-cert-hash sha256:1234 --control-plane --certificate-key=deadbeef";
        let m = mask_str(join).unwrap();
        assert!(!m.contains("abcdef.0123456789abcdef"), "{m}");
        assert!(!m.contains("sha256:1234"), "{m}");
        assert!(!m.contains("deadbeef"), "{m}");
        assert!(
            m.starts_with("kubeadm join 10.0.0.1:6443 --token ********"),
            "{m}"
        );
        assert!(m.contains("--control-plane"), "{m}");
        let mut argv = json!(["kubeadm", "join", "--token", "abc", "--node-name", "n1"]);
        assert!(mask(&mut argv));
        assert_eq!(
            argv,
            json!(["kubeadm", "join", "--token", MASK, "--node-name", "n1"])
        );
        assert_eq!(
            mask_str("abcdef.0123456789abcdef\n").unwrap(),
            format!("{MASK}\n")
        );
        let key = format!("[upload-certs] Using certificate key:\n{}", "a1".repeat(32));
        assert_eq!(
            mask_str(&key).unwrap(),
            format!("[upload-certs] Using certificate key:\n{MASK}")
        );
    }

    #[test]
    fn masks_url_passwords_assignments_and_private_keys() {
        assert_eq!(
            mask_str("postgres://app:s3cr%40t@db:5432/x").unwrap(),
            format!("postgres://app:{MASK}@db:5432/x")
        );
        assert_eq!(
            mask_str("PGPASSWORD=hunter2 psql").unwrap(),
            format!("PGPASSWORD={MASK} psql")
        );
        assert_eq!(
            mask_str(r#"{"token": "t0k", "user": "u"}"#).unwrap(),
            format!(r#"{{"token": {MASK}, "user": "u"}}"#)
        );
        let pem =
            "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        let m = mask_str(pem).unwrap();
        assert!(!m.contains("AAAA"), "{m}");
        for plain in [
            "https://example.com/a:b@c",
            "ok: 3 changed: 1",
            "user=bob home=/home/bob",
            "--name web --port 80",
            "version 1.30.2",
        ] {
            assert_eq!(mask_str(plain), None, "{plain}");
        }
    }
}
