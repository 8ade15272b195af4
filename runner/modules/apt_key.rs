//! `ansible.builtin.apt_key`: put an OpenPGP key into an APT keyring (or take it out).
//!
//! Why this module exists: third-party repositories (pkgs.k8s.io, Docker) are signed, and
//! their key must be in a keyring APT reads (`/etc/apt/keyrings/<name>.gpg` for
//! `signed-by=`, or `/etc/apt/trusted.gpg.d/`). `apt-key` is gone from current Debian and
//! `gpg` is not on a minimal host, so keys are handled here: armored keys are dearmored on
//! the controller, fingerprints computed from the key packets (RFC 4880 v4), and the
//! keyring written atomically. The probe reads the keyring(s) and, for `file`/`url`, the key.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha1::Digest as _;

use super::params::choice;
use super::plan::{Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, cat_file, cat_glob, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `apt_key`.
pub struct AptKey;

/// Parameters of `apt_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptKeyParams {
    /// The key id (8, 16 or 40 hex digits, `0x` allowed): skip the add when present;
    /// required with `state: absent`.
    #[serde(default)]
    pub id: Option<String>,
    /// The key itself (ASCII-armored or binary text).
    #[serde(default)]
    pub data: Option<String>,
    /// A key file on the host.
    #[serde(default)]
    pub file: Option<String>,
    /// A URL the host fetches the key from (with curl or wget).
    #[serde(default)]
    pub url: Option<String>,
    /// The keyring to write (`/etc/apt/keyrings/kubernetes-apt-keyring.gpg`). Default:
    /// `/etc/apt/trusted.gpg.d/<key id>.gpg`; with `state: absent`, every trusted keyring.
    #[serde(default)]
    pub keyring: Option<String>,
    /// Key servers are not supported (no network lookups); use `url` or `data`.
    #[serde(default)]
    pub keyserver: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<AptKeyState>,
    /// Verify TLS certificates when fetching `url`. Default `true`.
    #[serde(default, deserialize_with = "super::params::opt_ansible_bool")]
    pub validate_certs: Option<bool>,
}

choice! {
    /// `apt_key`'s `state` (choices in lib/ansible/modules/apt_key.py).
    pub enum AptKeyState {
        /// A key with this id (or the given key) is in a keyring. The default.
        Present = "present",
        /// No keyring holds a key with this id.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

/// Turn ASCII armor into the binary packets (what `gpg --dearmor` writes); binary input is
/// returned unchanged.
pub fn dearmor(input: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(input);
    let Some(start) = text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----") else {
        if input.first().is_some_and(|b| b & 0x80 != 0) {
            return Ok(input.to_vec());
        }
        return Err("the key is neither ASCII-armored nor a binary OpenPGP key".into());
    };
    let mut out = Vec::new();
    let mut in_body = false;
    let mut b64 = String::new();
    for line in text[start..].lines().skip(1) {
        let l = line.trim();
        if l.starts_with("-----END PGP PUBLIC KEY BLOCK-----") {
            break;
        }
        if !in_body {
            // Armor headers end with an empty line.
            if l.is_empty() {
                in_body = true;
            } else if !l.contains(':') {
                in_body = true;
                b64.push_str(l);
            }
            continue;
        }
        if l.starts_with('=') && l.len() == 5 {
            continue; // CRC24 checksum
        }
        b64.push_str(l);
    }
    out.extend(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("bad ASCII armor: {e}"))?,
    );
    Ok(out)
}

/// A key's fingerprint and its packets.
type KeyBlock = (String, Vec<u8>);

/// One OpenPGP packet: its tag, the byte range of the whole packet and of its body.
type Packet = (u8, std::ops::Range<usize>, std::ops::Range<usize>);

/// One OpenPGP packet: tag and the byte range of the whole packet.
fn packets(data: &[u8]) -> Result<Vec<Packet>, String> {
    let mut v = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let start = i;
        let b = data[i];
        if b & 0x80 == 0 {
            return Err(format!("not an OpenPGP packet at byte {i}"));
        }
        i += 1;
        let byte = |k: usize| {
            data.get(k)
                .copied()
                .map(usize::from)
                .ok_or("truncated key data")
        };
        let (tag, len) = if b & 0x40 != 0 {
            let o1 = byte(i)?;
            let len = if o1 < 192 {
                i += 1;
                o1
            } else if o1 < 224 {
                let l = ((o1 - 192) << 8) + byte(i + 1)? + 192;
                i += 2;
                l
            } else if o1 == 255 {
                let l = (byte(i + 1)? << 24)
                    | (byte(i + 2)? << 16)
                    | (byte(i + 3)? << 8)
                    | byte(i + 4)?;
                i += 5;
                l
            } else {
                return Err("partial-length packets are not valid in keys".into());
            };
            (b & 0x3f, len)
        } else {
            let len = match b & 3 {
                0 => {
                    i += 1;
                    byte(i - 1)?
                }
                1 => {
                    i += 2;
                    (byte(i - 2)? << 8) | byte(i - 1)?
                }
                2 => {
                    i += 4;
                    (byte(i - 4)? << 24) | (byte(i - 3)? << 16) | (byte(i - 2)? << 8) | byte(i - 1)?
                }
                _ => data.len() - i,
            };
            ((b >> 2) & 0xf, len)
        };
        let end = i
            .checked_add(len)
            .filter(|e| *e <= data.len())
            .ok_or("truncated key data")?;
        v.push((tag, start..end, i..end));
        i = end;
    }
    Ok(v)
}

