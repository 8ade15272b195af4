//! A bridged module as an `async` job: ansible-core's own `async_wrapper` runs it.
//!
//! Why this module exists: a bridged module with `async` must behave as under Ansible
//! (plugins/action/__init__.py `_execute_module` with `wrap_async`): the module and the
//! `async_wrapper` module are put in a fresh `ansible-tmp-…` directory under `remote_tmp`,
//! then `<python> <async_wrapper> <jid> <limit> <module> _` with `ANSIBLE_ASYNC_DIR`
//! forks the job, which writes `~/.ansible_async/<jid>.<pid>` (first `started`, then the
//! module's result, or `Timeout exceeded`) and removes the directory. windlass does all
//! that in one round trip: a short Python program on the command line reads both payloads
//! from stdin (`<module length>\n<module><wrapper>`), writes them, and execs the wrapper,
//! whose one JSON answer ansible-core parses as it parses a module's. Polling and
//! `async_status` then read the job file as for any job (the engine's `async_job`).

use serde_json::{Map, Value};

use super::module::{BridgedModule, decode};
use crate::command::RemoteCommand;
use crate::modules::{ModuleError, TaskCtx, TaskResult};

/// Writes the two payloads into a new `ansible-tmp-` directory under `argv[1]` (the
/// remote_tmp, `~` expanded) and execs the wrapper: `argv[2]` the jid, `argv[3]` the limit.
const BOOT: &str = r#"import os, sys, tempfile
i = sys.stdin.buffer
n = int(i.readline())
m = i.read(n)
w = i.read()
r = os.path.expanduser(sys.argv[1])
os.makedirs(r, mode=0o700, exist_ok=True)
d = tempfile.mkdtemp(prefix="ansible-tmp-windlass-", dir=r)
def put(name, data):
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, 0o700)
    return p
mp = put("AnsiballZ_module.py", m)
wp = put("AnsiballZ_async_wrapper.py", w)
os.execv(sys.executable, [sys.executable, wp, sys.argv[2], sys.argv[3], mp, "_"])
"#;

/// Start `module` as job `jid` (`j<number>`; the wrapper appends `.<pid>`) of `limit`
/// seconds: the wrapper's answer (`started`, `ansible_job_id`, `results_file`) with
/// `changed`, as `_execute_module` returns it.
pub(crate) async fn start(
    module: &BridgedModule,
    ctx: &TaskCtx<'_>,
    args: Map<String, Value>,
    jid: &str,
    limit: u64,
) -> Result<TaskResult, ModuleError> {
    let call = match module.prepare(ctx, args, limit).await? {
        Ok(call) => call,
        Err(failed) => return Ok(*failed),
    };
    let wrapper = module.wrapper(ctx, &call.python).await?;
    let stdin = framed(&call.payload()?, &decode(&wrapper)?);
    let cmd = launch(&wrapper.shebang, &call.python, jid, limit, ctx, stdin);
    let out = ctx.transport.exec(&cmd).await?;
    let mut result = module.parse(&out, &call).await?;
    if !result.failed() {
        // "for backwards compat": an async start always reports a change.
        result.set_changed(true);
    }
    Ok(result)
}

/// The stdin [`BOOT`] reads.
fn framed(module: &[u8], wrapper: &[u8]) -> Vec<u8> {
    let mut v = format!("{}\n", module.len()).into_bytes();
    v.extend_from_slice(module);
    v.extend_from_slice(wrapper);
    v
}

/// The host command: [`BOOT`] under the wrapper's interpreter, with the task's
/// environment, `ANSIBLE_ASYNC_DIR` and become.
fn launch(
    shebang: &str,
    python: &str,
    jid: &str,
    limit: u64,
    ctx: &TaskCtx<'_>,
    stdin: Vec<u8>,
) -> RemoteCommand {
    let interpreter = shebang.trim_start_matches("#!").trim();
    let interpreter = if interpreter.is_empty() {
        python
    } else {
        interpreter
    };
    let remote_tmp = ctx.remote_tmp.as_str();
    let argv = [interpreter, "-c", BOOT, remote_tmp, jid, &limit.to_string()];
    let mut cmd = RemoteCommand::argv(argv.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .with_stdin(stdin)
        .with_become(ctx.become_.clone());
    cmd.env = ctx.env.clone();
    let dir = format!("~/{}", crate::modules::async_status::ASYNC_DIR);
    cmd.env.push(("ANSIBLE_ASYNC_DIR".into(), dir));
    cmd.timeout = ctx.timeout;
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_holds_the_module_length_then_both_payloads() {
        assert_eq!(framed(b"abc", b"wxyz"), b"3\nabcwxyz");
    }
}
