//! What a run has done so far, kept apart from the engine: each host's totals and flags
//! (failed, unreachable, ended, inside a rescuable block), its notified and due handlers,
//! the running play's handlers, what the journal must not keep, and whether
//! `--start-at-task` found its task. Every task outcome is counted by [`RunState::record`].
//!
//! Why this module exists: the engine's context (options, templating, loader, inventory,
//! connections, the event sink) does not change while tasks run; this does, from many
//! hosts at once. With the changing part in one place, its rules (how an ignored failure
//! or an unreachable host counts, what a rescue undoes) are read and changed here, and a
//! host's totals cannot be bumped past them. The variables a task sets (facts, registered
//! results) stay with the host's variable layers (`host_vars::Dynamic`), which templating
//! reads.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use crate::event::{HostStats, Status};
use crate::modules::TaskResult;
use crate::modules::plan::FileDiff;
use crate::playbook::task::{Task, TaskNode};

/// Per-host state during a run.
#[derive(Default)]
pub(crate) struct HostState {
    pub stats: HostStats,
    pub failed: bool,
    pub unreachable: bool,
    pub ended: bool,
    /// Roles (instances) the host ended with `meta: end_role`: their other tasks skip it.
    pub ended_roles: Vec<std::sync::Arc<crate::playbook::role::RoleInstance>>,
    /// How many blocks with a `rescue` the host is inside: a failure there may be rescued.
    pub rescuable: u32,
    pub notified: IndexSet<String>,
    /// Handlers (indices into the play's handler list) notified and not run yet.
    pub due: BTreeSet<usize>,
}

/// The outcome of a task (or one loop item) on one host.
pub(crate) struct Outcome {
    pub status: Status,
    /// The registered value ([`TaskResult::registered`] for a module's).
    pub result: Map<String, Value>,
    pub ignored: bool,
    /// Whether it changed the host, whatever its status (a failure may have).
    pub changed: bool,
    /// The file diffs it reports (diff mode).
    pub diffs: Vec<FileDiff>,
}

impl Outcome {
    /// An outcome the engine makes itself (a skip, a failure, an engine action): changed
    /// exactly when its status says so, no diff.
    pub fn new(status: Status, result: Map<String, Value>, ignored: bool) -> Outcome {
        Outcome {
            status,
            result,
            ignored,
            changed: status == Status::Changed,
            diffs: Vec::new(),
        }
    }

    /// A module's outcome: the status, the change and the diffs its result says.
    pub fn of(result: &TaskResult, ignored: bool) -> Outcome {
        Outcome {
            status: result.status(),
            result: result.registered(),
            ignored,
            changed: result.changed(),
            diffs: result.diffs().to_vec(),
        }
    }

    /// A failure with `msg` (not ignored).
    pub fn failed(msg: String) -> Outcome {
        let mut r = Map::new();
        r.insert("failed".into(), Value::Bool(true));
        r.insert("msg".into(), Value::String(msg));
        Outcome::new(Status::Failed, r, false)
    }

    /// A plain status with an empty result (an include's own line).
    pub fn plain(status: Status) -> Outcome {
        Outcome::new(status, Map::new(), false)
    }
}

/// How [`RunState::record`] counted an outcome.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counted {
    /// The host failed (or became unreachable) on it.
    pub failed: bool,
    /// It failed inside a block whose `rescue` will run.
    pub rescuing: bool,
}

/// The running play's handlers.
#[derive(Default)]
pub(crate) struct PlayHandlers {
    /// The play's own.
    pub play: Vec<TaskNode>,
    /// Added by `include_role` during the play, one list per include (each is a handler
    /// block of its own, as ansible-core adds an included role's handler blocks).
    pub extra: Vec<Vec<TaskNode>>,
}

/// The run's changing state.
pub(crate) struct RunState {
    hosts: Mutex<IndexMap<String, HostState>>,
    handlers: Mutex<PlayHandlers>,
    /// Variables set by `no_log` tasks (`register`, facts): never written to the journal.
    unjournaled: Mutex<HashSet<String>>,
    /// Set once `--start-at-task` found its task (from the start without one).
    started: AtomicBool,
}

impl RunState {
    /// A run's state before its first task; `started` unless `--start-at-task` waits.
    pub fn new(started: bool) -> RunState {
        RunState {
            hosts: Mutex::new(IndexMap::new()),
            handlers: Mutex::new(PlayHandlers::default()),
            unjournaled: Mutex::new(HashSet::new()),
            started: AtomicBool::new(started),
        }
    }

