//! `ansible.builtin.command`, `shell` and `raw`: run a program on the host.
//!
//! `command` runs argv without a shell; `shell` hands a script to `/bin/sh -c` (or
//! `executable`); `raw` is `shell` without options. `creates`/`removes` make `command`
//! and `shell` idempotent. Check mode never runs the command: `raw` is skipped, and the
//! others probe only `creates`/`removes`.

use std::time::Instant;

use serde_json::{Map, Value};

use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx, bool_arg, str_arg};
use crate::command::RemoteCommand;

/// Which of the three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandModule {
    /// `command`.
    Command,
    /// `shell`.
    Shell,
    /// `raw`.
    Raw,
}

#[async_trait::async_trait]
impl Module for CommandModule {
    fn name(&self) -> &'static str {
        match self {
            CommandModule::Command => "ansible.builtin.command",
            CommandModule::Shell => "ansible.builtin.shell",
            CommandModule::Raw => "ansible.builtin.raw",
        }
    }
    fn spec(&self) -> ParamSpec {
        match self {
            CommandModule::Raw => ParamSpec {
                params: &[("executable", &[])],
                free_form: true,
                ..ParamSpec::default()
            },
            CommandModule::Command => ParamSpec {
                params: &[
                    ("cmd", &[]),
                    ("argv", &[]),
                    ("chdir", &[]),
                    ("creates", &[]),
                    ("removes", &[]),
                    ("stdin", &[]),
                    ("stdin_add_newline", &[]),
                    ("strip_empty_ends", &[]),
                    ("expand_argument_vars", &[]),
                ],
                free_form: true,
                exclusive: &[&["cmd", "argv"]],
                ..ParamSpec::default()
            },
            CommandModule::Shell => ParamSpec {
                params: &[
                    ("cmd", &[]),
                    ("chdir", &[]),
                    ("creates", &[]),
                    ("removes", &[]),
                    ("executable", &[]),
                    ("stdin", &[]),
                    ("stdin_add_newline", &[]),
                    ("strip_empty_ends", &[]),
                ],
                free_form: true,
                ..ParamSpec::default()
            },
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<ResultMap, ModuleError> {
        let raw = str_arg(&args, "_raw_params")?.or(str_arg(&args, "cmd")?);
        let (mut cmd, shown): (RemoteCommand, Value) = match self {
            CommandModule::Command => {
                let argv: Vec<String> = match (args.get("argv"), raw) {
                    (Some(Value::Array(a)), _) => a
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect(),
                    (Some(_), _) => {
                        return Err(ModuleError::Failed("`argv` must be a list".into()));
                    }
                    (None, Some(line)) => crate::command::split(line).ok_or_else(|| {
                        ModuleError::Failed("unbalanced quotes in the command".into())
                    })?,
                    (None, None) => return Err(ModuleError::Failed("no command given".into())),
                };
                if argv.is_empty() {
                    return Err(ModuleError::Failed("no command given".into()));
                }
                let shown = Value::Array(argv.iter().cloned().map(Value::String).collect());
                (RemoteCommand::argv(argv), shown)
            }
            CommandModule::Shell | CommandModule::Raw => {
                let script = raw.ok_or_else(|| ModuleError::Failed("no command given".into()))?;
                let cmd = match str_arg(&args, "executable")? {
                    Some(exe) => RemoteCommand::argv([exe, "-c", script]),
                    None => RemoteCommand::shell(script),
                };
                (cmd, Value::String(script.to_string()))
            }
        };
        let mut out = ResultMap::new();
        out.insert("cmd".into(), shown);
        if *self != CommandModule::Raw {
            let chdir = str_arg(&args, "chdir")?;
            for (key, want_exists) in [("creates", true), ("removes", false)] {
                if let Some(path) = str_arg(&args, key)? {
                    let mut probe = RemoteCommand::argv(["test", "-e", path]);
                    if !path.starts_with('/') {
                        if let Some(d) = chdir {
                            probe = probe.with_chdir(d);
                        }
                    }
                    let exists = ctx
                        .transport
                        .exec(&probe.with_become(ctx.become_.clone()))
                        .await?
                        .rc
                        == 0;
                    if exists == want_exists {
                        out.insert("changed".into(), Value::Bool(false));
                        out.insert("rc".into(), Value::from(0));
                        out.insert(
                            "stdout".into(),
                            Value::String(format!(
                                "skipped, since {path} {}",
                                if want_exists {
                                    "exists"
                                } else {
                                    "does not exist"
                                }
                            )),
                        );
                        out.insert("stdout_lines".into(), Value::Array(vec![]));
                        out.insert("skipped_reason".into(), out["stdout"].clone());
                        return Ok(out);
                    }
                }
            }
            if let Some(d) = chdir {
                cmd = cmd.with_chdir(d);
            }
            if let Some(stdin) = str_arg(&args, "stdin")? {
                let mut data = stdin.as_bytes().to_vec();
                if bool_arg(&args, "stdin_add_newline", true)? {
                    data.push(b'\n');
                }
                cmd = cmd.with_stdin(data);
            }
        }
        if ctx.check {
            // As Ansible: with creates/removes the module knows the command would run, so
            // the plan shows a change; without them it cannot tell, and skips.
            let decided = *self != CommandModule::Raw
                && (str_arg(&args, "creates")?.is_some() || str_arg(&args, "removes")?.is_some());
            out.insert("changed".into(), Value::Bool(true));
            if decided {
                out.insert("rc".into(), Value::from(0));
                out.insert("stdout".into(), Value::String(String::new()));
                out.insert("stderr".into(), Value::String(String::new()));
                out.insert("stdout_lines".into(), Value::Array(vec![]));
                out.insert("stderr_lines".into(), Value::Array(vec![]));
            } else {
                out.insert("skipped".into(), Value::Bool(true));
            }
            out.insert(
                "msg".into(),
                Value::String("command would run (not run in check mode)".into()),
            );
            return Ok(out);
        }
        cmd.env = ctx.env.clone();
        cmd.timeout = ctx.timeout;
        let cmd = cmd.with_become(ctx.become_.clone());
        let start = Instant::now();
        let res = ctx.transport.exec(&cmd).await?;
        let strip = bool_arg(&args, "strip_empty_ends", true)?;
        let (stdout, stderr) = if strip {
            (
                res.stdout_str().trim_end_matches('\n').to_string(),
                res.stderr_str().trim_end_matches('\n').to_string(),
            )
        } else {
            (
                String::from_utf8_lossy(&res.stdout).into_owned(),
                String::from_utf8_lossy(&res.stderr).into_owned(),
            )
        };
        let lines =
            |s: &str| Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect());
        out.insert("changed".into(), Value::Bool(true));
        out.insert("rc".into(), Value::from(res.rc));
        out.insert("stdout_lines".into(), lines(&stdout));
        out.insert("stderr_lines".into(), lines(&stderr));
        out.insert("stdout".into(), Value::String(stdout));
        out.insert("stderr".into(), Value::String(stderr));
        out.insert(
            "delta".into(),
            Value::String(format!("{:.6}", start.elapsed().as_secs_f64())),
        );
        if res.rc != 0 {
            out.insert("failed".into(), Value::Bool(true));
            out.insert("msg".into(), Value::String("non-zero return code".into()));
        }
        Ok(out)
    }
}
