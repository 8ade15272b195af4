//! `ansible.builtin.pause`: wait a number of seconds or minutes, or for the user to press
//! enter.
//!
//! Why this module exists: playbooks pause between rolling steps or ask an operator to
//! confirm. It runs on the controller, once per batch, for the batch's first host only, as
//! Ansible's `BYPASS_HOST_LOOP` action does (the other hosts get no result: a `register`
//! is set on the first host alone). Modelled on ansible-core 2.19's
//! `lib/ansible/plugins/action/pause.py`: `seconds` or `minutes` wait that long (at least
//! one second; the value is truncated to a whole number as Python's `int()` does); a
//! `prompt` without a duration reads one line from the terminal when standard input is an
//! interactive terminal in the foreground, and otherwise does not wait and warns, as
//! Ansible does. A duration with a prompt waits the duration and ignores input. Result keys
//! `start`, `stop`, `delta` (whole seconds), `stdout` (`Paused for N minutes`),
//! `user_input`, `echo`.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::ansible_bool;
use super::plan::{params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

fn yes() -> bool {
    true
}

/// Parameters of `pause`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseParams {
    /// Minutes to pause for (truncated to a whole number). Not with `seconds`.
    #[serde(default)]
    pub minutes: Option<f64>,
    /// Seconds to pause for (truncated to a whole number; at least 1). Not with
    /// `minutes`.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Text to show; without a duration, the task waits for a line of input on an
    /// interactive terminal (and does not wait, with a warning, without one).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Whether typed input is shown. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub echo: bool,
}

/// The unit `stdout` reports the pause in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// `seconds` was given.
    Seconds,
    /// `minutes` was given, or no duration.
    Minutes,
}

/// What the pause does (pure, from the parameters and whether input is interactive).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PausePlan {
    /// Wait this long (a duration was given).
    pub wait: Option<Duration>,
    /// Read one line of input (a prompt, no duration, an interactive terminal).
    pub read_line: bool,
    /// What the terminal shows first (the prompt), when it reads.
    pub prompt: Option<String>,
    /// Whether the line typed is echoed.
    pub echo_input: bool,
    /// The unit of `stdout`.
    pub unit: Unit,
    /// A warning for the result.
    pub warning: Option<String>,
}

/// What `p` does for task `task`, with `interactive` telling whether standard input is a
/// terminal this process may read.
pub fn plan(p: &PauseParams, task: &str, interactive: bool) -> PausePlan {
    let (secs, unit) = match (p.minutes, p.seconds) {
        (Some(m), _) => (Some(m.trunc() * 60.0), Unit::Minutes),
        (None, Some(s)) => (Some(s.trunc()), Unit::Seconds),
        (None, None) => (None, Unit::Minutes),
    };
    let wait = secs.map(|s| Duration::from_secs_f64(if s < 1.0 { 1.0 } else { s }));
    let hidden = if p.echo { "" } else { " (output is hidden)" };
    let text = p
        .prompt
        .as_deref()
        .unwrap_or("Press enter to continue, Ctrl+C to interrupt");
    let read_line = wait.is_none() && interactive;
    PausePlan {
        wait,
        read_line,
        prompt: read_line.then(|| format!("[{}]\n{text}{hidden}:", task.trim())),
        echo_input: p.echo,
        unit,
        warning: (wait.is_none() && !interactive)
            .then(|| "Not waiting for response to prompt as stdin is not interactive".into()),
    }
}

/// The result Ansible reports for a pause that ran from `start` for `took`.
pub fn result(
    p: &PauseParams,
    plan: &PausePlan,
    times: (SystemTime, SystemTime),
    took: Duration,
    user_input: &str,
) -> TaskResult {
    let mut r = TaskResult::with_changed(false);
    let secs = took.as_secs_f64();
    let shown = match plan.unit {
        Unit::Minutes => format!("Paused for {} minutes", py_round2(secs / 60.0)),
        Unit::Seconds => format!("Paused for {} seconds", py_round2(secs)),
    };
    r.insert("rc", json!(0));
    r.insert("stderr", json!(""));
    r.insert("stdout", json!(shown));
    r.insert("start", json!(super::py_time::datetime(times.0)));
    r.insert("stop", json!(super::py_time::datetime(times.1)));
    r.insert("delta", json!(took.as_secs()));
    r.insert("echo", json!(p.echo));
    r.insert("user_input", json!(user_input));
    if let Some(w) = &plan.warning {
        r.insert("warnings", json!([w]));
    }
    r
}

