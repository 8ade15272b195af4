//! `ansible.builtin.reboot`: reboot the host, wait for it to come back, and check that it
//! runs commands again.
//!
//! Why this module exists: kernel and container-runtime changes need a reboot in the middle
//! of a play, and only the controller can wait across it: the connection dies with the host
//! and must be made afresh. Modelled on ansible-core 2.19's
//! `lib/ansible/plugins/action/reboot.py` with its Linux defaults: it reads the boot id
//! (`boot_time_command`, default `cat /proc/sys/kernel/random/boot_id`), finds the
//! shutdown program in `search_paths` (unless `reboot_command` names an absolute path),
//! runs `shutdown -r <pre_reboot_delay // 60> <msg>` (or `reboot_command`), waits
//! `post_reboot_delay`, then, until `reboot_timeout`, reconnects and reads the boot id
//! until it differs from the first one, then runs `test_command` (default `whoami`) until
//! it succeeds; failed attempts back off as Ansible's (1, 2, 4, 8 s … at most 12 s, plus
//! up to a second). A connection lost while the reboot command runs counts as success, as
//! in Ansible. Result: `rebooted`, `changed`, `elapsed` (whole seconds since the reboot
//! command). Check mode reports `changed` and `rebooted` without rebooting; over the local
//! connection it refuses, as Ansible does. Differences: the message is quoted for the
//! shell (Ansible pastes it between double quotes), and the Linux defaults apply whatever
//! the distribution (Ansible picks other commands for Alpine, the BSDs, Solaris, …).

use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::string_list;
use super::plan::{params, spec_params};
use super::wait_for_connection::whole_secs;
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, quote};
use crate::transport::TransportError;

/// Parameters of `reboot`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootParams {
    /// Seconds to wait before rebooting; `shutdown` takes it in whole minutes
    /// (`pre_reboot_delay // 60`, so less than 60 reboots at once). Default 0.
    #[serde(default, alias = "pre_reboot_delay_sec")]
    pub pre_reboot_delay: Option<f64>,
    /// Seconds to wait after the reboot command before checking the host. Default 0.
    #[serde(default, alias = "post_reboot_delay_sec")]
    pub post_reboot_delay: Option<f64>,
    /// Seconds to wait for the host to come back and for each of the two checks (a new
    /// boot id, then `test_command`). Default 600.
    #[serde(default, alias = "reboot_timeout_sec")]
    pub reboot_timeout: Option<f64>,
    /// Seconds one attempt to reach the host may take. Default: 30.
    #[serde(default, alias = "connect_timeout_sec")]
    pub connect_timeout: Option<f64>,
    /// A command that must succeed after the reboot. Default `whoami`.
    #[serde(default)]
    pub test_command: Option<String>,
    /// The message `shutdown` broadcasts. Default `Reboot initiated by Ansible`.
    #[serde(default)]
    pub msg: Option<String>,
    /// A command whose output changes with every boot. Default `cat
    /// /proc/sys/kernel/random/boot_id`.
    #[serde(default)]
    pub boot_time_command: Option<String>,
    /// The command that reboots, program and arguments; a program without a `/` is looked
    /// for in `search_paths`. Default `shutdown -r <minutes> "<msg>"`.
    #[serde(default)]
    pub reboot_command: Option<String>,
    /// Directories to look for the reboot program in, in order. Default `/sbin`, `/bin`,
    /// `/usr/sbin`, `/usr/bin`, `/usr/local/sbin`.
    #[serde(default, deserialize_with = "string_list")]
    pub search_paths: Vec<String>,
}

const DEFAULT_SEARCH_PATHS: &[&str] =
    &["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];

/// Where the reboot program is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// An absolute path, used as it is.
    Absolute(String),
    /// A name, looked for in these directories in order.
    Search {
        /// The program's name.
        name: String,
        /// The directories.
        paths: Vec<String>,
    },
}

/// What the reboot does (pure, from the parameters).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RebootPlan {
    /// The program that reboots.
    pub program: Program,
    /// Its arguments, a shell text.
    pub args: String,
    /// Reads the boot id.
    pub boot_time_command: String,
    /// Proves the host works after the reboot.
    pub test_command: String,
    /// Seconds for each of the two checks.
    pub reboot_timeout: u64,
    /// Seconds to wait after the reboot command.
    pub post_reboot_delay: u64,
    /// Seconds one attempt may take.
    pub attempt_timeout: u64,
}

