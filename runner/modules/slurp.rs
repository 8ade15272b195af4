//! `ansible.builtin.slurp`: read a file from the host, base64-encoded (read-only).
//!
//! Why this module exists: playbooks fetch small remote files into variables (certificates,
//! join tokens, kubeconfigs) with `slurp` and `b64decode`. The probe cats the file after the
//! record that introduces them (see [`super::reply`]), so the bytes arrive unchanged;
//! encoding happens on the controller.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fileops::{self, CONTENT_MARK, Kind};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::reply;
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// Parameters of `slurp`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurpParams {
    /// The file to read on the host (alias `path`). Required.
    #[serde(alias = "path")]
    pub src: String,
}

/// `ansible.builtin.slurp`.
pub struct Slurp;

#[async_trait::async_trait]
impl Planned for Slurp {
    type Params = SlurpParams;
    type Facts = Slurped;

    fn name(&self) -> &'static str {
        "ansible.builtin.slurp"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["src", "path"]
    }

    fn probe(&self, p: &SlurpParams, _ctx: PlanCtx) -> Result<Probe<Slurped>, String> {
        fileops::check_path("src", &p.src)?;
        Ok(Probe::fact(p.src.clone()))
    }

    fn plan(&self, p: &SlurpParams, facts: &Slurped, ctx: PlanCtx) -> Result<Plan, String> {
        match facts.kind {
            // Check mode after an earlier planned change: the file may be what that change
            // creates (a certificate issued a few tasks before). Read it as empty, and say so.
            Kind::Absent if ctx.check && ctx.changed_before => {
                let mut r = Map::new();
                r.insert("content".into(), Value::String(String::new()));
                r.insert("source".into(), Value::String(p.src.clone()));
                r.insert("encoding".into(), Value::String("base64".into()));
                r.insert(
                    "msg".into(),
                    Value::String(format!(
                        "{} does not exist yet: read as empty, as an earlier task of this \
                         check run may create it",
                        p.src
                    )),
                );
                return Ok(Plan::unchanged(r));
            }
            Kind::Absent => return Err(format!("file not found: {}", p.src)),
            Kind::Directory => {
                return Err(format!(
                    "source is a directory and must be a file: {}",
                    p.src
                ));
            }
            _ if facts.unreadable => {
                return Err(format!("file is not readable: {}", p.src));
            }
            _ => {}
        }
        let data = facts.content.as_deref().unwrap_or_default();
        let mut r = Map::new();
        r.insert(
            "content".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(data)),
        );
        r.insert("source".into(), Value::String(p.src.clone()));
        r.insert("encoding".into(), Value::String("base64".into()));
        Ok(Plan::unchanged(r))
    }
}

/// A file read whole (links followed): the `slurp` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slurped {
    /// What is at the path (never [`Kind::Link`]: links are followed).
    pub kind: Kind,
    /// It is there but cannot be read.
    pub unreadable: bool,
    /// The content: a readable file has one, even empty; nothing else has any.
    pub content: Option<Vec<u8>>,
}

impl Fact for Slurped {
    /// The path.
    type Query = String;

    fn command(src: &String) -> RemoteCommand {
        RemoteCommand::shell(format!(
            "p={}; if [ -d \"$p\" ]; then printf 'kind=directory\\0'; elif [ ! -e \"$p\" ]; then printf 'kind=absent\\0'; \
             elif [ ! -r \"$p\" ]; then printf 'kind=other\\0unreadable=1\\0'; \
             else printf 'kind=file\\0%s\\0' {CONTENT_MARK}; cat -- \"$p\"; fi",
            quote(src)
        ))
    }

    fn parse(_src: &String, out: &ExecOutput) -> Result<Self, String> {
        let (kind, unreadable, content) = parse(out)?;
        Ok(Slurped {
            kind,
            unreadable,
            content,
        })
    }
}

