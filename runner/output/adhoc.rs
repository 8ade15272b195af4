//! The output of `windlass adhoc`, as the `ansible` command prints it: one block per
//! host, no play or task headers, no recap.
//!
//! Why this module exists: `ansible` users read (and scripts parse) `host | CHANGED =>
//! {json}`, the `rc=N >>` form of command modules and the `-o` one-liners; these are
//! ansible-core's `minimal` and `oneline` callbacks (`plugins/callback/minimal.py`,
//! `oneline.py`), a different layout from the playbook printer's.

use std::io::Write;

use serde_json::{Map, Value};

use super::printer::sorted;
use crate::event::{CommandOp, Event, EventSink, Status};

/// Prints ad-hoc results to `out`, warnings to stderr.
pub struct AdhocPrinter<W: Write + Send> {
    out: W,
    color: bool,
    one_line: bool,
    /// The module, as the command line named it.
    action: String,
    /// `-v` count: from 3 on, each command sent to a host is shown.
    verbosity: u8,
    /// The inventory has no hosts: no "No hosts matched" warning then (the inventory's
    /// own warnings said it).
    inventory_empty: bool,
    /// The task as a failure's `[ERROR]` block shows it ([`AdhocPrinter::task_repr`]).
    task_repr: Option<String>,
}

impl<W: Write + Send> AdhocPrinter<W> {
    /// A printer of `action`'s results; `one_line` is `-o`, `color` paints as Ansible.
    pub fn new(out: W, action: &str, one_line: bool, color: bool) -> Self {
        AdhocPrinter {
            out,
            color,
            one_line,
            action: action.to_string(),
            verbosity: 0,
            inventory_empty: false,
            task_repr: None,
        }
    }

    /// The task's dictionary as Python prints it (`{'action': …, 'args': {…}, …}`): a
    /// failed or unreachable host's result then follows `ansible`'s `[ERROR]: Task failed:`
    /// block that names it (the callback's `_handle_warnings_and_exception`).
    pub fn task_repr(mut self, repr: String) -> Self {
        self.task_repr = Some(repr);
        self
    }

    /// `[ERROR]: Task failed: <why>`, the task's origin and dictionary, as ansible-core
    /// 2.19's error summary prints them before a failed or unreachable host's line.
    fn error_block(&mut self, status: Status, result: &Map<String, Value>) {
        let Some(repr) = self.task_repr.clone() else {
            return;
        };
        let msg = result.get("msg").and_then(Value::as_str);
        // _internal/_errors/_captured.py: an action plugin's own failure is "Action
        // failed", a module's "Module failed"; an unreachable host has no such word.
        let why = match (status, msg) {
            (Status::Unreachable, m) => m.unwrap_or_default().to_string(),
            (_, m) => {
                let kind = match action_plugin(&self.action) {
                    true => "Action failed",
                    false => "Module failed",
                };
                m.map_or(format!("{kind}."), |m| format!("{kind}: {m}"))
            }
        };
        let short = self
            .action
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        let text =
            format!("[ERROR]: Task failed: {why}\nOrigin: <adhoc '{short}' task>\n\n{repr}\n");
        self.line("0;31", &text);
    }

    /// The inventory has no hosts: `ansible` warns "No hosts matched, nothing to do" only
    /// when a pattern matched nothing of an inventory that has hosts (cli/adhoc.py).
    pub fn inventory_empty(mut self, empty: bool) -> Self {
        self.inventory_empty = empty;
        self
    }

    /// Show each command sent to a host from `verbosity` 3 on (`-vvv`), as `<host> EXEC …`.
    pub fn verbosity(mut self, verbosity: u8) -> Self {
        self.verbosity = verbosity;
        self
    }

    fn line(&mut self, code: &str, text: &str) {
        let _ = match self.color {
            true => writeln!(self.out, "\x1b[{code}m{text}\x1b[0m"),
            false => writeln!(self.out, "{text}"),
        };
    }

    /// Command modules show their output as text (`MODULE_NO_JSON`).
    fn no_json(&self) -> bool {
        let short = self.action.rsplit('.').next().unwrap_or_default();
        matches!(short, "command" | "shell" | "raw")
    }

