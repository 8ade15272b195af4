//! The vault options of a run: `--vault-id`, `--vault-password-file`, `--ask-vault-pass`
//! and the configuration's `vault_*` settings, turned into a [`Vault`].
//!
//! Why this file exists: the order secrets are gathered in decides which one is tried first,
//! and Ansible users rely on it (ansible-core 2.19, lib/ansible/cli/__init__.py:
//! `build_vault_ids`, `setup_vault_secrets`): `vault_identity_list` first, then each
//! `--vault-id`, then each `--vault-password-file` and `vault_password_file` (as
//! `default@FILE`), then the `--ask-vault-pass` prompt. A source that fails is a warning
//! while another one works, and the error when none does.

use std::path::PathBuf;

use clap::Args;

use super::error::VaultError;
use super::{DEFAULT_ID, Vault, source};

/// The configuration's vault settings (`[defaults]` in ansible.cfg, `ANSIBLE_VAULT_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VaultConfig {
    /// `vault_password_file`.
    pub password_file: Option<PathBuf>,
    /// `vault_identity_list`: `label@source` entries tried before the command line's.
    pub identity_list: Vec<String>,
    /// `vault_identity`: the vault id of secrets given without one (default `default`).
    pub identity: Option<String>,
    /// `vault_id_match`: only the secret of the data's vault id may open it.
    pub id_match: Option<bool>,
    /// `vault_encrypt_identity`: the vault id to encrypt with.
    pub encrypt_identity: Option<String>,
    /// `vault_encrypt_salt`: a fixed salt (for reproducible vault text).
    pub encrypt_salt: Option<String>,
}

/// The configuration keys [`VaultConfig::set`] reads.
pub const KEYS: &[&str] = &[
    "vault_password_file",
    "vault_identity_list",
    "vault_identity",
    "vault_id_match",
    "vault_encrypt_identity",
    "vault_encrypt_salt",
];

