//! ansible-vault's one cipher, `AES256`: PBKDF2-HMAC-SHA256 key derivation, AES-256-CTR
//! over PKCS#7-padded plain text, HMAC-SHA256 over the cipher text.
//!
//! Why this file exists: byte compatibility with ansible-vault is the whole point, so the
//! scheme is spelled out once, step by step as `VaultAES256` does it
//! (ansible-core 2.19, lib/ansible/parsing/vault/__init__.py: `_gen_key_initctr`,
//! `_encrypt_cryptography`, `_decrypt_cryptography`). The primitives are RustCrypto's.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::error::VaultError;

/// PBKDF2 rounds (`iterations=10000`).
const ROUNDS: u32 = 10_000;
/// AES-256 key length; the derived material is two keys and one counter block.
const KEY_LEN: usize = 32;
/// AES block length: the initial counter and the PKCS#7 block size.
const BLOCK: usize = 16;

/// AES in CTR mode with a 128-bit big-endian counter, as `cryptography`'s `modes.CTR`.
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// The three secrets derived from a password and a salt.
struct Keys {
    /// The AES key.
    cipher: [u8; KEY_LEN],
    /// The HMAC key.
    mac: [u8; KEY_LEN],
    /// The initial counter block.
    iv: [u8; BLOCK],
}

/// What encryption yields besides the salt: the HMAC and the cipher text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// HMAC-SHA256 of `ciphertext` under the derived HMAC key.
    pub hmac: Vec<u8>,
    /// The encrypted, padded plain text.
    pub ciphertext: Vec<u8>,
}

/// `_gen_key_initctr`: 80 bytes of PBKDF2 output split into key1 | key2 | iv.
fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut material = [0u8; 2 * KEY_LEN + BLOCK];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, &mut material);
    let mut keys = Keys {
        cipher: [0; KEY_LEN],
        mac: [0; KEY_LEN],
        iv: [0; BLOCK],
    };
    keys.cipher.copy_from_slice(&material[..KEY_LEN]);
    keys.mac.copy_from_slice(&material[KEY_LEN..2 * KEY_LEN]);
    keys.iv.copy_from_slice(&material[2 * KEY_LEN..]);
    material.fill(0);
    keys
}

fn keystream(keys: &Keys, data: &mut [u8]) {
    let mut c = Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into());
    c.apply_keystream(data);
}

fn mac(keys: &Keys) -> Hmac<Sha256> {
    // An HMAC key may have any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(&keys.mac).expect("HMAC takes any key length")
}

/// Encrypt `plain` under `password` with `salt`.
pub(crate) fn encrypt(plain: &[u8], password: &[u8], salt: &[u8]) -> Sealed {
    let keys = derive(password, salt);
    let pad = BLOCK - plain.len() % BLOCK;
    let mut data = Vec::with_capacity(plain.len() + pad);
    data.extend_from_slice(plain);
    data.resize(plain.len() + pad, pad as u8);
    keystream(&keys, &mut data);
    let mut m = mac(&keys);
    m.update(&data);
    Sealed {
        hmac: m.finalize().into_bytes().to_vec(),
        ciphertext: data,
    }
}

/// Decrypt `sealed` under `password` with `salt`. `Ok(None)` when the HMAC does not match
/// (wrong password or tampered data: the next secret may be tried); an error when the HMAC
/// matches but the padding is broken.
pub(crate) fn decrypt(
    sealed: &Sealed,
    password: &[u8],
    salt: &[u8],
) -> Result<Option<Vec<u8>>, VaultError> {
    let keys = derive(password, salt);
    let mut m = mac(&keys);
    m.update(&sealed.ciphertext);
    // `verify_slice` compares in constant time (the `subtle` crate).
    if m.verify_slice(&sealed.hmac).is_err() {
        return Ok(None);
    }
    let mut data = sealed.ciphertext.clone();
    keystream(&keys, &mut data);
    unpad(data).map(Some)
}

/// Strip PKCS#7 padding (`padding.PKCS7(128).unpadder()`).
fn unpad(mut data: Vec<u8>) -> Result<Vec<u8>, VaultError> {
    let bad = || VaultError::Format("the decrypted data has invalid padding".into());
    let n = *data.last().ok_or_else(bad)? as usize;
    if n == 0 || n > BLOCK || n > data.len() || data.len() % BLOCK != 0 {
        return Err(bad());
    }
    if !data[data.len() - n..].iter().all(|b| *b as usize == n) {
        return Err(bad());
    }
    data.truncate(data.len() - n);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_pads_to_whole_blocks() {
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = vec![b'x'; len];
            let sealed = encrypt(&plain, b"pw", b"salt");
            assert_eq!(sealed.ciphertext.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt(&sealed, b"pw", b"salt"), Ok(Some(plain)));
        }
    }

    #[test]
    fn wrong_password_or_tampered_data_do_not_verify() {
        let sealed = encrypt(b"secret", b"pw", b"salt");
        assert_eq!(decrypt(&sealed, b"other", b"salt"), Ok(None));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(decrypt(&tampered, b"pw", b"salt"), Ok(None));
        let mut tampered = sealed;
        tampered.hmac[31] ^= 1;
        assert_eq!(decrypt(&tampered, b"pw", b"salt"), Ok(None));
    }

    #[test]
    fn broken_padding_is_a_format_error() {
        assert!(unpad(vec![0; 16]).is_err());
        assert!(unpad(vec![17; 16]).is_err());
        assert!(unpad(vec![]).is_err());
        assert_eq!(
            unpad(vec![b'a', 1]),
            Err(VaultError::Format(
                "the decrypted data has invalid padding".into()
            ))
        );
        let mut v = vec![b'a'; 14];
        v.extend([2, 2]);
        assert_eq!(unpad(v), Ok(vec![b'a'; 14]));
    }
}