/// The plan for `p`.
pub fn plan(p: &RebootParams) -> RebootPlan {
    let pre = whole_secs(p.pre_reboot_delay, 0);
    let (bin, args) = match &p.reboot_command {
        Some(c) => match c.split_once(' ') {
            Some((b, a)) => (b.to_string(), a.to_string()),
            None => (c.clone(), String::new()),
        },
        None => {
            let msg = p.msg.as_deref().unwrap_or("Reboot initiated by Ansible");
            (
                "shutdown".to_string(),
                format!("-r {} {}", pre / 60, quote(msg)),
            )
        }
    };
    let program = if bin.starts_with('/') {
        Program::Absolute(bin)
    } else {
        let paths = if p.search_paths.is_empty() {
            DEFAULT_SEARCH_PATHS.iter().map(|s| s.to_string()).collect()
        } else {
            p.search_paths.clone()
        };
        Program::Search { name: bin, paths }
    };
    RebootPlan {
        program,
        args,
        boot_time_command: p
            .boot_time_command
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "cat /proc/sys/kernel/random/boot_id".into()),
        test_command: p.test_command.clone().unwrap_or_else(|| "whoami".into()),
        reboot_timeout: whole_secs(p.reboot_timeout, 600),
        post_reboot_delay: whole_secs(p.post_reboot_delay, 0),
        attempt_timeout: whole_secs(p.connect_timeout, 30).max(1),
    }
}

/// The command that prints the index of the first directory of `paths` holding `name`,
/// or `none`: the controller builds the path from its own list, the host sends a number.
pub fn search_command(name: &str, paths: &[String]) -> RemoteCommand {
    let dirs: Vec<String> = paths.iter().map(|d| quote(d).into_owned()).collect();
    RemoteCommand::shell(format!(
        "i=0; for d in {}; do if [ -e \"$d\"/{} ]; then echo \"$i\"; exit 0; fi; i=$((i+1)); done; echo none",
        dirs.join(" "),
        quote(name)
    ))
}

/// The program's path from the search's reply; Ansible's message when it is not there.
pub fn found_program(name: &str, paths: &[String], stdout: &str) -> Result<String, String> {
    match stdout
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|i| paths.get(i))
    {
        Some(d) => Ok(format!("{}/{name}", d.trim_end_matches('/'))),
        None => Err(format!(
            "Unable to find command \"{name}\" in search paths: [{}]",
            paths
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether the boot id read now shows a reboot: Ansible's `check_boot_time`.
pub fn boot_changed(previous: &str, current: &str) -> Result<(), String> {
    if current.is_empty() || current == previous {
        return Err("boot time has not changed".into());
    }
    Ok(())
}

/// How long to wait after the `fails`-th failed attempt: `2^fails`, at most 12 s, plus
/// `jitter` (below a second).
pub fn backoff(fails: u32, jitter: f64) -> Duration {
    let base = 2f64.powi(fails.min(8) as i32).min(12.0);
    Duration::from_secs_f64(base + jitter.clamp(0.0, 0.999))
}

fn jitter() -> f64 {
    let n = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(n % 1000) / 1000.0
}

/// One run of a shell text on the host, through `become`, bounded by `limit`.
async fn run_shell(
    ctx: &TaskCtx<'_>,
    text: &str,
    limit: Option<Duration>,
) -> Result<crate::transport::ExecOutput, TransportError> {
    let mut cmd = RemoteCommand::shell(text).with_become(ctx.become_.clone());
    cmd.timeout = limit;
    ctx.transport.exec(&cmd).await
}

/// The boot id as the host reports it now; Ansible's message when the command fails.
async fn boot_id(
    ctx: &TaskCtx<'_>,
    plan: &RebootPlan,
    limit: Option<Duration>,
) -> Result<String, String> {
    let out = run_shell(ctx, &plan.boot_time_command, limit)
        .await
        .map_err(|e| transport_text(&e))?;
    if out.rc != 0 {
        return Err(format!(
            "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
            out.rc,
            out.stdout_str(),
            out.stderr_str()
        ));
    }
    Ok(out.stdout_str().trim().to_string())
}

fn transport_text(e: &TransportError) -> String {
    match e {
        TransportError::Unreachable(m) => m.clone(),
        other => other.to_string(),
    }
}

/// The checks after the reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The boot id differs from the one before.
    BootTime,
    /// The test command succeeds.
    TestCommand,
}

impl Check {
    fn desc(self) -> &'static str {
        match self {
            Check::BootTime => "last boot time check",
            Check::TestCommand => "post-reboot test command",
        }
    }
}

/// One attempt at `check`; a transport failure drops the connection for the next one.
async fn attempt(
    ctx: &TaskCtx<'_>,
    plan: &RebootPlan,
    check: Check,
    previous: &str,
    limit: Duration,
) -> Result<(), String> {
    let r = match check {
        Check::BootTime => match boot_id(ctx, plan, Some(limit)).await {
            Ok(now) => boot_changed(previous, &now),
            Err(e) => Err(e),
        },
        Check::TestCommand => match run_shell(ctx, &plan.test_command, Some(limit)).await {
            Ok(out) if out.rc == 0 => Ok(()),
            Ok(out) => Err(format!(
                "Test command failed: {} {}",
                out.stderr_str(),
                out.stdout_str()
            )),
            Err(e) => Err(transport_text(&e)),
        },
    };
    if r.is_err() {
        ctx.transport.reset().await;
    }
    r
}

/// Ansible's `do_until_success_or_timeout`: `check` until it holds or `reboot_timeout`
/// has passed; the error is Ansible's timeout message.
async fn until_ok(
    ctx: &TaskCtx<'_>,
    plan: &RebootPlan,
    check: Check,
    previous: &str,
) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(plan.reboot_timeout);
    let mut fails = 0;
    while Instant::now() < end {
        let limit = Duration::from_secs(plan.attempt_timeout).min(end - Instant::now());
        match attempt(ctx, plan, check, previous, limit).await {
            Ok(()) => return Ok(()),
            Err(e) => tracing::debug!(host = ctx.host, "reboot: {} fail '{e}'", check.desc()),
        }
        tokio::time::sleep(backoff(fails, jitter())).await;
        fails += 1;
    }
    Err(format!(
        "Timed out waiting for {} (timeout={})",
        check.desc(),
        plan.reboot_timeout
    ))
}

