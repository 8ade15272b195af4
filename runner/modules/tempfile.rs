//! `ansible.builtin.tempfile`: create a temporary file or directory on the host.
//!
//! Why this module exists: playbooks stage downloads, rendered manifests and scratch state
//! in a fresh private place and register its path. There is no state to compare, so no
//! probe: every run creates a new name (Ansible reports `changed` each time), and check
//! mode skips it as Ansible does (`supports_check_mode` is false upstream). The host's
//! `mktemp` creates it, readable by its owner only (0600 files, 0700 directories, as
//! Python's `mkstemp`/`mkdtemp`), in `path` or else `$TMPDIR` or `/tmp`; its reply is the
//! one path it printed, so nothing in it can be read as another field.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::choice;
use super::plan::{params, spec_params};
use super::userpath::shell_word;
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `ansible.builtin.tempfile`.
pub struct Tempfile;

fn default_prefix() -> String {
    "ansible.".into()
}

/// Parameters of `tempfile`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempfileParams {
    /// `file` (default) or `directory`.
    #[serde(default)]
    pub state: Option<TempfileState>,
    /// The directory to create it in (`~` and `~user` expanded on the host). Default:
    /// `$TMPDIR`, else `/tmp`.
    #[serde(default)]
    pub path: Option<String>,
    /// The start of its name; a file name component (no `/`). Default `ansible.`. A prefix
    /// ending in `X` has those `X`s replaced too (`mktemp` takes the last run of them).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The end of its name; a file name component (no `/`). Default empty.
    #[serde(default)]
    pub suffix: String,
}

choice! {
    /// `tempfile`'s `state` (choices in lib/ansible/modules/tempfile.py).
    pub enum TempfileState {
        /// A regular file, mode 0600. The default.
        File = "file",
        /// A directory, mode 0700.
        Directory = "directory",
    }
    else "value of state must be one of: file, directory, got: {got}"
}

/// Python's `repr()` of a string, as Ansible's messages quote a value.
fn py_repr(s: &str) -> String {
    let list = crate::template::json_py_str(&json!([s]));
    list[1..list.len() - 1].to_string()
}

/// The `mktemp` command for `p`, or the message Ansible fails with.
pub fn command(p: &TempfileParams) -> Result<RemoteCommand, String> {
    for (what, v) in [("prefix", &p.prefix), ("suffix", &p.suffix)] {
        if v.contains('/') {
            return Err(format!(
                "{what} must be a valid file name component, got {}",
                py_repr(v)
            ));
        }
        super::fileops::check_path(what, v)?;
    }
    if let Some(dir) = &p.path {
        super::fileops::check_path("path", dir)?;
    }
    let dir = match p.path.as_deref() {
        Some(d) if !d.is_empty() => format!("--tmpdir={}", shell_word(d)),
        _ => "--tmpdir".to_string(),
    };
    let dir_flag = match p.state {
        Some(TempfileState::Directory) => "-d ",
        _ => "",
    };
    Ok(RemoteCommand::shell(format!(
        "mktemp {dir_flag}{dir} --suffix={} -- {}",
        quote(&p.suffix),
        quote(&format!("{}XXXXXXXX", p.prefix))
    )))
}

/// The result of `mktemp`'s run: the path it printed (its whole output but the final
/// newline, so a name holding newlines stays whole), or its error.
pub fn result(out: &ExecOutput) -> TaskResult {
    if out.rc != 0 {
        let mut r = TaskResult::failure(out.stderr_str());
        r.set_changed(false);
        return r;
    }
    let path = out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout);
    let mut r = TaskResult::with_changed(true);
    r.insert(
        "path",
        Value::String(String::from_utf8_lossy(path).into_owned()),
    );
    r
}

#[async_trait::async_trait]
impl Module for Tempfile {
    fn name(&self) -> &'static str {
        "ansible.builtin.tempfile"
    }

    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<TempfileParams>(),
            paths: &["path"],
            ..ParamSpec::default()
        }
    }

    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: TempfileParams = params(self.name(), args)?;
        let cmd = command(&p).map_err(ModuleError::Failed)?;
        if ctx.check {
            let mut r = TaskResult::with_changed(false);
            r.set_skipped();
            r.set_msg(json!(
                "remote module (tempfile) does not support check mode"
            ));
            return Ok(r);
        }
        let mut cmd = cmd.with_become(ctx.become_.clone());
        cmd.env = ctx.env.clone();
        cmd.timeout = ctx.timeout;
        Ok(result(&ctx.transport.exec(&cmd).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::params;

    fn cmd(v: serde_json::Value) -> Result<String, String> {
        command(&params::<TempfileParams>(v)).map(|c| c.to_shell())
    }

    #[test]
    fn commands() {
        insta::assert_snapshot!(
            [
                cmd(json!({})).unwrap(),
                cmd(json!({"state": "directory", "path": "~/work dir", "suffix": ".d"})).unwrap(),
                cmd(json!({"path": "/var/tmp", "prefix": "a'b\n$(x)"})).unwrap(),
            ]
            .join("\n")
        );
    }

    #[test]
    fn prefix_and_suffix_are_name_components() {
        assert_eq!(
            cmd(json!({"prefix": "a/b"})).unwrap_err(),
            "prefix must be a valid file name component, got 'a/b'"
        );
        assert_eq!(
            cmd(json!({"suffix": "it's/x"})).unwrap_err(),
            "suffix must be a valid file name component, got \"it's/x\""
        );
        let e = serde_json::from_value::<TempfileParams>(json!({"state": "link"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be one of: file, directory"), "{e}");
    }

    /// The reply is one path, newlines and all; a failure keeps mktemp's message.
    #[test]
    fn the_reply_is_one_path() {
        let out = |rc, stdout: &str, stderr: &str| ExecOutput {
            rc,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        };
        let r = result(&out(0, "/tmp/a\npath=/etc/shadow\n", ""));
        assert_eq!(r.get("path"), Some(&json!("/tmp/a\npath=/etc/shadow")));
        assert!(r.changed());
        let r = result(&out(1, "", "mktemp: failed to create file\n"));
        assert!(r.failed() && !r.changed());
        assert_eq!(r.msg(), Some(&json!("mktemp: failed to create file")));
    }

    /// The command as the host runs it, with `sh` and the real `mktemp`.
    #[test]
    fn creates_private_files_and_directories() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for (state, mode) in [("file", 0o600), ("directory", 0o700)] {
            let c = command(&params(
                json!({"path": d, "state": state, "prefix": "p\n.", "suffix": ".s"}),
            ))
            .unwrap();
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(c.to_shell())
                .output()
                .unwrap();
            let r = result(&ExecOutput {
                rc: out.status.code().unwrap(),
                stdout: out.stdout,
                stderr: out.stderr,
            });
            let path = r.get("path").and_then(Value::as_str).unwrap().to_string();
            let name = path.strip_prefix(&format!("{d}/p\n.")).unwrap();
            assert!(name.len() == 10 && name.ends_with(".s"), "{path:?}");
            let meta = std::fs::metadata(&path).unwrap();
            assert_eq!(meta.permissions().mode() & 0o7777, mode);
            assert_eq!(meta.is_dir(), state == "directory");
        }
    }
}