/// The keys in binary keyring data: `(fingerprint in upper-case hex, packet bytes)`.
pub fn keys(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out: Vec<KeyBlock> = Vec::new();
    for (tag, whole, body) in packets(data)? {
        if tag == 6 {
            let b = &data[body];
            let fp = if b.first() == Some(&4) {
                let mut h = sha1::Sha1::new();
                h.update([0x99, (b.len() >> 8) as u8, b.len() as u8]);
                h.update(b);
                hex::encode_upper(h.finalize())
            } else {
                let mut h = sha2::Sha256::new();
                h.update([0x9a]);
                h.update((b.len() as u32).to_be_bytes());
                h.update(b);
                hex::encode_upper(h.finalize())
            };
            out.push((fp, data[whole].to_vec()));
        } else if let Some(last) = out.last_mut() {
            last.1.extend_from_slice(&data[whole]);
        }
    }
    Ok(out)
}

fn norm_id(id: &str) -> Result<String, String> {
    let t = id.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if ![8, 16, 40, 64].contains(&t.len()) || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("key id {id:?} must be 8, 16 or 40 hex digits"));
    }
    Ok(t.to_uppercase())
}

fn matches(fp: &str, id: &str) -> bool {
    fp.ends_with(id)
}

/// The keys apt trusts (in `keyring`, else the legacy keyrings) and the key a task
/// fetches on the host (`file`, `url`): the `apt_key` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keyrings {
    /// Each keyring file and the key blocks it holds (none when it cannot be read).
    pub rings: Vec<(String, Vec<KeyBlock>)>,
    /// The fetched key, base64 as the host sent it (empty when it could not be read).
    pub keyfile: Option<String>,
}

impl Keyrings {
    /// The probe: the keyrings' files, then the key `file`/`url` gives, base64.
    fn command(p: &AptKeyParams) -> RemoteCommand {
        let mut script = String::new();
        match &p.keyring {
            Some(k) => script.push_str(&cat_file(k)),
            None => {
                script.push_str(&cat_file("/etc/apt/trusted.gpg"));
                script.push_str(&cat_glob("/etc/apt/trusted.gpg.d/*.gpg"));
            }
        }
        if let Some(f) = &p.file {
            script.push_str(&format!(
                "{}base64 -w0 {}; echo; ",
                header("keyfile"),
                quote(f)
            ));
        }
        if let Some(u) = &p.url {
            let q = quote(u);
            let insecure = if p.validate_certs == Some(false) {
                " -k"
            } else {
                ""
            };
            script.push_str(&format!(
            "{}{{ curl -fsSL{insecure} {q} 2>/dev/null || wget -qO- {q}; }} | base64 -w0; echo; ",
            header("keyfile")
        ));
        }
        script.push_str(&header("end"));
        RemoteCommand::shell(framed(&script))
    }

    /// The probe's reply.
    fn parse(out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let rings = s
            .files()
            .into_iter()
            .map(|(path, bytes)| {
                let k = dearmor(&bytes).and_then(|b| keys(&b)).unwrap_or_default();
                (path, k)
            })
            .collect();
        Ok(Keyrings {
            rings,
            keyfile: s.text("keyfile").map(str::to_string),
        })
    }
}

impl Planned for AptKey {
    type Params = AptKeyParams;
    type Facts = Keyrings;

