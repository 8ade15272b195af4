//! Working out the probes of the tasks ahead, so a host answers them in one round trip.
//!
//! Why this module exists: the engine is the only part that knows which tasks come next.
//! Before a task runs on a host whose transport batches probes
//! ([`crate::transport::probe_cache`]), the task and the plain tasks after it in the same
//! list are resolved as they would be now — their variables, `when`, templated arguments,
//! `become` — and each module names the probe it would run. Those go to the host together;
//! each task later still runs its own probe, which the batch answers if nothing changed the
//! host in between. A task whose `when` needs a result still to come is passed over as if
//! skipped (if it runs after all, whatever it does to the host drops the batch); anything
//! else that cannot be worked out ahead (an undefined variable in the arguments, a loop)
//! ends the lookahead. The worst case is a probe run for nothing, never a wrong answer.

use std::sync::Arc;

use crate::command::RemoteCommand;
use crate::modules::Registry;
use crate::playbook::task::Task;
use crate::template::Vars;
use crate::transport::Transport;

use super::Engine;
use super::host_vars::PlayScope;
use super::resolve::{ModuleInfo, ResolveError, Resolved};

/// How many following tasks a walk hands to a task for batching.
pub(crate) const LOOKAHEAD: usize = 64;

/// Controller-side modules that finish at once and touch no host: the lookahead may pass
/// over them. Any other task without a probe ends it (a `pause`-like or custom module could
/// take long enough for the host to change by itself).
const INSTANT: &[&str] = &[
    "ansible.builtin.debug",
    "ansible.builtin.set_fact",
    "ansible.builtin.assert",
    "ansible.builtin.fail",
];

/// What a task ahead contributes to a batch.
enum Ahead {
    /// These probes (one per loop item).
    Probes(Vec<RemoteCommand>),
    /// Nothing, but the tasks after it may still be batched (skipped, instant
    /// controller-side modules).
    Pass,
    /// Nothing, and the lookahead ends here (it would change the host, or cannot be
    /// worked out yet).
    Stop,
}

impl Engine {
    /// Before `t` runs on `host`: when the host's transport batches probes and its current
    /// batch is used up, work out the probes of `t` and of the tasks `ahead` of it, and run
    /// them in one round trip.
    pub(crate) async fn prefetch_probes(
        self: &Arc<Self>,
        scope: &Arc<PlayScope>,
        t: &Arc<Task>,
        ahead: &[Arc<Task>],
        host: &str,
    ) {
        if !self.opts.batch_probes || ahead.is_empty() || !self.state.started() {
            return;
        }
        let Some(hv) = self.host_vars(scope, host) else {
            return;
        };
        let Ok(transport) = self.transport(host, &hv, &t.loc) else {
            return;
        };
        let Some(cache) = transport.probe_batch() else {
            return;
        };
        // The batch still holds answers for this task and the next: nothing to work out.
        if cache.in_use() {
            return;
        }
        // Only right before a task that probes: the batch is then as fresh as that probe.
        let Ahead::Probes(mut cmds) = self.probe_ahead(scope, t, host, &transport).await else {
            return;
        };
        let want = cache.next_batch();
        if want < 2 {
            return;
        }
        for task in ahead {
            if cmds.len() >= want {
                break;
            }
            match self.probe_ahead(scope, task, host, &transport).await {
                Ahead::Probes(c) => cmds.extend(c),
                Ahead::Pass => {}
                Ahead::Stop => break,
            }
        }
        cache.prefetch(&cmds).await;
    }

    /// The probes `t` would run on `host` if it ran now.
    async fn probe_ahead(
        self: &Arc<Self>,
        scope: &Arc<PlayScope>,
        t: &Task,
        host: &str,
        transport: &Arc<dyn Transport>,
    ) -> Ahead {
        if !self.task_selected(t) {
            return Ahead::Pass;
        }
        if t.kw.delegate_to.is_some()
            || t.kw.run_once.is_some()
            || t.kw.timeout.is_some()
            || t.until.is_some()
            || t.loop_control.pause.is_some()
            || Registry::is_engine_action(&t.action)
        {
            return Ahead::Stop;
        }
        let Some(module) = self.loader.registry().get(&t.action).cloned() else {
            return Ahead::Stop;
        };
        if module.controller_only() {
            return if INSTANT.contains(&module.name()) {
                Ahead::Pass
            } else {
                Ahead::Stop
            };
        }
        let Some(hv) = self.host_vars(scope, host) else {
            return Ahead::Stop;
        };
        let hv = self.task_vars(hv, t);
        // A no_log task's probe would show in the batch's reported command line (and so
        // would one whose result is registered under a secret-looking name).
        if super::run_task::secret_register(t) {
            return Ahead::Stop;
        }
        if t.kw.no_log.is_some() {
            let vars: Arc<dyn Vars> = Arc::new(hv.clone());
            if self.kw_bool(&t.kw.no_log, &vars, t).unwrap_or(true) {
                return Ahead::Stop;
            }
        }
        // One set of variables per loop item (the task's own without a loop).
        let per_item = if t.loop_.is_some() {
            let vars: Arc<dyn Vars> = Arc::new(hv.clone());
            let Ok(items) = self.loop_items(t, &vars) else {
                return Ahead::Stop;
            };
            (0..items.len())
                .map(|i| hv.with_locals(self.loop_locals(t, &items, i)))
                .collect()
        } else {
            vec![hv]
        };
        let info = ModuleInfo {
            name: module.name(),
            controller_only: false,
        };
        let mut cmds = Vec::new();
        for hv in per_item {
            let vars: Arc<dyn Vars> = Arc::new(hv);
            // No delegate here (a delegated task ends the lookahead above).
            let own = |_: &str| vars.clone();
            let inv = match self.resolver().resolve(t, host, &vars, info, &own) {
                Ok(Resolved::Run(inv)) => inv,
                Ok(Resolved::Skip(_)) => continue,
                // Not decidable yet (typically a result registered by a task of this very
                // batch): go on as if it were skipped. If it does run, its first command
                // drops the batch (and a probe the batch lacks does too).
                Err(ResolveError::Condition(_)) => return Ahead::Pass,
                Err(ResolveError::Keyword(_)) => return Ahead::Stop,
            };
            if inv.no_log {
                return Ahead::Stop;
            }
            let ctx = self.task_ctx(host, &inv, &vars, transport.clone());
            match module.probe_command(&ctx, inv.args).await {
                Some(cmd) => cmds.push(cmd),
                None => return Ahead::Stop,
            }
        }
        if cmds.is_empty() {
            Ahead::Pass
        } else {
            Ahead::Probes(cmds)
        }
    }
}