/// Python's `str(round(x, 2))`: at least one decimal (`1.0`), at most two.
fn py_round2(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    let s = format!("{r}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Whether standard input is a terminal whose foreground process group is ours (Ansible:
/// `isatty` and `getpgrp() == tcgetpgrp()`).
fn interactive() -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    match rustix::termios::tcgetpgrp(&stdin) {
        Ok(fg) => fg == rustix::process::getpgrp(),
        Err(_) => false,
    }
}

/// Show `prompt` and read one line from the terminal, with echo off when asked.
fn read_line(prompt: &str, echo: bool) -> String {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{prompt}");
    let _ = out.flush();
    if !echo {
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if !echo {
        let _ = std::process::Command::new("stty").arg("echo").status();
        let _ = writeln!(out);
    }
    line.trim_end_matches(['\n', '\r']).to_string()
}

/// `ansible.builtin.pause`.
pub struct Pause;

#[async_trait::async_trait]
impl Module for Pause {
    fn name(&self) -> &'static str {
        "ansible.builtin.pause"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: spec_params::<PauseParams>(),
            exclusive: &[&["minutes", "seconds"]],
            ..ParamSpec::default()
        }
    }
    fn controller_only(&self) -> bool {
        true
    }
    fn bypasses_host_loop(&self) -> bool {
        true
    }
    async fn run(
        &self,
        _ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: PauseParams = params("pause", args)?;
        let task = crate::transport::report::TASK
            .try_with(|t| t.name.clone())
            .unwrap_or_else(|_| "pause".into());
        let plan = plan(&p, &task, interactive());
        let start = SystemTime::now();
        let t0 = Instant::now();
        let mut input = String::new();
        if let Some(w) = plan.wait {
            tokio::time::sleep(w).await;
        } else if let Some(prompt) = plan.prompt.clone() {
            let echo = plan.echo_input;
            input = tokio::task::spawn_blocking(move || read_line(&prompt, echo))
                .await
                .map_err(|e| ModuleError::Failed(format!("reading the answer failed: {e}")))?;
        }
        let took = t0.elapsed();
        Ok(result(&p, &plan, (start, SystemTime::now()), took, &input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> PauseParams {
        let Value::Object(m) = v else { unreachable!() };
        params("pause", m).unwrap()
    }

    #[test]
    fn plans_as_pause_py_decides() {
        let cases = [
            ("seconds", json!({"seconds": 3}), false),
            ("seconds_below_one", json!({"seconds": 0}), false),
            ("minutes_float_truncated", json!({"minutes": "2"}), false),
            ("minutes_zero", json!({"minutes": 0.5}), false),
            ("prompt_no_tty", json!({"prompt": "Go?"}), false),
            ("prompt_tty", json!({"prompt": "Go?"}), true),
            (
                "prompt_tty_hidden",
                json!({"prompt": "Go?", "echo": "no"}),
                true,
            ),
            ("no_args_tty", json!({}), true),
            (
                "prompt_with_seconds_tty",
                json!({"prompt": "Go?", "seconds": 2}),
                true,
            ),
        ];
        let plans: Vec<(&str, PausePlan)> = cases
            .into_iter()
            .map(|(n, v, tty)| (n, plan(&p(v), " my task ", tty)))
            .collect();
        insta::assert_yaml_snapshot!(plans);
    }

    #[test]
    fn reports_stdout_as_python_rounds() {
        let params = p(json!({"prompt": "x"}));
        let pl = plan(&params, "t", false);
        let now = SystemTime::now();
        let r = result(&params, &pl, (now, now), Duration::from_millis(1800), "");
        assert_eq!(r.get("stdout"), Some(&json!("Paused for 0.03 minutes")));
        assert_eq!(r.get("delta"), Some(&json!(1)));
        assert_eq!(
            r.get("warnings"),
            Some(&json!([
                "Not waiting for response to prompt as stdin is not interactive"
            ]))
        );
        let params = p(json!({"seconds": 1}));
        let pl = plan(&params, "t", false);
        let r = result(&params, &pl, (now, now), Duration::from_millis(1003), "");
        assert_eq!(r.get("stdout"), Some(&json!("Paused for 1.0 seconds")));
        assert!(r.get("warnings").is_none());
        assert_eq!(py_round2(0.0), "0.0");
        assert_eq!(py_round2(1.0 / 60.0), "0.02");
        assert_eq!(py_round2(90.0), "90.0");
    }

    #[test]
    fn minutes_and_seconds_exclude_each_other_and_refuse_words() {
        let m = Map::from_iter([("minutes".to_string(), json!("soon"))]);
        assert!(params::<PauseParams>("pause", m).is_err());
    }
}
