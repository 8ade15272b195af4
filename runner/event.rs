//! The one stream of events that comes out of the engine.
//!
//! Why this module exists: the terminal printer, the JSONL writer, tests and embedders all
//! learn what happened from the same typed [`Event`]s, so no sink can disagree with another
//! about a run. Events carry data, never formatting.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Loc;
use crate::modules::plan::FileDiff;

/// The outcome of one task on one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ran, nothing changed.
    Ok,
    /// Ran and changed something (or would, in check mode).
    Changed,
    /// Failed.
    Failed,
    /// Skipped (`when` false, or not supported in check mode).
    Skipped,
    /// Could not reach the host.
    Unreachable,
}

/// Per-host totals for the recap, like ansible-playbook's PLAY RECAP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HostStats {
    /// Tasks ok (changed ones included, as Ansible counts).
    pub ok: u32,
    /// Tasks that changed something.
    pub changed: u32,
    /// 1 when the host was unreachable.
    pub unreachable: u32,
    /// Tasks that failed (not ignored).
    pub failed: u32,
    /// Tasks skipped.
    pub skipped: u32,
    /// Failures rescued by a block's `rescue`.
    pub rescued: u32,
    /// Failures ignored by `ignore_errors`.
    pub ignored: u32,
}

/// What a transport was asked to do, for [`Event::Command`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandOp {
    /// Run a command: `line` is the shell line the host runs.
    Exec,
    /// Write a file (its content never appears): `line` is the destination path.
    Put,
    /// Read a file: `line` is its path.
    Get,
}

