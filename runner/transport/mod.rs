//! How windlass reaches a host: the [`Transport`] trait and the connection settings.
//!
//! Why this module exists: the engine and the modules never know whether a host is this
//! machine or a server behind SSH. They hand a [`RemoteCommand`] to a transport and get
//! bytes and an exit code back; files go up with [`Transport::put`] (atomic on the target)
//! and come back with [`Transport::get`]. `local` runs on this machine; `ssh` goes through
//! the system OpenSSH client with one ControlMaster per host. Embedders may bring their own.

pub(crate) mod become_password;
pub mod dialer;
pub(crate) mod host_lock;
pub mod local;
pub(crate) mod probe_cache;
pub(crate) mod report;
pub(crate) mod sequence;
pub mod spec;
pub mod ssh;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::command::RemoteCommand;

/// What a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; -1 when killed by a signal.
    pub rc: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Stdout as text (lossy), without one trailing newline.
    pub fn stdout_str(&self) -> String {
        trim_nl(String::from_utf8_lossy(&self.stdout).into_owned())
    }
    /// Stderr as text (lossy), without one trailing newline.
    pub fn stderr_str(&self) -> String {
        trim_nl(String::from_utf8_lossy(&self.stderr).into_owned())
    }
}

fn trim_nl(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

/// Why a transport call failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The host could not be reached or authenticated: it goes UNREACHABLE.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The command did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Anything else (I/O on an established connection, sftp failure).
    #[error("{0}")]
    Failed(String),
}

/// A file to write on the host.
#[derive(Clone, Debug)]
pub struct PutFile<'a> {
    /// Absolute destination path.
    pub dest: &'a str,
    /// The bytes.
    pub content: &'a [u8],
    /// Permission bits to set before the file appears at `dest`.
    pub mode: Option<u32>,
    /// Owner to set before the file appears at `dest`.
    pub owner: Option<&'a str>,
    /// Group to set before the file appears at `dest`.
    pub group: Option<&'a str>,
}

/// A way to run commands on, and move files to and from, one host.
///
/// Implementations must be safe to call concurrently; they bound their own concurrency
/// (for SSH, a per-host channel limit below sshd's `MaxSessions`).
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Run a command and collect its output.
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError>;

    /// Write a file atomically: a temporary file in the destination's directory, mode and
    /// owner set, then renamed over `dest`. A reader never sees a partial file.
    /// `become_` applies to the whole operation. The default streams the content through
    /// `crate::command::atomic_write` in one round trip.
    async fn put(
        &self,
        file: &PutFile<'_>,
        become_: Option<&crate::command::Become>,
    ) -> Result<(), TransportError> {
        put_via_exec(self, file, become_).await
    }

    /// Read a whole file. The default runs `cat`.
    async fn get(
        &self,
        path: &str,
        become_: Option<&crate::command::Become>,
    ) -> Result<Vec<u8>, TransportError> {
        get_via_exec(self, path, become_).await
    }

    /// Run a command that only reads the host's state (a module's probe). A transport may
    /// answer it from probes it ran earlier in a batch, as long as nothing was done to the
    /// host since (`probe_cache::ProbeCache`). The default runs it.
    async fn exec_probe(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        self.exec(cmd).await
    }

    /// Close connections (SSH masters). Further calls may reconnect.
    async fn close(&self) {}

    /// Drop the connection and forget a failure, so the next call connects afresh (what
    /// `wait_for_connection` and `reboot` do between attempts, Ansible's
    /// `connection.reset()`). Unlike [`Transport::close`], what belongs to the run stays
    /// (the host lock). The default closes.
    async fn reset(&self) {
        self.close().await
    }

    /// The probe batcher in front of this transport, if there is one.
    fn probe_batch(&self) -> Option<&probe_cache::ProbeCache> {
        None
    }
}

/// [`Transport::put`] as one [`Transport::exec`] of `crate::command::atomic_write` (the
/// default, and what a wrapper that must see the command uses).
pub async fn put_via_exec<T: Transport + ?Sized>(
    t: &T,
    file: &PutFile<'_>,
    become_: Option<&crate::command::Become>,
) -> Result<(), TransportError> {
    let cmd = crate::command::atomic_write(file).with_become(become_.cloned());
    let out = t.exec(&cmd).await?;
    if out.rc != 0 {
        return Err(TransportError::Failed(format!(
            "writing {} failed: {}",
            file.dest,
            out.stderr_str()
        )));
    }
    Ok(())
}

