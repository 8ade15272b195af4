//! `ansible.builtin.wait_for_connection`: wait until the host can be reached and runs a
//! command again.
//!
//! Why this module exists: after a reboot, a network change or a freshly created machine,
//! a play must wait for the host before going on, and only the controller can tell: the
//! wait is windlass's own connection, dropped and made afresh on every attempt (a dead SSH
//! master is not reused). Modelled on ansible-core 2.19's
//! `lib/ansible/plugins/action/wait_for_connection.py`: after `delay` seconds it tries, until
//! `timeout` seconds have passed, to connect and run a trivial command (Ansible runs its
//! `ping` module; windlass runs `true`, through `become` when the task has it), `sleep`
//! seconds between attempts. Every value is truncated to whole seconds as Python's
//! `int()` does. It fails with Ansible's `timed out waiting for ping module test: <last
//! error>`; `elapsed` is the whole seconds it took, `delay` included.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::RemoteCommand;
use crate::transport::Transport;

/// Parameters of `wait_for_connection`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForConnectionParams {
    /// Seconds one attempt (connecting and running the command) may take. Default 5.
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    /// Seconds to wait before the first attempt. Default 0.
    #[serde(default)]
    pub delay: Option<f64>,
    /// Seconds to wait between attempts. Default 1.
    #[serde(default)]
    pub sleep: Option<f64>,
    /// Seconds to keep trying (after `delay`). Default 600.
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// The waits, in whole seconds (pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Schedule {
    /// Before the first attempt.
    pub delay: u64,
    /// Between attempts.
    pub sleep: u64,
    /// Trying stops once this long has passed since the first attempt.
    pub timeout: u64,
    /// One attempt's limit.
    pub attempt_timeout: u64,
}

/// Python's `int()` of a number of seconds; negative ones wait nothing.
pub(crate) fn whole_secs(v: Option<f64>, default: u64) -> u64 {
    v.map_or(default, |s| if s > 0.0 { s.trunc() as u64 } else { 0 })
}

/// The schedule `p` asks for.
pub fn schedule(p: &WaitForConnectionParams) -> Schedule {
    Schedule {
        delay: whole_secs(p.delay, 0),
        sleep: whole_secs(p.sleep, 1),
        timeout: whole_secs(p.timeout, 600),
        attempt_timeout: whole_secs(p.connect_timeout, 5).max(1),
    }
}

/// One attempt: a fresh connection running `true`. `Err` holds why it failed.
pub(crate) async fn attempt(
    transport: &dyn Transport,
    become_: Option<crate::command::Become>,
    limit: Duration,
) -> Result<(), String> {
    transport.reset().await;
    let mut cmd = RemoteCommand::argv(["true"]).with_become(become_);
    cmd.timeout = Some(limit);
    match transport.exec(&cmd).await {
        Ok(out) if out.rc == 0 => Ok(()),
        Ok(out) => Err(format!(
            "the host answered but could not run a command (rc={}): {}",
            out.rc,
            out.stderr_str()
        )),
        Err(crate::transport::TransportError::Unreachable(m)) => Err(m),
        Err(e) => Err(e.to_string()),
    }
}

/// Try until an attempt works or `s.timeout` has passed since the first one; `Err` holds
/// Ansible's message.
pub(crate) async fn until_connected(
    ctx: &TaskCtx<'_>,
    s: &Schedule,
    what: &str,
) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(s.timeout);
    let mut last = None;
    while Instant::now() < end {
        let limit = Duration::from_secs(s.attempt_timeout).min(end - Instant::now());
        match attempt(ctx.transport.as_ref(), ctx.become_.clone(), limit).await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_secs(s.sleep)).await;
    }
    Err(timed_out(what, last.as_deref()))
}

/// Ansible's `TimedOutException` text.
pub(crate) fn timed_out(what: &str, last: Option<&str>) -> String {
    format!("timed out waiting for {what}: {}", last.unwrap_or_default())
}

/// The result: `elapsed` whole seconds, and the failure when there is one (pure).
pub fn result(outcome: Result<(), String>, elapsed: Duration) -> TaskResult {
    let mut r = TaskResult::with_changed(false);
    if let Err(m) = outcome {
        r.set_failed(true);
        r.set_msg(json!(m));
    }
    r.insert("elapsed", json!(elapsed.as_secs()));
    r
}

/// `ansible.builtin.wait_for_connection`.
pub struct WaitForConnection;

#[async_trait::async_trait]
impl Module for WaitForConnection {
    fn name(&self) -> &'static str {
        "ansible.builtin.wait_for_connection"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<WaitForConnectionParams>(),
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: WaitForConnectionParams = params("wait_for_connection", args)?;
        if ctx.check {
            // Ansible: "skipping for check_mode".
            let mut r = TaskResult::new();
            r.set_skipped();
            return Ok(r);
        }
        let s = schedule(&p);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(s.delay)).await;
        let outcome = until_connected(ctx, &s, "ping module test").await;
        Ok(result(outcome, t0.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> WaitForConnectionParams {
        let Value::Object(m) = v else { unreachable!() };
        params("wait_for_connection", m).unwrap()
    }

    #[test]
    fn schedules_truncate_like_python_int() {
        let cases = [
            ("defaults", json!({})),
            (
                "given",
                json!({"delay": 2, "sleep": "3", "timeout": 30.9, "connect_timeout": 7}),
            ),
            (
                "zero_and_negative",
                json!({"sleep": 0, "timeout": -5, "connect_timeout": 0}),
            ),
        ];
        let v: Vec<(&str, Schedule)> = cases
            .into_iter()
            .map(|(n, a)| (n, schedule(&p(a))))
            .collect();
        insta::assert_yaml_snapshot!(v);
    }

    #[test]
    fn results_carry_elapsed_and_ansible_s_message() {
        let ok = result(Ok(()), Duration::from_millis(2500));
        assert_eq!(ok.get("elapsed"), Some(&json!(2)));
        assert!(!ok.failed());
        let bad = result(
            Err(timed_out("ping module test", Some("connection refused"))),
            Duration::from_secs(3),
        );
        assert!(bad.failed());
        assert_eq!(
            bad.msg(),
            Some(&json!(
                "timed out waiting for ping module test: connection refused"
            ))
        );
    }
}
