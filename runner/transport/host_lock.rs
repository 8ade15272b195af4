//! One run at a time per host: a lock taken on the host before the first command.
//!
//! Why this module exists: two bootstraps racing on the same control plane (two
//! terminals, two CI jobs) corrupt each other's work. The first command a run sends to a
//! host creates the lock directory atomically (`mkdir`) with the run's id, user, controller
//! and start time inside; a second run finds it and refuses that host with a message
//! naming the holder. The lock is removed when the run closes its connection.
//! `--break-lock` removes a stale one first (a run that was killed cannot clean up).
//! `--resume` takes over the locks of the run it resumes: a host that went unreachable
//! kept that run's lock, and the resume is that run's continuation.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{ExecOutput, Transport, TransportError};
use crate::command::{RemoteCommand, quote};

/// Where the lock lives on every host.
pub const LOCK_DIR: &str = "/tmp/windlass.lock";

/// Who holds a lock.
#[derive(Clone, Debug)]
pub struct LockOwner {
    /// The run's id.
    pub run_id: String,
    /// `user@controller`.
    pub who: String,
    /// When the run started (RFC 3339-ish, UTC seconds).
    pub started: String,
}

/// A transport that takes the host lock on first use and releases it on close.
pub struct HostLock {
    inner: Arc<dyn Transport>,
    owner: LockOwner,
    break_lock: bool,
    /// A run whose lock this run may take over (the run being resumed).
    adopt: Option<String>,
    taken: OnceCell<Result<(), String>>,
}

impl HostLock {
    /// Wrap `inner`; `break_lock` removes an existing lock first.
    pub fn new(inner: Arc<dyn Transport>, owner: LockOwner, break_lock: bool) -> Self {
        HostLock {
            inner,
            owner,
            break_lock,
            adopt: None,
            taken: OnceCell::new(),
        }
    }

    /// Also take over a lock held by run `run_id` (the run being resumed).
    pub fn adopting(mut self, run_id: Option<String>) -> Self {
        self.adopt = run_id;
        self
    }

    async fn take(&self) -> Result<(), TransportError> {
        let r = self
            .taken
            .get_or_try_init(|| async {
                let info = format!("run_id={}\nwho={}\nstarted={}\n", self.owner.run_id, self.owner.who, self.owner.started);
                let mut script = String::new();
                if self.break_lock {
                    script.push_str(&format!("rm -rf {d}; ", d = quote(LOCK_DIR)));
                }
                let adopt = match &self.adopt {
                    Some(id) => format!(
                        "elif grep -qx {} {d}/owner 2>/dev/null; then printf %s {info} > {d}/owner; echo TAKEN; ",
                        quote(&format!("run_id={id}")),
                        d = quote(LOCK_DIR),
                        info = quote(&info)
                    ),
                    None => String::new(),
                };
                script.push_str(&format!(
                    "if mkdir {d} 2>/dev/null; then printf %s {info} > {d}/owner; echo TAKEN; {adopt}else echo HELD; cat {d}/owner 2>/dev/null; fi",
                    d = quote(LOCK_DIR),
                    info = quote(&info)
                ));
                let out = self.inner.exec(&RemoteCommand::shell(script)).await?;
                let text = out.stdout_str();
                if text.starts_with("TAKEN") {
                    Ok::<_, TransportError>(Ok(()))
                } else {
                    let holder: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
                    Ok(Err(format!(
                        "host is locked by another windlass run ({}); if that run is dead, re-run with --break-lock",
                        if holder.is_empty() { "owner unknown".to_string() } else { holder.join(", ") }
                    )))
                }
            })
            .await?;
        r.clone().map_err(TransportError::Failed)
    }
}

#[async_trait::async_trait]
impl Transport for HostLock {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        self.take().await?;
        self.inner.exec(cmd).await
    }

    async fn put(
        &self,
        file: &super::PutFile<'_>,
        become_: Option<&crate::command::Become>,
    ) -> Result<(), TransportError> {
        self.take().await?;
        self.inner.put(file, become_).await
    }

    async fn get(
        &self,
        path: &str,
        become_: Option<&crate::command::Become>,
    ) -> Result<Vec<u8>, TransportError> {
        self.take().await?;
        self.inner.get(path, become_).await
    }

    async fn close(&self) {
        if matches!(self.taken.get(), Some(Ok(()))) {
            let release = format!(
                "if grep -qx {} {d}/owner 2>/dev/null; then rm -rf {d}; fi",
                quote(&format!("run_id={}", self.owner.run_id)),
                d = quote(LOCK_DIR)
            );
            let _ = self.inner.exec(&RemoteCommand::shell(release)).await;
        }
        self.inner.close().await;
    }
}