    fn result(&mut self, host: &str, status: Status, result: &Map<String, Value>) {
        if matches!(status, Status::Failed | Status::Unreachable) && !self.one_line {
            self.error_block(status, result);
        }
        let (state, code) = match status {
            Status::Changed => ("CHANGED", "0;33"),
            Status::Ok => ("SUCCESS", "0;32"),
            Status::Skipped => return self.line("0;36", &format!("{host} | SKIPPED")),
            Status::Failed => ("FAILED", "0;31"),
            Status::Unreachable => return self.unreachable(host, result),
        };
        let text = match (status, self.one_line, self.no_json()) {
            (Status::Failed, true, true) => format!(
                "{}\n{host} | FAILED! => {}",
                one_line_command(host, state, result),
                one_line_json(&shown(result, false))
            ),
            (Status::Failed, true, false) => format!(
                "An exception occurred during task execution. To see the full traceback, use \
                 -vvv. The error was: (traceback unavailable)\n{host} | FAILED! => {}",
                one_line_json(&shown(result, false))
            ),
            (_, true, true) => one_line_command(host, state, result),
            (_, true, false) => {
                let json = shown(result, false);
                // debug's results are `_ansible_verbose_always`: dumped with indent 4, and
                // oneline.py only removes the newlines.
                let json = match self.action.rsplit('.').next() == Some("debug") {
                    true => pretty(&json).replace('\n', ""),
                    false => one_line_json(&json),
                };
                format!("{host} | {state} => {json}")
            }
            (_, false, true) => command_block(host, state, result),
            (Status::Failed, false, false) => {
                format!("{host} | FAILED! => {}", pretty(&shown(result, false)))
            }
            (_, false, false) => {
                let debug = self.action.rsplit('.').next() == Some("debug");
                format!("{host} | {state} => {}", pretty(&shown(result, debug)))
            }
        };
        self.line(code, &text);
    }

    fn unreachable(&mut self, host: &str, result: &Map<String, Value>) {
        let text = if self.one_line {
            let msg = result
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("{host} | UNREACHABLE!: {msg}")
        } else {
            format!("{host} | UNREACHABLE! => {}", pretty(&shown(result, false)))
        };
        self.line("1;31", &text);
    }
}

/// Modules ansible-core runs as action plugins alone, on the controller: their failures
/// are the action's, not a module's.
fn action_plugin(action: &str) -> bool {
    let short = action.rsplit('.').next().unwrap_or_default();
    matches!(
        short,
        "add_host"
            | "assert"
            | "debug"
            | "fail"
            | "group_by"
            | "include_vars"
            | "pause"
            | "set_fact"
            | "set_stats"
            | "wait_for_connection"
    )
}

impl<W: Write + Send> EventSink for AdhocPrinter<W> {
    fn event(&mut self, e: &Event) {
        match e {
            Event::HostResult {
                host,
                status,
                result,
                diff,
                loop_summary: false,
                ..
            } => {
                // minimal.py `v2_on_file_diff`: the diff, then the line `display` ends it with.
                if !diff.is_empty() {
                    let text: String = diff.iter().map(super::printer::unified_diff).collect();
                    let _ = writeln!(self.out, "{}", super::color::paint_diff(&text, self.color));
                }
                self.result(host, *status, result);
            }
            Event::PlayStart { hosts, .. } if hosts.is_empty() && !self.inventory_empty => {
                eprintln!("[WARNING]: No hosts matched, nothing to do");
            }
            Event::Warning { message } => eprintln!("[WARNING]: {message}"),
            Event::Command {
                host,
                op,
                line: Some(line),
                ..
            } if self.verbosity >= 3 => {
                let word = match op {
                    CommandOp::Exec => "EXEC",
                    CommandOp::Put => "PUT",
                    CommandOp::Get => "GET",
                };
                let _ = writeln!(self.out, "<{host}> {word} {line}");
            }
            Event::Module { module, path, .. } if self.verbosity >= 3 => {
                let line = super::printer::module_line(module, path.as_deref());
                let _ = writeln!(self.out, "{line}");
            }
            _ => {}
        }
        let _ = self.out.flush();
    }
}

/// `host | CHANGED | rc=0 >>` and the output (minimal.py `_command_generic_msg`).
fn command_block(host: &str, state: &str, r: &Map<String, Value>) -> String {
    let text = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    format!(
        "{host} | {state} | rc={} >>\n{}{}{}",
        rc(r),
        text("stdout"),
        text("stderr"),
        text("msg")
    )
}

