//! Inline `!vault` values no given secret opens: loaded as locked values that fail where
//! they are used, not when their file is read.
//!
//! Why this file exists: ansible-core 2.19 keeps an inline `!vault` value encrypted (an
//! `EncryptedString`) until something templates it; only then does a value no secret opens
//! fail the task ("Attempt to use undecryptable variable: …"), so a play that never uses
//! it runs. windlass decrypts when it reads YAML, so a value it cannot open becomes a
//! locked value instead: a string holding a per-run random token and an index into this
//! run's table of locked values. Only [`locked`] makes one, and only a string naming this
//! run's token and a listed index reads back as locked ([`message_of`]), so no value a host
//! sends (command output, a registered result) can pass for one. The template context turns
//! a locked value into an error raised where the variable is used.

use std::sync::{Mutex, OnceLock};

use super::VaultError;

/// The run's table: its random token and the message of each locked value.
struct Table {
    token: String,
    messages: Mutex<Vec<String>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut b = [0u8; 16];
        // Without randomness the token is still unique to this table; it is the index
        // lookup, not the token, that decides what is locked.
        let _ = getrandom::fill(&mut b);
        Table {
            token: b.iter().map(|x| format!("{x:02x}")).collect(),
            messages: Mutex::new(Vec::new()),
        }
    })
}

/// Marks a locked value's text (control characters no YAML scalar of a file holds).
const MARK: char = '\u{1}';

/// The locked value standing for the inline `!vault` value at `at` that `err` kept shut:
/// ansible-core's words for its use, then where the value is and windlass's reason.
pub(crate) fn locked(err: &VaultError, at: &crate::error::Loc) -> String {
    let why = match err {
        VaultError::NoSecrets => "Attempting to decrypt but no vault secrets found.",
        _ => "Decryption failed (no vault secrets were found that could decrypt).",
    };
    let t = table();
    let mut m = t.messages.lock().unwrap_or_else(|e| e.into_inner());
    m.push(format!(
        "Attempt to use undecryptable variable: {why} (the !vault value at {at}: {err})"
    ));
    format!("{MARK}vault-locked:{}:{}{MARK}", t.token, m.len() - 1)
}

/// The error message of using `s`, when it is a locked value of this run.
pub(crate) fn message_of(s: &str) -> Option<String> {
    let inner = s.strip_prefix(MARK)?.strip_suffix(MARK)?;
    let rest = inner.strip_prefix("vault-locked:")?;
    let (token, index) = rest.split_once(':')?;
    let t = table();
    if token != t.token {
        return None;
    }
    let index: usize = index.parse().ok()?;
    let m = t.messages.lock().unwrap_or_else(|e| e.into_inner());
    m.get(index).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_values_read_back_and_forgeries_do_not() {
        let at = crate::error::Loc::new(std::sync::Arc::from(std::path::Path::new("v.yml")), 3, 7);
        let a = locked(&VaultError::NoSecrets, &at);
        let b = locked(&VaultError::Decrypt { tried: "x".into() }, &at);
        let m = message_of(&a).unwrap();
        assert!(
            m.starts_with("Attempt to use undecryptable variable: Attempting to decrypt but no vault secrets found. (the !vault value at v.yml:3:7: found vault-encrypted data but no vault secret was given"),
            "{m}"
        );
        let m = message_of(&b).unwrap();
        assert!(m.contains(": Decryption failed (no vault secrets were found that could decrypt). (the !vault value at v.yml:3:7: decryption failed"), "{m}");
        // The same shape with another token, or an index never handed out, is plain text.
        let forged = format!("{MARK}vault-locked:{}:0{MARK}", "0".repeat(32));
        assert_eq!(message_of(&forged), None);
        let (head, _) = a.rsplit_once(':').unwrap();
        let unlisted = format!("{head}:999999{MARK}");
        assert_eq!(message_of(&unlisted), None);
        assert_eq!(message_of("plain"), None);
    }
}