/// Whether the task runs over the local connection (Ansible refuses to reboot the
/// controller).
fn local_connection(ctx: &TaskCtx<'_>) -> bool {
    ctx.vars
        .get("ansible_connection")
        .is_some_and(|v| v.as_str() == Some("local"))
}

/// A result with Ansible's keys.
pub fn result(changed: bool, rebooted: bool, elapsed: u64, failure: Option<String>) -> TaskResult {
    let mut r = TaskResult::with_changed(changed);
    if let Some(m) = failure {
        r.set_failed(true);
        r.set_msg(json!(m));
    }
    r.insert("rebooted", json!(rebooted));
    r.insert("elapsed", json!(elapsed));
    r
}

/// Find the program, run the reboot command; `Err` is the failed task's result.
async fn start_reboot(ctx: &TaskCtx<'_>, plan: &RebootPlan) -> Result<(), TaskResult> {
    let program = match &plan.program {
        Program::Absolute(p) => p.clone(),
        Program::Search { name, paths } => {
            let cmd = search_command(name, paths).with_become(ctx.become_.clone());
            let out = ctx
                .transport
                .exec(&cmd)
                .await
                .map_err(|e| result(false, false, 0, Some(transport_text(&e))))?;
            found_program(name, paths, &out.stdout_str())
                .map_err(|m| result(false, false, 0, Some(m)))?
        }
    };
    let line = format!("{program} {}", plan.args);
    match run_shell(ctx, &line, Some(Duration::from_secs(plan.attempt_timeout))).await {
        Ok(out) if out.rc != 0 => Err(result(
            false,
            false,
            0,
            Some(format!(
                "Reboot command failed. Error was: '{}, {}'",
                out.stdout_str().trim(),
                out.stderr_str().trim()
            )),
        )),
        // The connection going down with the host is what a reboot does.
        Ok(_) | Err(_) => Ok(()),
    }
}

/// `ansible.builtin.reboot`.
pub struct Reboot;

