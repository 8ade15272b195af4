//! `ansible.builtin.debug`: print a message or a variable.
//!
//! With `verbosity: N` the message shows only when the run has at least `N` `-v`;
//! otherwise the task is skipped, as in Ansible.

use serde_json::{Map, Value};

use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx};

/// `debug: msg=…` or `debug: var=…`.
pub struct Debug;

#[async_trait::async_trait]
impl Module for Debug {
    fn name(&self) -> &'static str {
        "ansible.builtin.debug"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: &[("msg", &[]), ("var", &[]), ("verbosity", &[])],
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
        let mut out = ResultMap::new();
        out.insert("changed".into(), Value::Bool(false));
        let wanted = match args.get("verbosity") {
            None | Some(Value::Null) => Some(0),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| {
            ModuleError::Failed(format!(
                "verbosity must be a whole number, got {}",
                args.get("verbosity")
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
        if let Some(var) = args.get("var") {
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
            let msg = args
                .get("msg")
                .or_else(|| args.get("_raw_params"))
                .cloned()
                .unwrap_or_else(|| Value::String("Hello world!".into()));
            out.insert("msg".into(), msg);
        }
        Ok(out)
    }
}