/// `host | CHANGED | rc=0 | (stdout) …` (oneline.py `_command_generic_msg`).
fn one_line_command(host: &str, state: &str, r: &Map<String, Value>) -> String {
    let flat = |k: &str| {
        let s = r.get(k).and_then(Value::as_str).unwrap_or_default();
        s.replace('\n', "\\n").replace('\r', "\\r")
    };
    let (stdout, stderr) = (flat("stdout"), flat("stderr"));
    match stderr.is_empty() {
        true => format!("{host} | {state} | rc={} | (stdout) {stdout}", rc(r)),
        false => format!(
            "{host} | {state} | rc={} | (stdout) {stdout} (stderr) {stderr}",
            rc(r)
        ),
    }
}

fn rc(r: &Map<String, Value>) -> String {
    r.get("rc")
        .map(Value::to_string)
        .unwrap_or_else(|| "-1".into())
}

/// The result as the callbacks dump it: no internal keys, flags, diff or invocation
/// (`CallbackBase._dump_results`, `TaskResult._IGNORE`); for `debug` only its message or
/// variable (`_clean_results`). Keys sorted, as `json.dumps(sort_keys=True)`.
fn shown(r: &Map<String, Value>, debug: bool) -> Value {
    const HIDDEN: &[&str] = &[
        "failed",
        "skipped",
        "diff",
        "invocation",
        "exception",
        "warnings",
        "deprecations",
    ];
    let keep = |k: &str| {
        if k.starts_with("_ansible") || HIDDEN.contains(&k) {
            return false;
        }
        match (debug, r.contains_key("msg")) {
            (false, _) => true,
            (true, true) => k == "msg",
            (true, false) => !matches!(k, "changed" | "skip_reason"),
        }
    };
    let m: Map<String, Value> = r
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    sorted(&Value::Object(m))
}

/// Python's `json.dumps(indent=4)`.
fn pretty(v: &Value) -> String {
    with_indent(v, b"    ")
}

/// Python's `json.dumps(indent=0)` with the newlines removed (oneline.py).
fn one_line_json(v: &Value) -> String {
    with_indent(v, b"").replace('\n', "")
}

fn with_indent(v: &Value, indent: &[u8]) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    match v.serialize(&mut ser) {
        Ok(()) => String::from_utf8(buf).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn printed(action: &str, one_line: bool, status: Status, result: Value) -> String {
        let mut out = Vec::new();
        let mut p = AdhocPrinter::new(&mut out, action, one_line, false);
        let Value::Object(r) = result else { panic!() };
        p.result("h1", status, &r);
        String::from_utf8(out).unwrap()
    }

    /// The texts ansible-core 2.19's minimal and oneline callbacks printed for these results.
    #[test]
    fn layouts_as_ansible_prints_them() {
        let ping = json!({"changed": false, "ping": "pong", "failed": false});
        assert_eq!(
            printed("ping", false, Status::Ok, ping.clone()),
            "h1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n"
        );
        assert_eq!(
            printed("ping", true, Status::Ok, ping),
            "h1 | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}\n"
        );
        let cmd = json!({"rc": 0, "stdout": "out", "stderr": "err", "msg": "", "changed": true});
        assert_eq!(
            printed("ansible.builtin.shell", false, Status::Changed, cmd.clone()),
            "h1 | CHANGED | rc=0 >>\nouterr\n"
        );
        assert_eq!(
            printed("shell", true, Status::Changed, cmd),
            "h1 | CHANGED | rc=0 | (stdout) out (stderr) err\n"
        );
        let dbg = json!({"msg": "yo", "changed": false, "failed": false});
        assert_eq!(
            printed("debug", false, Status::Ok, dbg.clone()),
            "h1 | SUCCESS => {\n    \"msg\": \"yo\"\n}\n"
        );
        assert_eq!(
            printed("debug", true, Status::Ok, dbg),
            "h1 | SUCCESS => {    \"changed\": false,    \"msg\": \"yo\"}\n"
        );
        let fail = json!({"changed": false, "msg": "boom", "failed": true, "list": [1, 2]});
        assert_eq!(
            printed("fail", false, Status::Failed, fail.clone()),
            "h1 | FAILED! => {\n    \"changed\": false,\n    \"list\": [\n        1,\n        2\n    ],\n    \"msg\": \"boom\"\n}\n"
        );
        assert!(
            printed("fail", true, Status::Failed, fail).ends_with(
                "h1 | FAILED! => {\"changed\": false,\"list\": [1,2],\"msg\": \"boom\"}\n"
            )
        );
    }
}
