//! `ansible.builtin.debug`: print a message or a variable.
//!
//! With `verbosity: N` the message shows only when the run has at least `N` `-v`;
//! otherwise the task is skipped, as in Ansible.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx};

/// `debug: msg=…` or `debug: var=…`.
pub struct Debug;

/// Parameters of `debug`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugParams {
    /// The free form: the message, as `msg` would give it.
    #[serde(default)]
    pub _raw_params: Option<Value>,
    /// The message to print (any value). Default `Hello world!`.
    #[serde(default)]
    pub msg: Option<Value>,
    /// An expression to print with its value, evaluated as if wrapped in `{{ }}` (write
    /// no delimiters); an undefined one prints `VARIABLE IS NOT DEFINED!`. Not with `msg`.
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
            free_form: true,
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
    ) -> Result<ResultMap, ModuleError> {
        let p: DebugParams = params("debug", args)?;
        let mut out = ResultMap::new();
        out.insert("changed".into(), Value::Bool(false));
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
            out.insert("skipped".into(), Value::Bool(true));
            out.insert(
                "skipped_reason".into(),
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
                Err(e) if e.undefined.is_some() => Value::String("VARIABLE IS NOT DEFINED!".into()),
                Err(e) => return Err(ModuleError::Failed(e.message)),
            };
            out.insert(expr, value);
        } else {
            let msg = p
                .msg
                .or(p._raw_params)
                .unwrap_or_else(|| Value::String("Hello world!".into()));
            out.insert("msg".into(), msg);
        }
        Ok(out)
    }
}
