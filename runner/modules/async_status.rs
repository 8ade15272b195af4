//! `ansible.builtin.async_status`: the state of a background job started by a task with
//! `async`, or (`mode: cleanup`) the removal of its results file.
//!
//! Why this module exists: a task with `async: N` and `poll: 0` returns at once with an
//! `ansible_job_id`; a later task collects the job's result with `async_status` and
//! `until: job is finished`. The job (see the engine's `async_job`) keeps Ansible's results
//! file, `~/.ansible_async/<jid>` on the host: JSON, `{"started": true, "finished": false,
//! …}` while it runs, the module's result when it ends. This module reads it as JSON (the
//! file is content after a framed reply, never read for fields of its own) and answers as
//! ansible-core 2.19's `plugins/action/async_status.py` and `modules/async_status.py` do:
//! `started`, `finished`, `ansible_job_id`, `results_file` (or `erased`), `stdout`,
//! `stderr` and their `_lines`, over the job's own result. A job id holding `/` is refused
//! (it would name a file outside the job directory). Engine-side polling (`poll` > 0) reads
//! the same way.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::choice;
use super::plan::{params, spec_params};
use super::reply::{self, CONTENT};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// Where jobs keep their results, below the (become) user's home.
pub(crate) const ASYNC_DIR: &str = ".ansible_async";

choice! {
    /// `async_status`'s `mode`.
    pub enum AsyncMode {
        /// Report the job's state (the default).
        Status = "status",
        /// Remove the job's results file.
        Cleanup = "cleanup",
    }
    else "value of mode must be one of: cleanup, status, got: {got}"
}

/// Parameters of `async_status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncStatusParams {
    /// The job id (`ansible_job_id` of the task that started it).
    pub jid: String,
    /// `status` (default) or `cleanup`.
    #[serde(default)]
    pub mode: Option<AsyncMode>,
}

/// A job id the host's shell may see: no path separator, no NUL, not empty.
pub(crate) fn check_jid(jid: &str) -> Result<(), String> {
    if jid.is_empty() || jid.contains('/') || jid.contains('\0') || jid == "." || jid == ".." {
        return Err(format!("invalid job id {jid:?}"));
    }
    Ok(())
}

/// The command that reads (or, for cleanup, removes) job `jid`'s file: the home directory
/// and whether the file exists as records, then the file as content.
pub fn status_command(jid: &str, mode: AsyncMode) -> RemoteCommand {
    let act = match mode {
        AsyncMode::Status => format!("printf 'state=present\\0{CONTENT}\\0'; cat -- \"$j\""),
        AsyncMode::Cleanup => "rm -f -- \"$j\" && printf 'state=erased\\0'".to_string(),
    };
    RemoteCommand::shell(format!(
        "j=\"$HOME\"/{ASYNC_DIR}/{}; printf 'home=%s\\0' \"$HOME\"; if [ -e \"$j\" ]; then {act}; else printf 'state=missing\\0'; fi",
        quote(jid)
    ))
}

/// `stdout_lines`/`stderr_lines` as Ansible's `_execute_module` adds them.
fn add_lines(r: &mut Map<String, Value>) {
    for k in ["stdout", "stderr"] {
        let lines = format!("{k}_lines");
        if let Some(Value::String(s)) = r.get(k)
            && !r.contains_key(&lines)
        {
            let v: Vec<Value> = s.lines().map(|l| json!(l)).collect();
            r.insert(lines, Value::Array(v));
        }
    }
}

/// The result for job `jid` from the host's reply to [`status_command`] (pure).
pub fn status_result(jid: &str, mode: AsyncMode, out: &ExecOutput) -> Result<TaskResult, String> {
    let reply = reply::parse(&out.stdout)?;
    let home = reply
        .text("home")?
        .ok_or("no home directory in the reply")?;
    let state = reply.text("state")?.ok_or("no job state in the reply")?;
    let path = format!("{home}/{ASYNC_DIR}/{jid}");
    let mut base = Map::new();
    base.insert("started".into(), json!(false));
    base.insert("finished".into(), json!(false));
    base.insert("stdout".into(), json!(""));
    base.insert("stderr".into(), json!(""));
    base.insert("stdout_lines".into(), json!([]));
    base.insert("stderr_lines".into(), json!([]));
    base.insert("ansible_job_id".into(), json!(jid));
    match mode {
        AsyncMode::Cleanup => base.insert("erased".into(), json!(path)),
        AsyncMode::Status => {
            base.insert("started".into(), json!(true));
            base.insert("results_file".into(), json!(path))
        }
    };
    let data = match (state.as_str(), reply.content) {
        ("missing", _) => {
            base.insert("started".into(), json!(true));
            base.insert("finished".into(), json!(true));
            base.insert("failed".into(), json!(true));
            base.insert("msg".into(), json!("could not find job"));
            Map::new()
        }
        ("erased", _) => Map::new(),
        ("present", Some(content)) => job_data(jid, content)?,
        _ => return Err(reply::unexpected("an unknown job state", state.as_bytes())),
    };
    let mut r = base;
    let mut data = data;
    add_lines(&mut data);
    for (k, v) in data {
        r.insert(k, v);
    }
    for k in ["started", "finished"] {
        let b = crate::boolean::truthy(r.get(k).unwrap_or(&Value::Null));
        r.insert(k.into(), json!(b));
    }
    r.entry("changed").or_insert(json!(false));
    Ok(TaskResult::from_map(r))
}