    fn name(&self) -> &'static str {
        "ansible.builtin.apt_key"
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[&["data", "file", "url", "keyserver"]]
    }

    fn probe(&self, p: &AptKeyParams, _ctx: PlanCtx) -> Result<Probe<Keyrings>, String> {
        if p.keyserver.is_some() {
            return Err(
                "keyserver lookups are not supported; give the key with url, data or file".into(),
            );
        }
        Ok(Probe::ask(Keyrings::command(p), Keyrings::parse))
    }

    fn plan(&self, p: &AptKeyParams, facts: &Keyrings, _ctx: PlanCtx) -> Result<Plan, String> {
        let present = p.state != Some(AptKeyState::Absent);
        let id = p.id.as_deref().map(norm_id).transpose()?;
        let rings = &facts.rings;
        let mut plan = Plan::default();
        if !present {
            let id = id.ok_or("id is required with state=absent")?;
            for (path, ks) in rings {
                if !ks.iter().any(|(fp, _)| matches(fp, &id)) {
                    continue;
                }
                let rest: Vec<u8> = ks
                    .iter()
                    .filter(|(fp, _)| !matches(fp, &id))
                    .flat_map(|(_, b)| b.clone())
                    .collect();
                if rest.is_empty() {
                    plan.steps.push(Step::Run {
                        cmd: RemoteCommand::argv(["rm", "-f", "--", path.as_str()]),
                    });
                } else {
                    plan.steps.push(Step::Write {
                        dest: path.clone(),
                        content: rest,
                        mode: None,
                        owner: None,
                        group: None,
                    });
                }
            }
            plan.result.insert("id".into(), Value::String(id));
            return Ok(plan);
        }
        let have = |want: &str| {
            rings
                .iter()
                .any(|(_, ks)| ks.iter().any(|(fp, _)| matches(fp, want)))
        };
        if let Some(i) = &id {
            if have(i) {
                plan.result.insert("id".into(), Value::String(i.clone()));
                return Ok(plan);
            }
        }
        let material: Vec<u8> = match (&p.data, facts.keyfile.as_deref()) {
            (Some(d), _) => d.as_bytes().to_vec(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("could not read the key: {e}"))?,
            (None, None) => return Err("one of data, file or url is required to add a key".into()),
        };
        if material.is_empty() {
            return Err(match (&p.file, &p.url) {
                (Some(f), _) => format!("could not read the key file {f}"),
                (_, Some(u)) => format!("could not fetch the key from {u} on the host"),
                _ => "the key data is empty".into(),
            });
        }
        let bin = dearmor(&material)?;
        let new_keys = keys(&bin)?;
        let Some((fp, _)) = new_keys.first() else {
            return Err("the key data holds no public key".into());
        };
        if let Some(i) = &id {
            if !new_keys.iter().any(|(f, _)| matches(f, i)) {
                return Err(format!(
                    "the key given does not have the id {i} (it is {fp})"
                ));
            }
        }
        let fp = fp.clone();
        let target = p
            .keyring
            .clone()
            .unwrap_or_else(|| format!("/etc/apt/trusted.gpg.d/{}.gpg", &fp[fp.len() - 16..]));
        let existing = rings.iter().find(|(path, _)| *path == target);
        let missing: Vec<&(String, Vec<u8>)> = new_keys
            .iter()
            .filter(|(f, _)| !existing.is_some_and(|(_, ks)| ks.iter().any(|(e, _)| e == f)))
            .collect();
        if !missing.is_empty() {
            let content = if target.ends_with(".asc") {
                if existing.is_some() || !String::from_utf8_lossy(&material).contains("-----BEGIN")
                {
                    return Err(format!(
                        "{target}: an .asc keyring takes one ASCII-armored key; use a .gpg keyring"
                    ));
                }
                material.clone()
            } else {
                let mut c: Vec<u8> = existing
                    .map(|(_, ks)| ks.iter().flat_map(|(_, b)| b.clone()).collect())
                    .unwrap_or_default();
                for (_, b) in &missing {
                    c.extend_from_slice(b);
                }
                c
            };
            plan.steps.push(Step::Write {
                dest: target.clone(),
                content,
                mode: Some(0o644),
                owner: None,
                group: None,
            });
        }
        plan.result.insert("fp".into(), Value::String(fp.clone()));
        plan.result.insert(
            "key_id".into(),
            Value::String(fp[fp.len() - 16..].to_string()),
        );
        plan.result.insert(
            "short_id".into(),
            Value::String(fp[fp.len() - 8..].to_string()),
        );
        plan.result.insert(
            "id".into(),
            Value::String(id.unwrap_or_else(|| fp[fp.len() - 16..].to_string())),
        );
        plan.result.insert("keyring".into(), Value::String(target));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{file_section, out, params, plan_of};
    use crate::modules::sysprobe::testutil::{plan_with, probe_of};
    use serde_json::json;

    /// A v4 public-key packet (Ed25519, fixed key material) plus a user id packet.
    fn test_key() -> Vec<u8> {
        let mut body = vec![4, 0x60, 0, 0, 0, 22, 9];
        body.extend([0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01]);
        body.extend([0x01, 0x07, 0x40]);
        body.extend([7u8; 32]);
        let mut k = vec![0x98, body.len() as u8];
        k.extend(&body);
        let uid = b"windlass test <t@example.invalid>";
        k.extend([0xb4, uid.len() as u8]);
        k.extend(uid);
        k
    }

    fn armored(bin: &[u8]) -> String {
        format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{}\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
            base64::engine::general_purpose::STANDARD.encode(bin)
        )
    }

    fn fp() -> String {
        keys(&test_key()).unwrap()[0].0.clone()
    }

    #[test]
    fn fingerprint_is_sha1_of_the_key_packet() {
        let k = test_key();
        let mut h = sha1::Sha1::new();
        h.update([0x99, 0, 51]);
        h.update(&k[2..53]);
        assert_eq!(fp(), hex::encode_upper(h.finalize()));
        assert_eq!(dearmor(armored(&k).as_bytes()).unwrap(), k);
    }

    #[test]
    fn kubernetes_keyring_from_armored_data() {
        let p: AptKeyParams = params(json!({"data": armored(&test_key()),
            "keyring": "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"}));
        let plan = plan_of(&AptKey, &p, &out("@@end\n"));
        insta::assert_yaml_snapshot!(plan);
        // Same key already in the keyring: no change (the section carries binary bytes).
        let facts = out(&format!(
            "{}@@end\n",
            file_section("/etc/apt/keyrings/kubernetes-apt-keyring.gpg", test_key())
        ));
        assert!(!plan_of(&AptKey, &p, &facts).is_change());
    }

    #[test]
    fn id_present_skips_and_absent_removes() {
        let short = fp()[32..].to_string();
        let facts = out(&format!(
            "{}@@end\n",
            file_section("/etc/apt/trusted.gpg.d/x.gpg", test_key())
        ));
        let p: AptKeyParams = params(json!({"id": format!("0x{short}"), "url": "https://x/key"}));
        assert!(!plan_of(&AptKey, &p, &facts).is_change());
        let p: AptKeyParams = params(json!({"id": short, "state": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(&AptKey, &p, &facts));
    }

    /// A keyring path (a variable) with newlines and header-like lines: the real probe
    /// still sends that file, and the plan finds the key in it by the path it sent.
    #[test]
    fn keyring_path_with_header_lines_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k\n@@end\n@@file x.gpg");
        std::fs::write(&k, test_key()).unwrap();
        let p: AptKeyParams =
            params(json!({"data": armored(&test_key()), "keyring": k.display().to_string()}));
        let probe = probe_of(&AptKey, &p).unwrap();
        let out = crate::transport::local::LocalTransport::exec_blocking(&probe);
        let plan = plan_with(&AptKey, &p, &out, PlanCtx::default()).unwrap();
        assert!(!plan.is_change(), "the key is in that keyring: {plan:?}");
    }

    /// Real keyrings on this machine against gpg's own fingerprints (skipped without gpg).
    #[test]
    fn fingerprints_agree_with_gpg() {
        let mut checked = 0;
        for path in [
            "/usr/share/keyrings/debian-archive-keyring.gpg",
            "/etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc",
        ] {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let Ok(out) = std::process::Command::new("gpg")
                .args(["--show-keys", "--with-colons", path])
                .output()
            else {
                continue;
            };
            let text = String::from_utf8_lossy(&out.stdout);
            let mut want = Vec::new();
            let mut after_pub = false;
            for l in text.lines() {
                if l.starts_with("pub:") {
                    after_pub = true;
                } else if after_pub && l.starts_with("fpr:") {
                    want.push(l.split(':').nth(9).unwrap_or("").to_string());
                    after_pub = false;
                }
            }
            let got: Vec<String> = keys(&dearmor(&bytes).unwrap())
                .unwrap()
                .into_iter()
                .map(|(f, _)| f)
                .collect();
            assert_eq!(got, want, "{path}");
            checked += 1;
        }
        eprintln!("checked {checked} keyrings against gpg");
    }

    #[test]
    fn bad_input() {
        let p: AptKeyParams = params(json!({"data": "not a key"}));
        let e = plan_with(&AptKey, &p, &out("@@end\n"), PlanCtx::default()).unwrap_err();
        assert!(e.contains("neither ASCII-armored"), "{e}");
        let p: AptKeyParams = params(json!({"id": "ABCDEF01", "data": armored(&test_key())}));
        let e = plan_with(&AptKey, &p, &out("@@end\n"), PlanCtx::default()).unwrap_err();
        assert!(e.contains("does not have the id"), "{e}");
        let p: AptKeyParams = params(json!({"state": "absent"}));
        let e = plan_with(&AptKey, &p, &out("@@end\n"), PlanCtx::default()).unwrap_err();
        assert_eq!(e, "id is required with state=absent");
    }
}
