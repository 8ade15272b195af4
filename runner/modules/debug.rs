//! `ansible.builtin.debug`: print a message or a variable.
//!
//! With `verbosity: N` the message shows only when the run has at least `N` `-v`;
//! otherwise the task is skipped, as in Ansible. Modelled on ansible-core 2.19's
//! `lib/ansible/plugins/action/debug.py`: `msg` defaults to `Hello world!` only when it is
//! absent (`msg: null` prints `null`), and a `var` expression that fails to render prints
//! Ansible's numbered placeholder (`<< error 1 - 'x' is undefined >>`).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

/// `debug: msg=…` or `debug: var=…`.
pub struct Debug;

/// Parameters of `debug`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugParams {
    /// The message to print (any value, `null` too). Default (when absent) `Hello world!`.
    #[serde(default)]
    pub msg: Option<Value>,
    /// An expression to print with its value, evaluated as if wrapped in `{{ }}` (write
    /// no delimiters); one that fails to render (undefined) prints Ansible's placeholder
    /// `<< error 1 - 'name' is undefined >>`. Not with `msg`.
    #[serde(default)]
    pub var: Option<Value>,
    /// Print only when the run has at least this many `-v`; otherwise the task is
    /// skipped. Default `0`.
    #[serde(default)]
    pub verbosity: Option<Value>,
}

#[async_trait::async_trait]
impl Module for Debug {
    fn name(&self) -> &'static str {
        "ansible.builtin.debug"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<DebugParams>(),
            exclusive: &[&["msg", "var"]],
            ..ParamSpec::default()
        }
    }
    fn controller_only(&self) -> bool {
        true
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        // `msg: null` is a message; only an absent `msg` takes the default.
        let msg_given = args.contains_key("msg");
        let p: DebugParams = params("debug", args)?;
        let mut out = TaskResult::with_changed(false);
        let wanted = match &p.verbosity {
            None | Some(Value::Null) => Some(0),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| {
            ModuleError::Failed(format!(
                "verbosity must be a whole number, got {}",
                p.verbosity
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default()
            ))
        })?;
        if wanted > u64::from(ctx.verbosity) {
            out.set_skipped();
            out.insert(
                "skipped_reason",
                Value::String("Verbosity threshold not met.".into()),
            );
            return Ok(out);
        }
        if let Some(var) = &p.var {
            let expr = match var {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let value = match ctx.templar.eval(&expr, &ctx.vars, None) {
                Ok(v) => v,
                Err(e) if e.undefined.is_some() => {
                    // Ansible's `ReplacingMarkerBehavior` (lib/ansible/_internal/_templating/
                    // _marker_behaviors.py): the value becomes a numbered placeholder.
                    Value::String(format!("<< error 1 - {} >>", e.message))
                }
                Err(e) => return Err(ModuleError::Failed(e.message)),
            };
            out.insert(expr, value);
        } else {
            let msg = match p.msg {
                Some(m) => m,
                None if msg_given => Value::Null,
                None => Value::String("Hello world!".into()),
            };
            out.set_msg(msg);
        }
        Ok(out)
    }
}