#[async_trait::async_trait]
impl Module for Reboot {
    fn name(&self) -> &'static str {
        "ansible.builtin.reboot"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<RebootParams>(),
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: RebootParams = params("reboot", args)?;
        if local_connection(ctx) {
            let m = "Running reboot with local connection would reboot the control node.";
            return Ok(result(false, false, 0, Some(m.into())));
        }
        if ctx.check {
            return Ok(result(true, true, 0, None));
        }
        let plan = plan(&p);
        let previous = match boot_id(ctx, &plan, None).await {
            Ok(id) => id,
            Err(m) => return Ok(result(false, false, 0, Some(m))),
        };
        let t0 = Instant::now();
        if let Err(r) = start_reboot(ctx, &plan).await {
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_secs(plan.post_reboot_delay)).await;
        let mut outcome = until_ok(ctx, &plan, Check::BootTime, &previous).await;
        if outcome.is_ok() {
            outcome = until_ok(ctx, &plan, Check::TestCommand, &previous).await;
        }
        let elapsed = t0.elapsed().as_secs();
        Ok(match outcome {
            Ok(()) => result(true, true, elapsed, None),
            // Ansible: a timeout still says `rebooted: true`, and `changed` stays false.
            Err(m) => result(false, true, elapsed, Some(m)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> RebootParams {
        let Value::Object(m) = v else { unreachable!() };
        params("reboot", m).unwrap()
    }

    #[test]
    fn plans_ansible_s_linux_defaults_and_overrides() {
        let cases = [
            ("defaults", json!({})),
            (
                "delays_and_message",
                json!({"pre_reboot_delay": 150, "post_reboot_delay_sec": "5", "msg": "kernel $(x) \"y\"", "reboot_timeout": 90.7}),
            ),
            (
                "absolute_command",
                json!({"reboot_command": "/usr/bin/systemctl reboot --force"}),
            ),
            (
                "searched_command_no_args",
                json!({"reboot_command": "reboot", "search_paths": "/opt/bin,/usr/sbin/"}),
            ),
            (
                "own_checks",
                json!({"boot_time_command": "uptime -s", "test_command": "systemctl is-system-running", "connect_timeout": 5}),
            ),
        ];
        let v: Vec<(&str, RebootPlan)> = cases.into_iter().map(|(n, a)| (n, plan(&p(a)))).collect();
        insta::assert_yaml_snapshot!(v);
        insta::assert_snapshot!(
            search_command("shutdown", &["/sbin".into(), "/my dir".into()]).to_shell()
        );
    }

    #[test]
    fn the_program_path_is_built_from_the_controller_s_list() {
        let paths = vec!["/sbin".to_string(), "/usr/sbin/".to_string()];
        assert_eq!(
            found_program("shutdown", &paths, "1\n"),
            Ok("/usr/sbin/shutdown".into())
        );
        assert_eq!(
            found_program("shutdown", &paths, "0"),
            Ok("/sbin/shutdown".into())
        );
        // Whatever else the host sends is no path.
        for bad in ["none", "2", "/etc/passwd", "", "-1"] {
            assert_eq!(
                found_program("shutdown", &paths, bad),
                Err(
                    "Unable to find command \"shutdown\" in search paths: ['/sbin', '/usr/sbin/']"
                        .into()
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_reboot_is_a_new_non_empty_boot_id() {
        assert!(boot_changed("a1", "b2").is_ok());
        assert_eq!(
            boot_changed("a1", "a1"),
            Err("boot time has not changed".into())
        );
        assert_eq!(
            boot_changed("a1", ""),
            Err("boot time has not changed".into())
        );
    }

    #[test]
    fn backoff_doubles_up_to_twelve_seconds_plus_jitter() {
        let s: Vec<f64> = (0..6).map(|n| backoff(n, 0.5).as_secs_f64()).collect();
        assert_eq!(s, vec![1.5, 2.5, 4.5, 8.5, 12.5, 12.5]);
        assert_eq!(backoff(40, 7.0), Duration::from_secs_f64(12.999));
    }

    #[test]
    fn results_have_ansible_s_keys() {
        let ok = result(true, true, 42, None);
        assert_eq!(
            serde_json::to_value(ok.registered()).unwrap(),
            json!({"changed": true, "rebooted": true, "elapsed": 42})
        );
        let bad = result(
            false,
            true,
            600,
            Some("Timed out waiting for last boot time check (timeout=600)".into()),
        );
        assert!(bad.failed());
        assert_eq!(bad.get("rebooted"), Some(&json!(true)));
    }
}
