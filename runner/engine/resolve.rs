//! Resolving a task for one host (and one loop item): its keywords and arguments, templated
//! with the host's variables, become one [`Invocation`] — or a skip.
//!
//! Why this module exists: which `check_mode`, `environment`, `timeout`, `become`,
//! `delegate_to`, `retries`/`delay`/`until` a module call gets is the part of Ansible's
//! semantics with the most defaults and precedence rules (play context, task keywords,
//! connection variables). Here they are decided once, by a pure function with no host and
//! no transport, so the runner and the probe prefetcher cannot disagree, and the rules are
//! unit- and snapshot-tested like module plans. Opening the connection and running the
//! module stay with the runner.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::boolean::truthy;
use crate::command::{Become, BecomeMethod};
use crate::error::Loc;
use crate::playbook::numeric;
use crate::playbook::task::Task;
use crate::template::{Templar, TemplateError, Vars};

use super::RunOptions;

/// What resolving a task for a host gives.
#[derive(Debug, Serialize)]
pub(crate) enum Resolved {
    /// A `when` condition is false: the task does not run (the condition is the reason).
    Skip(String),
    /// The module runs so.
    Run(Box<Invocation>),
}

/// One module call, fully decided: everything but the connection itself.
#[derive(Debug, Serialize)]
pub(crate) struct Invocation {
    /// The module's arguments, templated, `omit` removed.
    pub args: Map<String, Value>,
    /// Where the module's commands go.
    pub target: Target,
    /// `delegate_to`, templated: reported with the result even for a controller-side module.
    pub delegate_to: Option<String>,
    /// Check mode: the task's `check_mode`, else the run's `--check`.
    pub check: bool,
    /// Diff mode: the task's `diff`, else the run's `--diff`.
    pub diff: bool,
    /// `environment`, outer maps first, a later key replacing an earlier one in place of it.
    pub env: Vec<(String, String)>,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// Privilege escalation.
    #[serde(rename = "become")]
    pub become_: Option<Become>,
    /// Where modules keep scratch files on the target.
    pub remote_tmp: String,
    /// `retries`/`delay`/`until`.
    pub retry: RetryPolicy,
    /// `no_log`; one that does not evaluate hides too.
    pub no_log: bool,
}

/// Where a module's commands go.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub(crate) enum Target {
    /// A controller-side module: a local transport, whatever `delegate_to` says.
    Controller,
    /// The task's own host.
    Host(String),
    /// The `delegate_to` host, over its own connection.
    Delegate(String),
}

/// How often a module call is repeated (`executor/task_executor.py`, `_execute`).
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct RetryPolicy {
    /// Runs after the first: `retries`, 3 with `until` and no `retries`, else 0.
    pub retries: usize,
    /// Between runs: `delay`, 5 seconds by default (`playbook/task.py`).
    pub delay: Duration,
    /// `until` conditions; with retries and none, "not failed" decides.
    pub until: Option<Vec<String>>,
}

/// Why a task could not be resolved; the message is the task's failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    /// A `when` condition did not evaluate.
    #[error("{0}")]
    Condition(String),
    /// A keyword, an argument or a connection variable did not template or is invalid.
    #[error("{0}")]
    Keyword(String),
}

impl From<String> for ResolveError {
    fn from(s: String) -> Self {
        ResolveError::Keyword(s)
    }
}

/// The module as resolving needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ModuleInfo<'a> {
    /// Its name (for the checks of its seconds-valued arguments).
    pub name: &'a str,
    /// Whether it runs on the controller.
    pub controller_only: bool,
}

/// What resolving reads besides the task: the templating engine and the run's options.
pub(crate) struct Resolver<'a> {
    pub templar: &'a Templar,
    pub opts: &'a RunOptions,
    /// The run's `omit` placeholder.
    pub omit: &'a str,
}

