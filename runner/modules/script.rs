//! `ansible.builtin.script`: copy a local script to the host, run it, remove it.
//!
//! Why this module exists: roles ship helper scripts in `files/` and run them on hosts
//! without installing them. ONE command does it all: the script arrives on its stdin, is
//! saved (only once every byte arrived) in a fresh per-command directory under
//! `remote_tmp` (mode 0700), runs with its arguments (split like a
//! shell would, each word quoted), and the directory is removed when that command ends,
//! whatever the exit code. `creates`/`removes` skip it (status skipped, unlike `command`,
//! which reports ok: Ansible's script action raises `AnsibleActionSkip`); in check mode it is
//! skipped unless those decide — then the check run reports the change the real run makes
//! (Ansible's partial check-mode support).

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, quote, scratch_prelude, scratch_receive};
use crate::template::SearchKind;

/// Parameters of `script`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptParams {
    /// The free form: the local script's path, then its arguments (`script: files/x.sh a b`).
    #[serde(default)]
    pub _raw_params: Option<String>,
    /// The same as the free form, given as a parameter.
    #[serde(default)]
    pub cmd: Option<String>,
    /// Skip when this path exists on the host.
    #[serde(default)]
    pub creates: Option<String>,
    /// Skip when this path does not exist on the host.
    #[serde(default)]
    pub removes: Option<String>,
    /// Directory on the host to run the script in.
    #[serde(default)]
    pub chdir: Option<String>,
    /// Program that runs the script (`/bin/bash`, `python3`); default: the script itself
    /// (its `#!` line).
    #[serde(default)]
    pub executable: Option<String>,
    /// Decrypt a vault-encrypted script on the controller (in memory) before sending it.
    /// Default `true`; `false` sends vault text as it is.
    #[serde(default)]
    pub decrypt: Option<Value>,
}

/// `ansible.builtin.script`.
pub struct Script;

/// The command that saves `content` (its stdin) as `name` in a scratch directory under
/// `remote_tmp`, runs it with `args` (already split) in `chdir`, and exits with the
/// script's status; the directory goes when the command ends.
pub fn run_command(
    remote_tmp: &str,
    name: &str,
    content: &[u8],
    args: &[String],
    executable: Option<&str>,
    chdir: Option<&str>,
) -> RemoteCommand {
    let script = format!("\"$d\"/{}", quote(name));
    let mut line = format!(
        "{}; {}; chmod 700 {script} || exit 1; ",
        scratch_prelude(remote_tmp),
        scratch_receive(name, content.len())
    );
    if let Some(d) = chdir {
        line.push_str(&format!("cd {} || exit 1; ", quote(d)));
    }
    if let Some(exe) = executable {
        // `executable` may carry options (`/bin/bash -e`): split, quote each word.
        let words = crate::command::split(exe).unwrap_or_else(|| vec![exe.to_string()]);
        line.push_str(&crate::command::join(&words));
        line.push(' ');
    }
    line.push_str(&script);
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line.push_str(" </dev/null; rc=$?; exit $rc");
    RemoteCommand::shell(line).with_stdin(content.to_vec())
}

/// lib/ansible/plugins/action/script.py raises `AnsibleActionSkip`: the task is skipped
/// (not ok, as `command` reports it), with this message.
fn skipped(path: &str, exists: bool) -> TaskResult {
    let mut out = TaskResult::new();
    let why = if exists {
        format!("{path} exists, matching creates option")
    } else {
        format!("{path} does not exist, matching removes option")
    };
    out.set_changed(false);
    out.set_skipped();
    out.set_msg(Value::String(why));
    out
}

