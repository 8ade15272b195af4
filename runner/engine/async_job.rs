//! `async`/`poll`: a task's command run as a background job on the host, that survives the
//! connection, with Ansible's results file.
//!
//! Why this module exists: long commands (an upgrade, a download) must not depend on one SSH
//! channel staying up, and `poll: 0` starts work the play collects later with
//! `async_status`. As ansible-core 2.19's `modules/async_wrapper.py`: the job writes
//! `{"started": true, "finished": false, "ansible_job_id": …}` to `~/.ansible_async/<jid>`,
//! runs the command in its own session (`setsid`, stdin from a file, output to files), kills
//! its process group after `async` seconds (the file then says `Timeout exceeded`), and
//! replaces the file (write, then rename) with the command module's result as JSON, encoded
//! by `awk` on the host. With `poll` > 0 the engine reads the file every `poll` seconds
//! (as `executor/task_executor.py`'s `_poll_async_result`, a failed read retried after a
//! connection reset; a `poll` beyond the limit waits only until the job is over) until it
//! says `finished`, then removes it; after `async` seconds
//! without that, the task fails with Ansible's `async task did not complete within the
//! requested time - Ns`. With `poll: 0` the task returns the job's id at once.
//!
//! In check mode the job's file holds the module's prediction at once (Ansible's job runs
//! the module in check mode), so `poll` and `async_status` behave the same.
//!
//! windlass runs `command` and `shell` (without `creates`/`removes`) as jobs, and a module
//! that starts its own ([`crate::modules::Module::start_job`]: a bridged module runs under
//! ansible-core's `async_wrapper`, whose job file this polls the same way). Every other
//! module, with `poll` > 0, runs as usual within the `async` limit (the same result, but
//! tied to the connection); with `poll: 0` it is refused.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::command::{RemoteCommand, quote};
use crate::modules::async_status::{ASYNC_DIR, AsyncMode, read_job};
use crate::modules::command::CommandModule;
use crate::modules::{Module, ModuleError, TaskCtx, TaskResult};

/// A task's `async` and `poll`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AsyncSpec {
    /// The job's time limit.
    pub limit: Duration,
    /// Seconds between reads; zero: return at once.
    pub poll: Duration,
}

/// Ansible's default `poll` (`DEFAULT_POLL_INTERVAL`).
pub(crate) const DEFAULT_POLL: Duration = Duration::from_secs(15);

/// A new job id in Ansible's shape, `j<number below 999999999999, unpadded>.<number>`
/// (`secrets.randbelow(999999999999)` in ansible-core's `plugins/action/__init__.py`).
fn new_jid() -> String {
    format!("{}.{}", new_jid_base(), std::process::id())
}

/// A job id's first part, `j<number below 999999999999>` (async_wrapper adds `.<pid>`).
fn new_jid_base() -> String {
    let mut b = [0u8; 8];
    let n = match getrandom::fill(&mut b) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => {
            u64::from(std::process::id()) << 20
                ^ u64::from(
                    std::time::UNIX_EPOCH
                        .elapsed()
                        .map_or(0, |d| d.subsec_nanos()),
                )
        }
    };
    format!("j{}", n % 999_999_999_999)
}

