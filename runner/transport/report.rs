//! Reporting every command a host is sent, for `-vvv` and embedders.
//!
//! Why this module exists: `ansible-playbook -vvv` shows what it executes, and a user
//! debugging a module needs the exact shell line. This wrapper sits right on the
//! connection, under the host lock, the become-password feeder and the probe batcher, so it
//! sees what really goes to the host: the lock command, sudo's password check, one batch
//! for many prefetched probes or the steps of a change, shown with its script (answers taken from a batch run
//! nothing and are not reported). Each exec, put and get becomes one [`Event::Command`].
//!
//! Why it is safe to show: a command's stdin (file contents, the become password) is never
//! part of its line; values of secret-looking environment variables are masked; and a
//! command run for a `no_log` task is reported without its line or error. Which task a
//! command belongs to comes from [`TASK`], set by the engine around each task on each host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ExecOutput, PutFile, Transport, TransportError};
use crate::command::{Become, RemoteCommand};
use crate::event::{CommandOp, Event};

/// The task a command is run for.
#[derive(Clone, Debug)]
pub struct TaskLabel {
    /// Its display name.
    pub name: String,
    /// `no_log`: its commands are reported without their lines.
    pub no_log: bool,
}

tokio::task_local! {
    /// The task the current host run is for (set by the engine).
    pub static TASK: TaskLabel;
}

/// Where events go.
pub type Emit = Arc<dyn Fn(Event) + Send + Sync>;

/// What replaces a secret-looking environment variable's value in a reported line.
const MASK: &str = "********";

/// A transport that reports every call to `emit` (see the module docs).
pub struct Reporting {
    inner: Arc<dyn Transport>,
    host: String,
    emit: Emit,
}

impl Reporting {
    /// Wrap `inner`, the connection to `host`.
    pub fn new(inner: Arc<dyn Transport>, host: impl Into<String>, emit: Emit) -> Self {
        Reporting {
            inner,
            host: host.into(),
            emit,
        }
    }

    /// The line shown for `cmd`: its shell line with secret-looking environment values
    /// masked (stdin is never part of it, except for a script windlass wrote — a sequence
    /// of probes or of a change's steps, alone or behind the host lock — shown as a
    /// here-document).
    pub fn shown_line(cmd: &RemoteCommand) -> String {
        if cmd.stdin_is_script {
            let script = String::from_utf8_lossy(cmd.stdin.as_deref().unwrap_or_default());
            return format!(
                "{} <<'WINDLASS_BATCH'\n{script}WINDLASS_BATCH",
                cmd.to_shell()
            );
        }
        if !cmd.env.iter().any(|(k, _)| crate::journal::secret_like(k)) {
            return cmd.to_shell();
        }
        let mut c = cmd.clone();
        c.stdin = None;
        for (k, v) in &mut c.env {
            if crate::journal::secret_like(k) {
                *v = MASK.to_string();
            }
        }
        c.to_shell()
    }

    fn report(
        &self,
        op: CommandOp,
        line: impl FnOnce() -> String,
        rc: Option<i32>,
        error: Option<&TransportError>,
        duration: Duration,
    ) {
        let task = TASK.try_with(Clone::clone).ok();
        let censored = task.as_ref().is_some_and(|t| t.no_log);
        (self.emit)(Event::Command {
            host: self.host.clone(),
            task: task.map(|t| t.name),
            op,
            line: (!censored).then(line),
            rc,
            error: error.filter(|_| !censored).map(ToString::to_string),
            duration,
        });
    }
}

#[async_trait::async_trait]
impl Transport for Reporting {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let t0 = Instant::now();
        let r = self.inner.exec(cmd).await;
        self.report(
            CommandOp::Exec,
            || Self::shown_line(cmd),
            r.as_ref().ok().map(|o| o.rc),
            r.as_ref().err(),
            t0.elapsed(),
        );
        r
    }

    async fn put(
        &self,
        file: &PutFile<'_>,
        become_: Option<&Become>,
    ) -> Result<(), TransportError> {
        let t0 = Instant::now();
        let r = self.inner.put(file, become_).await;
        self.report(
            CommandOp::Put,
            || file.dest.to_string(),
            r.as_ref().ok().map(|_| 0),
            r.as_ref().err(),
            t0.elapsed(),
        );
        r
    }

    async fn get(&self, path: &str, become_: Option<&Become>) -> Result<Vec<u8>, TransportError> {
        let t0 = Instant::now();
        let r = self.inner.get(path, become_).await;
        self.report(
            CommandOp::Get,
            || path.to_string(),
            r.as_ref().ok().map(|_| 0),
            r.as_ref().err(),
            t0.elapsed(),
        );
        r
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn reset(&self) {
        self.inner.reset().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn reports_lines_masks_secrets_and_censors_no_log() {
        let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
        let s = seen.clone();
        let t = Reporting::new(
            Arc::new(super::super::local::LocalTransport::new()),
            "h1",
            Arc::new(move |e| s.lock().unwrap().push(e)),
        );
        let mut cmd = RemoteCommand::argv(["echo", "hi"]).with_stdin(b"stdin-secret".to_vec());
        cmd.env = vec![
            ("API_TOKEN".into(), "tok-123".into()),
            ("LANG".into(), "C".into()),
        ];
        let label = |no_log| TaskLabel {
            name: "t".into(),
            no_log,
        };
        TASK.scope(label(false), t.exec(&cmd)).await.unwrap();
        TASK.scope(label(true), t.exec(&cmd)).await.unwrap();
        t.exec(&RemoteCommand::argv(["false"])).await.unwrap();
        let seen = seen.lock().unwrap();
        let Event::Command {
            task, line, rc, op, ..
        } = &seen[0]
        else {
            panic!("{:?}", seen[0]);
        };
        let line = line.as_deref().unwrap();
        assert_eq!(
            (task.as_deref(), *rc, *op),
            (Some("t"), Some(0), CommandOp::Exec)
        );
        assert!(
            line.contains("echo hi") && line.contains("LANG=C"),
            "{line}"
        );
        assert!(
            !line.contains("tok-123") && !line.contains("stdin-secret"),
            "{line}"
        );
        assert!(line.contains("API_TOKEN=********"), "{line}");
        assert!(matches!(
            &seen[1],
            Event::Command {
                line: None,
                rc: Some(0),
                ..
            }
        ));
        assert!(matches!(
            &seen[2],
            Event::Command {
                task: None,
                rc: Some(1),
                ..
            }
        ));
    }
}
