//! `ansible.builtin.ping`: check that a host can be reached and can run a command.
//!
//! Why this module exists: `ansible -m ping` and `ping:` tasks are how users test an
//! inventory. It runs `true` on the host (through `become` when set, so it also proves
//! privilege escalation works) and answers `ping: pong`, or `data` when given.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::RemoteCommand;

/// Parameters of `ping`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingParams {
    /// What to answer with instead of `pong`. The value `crash` makes the task fail, to
    /// test error handling. Default `pong`.
    /// A string (`type='str'` in lib/ansible/modules/ping.py): `data: 5` answers `"5"`.
    #[serde(default)]
    pub data: Option<String>,
}

/// `ansible.builtin.ping`.
pub struct Ping;

#[async_trait::async_trait]
impl Module for Ping {
    fn name(&self) -> &'static str {
        "ansible.builtin.ping"
    }
    fn spec(&self) -> ParamSpec {
        let params: Vec<(&'static str, &'static [&'static str])> = field_names::<PingParams>()
            .iter()
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: PingParams = params("ping", args)?;
        let data = Value::String(p.data.unwrap_or_else(|| "pong".into()));
        let mut cmd = RemoteCommand::argv(["true"]).with_become(ctx.become_.clone());
        cmd.timeout = ctx.timeout;
        let out = ctx.transport.exec(&cmd).await?;
        let mut r = TaskResult::with_changed(false);
        if out.rc != 0 {
            r.set_failed(true);
            r.insert("rc", Value::from(out.rc));
            r.set_msg(Value::String(format!(
                "the host answered but could not run a command: {}",
                out.stderr_str()
            )));
            return Ok(r);
        }
        if data.as_str() == Some("crash") {
            return Err(ModuleError::Failed("boom".into()));
        }
        r.insert("ping", data);
        Ok(r)
    }
}
