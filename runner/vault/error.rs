//! What can go wrong with vault data or vault secrets.
//!
//! Why this file exists: a vault failure must say which of the few possible causes it is
//! (no secret, wrong password, tampered data, malformed envelope, unreadable password
//! source) so the user knows what to fix; the loaders add the file:line:col.

use thiserror::Error;

/// A vault failure.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// Encrypted data was found but no vault secret was given.
    #[error(
        "found vault-encrypted data but no vault secret was given (--vault-password-file, --vault-id or --ask-vault-pass)"
    )]
    NoSecrets,
    /// No secret decrypted the data: a wrong password, or a tampered HMAC, which cannot be
    /// told apart (ansible-vault: "no vault secrets were found that could decrypt").
    #[error(
        "decryption failed: the HMAC of the vault data does not match with {tried} (wrong password, or tampered data)"
    )]
    Decrypt {
        /// The vault ids of the secrets tried, for the message.
        tried: String,
    },
    /// The data names a vault id no secret has, and `vault_id_match` forbids trying others.
    #[error(
        "the vault data is for vault id `{0}`, and no secret was given for it (vault_id_match is on)"
    )]
    UnknownId(String),
    /// To encrypt, `--encrypt-vault-id` named an id no secret has.
    #[error("no vault secret has the vault id `{wanted}` (known: {known})")]
    NoEncryptSecret {
        /// The id asked for.
        wanted: String,
        /// The ids known.
        known: String,
    },
    /// The data is not a well-formed vault envelope.
    #[error("malformed vault data: {0}")]
    Format(String),
    /// The header names a cipher ansible-vault does not have.
    #[error("unknown vault cipher `{0}` (ansible-vault knows AES256)")]
    Cipher(String),
    /// Plain text was asked to be encrypted twice.
    #[error("input is already vault-encrypted")]
    AlreadyEncrypted,
    /// A password source (file, script, prompt) failed.
    #[error("{0}")]
    Secret(String),
}

impl From<VaultError> for crate::error::Error {
    fn from(e: VaultError) -> Self {
        crate::error::Error::Vault(e.to_string())
    }
}