    /// Every host's state, locked.
    pub fn hosts(&self) -> MutexGuard<'_, IndexMap<String, HostState>> {
        self.hosts.lock().expect("states lock")
    }

    /// The running play's handlers, locked.
    pub fn handlers(&self) -> MutexGuard<'_, PlayHandlers> {
        self.handlers.lock().expect("handlers lock")
    }

    /// Variables that must not reach the journal.
    pub fn unjournaled(&self) -> HashSet<String> {
        self.unjournaled.lock().expect("unjournaled lock").clone()
    }

    /// Whether tasks run yet (`--start-at-task` found its task, or there is none).
    pub fn started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// `--start-at-task` found its task.
    pub fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
    }

    /// Count `outcome` of `task` on `host`: the recap's totals and the host's flags, as
    /// Ansible's strategy does (`plugins/strategy/__init__.py`, `_process_pending_results`):
    /// an ignored failure counts as ok and ignored (and changed when its result says so),
    /// an unreachable host is unreachable once. What a `no_log` task registered or set as
    /// facts is kept off the journal.
    pub fn record(&self, host: &str, task: &Task, outcome: &Outcome, no_log: bool) -> Counted {
        if no_log {
            let mut hidden = self.unjournaled.lock().expect("unjournaled lock");
            hidden.extend(task.register.iter().cloned());
            if let Some(Value::Object(f)) = outcome.result.get("ansible_facts") {
                hidden.extend(f.keys().cloned());
            }
        }
        let mut hosts = self.hosts();
        let s = hosts.entry(host.to_string()).or_default();
        count(s, outcome)
    }

    /// A play starts on `hosts` with `handlers`: the hosts that failed or became
    /// unreachable in earlier plays are left out, the others start afresh (not ended, no
    /// handler due).
    pub fn start_play(&self, hosts: Vec<String>, handlers: Vec<TaskNode>) -> Vec<String> {
        let mut states = self.hosts();
        let hosts: Vec<String> = hosts
            .into_iter()
            .filter(|h| states.get(h).is_none_or(|s| !s.failed && !s.unreachable))
            .collect();
        for h in &hosts {
            if let Some(s) = states.get_mut(h) {
                s.ended = false;
                s.ended_roles.clear();
                s.due.clear();
            }
        }
        drop(states);
        *self.handlers() = PlayHandlers {
            play: handlers,
            extra: Vec::new(),
        };
        hosts
    }

    /// A block's `rescue` takes over `hosts`' failures: they are failed no more, and
    /// counted as rescued instead of failed.
    pub fn rescue(&self, hosts: &[String]) {
        let mut states = self.hosts();
        for h in hosts {
            if let Some(s) = states.get_mut(h) {
                s.failed = false;
                s.stats.rescued += 1;
                s.stats.failed = s.stats.failed.saturating_sub(1);
            }
        }
    }
}

/// One outcome into a host's totals and flags.
fn count(s: &mut HostState, o: &Outcome) -> Counted {
    let mut counted = Counted::default();
    match o.status {
        Status::Ok => s.stats.ok += 1,
        Status::Changed => {
            s.stats.ok += 1;
            s.stats.changed += 1;
        }
        Status::Skipped => s.stats.skipped += 1,
        Status::Failed if o.ignored => {
            s.stats.ok += 1;
            s.stats.ignored += 1;
            if o.changed {
                s.stats.changed += 1;
            }
        }
        Status::Failed => {
            s.stats.failed += 1;
            s.failed = true;
            counted.failed = true;
            counted.rescuing = s.rescuable > 0;
        }
        Status::Unreachable if o.ignored => {
            s.stats.ok += 1;
            s.stats.ignored += 1;
        }
        Status::Unreachable => {
            s.stats.unreachable = 1;
            s.unreachable = true;
            counted.failed = true;
        }
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Status, ignored: bool, changed: bool) -> Outcome {
        Outcome {
            changed,
            ..Outcome::new(status, Map::new(), ignored)
        }
    }

    /// The recap's rules: an ignored failure is ok and ignored (changed if it says so), a
    /// failure inside a rescuable block is rescuing, unreachable counts once.
    #[test]
    fn counting() {
        let mut s = HostState::default();
        count(&mut s, &outcome(Status::Changed, false, true));
        count(&mut s, &outcome(Status::Failed, true, true));
        let c = count(&mut s, &outcome(Status::Skipped, false, false));
        assert!(!c.failed);
        assert_eq!(
            (
                s.stats.ok,
                s.stats.changed,
                s.stats.ignored,
                s.stats.skipped
            ),
            (2, 2, 1, 1)
        );
        assert!(!s.failed);
        s.rescuable = 1;
        let c = count(&mut s, &outcome(Status::Failed, false, false));
        assert!(c.failed && c.rescuing && s.failed);
        count(&mut s, &outcome(Status::Unreachable, false, false));
        count(&mut s, &outcome(Status::Unreachable, false, false));
        assert_eq!((s.stats.failed, s.stats.unreachable), (1, 1));
    }

    /// A rescue turns the failure into a rescued one; a no_log task's variables stay off
    /// the journal.
    #[test]
    fn rescue_and_unjournaled() {
        let state = RunState::new(true);
        let mut t = crate::playbook::task::Task::synthetic(
            "t",
            "ansible.builtin.command",
            Map::new(),
            crate::error::Loc::file("p.yml"),
            Default::default(),
        );
        t.name = None;
        t.register = Some("out".into());
        let failed = Outcome::failed("boom".into());
        assert!(state.record("h", &t, &failed, true).failed);
        state.rescue(&["h".to_string()]);
        let hosts = state.hosts();
        let s = &hosts["h"];
        assert_eq!((s.failed, s.stats.failed, s.stats.rescued), (false, 0, 1));
        drop(hosts);
        assert!(state.unjournaled().contains("out"));
        t.register = None;
        state.record("h", &t, &failed, false);
        assert_eq!(state.unjournaled().len(), 1);
    }
}
