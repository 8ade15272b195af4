//! The vault envelope: `$ANSIBLE_VAULT;1.1;AES256` (or `;1.2;AES256;label`) and the
//! payload, hexlified twice, in lines of 80 characters.
//!
//! Why this file exists: the text format is separate from the cipher, as in ansible-core
//! 2.19 (lib/ansible/parsing/vault/__init__.py: `parse_vaulttext_envelope`,
//! `format_vaulttext_envelope`, `parse_vaulttext`, `VaultAES256.encrypt`). The payload is
//! `hex(hex(salt) "\n" hex(hmac) "\n" hex(ciphertext))`.

use super::cipher::Sealed;
use super::error::VaultError;

/// What every vault text starts with (`b_HEADER`).
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// Width of the payload lines.
const WIDTH: usize = 80;

/// One parsed vault text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The cipher name from the header (`AES256`).
    pub cipher: String,
    /// The vault id of a 1.2 header.
    pub vault_id: Option<String>,
    /// The PBKDF2 salt.
    pub salt: Vec<u8>,
    /// The HMAC and the cipher text.
    pub sealed: Sealed,
}

/// Whether `data` is vault text (`is_encrypted`: it starts with the header).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes())
}

impl Envelope {
    /// Parse vault text as `_parse_vaulttext_envelope` and `_parse_vaulttext` do.
    pub fn parse(text: &str) -> Result<Envelope, VaultError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.len() < 3 || fields[0] != HEADER {
            return Err(VaultError::Format(format!(
                "the header `{header}` is not `{HEADER};VERSION;CIPHER[;VAULT_ID]`"
            )));
        }
        let payload: String = lines.collect();
        let inner = unhex(&payload, "payload")?;
        let mut parts = inner.splitn(3, |b| *b == b'\n');
        let (Some(salt), Some(hmac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Format(
                "the payload does not hold salt, HMAC and cipher text".into(),
            ));
        };
        Ok(Envelope {
            cipher: fields[2].to_string(),
            vault_id: fields.get(3).map(|s| s.to_string()),
            salt: unhex_bytes(salt, "salt")?,
            sealed: Sealed {
                hmac: unhex_bytes(hmac, "HMAC")?,
                ciphertext: unhex_bytes(ciphertext, "cipher text")?,
            },
        })
    }

    /// The vault text, as `format_vaulttext_envelope` writes it: version 1.2 with the id
    /// when there is one other than `default`, else 1.1; a newline after the last line.
    pub fn format(&self) -> String {
        let inner = [
            hex::encode(&self.salt),
            hex::encode(&self.sealed.hmac),
            hex::encode(&self.sealed.ciphertext),
        ]
        .join("\n");
        let payload = hex::encode(inner);
        let mut out = match self.vault_id.as_deref() {
            Some(id) if !id.is_empty() && id != super::DEFAULT_ID => {
                format!("{HEADER};1.2;{};{id}\n", self.cipher)
            }
            _ => format!("{HEADER};1.1;{}\n", self.cipher),
        };
        for chunk in payload.as_bytes().chunks(WIDTH) {
            // Hex digits are ASCII: every chunk is valid UTF-8.
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

fn unhex(s: &str, what: &str) -> Result<Vec<u8>, VaultError> {
    unhex_bytes(s.as_bytes(), what)
}

fn unhex_bytes(s: &[u8], what: &str) -> Result<Vec<u8>, VaultError> {
    hex::decode(s).map_err(|e| VaultError::Format(format!("the {what} is not hexadecimal: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: Option<&str>) -> Envelope {
        Envelope {
            cipher: "AES256".into(),
            vault_id: id.map(str::to_string),
            salt: vec![1; 32],
            sealed: Sealed {
                hmac: vec![2; 32],
                ciphertext: vec![3; 48],
            },
        }
    }

    #[test]
    fn formats_80_columns_and_round_trips() {
        let text = sample(None).format();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(text.ends_with('\n'));
        assert!(text.lines().skip(1).all(|l| l.len() <= 80));
        assert!(text.lines().nth(1).is_some_and(|l| l.len() == 80));
        assert_eq!(Envelope::parse(&text), Ok(sample(None)));
    }

    #[test]
    fn a_label_makes_version_1_2_except_default() {
        let text = sample(Some("prod")).format();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert_eq!(Envelope::parse(&text), Ok(sample(Some("prod"))));
        assert!(
            sample(Some("default"))
                .format()
                .starts_with("$ANSIBLE_VAULT;1.1;AES256\n")
        );
    }

    #[test]
    fn malformed_envelopes_are_format_errors() {
        for bad in [
            "",
            "$ANSIBLE_VAULT\nabcd",
            "$ANSIBLE_VAULT;1.1;AES256\nzz",
            "$ANSIBLE_VAULT;1.1;AES256\n6162",
            "NOT_VAULT;1.1;AES256\n",
        ] {
            assert!(
                matches!(Envelope::parse(bad), Err(VaultError::Format(_))),
                "{bad:?}"
            );
        }
    }
}
