//! `ansible.builtin.fetch`: copy a file from the host to the controller.
//!
//! Why this module exists: certificates, kubeconfigs and join material are collected from
//! hosts. The destination is `dest/<inventory_hostname>/<src>` (or `dest` itself with
//! `flat`); the host's sha1 is compared with the local file's first, so an unchanged file
//! is not transferred. The local file is written atomically (temp file, then rename).
//! One probe ([`probe`]) and a pure decision ([`plan`]) make check mode report exactly
//! what the real run does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fileops::{self, FileFacts, Kind, PathQuery, StatOpts};
use super::params::ansible_bool;
use super::plan::{Fact, PlanCtx};
use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

fn yes() -> bool {
    true
}

/// Parameters of `fetch`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchParams {
    /// The file on the host. Required.
    pub src: String,
    /// Directory (or, with `flat`, file) on the controller; relative paths are relative to
    /// the playbook directory. Required.
    pub dest: String,
    /// Write to `dest` itself (or `dest/<basename>` when it ends in `/`) instead of
    /// `dest/<host>/<src>`. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub flat: bool,
    /// Fail when `src` is missing. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub fail_on_missing: bool,
    /// Check the copy's checksum against the host's. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub validate_checksum: bool,
}

/// `ansible.builtin.fetch`.
pub struct Fetch;

/// Where the file lands on the controller.
pub fn local_dest(p: &FetchParams, host: &str, base: &Path) -> PathBuf {
    let dest = if Path::new(&p.dest).is_absolute() {
        PathBuf::from(&p.dest)
    } else {
        base.join(&p.dest)
    };
    if p.flat {
        if p.dest.ends_with('/') {
            dest.join(super::copy::basename(&p.src))
        } else {
            dest
        }
    } else {
        dest.join(host).join(p.src.trim_start_matches('/'))
    }
}

/// What the one probe asks: the host file's type and sha1 (links followed), as the
/// shared [`FileFacts`] fact.
fn query(p: &FetchParams) -> PathQuery {
    PathQuery {
        path: p.src.clone(),
        opts: StatOpts {
            follow: true,
            checksum: Some("sha1sum"),
            content_limit: None,
        },
    }
}

/// What fetch does, from the probe's facts and the controller's copy at `dest`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FetchPlan {
    /// What the task reports (`changed`, `failed`, `msg`, checksums) before any transfer.
    pub result: TaskResult,
    /// The file must be transferred (not done in check mode).
    pub transfer: bool,
}

/// Decide from the host's facts `f` and the local copy `local` (if `dest` exists). Pure:
/// golden tests feed probe outputs in.
pub fn plan(
    p: &FetchParams,
    f: &FileFacts,
    dest: &Path,
    local: Option<&[u8]>,
    cx: PlanCtx,
) -> FetchPlan {
    let mut r = TaskResult::new();
    r.set_changed(false);
    r.insert("file", Value::String(p.src.clone()));
    r.insert("dest", Value::String(dest.display().to_string()));
    let done = |result| FetchPlan {
        result,
        transfer: false,
    };
    match f.kind {
        Kind::Absent if cx.check && cx.changed_before => {
            // Check mode: an earlier planned change (kubeadm init writing admin.conf)
            // may create the file; the real run would fetch it.
            r.set_changed(true);
            r.set_msg(Value::String(format!(
                "{} does not exist yet: planned as an earlier task of this check run \
                     may create it",
                p.src
            )));
            return done(r);
        }
        Kind::Absent => {
            let msg = "the remote file does not exist, not transferring";
            if p.fail_on_missing {
                r.set_failed(true);
            }
            r.set_msg(Value::String(msg.into()));
            return done(r);
        }
        Kind::Directory => {
            r.set_failed(true);
            r.set_msg(Value::String(
                "remote file is a directory, fetch cannot work on directories".into(),
            ));
            return done(r);
        }
        _ => {}
    }
    let remote_sum = f.checksum.clone().unwrap_or_default();
    r.insert("remote_checksum", Value::String(remote_sum.clone()));
    if local.map(fileops::sha1_hex).as_deref() == Some(remote_sum.as_str()) {
        r.insert("checksum", Value::String(remote_sum));
        return done(r);
    }
    r.set_changed(true);
    FetchPlan {
        result: r,
        transfer: true,
    }
}

