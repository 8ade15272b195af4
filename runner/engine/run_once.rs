//! After a task ran on a batch: each host's run into the journal, `run_once`'s result
//! shared with the other hosts, and the failures that stop more than one host
//! (`run_once`, `any_errors_fatal`, `max_fail_percentage`).
//!
//! Why this module exists: these rules act on the batch as a whole, once every host
//! finished the task, unlike the per-host keywords the runner applies.

use serde_json::Value;

use crate::error::Result;
use crate::playbook::task::Task;

use super::Engine;
use super::fan_out::HostRuns;
use super::resume::TaskKeys;
use super::walk::PlayCx;

/// What the `run_once` host's run gives the others.
pub(super) struct OnceResult {
    /// The journal may record it as done.
    journal_ok: bool,
    registered: Value,
    facts: Option<Value>,
}

/// How a task went on a batch.
#[derive(Default)]
pub(super) struct BatchOutcome {
    /// Some host failed (or became unreachable).
    pub failed_any: bool,
    /// With `run_once`: the one host's result.
    pub once: Option<OnceResult>,
}

impl Engine {
    /// Note each host's run in the journal (done, whom its notifications came from) and
    /// gather what the batch needs.
    pub(super) fn note_runs(
        &self,
        t: &Task,
        handler: bool,
        keys: Option<&TaskKeys>,
        done: HostRuns,
        run_once: bool,
    ) -> Result<BatchOutcome> {
        let journal = self.journal.get();
        let mut out = BatchOutcome::default();
        for (h, r) in done {
            let r = r?;
            if let (Some(j), true) = (journal, handler) {
                // A handler's own notifications count as made by the task that notified it.
                let by = j.handler_ran(&h, &super::run_task::handler_names(t));
                if let (Some(by), true) = (by, r.notified) {
                    j.note_notifier(&h, &t.notify, &by);
                }
            }
            if let (Some(j), Some(k)) = (journal, keys.and_then(|k| k.get(&h))) {
                if r.notified {
                    j.note_notifier(&h, &t.notify, k);
                }
                if r.journal_ok {
                    j.mark_done(&h, k);
                }
            }
            out.failed_any |= r.failed;
            if run_once {
                out.once = Some(OnceResult {
                    journal_ok: r.journal_ok,
                    registered: r.registered.clone().unwrap_or(Value::Null),
                    facts: r.facts.clone(),
                });
            }
        }
        Ok(out)
    }

    /// `run_once`: the other hosts of the batch get the one host's registered result and
    /// facts, and are done in the journal when it is.
    pub(super) fn share_run_once(
        &self,
        t: &Task,
        hosts: &[String],
        keys: Option<&TaskKeys>,
        outcome: &BatchOutcome,
    ) {
        let Some(once) = &outcome.once else {
            return;
        };
        let others = hosts.iter().skip(1);
        if let (Some(j), Some(keys)) = (self.journal.get(), keys) {
            if once.journal_ok && !outcome.failed_any {
                for h in others.clone() {
                    if let Some(k) = keys.get(h) {
                        j.mark_done(h, k);
                    }
                }
            }
        }
        for h in others {
            let Some(d) = self.scope.host(h) else {
                continue;
            };
            let Ok(mut dynamic) = d.dynamic.write() else {
                continue;
            };
            if let Some(name) = &t.register {
                dynamic
                    .set_facts
                    .insert(name.clone(), once.registered.clone());
            }
            if let Some(Value::Object(f)) = &once.facts {
                dynamic.store_task_facts(&t.action, f, cacheable_fact(t));
            }
        }
    }

    /// The failures that reach past one host: a failed run_once task fails every host of
    /// the batch, as in Ansible; any_errors_fatal fails the whole batch (also under `free`,
    /// where `hosts` is one); then `max_fail_percentage`. Failed hosts leave the play's
    /// active lists, and the journal is saved.
    pub(super) fn after_batch(
        &self,
        cx: &PlayCx<'_>,
        t: &Task,
        hosts: &[String],
        run_once: bool,
        failed_any: bool,
    ) -> Result<()> {
        let any_errors_fatal =
            t.kw.any_errors_fatal
                .as_ref()
                .is_some_and(|v| matches!(v, Value::Bool(true)));
        if failed_any && run_once {
            self.fail_all(hosts);
        }
        if failed_any && any_errors_fatal {
            self.fail_all(&cx.scope.batch);
        }
        self.check_max_fail(cx);
        for list in [&cx.scope.active, &cx.scope.remaining] {
            if let Ok(mut a) = list.write() {
                let states = self.state.hosts();
                a.retain(|h| states.get(h).is_some_and(|s| !s.failed && !s.unreachable));
            }
        }
        self.save_journal("running")
    }
}

/// Whether a `set_fact` task asks for `cacheable` with a literal (a run_once copy to the
/// other hosts has no result to read the templated flag from).
fn cacheable_fact(t: &Task) -> bool {
    match t.args.get("cacheable") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => crate::boolean::parse_bool(s).unwrap_or(false),
        _ => false,
    }
}