impl Resolver<'_> {
    /// Resolve `t` on `host`. `vars` are the host's variables with the task's layers and
    /// the loop item's; `target_vars` gives a delegate's variables (its connection and
    /// become settings apply to a delegated task, `playbook/play_context.py`,
    /// `set_task_and_variable_override`).
    pub fn resolve(
        &self,
        t: &Task,
        host: &str,
        vars: &Arc<dyn Vars>,
        module: ModuleInfo<'_>,
        target_vars: &dyn Fn(&str) -> Arc<dyn Vars>,
    ) -> Result<Resolved, ResolveError> {
        // delegate_to first: Ansible templates it before `when`, so a delegate_to that
        // cannot be templated fails a task its `when` skips (`_calculate_delegate_to` at the
        // top of TaskExecutor._execute_internal)
        let delegate_to = self.kw_string(&t.kw.delegate_to, vars, t)?;
        if let Some(c) = self.false_condition(t, vars)? {
            return Ok(Resolved::Skip(c));
        }
        let args = self.task_args(t, vars)?;
        numeric::check_module_seconds(module.name, &args, false)?;
        let check = self.mode(&t.kw.check_mode, self.opts.check, vars, t)?;
        let diff = self.mode(&t.kw.diff, self.opts.diff, vars, t)?;
        let env = self.environment(t, vars)?;
        let timeout = match &t.kw.timeout {
            Some(v) => numeric::timeout("timeout", &self.render_kw(v, vars, t)?)?,
            None => None,
        };
        let (target, password, remote_tmp) =
            self.target(t, host, vars, module, &delegate_to, target_vars)?;
        let become_ = self.become_for(t, vars, password)?;
        let retry = self.retry_policy(t, vars)?;
        let no_log = self.kw_bool(&t.kw.no_log, vars, t).unwrap_or(true);
        Ok(Resolved::Run(Box::new(Invocation {
            args,
            target,
            delegate_to,
            check,
            diff,
            env,
            timeout,
            become_,
            remote_tmp,
            retry,
            no_log,
        })))
    }

    /// Where the commands go, whether the target has a become password, and its
    /// `remote_tmp`. A controller-side module gets neither (nothing escalates there).
    fn target(
        &self,
        t: &Task,
        host: &str,
        vars: &Arc<dyn Vars>,
        module: ModuleInfo<'_>,
        delegate_to: &Option<String>,
        target_vars: &dyn Fn(&str) -> Arc<dyn Vars>,
    ) -> Result<(Target, bool, String), String> {
        if module.controller_only {
            let tmp = crate::command::DEFAULT_REMOTE_TMP.to_string();
            return Ok((Target::Controller, false, tmp));
        }
        let (target, tvars) = match delegate_to.as_deref() {
            Some(d) if d != host => (Target::Delegate(d.to_string()), target_vars(d)),
            _ => (Target::Host(host.to_string()), vars.clone()),
        };
        let password = self.become_password_var(&tvars, &t.loc)?.is_some();
        let remote_tmp = self.remote_tmp(&tvars, &t.loc)?;
        Ok((target, password, remote_tmp))
    }

    /// The first `when` condition that is false, if any (all are evaluated in order until
    /// then); one that does not evaluate is an error, worded as Ansible's.
    pub fn false_condition(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
    ) -> Result<Option<String>, ResolveError> {
        for c in &t.kw.when {
            let ok = self.templar.eval_bool(c, vars, Some(&t.loc)).map_err(|e| {
                ResolveError::Condition(format!(
                    "The conditional check '{c}' failed. The error was: {}",
                    located(e)
                ))
            })?;
            if !ok {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    }

    /// The task's module arguments, templated, with `omit` removed.
    pub fn task_args(&self, t: &Task, vars: &Arc<dyn Vars>) -> Result<Map<String, Value>, String> {
        let args = Value::Object(t.args.clone());
        let mut args = match self.templar.render_value(&args, vars, Some(&t.args_loc)) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) => return Err(located(e)),
        };
        remove_omit(&mut args, self.omit);
        Ok(args)
    }

    /// `check_mode`/`diff`: the task's keyword when set, else the run's option
    /// (`playbook/play_context.py`, `set_task_and_variable_override`).
    fn mode(
        &self,
        kw: &Option<Value>,
        run: bool,
        vars: &Arc<dyn Vars>,
        t: &Task,
    ) -> Result<bool, String> {
        match kw {
            Some(_) => self.kw_bool(kw, vars, t),
            None => Ok(run),
        }
    }

    /// `environment`: each map templated, outer first; a later key replaces an earlier one.
    fn environment(&self, t: &Task, vars: &Arc<dyn Vars>) -> Result<Vec<(String, String)>, String> {
        let mut env: Vec<(String, String)> = Vec::new();
        for e in &t.kw.environment {
            match self.render_kw(e, vars, t)? {
                Value::Object(m) => {
                    for (k, v) in m {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        env.retain(|(ek, _)| *ek != k);
                        env.push((k, v));
                    }
                }
                Value::Null => {}
                other => {
                    let got = type_name(&other);
                    return Err(format!("`environment` must be a mapping, got {got}"));
                }
            }
        }
        Ok(env)
    }

    /// As `executor/task_executor.py`: one run plus `retries` (3 by default with `until`);
    /// `delay` 5 seconds by default (`playbook/task.py`).
    fn retry_policy(&self, t: &Task, vars: &Arc<dyn Vars>) -> Result<RetryPolicy, String> {
        let retries = match &t.retries {
            Some(v) => numeric::retries(&self.render_kw(v, vars, t)?)?,
            None if t.until.is_some() => 3,
            None => 0,
        };
        let delay = match &t.delay {
            Some(v) => numeric::delay(&self.render_kw(v, vars, t)?)?,
            None => Duration::from_secs(5),
        };
        Ok(RetryPolicy {
            retries,
            delay,
            until: t.until.clone(),
        })
    }

    /// Privilege escalation for `t` on a host: the connection variables `ansible_become`,
    /// `ansible_become_user`, `ansible_become_method` and `ansible_become_flags` when set
    /// (variables beat playbook keywords: `playbook/play_context.py`,
    /// `set_task_and_variable_override`, applies `MAGIC_VARIABLE_MAPPING` after the task),
    /// else the `become*` keywords of the task, its blocks and play.
    pub fn become_for(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        target_password: bool,
    ) -> Result<Option<Become>, String> {
        if !self.become_enabled(t, vars)? {
            return Ok(None);
        }
        let d = &self.opts.become_defaults;
        let user = self
            .become_setting(t, vars, "ansible_become_user", &t.kw.become_user)?
            .or_else(|| d.user.clone())
            .unwrap_or_else(|| "root".into());
        let method = self
            .become_setting(t, vars, "ansible_become_method", &t.kw.become_method)?
            .or_else(|| d.method.clone());
        let method = match method.as_deref() {
            None | Some("sudo") => BecomeMethod::Sudo,
            Some("su") => BecomeMethod::Su,
            Some(other) => {
                return Err(format!(
                    "become_method `{other}` is not supported (use sudo or su)"
                ));
            }
        };
        let flags = match self
            .become_setting(t, vars, "ansible_become_flags", &t.kw.become_flags)?
            .or_else(|| d.flags.clone())
        {
            Some(f) => crate::command::split(&f).ok_or("unbalanced quotes in become_flags")?,
            None => Vec::new(),
        };
        Ok(Some(Become {
            method,
            user,
            flags,
            with_password: target_password || self.opts.become_password.is_some(),
        }))
    }

    /// `ansible_become` when set (a string must be a boolean), else the `become` keyword,
    /// else the run's default (`-b`, ansible.cfg `become`).
    fn become_enabled(&self, t: &Task, vars: &Arc<dyn Vars>) -> Result<bool, String> {
        Ok(match self.var(t, vars, "ansible_become")? {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) => crate::boolean::parse_bool(&s)
                .ok_or_else(|| format!("ansible_become must be a boolean, got `{s}`"))?,
            Some(other) => truthy(&other),
            None if t.kw.become_.is_none() => self.opts.become_defaults.enabled.unwrap_or(false),
            None => self.kw_bool(&t.kw.become_, vars, t)?,
        })
    }

    /// A become setting: the variable `name` when set (and not null), else the keyword.
    fn become_setting(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        name: &str,
        kw: &Option<Value>,
    ) -> Result<Option<String>, String> {
        match self.var(t, vars, name)?.and_then(text) {
            Some(v) => Ok(Some(v)),
            None => self.kw_string(kw, vars, t),
        }
    }

    /// A variable's value, templated (`None` when undefined).
    fn var(&self, t: &Task, vars: &Arc<dyn Vars>, name: &str) -> Result<Option<Value>, String> {
        match vars.get(name) {
            None => Ok(None),
            Some(v) => self.render_kw(&v, vars, t).map(Some),
        }
    }

    /// The host's become password (`ansible_become_password`, or the older
    /// `ansible_become_pass`), templated. It is a secret: it only ever reaches the become
    /// program's stdin, and an error about it never quotes it.
    pub fn become_password_var(
        &self,
        vars: &Arc<dyn Vars>,
        loc: &Loc,
    ) -> Result<Option<String>, String> {
        for name in ["ansible_become_password", "ansible_become_pass"] {
            let Some(v) = vars.get(name) else { continue };
            let v = self
                .templar
                .render_value(&v, vars, Some(loc))
                .map_err(|e| {
                    let why = e
                        .undefined
                        .map(|u| format!("`{u}` is undefined"))
                        .unwrap_or_else(|| "it is not a valid template".into());
                    format!(
                        "{name} could not be templated ({why}; its value is secret and not shown)"
                    )
                })?;
            return Ok(text(v));
        }
        Ok(None)
    }

    /// Where modules keep scratch files on the host: `ansible_remote_tmp` (templated), else
    /// the configuration's `remote_tmp`, else `~/.ansible/tmp`.
    pub fn remote_tmp(&self, vars: &Arc<dyn Vars>, loc: &Loc) -> Result<String, String> {
        let var = match vars.get("ansible_remote_tmp") {
            None => None,
            Some(v) => match self.templar.render_value(&v, vars, Some(loc)) {
                Ok(Value::Null) => None,
                Ok(Value::String(s)) => Some(s),
                Ok(other) => {
                    return Err(format!(
                        "ansible_remote_tmp must be a path, got {}",
                        type_name(&other)
                    ));
                }
                Err(e) => return Err(format!("ansible_remote_tmp: {}", located(e))),
            },
        };
        let base = var
            .or_else(|| self.opts.remote_tmp.clone())
            .unwrap_or_else(|| crate::command::DEFAULT_REMOTE_TMP.to_string());
        crate::command::check_remote_tmp(&base).map_err(|e| format!("ansible_remote_tmp {e}"))?;
        Ok(base)
    }

    /// A boolean keyword: unset is false; a string is a template.
    pub fn kw_bool(
        &self,
        v: &Option<Value>,
        vars: &Arc<dyn Vars>,
        t: &Task,
    ) -> Result<bool, String> {
        match v {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => self
                .templar
                .render_str(s, vars, Some(&t.loc))
                .map(|v| truthy(&v))
                .map_err(located),
            Some(other) => Ok(truthy(other)),
        }
    }

    /// A string keyword, templated (null is unset).
    pub fn kw_string(
        &self,
        v: &Option<Value>,
        vars: &Arc<dyn Vars>,
        t: &Task,
    ) -> Result<Option<String>, String> {
        match v {
            None => Ok(None),
            Some(v) => self.render_kw(v, vars, t).map(text),
        }
    }

    /// A keyword's value, templated with the task's variables (a failure names the task).
    pub fn render_kw(&self, v: &Value, vars: &Arc<dyn Vars>, t: &Task) -> Result<Value, String> {
        self.templar
            .render_value(v, vars, Some(&t.loc))
            .map_err(located)
    }
}

