//! The engine's side of the run journal: what it records after each task and what a
//! `--resume` takes back.
//!
//! Why this module exists: the journal (crate::journal) knows the file format; the engine
//! knows hosts, tasks and handlers. Here they meet: at the start of a run the loaded files
//! and the inventory are fingerprinted (a resume after they changed stops, before any
//! host is touched) and the earlier run's variables come back; before each task the hosts
//! that finished it are left out, and the handlers it had notified are notified again,
//! so they run at the next flush point as in the original run (not first); after each
//! task the journal is written; at the end the run says when it left an earlier journal
//! in place.

use std::collections::HashMap;
use std::path::PathBuf;

use sha2::Digest;

use crate::error::Result;
use crate::event::Event;
use crate::playbook::Playbook;
use crate::playbook::task::{Block, Task};

use super::Engine;
use super::walk::PlayCx;

/// Per host: its key for the task being run (see [`crate::journal::Journal::task_key`]).
pub(crate) type TaskKeys = HashMap<String, String>;

impl Engine {
    /// Start of a run: fingerprint what the run loaded (a resume after it changed is an
    /// error unless `--resume-changed`) and restore the resumed run's variables. The
    /// changes a `--resume-changed` run goes on with are returned, to be reported.
    pub(crate) fn start_journal(&self, playbook: &Playbook) -> Result<Vec<String>> {
        let Some(j) = self.journal.get() else {
            return Ok(Vec::new());
        };
        let mut files: Vec<PathBuf> = vec![playbook.path.clone()];
        files.extend(self.loader.loaded_files());
        let changes = j.fingerprint(&files, self.inventory_digest())?;
        let hosts: Vec<String> = self
            .scope
            .hosts
            .read()
            .map(|h| h.keys().cloned().collect())
            .unwrap_or_default();
        for h in hosts {
            if let Some(d) = self.scope.host(&h) {
                if let Ok(mut dy) = d.dynamic.write() {
                    dy.set_facts.extend(j.restorable_vars(&h));
                }
            }
            // Pending handlers with no known notifying task run at the first flush point.
            let unplaced = j.take_pending(&h, "");
            if !unplaced.is_empty() {
                let mut states = self.state.hosts();
                if let Some(s) = states.get_mut(&h) {
                    s.notified.extend(unplaced);
                }
            }
        }
        Ok(changes)
    }

    /// A digest of the inventory as the run sees it: every host, its groups and its
    /// variables (group_vars and host_vars files included).
    fn inventory_digest(&self) -> String {
        let hosts = self.scope.hosts.read().expect("hosts lock");
        let mut h = sha2::Sha256::new();
        for (name, d) in hosts.iter() {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(d.group_names.join(",").as_bytes());
            h.update([0]);
            h.update(serde_json::to_string(&*d.inventory).unwrap_or_default());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Write the journal: every host's pending handlers and variables, and the files
    /// loaded so far (dynamic includes too).
    pub(crate) fn save_journal(&self, status: &str) -> Result<()> {
        let Some(j) = self.journal.get() else {
            return Ok(());
        };
        j.note_files(&self.loader.loaded_files());
        let notified: Vec<(String, Vec<String>)> = {
            let states = self.state.hosts();
            states
                .iter()
                .map(|(h, s)| (h.clone(), s.notified.iter().cloned().collect()))
                .collect()
        };
        let hidden = self.state.unjournaled();
        let snapshot = notified.into_iter().map(|(h, n)| {
            let mut vars = self
                .scope
                .host(&h)
                .and_then(|d| {
                    // include_vars results too (restored with set_fact's precedence).
                    d.dynamic.read().ok().map(|dy| {
                        let mut v = dy.included.clone();
                        v.extend(dy.set_facts.iter().map(|(k, v)| (k.clone(), v.clone())));
                        v
                    })
                })
                .unwrap_or_default();
            vars.retain(|k, _| !hidden.contains(k));
            (h, n, vars)
        });
        j.save(status, snapshot)
    }

    /// End of a run that did not finish everything: write the journal as `status` and say
    /// what a later `--resume` will find.
    pub(crate) fn end_journal(&self, status: &str) -> Result<()> {
        let Some(j) = self.journal.get() else {
            return Ok(());
        };
        let saved = self.save_journal(status);
        for (host, handler) in j.unmet_pending() {
            self.emit(Event::Warning {
                message: format!(
                    "resume: handler `{handler}` was pending on {host}, but the task that notified it was not met in this run: it did not run"
                ),
            });
        }
        if let Some((earlier, now)) = j.kept_earlier() {
            self.emit(Event::Warning {
                message: format!(
                    "the journal of an earlier run ({earlier} tasks finished) stays the resume point: this run finished {now}; `--resume` continues the earlier run"
                ),
            });
        }
        saved
    }

    /// Run `walk` (a section of block `b`: `block`, `rescue` or `always`) with `hosts`
    /// inside it for the journal: a task's key includes the sections it is in, so an
    /// identical task elsewhere counts apart (a rescue that ran in one run and not in the
    /// next shifts nothing).
    pub(crate) async fn in_place<F: std::future::Future<Output = Result<()>>>(
        &self,
        hosts: &[String],
        b: &Block,
        section: &str,
        walk: F,
    ) -> Result<()> {
        let Some(j) = self.journal.get() else {
            return walk.await;
        };
        let label = format!("{}/{section}", b.name.as_deref().unwrap_or(""));
        for h in hosts {
            j.enter(h, &label);
        }
        let r = walk.await;
        for h in hosts {
            j.leave(h);
        }
        r
    }

    /// Resuming: of `hosts`, those that still have to run task `t`, with every host's key
    /// for the task. Hosts that finished it in the resumed run skip it, and the handlers
    /// it had notified (and that had not run) are notified again here, where the task
    /// stands. `None` when there is no journal or `t` is a handler.
    pub(crate) fn resume_filter(
        &self,
        cx: &PlayCx<'_>,
        t: &Task,
        hosts: &[String],
        handler: bool,
    ) -> Option<(Vec<String>, TaskKeys)> {
        let j = self.journal.get().filter(|_| !handler)?;
        let base = crate::journal::task_base(&cx.play.name, &cx.play.hosts, t);
        let mut keys = TaskKeys::new();
        let mut left = Vec::new();
        for h in hosts {
            let key = j.task_key(h, &base);
            let again = j.take_pending(h, &key);
            if !again.is_empty() {
                let mut states = self.state.hosts();
                if let Some(s) = states.get_mut(h) {
                    s.notified.extend(again);
                }
            }
            if !j.was_done(h, &key) {
                left.push(h.clone());
            }
            keys.insert(h.clone(), key);
        }
        Some((left, keys))
    }
}
