//! The `local` connection: commands run on this machine through `/bin/sh`, no SSH.
//!
//! Why this module exists: `ansible_connection: local` targets (the controller itself), and
//! tests and benchmarks of the engine that must not depend on SSH.
//!
//! Every command runs in a process group of its own. On a terminal, Ctrl-C sends SIGINT to
//! the whole foreground group; a command in windlass's group would die with it, while
//! windlass itself means to let running tasks finish. In its own group it does not see the
//! terminal's signals; in exchange windlass ends the group itself when it gives up on a
//! command: a timeout or a dropped task kills the group, and an abort ends every group
//! still running (`LocalTransport::end_running`).

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::AsyncWriteExt;

use super::{ExecOutput, Transport, TransportError};
use crate::command::RemoteCommand;

/// Runs commands on this machine.
#[derive(Clone, Debug, Default)]
pub struct LocalTransport {
    /// The process groups of the commands running now (shared by clones).
    running: Arc<Mutex<BTreeSet<i32>>>,
}

impl LocalTransport {
    /// A local transport.
    pub fn new() -> Self {
        Self::default()
    }

    /// End the commands still running through this transport (or a clone of it): SIGTERM
    /// to each one's process group, a wait of up to `within` for every process of those
    /// groups to exit, then SIGKILL to the groups, for whatever ignored the SIGTERM.
    pub(crate) async fn end_running(&self, within: Duration) {
        let groups: Vec<Pid> = lock(&self.running)
            .iter()
            .filter_map(|g| Pid::from_raw(*g))
            .collect();
        for g in &groups {
            let _ = kill_process_group(*g, Signal::TERM);
        }
        let deadline = tokio::time::Instant::now() + within;
        while any_alive_in(&groups) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for g in &groups {
            let _ = kill_process_group(*g, Signal::KILL);
        }
    }
}

/// The state and process group of a process, from /proc/PID/stat (proc(5): the fields
/// after the command name are state, ppid, pgrp, …); `None` when it is gone.
fn stat(pid: &str) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether a state is that of a running process (not a zombie waiting to be reaped).
fn runs(state: char) -> bool {
    !matches!(state, 'Z' | 'X' | 'x')
}

/// Whether any process of these process groups still runs.
fn any_alive_in(groups: &[Pid]) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| stat(&pid))
        .any(|(state, pgrp)| runs(state) && groups.iter().any(|g| g.as_raw_nonzero().get() == pgrp))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running command's process group: listed while it runs, killed if the command is
/// given up on (dropped before [`Group::finished`]).
struct Group {
    id: i32,
    running: Arc<Mutex<BTreeSet<i32>>>,
    done: bool,
}

impl Group {
    fn new(id: i32, running: &Arc<Mutex<BTreeSet<i32>>>) -> Self {
        lock(running).insert(id);
        Group {
            id,
            running: running.clone(),
            done: false,
        }
    }

    /// The command ended by itself: what it left running in the background stays.
    fn finished(mut self) {
        self.done = true;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        lock(&self.running).remove(&self.id);
        if !self.done
            && let Some(g) = Pid::from_raw(self.id)
        {
            let _ = kill_process_group(g, Signal::KILL);
        }
    }
}

impl LocalTransport {
    /// Run `cmd` here and wait for it, outside any runtime: for unit tests that check what a
    /// command value really does in a shell.
    #[cfg(test)]
    pub(crate) fn exec_blocking(cmd: &RemoteCommand) -> ExecOutput {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(LocalTransport::new().exec(cmd))
            .expect("/bin/sh runs")
    }
}

#[async_trait::async_trait]
impl Transport for LocalTransport {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot start /bin/sh: {e}")))?;
        // The group's id is the shell's pid (process_group(0)).
        let group = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .map(|id| Group::new(id, &self.running));
        if let Some(input) = &cmd.stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            let input = input.clone();
            // Feed stdin concurrently so a command that writes before reading cannot deadlock.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            });
        }
        let wait = child.wait_with_output();
        let out = match cmd.timeout {
            Some(t) => tokio::time::timeout(t, wait)
                .await
                .map_err(|_| TransportError::Timeout(t))?,
            None => wait.await,
        }
        .map_err(|e| TransportError::Failed(e.to_string()))?;
        if let Some(g) = group {
            g.finished();
        }
        Ok(ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid_in(path: &std::path::Path) -> Pid {
        let text = std::fs::read_to_string(path).expect("the command wrote its pid");
        Pid::from_raw(text.trim().parse().expect("a pid")).expect("not 0")
    }

    fn alive(pid: Pid) -> bool {
        stat(&pid.as_raw_nonzero().to_string()).is_some_and(|(state, _)| runs(state))
    }

    async fn gone_within(pid: Pid, t: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + t;
        while alive(pid) {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    #[tokio::test]
    async fn a_timed_out_command_is_ended_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut cmd =
            RemoteCommand::shell(format!("sleep 30 & echo $! > {}; wait", pidfile.display()));
        cmd.timeout = Some(Duration::from_millis(300));
        let t = LocalTransport::new();
        let e = t.exec(&cmd).await.unwrap_err();
        assert!(matches!(e, TransportError::Timeout(_)), "{e}");
        let background = pid_in(&pidfile);
        assert!(
            gone_within(background, Duration::from_secs(2)).await,
            "the command's background child outlived the timeout"
        );
        assert!(lock(&t.running).is_empty());
    }

    #[tokio::test]
    async fn end_running_ends_every_running_command_and_a_finished_one_keeps_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let t = LocalTransport::new();
        // A finished command's background process is its own business (as with ssh).
        let kept = dir.path().join("kept");
        let out = t
            .exec(&RemoteCommand::shell(format!(
                "sleep 30 >/dev/null 2>&1 & echo $! > {}",
                kept.display()
            )))
            .await
            .unwrap();
        assert_eq!(out.rc, 0);
        let kept = pid_in(&kept);
        // One command that stops on SIGTERM, one that ignores it.
        let mut running = Vec::new();
        for (name, trap) in [("term", ""), ("stubborn", "trap '' TERM; ")] {
            let pidfile = dir.path().join(name);
            let t = t.clone();
            let script = format!(
                "{trap}echo $$ > {}.tmp; mv {0}.tmp {0}; sleep 30",
                pidfile.display()
            );
            running.push(tokio::spawn(async move {
                t.exec(&RemoteCommand::shell(script)).await
            }));
            while !pidfile.exists() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let t0 = std::time::Instant::now();
        t.end_running(Duration::from_millis(500)).await;
        let took = t0.elapsed();
        assert!(
            (Duration::from_millis(500)..Duration::from_secs(2)).contains(&took),
            "the command that ignores SIGTERM is killed after the wait: {took:?}"
        );
        for r in running {
            let out = r.await.unwrap().unwrap();
            assert_ne!(out.rc, 0, "{out:?}");
        }
        assert!(alive(kept), "end_running killed a finished command's child");
        let _ = rustix::process::kill_process(kept, Signal::KILL);
    }
}