impl VaultConfig {
    /// Set `key` (one of [`KEYS`]) from its text; lists split at `sep` and commas.
    pub fn set(&mut self, key: &str, value: &str, sep: char) -> Result<(), String> {
        let v = value.trim();
        match key {
            "vault_password_file" => self.password_file = Some(expand_home(v)),
            "vault_identity_list" => {
                self.identity_list = v
                    .split(sep)
                    .flat_map(|p| p.split(','))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "vault_identity" => self.identity = Some(v.to_string()),
            "vault_id_match" => {
                self.id_match =
                    Some(crate::boolean::parse_bool(v).ok_or_else(|| {
                        format!("`vault_id_match` must be a boolean, found `{v}`")
                    })?)
            }
            "vault_encrypt_identity" => self.encrypt_identity = Some(v.to_string()),
            "vault_encrypt_salt" => self.encrypt_salt = Some(v.to_string()),
            other => return Err(format!("`{other}` is not a vault setting")),
        }
        Ok(())
    }

    /// The vault id of secrets given without one.
    pub fn default_id(&self) -> &str {
        self.identity.as_deref().unwrap_or(DEFAULT_ID)
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Vault options of commands that read vault data.
#[derive(Debug, Args, Clone, Default)]
pub struct VaultArgs {
    /// A vault secret, `[LABEL@]SOURCE`: SOURCE is a password file, an executable that
    /// prints it (a `*-client` script is given `--vault-id LABEL`), or `prompt`
    /// (repeatable; the secret whose label the data names is tried first).
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_id: Vec<String>,
    /// A vault password file or script, as `--vault-id default@FILE` (repeatable;
    /// `ANSIBLE_VAULT_PASSWORD_FILE` or `vault_password_file` also sets one).
    #[arg(
        long = "vault-password-file",
        alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_file: Vec<PathBuf>,
    /// Ask for the vault password on the terminal.
    #[arg(short = 'J', long = "ask-vault-pass", alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

impl VaultArgs {
    /// The secrets these options and `cfg` name, loaded. `auto_prompt`: prompt when nothing
    /// names a secret (`ansible-vault` does; a playbook run does not). `confirm`: a prompt
    /// asks twice (a new password).
    pub fn keyring(
        &self,
        cfg: &VaultConfig,
        auto_prompt: bool,
        confirm: bool,
    ) -> Result<Vault, VaultError> {
        let specs = self.specs(cfg, auto_prompt);
        let mut vault = Vault::new()
            .id_match(cfg.id_match.unwrap_or(false))
            .encrypt_salt(cfg.encrypt_salt.clone().map(String::into_bytes));
        let mut last_error = None;
        for spec in &specs {
            match load_one(spec, cfg.default_id(), &vault, confirm) {
                Ok(secret) => vault.secrets.push(secret),
                Err(e) => {
                    let w = format!("Error getting vault password ({spec}): {e}");
                    vault.warnings.push(w);
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if vault.is_empty() => Err(e),
            _ => Ok(vault),
        }
    }

    /// `build_vault_ids`: every source as a `label@source` or `source` spec, in order.
    fn specs(&self, cfg: &VaultConfig, auto_prompt: bool) -> Vec<String> {
        let mut specs: Vec<String> = cfg.identity_list.clone();
        specs.extend(self.vault_id.iter().cloned());
        let files = self.vault_password_file.iter().chain(&cfg.password_file);
        specs.extend(files.map(|f| format!("{}@{}", cfg.default_id(), f.display())));
        if self.ask_vault_pass || (specs.is_empty() && auto_prompt) {
            specs.push(format!("{}@prompt_ask_vault_pass", cfg.default_id()));
        }
        specs
    }
}

fn load_one(
    spec: &str,
    default_id: &str,
    known: &Vault,
    confirm: bool,
) -> Result<super::Secret, VaultError> {
    let (label, src) = source::split_vault_id(spec);
    if source::is_prompt(src) {
        let id = label.unwrap_or(default_id);
        return source::from_prompt(id, src == "prompt_ask_vault_pass", confirm);
    }
    source::from_file(std::path::Path::new(src), label, default_id, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_gathered_in_ansibles_order() {
        let cfg = VaultConfig {
            identity_list: vec!["a@/x".into()],
            password_file: Some("/cfg".into()),
            ..VaultConfig::default()
        };
        let args = VaultArgs {
            vault_id: vec!["b@/y".into(), "/z".into()],
            vault_password_file: vec!["/f".into()],
            ask_vault_pass: true,
        };
        assert_eq!(
            args.specs(&cfg, false),
            [
                "a@/x",
                "b@/y",
                "/z",
                "default@/f",
                "default@/cfg",
                "default@prompt_ask_vault_pass"
            ]
        );
        assert!(
            VaultArgs::default()
                .specs(&VaultConfig::default(), false)
                .is_empty()
        );
        assert_eq!(
            VaultArgs::default().specs(&VaultConfig::default(), true),
            ["default@prompt_ask_vault_pass"]
        );
    }

    #[test]
    fn a_failing_source_warns_while_another_works() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("pw");
        std::fs::write(&good, "hunter2\n").unwrap();
        let args = VaultArgs {
            vault_id: vec![format!("dev@{}", d.path().join("missing").display())],
            vault_password_file: vec![good],
            ask_vault_pass: false,
        };
        let mut v = args.keyring(&VaultConfig::default(), false, false).unwrap();
        assert_eq!(v.ids(), ["default"]);
        let w = v.take_warnings();
        assert!(
            w.len() == 1 && w[0].starts_with("Error getting vault password (dev@"),
            "{w:?}"
        );
        let only_bad = VaultArgs {
            vault_password_file: vec![d.path().join("missing")],
            ..VaultArgs::default()
        };
        assert!(
            only_bad
                .keyring(&VaultConfig::default(), false, false)
                .is_err()
        );
    }

    #[test]
    fn settings_parse() {
        let mut c = VaultConfig::default();
        c.set("vault_identity_list", "a@x, b@y", ',').unwrap();
        c.set("vault_id_match", "yes", ',').unwrap();
        assert_eq!(c.identity_list, ["a@x", "b@y"]);
        assert_eq!(c.id_match, Some(true));
        assert!(c.set("vault_id_match", "maybe", ',').is_err());
    }
}