/// The probe's reply: the kind of `src`, whether it is unreadable, and its content (a
/// readable file has content, even empty; nothing else has any).
fn parse(out: &ExecOutput) -> Result<(Kind, bool, Option<Vec<u8>>), String> {
    if out.rc != 0 {
        return Err(format!(
            "reading the file failed (rc {}): {}",
            out.rc,
            out.stderr_str()
        ));
    }
    let r = reply::parse(&out.stdout)?;
    // The probe follows links, so it never names one.
    let kind = match r.one("kind")?.and_then(Kind::from_reply) {
        Some(k) if k != Kind::Link => k,
        _ => return Err(reply::unexpected("no kind", &out.stdout)),
    };
    let unreadable = r.flag("unreadable")?;
    if (kind == Kind::File) != r.content.is_some() || r.records.len() != 1 + usize::from(unreadable)
    {
        return Err(reply::unexpected("fields out of place", &out.stdout));
    }
    Ok((kind, unreadable, r.content.map(<[u8]>::to_vec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;

    fn plan_of(probe: &[u8]) -> Result<Plan, String> {
        let p = SlurpParams {
            src: "/etc/k".into(),
        };
        let out = ExecOutput {
            rc: 0,
            stdout: probe.to_vec(),
            stderr: vec![],
        };
        plan_with(&Slurp, &p, &out, PlanCtx::default())
    }

    #[test]
    fn golden_slurp() {
        let mut probe = b"kind=file\0--windlass-content--\0".to_vec();
        probe.extend_from_slice(b"a\x00b\n--windlass-content--\n");
        insta::assert_yaml_snapshot!("slurp_binary", plan_of(&probe).unwrap());
        insta::assert_yaml_snapshot!(
            "slurp_probe",
            Slurp
                .probe(
                    &SlurpParams {
                        src: "/etc/a b".into()
                    },
                    PlanCtx::default()
                )
                .unwrap()
                .command()
        );
        assert_eq!(
            plan_of(b"kind=absent\0").unwrap_err(),
            "file not found: /etc/k"
        );
    }

    #[test]
    fn hostile_content_and_replies() {
        // Content that looks like fields stays content.
        let plan =
            plan_of(b"kind=file\0--windlass-content--\0kind=absent\0unreadable=1\0").unwrap();
        assert_eq!(
            plan.result["content"],
            base64::engine::general_purpose::STANDARD.encode(b"kind=absent\0unreadable=1\0")
        );
        for bad in [
            &b"kind=file\n--windlass-content--\nx"[..],
            b"kind=file\0",
            b"kind=absent\0--windlass-content--\0x",
            b"kind=file\0kind=absent\0--windlass-content--\0",
            b"kind=other\0unreadable=2\0",
            b"kind=directory\0extra=1\0",
        ] {
            let e = plan_of(bad).unwrap_err();
            assert!(e.starts_with("unexpected probe output"), "{bad:?}: {e}");
        }
        // A NUL in the path is refused before anything runs.
        let e = Slurp
            .probe(
                &SlurpParams {
                    src: "/a\0b".into(),
                },
                PlanCtx::default(),
            )
            .unwrap_err();
        assert!(e.contains("NUL"), "{e}");
    }

    #[test]
    fn missing_file_in_check_mode_after_a_change() {
        let p = SlurpParams {
            src: "/etc/k".into(),
        };
        let out = ExecOutput {
            rc: 0,
            stdout: b"kind=absent\0".to_vec(),
            stderr: vec![],
        };
        let only_check = PlanCtx {
            check: true,
            ..PlanCtx::default()
        };
        assert!(plan_with(&Slurp, &p, &out, only_check).is_err());
        let after_change = PlanCtx {
            check: true,
            changed_before: true,
            ..PlanCtx::default()
        };
        let plan = plan_with(&Slurp, &p, &out, after_change).unwrap();
        assert!(!plan.is_change());
        assert_eq!(plan.result["content"], "");
    }
}
