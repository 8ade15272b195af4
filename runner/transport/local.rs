//! The `local` connection: commands run on this machine through `/bin/sh`, no SSH.
//!
//! Why this module exists: `ansible_connection: local` targets (the controller itself), and
//! tests and benchmarks of the engine that must not depend on SSH.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::{ExecOutput, Transport, TransportError};
use crate::command::RemoteCommand;

/// Runs commands on this machine.
#[derive(Clone, Debug, Default)]
pub struct LocalTransport;

impl LocalTransport {
    /// A local transport.
    pub fn new() -> Self {
        LocalTransport
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
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Failed(format!("cannot start /bin/sh: {e}")))?;
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
        Ok(ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