/// A value as a setting's text: null is none, a string itself, anything else its JSON.
fn text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A template error's message with where it happened, as Ansible's "The error appears to
/// be in …" does.
pub(crate) fn located(e: TemplateError) -> String {
    match &e.loc {
        Some(loc) if !e.message.contains(&loc.to_string()) => format!("{} (in {loc})", e.message),
        _ => e.message,
    }
}

/// Drop arguments whose value is `omit`, as Ansible's `remove_omit`: in the arguments and
/// in nested mappings (also mappings inside lists); a list item that is `omit` itself stays.
fn remove_omit(args: &mut Map<String, Value>, omit: &str) {
    args.retain(|_, v| v.as_str() != Some(omit));
    for v in args.values_mut() {
        match v {
            Value::Object(m) => remove_omit(m, omit),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(m) = item {
                        remove_omit(m, omit);
                    }
                }
            }
            _ => {}
        }
    }
}

/// How a value's type is named in messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::task::Keywords;
    use crate::template::MapVars;
    use serde_json::json;

    const OMIT: &str = "__omit_place_holder__test";

    fn task(args: Value, kw: Keywords) -> Task {
        let args = args.as_object().cloned().unwrap_or_default();
        Task::synthetic(
            "t",
            "ansible.builtin.command",
            args,
            Loc::file("play.yml"),
            kw,
        )
    }

    const COMMAND: ModuleInfo<'static> = ModuleInfo {
        name: "ansible.builtin.command",
        controller_only: false,
    };

    /// Resolve `t` on `web1` with `vars`; the delegate `db1` has `delegate` as variables.
    fn resolve_with(
        opts: &RunOptions,
        t: &Task,
        vars: Value,
        module: ModuleInfo<'_>,
        delegate: Value,
    ) -> Result<Resolved, ResolveError> {
        let templar = Templar::new();
        let r = Resolver {
            templar: &templar,
            opts,
            omit: OMIT,
        };
        let vars = MapVars::new(vars).into_dyn();
        let delegate = MapVars::new(delegate).into_dyn();
        let target_vars = |name: &str| {
            assert_eq!(name, "db1", "only the delegate's variables are asked for");
            delegate.clone()
        };
        r.resolve(t, "web1", &vars, module, &target_vars)
    }

    fn run(opts: &RunOptions, t: &Task, vars: Value) -> Invocation {
        match resolve_with(opts, t, vars, COMMAND, json!({})) {
            Ok(Resolved::Run(inv)) => *inv,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    /// A task with no keywords: the run's modes, no become, no retries, the default
    /// remote_tmp, its own host.
    #[test]
    fn defaults() {
        let t = task(json!({"cmd": "uptime"}), Keywords::default());
        let inv = run(&RunOptions::default(), &t, json!({}));
        insta::assert_yaml_snapshot!("resolve_defaults", inv);
    }

    /// Every keyword set, most of them templates.
    #[test]
    fn every_keyword() {
        let kw = Keywords {
            become_: Some(json!("{{ escalate }}")),
            become_user: Some(json!("app")),
            become_flags: Some(json!("-H -S")),
            environment: vec![json!({"A": "1", "B": 2}), json!({"A": "{{ a }}"})],
            check_mode: Some(json!(true)),
            diff: Some(json!("{{ show }}")),
            timeout: Some(json!("{{ limit }}")),
            no_log: Some(json!(false)),
            ..Keywords::default()
        };
        let mut t = task(json!({"cmd": "{{ c }}", "chdir": OMIT}), kw);
        t.until = Some(vec!["r is succeeded".into()]);
        t.retries = Some(json!("{{ n }}"));
        t.delay = Some(json!(1.5));
        let vars = json!({
            "escalate": true, "a": "x", "show": "yes", "limit": 30, "c": "id", "n": 2,
            "ansible_remote_tmp": "/var/tmp/w",
        });
        let inv = run(&RunOptions::default(), &t, vars);
        insta::assert_yaml_snapshot!("resolve_every_keyword", inv);
    }

    /// A false `when` skips with the condition as the reason; one that does not evaluate
    /// is a condition error (the prefetcher passes over those).
    #[test]
    fn when_skips_or_fails() {
        let kw = Keywords {
            when: vec!["true".into(), "go | bool".into(), "never_reached".into()],
            ..Keywords::default()
        };
        let t = task(json!({"cmd": "{{ undefined_var }}"}), kw);
        let r = resolve_with(
            &RunOptions::default(),
            &t,
            json!({"go": false}),
            COMMAND,
            json!({}),
        );
        assert!(matches!(r, Ok(Resolved::Skip(c)) if c == "go | bool"));
        let r = resolve_with(&RunOptions::default(), &t, json!({}), COMMAND, json!({}));
        let Err(ResolveError::Condition(msg)) = r else {
            panic!("expected a condition error, got {r:?}")
        };
        assert!(
            msg.starts_with("The conditional check 'go | bool' failed."),
            "{msg}"
        );
        // The conditions hold: the argument's undefined variable is a keyword error.
        let vars = json!({"go": true, "never_reached": true});
        let r = resolve_with(&RunOptions::default(), &t, vars, COMMAND, json!({}));
        assert!(matches!(r, Err(ResolveError::Keyword(_))), "{r:?}");
    }

    /// `check_mode`/`diff` on the task beat `--check`/`--diff`; unset, the run's apply
    /// (play_context.py `set_task_and_variable_override`).
    #[test]
    fn task_modes_beat_run_options() {
        let opts = RunOptions {
            check: true,
            diff: true,
            ..RunOptions::default()
        };
        let plain = task(json!({}), Keywords::default());
        let inv = run(&opts, &plain, json!({}));
        assert!(inv.check && inv.diff);
        let kw = Keywords {
            check_mode: Some(json!("{{ dry }}")),
            diff: Some(json!(false)),
            ..Keywords::default()
        };
        let inv = run(&opts, &task(json!({}), kw), json!({"dry": false}));
        assert!(!inv.check && !inv.diff);
    }

    /// Connection variables beat the `become*` keywords (play_context.py applies
    /// `MAGIC_VARIABLE_MAPPING` after the task's keywords).
    #[test]
    fn become_variables_beat_keywords() {
        let kw = Keywords {
            become_: Some(json!(false)),
            become_user: Some(json!("kw_user")),
            become_method: Some(json!("sudo")),
            ..Keywords::default()
        };
        let t = task(json!({}), kw);
        let vars = json!({
            "ansible_become": "yes",
            "ansible_become_user": "{{ who }}",
            "ansible_become_method": "su",
            "who": "var_user",
            "ansible_become_password": "s3cret",
        });
        let b = run(&RunOptions::default(), &t, vars)
            .become_
            .expect("become");
        assert_eq!(b.user, "var_user");
        assert_eq!(b.method, BecomeMethod::Su);
        assert!(b.with_password, "the host has a become password");
        let bad = json!({"ansible_become": "maybe"});
        let r = resolve_with(&RunOptions::default(), &t, bad, COMMAND, json!({}));
        assert!(matches!(r, Err(ResolveError::Keyword(m)) if m.contains("must be a boolean")));
    }

    /// `-b`/`--become-user`/`--become-method` and ansible.cfg `[privilege_escalation]`
    /// are the keywords' defaults: a keyword that is set wins (playbook/base.py's
    /// `cliargs_deferred_get` defaults), an unset one takes them.
    #[test]
    fn become_defaults_yield_to_keywords() {
        let opts = RunOptions {
            become_defaults: crate::become_defaults::BecomeDefaults {
                enabled: Some(true),
                user: Some("cfg_user".into()),
                method: Some("su".into()),
                flags: Some("-s /bin/sh".into()),
                ask_pass: None,
            },
            ..RunOptions::default()
        };
        let b = run(&opts, &task(json!({}), Keywords::default()), json!({}))
            .become_
            .expect("become from the defaults");
        assert_eq!(b.user, "cfg_user");
        assert_eq!(b.method, BecomeMethod::Su);
        assert_eq!(b.flags, vec!["-s", "/bin/sh"]);
        let off = Keywords {
            become_: Some(json!(false)),
            ..Keywords::default()
        };
        assert!(
            run(&opts, &task(json!({}), off), json!({}))
                .become_
                .is_none()
        );
        let own = Keywords {
            become_user: Some(json!("kw_user")),
            become_method: Some(json!("sudo")),
            ..Keywords::default()
        };
        let b = run(&opts, &task(json!({}), own), json!({}))
            .become_
            .unwrap();
        assert_eq!((b.user.as_str(), b.method), ("kw_user", BecomeMethod::Sudo));
        let none = run(
            &RunOptions::default(),
            &task(json!({}), Keywords::default()),
            json!({}),
        );
        assert!(none.become_.is_none());
    }

    /// `--ask-become-pass` gives every escalation a password; a method other than sudo
    /// or su is refused.
    #[test]
    fn become_password_option_and_methods() {
        let kw = Keywords {
            become_: Some(json!(true)),
            ..Keywords::default()
        };
        let opts = RunOptions {
            become_password: Some("pw".into()),
            ..RunOptions::default()
        };
        let b = run(&opts, &task(json!({}), kw.clone()), json!({})).become_;
        assert_eq!(
            b.as_ref().map(|b| (b.user.as_str(), b.with_password)),
            Some(("root", true))
        );
        let kw = Keywords {
            become_method: Some(json!("doas")),
            ..kw
        };
        let r = resolve_with(&opts, &task(json!({}), kw), json!({}), COMMAND, json!({}));
        assert!(
            matches!(r, Err(ResolveError::Keyword(m)) if m.contains("`doas` is not supported"))
        );
    }

    /// `until` without `retries` retries 3 times; no `until`, no `retries`: none;
    /// `delay` defaults to 5 seconds (task_executor.py, task.py).
    #[test]
    fn retry_defaults() {
        let mut t = task(json!({}), Keywords::default());
        let none = run(&RunOptions::default(), &t, json!({})).retry;
        assert_eq!((none.retries, none.delay), (0, Duration::from_secs(5)));
        t.until = Some(vec!["r.rc == 0".into()]);
        let until = run(&RunOptions::default(), &t, json!({})).retry;
        assert_eq!(until.retries, 3);
        t.retries = Some(json!(-4));
        assert_eq!(run(&RunOptions::default(), &t, json!({})).retry.retries, 0);
    }

    /// A delegated task connects to the delegate with the delegate's become password and
    /// remote_tmp; delegating to the host itself is the host; a controller-side module
    /// runs here but still reports the delegate.
    #[test]
    fn targets() {
        let kw = Keywords {
            delegate_to: Some(json!("{{ other }}")),
            ..Keywords::default()
        };
        let t = task(json!({}), kw);
        let delegate = json!({"ansible_remote_tmp": "/d/tmp", "ansible_become_pass": "x"});
        let host = json!({"other": "db1", "ansible_remote_tmp": "/h/tmp"});
        let opts = RunOptions::default();
        let Ok(Resolved::Run(inv)) = resolve_with(&opts, &t, host.clone(), COMMAND, delegate)
        else {
            panic!("expected a run")
        };
        assert_eq!(inv.target, Target::Delegate("db1".into()));
        assert_eq!(inv.remote_tmp, "/d/tmp");
        let inv = run(&opts, &t, json!({"other": "web1"}));
        assert_eq!(inv.target, Target::Host("web1".into()));
        assert_eq!(inv.delegate_to.as_deref(), Some("web1"));
        let local = ModuleInfo {
            name: "ansible.builtin.debug",
            controller_only: true,
        };
        let Ok(Resolved::Run(inv)) = resolve_with(&opts, &t, host, local, json!({})) else {
            panic!("expected a run")
        };
        assert_eq!(inv.target, Target::Controller);
        assert_eq!(inv.delegate_to.as_deref(), Some("db1"));
        assert_eq!(inv.remote_tmp, crate::command::DEFAULT_REMOTE_TMP);
    }

    /// `ansible_remote_tmp` beats the configuration's `remote_tmp`, which beats the default.
    #[test]
    fn remote_tmp_precedence() {
        let t = task(json!({}), Keywords::default());
        let opts = RunOptions {
            remote_tmp: Some("/cfg/tmp".into()),
            ..RunOptions::default()
        };
        assert_eq!(run(&opts, &t, json!({})).remote_tmp, "/cfg/tmp");
        let vars = json!({"ansible_remote_tmp": "/var/tmp"});
        assert_eq!(run(&opts, &t, vars).remote_tmp, "/var/tmp");
    }

    /// `environment` must be mappings; a later map's key replaces an earlier one.
    #[test]
    fn environment_rules() {
        let kw = Keywords {
            environment: vec![json!({"A": "1", "B": "2"}), json!(null), json!({"A": "3"})],
            ..Keywords::default()
        };
        let env = run(&RunOptions::default(), &task(json!({}), kw), json!({})).env;
        assert_eq!(
            env,
            vec![("B".into(), "2".into()), ("A".into(), "3".into())]
        );
        let kw = Keywords {
            environment: vec![json!(["A=1"])],
            ..Keywords::default()
        };
        let r = resolve_with(
            &RunOptions::default(),
            &task(json!({}), kw),
            json!({}),
            COMMAND,
            json!({}),
        );
        assert!(matches!(r, Err(ResolveError::Keyword(m)) if m.contains("must be a mapping")));
    }

    /// `omit` drops arguments, also in nested mappings; a `no_log` that does not evaluate
    /// hides.
    #[test]
    fn omit_and_no_log() {
        let kw = Keywords {
            no_log: Some(json!("{{ nope }}")),
            ..Keywords::default()
        };
        let args = json!({"a": OMIT, "b": {"c": OMIT, "d": 1}, "e": [OMIT, {"f": OMIT}]});
        let inv = run(&RunOptions::default(), &task(args, kw), json!({}));
        assert_eq!(
            Value::Object(inv.args),
            json!({"b": {"d": 1}, "e": [OMIT, {}]})
        );
        assert!(inv.no_log);
    }
}
