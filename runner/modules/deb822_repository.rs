//! `ansible.builtin.deb822_repository`: an APT source as a deb822 `.sources` file.
//!
//! Why this module exists: current Debian and Ubuntu describe repositories as deb822
//! stanzas in `/etc/apt/sources.list.d/<name>.sources`, with the signing key by path or
//! inline. The whole file is computed from the parameters (fields in Ansible's order) and
//! written only when it differs; a `signed_by` URL is fetched on the host and kept as
//! `/etc/apt/keyrings/<name>.asc`.

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::params::{Mode, choice, opt_ansible_bool, opt_mode, string_list};
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, cat_file, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `deb822_repository`.
pub struct Deb822Repository;

fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    string_list(d).map(Some)
}

/// Parameters of `deb822_repository`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deb822Params {
    /// The repository's name (`X-Repolib-Name`); the file is named after it. Required.
    pub name: String,
    /// `deb` and/or `deb-src`. Default `deb`.
    #[serde(default, deserialize_with = "opt_list")]
    pub types: Option<Vec<String>>,
    /// Repository URIs.
    #[serde(default, deserialize_with = "opt_list")]
    pub uris: Option<Vec<String>>,
    /// Suites (`bookworm`, or `/` for a flat repository).
    #[serde(default, deserialize_with = "opt_list")]
    pub suites: Option<Vec<String>>,
    /// Components (`main`); none for a flat repository.
    #[serde(default, deserialize_with = "opt_list")]
    pub components: Option<Vec<String>>,
    /// The signing key: a path on the host, an ASCII-armored key (written inline), or a
    /// URL (fetched on the host into `/etc/apt/keyrings/<name>.asc`).
    #[serde(default)]
    pub signed_by: Option<String>,
    /// Architectures to fetch.
    #[serde(default, deserialize_with = "opt_list")]
    pub architectures: Option<Vec<String>>,
    /// Whether the source is used (`Enabled: yes|no`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub enabled: Option<bool>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<Deb822State>,
    /// Permissions of the file. Default `0644`.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Trust the repository without signatures (`Trusted:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub trusted: Option<bool>,
    /// Allow insecure repositories (`Allow-Insecure:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub allow_insecure: Option<bool>,
    /// Allow weak signatures (`Allow-Weak:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub allow_weak: Option<bool>,
    /// Allow downgrading to an unsigned repository (`Allow-Downgrade-To-Insecure:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub allow_downgrade_to_insecure: Option<bool>,
    /// Use by-hash index downloads (`By-Hash:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub by_hash: Option<bool>,
    /// Check the Release file's date (`Check-Date:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub check_date: Option<bool>,
    /// Check the Release file's Valid-Until (`Check-Valid-Until:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub check_valid_until: Option<bool>,
    /// Use index diffs (`PDiffs:`).
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub pdiffs: Option<bool>,
    /// Seconds a Release file may be dated in the future (`Date-Max-Future:`).
    #[serde(default)]
    pub date_max_future: Option<u64>,
    /// Path of the InRelease file (`InRelease-Path:`).
    #[serde(default)]
    pub inrelease_path: Option<String>,
    /// Translations to fetch (`Languages:`).
    #[serde(default, deserialize_with = "opt_list")]
    pub languages: Option<Vec<String>>,
    /// Index targets to fetch (`Targets:`).
    #[serde(default, deserialize_with = "opt_list")]
    pub targets: Option<Vec<String>>,
}

