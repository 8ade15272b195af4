//! Where vault passwords come from: a file, an executable script (plain or "client"), or a
//! prompt on the terminal.
//!
//! Why this file exists: Ansible users hand the password over in one of these ways and
//! expect the same rules (ansible-core 2.19, lib/ansible/parsing/vault/__init__.py:
//! `get_file_vault_secret`, `FileVaultSecret`, `ScriptVaultSecret`,
//! `ClientScriptVaultSecret`, `PromptVaultSecret`; lib/ansible/cli/__init__.py:
//! `split_vault_id`). A file's content is stripped of surrounding whitespace; a script's
//! stdout of surrounding line breaks; a script whose name ends in `-client` (before any
//! extension) is asked for one vault id with `--vault-id ID` and exits 2 when it has none.

use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::error::VaultError;
use super::{Secret, Vault};

/// The exit status by which a client script says it has no secret for the id.
const CLIENT_UNKNOWN_ID: i32 = 2;

/// A `--vault-id` value split as `split_vault_id` does: `label@source`, or just `source`.
pub fn split_vault_id(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('@') {
        Some((label, source)) => (Some(label), source),
        None => (None, spec),
    }
}

/// Whether a source names a prompt rather than a file.
pub fn is_prompt(source: &str) -> bool {
    matches!(source, "prompt" | "prompt_ask_vault_pass")
}

/// The secret from password file or script `path`, for vault id `label` (given as `label`
/// in `label@path`, or `None`); `known` decrypts a vault-encrypted password file.
pub fn from_file(
    path: &Path,
    label: Option<&str>,
    default_id: &str,
    known: &Vault,
) -> Result<Secret, VaultError> {
    // Absolute (`unfrackpath`): a script named without a directory is not looked up in PATH.
    let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|_| {
        VaultError::Secret(format!("the vault password file {shown} was not found"))
    })?;
    if meta.is_dir() {
        return Err(VaultError::Secret(format!(
            "the vault password file {shown} is a directory"
        )));
    }
    let id = label.unwrap_or(default_id).to_string();
    let password = if meta.permissions().mode() & 0o111 != 0 {
        from_script(path, label)?
    } else {
        read_password_file(path, known)?
    };
    if password.is_empty() {
        return Err(VaultError::Secret(format!(
            "an empty vault password was provided from {shown}"
        )));
    }
    Ok(Secret::new(id, password))
}

fn read_password_file(path: &Path, known: &Vault) -> Result<Vec<u8>, VaultError> {
    let raw = std::fs::read(path).map_err(|e| {
        VaultError::Secret(format!(
            "could not read vault password file {}: {e}",
            path.display()
        ))
    })?;
    let text = raw.trim_ascii();
    if !super::is_encrypted(text) {
        return Ok(text.to_vec());
    }
    // A password file may itself be vaulted with a secret given before it.
    let text = String::from_utf8_lossy(text);
    let (plain, _) = known.decrypt(&text)?;
    Ok(trim_line_breaks(&plain).to_vec())
}

