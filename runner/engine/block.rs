//! A block for a set of hosts: its tasks, then `rescue` for the hosts that failed in them,
//! then `always` for every host that entered and is still reachable.
//!
//! Why this module exists: a block's sections change which hosts count as failed — a
//! rescue takes a failure over, `always` runs for failed hosts and leaves them failed —
//! and those rules (Ansible's `PlayIterator` block states, lib/ansible/executor/
//! play_iterator.py) are easier to read apart from the walk over a task list.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::error::Result;
use crate::playbook::task::Block;

use super::Engine;
use super::walk::PlayCx;

impl Engine {
    /// Walk block `b` for `active` hosts.
    pub(super) async fn walk_block(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        b: &Block,
        active: &[String],
    ) -> Result<()> {
        let rescuable = !b.rescue.is_empty();
        if rescuable {
            self.mark_rescuable(active, true);
        }
        let walked = self
            .in_place(active, b, "block", self.walk(cx, &b.block, active))
            .await;
        if rescuable {
            self.mark_rescuable(active, false);
        }
        walked?;
        if cx.batch.stopped.load(Ordering::SeqCst) {
            return Ok(());
        }
        let failed_here = self.failed_in(active);
        if rescuable && !failed_here.is_empty() {
            self.state.rescue(&failed_here);
            let rescue = self.walk(cx, &b.rescue, &failed_here);
            self.in_place(&failed_here, b, "rescue", rescue).await?;
        }
        if !b.always.is_empty() {
            self.walk_always(cx, b, active).await?;
        }
        Ok(())
    }

    /// The hosts of `hosts` that failed (and are reachable).
    fn failed_in(&self, hosts: &[String]) -> Vec<String> {
        let states = self.state.hosts();
        hosts
            .iter()
            .filter(|h| states.get(*h).is_some_and(|s| s.failed && !s.unreachable))
            .cloned()
            .collect()
    }

    /// `always` runs even for hosts that failed in the block or rescue: they run it as if
    /// they had not, and are failed again after it.
    async fn walk_always(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        b: &Block,
        active: &[String],
    ) -> Result<()> {
        let (runnable, was_failed) = self.enter_always(active);
        let always = self.walk(cx, &b.always, &runnable);
        self.in_place(&runnable, b, "always", always).await?;
        let mut states = self.state.hosts();
        for h in was_failed {
            if let Some(s) = states.get_mut(&h) {
                s.failed = true;
            }
        }
        Ok(())
    }

    /// The hosts that run `always` (not unreachable or ended), and which of them were
    /// failed (their failure is lifted while `always` runs).
    fn enter_always(&self, active: &[String]) -> (Vec<String>, Vec<String>) {
        let mut states = self.state.hosts();
        let mut run = Vec::new();
        let mut was = Vec::new();
        for h in active {
            if let Some(s) = states.get_mut(h) {
                if s.unreachable || s.ended {
                    continue;
                }
                if s.failed {
                    was.push(h.clone());
                    s.failed = false;
                }
                run.push(h.clone());
            }
        }
        (run, was)
    }
}