/// The shell function that prints file `$1` as the inside of a JSON string (`$2` = 1:
/// trailing newlines dropped, as the command module's `strip_empty_ends`).
const JSON_TEXT: &str = r#"jtext() {
  LC_ALL=C awk -v strip="$2" 'BEGIN {
    for (i = 1; i < 32; i++) esc[sprintf("%c", i)] = sprintf("\\u%04x", i)
    esc["\t"] = "\\t"; esc["\r"] = "\\r"; esc["\\"] = "\\\\"; esc["\""] = "\\\""
  }
  {
    o = $0
    if (o ~ /[\\"\001-\037]/) {
      o = ""; n = length($0)
      for (i = 1; i <= n; i++) { c = substr($0, i, 1); o = o ((c in esc) ? esc[c] : c) }
    }
    l[NR] = o
  }
  END {
    last = NR
    if (strip == 1) while (last > 0 && l[last] == "") last--
    for (i = 1; i <= last; i++) printf "%s%s", (i > 1 ? "\\n" : ""), l[i]
  }' "$1"
  if [ "$2" != 1 ] && [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" = 1 ]; then printf '\\n'; fi
}"#;

/// The detached part: runs the command, then writes its result (`$1`: the job file).
/// The timer marks `$j.killed` before it kills the job, so the runner, which the kill wakes,
/// always finds the mark (marking after the kill raced it: "non-zero return code").
fn runner_script(line: &str, cmd_json: &str, limit: u64, strip: bool) -> String {
    format!(
        r#"j=$1
{JSON_TEXT}
now() {{ date '+%Y-%m-%d %H:%M:%S.%6N'; }}
s=$(now); s0=$(date +%s%N)
setsid sh -c {line} < "$j.in" > "$j.out" 2> "$j.err" &
p=$!
( trap 'kill $w 2>/dev/null; exit 0' TERM; sleep {limit} & w=$!; wait $w; : > "$j.killed"; kill -KILL -"$p" 2>/dev/null ) &
k=$!
wait "$p"; rc=$?
kill "$k" 2>/dev/null
e=$(now); us=$(( ($(date +%s%N) - s0) / 1000 ))
d=$(printf '%d:%02d:%02d.%06d' $((us / 3600000000)) $((us / 60000000 % 60)) $((us / 1000000 % 60)) $((us % 1000000)))
if [ -e "$j.killed" ]; then
  printf '{{"msg": "Timeout exceeded", "failed": true, "child_pid": %s}}\n' "$p" > "$j.tmp"
else
  if [ "$rc" = 0 ]; then m='"msg": ""'; else m='"failed": true, "msg": "non-zero return code"'; fi
  {{ printf '{{"changed": true, "cmd": %s, "rc": %s, "stdout": "' {cmd_json} "$rc"; jtext "$j.out" {strip}
     printf '", "stderr": "'; jtext "$j.err" {strip}
     printf '", "start": "%s", "end": "%s", "delta": "%s", %s}}\n' "$s" "$e" "$d" "$m"; }} > "$j.tmp"
fi
mv -f "$j.tmp" "$j"
rm -f "$j.in" "$j.out" "$j.err" "$j.killed"
"#,
        line = quote(line),
        cmd_json = quote(cmd_json),
        strip = u8::from(strip),
    )
}

/// The launch: the job's directory and first record, its stdin, the detached runner;
/// prints the home directory as a framed record (pure).
pub(crate) fn launch_script(
    jid: &str,
    cmd: &RemoteCommand,
    cmd_json: &str,
    limit: u64,
    strip: bool,
) -> String {
    let stdin = if cmd.stdin.is_some() {
        "cat > \"$j.in\""
    } else {
        ": > \"$j.in\""
    };
    let mut inner = cmd.clone();
    inner.stdin = None;
    inner.become_ = None;
    format!(
        "d=\"$HOME\"/{ASYNC_DIR}; j=\"$d\"/{jid}\n\
         mkdir -p \"$d\" || exit 1\n\
         printf '%s\\n' {first} > \"$j.tmp\" && mv -f \"$j.tmp\" \"$j\" || exit 1\n\
         {stdin} || exit 1\n\
         setsid sh -c {runner} windlass-async \"$j\" < /dev/null > /dev/null 2>&1 &\n\
         printf 'home=%s\\0' \"$HOME\"\n",
        first = quote(&format!(
            "{{\"started\": true, \"finished\": false, \"ansible_job_id\": \"{jid}\"}}"
        )),
        runner = quote(&runner_script(&inner.to_shell(), cmd_json, limit, strip)),
    )
}

/// The result of a job that started: Ansible's `async_wrapper` answer.
fn started(jid: &str, home: &str) -> TaskResult {
    let mut r = TaskResult::with_changed(true);
    r.insert("ansible_job_id", json!(jid));
    r.insert("finished", json!(false));
    r.insert("results_file", json!(format!("{home}/{ASYNC_DIR}/{jid}")));
    r.insert("started", json!(true));
    r
}

/// Start `cmd` as job `jid`.
async fn launch(
    ctx: &TaskCtx<'_>,
    module: &dyn Module,
    args: &Map<String, Value>,
    jid: &str,
    limit: u64,
) -> Result<Option<TaskResult>, ModuleError> {
    let Some(kind) = job_kind(module) else {
        return Ok(None);
    };
    let plan = kind.plan(args)?;
    if !plan.guards.is_empty() {
        return Ok(None);
    }
    let mut cmd = plan.cmd;
    cmd.env = ctx.env.clone();
    let cmd_json = plan.shown.to_string();
    let script = launch_script(jid, &cmd, &cmd_json, limit, plan.strip_empty_ends);
    let mut launch = RemoteCommand::shell(script).with_become(ctx.become_.clone());
    launch.stdin = cmd.stdin.clone();
    launch.timeout = ctx.timeout;
    exec_start(ctx, &launch, "could not start the job", jid)
        .await
        .map(Some)
}

/// The modules that run as real jobs: `command` and `shell`.
fn job_kind(module: &dyn Module) -> Option<CommandModule> {
    match module.name() {
        "ansible.builtin.command" => Some(CommandModule::Command),
        "ansible.builtin.shell" => Some(CommandModule::Shell),
        _ => None,
    }
}

/// Run `cmd`, which starts (or records) job `jid` and answers the host's `$HOME` in a
/// framed reply: the `started` result, or `what` failed with the script's stderr.
async fn exec_start(
    ctx: &TaskCtx<'_>,
    cmd: &RemoteCommand,
    what: &str,
    jid: &str,
) -> Result<TaskResult, ModuleError> {
    let out = ctx.transport.exec(cmd).await?;
    if out.rc != 0 {
        return Err(ModuleError::Failed(format!("{what}: {}", out.stderr_str())));
    }
    let reply = crate::modules::reply::parse(&out.stdout).map_err(ModuleError::Failed)?;
    let home = reply
        .text("home")
        .map_err(ModuleError::Failed)?
        .unwrap_or_default();
    Ok(started(jid, &home))
}

/// Run `module` with `args` as the task's `async` job.
pub(crate) async fn run(
    ctx: &TaskCtx<'_>,
    module: &dyn Module,
    args: Map<String, Value>,
    spec: AsyncSpec,
) -> Result<TaskResult, ModuleError> {
    let limit = spec.limit.as_secs();
    // A module that starts its own jobs (a bridged one, under async_wrapper): its id.
    if let Some(first) = module.start_job(ctx, &args, &new_jid_base(), limit).await {
        let first = first?;
        let jid = first.get("ansible_job_id").and_then(Value::as_str);
        return match jid {
            Some(jid) if !spec.poll.is_zero() && !first.failed() => poll(ctx, jid, spec).await,
            _ => Ok(first),
        };
    }
    let jid = new_jid();
    let launched = if ctx.check {
        record_check(ctx, module, &args, &jid).await?
    } else {
        launch(ctx, module, &args, &jid, limit).await?
    };
    let Some(first) = launched else {
        return run_in_place(ctx, module, args, spec).await;
    };
    if spec.poll.is_zero() {
        return Ok(first);
    }
    poll(ctx, &jid, spec).await
}

/// Check mode: Ansible's job runs the module in check mode, so its file holds the
/// module's prediction at once. windlass predicts on the controller (a command's
/// `creates`/`removes` probes aside, nothing runs) and writes that result, JSON it made
/// itself, as the job's file: `async_status` and polling then read it as they would any.
async fn record_check(
    ctx: &TaskCtx<'_>,
    module: &dyn Module,
    args: &Map<String, Value>,
    jid: &str,
) -> Result<Option<TaskResult>, ModuleError> {
    if job_kind(module).is_none() {
        return Ok(None);
    }
    let predicted = module.run(ctx, args.clone()).await?;
    let json = serde_json::to_string(&predicted.registered())
        .map_err(|e| ModuleError::Failed(e.to_string()))?;
    let script = format!(
        "d=\"$HOME\"/{ASYNC_DIR}; j=\"$d\"/{jid}\n\
         mkdir -p \"$d\" && printf '%s\\n' {} > \"$j.tmp\" && mv -f \"$j.tmp\" \"$j\" || exit 1\n\
         printf 'home=%s\\0' \"$HOME\"\n",
        quote(&json)
    );
    let mut cmd = RemoteCommand::shell(script).with_become(ctx.become_.clone());
    cmd.timeout = ctx.timeout;
    exec_start(ctx, &cmd, "could not write the job's file", jid)
        .await
        .map(Some)
}

/// A module that cannot be a job: with `poll` > 0, run now within the limit.
async fn run_in_place(
    ctx: &TaskCtx<'_>,
    module: &dyn Module,
    args: Map<String, Value>,
    spec: AsyncSpec,
) -> Result<TaskResult, ModuleError> {
    if spec.poll.is_zero() {
        return Err(ModuleError::Failed(format!(
            "windlass runs `async` with `poll: 0` for command and shell (without creates/removes) only, not for {}",
            module.name()
        )));
    }
    match tokio::time::timeout(spec.limit, module.run(ctx, args)).await {
        Ok(r) => r,
        Err(_) => Ok(timed_out(spec, Map::new())),
    }
}

fn timed_out(spec: AsyncSpec, last: Map<String, Value>) -> TaskResult {
    let mut r = TaskResult::failure(format!(
        "async task did not complete within the requested time - {}s",
        spec.limit.as_secs()
    ));
    r.insert("async_result", Value::Object(last));
    r
}

/// `_poll_async_result`: read every `poll` seconds until finished or out of time.
async fn poll(ctx: &TaskCtx<'_>, jid: &str, spec: AsyncSpec) -> Result<TaskResult, ModuleError> {
    let mut left = spec.limit.as_secs_f64();
    let step = spec.poll.as_secs_f64();
    let mut last: Option<TaskResult> = None;
    while left > 0.0 {
        // Ansible sleeps `poll` whatever is left; past the limit (and a second for the
        // job's own end) the job is over, so a longer sleep would only delay the answer.
        tokio::time::sleep(spec.poll.min(Duration::from_secs_f64(left + 1.0))).await;
        left -= step;
        match read_job(ctx, jid, AsyncMode::Status).await {
            Ok(r) => {
                let finished = r.get("finished").is_some_and(crate::boolean::truthy);
                let stop = finished || r.failed();
                last = Some(r);
                if stop {
                    break;
                }
            }
            Err(e) => {
                ctx.transport.reset().await;
                if left <= 0.0 {
                    return Err(e);
                }
            }
        }
    }
    let last = last.unwrap_or_default();
    if !last.get("finished").is_some_and(crate::boolean::truthy) {
        return Ok(timed_out(spec, last.registered()));
    }
    let _ = read_job(ctx, jid, AsyncMode::Cleanup).await;
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_is_one_script_with_the_command_quoted_once() {
        let kind = CommandModule::Shell;
        let args = Map::from_iter([
            ("_raw_params".to_string(), json!("echo 'hi'; exit 3")),
            ("chdir".to_string(), json!("/tmp")),
        ]);
        let plan = kind.plan(&args).unwrap();
        let s = launch_script(
            "j123.4",
            &plan.cmd,
            &plan.shown.to_string(),
            30,
            plan.strip_empty_ends,
        );
        insta::assert_snapshot!(s);
    }

    #[test]
    fn job_ids_have_ansible_s_shape() {
        let j = new_jid();
        let (a, b) = j.split_once('.').unwrap();
        assert!(
            a.starts_with('j')
                && (2..=13).contains(&a.len())
                && a[1..].bytes().all(|c| c.is_ascii_digit()),
            "{j}"
        );
        assert!(b.bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(new_jid(), j);
    }
}
