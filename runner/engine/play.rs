//! One play: its hosts, split into `serial` batches, each batch walked through the play's
//! sections with the play's strategy (`linear` or `free`).
//!
//! Why this module exists: a batch is a play run of its own in Ansible (each starts the
//! play again: `lib/ansible/executor/playbook_executor.py`), with its own variables scope,
//! fact gathering and handler flushes; when the playbook stops after a batch is decided
//! here too.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::playbook::{Play, Strategy};

use super::host_vars::PlayScope;
use super::walk::{BatchRun, FreeSlots, PlayCx};
use super::{Engine, batches};

/// The variables of a play's roles: (defaults, vars), merged in role order.
type RoleLayers = (IndexMap<String, Value>, IndexMap<String, Value>);

impl Engine {
    /// Run one play. `Ok(true)` means the playbook stops here, as ansible-playbook stops:
    /// every host of a batch failed, `any_errors_fatal` fired, or `max_fail_percentage`
    /// was exceeded.
    pub(super) async fn run_play(self: &Arc<Self>, play: &Play) -> Result<bool> {
        let (hosts, pattern) = self.select_hosts(play)?;
        // An unnamed play is called by its host pattern, templated (Ansible templates the
        // play's `hosts` before the play starts, `lib/ansible/executor/task_queue_manager.py`).
        let name = if play.name == play.hosts {
            pattern
        } else {
            play.name.clone()
        };
        if hosts.is_empty() {
            // No host: the play is skipped and the run goes on; the PlayStart with no
            // hosts says so (ansible-playbook's `v2_playbook_on_no_hosts_matched`, in
            // lib/ansible/executor/playbook_executor.py).
            let hosts = Vec::new();
            self.emit(Event::PlayStart { name, hosts });
            return Ok(false);
        }
        // `ansible_play_hosts_all` keeps the hosts that failed in earlier plays (Ansible
        // lists them ignoring restrictions, `lib/ansible/vars/manager.py`).
        let all_hosts = hosts.clone();
        let hosts = self.state.start_play(hosts, play.handlers.clone());
        let roles = role_layers(play);
        // `order` decides how hosts are run and batched; `ansible_play_hosts_all` keeps the
        // pattern's order (`lib/ansible/vars/manager.py` lists the hosts without `order`).
        let mut ordered = hosts.clone();
        play.order.apply(&mut ordered);
        for batch in batches(&ordered, &play.serial) {
            // Each `serial` batch starts the play again.
            self.emit(Event::PlayStart {
                name: name.clone(),
                hosts: batch.clone(),
            });
            let scope = self.play_scope(play, &roles, &all_hosts, &hosts, &batch);
            let run = self.run_batch(play, scope, &batch).await?;
            if self.playbook_stops(&run, &hosts, &batch) {
                return Ok(true);
            }
            if self.active_hosts(&hosts).is_empty() || run.end_play.load(Ordering::SeqCst) {
                break;
            }
        }
        Ok(false)
    }

    /// The variables scope of one batch of the play.
    fn play_scope(
        &self,
        play: &Play,
        (role_defaults, role_vars): &RoleLayers,
        all_hosts: &[String],
        hosts: &[String],
        batch: &[String],
    ) -> Arc<PlayScope> {
        Arc::new(PlayScope {
            vars: Arc::new(play.vars.clone()),
            role_defaults: Arc::new(role_defaults.clone()),
            role_vars: Arc::new(role_vars.clone()),
            play_hosts_all: all_hosts.to_vec(),
            batch: batch.to_vec(),
            name: play.name.clone(),
            key: play.loc.to_string(),
            dir: play.dir.clone(),
            active: std::sync::RwLock::new(batch.to_vec()),
            remaining: std::sync::RwLock::new(self.active_hosts(hosts)),
            vars_files: std::sync::RwLock::new(IndexMap::new()),
            public_roles: std::sync::RwLock::new(Vec::new()),
            roles_ran: Default::default(),
        })
    }

    /// One batch: its vars files, fact gathering, then the sections by the strategy.
    async fn run_batch(
        self: &Arc<Self>,
        play: &Play,
        scope: Arc<PlayScope>,
        batch: &[String],
    ) -> Result<Arc<BatchRun>> {
        self.load_vars_files(play, &scope, batch)?;
        self.emit_load_warnings();
        let run = Arc::new(BatchRun {
            free: (play.strategy == Strategy::Free).then(|| FreeSlots::new(self.opts.forks)),
            ..Default::default()
        });
        let cx = PlayCx {
            play,
            scope: scope.clone(),
            batch: run.clone(),
            handler: false,
        };
        if self.gather_facts_wanted(play, &scope, batch)? {
            self.gather_facts(&cx, batch).await;
        }
        match play.strategy {
            Strategy::Linear => self.run_sections(&cx, batch).await?,
            Strategy::Free => self.run_free(play, &scope, &run, batch).await?,
        }
        self.check_max_fail(&cx);
        Ok(run)
    }

    /// The play's sections for `hosts`, each followed by a handler flush.
    async fn run_sections(self: &Arc<Self>, cx: &PlayCx<'_>, hosts: &[String]) -> Result<()> {
        let play = cx.play;
        for section in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
            self.walk(cx, section, hosts).await?;
            self.flush_handlers(cx, hosts).await?;
        }
        Ok(())
    }

    /// The `free` strategy: every host walks the play on its own (bounded by the batch's
    /// slots).
    async fn run_free(
        self: &Arc<Self>,
        play: &Play,
        scope: &Arc<PlayScope>,
        run: &Arc<BatchRun>,
        batch: &[String],
    ) -> Result<()> {
        let mut set = tokio::task::JoinSet::new();
        for h in batch.iter().cloned() {
            let me = self.clone();
            let play = play.clone();
            let scope = scope.clone();
            let batch = run.clone();
            set.spawn(async move {
                let cx = PlayCx {
                    play: &play,
                    scope,
                    batch,
                    handler: false,
                };
                me.run_sections(&cx, &[h]).await
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| Error::Other(format!("host task panicked: {e}")))??;
        }
        Ok(())
    }

    /// Whether the playbook stops after this batch: max_fail_percentage was exceeded
    /// after one of its tasks (the remaining hosts were failed there; here every host of
    /// the play is), or every host of the batch failed.
    fn playbook_stops(&self, run: &BatchRun, hosts: &[String], batch: &[String]) -> bool {
        if run.stopped.load(Ordering::SeqCst) {
            self.fail_all(hosts);
            self.emit(Event::NoHostsRemaining);
            return true;
        }
        let all_failed = {
            let states = self.state.hosts();
            !batch.is_empty()
                && batch
                    .iter()
                    .all(|h| states.get(h).is_some_and(|s| s.failed || s.unreachable))
        };
        if all_failed {
            self.emit(Event::NoHostsRemaining);
        }
        all_failed
    }
}

/// The play's roles' defaults and vars, merged in role order.
fn role_layers(play: &Play) -> RoleLayers {
    let mut role_defaults = IndexMap::new();
    let mut role_vars = IndexMap::new();
    for r in &play.roles {
        role_defaults.extend(r.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
        role_vars.extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    (role_defaults, role_vars)
}
