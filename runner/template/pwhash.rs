//! The `password_hash` filter: SHA-512/SHA-256 crypt strings (`$6$rounds=…$salt$hash`) as
//! Ansible writes them for the `user` module's `password`.
//!
//! Why this module exists: Ansible 2.19's `password_hash` (`lib/ansible/plugins/filter/
//! core.py`, `get_encrypted_password`) hashes with passlib (`lib/ansible/utils/encrypt.py`,
//! `PasslibHash`), whose default rounds are 656000 (sha512) and 535000 (sha256), written
//! into the string unless they are crypt's implicit 5000. The digest is RustCrypto's
//! `sha-crypt`; only its output encoding (byte transposition, crypt base64) is done here, as
//! in the crate's own MCF encoder. `md5` and `blowfish` are not available.

use base64ct::{Base64ShaCrypt, Encoding};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error};

use super::filters::{err, text};

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("password_hash", password_hash);
}

/// The salt alphabet (passlib's hash64 characters).
const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None)`.
fn password_hash(
    v: &Value,
    hashtype: Option<String>,
    salt: Option<String>,
    kw: Kwargs,
) -> Result<String, Error> {
    let password = text(v)?;
    let hashtype = match hashtype {
        Some(h) => h,
        None => kw
            .get::<Option<String>>("hashtype")?
            .unwrap_or_else(|| "sha512".into()),
    };
    let salt = match salt {
        Some(s) => Some(s),
        None => kw.get::<Option<String>>("salt")?,
    };
    let salt_size: Option<usize> = kw.get("salt_size")?;
    let rounds: Option<u32> = kw.get("rounds")?;
    let _ident: Option<String> = kw.get("ident")?;
    kw.assert_all_used()?;
    let sha512 = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => true,
        "sha256" | "sha256_crypt" => false,
        "md5" | "md5_crypt" | "blowfish" | "bcrypt" => {
            return Err(err(format!(
                "password_hash: the {hashtype:?} algorithm is not available in windlass (use sha512 or sha256)"
            )));
        }
        other => {
            return Err(err(format!(
                "{other} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"
            )));
        }
    };
    let salt = match salt.filter(|s| !s.is_empty()) {
        Some(s) => check_salt(
            s,
            if sha512 {
                "sha512_crypt"
            } else {
                "sha256_crypt"
            },
        )?,
        None => random_salt(salt_size.unwrap_or(16).min(16)),
    };
    let rounds = rounds.unwrap_or(if sha512 { 656_000 } else { 535_000 });
    let params = sha_crypt::Params::new(rounds).map_err(|_| {
        err(format!(
            "Could not hash the secret: rounds {rounds} out of range"
        ))
    })?;
    let (ident, digest) = if sha512 {
        let raw = sha_crypt::sha512_crypt(password.as_bytes(), salt.as_bytes(), params);
        ("6", transpose(&raw, &SHA512_ORDER))
    } else {
        let raw = sha_crypt::sha256_crypt(password.as_bytes(), salt.as_bytes(), params);
        ("5", transpose(&raw, &SHA256_ORDER))
    };
    let rounds_field = if rounds == 5000 {
        String::new()
    } else {
        format!("rounds={rounds}$")
    };
    Ok(format!(
        "${ident}${rounds_field}{salt}${}",
        Base64ShaCrypt::encode_string(&digest)
    ))
}

/// passlib refuses salts outside hash64 or over 16 characters.
fn check_salt(s: String, algo: &str) -> Result<String, Error> {
    if !s.bytes().all(|b| SALT_CHARS.contains(&b)) {
        return Err(err(format!(
            "Could not hash the secret: invalid characters in {algo} salt"
        )));
    }
    if s.len() > 16 {
        return Err(err(format!(
            "Could not hash the secret: salt too large ({algo} requires <= 16 chars)"
        )));
    }
    Ok(s)
}

fn random_salt(len: usize) -> String {
    (0..len)
        .map(|_| {
            let i = (super::corefilters::rand_u64() % SALT_CHARS.len() as u64) as usize;
            SALT_CHARS[i] as char
        })
        .collect()
}

/// The byte order sha-crypt's MCF encoder writes the digest in (the crypt specification).
const SHA512_ORDER: [usize; 64] = [
    42, 21, 0, 1, 43, 22, 23, 2, 44, 45, 24, 3, 4, 46, 25, 26, 5, 47, 48, 27, 6, 7, 49, 28, 29, 8,
    50, 51, 30, 9, 10, 52, 31, 32, 11, 53, 54, 33, 12, 13, 55, 34, 35, 14, 56, 57, 36, 15, 16, 58,
    37, 38, 17, 59, 60, 39, 18, 19, 61, 40, 41, 20, 62, 63,
];

const SHA256_ORDER: [usize; 32] = [
    20, 10, 0, 11, 1, 21, 2, 22, 12, 23, 13, 3, 14, 4, 24, 5, 25, 15, 26, 16, 6, 17, 7, 27, 8, 28,
    18, 29, 19, 9, 30, 31,
];

fn transpose(raw: &[u8], order: &[usize]) -> Vec<u8> {
    order.iter().map(|&i| raw[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_glibc_crypt() {
        // glibc: crypt("password", "$6$saltsalt$") and "$5$saltsalt$" (5000 rounds implicit)
        let p = sha_crypt::Params::new(5000).unwrap();
        let d = transpose(
            &sha_crypt::sha512_crypt(b"password", b"saltsalt", p),
            &SHA512_ORDER,
        );
        assert_eq!(
            Base64ShaCrypt::encode_string(&d),
            "qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"
        );
        let d = transpose(
            &sha_crypt::sha256_crypt(b"password", b"saltsalt", p),
            &SHA256_ORDER,
        );
        assert_eq!(
            Base64ShaCrypt::encode_string(&d),
            "gOjOtoMpVhru2uyjeJSEc/JaLQWOXMNmlOnj6T4AtC."
        );
    }
}