choice! {
    /// `deb822_repository`'s `state` (choices in lib/ansible/modules/deb822_repository.py).
    pub enum Deb822State {
        /// The `.sources` file (and its key file) is written as given. The default.
        Present = "present",
        /// The `.sources` file and its key file are removed.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

/// The file-name slug Ansible derives from `name`.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut dashed = String::new();
    let mut prev_sep = false;
    for c in lower.chars() {
        if c == '_' || c.is_whitespace() {
            if !prev_sep {
                dashed.push('-');
            }
            prev_sep = true;
        } else {
            dashed.push(c);
            prev_sep = false;
        }
    }
    dashed
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .collect()
}

fn yn(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

enum Key {
    None,
    Path(String),
    Inline(String),
    Url(String),
}

fn key_kind(s: &str) -> Key {
    let t = s.trim();
    if t.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
        Key::Inline(t.to_string())
    } else if t.contains("://") {
        Key::Url(t.to_string())
    } else if t.is_empty() {
        Key::None
    } else {
        Key::Path(t.to_string())
    }
}

fn key_file(p: &Deb822Params) -> String {
    format!("/etc/apt/keyrings/{}.asc", slug(&p.name))
}

/// The `.sources` file for `p` (key path already decided).
pub fn render(p: &Deb822Params, signed_by: Option<&str>) -> String {
    let mut out = String::new();
    let mut field = |k: &str, v: String| {
        if v.contains('\n') {
            out.push_str(&format!("{k}:\n"));
            for l in v.lines() {
                if l.trim().is_empty() {
                    out.push_str(" .\n");
                } else {
                    out.push_str(&format!(" {l}\n"));
                }
            }
        } else {
            out.push_str(&format!("{k}: {v}\n"));
        }
    };
    let list = |v: &Option<Vec<String>>| v.as_ref().filter(|l| !l.is_empty()).map(|l| l.join(" "));
    let b = |v: Option<bool>| v.map(|x| yn(x).to_string());
    // Ansible's order: its parameters alphabetically, `name` written as X-Repolib-Name.
    let fields: Vec<(&str, Option<String>)> = vec![
        (
            "Allow-Downgrade-To-Insecure",
            b(p.allow_downgrade_to_insecure),
        ),
        ("Allow-Insecure", b(p.allow_insecure)),
        ("Allow-Weak", b(p.allow_weak)),
        ("Architectures", list(&p.architectures)),
        ("By-Hash", b(p.by_hash)),
        ("Check-Date", b(p.check_date)),
        ("Check-Valid-Until", b(p.check_valid_until)),
        ("Components", list(&p.components)),
        ("Date-Max-Future", p.date_max_future.map(|d| d.to_string())),
        ("Enabled", b(p.enabled)),
        ("InRelease-Path", p.inrelease_path.clone()),
        ("Languages", list(&p.languages)),
        ("X-Repolib-Name", Some(p.name.clone())),
        ("PDiffs", b(p.pdiffs)),
        ("Signed-By", signed_by.map(String::from)),
        ("Suites", list(&p.suites)),
        ("Targets", list(&p.targets)),
        ("Trusted", b(p.trusted)),
        ("Types", list(&p.types).or(Some("deb".into()))),
        ("URIs", list(&p.uris)),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            field(k, v);
        }
    }
    out
}

/// What `deb822_repository` asks: its `.sources` file, its key file, and the key's URL
/// when `signed_by` is one.
pub struct RepoQuery {
    /// The `.sources` file.
    pub dest: String,
    /// The key file.
    pub key_file: String,
    /// The URL to fetch the key from, on the host.
    pub key_url: Option<String>,
}

/// The repository's files as the host has them, and the key fetched from its URL: the
/// `deb822_repository` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoFiles {
    /// The `.sources` file's bytes (`None`: no such regular file).
    pub sources: Option<Vec<u8>>,
    /// The key file's bytes.
    pub key: Option<Vec<u8>>,
    /// The fetched key, base64 as the host sent it.
    pub download: Option<String>,
}

impl Fact for RepoFiles {
    type Query = RepoQuery;

    fn command(q: &RepoQuery) -> RemoteCommand {
        let mut script = cat_file(&q.dest);
        script.push_str(&cat_file(&q.key_file));
        if let Some(u) = &q.key_url {
            let q = quote(u);
            script.push_str(&format!(
                "{}{{ curl -fsSL {q} 2>/dev/null || wget -qO- {q}; }} | base64 -w0; echo; ",
                header("download")
            ));
        }
        script.push_str(&header("end"));
        RemoteCommand::shell(framed(&script))
    }

    fn parse(q: &RepoQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(RepoFiles {
            sources: s.file(&q.dest),
            key: s.file(&q.key_file),
            download: s.text("download").map(str::to_string),
        })
    }
}

impl Planned for Deb822Repository {
    type Params = Deb822Params;
    type Facts = RepoFiles;

