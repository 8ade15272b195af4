//! Running one task on many hosts at once: at most `--forks` (or `throttle`) hosts run
//! it at a time, started in inventory order.
//!
//! Why this module exists: how hosts are scheduled is a concern of its own. A host-bound
//! task gets one tokio task per host, each holding a slot while it runs; a
//! controller-side module that waits on nothing runs in a few chunks instead, where
//! scheduling a task per host would cost more than the work.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::modules::Registry;
use crate::playbook::task::Task;

use super::Engine;
use super::host_vars::PlayScope;
use super::run_task::HostRun;

/// Each host's run of a task, as the hosts finish.
pub(super) type HostRuns = Vec<(String, Result<HostRun>)>;

impl Engine {
    /// Run `t` on `targets`, at most `limit` at a time; `ahead` are the tasks whose probes
    /// may be batched with its own.
    pub(super) async fn fan_out(
        self: &Arc<Self>,
        scope: &Arc<PlayScope>,
        t: &Arc<Task>,
        targets: Vec<String>,
        limit: usize,
        ahead: Arc<[Arc<Task>]>,
    ) -> Result<HostRuns> {
        let mut set = JoinSet::new();
        if Registry::runs_in_order(&t.action) {
            self.spawn_chunks(&mut set, scope, t, targets, 1);
        } else if self.runs_in_chunks(t) {
            self.spawn_chunks(&mut set, scope, t, targets, limit);
        } else {
            self.spawn_each(&mut set, scope, t, targets, limit, ahead)
                .await?;
        }
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            done.extend(joined.map_err(|e| Error::Other(format!("task panicked: {e}")))?);
        }
        Ok(done)
    }

    /// A controller-side module with nothing to wait for (no `until`, no loop pause).
    fn runs_in_chunks(&self, t: &Task) -> bool {
        self.loader
            .registry()
            .get(&t.action)
            .is_some_and(|m| m.controller_only())
            && t.until.is_none()
            && t.loop_control.pause.is_none()
    }

    /// Nothing to wait for on a host: run hosts in a few chunks (one per core) instead of
    /// one task each, which costs more to schedule than the work itself.
    fn spawn_chunks(
        self: &Arc<Self>,
        set: &mut JoinSet<HostRuns>,
        scope: &Arc<PlayScope>,
        t: &Arc<Task>,
        targets: Vec<String>,
        limit: usize,
    ) {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(limit);
        let chunk = targets.len().div_ceil(cores).max(1);
        for part in targets.chunks(chunk) {
            let me = self.clone();
            let t = t.clone();
            let scope = scope.clone();
            let part = part.to_vec();
            set.spawn(async move {
                let mut out = Vec::with_capacity(part.len());
                for h in part {
                    let r = me.run_on_host(&scope, &t, &h, &[]).await;
                    out.push((h, r));
                }
                out
            });
        }
    }

    /// One tokio task per host, each holding one of `limit` slots while it runs.
    async fn spawn_each(
        self: &Arc<Self>,
        set: &mut JoinSet<HostRuns>,
        scope: &Arc<PlayScope>,
        t: &Arc<Task>,
        targets: Vec<String>,
        limit: usize,
        ahead: Arc<[Arc<Task>]>,
    ) -> Result<()> {
        let sem = Arc::new(tokio::sync::Semaphore::new(limit));
        for h in targets {
            // The permit is taken before spawning, so hosts start in inventory order.
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Other(e.to_string()))?;
            let me = self.clone();
            let t = t.clone();
            let scope = scope.clone();
            let ahead = ahead.clone();
            set.spawn(async move {
                let r = me.run_on_host(&scope, &t, &h, &ahead).await;
                drop(permit);
                vec![(h, r)]
            });
        }
        Ok(())
    }
}
