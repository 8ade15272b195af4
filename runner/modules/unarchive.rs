//! `ansible.builtin.unarchive`: unpack a tar or zip archive into a directory on the host.
//!
//! Why this module exists: binaries and CNI plugins arrive as `.tar.gz` and must be
//! unpacked idempotently. Idempotency, as in Ansible: `creates` if given; otherwise the
//! probe runs `tar --diff` (`-d -v`) of the archive against `dest` and the plan extracts
//! only when a member is missing or differs in size, content, type, link target or (for
//! files) modification time. Mode/uid/gid differences do not count. zip archives (when
//! the host has `unzip`) are compared by member presence only, and extracted whenever a
//! member name holds a newline (`unzip` lists one name a line, so such a listing cannot
//! be trusted). A controller-side archive
//! (`remote_src: no`) is streamed on stdin to the probe, and again to the extraction, each
//! time into a per-command scratch directory under `remote_tmp` that is removed when the
//! command ends.
//! `mode`/`owner`/`group` are applied to every member after an extraction.

use serde::Deserialize;
use serde_json::{Value, json};

use super::TaskCtx;
use super::params::{Mode, ansible_bool, opt_ansible_bool, opt_mode, opt_stringish, string_list};
use super::plan::{Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{PRELUDE, Sections, header};
use crate::command::{RemoteCommand, join, quote};
use crate::template::SearchKind;
use crate::transport::ExecOutput;

/// Parameters of `unarchive`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnarchiveParams {
    /// The archive: on the controller (looked up like `copy`'s `src`), or on the host with
    /// `remote_src: yes`. `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.tar.bz2`/`.tbz2`,
    /// `.tar.zst`, `.tar`, `.zip`. Required.
    pub src: String,
    /// Existing directory to unpack into. Required.
    pub dest: String,
    /// `src` is already on the host. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub remote_src: bool,
    /// Decrypt a vault-encrypted controller-side `src` before it goes to the host
    /// (action/unarchive.py `get_real_file(…, decrypt=…)`). Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub decrypt: bool,
    /// Skip when this path exists on the host.
    #[serde(default)]
    pub creates: Option<String>,
    /// Extra options for tar or unzip (`--strip-components=1`).
    #[serde(default, deserialize_with = "string_list")]
    pub extra_opts: Vec<String>,
    /// Permissions applied to every unpacked member.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner applied to every unpacked member.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group applied to every unpacked member.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Return the archive's member names as `files`. Default `false`.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub list_files: Option<bool>,
    /// Accepted; newer files in `dest` are overwritten.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub keep_newer: Option<bool>,
    /// The controller-side archive's bytes (filled by `prepare`).
    #[serde(skip)]
    pub local: Option<Vec<u8>>,
    /// Where scratch files go on the host (filled by `prepare` from the task's context).
    #[serde(skip)]
    pub remote_tmp: Option<String>,
}

/// How to read an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// tar with this decompression flag (`""` for none).
    Tar(&'static str),
    /// zip (needs unzip).
    Zip,
}

/// The format, from the file name.
pub fn format_of(src: &str) -> Result<Format, String> {
    let s = src.to_lowercase();
    Ok(if s.ends_with(".tar.gz") || s.ends_with(".tgz") {
        Format::Tar("-z")
    } else if s.ends_with(".tar.xz") || s.ends_with(".txz") {
        Format::Tar("-J")
    } else if s.ends_with(".tar.bz2") || s.ends_with(".tbz2") {
        Format::Tar("-j")
    } else if s.ends_with(".tar.zst") {
        Format::Tar("--zstd")
    } else if s.ends_with(".tar") {
        Format::Tar("")
    } else if s.ends_with(".zip") {
        Format::Zip
    } else {
        return Err(format!(
            "Failed to find handler for \"{src}\": unarchive handles .tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.bz2/.tbz2, .tar.zst and .zip"
        ));
    })
}

fn tar_flags(f: &str, extra: &[String]) -> String {
    let mut w: Vec<String> = Vec::new();
    if !f.is_empty() {
        w.push(f.to_string());
    }
    w.extend(extra.iter().cloned());
    join(&w)
}

/// The scratch directory's base for `p` (the default until `prepare` set it).
fn remote_tmp(p: &UnarchiveParams) -> &str {
    p.remote_tmp
        .as_deref()
        .unwrap_or(crate::command::DEFAULT_REMOTE_TMP)
}

const DIFFERS: &[&str] = &[
    "Size differs",
    "Contents differ",
    "Mod time differs",
    "File type differs",
    "Symlink differs",
    "Cannot stat: No such file or directory",
    "Not a directory",
    "Not linked to",
];

/// `ansible.builtin.unarchive`.
pub struct Unarchive;

fn yes() -> bool {
    true
}

