//! The keyring against vault text made by ansible-vault 2.19 (from the conformance venv):
//! `ansible-vault encrypt --vault-password-file pw` (password `hunter2`) and
//! `--vault-id prod@pw2` (password `s3cret`) of [`PLAIN`], and `encrypt_string 'x'` with
//! `ANSIBLE_VAULT_ENCRYPT_SALT=fixedsalt`.

use super::*;

const PLAIN: &str = "db_password: swordfish\nline2: \"x\"\n";

const V11: &str = "\
$ANSIBLE_VAULT;1.1;AES256\n\
39633131616533623236666633343339313430306563396331356231333635396561303130663739\n\
3438626439356539306365653431353537653837363431660a653863383963626535656334366365\n\
31653961353132336630643065366631356133363165313164366563386338353331643461613532\n\
6135653830313437650a353262333433663634363839303938356631653965353666363830373737\n\
35666134613939326638636332373732336131393464306236363435303131313738336661373635\n\
3562306561626166613734366633303135666133303565366433\n\
";

const V12: &str = "\
$ANSIBLE_VAULT;1.2;AES256;prod\n\
62663330643132643838326261633938343264356532623265343735646666613339353832306234\n\
3965613862313737646161613733303735653933633032380a643633396363356564376336323037\n\
31313765383261333265636262303738623330613232373031623930313061363736316631356561\n\
6436636165336138310a343239666230303533323230633735633232663738393035623264316534\n\
63633834366433653138373761633165636330666639323464396562656466383835353232373034\n\
3666623463336536356235336233393630346634666265653132\n\
";

/// `ANSIBLE_VAULT_ENCRYPT_SALT=fixedsalt ansible-vault encrypt_string --vault-password-file
/// pw 'x'`, unindented.
const SALTED_X: &str = "\
$ANSIBLE_VAULT;1.1;AES256\n\
3636363937383635363437333631366337340a656637323835626338326462663038653135616535\n\
37323930313630323639646533616265343539363231303162323338363235623230343230626330\n\
3466340a3938346662313835326265343439313134353832326664353630633738616364\n\
";

fn keyring() -> Vault {
    Vault::with_secrets(vec![
        Secret::new("default", "hunter2"),
        Secret::new("prod", "s3cret"),
    ])
}

#[test]
fn opens_ansible_vault_1_1_and_1_2_text() {
    let v = keyring();
    assert_eq!(v.decrypt(V11), Ok((PLAIN.as_bytes().to_vec(), "default")));
    assert_eq!(v.decrypt(V12), Ok((PLAIN.as_bytes().to_vec(), "prod")));
}

#[test]
fn without_the_label_every_secret_is_tried_in_order() {
    let v = Vault::with_secrets(vec![Secret::new("a", "nope"), Secret::new("b", "s3cret")]);
    assert_eq!(v.decrypt(V12), Ok((PLAIN.as_bytes().to_vec(), "b")));
    let strict = v.clone().id_match(true);
    assert_eq!(
        strict.decrypt(V12),
        Err(VaultError::UnknownId("prod".into()))
    );
}

#[test]
fn wrong_password_tampering_and_no_secret_are_told_apart() {
    let wrong = Vault::with_secrets(vec![Secret::new("prod", "bad")]);
    assert!(matches!(
        wrong.decrypt(V12),
        Err(VaultError::Decrypt { .. })
    ));
    let tampered = V11.replacen("39633131", "39633130", 1);
    assert!(matches!(
        keyring().decrypt(&tampered),
        Err(VaultError::Decrypt { .. })
    ));
    assert_eq!(Vault::new().decrypt(V11), Err(VaultError::NoSecrets));
    let bad = V11.replacen("AES256", "AES", 1);
    assert_eq!(
        keyring().decrypt(&bad),
        Err(VaultError::Cipher("AES".into()))
    );
}

#[test]
fn a_fixed_salt_writes_exactly_what_ansible_vault_writes() {
    let v = Vault::with_secrets(vec![Secret::new("default", "hunter2")])
        .encrypt_salt(Some(b"fixedsalt".to_vec()));
    assert_eq!(v.encrypt(b"x", None).as_deref(), Ok(SALTED_X));
}

#[test]
fn encrypting_names_the_secret_used_and_round_trips() {
    let v = keyring();
    let text = v.encrypt(b"hello", Some("prod")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    assert_eq!(v.decrypt(&text), Ok((b"hello".to_vec(), "prod")));
    assert!(
        v.encrypt(b"hello", None)
            .unwrap()
            .starts_with("$ANSIBLE_VAULT;1.1;AES256\n")
    );
    assert!(matches!(
        v.encrypt(b"x", Some("dev")),
        Err(VaultError::NoEncryptSecret { .. })
    ));
    assert_eq!(
        v.encrypt(V11.as_bytes(), None),
        Err(VaultError::AlreadyEncrypted)
    );
}

#[test]
fn the_debug_form_hides_passwords() {
    assert!(!format!("{:?}", keyring()).contains("hunter2"));
}