    fn name(&self) -> &'static str {
        "ansible.builtin.deb822_repository"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &Deb822Params, _ctx: PlanCtx) -> Result<Probe<RepoFiles>, String> {
        Ok(Probe::fact(RepoQuery {
            dest: format!("/etc/apt/sources.list.d/{}.sources", slug(&p.name)),
            key_file: key_file(p),
            key_url: match p.signed_by.as_deref().map(key_kind) {
                Some(Key::Url(u)) => Some(u),
                _ => None,
            },
        }))
    }

    fn plan(&self, p: &Deb822Params, facts: &RepoFiles, _ctx: PlanCtx) -> Result<Plan, String> {
        let present = p.state != Some(Deb822State::Absent);
        let sl = slug(&p.name);
        if sl.is_empty() {
            return Err(format!("name {:?} gives an empty file name", p.name));
        }
        let mode = match &p.mode {
            None => 0o644,
            Some(Mode::Octal(b)) => *b,
            Some(Mode::Symbolic(s)) => return Err(format!("mode {s:?}: give octal permissions")),
        };
        let dest = format!("/etc/apt/sources.list.d/{sl}.sources");
        let kf = key_file(p);
        let before = facts
            .sources
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let old_key = facts.key.clone();
        let mut plan = Plan::default();
        let mut key_filename = None;
        if present {
            if p.uris.as_ref().is_none_or(|u| u.is_empty()) {
                return Err("uris is required with state=present".into());
            }
            if p.suites.as_ref().is_none_or(|u| u.is_empty()) {
                return Err("suites is required with state=present".into());
            }
            let flat = p.suites.iter().flatten().any(|s| s.ends_with('/'));
            let comps = p.components.as_ref().is_some_and(|c| !c.is_empty());
            if flat && comps {
                return Err("components must be empty when a suite is a path (ends with /)".into());
            }
            if !flat && !comps {
                return Err(
                    "components is required unless the suite is a path (ends with /)".into(),
                );
            }
            let signed_by = match p.signed_by.as_deref().map(key_kind) {
                None | Some(Key::None) => None,
                Some(Key::Path(k)) | Some(Key::Inline(k)) => Some(k),
                Some(Key::Url(u)) => {
                    let raw = facts.download.as_deref().unwrap_or("");
                    let key = base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .unwrap_or_default();
                    if key.is_empty() {
                        return Err(format!("could not fetch the key from {u} on the host"));
                    }
                    if old_key.as_deref() != Some(key.as_slice()) {
                        plan.steps.push(Step::Write {
                            dest: kf.clone(),
                            content: key,
                            mode: Some(0o644),
                            owner: None,
                            group: None,
                        });
                    }
                    key_filename = Some(kf.clone());
                    Some(kf.clone())
                }
            };
            let after = render(p, signed_by.as_deref());
            if before.as_deref() != Some(after.as_str()) {
                plan.steps.push(Step::Write {
                    dest: dest.clone(),
                    content: after.clone().into_bytes(),
                    mode: Some(mode),
                    owner: None,
                    group: None,
                });
                plan.diffs.push(FileDiff {
                    path: dest.clone(),
                    before: before.clone().unwrap_or_default(),
                    after: after.clone(),
                    ..Default::default()
                });
            }
            plan.result.insert("repo".into(), Value::String(after));
        } else {
            for (path, old) in [(&dest, before.map(String::into_bytes)), (&kf, old_key)] {
                if let Some(old) = old {
                    plan.steps.push(Step::Run {
                        cmd: RemoteCommand::argv(["rm", "-f", "--", path.as_str()]),
                    });
                    plan.diffs.push(FileDiff {
                        path: path.clone(),
                        before: String::from_utf8_lossy(&old).into_owned(),
                        after: String::new(),
                        ..Default::default()
                    });
                }
            }
        }
        plan.result.insert("dest".into(), Value::String(dest));
        plan.result.insert(
            "key_filename".into(),
            key_filename.map(Value::String).unwrap_or(Value::Null),
        );
        plan.result.insert(
            "state".into(),
            Value::String(if present { "present" } else { "absent" }.into()),
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{file_section, out, params, plan_of};
    use serde_json::json;

    #[test]
    fn kubernetes_flat_repository_with_key_path() {
        let p: Deb822Params = params(
            json!({"name": "Kubernetes", "uris": "https://pkgs.k8s.io/core:/stable:/v1.30/deb/",
            "suites": "/", "signed_by": "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"}),
        );
        let plan = plan_of(&Deb822Repository, &p, &out("@@end\n"));
        insta::assert_yaml_snapshot!(plan);
        let written = plan.result["repo"].as_str().unwrap().to_string();
        let again = plan_of(
            &Deb822Repository,
            &p,
            &out(&format!(
                "{}@@end\n",
                file_section("/etc/apt/sources.list.d/kubernetes.sources", &written)
            )),
        );
        assert!(!again.is_change());
    }

    #[test]
    fn inline_key_and_options() {
        let p: Deb822Params = params(json!({"name": "my_repo one", "types": ["deb", "deb-src"],
            "uris": ["http://mirror/debian"], "suites": ["bookworm"], "components": "main,contrib",
            "architectures": ["amd64"], "enabled": false,
            "signed_by": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGQ\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"}));
        insta::assert_yaml_snapshot!(plan_of(&Deb822Repository, &p, &out("@@end\n")));
    }

    #[test]
    fn url_key_and_absent() {
        let p: Deb822Params = params(json!({"name": "k", "uris": "https://x/", "suites": "/",
            "signed_by": "https://x/Release.key"}));
        let key = base64::engine::general_purpose::STANDARD.encode("KEY");
        insta::assert_yaml_snapshot!(plan_of(
            &Deb822Repository,
            &p,
            &out(&format!("@@download\n{key}\n@@end\n"))
        ));
        let p: Deb822Params = params(json!({"name": "k", "state": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Deb822Repository,
            &p,
            &out(&format!(
                "{}{}@@end\n",
                file_section("/etc/apt/sources.list.d/k.sources", "Types: deb\n"),
                file_section("/etc/apt/keyrings/k.asc", "KEY")
            ))
        ));
    }

    #[test]
    fn bad_parameters() {
        let p: Deb822Params =
            params(json!({"name": "k", "uris": "https://x/", "suites": "/", "components": "main"}));
        let e = plan_with(&Deb822Repository, &p, &out("@@end\n"), PlanCtx::default()).unwrap_err();
        assert!(e.contains("components must be empty"), "{e}");
        let p: Deb822Params = params(json!({"name": "k", "suites": "/"}));
        let e = plan_with(&Deb822Repository, &p, &out("@@end\n"), PlanCtx::default()).unwrap_err();
        assert_eq!(e, "uris is required with state=present");
    }
}
