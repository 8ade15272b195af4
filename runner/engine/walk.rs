//! Walking a play's task tree: blocks with rescue/always, dynamic includes, handlers.
//!
//! Why this module exists: the order in which tasks reach hosts is the strategy's whole
//! meaning. Here a task list is walked for a set of hosts: a block's `rescue` gets the hosts
//! that failed inside it, `always` gets every host that entered, includes are resolved per
//! host and grouped by file, and handlers run in definition order for the hosts that
//! notified them.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::playbook::Play;
use crate::playbook::task::{Task, TaskNode};

use super::Engine;
use super::host_vars::PlayScope;

/// The play being walked.
pub(crate) struct PlayCx<'a> {
    pub play: &'a Play,
    pub scope: Arc<PlayScope>,
    /// State shared by every host of the batch.
    pub batch: Arc<BatchRun>,
    /// Walking handlers (an included handler's tasks run as handlers).
    pub handler: bool,
}

/// What the hosts of one batch share while they walk the play.
#[derive(Default)]
pub(crate) struct BatchRun {
    /// With the `free` strategy: the slots that bound how many hosts run a task at once.
    pub free: Option<FreeSlots>,
    /// Set when `max_fail_percentage` was exceeded: the play stops after this batch.
    pub stopped: std::sync::atomic::AtomicBool,
    /// Set by `meta: end_play`: no later batch of the play runs.
    pub end_play: std::sync::atomic::AtomicBool,
}

/// The `free` strategy's limits. Hosts walk the play on their own, but only `--forks` of
/// them run a task at any moment, and only `throttle` of them run a throttled task.
pub(crate) struct FreeSlots {
    pub forks: Arc<tokio::sync::Semaphore>,
    /// Per task (by location): the throttle's semaphore.
    pub throttles: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl FreeSlots {
    pub fn new(forks: usize) -> Self {
        FreeSlots {
            forks: Arc::new(tokio::sync::Semaphore::new(forks.max(1))),
            throttles: Default::default(),
        }
    }

    /// Wait for a slot to run task `key` (with its `throttle`, if any) on one host.
    pub async fn acquire(
        &self,
        key: &str,
        throttle: Option<usize>,
    ) -> Result<Vec<tokio::sync::OwnedSemaphorePermit>> {
        let mut permits = Vec::new();
        if let Some(n) = throttle {
            let sem = self
                .throttles
                .lock()
                .expect("throttles lock")
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(n.max(1))))
                .clone();
            permits.push(
                sem.acquire_owned()
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?,
            );
        }
        permits.push(
            self.forks
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Other(e.to_string()))?,
        );
        Ok(permits)
    }
}

