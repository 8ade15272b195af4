//! Batched probes: the read-only commands of several upcoming tasks in one round trip.
//!
//! Why this module exists: on a converged host almost every task is one probe that finds
//! nothing to do, so a re-run costs a round trip per task per host. The engine knows which
//! tasks come next; it asks this wrapper to run their probes together ([`ProbeCache::prefetch`])
//! and each task then finds its probe's output here instead of asking the host again.
//!
//! Why it stays honest: an answer is only ever given for the exact command the task would
//! have run (same shell line, same privilege escalation), and only while nothing has been
//! done to the host since the batch ran. Any command or file write through this transport
//! — a change, a `command:` task, a handler, a task delegated here from another host —
//! forgets every prefetched answer first, so a probe never reports a state that an earlier
//! task of the run has since changed. A batch that raced with such a write is dropped.
//!
//! How much to prefetch adapts per host: a batch whose answers went unused because the host
//! was changed halfway (a first run, where nearly every task changes something) halves the
//! next batch, down to no batching (until a few tasks in a row change nothing); a batch
//! used up entirely doubles it. Each answer serves one probe: a task that probes again
//! (`until`, retries) asks the host again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::sequence::{self, Mode};
use super::{ExecOutput, PutFile, Transport, TransportError};
use crate::command::{Become, RemoteCommand};

/// The first batch size, and the bounds of the adaptive one.
const START_WINDOW: usize = 32;
const MAX_WINDOW: usize = 64;
/// Tasks in a row without a change after which a host that stopped batching starts again.
const QUIET_RESTART: usize = 3;

#[derive(Default)]
struct State {
    /// Bumped by every command or write that is not a probe.
    epoch: u64,
    /// Prefetched outputs by shell line, valid for `epoch`, with how many probes each may
    /// still answer (as many as the batch asked for it).
    entries: HashMap<String, (ExecOutput, usize)>,
    /// How many probes the current batch held.
    fetched: usize,
    /// How many probes the next batch may hold.
    window: usize,
    /// Probes since the last change that were not answered from a batch.
    quiet: usize,
}

impl State {
    /// Something was done to the host: forget the batch; if part of it went unused, the
    /// host is changing under the tasks, so batch less.
    fn invalidate(&mut self) {
        self.epoch += 1;
        self.quiet = 0;
        if !self.entries.is_empty() {
            self.window /= 2;
            self.entries.clear();
        }
        self.fetched = 0;
    }
}

/// A transport that answers probes from a prefetched batch (see the module docs).
pub struct ProbeCache {
    inner: Arc<dyn Transport>,
    state: Mutex<State>,
}

impl ProbeCache {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn Transport>) -> Self {
        ProbeCache {
            inner,
            state: Mutex::new(State {
                window: START_WINDOW,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `cmd` can go into a batch: no stdin of its own (and no become password, which
    /// travels on stdin), no timeout of its own.
    pub fn batchable(cmd: &RemoteCommand) -> bool {
        sequence::joinable(cmd) && cmd.timeout.is_none()
    }

    /// Whether answers of the current batch are still waiting for their probes (then no new
    /// batch is needed).
    pub fn in_use(&self) -> bool {
        !self.state().entries.is_empty()
    }

    /// Start a new batch: how many probes it may hold (0: do not batch on this host now).
    /// A batch that was used up entirely lets the next one grow.
    pub fn next_batch(&self) -> usize {
        let mut st = self.state();
        if st.fetched > 0 && st.entries.is_empty() {
            st.window = (st.window * 2).clamp(2, MAX_WINDOW);
        }
        st.entries.clear();
        st.fetched = 0;
        if st.window < 2 && st.quiet >= QUIET_RESTART {
            st.window = 4;
        }
        if st.window < 2 { 0 } else { st.window }
    }

    /// Run `cmds` (probes, see [`ProbeCache::batchable`]) in one round trip and keep their
    /// outputs for [`Transport::exec_probe`]. Failures are not errors: the probes then run
    /// one by one as usual.
    pub async fn prefetch(&self, cmds: &[RemoteCommand]) {
        // One run per distinct command; it answers as many probes as asked for it.
        let mut owned: Vec<RemoteCommand> = Vec::new();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for c in cmds.iter().filter(|c| Self::batchable(c)) {
            let n = counts.entry(c.to_shell()).or_insert(0);
            if *n == 0 {
                owned.push(c.clone());
            }
            *n += 1;
        }
        if owned.is_empty() || counts.values().sum::<usize>() < 2 {
            return;
        }
        let Some(nonce) = sequence::nonce() else {
            return;
        };
        let epoch = self.state().epoch;
        let batch = sequence::command(&owned, &nonce, Mode::All);
        let Ok(out) = self.inner.exec(&batch).await else {
            return;
        };
        if out.rc != 0 {
            return;
        }
        let Some(outs) = sequence::parse(&out.stdout, &out.stderr, &nonce) else {
            return;
        };
        if outs.len() != owned.len() {
            return;
        }
        let mut st = self.state();
        if st.epoch != epoch {
            return;
        }
        st.fetched = owned.len();
        for (c, o) in owned.iter().zip(outs) {
            let line = c.to_shell();
            let n = counts.get(&line).copied().unwrap_or(1);
            st.entries.insert(line, (o, n));
        }
    }
}

#[async_trait::async_trait]
impl Transport for ProbeCache {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        self.state().invalidate();
        let out = self.inner.exec(cmd).await;
        // Whatever ran may still have been changing the host when a batch started.
        self.state().invalidate();
        out
    }

    async fn exec_probe(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        if cmd.stdin.is_none() {
            let mut st = self.state();
            // Each answer is used once: a task that probes again (`until`, a loop over the
            // same item) asks the host again.
            let line = cmd.to_shell();
            if let Some((out, left)) = st.entries.get_mut(&line) {
                let out = out.clone();
                *left -= 1;
                if *left == 0 {
                    st.entries.remove(&line);
                }
                return Ok(out);
            }
            st.quiet += 1;
            // A probe the batch did not foresee: what is left of it was worked out for a
            // course the run did not take, so the next task starts a fresh batch.
            if Self::batchable(cmd) && !st.entries.is_empty() {
                st.entries.clear();
                st.fetched = 0;
            }
        }
        self.inner.exec(cmd).await
    }

    async fn put(
        &self,
        file: &PutFile<'_>,
        become_: Option<&Become>,
    ) -> Result<(), TransportError> {
        self.state().invalidate();
        let r = self.inner.put(file, become_).await;
        self.state().invalidate();
        r
    }

    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Vec<u8>, TransportError> {
        self.inner.get(path, become_).await
    }

    async fn close(&self) {
        self.state().invalidate();
        self.inner.close().await;
    }

    async fn reset(&self) {
        self.state().invalidate();
        self.inner.reset().await;
    }

    fn probe_batch(&self) -> Option<&ProbeCache> {
        Some(self)
    }
}
