//! `ansible.builtin.command`, `shell` and `raw`: run a program on the host.
//!
//! `command` runs argv without a shell; `shell` hands a script to `/bin/sh -c` (or
//! `executable`); `raw` is `shell` without options. `creates`/`removes` make `command`
//! and `shell` idempotent. Check mode never runs the command: `raw` is skipped, and the
//! others probe only `creates`/`removes`. What runs is a value built from the parameters
//! alone ([`CommandModule::plan`]), so golden tests pin the exact commands. The result has
//! Ansible's fields: `cmd` (a list for `command`, the string for `shell`), `rc`,
//! `stdout`/`stderr` and their `_lines`, `msg` (`non-zero return code`, else empty) and
//! `start`/`end`/`delta` as Python prints them (`2026-12-03 03:54:46.123456`,
//! `0:00:00.003125`), read from the controller's clock in UTC (Ansible: the host's local
//! time).

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::params::ansible_bool;
use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::RemoteCommand;

fn yes() -> bool {
    true
}

/// Parameters of `command`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandParams {
    /// The free form: the command line, split into words as a shell would split it (no
    /// shell runs it).
    #[serde(default)]
    pub _raw_params: Option<String>,
    /// The command to run, as the free form would give it.
    #[serde(default)]
    pub cmd: Option<String>,
    /// The command as a list of words, passed as they are (no splitting, no quoting
    /// trouble with `user name`); give either this or the free form / `cmd`.
    #[serde(default)]
    pub argv: Option<Value>,
    /// Change into this directory before running the command.
    #[serde(default)]
    pub chdir: Option<String>,
    /// A path (relative to `chdir`); when it already exists, the command is not run.
    /// Globs are not expanded.
    #[serde(default)]
    pub creates: Option<String>,
    /// A path (relative to `chdir`); when it does not exist, the command is not run.
    /// Globs are not expanded.
    #[serde(default)]
    pub removes: Option<String>,
    /// Set the command's standard input to this text.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Append a newline to `stdin`. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub stdin_add_newline: bool,
    /// Strip trailing empty lines from `stdout` and `stderr` in the result. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub strip_empty_ends: bool,
    /// Expand `$VAR`/`${VAR}` (from the command's environment on the host; unset ones stay
    /// as written) and a leading `~` in every argument, as Python's `os.path.expandvars`
    /// and `expanduser`; no other shell syntax means anything. Default `true`.
    #[serde(default, deserialize_with = "super::params::opt_ansible_bool")]
    pub expand_argument_vars: Option<bool>,
    /// Ignored, as by Ansible's command module since 2.4 (it warns): no shell runs the
    /// command; use `shell` for that.
    #[serde(default)]
    pub executable: Option<String>,
}

/// Parameters of `shell`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellParams {
    /// The free form: the script, run by `/bin/sh -c` (or `executable`).
    #[serde(default)]
    pub _raw_params: Option<String>,
    /// The script to run, as the free form would give it.
    #[serde(default)]
    pub cmd: Option<String>,
    /// Change into this directory before running the script.
    #[serde(default)]
    pub chdir: Option<String>,
    /// A path (relative to `chdir`); when it already exists, the script is not run.
    /// Globs are not expanded.
    #[serde(default)]
    pub creates: Option<String>,
    /// A path (relative to `chdir`); when it does not exist, the script is not run.
    /// Globs are not expanded.
    #[serde(default)]
    pub removes: Option<String>,
    /// The shell that runs the script (an absolute path, `/bin/bash`), given `-c` and the
    /// script. Default `/bin/sh`.
    #[serde(default)]
    pub executable: Option<String>,
    /// Set the script's standard input to this text.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Append a newline to `stdin`. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub stdin_add_newline: bool,
    /// Strip trailing empty lines from `stdout` and `stderr` in the result. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub strip_empty_ends: bool,
}

/// Parameters of `raw`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParams {
    /// The free form: the command line, handed to the remote shell as it is.
    #[serde(default)]
    pub _raw_params: Option<String>,
    /// The shell that runs the command (an absolute path, `/bin/bash`), given `-c` and
    /// the command. Default `/bin/sh`.
    #[serde(default)]
    pub executable: Option<String>,
}

