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

use super::{ExecOutput, PutFile, Transport, TransportError};
use crate::command::{Become, Program, RemoteCommand};

/// The first batch size, and the bounds of the adaptive one.
const START_WINDOW: usize = 32;
const MAX_WINDOW: usize = 64;
/// Tasks in a row without a change after which a host that stopped batching starts again.
const QUIET_RESTART: usize = 3;

/// The start of the marker line after each probe's output in a batch.
const MARK: &str = "WLPROBE";

/// How a batch is run.
const BATCH_ARGV: [&str; 3] = ["/bin/sh", "-s", "windlass-probe-batch"];

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
        cmd.stdin.is_none()
            && cmd.timeout.is_none()
            && !cmd
                .become_
                .as_ref()
                .is_some_and(|b: &Become| b.with_password)
    }

    /// The shell script that runs `cmds` one after the other, each in its own subshell with
    /// no stdin, and ends each one's output and error output with a marker line holding
    /// `nonce` (and, on the output, the exit code).
    ///
    /// The outputs stream straight back: no scratch files, no `wc`/`cat` per probe, so a
    /// probe costs the host only its own processes. The markers cannot be forged by what a
    /// probe prints (a file's content, say): `nonce` is random per batch and the script
    /// travels on stdin ([`ProbeCache::batch_command`]), so it is not visible in the host's
    /// process list either.
    pub fn batch_script(cmds: &[RemoteCommand], nonce: &str) -> String {
        let mut s = String::new();
        for c in cmds {
            match &c.program {
                // A plain script runs in a subshell of the batch's own `/bin/sh`: the same
                // shell as `/bin/sh -c` would start, without starting it (`set --` drops the
                // batch's label argument).
                Program::Shell(body)
                    if c.chdir.is_none() && c.env.is_empty() && c.become_.is_none() =>
                {
                    s.push_str("( set --; ");
                    s.push_str(body);
                    s.push('\n');
                }
                _ => {
                    s.push_str("( ");
                    s.push_str(&c.to_shell());
                    s.push(' ');
                }
            }
            s.push_str(") </dev/null; printf '\\n%s %s\\n' ");
            s.push_str(MARK);
            s.push_str(nonce);
            s.push_str(" \"$?\"; printf '\\n%s\\n' ");
            s.push_str(MARK);
            s.push_str(nonce);
            s.push_str(" >&2\n");
        }
        s
    }

    /// The command that runs [`ProbeCache::batch_script`]: `/bin/sh -s` reading it on stdin
    /// (its one argument only labels it in the host's process list, and for `-vvv`).
    pub fn batch_command(cmds: &[RemoteCommand], nonce: &str) -> RemoteCommand {
        RemoteCommand::argv(BATCH_ARGV).with_stdin(Self::batch_script(cmds, nonce))
    }

    /// Whether `cmd` is a batch made by [`ProbeCache::batch_command`].
    pub fn is_batch(cmd: &RemoteCommand) -> bool {
        matches!(&cmd.program, Program::Argv(a) if a == &BATCH_ARGV) && cmd.stdin.is_some()
    }

    /// A fresh marker nonce: 128 random bits from the OS, in hex. `None` when the OS gives
    /// none (then there is no batch).
    pub fn nonce() -> Option<String> {
        use std::io::Read;
        let mut b = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut b))
            .ok()?;
        Some(hex::encode(b))
    }

    /// Split a batch's output and error output into one [`ExecOutput`] per command; `None`
    /// if they are not what [`ProbeCache::batch_script`] prints for `n` commands.
    pub fn parse_batch(out: &[u8], err: &[u8], n: usize, nonce: &str) -> Option<Vec<ExecOutput>> {
        let mark = format!("\n{MARK}{nonce}");
        let (mut out, mut err) = (out, err);
        let mut outs = Vec::with_capacity(n);
        for _ in 0..n {
            let at = find(out, mark.as_bytes())?;
            let stdout = out[..at].to_vec();
            let rest = out[at + mark.len()..].strip_prefix(b" ")?;
            let nl = rest.iter().position(|b| *b == b'\n')?;
            let rc = std::str::from_utf8(&rest[..nl]).ok()?.parse::<i32>().ok()?;
            out = &rest[nl + 1..];
            let at = find(err, mark.as_bytes())?;
            let stderr = err[..at].to_vec();
            err = err[at + mark.len()..].strip_prefix(b"\n")?;
            outs.push(ExecOutput { rc, stdout, stderr });
        }
        (out.is_empty() && err.is_empty()).then_some(outs)
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
        let Some(nonce) = Self::nonce() else {
            return;
        };
        let epoch = self.state().epoch;
        let batch = Self::batch_command(&owned, &nonce);
        let Ok(out) = self.inner.exec(&batch).await else {
            return;
        };
        if out.rc != 0 {
            return;
        }
        let Some(outs) = Self::parse_batch(&out.stdout, &out.stderr, owned.len(), &nonce) else {
            return;
        };
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

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
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

    fn probe_batch(&self) -> Option<&ProbeCache> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_round_trips_through_sh() {
        let cmds = vec![
            RemoteCommand::argv(["printf", "a\\nb"]),
            RemoteCommand::shell("echo err >&2; exit 3"),
            RemoteCommand::argv(["cat", "/nonexistent/x"]),
            // A probe that prints marker lookalikes, a NUL, no final newline, and tries to
            // read the batch's stdin (it must see none of the script).
            RemoteCommand::shell(
                "printf '\\nWLPROBE 1\\nWLPROBEx 0\\n'; printf '\\000bin'; \
                 printf '\\nWLPROBE\\n' >&2; cat",
            )
            .with_chdir("/"),
            RemoteCommand::shell("printf 'no newline'"),
        ];
        let nonce = ProbeCache::nonce().expect("urandom");
        assert_eq!(nonce.len(), 32);
        assert_ne!(nonce, ProbeCache::nonce().unwrap());
        let batch = ProbeCache::batch_command(&cmds, &nonce);
        assert!(
            !batch.to_shell().contains(&nonce),
            "the nonce stays off the command line"
        );
        assert!(ProbeCache::is_batch(&batch));
        assert!(!ProbeCache::is_batch(&RemoteCommand::argv(BATCH_ARGV)));
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(batch.to_shell())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(batch.stdin.as_deref().unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let outs =
            ProbeCache::parse_batch(&out.stdout, &out.stderr, cmds.len(), &nonce).expect("parses");
        assert_eq!(outs[0].stdout, b"a\nb");
        assert_eq!((outs[0].rc, outs[0].stderr.as_slice()), (0, &b""[..]));
        assert_eq!((outs[1].rc, outs[1].stderr.as_slice()), (3, &b"err\n"[..]));
        assert_ne!(outs[2].rc, 0);
        assert!(!outs[2].stderr.is_empty());
        assert_eq!(outs[3].stdout, b"\nWLPROBE 1\nWLPROBEx 0\n\0bin");
        assert_eq!(outs[3].stderr, b"\nWLPROBE\n");
        assert_eq!(
            (outs[4].rc, outs[4].stdout.as_slice()),
            (0, &b"no newline"[..])
        );
        // Wrong count, another nonce or trailing bytes: not a batch.
        assert!(
            ProbeCache::parse_batch(&out.stdout, &out.stderr, cmds.len() - 1, &nonce).is_none()
        );
        let other = ProbeCache::nonce().unwrap();
        assert!(ProbeCache::parse_batch(&out.stdout, &out.stderr, cmds.len(), &other).is_none());
        assert!(ProbeCache::parse_batch(b"garbage", b"", 1, &nonce).is_none());
    }
}
