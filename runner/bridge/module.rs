//! A bridged module: an installed Ansible module run through the user's ansible-core.
//!
//! Why this module exists: to the engine a bridged module is a [`Module`] like any other,
//! so every keyword around it (`when`, loops, `become`, `environment`, `register`,
//! `changed_when`, retries, `delegate_to`) applies unchanged. Per task and host it costs
//! one local request to build the payload, one round trip to the host (the AnsiballZ
//! script piped to `<python>` on stdin, as Ansible's pipelining does), one local request
//! to parse the answer, plus, once per host, interpreter discovery.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::{Bridge, HelperError, discover, helper};
use crate::command::RemoteCommand;
use crate::modules::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

/// An installed module the bridge runs (resolved at load time).
pub(crate) struct BridgedModule {
    bridge: Arc<Bridge>,
    fqcn: &'static str,
    /// The module's file, as ansible-core found it at load time.
    path: Option<String>,
}

impl BridgedModule {
    pub(crate) fn new(bridge: Arc<Bridge>, fqcn: &str, path: Option<String>) -> Self {
        BridgedModule {
            bridge,
            fqcn: intern(fqcn),
            path,
        }
    }
}

/// A module name kept for the whole process (the [`Module`] trait names modules with
/// `&'static str`): each distinct name is leaked once.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut names) = NAMES.lock() else {
        return Box::leak(name.to_string().into_boxed_str());
    };
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

#[async_trait::async_trait]
impl Module for BridgedModule {
    fn name(&self) -> &'static str {
        self.fqcn
    }

    fn ansible_file(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Any parameter: the module itself checks them, as it does under Ansible.
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            open: true,
            ..ParamSpec::default()
        }
    }

    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let call = match self.prepare(ctx, args, 0).await? {
            Ok(call) => call,
            Err(failed) => return Ok(*failed),
        };
        let mut cmd = command(
            &call.built.shebang,
            &call.python,
            call.payload()?,
            ctx.become_.clone(),
        );
        cmd.env = ctx.env.clone();
        cmd.timeout = ctx.timeout;
        let out = ctx.transport.exec(&cmd).await?;
        self.parse(&out, &call).await
    }

    /// `async` with any `poll`: the module under ansible-core's `async_wrapper`, as
    /// [`super::async_job`] starts it.
    async fn start_job(
        &self,
        ctx: &TaskCtx<'_>,
        args: &Map<String, Value>,
        jid: &str,
        limit: u64,
    ) -> Option<Result<TaskResult, ModuleError>> {
        Some(super::async_job::start(self, ctx, args.clone(), jid, limit).await)
    }
}

/// One prepared call of a bridged module: the Python, the built payload, whether this
/// task discovered the Python.
pub(crate) struct Call {
    /// The task's diff mode (what the result prints).
    pub(crate) diff: bool,
    pub(crate) python: String,
    pub(crate) built: helper::Built,
    pub(crate) discovered: Option<String>,
}

impl Call {
    /// The AnsiballZ script's bytes.
    pub(crate) fn payload(&self) -> Result<Vec<u8>, ModuleError> {
        decode(&self.built)
    }
}

/// A built payload's bytes.
pub(crate) fn decode(built: &helper::Built) -> Result<Vec<u8>, ModuleError> {
    base64::engine::general_purpose::STANDARD
        .decode(built.payload.as_bytes())
        .map_err(|e| ModuleError::Failed(format!("the bridge built no payload: {e}")))
}

impl BridgedModule {
    /// The module's call (`async_timeout`: the task's `async`, 0 without): the `dnf`
    /// action's backend choice, the host's Python, the payload; the action's own failure
    /// when it fails before any module runs.
    pub(crate) async fn prepare(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
        async_timeout: u64,
    ) -> Result<Result<Call, Box<TaskResult>>, ModuleError> {
        let (fqcn, args) = match self.fqcn {
            "ansible.builtin.dnf" => match dnf_backend(pkg_mgr(ctx).as_deref(), args) {
                Ok(chosen) => chosen,
                Err(failed) => return Ok(Err(failed)),
            },
            other => (other.to_string(), args),
        };
        let (python, discovered) = self.interpreter(ctx).await?;
        let extra = json!({"async_timeout": async_timeout});
        let built = self.build(ctx, &fqcn, args, &python, extra).await?;
        Ok(Ok(Call {
            diff: ctx.diff,
            python,
            built,
            discovered,
        }))
    }