/// The job's file as `async_status.py` reads it: JSON (bytes that are no UTF-8 replaced);
/// empty or not yet JSON while the job starts; unparsable otherwise.
fn job_data(jid: &str, content: &[u8]) -> Result<Map<String, Value>, String> {
    let text = String::from_utf8_lossy(content);
    let mut data = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        _ if text.trim().is_empty() => {
            return Ok(Map::from_iter([
                ("started".into(), json!(true)),
                ("finished".into(), json!(false)),
            ]));
        }
        _ => {
            return Ok(Map::from_iter([
                ("started".into(), json!(true)),
                ("finished".into(), json!(true)),
                ("failed".into(), json!(true)),
                (
                    "msg".into(),
                    json!(format!("Could not parse job output: {text}")),
                ),
            ]));
        }
    };
    if !data.contains_key("started") {
        data.insert("finished".into(), json!(true));
        data.insert("ansible_job_id".into(), json!(jid));
    } else if !data.contains_key("finished") {
        data.insert("finished".into(), json!(false));
    }
    Ok(data)
}

/// Read job `jid` on the host of `ctx`.
pub(crate) async fn read_job(
    ctx: &TaskCtx<'_>,
    jid: &str,
    mode: AsyncMode,
) -> Result<TaskResult, ModuleError> {
    check_jid(jid).map_err(ModuleError::Failed)?;
    let mut cmd = status_command(jid, mode).with_become(ctx.become_.clone());
    cmd.timeout = ctx.timeout;
    let out = ctx.transport.exec(&cmd).await?;
    status_result(jid, mode, &out).map_err(ModuleError::Failed)
}

/// `ansible.builtin.async_status`.
pub struct AsyncStatus;

#[async_trait::async_trait]
impl Module for AsyncStatus {
    fn name(&self) -> &'static str {
        "ansible.builtin.async_status"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<AsyncStatusParams>(),
            required: &["jid"],
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: AsyncStatusParams = params("async_status", args)?;
        read_job(ctx, &p.jid, p.mode.unwrap_or(AsyncMode::Status)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(bytes: &[u8]) -> ExecOutput {
        ExecOutput {
            rc: 0,
            stdout: bytes.to_vec(),
            stderr: vec![],
        }
    }

    #[test]
    fn reads_the_job_file_as_ansible_does() {
        let h = b"home=/root\0".to_vec();
        let with = |rest: &[u8]| [h.clone(), rest.to_vec()].concat();
        let cases: Vec<(&str, AsyncMode, Vec<u8>)> = vec![
            ("missing", AsyncMode::Status, with(b"state=missing\0")),
            (
                "running",
                AsyncMode::Status,
                with(b"state=present\0--windlass-content--\0{\"started\": true, \"finished\": false, \"ansible_job_id\": \"j1.2\"}\n"),
            ),
            ("not_written_yet", AsyncMode::Status, with(b"state=present\0--windlass-content--\0")),
            (
                "finished",
                AsyncMode::Status,
                with(b"state=present\0--windlass-content--\0{\"changed\": true, \"rc\": 3, \"stdout\": \"a\\nb\", \"stderr\": \"\", \"failed\": true, \"msg\": \"non-zero return code\"}"),
            ),
            (
                "timed_out",
                AsyncMode::Status,
                with(b"state=present\0--windlass-content--\0{\"msg\": \"Timeout exceeded\", \"failed\": true, \"child_pid\": 42}"),
            ),
            (
                "garbage_cannot_forge_fields",
                AsyncMode::Status,
                with(b"state=present\0--windlass-content--\0home=/etc\0state=missing\0"),
            ),
            ("erased", AsyncMode::Cleanup, with(b"state=erased\0")),
        ];
        let v: Vec<(&str, Value)> = cases
            .into_iter()
            .map(|(n, m, out)| {
                let r = status_result("j1.2", m, &reply(&out)).unwrap();
                (n, serde_json::to_value(r.registered()).unwrap())
            })
            .collect();
        insta::assert_yaml_snapshot!(v);
        insta::assert_snapshot!(status_command("j1.2", AsyncMode::Status).to_shell());
    }

    #[test]
    fn malformed_replies_and_job_ids_are_errors() {
        assert!(status_result("j", AsyncMode::Status, &reply(b"state=present")).is_err());
        assert!(status_result("j", AsyncMode::Status, &reply(b"home=/r\0state=odd\0")).is_err());
        for bad in ["", "../x", "a/b", ".."] {
            assert!(check_jid(bad).is_err(), "{bad}");
        }
        assert!(check_jid("j123.45").is_ok());
    }
}