/// An archive against its destination, as the probe found them: the `unarchive` module's
/// fact. (The probe's command stays the module's: it carries a controller-side archive on
/// its stdin.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveState {
    /// `dest` is no directory.
    pub no_dest: bool,
    /// A `remote_src` archive is no file.
    pub no_src: bool,
    /// A zip archive, and no `unzip` on the host.
    pub no_unzip: bool,
    /// The `creates` path exists.
    pub created: bool,
    /// The comparison's listing: `tar -d -v` (or the zip walk's) lines, members and
    /// their differences.
    pub listing: String,
    /// The comparison's exit code (2 when it did not report one).
    pub rc: i32,
}

impl ArchiveState {
    /// The probe's framed reply.
    fn parse(out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(ArchiveState {
            no_dest: s.has("nodest"),
            no_src: s.has("nosrc"),
            no_unzip: s.has("nounzip"),
            created: s.has("creates"),
            listing: s.get("diff").unwrap_or("").to_string(),
            rc: s
                .text("rc")
                .and_then(|r| r.parse::<i32>().ok())
                .unwrap_or(2),
        })
    }
}

#[async_trait::async_trait]
impl Planned for Unarchive {
    type Params = UnarchiveParams;
    type Facts = ArchiveState;

    fn name(&self) -> &'static str {
        "ansible.builtin.unarchive"
    }

    fn required(&self) -> &'static [&'static str] {
        &["src", "dest"]
    }

    async fn prepare(&self, p: &mut UnarchiveParams, ctx: &TaskCtx<'_>) -> Result<(), String> {
        p.remote_tmp = Some(ctx.remote_tmp.clone());
        if !p.remote_src {
            let path =
                super::fileops::find_local(&p.src, &ctx.vars.search_dirs(SearchKind::Files))?;
            let data =
                std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            // Decrypted in memory on the controller, as copy does; never written out.
            p.local = Some(match p.decrypt {
                true => ctx.vars.vault().open_bytes(data, &path)?,
                false => data,
            });
        }
        Ok(())
    }

    fn probe(&self, p: &UnarchiveParams, _ctx: PlanCtx) -> Result<Probe<ArchiveState>, String> {
        let fmt = format_of(&p.src)?;
        // A framed reply (see `sysprobe`): member names are the archive's to choose.
        let mut s = format!(
            "{PRELUDE}dst={}; [ -d \"$dst\" ] || {{ {}exit 0; }}\n",
            quote(&p.dest),
            header("nodest")
        );
        if let Some(c) = &p.creates {
            s.push_str(&format!(
                "[ -e {} ] && {{ {}exit 0; }}\n",
                quote(c),
                header("creates")
            ));
        }
        if fmt == Format::Zip {
            s.push_str(&format!(
                "command -v unzip >/dev/null 2>&1 || {{ {}exit 0; }}\n",
                header("nounzip")
            ));
        }
        if p.remote_src {
            s.push_str(&format!(
                "a={}; [ -f \"$a\" ] || {{ {}exit 0; }}\n",
                quote(&p.src),
                header("nosrc")
            ));
        } else {
            let size = p.local.as_ref().map_or(0, Vec::len);
            s.push_str(&format!(
                "{}\n{}\na=\"$d\"/archive\n",
                crate::command::scratch_prelude(remote_tmp(p)),
                crate::command::scratch_receive("archive", size)
            ));
        }
        s.push_str(&header("diff"));
        match fmt {
            Format::Tar(f) => s.push_str(&format!(
                "tar -C \"$dst\" -d -v {} -f \"$a\" 2>&1; rc=$?\n",
                tar_flags(f, &p.extra_opts)
            )),
            // unzip lists one name a line, so a member name holding a newline reads as
            // several: when the lines outnumber the members unzip counts, the listing
            // cannot be trusted and the archive is extracted.
            Format::Zip => s.push_str(
                "unzip -Z1 \"$a\" | { c=0; while IFS= read -r f; do c=$((c+1)); printf '%s\\n' \"$f\"; [ -e \"$dst/$f\" ] || printf '%s: Warning: Cannot stat: No such file or directory\\n' \"$f\"; done; \
                 t=$(unzip -Zt \"$a\" 2>/dev/null); [ \"$c\" = \"${t%% *}\" ] || printf '%s\\n' '?: Warning: Cannot stat: No such file or directory'; }; rc=0\n",
            ),
        }
        s.push_str(&format!("{}printf '%s' \"$rc\"\n", header("rc")));
        let mut cmd = RemoteCommand::shell(s);
        if let Some(data) = &p.local {
            cmd = cmd.with_stdin(data.clone());
        }
        Ok(Probe::ask(cmd, ArchiveState::parse))
    }

    fn plan(
        &self,
        p: &UnarchiveParams,
        facts: &ArchiveState,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        let fmt = format_of(&p.src)?;
        if facts.no_dest {
            return Err(format!("dest '{}' must be an existing dir", p.dest));
        }
        if facts.no_src {
            return Err(format!("Source '{}' does not exist", p.src));
        }
        if facts.no_unzip {
            return Err("zip archives need `unzip` on the host (apt-get install unzip)".into());
        }
        let mut result = serde_json::Map::new();
        result.insert("dest".into(), json!(p.dest));
        result.insert("src".into(), json!(p.src));
        result.insert(
            "handler".into(),
            json!(if fmt == Format::Zip {
                "ZipArchive"
            } else {
                "TgzArchive"
            }),
        );
        if facts.created {
            result.insert(
                "msg".into(),
                json!(format!(
                    "skipped, since {} exists",
                    p.creates.as_deref().unwrap_or("")
                )),
            );
            return Ok(Plan::unchanged(result));
        }
        let body = facts.listing.as_str();
        let rc = facts.rc;
        let mut files = Vec::new();
        let mut diffs = Vec::new();
        for line in body.lines() {
            let l = line.strip_prefix("tar: ").unwrap_or(line);
            if let Some(why) = DIFFERS.iter().find(|d| l.ends_with(*d)) {
                let name = l
                    .trim_end_matches(why)
                    .trim_end_matches(": Warning: ")
                    .trim_end_matches(": ");
                // A directory's mtime changes as files come and go; a member stripped to
                // nothing by --strip-components is not extracted at all.
                if name.is_empty() || (*why == "Mod time differs" && name.ends_with('/')) {
                    continue;
                }
                diffs.push(l.to_string());
            } else if l.ends_with("differs") || l.ends_with("differ") {
                // Mode/Uid/Gid differences do not count.
            } else if !l.is_empty() && !line.starts_with("tar: ") {
                files.push(json!(l));
            } else if line.starts_with("tar: ") && rc > 1 {
                return Err(format!("tar could not read {}: {l}", p.src));
            }
        }
        if rc > 1 {
            return Err(format!("tar could not read {}: {}", p.src, body.trim()));
        }
        if p.list_files == Some(true) {
            result.insert("files".into(), Value::Array(files));
        }
        if diffs.is_empty() {
            return Ok(Plan::unchanged(result));
        }
        // A controller-side archive comes again on stdin, into the scratch directory.
        let a = match &p.local {
            Some(_) => "\"$d\"/archive".to_string(),
            None => quote(&p.src).into_owned(),
        };
        let d = quote(&p.dest);
        let (mut s, list) = match fmt {
            Format::Tar(f) => {
                let fl = tar_flags(f, &p.extra_opts);
                (
                    format!("tar -C {d} -x {fl} -f {a}"),
                    format!("tar -t {fl} -f {a}"),
                )
            }
            Format::Zip => (
                format!("unzip -o -q {} {a} -d {d}", join(&p.extra_opts)),
                format!("unzip -Z1 {a}"),
            ),
        };
        let mut post = Vec::new();
        match (&p.owner, &p.group) {
            (Some(o), Some(g)) => post.push(format!("chown -h {}", quote(&format!("{o}:{g}")))),
            (Some(o), None) => post.push(format!("chown -h {}", quote(o))),
            (None, Some(g)) => post.push(format!("chgrp -h {}", quote(g))),
            (None, None) => {}
        }
        match &p.mode {
            Some(Mode::Octal(b)) => post.push(format!("chmod {b:o}")),
            Some(Mode::Symbolic(m)) => post.push(format!("chmod {}", quote(m))),
            None => {}
        }
        for cmd in post {
            s.push_str(&format!(
                " && {list} | (cd {d} && xargs -r -d '\\n' {cmd} --)"
            ));
        }
        let mut cmd = RemoteCommand::shell(&s);
        if let Some(data) = &p.local {
            cmd = RemoteCommand::shell(format!(
                "{}; {}; {s}",
                crate::command::scratch_prelude(remote_tmp(p)),
                crate::command::scratch_receive("archive", data.len())
            ))
            .with_stdin(data.clone());
        }
        result.insert("differences".into(), json!(diffs));
        Ok(Plan {
            steps: vec![Step::Run { cmd }],
            diffs: vec![],
            result,
            changed: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::{plan_with, probe_of};

    fn plan_of(args: Value, local: Option<&[u8]>, probe: &str) -> Result<Plan, String> {
        let Value::Object(m) = args else { panic!() };
        let mut p: UnarchiveParams = params("unarchive", m).map_err(|e| e.to_string())?;
        p.local = local.map(|l| l.to_vec());
        let out = crate::modules::sysprobe::testutil::out(probe);
        plan_with(&Unarchive, &p, &out, PlanCtx::default())
    }

    #[test]
    fn golden_unarchive() {
        let args = json!({"src": "cni.tgz", "dest": "/opt/cni/bin", "owner": "root", "mode": "0755", "list_files": true});
        // Fresh: every member is missing.
        let fresh = plan_of(args.clone(), Some(b"ARCHIVE"), "@@diff\n./\n./bridge\ntar: ./bridge: Warning: Cannot stat: No such file or directory\n./loopback\ntar: ./loopback: Warning: Cannot stat: No such file or directory\n@@rc\n1\n").unwrap();
        insta::assert_yaml_snapshot!("unarchive_fresh", fresh);
        // Converged: only directory mtime and a uid differ.
        let conv = plan_of(args.clone(), Some(b"ARCHIVE"), "@@diff\n./\n./: Mod time differs\n./bridge\n./bridge: Uid differs\n./loopback\n@@rc\n1\n").unwrap();
        assert!(conv.steps.is_empty());
        insta::assert_yaml_snapshot!("unarchive_converged", conv);
        // Partial: one file changed.
        let part = plan_of(json!({"src": "/tmp/etcd.tar.gz", "dest": "/usr/local/bin", "remote_src": true, "extra_opts": ["--strip-components=1"]}), None, "@@diff\netcd/\ntar: : Warning: Cannot stat: No such file or directory\netcd/etcd\netcd/etcd: Size differs\netcd/etcd: Mod time differs\n@@rc\n1\n").unwrap();
        insta::assert_yaml_snapshot!("unarchive_partial_remote", part);
        let creates = plan_of(
            json!({"src": "a.tar", "dest": "/x", "remote_src": true, "creates": "/x/a"}),
            None,
            "@@creates\n",
        )
        .unwrap();
        assert!(creates.steps.is_empty());
        let e = plan_of(
            json!({"src": "a.tar", "dest": "/nope", "remote_src": true}),
            None,
            "@@nodest\n",
        )
        .unwrap_err();
        insta::assert_snapshot!("unarchive_err_dest", e);
        let e = format_of("a.rar").unwrap_err();
        assert!(e.contains("handler"), "{e}");
        let zip = plan_of(json!({"src": "/tmp/a.zip", "dest": "/x", "remote_src": true}), None, "@@diff\na/\na/b.txt\na/b.txt: Warning: Cannot stat: No such file or directory\n@@rc\n0\n").unwrap();
        insta::assert_yaml_snapshot!("unarchive_zip", zip);
    }

    /// Member names are the archive's: one that an `echo` would read as an escape (dash's
    /// `\c` ends the output) or that prints like a reply marker must still be listed, and
    /// a missing one still found missing. The real probe runs here with a stand-in
    /// `unzip` on PATH that lists hostile names.
    #[test]
    fn hostile_member_names_are_data() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let dest = dir.path().join("dest");
        std::fs::create_dir(&bin).unwrap();
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("ok.txt"), "").unwrap();
        std::fs::write(dest.join("@@rc 0"), "").unwrap();
        std::fs::write(dir.path().join("a.zip"), "").unwrap();
        let unzip = bin.join("unzip");
        std::fs::write(
            &unzip,
            "#!/bin/sh\ncase \"$1\" in -Zt) echo \"${WL_COUNT:-4} files, 0 bytes\";; \
             *) printf '%s\\n' 'ok.txt' '@@rc 0' 'a\\cb.txt' '@@diff';; esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&unzip, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let args = json!({"src": dir.path().join("a.zip"), "dest": dest, "remote_src": true, "list_files": true});
        let Value::Object(m) = args else { panic!() };
        let p: UnarchiveParams = params("unarchive", m).unwrap();
        let mut cmd = probe_of(&Unarchive, &p).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env.push(("PATH".into(), path));
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        let plan = plan_with(&Unarchive, &p, &out, PlanCtx::default()).unwrap();
        assert_eq!(
            plan.result["files"],
            json!(["ok.txt", "@@rc 0", "a\\cb.txt", "@@diff"]),
            "{out:?}"
        );
        assert!(
            plan.is_change(),
            "a\\cb.txt and @@diff are missing: {out:?}"
        );
        assert_eq!(
            plan.result["differences"],
            json!([
                "a\\cb.txt: Warning: Cannot stat: No such file or directory",
                "@@diff: Warning: Cannot stat: No such file or directory"
            ])
        );
        // A name with a newline lists as two lines, both present in dest here: unzip
        // counts fewer members than lines, so the archive is extracted all the same.
        std::fs::write(dest.join("a\\cb.txt"), "").unwrap();
        std::fs::write(dest.join("@@diff"), "").unwrap();
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        assert!(
            !plan_with(&Unarchive, &p, &out, PlanCtx::default())
                .unwrap()
                .is_change()
        );
        cmd.env.push(("WL_COUNT".into(), "3".into()));
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        assert!(
            plan_with(&Unarchive, &p, &out, PlanCtx::default())
                .unwrap()
                .is_change()
        );
    }
}