impl Engine {
    /// Run `nodes` for `hosts` (those still active), in order.
    pub(crate) fn walk<'a>(
        self: &'a Arc<Self>,
        cx: &'a PlayCx<'a>,
        nodes: &'a [TaskNode],
        hosts: &'a [String],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            for (i, node) in nodes.iter().enumerate() {
                if self.is_cancelled() {
                    return Err(Error::Interrupted);
                }
                if cx.batch.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    // max_fail_percentage stopped the play: no rescue, no always.
                    return Ok(());
                }
                let active = self.walk_hosts(cx, hosts);
                if active.is_empty() {
                    return Ok(());
                }
                match node {
                    TaskNode::Task(t) => {
                        let active = self.in_role(t, active);
                        if active.is_empty() {
                            continue;
                        }
                        if t.action.ends_with("meta")
                            && (t.action == "meta" || t.action.ends_with(".meta"))
                        {
                            self.run_meta(cx, t, &active).await?;
                        } else {
                            // The plain tasks that follow, whose probes may be batched
                            // with this one's.
                            let ahead: Arc<[Arc<Task>]> = nodes[i + 1..]
                                .iter()
                                .map_while(|n| match n {
                                    TaskNode::Task(t) => Some(t.clone()),
                                    _ => None,
                                })
                                .take(super::prefetch::LOOKAHEAD)
                                .collect();
                            self.run_task_on_hosts(cx, t, &active, cx.handler, ahead)
                                .await?;
                        }
                    }
                    TaskNode::Block(b) => self.walk_block(cx, b, &active).await?,
                    TaskNode::Include(inc) => {
                        let active = self.in_role(&inc.task, active);
                        if !active.is_empty() {
                            self.run_include(cx, inc, &active).await?;
                        }
                    }
                }
            }
            Ok(())
        })
    }

    /// The hosts of `hosts` that have not ended `t`'s role (`meta: end_role`): as Ansible's
    /// iterator, which moves such a host past the role's tasks.
    fn in_role(&self, t: &Task, hosts: Vec<String>) -> Vec<String> {
        let Some(role) = &t.role else {
            return hosts;
        };
        let states = self.state.hosts();
        hosts
            .into_iter()
            .filter(|h| {
                states
                    .get(h)
                    .is_none_or(|s| !s.ended_roles.iter().any(|r| Arc::ptr_eq(r, role)))
            })
            .collect()
    }

    /// The hosts of `hosts` that still run tasks. Walking handlers under `force_handlers`
    /// (play keyword or `--force-handlers`), failed hosts do too: an included handler's
    /// tasks run for every host the flush chose (the `HANDLERS` state runs for failed hosts
    /// with `force_handlers`: `PlayIterator`, lib/ansible/executor/play_iterator.py).
    fn walk_hosts(&self, cx: &PlayCx<'_>, hosts: &[String]) -> Vec<String> {
        if !(cx.handler && (self.opts.force_handlers || cx.play.force_handlers)) {
            return self.active_hosts(hosts);
        }
        let states = self.state.hosts();
        hosts
            .iter()
            .filter(|h| states.get(*h).is_some_and(|s| !s.unreachable && !s.ended))
            .cloned()
            .collect()
    }

    /// Enter (`true`) or leave a block with a `rescue` for `hosts`.
    pub(super) fn mark_rescuable(&self, hosts: &[String], enter: bool) {
        let mut states = self.state.hosts();
        for h in hosts {
            if let Some(s) = states.get_mut(h) {
                s.rescuable = if enter {
                    s.rescuable + 1
                } else {
                    s.rescuable.saturating_sub(1)
                };
            }
        }
    }

    async fn run_meta(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        t: &Arc<Task>,
        hosts: &[String],
    ) -> Result<()> {
        let what = t
            .args
            .get("_raw_params")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !self.task_selected(t) {
            return Ok(());
        }
        let chosen = self.meta_hosts(cx, t, &what, hosts)?;
        match what.as_str() {
            "flush_handlers" => self.flush_handlers(cx, &chosen).await?,
            "end_play" | "end_batch" if !chosen.is_empty() => {
                let mut states = self.state.hosts();
                for h in hosts {
                    if let Some(s) = states.get_mut(h) {
                        s.ended = true;
                    }
                }
                if what == "end_play" {
                    // Later `serial` batches do not run either.
                    cx.batch
                        .end_play
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            "end_role" => {
                let mut states = self.state.hosts();
                for h in &chosen {
                    if let (Some(s), Some(role)) = (states.get_mut(h), &t.role) {
                        s.ended_roles.push(role.clone());
                    }
                }
            }
            "end_host" => {
                let mut states = self.state.hosts();
                for h in &chosen {
                    if let Some(s) = states.get_mut(h) {
                        s.ended = true;
                    }
                }
            }
            "clear_facts" => {
                for h in &chosen {
                    if let Some(d) = self.scope.host(h) {
                        if let Ok(mut dynamic) = d.dynamic.write() {
                            dynamic.facts.clear();
                            dynamic.gathered.clear();
                        }
                    }
                }
            }
            "clear_host_errors" => {
                let mut states = self.state.hosts();
                for s in states.values_mut() {
                    s.failed = false;
                    s.unreachable = false;
                }
            }
            "reset_connection" => {
                for h in &chosen {
                    let t = self.transports.lock().expect("transports lock").remove(h);
                    if let Some(t) = t {
                        t.close().await;
                    }
                }
            }
            "refresh_inventory" if !chosen.is_empty() => self.emit(Event::Warning {
                message: "meta: refresh_inventory does not re-read the inventory in windlass: \
                          it is read once, when the run starts"
                    .into(),
            }),
            _ => {} // noop, role_complete
        }
        Ok(())
    }

    /// Mark `host` failed on task `t` with `msg`, emitting the result.
    pub(crate) fn fail_host(&self, t: &Task, host: &str, msg: String) {
        let o = super::run_state::Outcome::failed(msg);
        self.state.record(host, t, &o, false);
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: crate::event::Status::Failed,
            item: None,
            result: o.result,
            ignored: false,
            delegated_to: None,
            loop_summary: false,
            duration: std::time::Duration::ZERO,
            diff: Vec::new(),
        });
    }
}
