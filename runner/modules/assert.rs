//! `ansible.builtin.assert` and `ansible.builtin.fail`: stop a host when something is wrong.

use serde_json::{Map, Value};

use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx, bool_arg};

/// `assert: that=[…]`.
pub struct Assert;

#[async_trait::async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "ansible.builtin.assert"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: &[
                ("that", &[]),
                ("fail_msg", &["msg"]),
                ("success_msg", &[]),
                ("quiet", &[]),
            ],
            required: &["that"],
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
        let conds: Vec<String> = match args.get("that") {
            Some(Value::Array(a)) => a.iter().map(cond_text).collect(),
            Some(v) => vec![cond_text(v)],
            None => return Err(ModuleError::Failed("assert needs `that`".into())),
        };
        let quiet = bool_arg(&args, "quiet", false)?;
        let mut out = ResultMap::new();
        out.insert("changed".into(), Value::Bool(false));
        for c in &conds {
            let ok = ctx.templar.eval_bool(c, &ctx.vars, None).map_err(|e| {
                ModuleError::Failed(format!("the conditional check '{c}' failed: {}", e.message))
            })?;
            if !ok {
                let msg = args
                    .get("fail_msg")
                    .or_else(|| args.get("msg"))
                    .cloned()
                    .unwrap_or_else(|| Value::String("Assertion failed".into()));
                out.insert("failed".into(), Value::Bool(true));
                out.insert("assertion".into(), Value::String(c.clone()));
                out.insert("evaluated_to".into(), Value::Bool(false));
                out.insert("msg".into(), msg);
                return Ok(out);
            }
        }
        if !quiet {
            let msg = args
                .get("success_msg")
                .cloned()
                .unwrap_or_else(|| Value::String("All assertions passed".into()));
            out.insert("msg".into(), msg);
        }
        Ok(out)
    }
}

fn cond_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        other => other.to_string(),
    }
}

/// `fail: msg=…`.
pub struct Fail;

#[async_trait::async_trait]
impl Module for Fail {
    fn name(&self) -> &'static str {
        "ansible.builtin.fail"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: &[("msg", &[])],
            ..ParamSpec::default()
        }
    }
    fn controller_only(&self) -> bool {
        true
    }
    async fn run(
        &self,
        _ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<ResultMap, ModuleError> {
        let mut out = ResultMap::new();
        out.insert("changed".into(), Value::Bool(false));
        out.insert("failed".into(), Value::Bool(true));
        out.insert(
            "msg".into(),
            args.get("msg")
                .cloned()
                .unwrap_or_else(|| Value::String("Failed as requested from task".into())),
        );
        Ok(out)
    }
}