/// Whether `path` is a client script (`script_is_client`).
fn is_client(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn from_script(path: &Path, label: Option<&str>) -> Result<Vec<u8>, VaultError> {
    let client = is_client(path);
    let mut cmd = Command::new(path);
    if let (true, Some(l)) = (client, label) {
        cmd.args(["--vault-id", l]);
    }
    // A plain script may prompt on stderr (ScriptVaultSecret leaves it alone).
    cmd.stdin(Stdio::inherit()).stdout(Stdio::piped());
    cmd.stderr(if client {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    let out = cmd.output().map_err(|e| {
        VaultError::Secret(format!(
            "problem running vault password script {} ({e}); if it is not a script, remove its executable bit",
            path.display()
        ))
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(trim_line_breaks(&out.stdout).to_vec()),
        Some(CLIENT_UNKNOWN_ID) if client => Err(VaultError::Secret(format!(
            "vault password client script {} did not find a secret for vault-id={}: {}",
            path.display(),
            label.unwrap_or_default(),
            stderr.trim()
        ))),
        code => Err(VaultError::Secret(format!(
            "vault password script {} returned non-zero ({}): {}",
            path.display(),
            code.map_or("a signal".to_string(), |c| c.to_string()),
            stderr.trim()
        ))),
    }
}

/// `bytes.strip(b'\r\n')`.
fn trim_line_breaks(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !matches!(c, b'\r' | b'\n'));
    let end = b.iter().rposition(|c| !matches!(c, b'\r' | b'\n'));
    match (start, end) {
        (Some(s), Some(e)) => &b[s..=e],
        _ => &[],
    }
}

/// A secret typed at the terminal for vault id `id`. `ask_format` is `--ask-vault-pass`'s
/// old prompt (`Vault password: `); `confirm` asks twice, for a new password.
pub fn from_prompt(id: &str, ask_format: bool, confirm: bool) -> Result<Secret, VaultError> {
    let (first, again) = match (ask_format, confirm) {
        (true, false) => ("Vault password: ".to_string(), None),
        (true, true) => (
            "New Vault password: ".to_string(),
            Some("Confirm New Vault password: ".to_string()),
        ),
        (false, false) => (format!("Vault password ({id}): "), None),
        (false, true) => (
            format!("New vault password ({id}): "),
            Some(format!("Confirm new vault password ({id}): ")),
        ),
    };
    let password = read_hidden(&first)?;
    if let Some(again) = again
        && read_hidden(&again)? != password
    {
        return Err(VaultError::Secret("passwords do not match".into()));
    }
    if password.is_empty() {
        return Err(VaultError::Secret(
            "an empty vault password was entered".into(),
        ));
    }
    Ok(Secret::new(id, password.into_bytes()))
}

/// One line from the terminal with echo off (through `stty`, as the become prompt does).
fn read_hidden(prompt: &str) -> Result<String, VaultError> {
    if !std::io::stdin().is_terminal() {
        return Err(VaultError::Secret(
            "a vault password prompt needs a terminal; use --vault-password-file or --vault-id label@file".into(),
        ));
    }
    eprint!("{prompt}");
    let _ = Command::new("stty").arg("-echo").status();
    let mut line = String::new();
    let r = std::io::stdin().read_line(&mut line);
    let _ = Command::new("stty").arg("echo").status();
    eprintln!();
    r.map_err(|e| VaultError::Secret(format!("cannot read the password: {e}")))?;
    Ok(line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_vault_ids_at_the_first_at_sign() {
        assert_eq!(split_vault_id("dev@a@b"), (Some("dev"), "a@b"));
        assert_eq!(split_vault_id("/p/file"), (None, "/p/file"));
        assert!(is_prompt("prompt") && !is_prompt("file"));
    }

    #[test]
    fn files_are_stripped_and_scripts_and_clients_run() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("pw");
        std::fs::write(&file, "  hunter2 \n").unwrap();
        let s = from_file(&file, None, "default", &Vault::new()).unwrap();
        assert_eq!(
            (s.id(), s.password.as_slice()),
            ("default", &b"hunter2"[..])
        );
        let client = d.path().join("pass-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1 $2\" = \"--vault-id prod\" ] && { echo ' s3 '; exit 0; }\necho none >&2; exit 2\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = from_file(&client, Some("prod"), "default", &Vault::new()).unwrap();
        assert_eq!((s.id(), s.password.as_slice()), ("prod", &b" s3 "[..]));
        let err = from_file(&client, Some("dev"), "default", &Vault::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("did not find a secret for vault-id=dev: none")
        );
    }

    #[test]
    fn a_vaulted_password_file_opens_with_an_earlier_secret() {
        let d = tempfile::tempdir().unwrap();
        let known = Vault::with_secrets(vec![Secret::new("default", "first")]);
        let file = d.path().join("pw2");
        std::fs::write(&file, known.encrypt(b"second\n", None).unwrap()).unwrap();
        let s = from_file(&file, Some("two"), "default", &known).unwrap();
        assert_eq!((s.id(), s.password.as_slice()), ("two", &b"second"[..]));
        assert!(from_file(&file, None, "default", &Vault::new()).is_err());
    }

    #[test]
    fn missing_empty_and_directory_sources_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let none = d.path().join("nope");
        assert!(from_file(&none, None, "default", &Vault::new()).is_err());
        assert!(from_file(d.path(), None, "default", &Vault::new()).is_err());
        let empty = d.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(from_file(&empty, None, "default", &Vault::new()).is_err());
    }
}