#[async_trait::async_trait]
impl Module for Script {
    fn name(&self) -> &'static str {
        "ansible.builtin.script"
    }
    fn spec(&self) -> ParamSpec {
        let params: Vec<(&'static str, &'static [&'static str])> = field_names::<ScriptParams>()
            .iter()
            .filter(|n| **n != "_raw_params")
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            free_form: true,
            exclusive: &[&["cmd", "_raw_params"]],
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: ScriptParams = params("script", args)?;
        let line = p
            .cmd
            .as_deref()
            .or(p._raw_params.as_deref())
            .ok_or_else(|| ModuleError::Failed("script: no script given".into()))?;
        let words = crate::command::split(line)
            .ok_or_else(|| ModuleError::Failed("script: unbalanced quotes".into()))?;
        let Some((path, rest)) = words.split_first() else {
            return Err(ModuleError::Failed("script: no script given".into()));
        };
        let local = super::fileops::find_local(path, &ctx.vars.search_dirs(SearchKind::Files))
            .map_err(ModuleError::Failed)?;
        let content = if decrypts(&p.decrypt) {
            ctx.vars
                .vault()
                .read_file(&local)
                .map_err(ModuleError::Failed)?
        } else {
            std::fs::read(&local)
                .map_err(|e| ModuleError::Failed(format!("reading {}: {e}", local.display())))?
        };
        let exec = |cmd: RemoteCommand| {
            let mut cmd = cmd.with_become(ctx.become_.clone());
            cmd.timeout = ctx.timeout;
            cmd
        };
        // creates/removes: one probe.
        for (path, want_exists) in [(&p.creates, true), (&p.removes, false)] {
            if let Some(path) = path {
                let mut probe = RemoteCommand::argv(["test", "-e", path.as_str()]);
                if let (false, Some(d)) = (path.starts_with('/'), &p.chdir) {
                    probe = probe.with_chdir(d.clone());
                }
                let exists = ctx.transport.exec(&exec(probe)).await?.rc == 0;
                if exists == want_exists {
                    return Ok(skipped(path, exists));
                }
            }
        }
        if ctx.check {
            // As `command`: with creates/removes the probe above decided that the script
            // runs, so the plan is a change; without them nothing can tell, and it skips.
            let mut out = TaskResult::new();
            out.set_changed(true);
            if p.creates.is_some() || p.removes.is_some() {
                out.insert_no_output();
            } else {
                out.set_skipped();
            }
            out.set_msg(Value::String(
                "script would run (not run in check mode)".into(),
            ));
            return Ok(out);
        }
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script".into());
        let mut cmd = exec(run_command(
            &ctx.remote_tmp,
            &name,
            &content,
            rest,
            p.executable.as_deref(),
            p.chdir.as_deref(),
        ));
        cmd.env = ctx.env.clone();
        let start = Instant::now();
        let res = ctx.transport.exec(&cmd).await?;
        let mut out = TaskResult::new();
        out.set_changed(true);
        out.insert_output(res.rc, res.stdout_str(), res.stderr_str());
        out.insert(
            "delta",
            Value::String(format!("{:.6}", start.elapsed().as_secs_f64())),
        );
        if res.rc != 0 {
            out.set_failed(true);
            out.set_msg(Value::String("non-zero return code".into()));
        }
        Ok(out)
    }
}

/// `decrypt`: true unless it is a false boolean (or its spelling).
fn decrypts(v: &Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => crate::boolean::parse_bool(s).unwrap_or(true),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_run_command() {
        let c = run_command(
            "~/.ansible/tmp",
            "setup it.sh",
            b"#!/bin/sh\n",
            &["--name".into(), "a b".into(), "$(id)".into()],
            Some("/bin/bash -e"),
            Some("/srv/x"),
        );
        insta::assert_yaml_snapshot!("script_run_command", c);
        // The shell line really runs the words as given, and cleans up, also when the
        // script fails.
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("it's tmp");
        let run = |content: &[u8], chdir: Option<&str>| {
            let c = run_command(
                base.to_str().unwrap(),
                "s.sh",
                content,
                &["a b".into(), "$(id)".into()],
                None,
                chdir,
            );
            crate::transport::local::LocalTransport::exec_blocking(&c)
        };
        let out = run(
            b"#!/bin/sh\nprintf '%s|' \"$@\" \"$(pwd)\"; exit 3\n",
            Some("/"),
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b|$(id)|/|");
        assert_eq!(out.rc, 3);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&base).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
        // A chdir that does not exist: nothing runs, nothing is left.
        let out = run(b"#!/bin/sh\necho ran\n", Some("/nonexistent/dir"));
        assert_eq!(out.rc, 1);
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read_dir(&base).unwrap().count(), 0);
    }

    #[test]
    fn find_local_reports_searched_dirs() {
        let e =
            super::super::fileops::find_local("nope.sh", &[std::path::PathBuf::from("/r/files")])
                .unwrap_err();
        insta::assert_snapshot!("script_err_missing", e);
    }
}
