//! A task's loop on one host: the items run one after the other, each reported as it
//! finishes, then the loop's summary result, as Ansible's `TaskExecutor` builds it.
//!
//! Why this module exists: a loop is more than repeating the task. Each item sees what
//! earlier items registered, gets its own `when`, label, pause and notifications, and the
//! summary's status, `msg` and `results` follow rules of their own
//! (`lib/ansible/executor/task_executor.py`, `_run_loop` and `run`).

use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::event::{Event, Status};
use crate::playbook::task::{LoopSpec, Task};
use crate::template::Vars;

use super::host_vars::{HostVars, PlayScope};
use super::resolve::{located, type_name};
use super::run_state::Outcome;
use super::run_task::{
    CENSORED_ITEM, Finished, HostRun, fail_result, secret_register, shown, take_delegated,
};
use super::with_lookup;
use super::{Engine, since};

/// What the items so far add up to.
#[derive(Default)]
struct Tally {
    results: Vec<Value>,
    any_changed: bool,
    any_failed: bool,
    all_skipped: bool,
    unreachable: bool,
    facts: Map<String, Value>,
    /// The notifications of every item, templated per item, each once.
    notify: Vec<String>,
}

impl Tally {
    /// Count one item's outcome (its result is kept for the summary's `results`).
    fn add(&mut self, o: Outcome) {
        self.unreachable |= o.status == Status::Unreachable;
        // A failed item that changed something makes the loop changed too.
        self.any_changed |= o.status == Status::Changed || o.changed;
        // An ignored item failure fails the loop too (ignored as the items were).
        self.any_failed |= o.status == Status::Failed;
        self.all_skipped &= o.status == Status::Skipped;
        if let Some(Value::Object(f)) = o.result.get("ansible_facts") {
            self.facts.extend(f.clone());
        }
        self.results.push(Value::Object(o.result));
    }

    /// The summary result and its status, as Ansible's task_executor.py
    /// `TaskExecutor.run` builds it.
    fn summary(self) -> (Map<String, Value>, Status) {
        let no_items = self.results.is_empty();
        let mut agg = Map::new();
        agg.insert("changed".into(), Value::Bool(self.any_changed));
        if self.any_failed {
            agg.insert("failed".into(), Value::Bool(true));
        }
        agg.insert("skipped".into(), Value::Bool(self.all_skipped || no_items));
        if no_items {
            let why = Value::String("No items in the list".into());
            agg.insert("skipped_reason".into(), why);
        } else {
            let msg = if self.any_failed {
                "One or more items failed"
            } else if self.all_skipped {
                "All items skipped"
            } else {
                "All items completed"
            };
            agg.insert("msg".into(), Value::String(msg.into()));
        }
        if !self.facts.is_empty() {
            agg.insert("ansible_facts".into(), Value::Object(self.facts));
        }
        agg.insert("results".into(), Value::Array(self.results));
        let status = if self.unreachable {
            Status::Unreachable
        } else if self.any_failed {
            Status::Failed
        } else if self.all_skipped || no_items {
            Status::Skipped
        } else if self.any_changed {
            Status::Changed
        } else {
            Status::Ok
        };
        (agg, status)
    }
}

/// One item's place in the loop.
struct Item<'a> {
    items: &'a [Value],
    index: usize,
}

impl Engine {
    /// The items of the task's loop, templated.
    pub(crate) fn loop_items(&self, t: &Task, vars: &Arc<dyn Vars>) -> Result<Vec<Value>, String> {
        let render = |v: &Value| {
            self.templar
                .render_value(v, vars, Some(&t.loc))
                .map_err(located)
        };
        match &t.loop_ {
            None => Ok(Vec::new()),
            Some(LoopSpec::Loop(v)) => match render(v)? {
                Value::Array(a) => Ok(a),
                Value::Null => Ok(Vec::new()),
                other => Err(format!("`loop` needs a list, got {}", type_name(&other))),
            },
            Some(LoopSpec::With(kind, v)) => {
                let terms = render(v)?;
                match kind.as_str() {
                    k if with_lookup::KINDS.contains(&k) => with_lookup::with_lookup(k, terms),
                    // any other lookup plugin, as the template layer runs it
                    _ => self
                        .templar
                        .query(kind, &terms, vars, Some(&t.loc))
                        .map_err(located),
                }
            }
        }
    }

    /// The loop variables for item `i` of `items`: the loop variable, `ansible_loop_var`,
    /// the `index_var` and `ansible_index_var`, and with `extended` the `ansible_loop` dict
    /// (Ansible's `lib/ansible/executor/task_executor.py`, `_run_loop`).
    pub(crate) fn loop_locals(
        &self,
        t: &Task,
        items: &[Value],
        i: usize,
    ) -> IndexMap<String, Value> {
        let mut l = IndexMap::new();
        let var = t
            .loop_control
            .loop_var
            .clone()
            .unwrap_or_else(|| "item".into());
        l.insert("ansible_loop_var".into(), Value::String(var.clone()));
        l.insert(var, items.get(i).cloned().unwrap_or(Value::Null));
        if let Some(iv) = &t.loop_control.index_var {
            l.insert("ansible_index_var".into(), Value::String(iv.clone()));
            l.insert(iv.clone(), Value::from(i));
        }
        if t.loop_control.extended {
            l.insert(
                "ansible_loop".into(),
                super::loop_vars::extended_loop(items, i, t.loop_control.extended_allitems),
            );
        }
        l
    }

