//! `ansible.builtin.assert` and `ansible.builtin.fail`: stop a host when something is wrong.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::ansible_bool;
use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

/// `assert: that=[…]`.
pub struct Assert;

/// Parameters of `assert`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertParams {
    /// The conditions, a list (or one) of expressions as `when:` takes them; all must be
    /// true. Required.
    pub that: Value,
    /// The message of a failing assertion (called `msg` before Ansible 2.7). Default
    /// `Assertion failed`.
    #[serde(default, alias = "msg")]
    pub fail_msg: Option<Value>,
    /// The message when every assertion passes. Default `All assertions passed`.
    #[serde(default)]
    pub success_msg: Option<Value>,
    /// `true`: report no message when the assertions pass. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub quiet: bool,
}

/// Parameters of `fail`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailParams {
    /// The message the task fails with. Default `Failed as requested from task`.
    #[serde(default)]
    pub msg: Option<Value>,
}

#[async_trait::async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "ansible.builtin.assert"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<AssertParams>(),
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
    ) -> Result<TaskResult, ModuleError> {
        let p: AssertParams = params("assert", args)?;
        let conds: Vec<String> = match &p.that {
            Value::Array(a) => a.iter().map(cond_text).collect(),
            v => vec![cond_text(v)],
        };
        let mut out = TaskResult::with_changed(false);
        for c in &conds {
            let ok = ctx.templar.eval_bool(c, &ctx.vars, None).map_err(|e| {
                ModuleError::Failed(format!("the conditional check '{c}' failed: {}", e.message))
            })?;
            if !ok {
                let msg = p
                    .fail_msg
                    .clone()
                    .unwrap_or_else(|| Value::String("Assertion failed".into()));
                out.set_failed(true);
                out.insert("assertion", Value::String(c.clone()));
                out.insert("evaluated_to", Value::Bool(false));
                out.set_msg(msg);
                return Ok(out);
            }
        }
        if !p.quiet {
            let msg = p
                .success_msg
                .unwrap_or_else(|| Value::String("All assertions passed".into()));
            out.set_msg(msg);
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
            params: spec_params::<FailParams>(),
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
    ) -> Result<TaskResult, ModuleError> {
        let p: FailParams = params("fail", args)?;
        let mut out = TaskResult::with_changed(false);
        out.set_failed(true);
        out.set_msg(
            p.msg
                .unwrap_or_else(|| Value::String("Failed as requested from task".into())),
        );
        Ok(out)
    }
}