#[async_trait::async_trait]
impl Module for Fetch {
    fn name(&self) -> &'static str {
        "ansible.builtin.fetch"
    }

    fn spec(&self) -> ParamSpec {
        let params: Vec<(&'static str, &'static [&'static str])> = field_names::<FetchParams>()
            .iter()
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            required: &["src", "dest"],
            paths: &["src", "dest"],
            ..ParamSpec::default()
        }
    }

    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: FetchParams = params("fetch", args)?;
        let base = ctx
            .vars
            .get("playbook_dir")
            .and_then(|v| v.as_str().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        let dest = local_dest(&p, ctx.host, &base);
        let q = query(&p);
        let probe = FileFacts::command(&q).with_become(ctx.become_.clone());
        fileops::check_path("src", &p.src).map_err(ModuleError::Failed)?;
        let f = FileFacts::parse(&q, &ctx.transport.exec(&probe).await?)
            .map_err(ModuleError::Failed)?;
        let local = std::fs::read(&dest).ok();
        let cx = PlanCtx {
            check: ctx.check,
            diff: false,
            changed_before: ctx.changed_before,
        };
        let FetchPlan {
            result: mut r,
            transfer,
        } = plan(&p, &f, &dest, local.as_deref(), cx);
        if !transfer || ctx.check {
            return Ok(r);
        }
        let remote_sum = f.checksum.clone().unwrap_or_default();
        let data = ctx.transport.get(&p.src, ctx.become_.as_ref()).await?;
        let sum = fileops::sha1_hex(&data);
        if p.validate_checksum && sum != remote_sum {
            r.set_failed(true);
            r.set_msg("checksum mismatch");
            return Ok(r);
        }
        write_local(&dest, &data).map_err(ModuleError::Failed)?;
        r.insert("checksum", Value::String(sum));
        r.insert("md5sum", Value::String(fileops::md5_hex(&data)));
        Ok(r)
    }
}

fn write_local(dest: &Path, data: &[u8]) -> Result<(), String> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, data)
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    // Ansible's connection plugins open the local file for writing: an existing file keeps
    // its mode, a new one gets 0666 less the umask (not the temp file's 0600).
    let mode = match std::fs::metadata(dest) {
        Ok(m) => std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777,
        Err(_) => 0o666 & !process_umask(),
    };
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    tmp.persist(dest)
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    Ok(())
}

/// This process's umask, read without changing it (`Umask:` of /proc/self/status);
/// 022 when that cannot be read.
fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::PlanCtx;

    fn facts(probe: &str) -> FileFacts {
        fileops::parse_facts("/etc/kubernetes/admin.conf", &fileops::out_of(probe)).unwrap()
    }

    #[test]
    fn golden_fetch_plans() {
        let p = FetchParams {
            src: "/etc/kubernetes/admin.conf".into(),
            dest: "out".into(),
            fail_on_missing: true,
            validate_checksum: true,
            ..FetchParams::default()
        };
        insta::assert_yaml_snapshot!("fetch_probe", FileFacts::command(&query(&p)));
        let dest = Path::new("/play/out/m1/etc/kubernetes/admin.conf");
        let data = b"apiVersion: v1\n";
        let sum = fileops::sha1_hex(data);
        let file = facts(&format!("kind=file\nmode=600\nsize=15\nchecksum={sum}\n"));
        let run = PlanCtx::default();
        let check = PlanCtx {
            check: true,
            ..PlanCtx::default()
        };
        let after_change = PlanCtx {
            check: true,
            changed_before: true,
            ..PlanCtx::default()
        };
        let absent = facts("kind=absent\n");
        let cases = vec![
            (
                "fresh controller: transfer",
                plan(&p, &file, dest, None, run),
            ),
            (
                "same sha1 locally: nothing to do",
                plan(&p, &file, dest, Some(data), run),
            ),
            (
                "different local copy: transfer (check mode predicts it)",
                plan(&p, &file, dest, Some(b"old"), check),
            ),
            (
                "missing on the host: fails",
                plan(&p, &absent, dest, None, run),
            ),
            (
                "missing, fail_on_missing false: ok",
                plan(
                    &FetchParams {
                        fail_on_missing: false,
                        ..FetchParams {
                            src: p.src.clone(),
                            dest: p.dest.clone(),
                            ..FetchParams::default()
                        }
                    },
                    &absent,
                    dest,
                    None,
                    run,
                ),
            ),
            (
                "missing in check mode after a planned change: would fetch",
                plan(&p, &absent, dest, None, after_change),
            ),
            (
                "missing in check mode with nothing changed before: fails as the run would",
                plan(&p, &absent, dest, None, check),
            ),
            (
                "a directory: fails",
                plan(&p, &facts("kind=directory\nmode=755\n"), dest, None, run),
            ),
        ];
        let cases: Vec<serde_json::Value> = cases
            .into_iter()
            .map(|(what, plan)| serde_json::json!({"case": what, "plan": plan}))
            .collect();
        insta::assert_yaml_snapshot!("fetch_plans", cases);
    }

    #[test]
    fn destinations() {
        let p = |dest: &str, flat: bool| FetchParams {
            src: "/etc/kubernetes/admin.conf".into(),
            dest: dest.into(),
            flat,
            ..FetchParams::default()
        };
        let base = Path::new("/play");
        assert_eq!(
            local_dest(&p("out", false), "m1", base),
            PathBuf::from("/play/out/m1/etc/kubernetes/admin.conf")
        );
        assert_eq!(
            local_dest(&p("/tmp/k/", true), "m1", base),
            PathBuf::from("/tmp/k/admin.conf")
        );
        assert_eq!(
            local_dest(&p("/tmp/k.conf", true), "m1", base),
            PathBuf::from("/tmp/k.conf")
        );
    }
}