/// [`Transport::get`] as one [`Transport::exec`] of `cat` (the default).
pub async fn get_via_exec<T: Transport + ?Sized>(
    t: &T,
    path: &str,
    become_: Option<&crate::command::Become>,
) -> Result<Vec<u8>, TransportError> {
    let cmd = RemoteCommand::argv(["cat", "--", path]).with_become(become_.cloned());
    let out = t.exec(&cmd).await?;
    if out.rc != 0 {
        return Err(TransportError::Failed(format!(
            "reading {path} failed: {}",
            out.stderr_str()
        )));
    }
    Ok(out.stdout)
}

/// How to connect to a host, resolved from inventory variables and the command line.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConnectionSpec {
    /// The inventory name.
    pub inventory_hostname: String,
    /// `ssh` or `local` (`ansible_connection`).
    pub kind: ConnectionKind,
    /// Address (`ansible_host`, else the inventory name).
    pub address: String,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user` / `-u`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file` / `--private-key`.
    pub private_key: Option<PathBuf>,
    /// `ansible_ssh_common_args` + `ansible_ssh_extra_args`, split into words.
    pub extra_args: Vec<String>,
    /// `ansible_ssh_timeout` / `-T`. `None` means Ansible's default, 10 seconds.
    pub connect_timeout: Option<Duration>,
    /// What to do with host keys (`ansible_host_key_checking`, `--accept-new-host-keys`).
    pub host_keys: HostKeyPolicy,
    /// `--ssh-config`: used instead of `~/.ssh/config` and `/etc/ssh/ssh_config`, as `ssh -F`.
    pub ssh_config: Option<PathBuf>,
    /// Per-host limit of concurrent channels; 0 means [`DEFAULT_MAX_CHANNELS`].
    pub max_channels: usize,
    /// Further connection attempts after a transient refusal (`ansible_ssh_retries` /
    /// `--ssh-retries`); `None` means `DEFAULT_SSH_RETRIES`.
    pub connect_retries: Option<u32>,
}

/// Default number of further connection attempts after a transient refusal (sshd
/// restarting, `MaxStartups` dropping the connection); the waits are 0.5 s, 1 s, 2 s, ….
pub(crate) const DEFAULT_SSH_RETRIES: u32 = 2;

/// How host keys are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// The host's key must already be in a known_hosts file (`StrictHostKeyChecking=yes`).
    #[default]
    Strict,
    /// Unknown hosts are added to known_hosts; a changed key is still refused
    /// (`StrictHostKeyChecking=accept-new`, `--accept-new-host-keys`).
    AcceptNew,
    /// No checking at all, nothing recorded (`ansible_host_key_checking: false`:
    /// `StrictHostKeyChecking=no` with `UserKnownHostsFile=/dev/null`).
    Off,
}

/// The kind of connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConnectionKind {
    /// Over OpenSSH.
    #[default]
    Ssh,
    /// On this machine, no SSH.
    Local,
}

/// Default per-host channel limit: below sshd's default `MaxSessions` (10).
pub const DEFAULT_MAX_CHANNELS: usize = 8;

/// The largest channel limit accepted (`--ssh-channels`, `windlass_ssh_channels`); far above
/// any sensible `MaxSessions`, so a larger number is a typo rather than a setting.
pub(crate) const MAX_CHANNELS_LIMIT: usize = 256;

/// Makes transports for hosts. The engine asks once per host and keeps the result for the
/// run; connecting happens lazily on first use.
pub trait Connector: Send + Sync {
    /// A transport for `spec`.
    fn connect(&self, spec: &ConnectionSpec) -> Arc<dyn Transport>;
}

/// The default connector: `local` for `ansible_connection: local`, SSH otherwise.
#[derive(Default)]
pub struct DefaultConnector {
    ssh: ssh::SshPool,
    /// Shared by every local host, so an abort can end their running commands.
    local: local::LocalTransport,
}

impl DefaultConnector {
    /// A connector with its own pool of SSH masters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Close every SSH master this connector opened.
    pub async fn close_all(&self) {
        self.ssh.close_all().await;
    }

    /// End the local commands still running (see [`local::LocalTransport::end_running`]);
    /// bounded by `within`.
    pub(crate) async fn end_local_commands(&self, within: std::time::Duration) {
        self.local.end_running(within).await;
    }

    /// End the local commands still running, shut every SSH master down at once, busy or
    /// not, and remove their control directory (see [`ssh::SshPool::abort_all`]); each
    /// bounded by `within`.
    pub(crate) async fn abort_all(&self, within: std::time::Duration) {
        self.end_local_commands(within).await;
        self.ssh.abort_all(within).await;
    }
}

impl Connector for DefaultConnector {
    fn connect(&self, spec: &ConnectionSpec) -> Arc<dyn Transport> {
        match spec.kind {
            ConnectionKind::Local => Arc::new(self.local.clone()),
            ConnectionKind::Ssh => self.ssh.transport(spec),
        }
    }
}