    /// Run `t`'s loop on `host`: items are computed first (a loop that does not template
    /// fails the task unless its `when` skips it), `when` is evaluated per item.
    pub(super) async fn run_loop(
        self: &Arc<Self>,
        scope: &Arc<PlayScope>,
        t: &Task,
        host: &str,
        hv: &HostVars,
        (t0, no_log): (Instant, bool),
    ) -> Result<HostRun> {
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        let items = match self.loop_items(t, &vars) {
            Ok(items) => items,
            Err(msg) => {
                // A loop that does not template fails the task as any failure does, so
                // `ignore_errors` lets the host go on (Ansible's TaskExecutor.run).
                let ignored = self.kw_bool(&t.kw.ignore_errors, &vars, t).unwrap_or(false);
                let o = match self.when_skips(t, &vars) {
                    Ok(Some(skipped)) => skipped,
                    _ => Outcome::new(Status::Failed, fail_result(msg), ignored),
                };
                return Ok(self.finish(Finished::new(t, host, o, t0, no_log)));
            }
        };
        let mut tally = Tally {
            all_skipped: !items.is_empty(),
            ..Tally::default()
        };
        // What earlier items registered or set as facts, visible to later items.
        let mut carried: IndexMap<String, Value> = IndexMap::new();
        for index in 0..items.len() {
            let item = Item {
                items: &items,
                index,
            };
            let o = self
                .run_item(t, host, hv, item, &mut carried, &mut tally.notify, no_log)
                .await;
            tally.add(o);
            if tally.unreachable {
                break;
            }
        }
        let (any_failed, any_changed) = (tally.any_failed, tally.any_changed);
        let notify = std::mem::take(&mut tally.notify);
        let (result, status) = tally.summary();
        let ignored = any_failed && self.kw_bool(&t.kw.ignore_errors, &vars, t).unwrap_or(false);
        if status == Status::Changed {
            self.check_handlers_exist(scope, host, t, &notify)?;
        }
        let o = Outcome {
            changed: any_changed,
            ..Outcome::new(status, result, ignored)
        };
        let run = self.finish(Finished::new(t, host, o, t0, no_log).loop_summary());
        self.note_notify(host, &run, notify);
        Ok(run)
    }

    /// Run one item and report it; its result carries the loop variables.
    #[allow(clippy::too_many_arguments)]
    async fn run_item(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        hv: &HostVars,
        item: Item<'_>,
        carried: &mut IndexMap<String, Value>,
        notify: &mut Vec<String>,
        no_log: bool,
    ) -> Outcome {
        let Item { items, index: i } = item;
        let value = items[i].clone();
        let mut locals = carried.clone();
        locals.extend(self.loop_locals(t, items, i));
        let ihv = hv.with_locals(locals);
        let ivars: Arc<dyn Vars> = Arc::new(ihv.clone());
        let label = match &t.loop_control.label {
            Some(l) => self
                .templar
                .render_value(l, &ivars, Some(&t.loc))
                .unwrap_or_else(|_| value.clone()),
            None => value.clone(),
        };
        // Between items, not after the last (Ansible's task_executor.py: `if loop_pause
        // and ran_once: time.sleep(loop_pause)`).
        if let Some(p) = t.loop_control.pause.filter(|_| i > 0) {
            tokio::time::sleep(p).await;
        }
        let it0 = Instant::now();
        let mut o = self.run_once_item(t, host, &ihv).await;
        for n in self.render_notify(t, &ivars) {
            if !notify.contains(&n) {
                notify.push(n);
            }
        }
        self.divert_delegated_facts(t, &ivars, &mut o.result);
        mark_loop_vars(t, &mut o.result, value, i);
        super::loop_vars::carry_item(t, &o.result, carried);
        self.emit_item(t, host, &mut o, label, it0, no_log);
        o
    }

    /// Report one item's result (censored for `no_log`).
    fn emit_item(
        &self,
        t: &Task,
        host: &str,
        o: &mut Outcome,
        label: Value,
        started: Instant,
        no_log: bool,
    ) {
        let hidden = no_log || secret_register(t);
        let delegated_to = take_delegated(&mut o.result);
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: o.status,
            item: Some(if hidden {
                Value::String(CENSORED_ITEM.into())
            } else {
                label
            }),
            result: shown(t, &o.result, no_log),
            ignored: o.ignored,
            delegated_to,
            loop_summary: false,
            duration: since(started),
            diff: if hidden { Vec::new() } else { o.diffs.clone() },
        });
    }
}

/// An item's result names its loop variable (and index variable) as Ansible's does.
fn mark_loop_vars(t: &Task, result: &mut Map<String, Value>, item: Value, i: usize) {
    let var = t
        .loop_control
        .loop_var
        .clone()
        .unwrap_or_else(|| "item".into());
    result.insert(var.clone(), item);
    result.insert("ansible_loop_var".into(), Value::String(var));
    if let Some(iv) = &t.loop_control.index_var {
        result.insert(iv.clone(), Value::from(i));
        result.insert("ansible_index_var".into(), Value::String(iv.clone()));
    }
}