    /// ansible-core's `async_wrapper` module, built as `_configure_module` builds it (no
    /// arguments) for `python`.
    pub(crate) async fn wrapper(
        &self,
        ctx: &TaskCtx<'_>,
        python: &str,
    ) -> Result<helper::Built, ModuleError> {
        let extra = json!({"plain": true});
        let fqcn = "ansible.legacy.async_wrapper";
        self.build(ctx, fqcn, Map::new(), python, extra).await
    }

    /// The module's output, parsed by ansible-core (`_parse_returned_data`).
    pub(crate) async fn parse(
        &self,
        out: &crate::transport::ExecOutput,
        call: &Call,
    ) -> Result<TaskResult, ModuleError> {
        let req = json!({
            "op": "parse",
            "stdout": String::from_utf8_lossy(&out.stdout),
            "stderr": String::from_utf8_lossy(&out.stderr),
            "rc": out.rc,
            "shebang": call.built.shebang,
            "profile": call.built.profile,
        });
        let parsed = self.ask(req).await?;
        let result = match parsed.get("result") {
            Some(Value::Object(m)) => m.clone(),
            _ => return Err(ModuleError::Failed("the bridge parsed no result".into())),
        };
        let warnings = super::strings(&parsed["warnings"]);
        Ok(super::result::task_result(
            result,
            warnings,
            call.discovered.as_deref(),
            call.diff,
        ))
    }
}

impl BridgedModule {
    /// The Python to run with (the delegate's under `delegate_to`), and whether this task
    /// discovered it for a result that reports it (then it joins the result's
    /// `ansible_facts`).
    async fn interpreter(
        &self,
        ctx: &TaskCtx<'_>,
    ) -> Result<(String, Option<String>), ModuleError> {
        let (target, vars, report) = discover::target(ctx);
        if let Some(py) = discover::configured(ctx, vars)? {
            return Ok((py, None));
        }
        if let Some(py) = discover::known(vars).or_else(|| self.bridge.interpreter(target)) {
            return Ok((py, None));
        }
        // The helper is running (the module was resolved through it): its fallback list.
        let mut fallback = self.bridge.python_fallback();
        if let Some(l @ Value::Array(_)) = vars.get("ansible_interpreter_python_fallback") {
            fallback = super::strings(&l);
        }
        // On the target: a delegated task's transport is the delegate's.
        let out = ctx.transport.exec(&discover::probe(&fallback)).await?;
        let py = discover::parse(&out.stdout_str());
        self.bridge.set_interpreter(target, &py);
        if !report {
            return Ok((py, None));
        }
        Ok((py.clone(), Some(py)))
    }

    /// The payload ansible-core builds for this call.
    async fn build(
        &self,
        ctx: &TaskCtx<'_>,
        fqcn: &str,
        args: Map<String, Value>,
        python: &str,
        extra: Value,
    ) -> Result<helper::Built, ModuleError> {
        let mut task_vars = Map::new();
        task_vars.insert("ansible_python_interpreter".into(), json!(python));
        if let Some(v) = ctx.vars.get("ansible_syslog_facility") {
            task_vars.insert("ansible_syslog_facility".into(), v);
        }
        let mut req = json!({
            "op": "build",
            "fqcn": fqcn,
            "args": args,
            "task": {
                "check_mode": ctx.check,
                "diff": ctx.diff,
                "no_log": ctx.no_log,
                "verbosity": ctx.verbosity,
                "remote_tmp": ctx.remote_tmp,
            },
            "task_vars": task_vars,
        });
        if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
            r.extend(e);
        }
        let v = self.ask(req).await?;
        serde_json::from_value(v)
            .map_err(|e| ModuleError::Failed(format!("the bridge built oddly: {e}")))
    }

    /// One helper request, off the async workers (the helper answers one at a time).
    async fn ask(&self, req: Value) -> Result<Value, ModuleError> {
        let bridge = self.bridge.clone();
        tokio::task::spawn_blocking(move || bridge.request(&req))
            .await
            .map_err(|e| ModuleError::Failed(format!("the bridge request stopped: {e}")))?
            .map_err(|e: HelperError| ModuleError::Failed(e.to_string()))
    }
}

