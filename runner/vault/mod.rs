//! Ansible Vault: decrypt vault files and `!vault` values on the controller, and write vault
//! text byte-compatible with ansible-vault.
//!
//! Why this module exists: most real Ansible repositories keep their secrets in vault files;
//! without reading them windlass cannot run those repositories. [`Vault`] holds the run's
//! secrets (each a vault id and a password) and tries them as ansible-core 2.19's
//! `VaultLib.decrypt_and_get_vault_id` does: the secret whose id the data names first, then
//! the others in the order given (unless `vault_id_match`). Decrypted text stays in memory:
//! nothing here writes plain text to disk.
//!
//! Files: [`envelope`] (the text format), `cipher` (AES256), [`source`] (where passwords
//! come from), [`args`] (the run's vault options), [`command`] (`windlass vault`).

pub mod args;
mod cipher;
pub mod command;
pub mod envelope;
mod error;
pub(crate) mod locked;
pub mod source;

pub use envelope::is_encrypted;
pub use error::VaultError;

use envelope::Envelope;

/// The vault id of secrets given without one (`DEFAULT_VAULT_IDENTITY`), and of 1.1 data.
pub const DEFAULT_ID: &str = "default";

/// The one cipher ansible-vault writes and reads (`CIPHER_ALLOWLIST`).
const CIPHER: &str = "AES256";

/// One vault secret: a vault id and its password.
#[derive(Clone)]
pub struct Secret {
    id: String,
    password: Vec<u8>,
}

impl Secret {
    /// The secret `password` for vault id `id`.
    pub fn new(id: impl Into<String>, password: impl Into<Vec<u8>>) -> Secret {
        Secret {
            id: id.into(),
            password: password.into(),
        }
    }

    /// The vault id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, <hidden>)", self.id)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.password.fill(0);
    }
}

/// The secrets of a run, in the order they were given.
#[derive(Clone, Debug, Default)]
pub struct Vault {
    secrets: Vec<Secret>,
    id_match: bool,
    salt: Option<Vec<u8>>,
    /// Password sources that failed while others worked, until they are reported.
    warnings: Vec<String>,
}

impl Vault {
    /// No secrets: vault data is an error.
    pub fn new() -> Vault {
        Vault::default()
    }

    /// These secrets, tried in this order.
    pub fn with_secrets(secrets: Vec<Secret>) -> Vault {
        Vault {
            secrets,
            ..Vault::default()
        }
    }

    /// `vault_id_match`: only a secret with the data's vault id may decrypt it.
    pub fn id_match(mut self, on: bool) -> Vault {
        self.id_match = on;
        self
    }

    /// `vault_encrypt_salt`: a fixed salt for encryption (reproducible output; ansible-core
    /// uses its bytes as they are). Without it every encryption draws 32 random bytes.
    pub fn encrypt_salt(mut self, salt: Option<Vec<u8>>) -> Vault {
        self.salt = salt.filter(|s| !s.is_empty());
        self
    }

    /// The warnings of gathering the secrets (a source that failed while another worked),
    /// taken once: a run reports them as warning events, `windlass vault` on stderr.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Whether no secret was given.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The secrets' vault ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.secrets.iter().map(Secret::id).collect()
    }

    /// The plain text of vault text `text`, and the id of the secret that opened it.
    pub fn decrypt(&self, text: &str) -> Result<(Vec<u8>, &str), VaultError> {
        // Malformed data is an error whatever the secrets: a load-time error even for an
        // inline value no secret opens (see `locked`).
        let env = Envelope::parse(text)?;
        if env.cipher != CIPHER {
            return Err(VaultError::Cipher(env.cipher));
        }
        if self.secrets.is_empty() {
            return Err(VaultError::NoSecrets);
        }
        let wanted = env.vault_id.as_deref().unwrap_or(DEFAULT_ID);
        let candidates = self.candidates(wanted);
        if candidates.is_empty() {
            return Err(VaultError::UnknownId(wanted.to_string()));
        }
        for s in &candidates {
            if let Some(plain) = cipher::decrypt(&env.sealed, &s.password, &env.salt)? {
                return Ok((plain, &s.id));
            }
        }
        let tried: Vec<String> = candidates.iter().map(|s| format!("`{}`", s.id)).collect();
        Err(VaultError::Decrypt {
            tried: format!("the secret(s) of vault id {}", tried.join(", ")),
        })
    }

    /// The secrets to try for data of vault id `wanted`: its own first, then (without
    /// `vault_id_match`) the others in order.
    fn candidates(&self, wanted: &str) -> Vec<&Secret> {
        let own = self.secrets.iter().filter(|s| s.id == wanted);
        let others = self
            .secrets
            .iter()
            .filter(|s| s.id != wanted && !self.id_match);
        own.chain(others).collect()
    }

    /// Vault text of `plain`, with the first secret, or the first of vault id `id` when
    /// given (`match_encrypt_secret`); the header names that secret's id.
    pub fn encrypt(&self, plain: &[u8], id: Option<&str>) -> Result<String, VaultError> {
        let secret = self.encrypt_secret(id)?;
        self.seal(plain, secret, Some(&secret.id))
    }

    /// Vault text of `plain` with the secret of vault id `secret_id`, the header naming
    /// `label` (`edit` keeps a file's header while the secret that opened it may have
    /// another id).
    pub fn encrypt_labelled(
        &self,
        plain: &[u8],
        secret_id: &str,
        label: Option<&str>,
    ) -> Result<String, VaultError> {
        let secret = self.encrypt_secret(Some(secret_id))?;
        self.seal(plain, secret, label)
    }

    fn seal(
        &self,
        plain: &[u8],
        secret: &Secret,
        label: Option<&str>,
    ) -> Result<String, VaultError> {
        if is_encrypted(plain) {
            return Err(VaultError::AlreadyEncrypted);
        }
        let salt = match &self.salt {
            Some(s) => s.clone(),
            None => random_salt()?,
        };
        let sealed = cipher::encrypt(plain, &secret.password, &salt);
        Ok(Envelope {
            cipher: CIPHER.to_string(),
            vault_id: label.map(str::to_string),
            salt,
            sealed,
        }
        .format())
    }

    fn encrypt_secret(&self, id: Option<&str>) -> Result<&Secret, VaultError> {
        let Some(id) = id else {
            return self.secrets.first().ok_or(VaultError::NoSecrets);
        };
        self.secrets
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| VaultError::NoEncryptSecret {
                wanted: id.to_string(),
                known: self.ids().join(", "),
            })
    }
}

impl Vault {
    /// The bytes of controller file `path`, decrypted when it is vault text (what
    /// copy/template sources get from Ansible's `DataLoader.get_real_file`, but kept in
    /// memory: no decrypted copy is written).
    pub fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>, String> {
        let data =
            std::fs::read(path).map_err(|e| format!("could not read {}: {e}", path.display()))?;
        self.open_bytes(data, path)
    }

    /// `data` read from `path`, decrypted when it is vault text.
    pub fn open_bytes(&self, data: Vec<u8>, path: &std::path::Path) -> Result<Vec<u8>, String> {
        if !is_encrypted(&data) {
            return Ok(data);
        }
        let text = String::from_utf8_lossy(&data);
        self.decrypt(&text)
            .map(|(plain, _)| plain)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// 32 random bytes (`os.urandom(32)`).
fn random_salt() -> Result<Vec<u8>, VaultError> {
    let mut salt = vec![0u8; 32];
    getrandom::fill(&mut salt)
        .map_err(|e| VaultError::Secret(format!("cannot draw a random salt: {e}")))?;
    Ok(salt)
}

#[cfg(test)]
mod tests;