/// Something that happened during a run.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run starts.
    RunStart {
        /// The playbook file.
        playbook: String,
        /// Check mode.
        check: bool,
    },
    /// A play starts.
    PlayStart {
        /// The play's name (or its host pattern).
        name: String,
        /// Hosts selected for the play. None: the play is skipped ("skipping: no hosts
        /// matched") and the run goes on with the next play.
        hosts: Vec<String>,
    },
    /// A task starts (on every host of the batch).
    TaskStart {
        /// Display name: `role : name` or the action.
        name: String,
        /// The module (FQCN).
        action: String,
        /// Where the task is defined.
        loc: Loc,
        /// Whether this is a handler.
        handler: bool,
        /// How many hosts it runs on.
        hosts: usize,
    },
    /// A task finished on one host. A looped task emits one event per item (with `item`)
    /// and then, like ansible-playbook's `v2_runner_on_ok`/`_failed`/`_skipped` after the
    /// items, one summary for the host: `item` is `None`, `loop_summary` is true and
    /// `result.results` holds the items' results. The summary is the task's overall outcome
    /// on the host (what the recap counts); a sink that shows items may skip it, as the
    /// terminal printer does (Ansible's default callback prints no line for it).
    HostResult {
        /// The host.
        host: String,
        /// The task's display name.
        task: String,
        /// Outcome.
        status: Status,
        /// The loop item label, for loop iterations.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<Value>,
        /// The registered-style result (masked when `no_log`).
        result: Map<String, Value>,
        /// Whether the failure was ignored (`ignore_errors`).
        ignored: bool,
        /// Where it ran if delegated.
        #[serde(skip_serializing_if = "Option::is_none")]
        delegated_to: Option<String>,
        /// The summary after a looped task's per-item events (see above); not serialized
        /// when false.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        loop_summary: bool,
        /// How long it took on this host.
        #[serde(serialize_with = "ser_secs")]
        duration: Duration,
        /// The files it changed, before and after (diff mode): data, which the printer
        /// shows as a unified diff and the JSONL stream as `[{path, before, after}]`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        diff: Vec<FileDiff>,
    },
    /// An `until` condition was not met: the task runs again on the host (after `delay`).
    /// ansible-playbook's `FAILED - RETRYING: [host]: name (N retries left).` (callback
    /// `v2_runner_retry`).
    Retry {
        /// The host.
        host: String,
        /// The task's name as Ansible shows it in that line: its `name:` (without the
        /// role), else its display name.
        task: String,
        /// The attempt that just failed its `until` (1 for the first run).
        attempt: u32,
        /// How many runs are left.
        retries_left: u32,
        /// Where it ran if delegated.
        #[serde(skip_serializing_if = "Option::is_none")]
        delegated_to: Option<String>,
    },
    /// A dynamic include loaded a file for some hosts, as ansible-playbook's
    /// `included: <file> for <hosts>` (callback `v2_playbook_on_include`). One per file and
    /// set of variables: a looped include gives one per item. Its hosts each count one `ok`
    /// in the recap (the include task's own `ok` results do not count).
    Include {
        /// The file's name (`inc.yml`), or the role's name for `include_role`.
        file: String,
        /// What ansible-playbook prints: the tasks file's absolute path, or the role's name.
        path: String,
        /// The hosts that include it, in the order they resolved it.
        hosts: Vec<String>,
        /// The loop item's label, for a looped include.
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<Value>,
    },
    /// One command run on (or file moved to or from) a host, as `ansible-playbook -vvv`
    /// shows what it executes. Emitted only from `-vvv` on, or when
    /// [`crate::engine::RunOptions::report_commands`] asks for it. Probes answered from a
    /// batch are not commands: the batch itself is one.
    Command {
        /// The host the command ran on (the delegate, for a delegated task).
        host: String,
        /// The task it ran for; `None` outside any task (closing the connection).
        task: Option<String>,
        /// Exec, put or get.
        op: CommandOp,
        /// The shell line (exec) or the path (put, get); `None` when censored, for a
        /// `no_log` task. Stdin (file contents, the become password) is never part of it,
        /// and values of secret-looking environment variables are masked.
        line: Option<String>,
        /// The exit status (exec); 0 for a put or get that worked; `None` when the
        /// transport failed.
        rc: Option<i32>,
        /// Why the transport failed (not the command's own error output); `None` when
        /// censored.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// How long it took.
        #[serde(serialize_with = "ser_secs")]
        duration: Duration,
    },
    /// Which implementation runs a task's module on one host, as `ansible-playbook -vvv`'s
    /// `Using module file …` line: once per execution (each loop item, each `until`
    /// attempt), just before it runs. Emitted only when commands are reported (from `-vvv`
    /// on, or [`crate::engine::RunOptions::report_commands`]).
    Module {
        /// The host the task runs for (not its delegate).
        host: String,
        /// The task's display name.
        task: String,
        /// The module (FQCN).
        module: String,
        /// The Ansible module file the module bridge packages for it (`…/modules/cron.py`);
        /// `None` for a module windlass implements natively.
        path: Option<String>,
    },
    /// A warning for the user (deprecated syntax, nothing matched, …).
    Warning {
        /// The text.
        message: String,
    },
    /// The hosts of the play ran out (all failed or unreachable): the play stops.
    NoHostsRemaining,
    /// The run finished.
    RunEnd {
        /// Per-host totals, in inventory order.
        stats: Vec<(String, HostStats)>,
        /// Wall time of the run.
        #[serde(serialize_with = "ser_secs")]
        duration: Duration,
    },
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Receives events. The printer, the JSONL writer and test collectors implement it.
pub trait EventSink: Send {
    /// Handle one event.
    fn event(&mut self, event: &Event);
}

impl<F: FnMut(&Event) + Send> EventSink for F {
    fn event(&mut self, event: &Event) {
        self(event)
    }
}

/// Collects every event in memory (tests, embedders).
#[derive(Clone, Default)]
pub struct Collector {
    /// The events so far.
    pub events: std::sync::Arc<std::sync::Mutex<Vec<Event>>>,
}

impl Collector {
    /// A copy of the events collected so far.
    pub fn take(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for Collector {
    fn event(&mut self, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}