/// The host command: the interpreter of the payload's `#!` line (ansible-core's choice,
/// normally `python`) reading the payload on stdin, with the task's become (its environment
/// and timeout are the caller's to add), as a pipelined Ansible module call.
pub(crate) fn command(
    shebang: &str,
    python: &str,
    payload: Vec<u8>,
    become_: Option<crate::command::Become>,
) -> RemoteCommand {
    let mut argv: Vec<String> = shebang
        .trim_start_matches("#!")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if argv.is_empty() {
        argv.push(python.to_string());
    }
    RemoteCommand::argv(argv)
        .with_stdin(payload)
        .with_become(become_)
}

/// The host's `pkg_mgr` fact, if gathered.
fn pkg_mgr(ctx: &TaskCtx<'_>) -> Option<String> {
    match ctx.vars.get("ansible_facts")? {
        Value::Object(f) => f.get("pkg_mgr").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Ansible's backends of the `dnf` action (plugins/action/dnf.py).
const DNF_BACKENDS: &[&str] = &["yum", "yum4", "dnf", "dnf4", "dnf5"];

/// What the `dnf` action plugin decides on the controller, before running a module: the
/// backend from `use`/`use_backend`, else the host's `pkg_mgr` fact; those two arguments
/// are not the module's. No backend known: the action's failure.
pub(crate) fn dnf_backend(
    pkg_mgr: Option<&str>,
    mut args: Map<String, Value>,
) -> Result<(String, Map<String, Value>), Box<TaskResult>> {
    if args.contains_key("use") && args.contains_key("use_backend") {
        return Err(Box::new(TaskResult::failure(
            "parameters are mutually exclusive: ('use', 'use_backend')",
        )));
    }
    let given = args
        .remove("use")
        .or_else(|| args.remove("use_backend"))
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "auto".into());
    let mut backend = given.clone();
    if (given == "auto" || given == "yum")
        && let Some(m) = pkg_mgr
    {
        backend = m.to_string();
    }
    if !DNF_BACKENDS.contains(&backend.as_str()) {
        return Err(Box::new(TaskResult::failure(
            "Could not detect which major revision of dnf is in use, which is required to determine module backend. (gather facts first, or set use_backend)",
        )));
    }
    let module = match backend.as_str() {
        "yum4" | "dnf4" => "dnf",
        other => other,
    };
    Ok((format!("ansible.legacy.{module}"), args))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Become, BecomeMethod};

    #[test]
    fn the_payload_goes_to_the_shebang_python_on_stdin_become_wrapped() {
        let b = Become {
            method: BecomeMethod::Sudo,
            user: "nobody".into(),
            flags: vec![],
            with_password: false,
        };
        let mut cmd = command("#!/usr/bin/python3", "/x", b"print(1)".to_vec(), Some(b));
        cmd.env = vec![("TMPDIR".into(), "/var/tmp/a b".into())];
        assert_eq!(cmd.stdin.as_deref(), Some(&b"print(1)"[..]));
        insta::assert_snapshot!(cmd.to_shell());
        // No shebang: the interpreter chosen for the host.
        let bare = command("", "/usr/bin/python3.11", vec![], None);
        assert_eq!(bare.to_shell(), "/usr/bin/python3.11");
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_dnf_backend_is_chosen_as_the_dnf_action_chooses_it() {
        let (m, a) = dnf_backend(None, args(json!({"name": "x", "use_backend": "dnf4"}))).unwrap();
        assert_eq!(m, "ansible.legacy.dnf");
        assert_eq!(a, args(json!({"name": "x"})));
        let (m, _) = dnf_backend(Some("dnf5"), args(json!({"name": "x"}))).unwrap();
        assert_eq!(m, "ansible.legacy.dnf5");
        let (m, _) = dnf_backend(Some("dnf5"), args(json!({"name": "x", "use": "yum"}))).unwrap();
        assert_eq!(m, "ansible.legacy.dnf5", "yum means: ask the facts");
        let unknown = dnf_backend(Some("apt"), args(json!({"name": "x"}))).unwrap_err();
        assert!(unknown.failed());
        let both =
            dnf_backend(None, args(json!({"use": "dnf", "use_backend": "dnf"}))).unwrap_err();
        assert_eq!(
            both.msg(),
            Some(&json!(
                "parameters are mutually exclusive: ('use', 'use_backend')"
            ))
        );
    }
}