/// The three modules' parameters in one shape, for [`CommandModule::plan`].
struct Input {
    raw: Option<String>,
    argv: Option<Value>,
    chdir: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    executable: Option<String>,
    stdin: Option<String>,
    stdin_add_newline: bool,
    strip_empty_ends: bool,
    /// `command`'s `expand_argument_vars`.
    expand: bool,
    /// `command`'s `executable`, which it ignores with a warning.
    ignored_executable: Option<String>,
}

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

/// A `creates`/`removes` guard: probe whether `path` exists; skip the task when the
/// answer is `skip_if_exists`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Guard {
    /// `creates` or `removes`.
    pub key: &'static str,
    /// The path as given.
    pub path: String,
    /// `true` for `creates` (skip when it exists), `false` for `removes`.
    pub skip_if_exists: bool,
    /// `test -e PATH`, in `chdir` when the path is relative.
    pub probe: RemoteCommand,
}

/// What a command task does, from its parameters alone: probe the guards in order, then
/// (unless one skips, and not in check mode) run `cmd`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandPlan {
    /// `cmd` as the result reports it: the argv list (`command`) or the script text.
    pub shown: Value,
    /// `creates`/`removes` probes (none for `raw`).
    pub guards: Vec<Guard>,
    /// The command, with `chdir` and `stdin`; become, environment and timeout come from
    /// the task when it runs.
    pub cmd: RemoteCommand,
    /// Strip trailing newlines from the output in the result (`strip_empty_ends`).
    #[serde(skip)]
    pub strip_empty_ends: bool,
    /// Warnings for the result (`command`'s ignored `executable`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl CommandModule {
    /// The result of a command check mode does not run. `raw`'s action plugin only skips.
    /// command.py: with `creates`/`removes` it knows the command would run (changed);
    /// without them it cannot tell and skips (changed false); either way every key it
    /// promises, empty, and "Command would have run if not in check mode".
    fn check_mode_result(self, mut out: TaskResult, decided: bool) -> TaskResult {
        if self == CommandModule::Raw {
            let mut skipped = TaskResult::new();
            skipped.set_skipped();
            return skipped;
        }
        out.set_changed(decided);
        out.insert_no_output();
        for k in ["start", "end", "delta"] {
            out.insert(k, Value::Null);
        }
        out.set_msg(Value::String(
            "Command would have run if not in check mode".into(),
        ));
        if !decided {
            out.set_skipped();
        }
        out
    }

    /// `args` read as this module's parameter struct.
    fn input(self, args: &Map<String, Value>) -> Result<Input, ModuleError> {
        let args = args.clone();
        Ok(match self {
            CommandModule::Command => {
                let p: CommandParams = params("command", args)?;
                Input {
                    raw: p._raw_params.or(p.cmd),
                    argv: p.argv,
                    chdir: p.chdir,
                    creates: p.creates,
                    removes: p.removes,
                    executable: None,
                    stdin: p.stdin,
                    stdin_add_newline: p.stdin_add_newline,
                    strip_empty_ends: p.strip_empty_ends,
                    expand: p.expand_argument_vars.unwrap_or(true),
                    ignored_executable: p.executable,
                }
            }
            CommandModule::Shell => {
                let p: ShellParams = params("shell", args)?;
                Input {
                    raw: p._raw_params.or(p.cmd),
                    argv: None,
                    chdir: p.chdir,
                    creates: p.creates,
                    removes: p.removes,
                    executable: p.executable,
                    stdin: p.stdin,
                    stdin_add_newline: p.stdin_add_newline,
                    strip_empty_ends: p.strip_empty_ends,
                    expand: false,
                    ignored_executable: None,
                }
            }
            CommandModule::Raw => {
                let p: RawParams = params("raw", args)?;
                Input {
                    raw: p._raw_params,
                    argv: None,
                    chdir: None,
                    creates: None,
                    removes: None,
                    executable: p.executable,
                    stdin: None,
                    stdin_add_newline: true,
                    strip_empty_ends: true,
                    expand: false,
                    ignored_executable: None,
                }
            }
        })
    }

    /// The plan for `args` (already templated). Pure: golden tests snapshot it.
    pub fn plan(self, args: &Map<String, Value>) -> Result<CommandPlan, ModuleError> {
        let input = self.input(args)?;
        let raw = input.raw.as_deref();
        let (mut cmd, shown): (RemoteCommand, Value) = match self {
            CommandModule::Command => {
                let argv: Vec<String> = match (&input.argv, raw) {
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
                if input.expand && super::expand_args::needed(&argv) {
                    (RemoteCommand::argv(super::expand_args::wrap(argv)), shown)
                } else {
                    (RemoteCommand::argv(argv), shown)
                }
            }
            CommandModule::Shell | CommandModule::Raw => {
                let script = raw.ok_or_else(|| ModuleError::Failed("no command given".into()))?;
                let cmd = match input.executable.as_deref() {
                    Some(exe) => RemoteCommand::argv([exe, "-c", script]),
                    None => RemoteCommand::shell(script),
                };
                (cmd, Value::String(script.to_string()))
            }
        };
        let mut guards = Vec::new();
        if self != CommandModule::Raw {
            let chdir = input.chdir.as_deref();
            for (key, skip_if_exists, path) in [
                ("creates", true, input.creates.as_deref()),
                ("removes", false, input.removes.as_deref()),
            ] {
                if let Some(path) = path {
                    let mut probe = RemoteCommand::argv(["test", "-e", path]);
                    if let (false, Some(d)) = (path.starts_with('/'), chdir) {
                        probe = probe.with_chdir(d);
                    }
                    guards.push(Guard {
                        key,
                        path: path.to_string(),
                        skip_if_exists,
                        probe,
                    });
                }
            }
            if let Some(d) = chdir {
                cmd = cmd.with_chdir(d);
            }
            if let Some(stdin) = input.stdin.as_deref() {
                let mut data = stdin.as_bytes().to_vec();
                if input.stdin_add_newline {
                    data.push(b'\n');
                }
                cmd = cmd.with_stdin(data);
            }
        }
        Ok(CommandPlan {
            shown,
            guards,
            cmd,
            strip_empty_ends: input.strip_empty_ends,
            // lib/ansible/modules/command.py: `executable` without a shell is dropped.
            warnings: input
                .ignored_executable
                .iter()
                .map(|e| format!("As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{e}'."))
                .collect(),
        })
    }
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
                params: spec_params::<RawParams>(),
                free_form: true,
                ..ParamSpec::default()
            },
            CommandModule::Command => ParamSpec {
                params: spec_params::<CommandParams>(),
                free_form: true,
                // lib/ansible/modules/command.py: mutually_exclusive=[[_raw_params, cmd, argv]].
                exclusive: &[&["_raw_params", "cmd", "argv"]],
                ..ParamSpec::default()
            },
            CommandModule::Shell => ParamSpec {
                params: spec_params::<ShellParams>(),
                free_form: true,
                ..ParamSpec::default()
            },
        }
    }
    /// The first `creates`/`removes` guard: a task without one has nothing to look at
    /// before it runs (and changes the host).
    async fn probe_command(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Option<RemoteCommand> {
        let plan = self.plan(&args).ok()?;
        let g = plan.guards.into_iter().next()?;
        Some(g.probe.with_become(ctx.become_.clone()))
    }

    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let plan = self.plan(&args)?;
        let mut cmd = plan.cmd;
        let mut out = TaskResult::new();
        out.insert("cmd", plan.shown);
        if !plan.warnings.is_empty() {
            let w = plan.warnings.iter().cloned().map(Value::String).collect();
            out.insert("warnings", Value::Array(w));
        }
        for g in &plan.guards {
            // A guard only looks, so it is a probe: the engine may have batched it
            // ([`Module::probe_command`]).
            let exists = ctx
                .transport
                .exec_probe(&g.probe.clone().with_become(ctx.become_.clone()))
                .await?
                .rc
                == 0;
            if exists == g.skip_if_exists {
                let why = format!(
                    "skipped, since {} {}",
                    g.path,
                    if exists { "exists" } else { "does not exist" }
                );
                out.set_changed(false);
                out.insert("rc", Value::from(0));
                out.insert(
                    "stdout_lines",
                    Value::Array(vec![Value::String(why.clone())]),
                );
                out.insert("stdout", Value::String(why));
                // As lib/ansible/modules/command.py: every field it promises, and why.
                out.set_msg(Value::String(format!(
                    "{} not run command since '{}' {}",
                    if ctx.check { "Would" } else { "Did" },
                    g.path,
                    if exists { "exists" } else { "does not exist" }
                )));
                out.insert("stderr", Value::String(String::new()));
                out.insert("stderr_lines", Value::Array(vec![]));
                for k in ["start", "end", "delta"] {
                    out.insert(k, Value::Null);
                }
                return Ok(out);
            }
        }
        if ctx.check {
            return Ok(self.check_mode_result(out, !plan.guards.is_empty()));
        }
        cmd.env = ctx.env.clone();
        cmd.timeout = ctx.timeout;
        let cmd = cmd.with_become(ctx.become_.clone());
        let start = Instant::now();
        let started = std::time::SystemTime::now();
        let res = ctx.transport.exec(&cmd).await?;
        let elapsed = start.elapsed();
        let (stdout, stderr) = if plan.strip_empty_ends {
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
        out.set_changed(true);
        out.insert_output(res.rc, stdout, stderr);
        // As lib/ansible/modules/command.py: `str()` of its datetimes, and `msg` always.
        let py = super::py_time::datetime;
        out.insert("start", Value::String(py(started)));
        out.insert("end", Value::String(py(started + elapsed)));
        out.insert("delta", Value::String(super::py_time::timedelta(elapsed)));
        if res.rc != 0 {
            out.set_failed(true);
            out.set_msg(Value::String("non-zero return code".into()));
        } else {
            out.set_msg(Value::String(String::new()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The plan, the exact shell line it becomes, and its stdin, for one set of args.
    fn golden(m: CommandModule, args: Value) -> Value {
        let args = args.as_object().cloned().unwrap();
        let p = m.plan(&args).unwrap();
        json!({
            "plan": p,
            "shell": p.cmd.to_shell(),
            "guard_shell": p.guards.iter().map(|g| g.probe.to_shell()).collect::<Vec<_>>(),
            "stdin": p.cmd.stdin.as_ref().map(|s| String::from_utf8_lossy(s).into_owned()),
        })
    }

    #[test]
    fn command_free_form_argv_chdir_creates_removes_stdin() {
        insta::assert_yaml_snapshot!(
            "command_free_form_with_guards",
            golden(
                CommandModule::Command,
                json!({"_raw_params": "kubeadm init --config 'my conf.yaml' $HOME",
                       "chdir": "/etc/kubernetes", "creates": "admin.conf",
                       "removes": "/tmp/flag", "stdin": "yes"})
            )
        );
        insta::assert_yaml_snapshot!(
            "command_argv_stdin_no_newline",
            golden(
                CommandModule::Command,
                json!({"argv": ["printf", "%s\n", "a b", "$(id)", 3],
                       "stdin": "secret", "stdin_add_newline": false})
            )
        );
    }

    #[test]
    fn shell_and_raw_with_executable() {
        insta::assert_yaml_snapshot!(
            "shell_executable_chdir_creates",
            golden(
                CommandModule::Shell,
                json!({"cmd": "set -o pipefail; ls | wc -l > out", "executable": "/bin/bash",
                       "chdir": "/srv/x", "creates": "out"})
            )
        );
        insta::assert_yaml_snapshot!(
            "shell_default_sh",
            golden(
                CommandModule::Shell,
                json!({"_raw_params": "echo \"$HOME\" 'it''s'"})
            )
        );
        insta::assert_yaml_snapshot!(
            "raw_executable",
            golden(
                CommandModule::Raw,
                json!({"_raw_params": "apt-get install -y python3", "executable": "/bin/bash"})
            )
        );
    }

    #[test]
    fn bad_commands_fail_before_anything_runs() {
        let e =
            |m: CommandModule, a: Value| m.plan(a.as_object().unwrap()).unwrap_err().to_string();
        assert_eq!(
            e(
                CommandModule::Command,
                json!({"_raw_params": "echo 'unclosed"})
            ),
            "unbalanced quotes in the command"
        );
        assert_eq!(
            e(CommandModule::Command, json!({"argv": "ls -l"})),
            "`argv` must be a list"
        );
        assert_eq!(e(CommandModule::Shell, json!({})), "no command given");
        assert_eq!(
            e(CommandModule::Command, json!({"argv": []})),
            "no command given"
        );
    }
}
