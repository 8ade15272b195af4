//! The `ssh` connection over the system OpenSSH client, one ControlMaster per host.
//!
//! Why this module exists: users' hosts are reached the way their Ansible reaches them,
//! through OpenSSH with `~/.ssh/config`, the agent, ProxyJump and known_hosts. Each host gets
//! one multiplexing master (the `openssh` crate, native mux), opened lazily on first use and
//! kept for the whole run; every command is a new channel on it, so a command costs one
//! round trip instead of a TCP + key exchange + authentication.
//!
//! How the connection options are applied:
//! - address, port, user, private key, connect timeout (default 10 s, as Ansible) and the
//!   host key policy go through [`openssh::SessionBuilder`], i.e. on ssh's command line, where
//!   they win over any config file.
//! - `ansible_ssh_common_args` / `ansible_ssh_extra_args` cannot be handed to the builder, so
//!   they are translated: `-o StrictHostKeyChecking=…`, `-o UserKnownHostsFile=…` and
//!   `-o ConnectTimeout=…` feed the builder (when the spec leaves them at their defaults);
//!   every other `-o` line and the flags that have a config equivalent (`-i`, `-p`, `-l`,
//!   `-J`, `-C`, `-4`, `-6`, `-A`, `-q`, `-v`, …) are written, in order, to a per-host
//!   ssh_config file in the pool's control directory, which then `Include`s the user's config
//!   (`--ssh-config`, an `-F` in the args, or else `~/.ssh/config` and `/etc/ssh/ssh_config`)
//!   and is passed with `-F`. A `-o` argument is itself one ssh_config line, and ssh keeps the
//!   first value it reads for an option, so this gives the args precedence over the user's
//!   config just as on a command line. Options about the master itself (`ControlMaster`,
//!   `ControlPath`, `ControlPersist`, `BatchMode`) and flags without a config equivalent are
//!   ignored with a warning.
//!
//! The master's TCP connection is opened by windlass's dialer ([`super::dialer`]: the
//! same connect, with `TCP_NODELAY`, handed to ssh through `ProxyUseFdpass`) unless the
//! host's effective ssh configuration routes or binds the connection itself.
//!
//! Masters live in a short private directory under `/tmp` (socket paths must stay under
//! ~100 bytes), made once per pool and removed with it. `ControlPersist` is bounded
//! (`CONTROL_PERSIST`) so a master orphaned by a killed run goes away by itself; a master
//! that idled that long within a run is replaced before its next use. [`SshPool::close_all`]
//! and dropping the pool shut every master down.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};

use super::dialer;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, Semaphore};

use super::{
    ConnectionSpec, DEFAULT_MAX_CHANNELS, ExecOutput, HostKeyPolicy, Transport, TransportError,
};
use crate::command::RemoteCommand;

/// How long an idle master stays up (`ControlPersist`), in seconds.
pub(crate) const CONTROL_PERSIST: u64 = 300;

/// Ansible's default connection timeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts to open a channel that sshd refused (MaxSessions) before giving up.
const CHANNEL_RETRIES: u32 = 6;

/// `ServerAliveInterval` of every master unless the ssh args set one: with ssh's default
/// `ServerAliveCountMax` of 3, a host that vanishes mid-command (powered off, link cut) is
/// declared unreachable after about 15 s instead of hanging until TCP gives up (~15 min).
pub(crate) const SERVER_ALIVE_INTERVAL: Duration = Duration::from_secs(5);

/// The first wait before connecting again after a transient refusal; doubled each time.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// A pool of SSH masters, one per host, shared by the whole run.
pub struct SshPool {
    hosts: StdMutex<HashMap<String, Arc<SshHost>>>,
    dir: StdMutex<Option<Arc<TempDir>>>,
    seq: AtomicUsize,
}

impl Default for SshPool {
    fn default() -> Self {
        Self::new()
    }
}

impl SshPool {
    /// An empty pool; nothing is created until the first host connects.
    pub fn new() -> Self {
        SshPool {
            hosts: StdMutex::new(HashMap::new()),
            dir: StdMutex::new(None),
            seq: AtomicUsize::new(0),
        }
    }

    /// A transport for `spec`. The same host (same inventory name and settings) always gets
    /// the same master; connecting happens on the first command.
    pub fn transport(&self, spec: &ConnectionSpec) -> Arc<dyn Transport> {
        let mut hosts = lock(&self.hosts);
        if let Some(h) = hosts.get(&spec.inventory_hostname) {
            if h.spec == *spec {
                return h.clone();
            }
        }
        let host = Arc::new(SshHost::new(
            spec.clone(),
            self.control_dir(),
            self.seq.fetch_add(1, Ordering::Relaxed),
        ));
        hosts.insert(spec.inventory_hostname.clone(), host.clone());
        host
    }

    /// Shut down every master of this pool. Transports handed out stay usable and
    /// reconnect on their next command.
    pub async fn close_all(&self) {
        let hosts: Vec<Arc<SshHost>> = lock(&self.hosts).values().cloned().collect();
        for h in hosts {
            h.shutdown().await;
        }
    }

    /// Shut every master down now, even those with commands still running on them (their
    /// commands end with the master), and remove the control directory: what an abort does
    /// before the process exits, when nothing will be dropped. Bounded by `within`.
    pub(crate) async fn abort_all(&self, within: Duration) {
        let hosts: Vec<Arc<SshHost>> = lock(&self.hosts).values().cloned().collect();
        let mut exits = tokio::task::JoinSet::new();
        for h in hosts {
            exits.spawn(async move { h.force_exit().await });
        }
        let _ = tokio::time::timeout(within, async { while exits.join_next().await.is_some() {} })
            .await;
        if let Some(d) = lock(&self.dir).as_ref() {
            let _ = std::fs::remove_dir_all(d.path());
        }
    }

    /// Where this pool keeps its master sockets (and generated ssh configs), once created.
    /// Removed when the pool and all its transports are gone.
    pub fn control_path(&self) -> Option<PathBuf> {
        lock(&self.dir).as_ref().map(|d| d.path().to_path_buf())
    }

    /// The pool's control directory, created on first use.
    fn control_dir(&self) -> Result<Arc<TempDir>, String> {
        let mut dir = lock(&self.dir);
        if let Some(d) = &*dir {
            return Ok(d.clone());
        }
        // Created 0700 by mkdir itself (no window with wider permissions): the master
        // sockets, the generated ssh configs and the dialer's error notes are this user's.
        let d = tempfile::Builder::new()
            .prefix("wl")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot create a control directory in /tmp: {e}"))?;
        let d = Arc::new(d);
        *dir = Some(d.clone());
        Ok(d)
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The connection state of one host.
enum State {
    /// Not connected (yet, or again after `close`).
    Idle,
    /// A live master.
    Up(Arc<Session>),
    /// Connecting failed or the master died; every call fails with this message.
    Down(String),
}

/// Channel bookkeeping, to know when the master has been idle.
struct Activity {
    active: usize,
    since: Instant,
}

/// One host: its settings, its master and its channel limit.
struct SshHost {
    spec: ConnectionSpec,
    dir: Result<Arc<TempDir>, String>,
    seq: usize,
    state: Mutex<State>,
    channels: Semaphore,
    activity: StdMutex<Activity>,
    /// Masters that a close could not shut down because a command still held them; an
    /// abort tells them to exit too.
    lingering: StdMutex<Vec<Arc<Session>>>,
}

/// Releases the activity count when a command ends, however it ends.
struct ActiveGuard<'a>(&'a SshHost);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        let mut a = lock(&self.0.activity);
        a.active -= 1;
        a.since = Instant::now();
    }
}

impl SshHost {
    fn new(spec: ConnectionSpec, dir: Result<Arc<TempDir>, String>, seq: usize) -> Self {
        let limit = if spec.max_channels == 0 {
            DEFAULT_MAX_CHANNELS
        } else {
            spec.max_channels
        };
        SshHost {
            spec,
            dir,
            seq,
            state: Mutex::new(State::Idle),
            channels: Semaphore::new(limit),
            lingering: StdMutex::new(Vec::new()),
            activity: StdMutex::new(Activity {
                active: 0,
                since: Instant::now(),
            }),
        }
    }

    /// The live master, connecting if needed. Concurrent callers wait for one connection.
    async fn session(&self) -> Result<(Arc<Session>, ActiveGuard<'_>), TransportError> {
        let mut st = self.state.lock().await;
        if let State::Up(_) = &*st {
            let idle = {
                let a = lock(&self.activity);
                a.active == 0
                    && a.since.elapsed() + Duration::from_secs(10)
                        >= Duration::from_secs(CONTROL_PERSIST)
            };
            if idle {
                // The master is about to exit on its own (ControlPersist): start afresh.
                if let State::Up(old) = std::mem::replace(&mut *st, State::Idle) {
                    let _ = close_session(old).await;
                }
            }
        }
        let session = match &*st {
            State::Up(s) => s.clone(),
            State::Down(m) => return Err(TransportError::Unreachable(m.clone())),
            State::Idle => match self.connect_with_retries().await {
                Ok(s) => {
                    lock(&self.activity).since = Instant::now();
                    let s = Arc::new(s);
                    *st = State::Up(s.clone());
                    s
                }
                Err(m) => {
                    *st = State::Down(m.clone());
                    return Err(TransportError::Unreachable(m));
                }
            },
        };
        lock(&self.activity).active += 1;
        Ok((session, ActiveGuard(self)))
    }

    /// Start the master, trying again after a transient refusal (connection refused or
    /// reset, sshd dropping the connection before authentication): `connect_retries` more
    /// attempts, waiting 0.5 s, 1 s, 2 s, … in between. Authentication, host key and
    /// timeout failures are not retried.
    async fn connect_with_retries(&self) -> Result<Session, String> {
        let retries = self
            .spec
            .connect_retries
            .unwrap_or(super::DEFAULT_SSH_RETRIES);
        let mut attempt = 0;
        loop {
            match self.connect().await {
                Ok(s) => return Ok(s),
                Err(m) if attempt < retries && is_transient(&m) => {
                    let wait = RETRY_BACKOFF * 2u32.saturating_pow(attempt);
                    attempt += 1;
                    tracing::info!(host = %self.spec.inventory_hostname, attempt, "connecting failed ({m}); trying again in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                Err(m) if attempt > 0 => {
                    return Err(format!("{m} (after {} attempts)", attempt + 1));
                }
                Err(m) => return Err(m),
            }
        }
    }

    /// Start the master.
    async fn connect(&self) -> Result<Session, String> {
        let dir = self.dir.clone()?;
        let spec = &self.spec;
        if spec.address.is_empty() || spec.address.starts_with('-') {
            return Err(format!("invalid host address {:?}", spec.address));
        }
        let mut plan = Plan::new(spec);
        for w in &plan.warnings {
            tracing::warn!(host = %spec.inventory_hostname, "{w}");
        }
        let dial_errors = dir.path().join(format!("{}.dial", self.seq));
        let _ = std::fs::remove_file(&dial_errors);
        if let Some(program) = dialer::program()
            && let Some(g) = self.effective_config(&plan, dir.path()).await?
            && let Some(route) = dialer::Route::from_effective_config(&g)
        {
            plan.config_lines
                .extend(route.config_lines(program, &dial_errors));
        }
        let b = self.builder(&plan, dir.path())?;
        let e = match b.connect_mux(&spec.address).await {
            Ok(session) => return Ok(session),
            Err(e) => e,
        };
        // The dialer's own words ("Connection refused") beat ssh's "proxy dialer did not
        // pass back a connection".
        if let Ok(m) = std::fs::read_to_string(&dial_errors)
            && !m.trim().is_empty()
        {
            return Err(m.trim().to_string());
        }
        if matches!(&e, openssh::Error::Connect(io) if io.kind() == std::io::ErrorKind::NotFound) {
            // ssh refused its arguments (an invalid host name or user) before it opened its
            // log, and said why on a stderr nobody reads; `ssh -G` says the same.
            self.effective_config(&plan, dir.path()).await?;
        }
        Err(connect_error(e))
    }

    /// The effective configuration ssh would use for this host's master (`ssh -G` with the
    /// master's config file, port, user and connect timeout); `Ok(None)` when ssh cannot
    /// be asked, `Err` with ssh's own message when it refuses the settings (a host name or
    /// user with invalid characters, a bad configuration line).
    async fn effective_config(&self, plan: &Plan, dir: &Path) -> Result<Option<String>, String> {
        let spec = &self.spec;
        let mut g = tokio::process::Command::new("ssh");
        g.arg("-G");
        if let Some(c) = self.config_path(plan, dir)? {
            g.arg("-F").arg(c);
        }
        if let Some(p) = spec.port {
            g.arg("-p").arg(p.to_string());
        }
        if let Some(u) = &spec.user {
            g.arg("-l").arg(u);
        }
        g.arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                plan.connect_timeout.as_secs().max(1)
            ))
            .arg("--")
            .arg(&spec.address)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let Ok(out) = g.output().await else {
            return Ok(None);
        };
        if out.status.success() {
            return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
        }
        match String::from_utf8_lossy(&out.stderr).trim() {
            "" => Ok(None),
            m => Err(m.to_string()),
        }
    }

    /// The ssh invocation of this host's master: everything but the address.
    fn builder(&self, plan: &Plan, dir: &Path) -> Result<SessionBuilder, String> {
        let spec = &self.spec;
        let mut b = SessionBuilder::default();
        b.control_directory(dir)
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(CONTROL_PERSIST as usize).unwrap_or(NonZeroUsize::MIN),
            ))
            .known_hosts_check(plan.known_hosts.clone())
            .connect_timeout(plan.connect_timeout);
        if let Some(i) = plan.server_alive {
            b.server_alive_interval(i);
        }
        if let Some(f) = &plan.known_hosts_file {
            b.user_known_hosts_file(f);
        }
        if let Some(u) = &spec.user {
            b.user(u.clone());
        }
        if let Some(p) = spec.port {
            b.port(p);
        }
        if let Some(k) = &spec.private_key {
            b.keyfile(k);
        }
        if let Some(c) = self.config_path(plan, dir)? {
            b.config_file(c);
        }
        Ok(b)
    }

    /// The `-F` file of this host's ssh: the generated one when the plan has config lines
    /// (written now, into `dir`), else the user's own if one was named, else none (ssh's
    /// defaults).
    fn config_path(&self, plan: &Plan, dir: &Path) -> Result<Option<PathBuf>, String> {
        if plan.config_lines.is_empty() {
            return Ok(plan.user_config.clone());
        }
        let path = dir.join(format!("{}.conf", self.seq));
        write_private(&path, plan.config_file().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Some(path))
    }

    /// Mark the master as dead (if `session` is still the current one) and say why.
    async fn master_lost(&self, session: &Arc<Session>) -> TransportError {
        let log = session
            .control_socket()
            .parent()
            .map(|d| d.join("log"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let msg = if log.is_empty() {
            format!("connection to {} lost", self.spec.address)
        } else {
            format!("connection to {} lost: {log}", self.spec.address)
        };
        let mut st = self.state.lock().await;
        if let State::Up(cur) = &*st {
            if Arc::ptr_eq(cur, session) {
                *st = State::Down(msg.clone());
            }
        }
        TransportError::Unreachable(msg)
    }

    /// Open a channel running `line`, retrying when sshd refuses one (MaxSessions).
    async fn spawn(
        &self,
        session: &Arc<Session>,
        line: &str,
        with_stdin: bool,
    ) -> Result<openssh::Child<Arc<Session>>, TransportError> {
        let mut attempt = 0;
        loop {
            let mut c = session.clone().arc_raw_command(line);
            c.stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            match c.spawn().await {
                Ok(child) => return Ok(child),
                Err(openssh::Error::Disconnected) => return Err(self.master_lost(session).await),
                Err(e) if attempt < CHANNEL_RETRIES && is_refused(&e) => {
                    attempt += 1;
                    tracing::debug!(host = %self.spec.inventory_hostname, attempt, "channel refused, retrying");
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                Err(e) => {
                    if session.check().await.is_err() {
                        return Err(self.master_lost(session).await);
                    }
                    return Err(TransportError::Failed(format!(
                        "cannot open a channel to {}: {}",
                        self.spec.address,
                        error_chain(&e)
                    )));
                }
            }
        }
    }

    /// Run one command on an open master.
    async fn run(
        &self,
        session: &Arc<Session>,
        cmd: &RemoteCommand,
    ) -> Result<ExecOutput, TransportError> {
        let line = cmd.to_shell();
        let mut child = self.spawn(session, &line, cmd.stdin.is_some()).await?;
        let stdin = child.stdin().take();
        let stdout = child.stdout().take();
        let stderr = child.stderr().take();
        let feed = async {
            if let (Some(mut w), Some(data)) = (stdin, &cmd.stdin) {
                // A command that exits without reading its input is not an error here.
                let _ = w.write_all(data).await;
                let _ = w.shutdown().await;
            }
        };
        let ((), out, err) = tokio::join!(feed, read_all(stdout), read_all(stderr));
        let (stdout, stderr) = match (out, err) {
            (Ok(o), Ok(e)) => (o, e),
            (Err(e), _) | (_, Err(e)) => {
                if session.check().await.is_err() {
                    return Err(self.master_lost(session).await);
                }
                return Err(TransportError::Failed(format!(
                    "reading output from {}: {e}",
                    self.spec.address
                )));
            }
        };
        let rc = match child.wait().await {
            Ok(status) => status.code().unwrap_or(-1),
            // The native mux reports exit status 127 as an error; it is a plain exit code.
            Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => 127,
            Err(openssh::Error::RemoteProcessTerminated) => {
                // Killed by a signal, or the master went away: ask the master.
                if session.check().await.is_ok() {
                    -1
                } else {
                    return Err(self.master_lost(session).await);
                }
            }
            Err(openssh::Error::Disconnected) => return Err(self.master_lost(session).await),
            Err(e) => {
                if session.check().await.is_err() {
                    return Err(self.master_lost(session).await);
                }
                return Err(TransportError::Failed(format!(
                    "waiting for a command on {}: {}",
                    self.spec.address,
                    error_chain(&e)
                )));
            }
        };
        Ok(ExecOutput { rc, stdout, stderr })
    }

    /// Tell the master to exit (`ssh -O exit`), whoever still holds it.
    async fn force_exit(&self) {
        let mut sessions: Vec<Arc<Session>> = std::mem::take(&mut *lock(&self.lingering));
        if let State::Up(s) = &*self.state.lock().await {
            sessions.push(s.clone());
        }
        for session in sessions {
            let _ = tokio::process::Command::new("ssh")
                .arg("-S")
                .arg(session.control_socket())
                .args(["-o", "BatchMode=yes", "-O", "exit", "windlass-master"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .status()
                .await;
        }
    }

    /// Close the master (if any) and forget any failure; the next call reconnects. A master
    /// a running command still holds is remembered, so an abort can still end it.
    async fn shutdown(&self) {
        let old = std::mem::replace(&mut *self.state.lock().await, State::Idle);
        if let State::Up(s) = old {
            if let Some(still_used) = close_session(s).await {
                lock(&self.lingering).push(still_used);
            }
        }
    }
}

/// Close a master now if nothing else uses it (`None`); otherwise hand it back: the last
/// user's drop shuts it down.
async fn close_session(s: Arc<Session>) -> Option<Arc<Session>> {
    match Arc::try_unwrap(s) {
        Ok(s) => {
            if let Err(e) = s.close().await {
                tracing::debug!("closing ssh master: {}", error_chain(&e));
            }
            None
        }
        Err(shared) => Some(shared),
    }
}

#[async_trait::async_trait]
impl Transport for SshHost {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|_| TransportError::Failed("transport closed".into()))?;
        let (session, _active) = self.session().await?;
        let run = self.run(&session, cmd);
        match cmd.timeout {
            Some(t) => tokio::time::timeout(t, run)
                .await
                .map_err(|_| TransportError::Timeout(t))?,
            None => run.await,
        }
    }

    async fn close(&self) {
        self.shutdown().await;
    }
}

async fn read_all<R: tokio::io::AsyncRead + Unpin>(r: Option<R>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut r) = r {
        r.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}

/// Whether a connection failure may go away by itself (sshd restarting or busy), as
/// opposed to a refusal that will not (authentication, host key, name resolution).
fn is_transient(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    let permanent = [
        "permission denied",
        "host key verification failed",
        "identification has changed",
        "could not resolve",
        "invalid host address",
        "bad configuration",
        "cannot create a control directory",
    ];
    if permanent.iter().any(|p| m.contains(p)) {
        return false;
    }
    [
        "connection refused",
        "connection reset",
        "connection closed",
        "kex_exchange_identification",
        "banner exchange",
        "broken pipe",
    ]
    .iter()
    .any(|t| m.contains(t))
}

/// Whether the mux master refused to open a session (sshd's MaxSessions, or a channel open
/// failure). `openssh` does not re-export the mux client's error type, so this reads its text
/// ("Server refused the request: Session open refused by peer.").
fn is_refused(e: &openssh::Error) -> bool {
    matches!(e, openssh::Error::SshMux(_)) && error_chain(e).contains("refused")
}

/// An error and its sources, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The message for a failed connection: what ssh said.
fn connect_error(e: openssh::Error) -> String {
    match &e {
        openssh::Error::Connect(io) => {
            let m = io.to_string();
            let m = m.trim();
            if m.is_empty() {
                "ssh could not connect and gave no message (LogLevel QUIET?)".to_string()
            } else {
                m.to_string()
            }
        }
        _ => error_chain(&e),
    }
}

/// The builder settings and the generated ssh_config for one host.
#[derive(Debug)]
struct Plan {
    known_hosts: KnownHosts,
    known_hosts_file: Option<String>,
    connect_timeout: Duration,
    /// `ServerAliveInterval` to set on the command line; `None` when the args set it.
    server_alive: Option<Duration>,
    /// ssh_config lines from the extra args, in order.
    config_lines: Vec<String>,
    /// The user's own config to include (`-F` semantics); `None` means the defaults.
    user_config: Option<PathBuf>,
    warnings: Vec<String>,
}

/// Flags of `ssh` that take an argument.
const FLAGS_WITH_ARG: &str = "BbcDEeFIiJLlmOoPpQRSWw";

impl Plan {
    fn new(spec: &ConnectionSpec) -> Self {
        let mut plan = Plan {
            known_hosts: match spec.host_keys {
                HostKeyPolicy::Strict => KnownHosts::Strict,
                HostKeyPolicy::AcceptNew => KnownHosts::Add,
                HostKeyPolicy::Off => KnownHosts::Accept,
            },
            known_hosts_file: (spec.host_keys == HostKeyPolicy::Off).then(|| "/dev/null".into()),
            connect_timeout: spec.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            server_alive: Some(SERVER_ALIVE_INTERVAL),
            config_lines: Vec::new(),
            user_config: spec.ssh_config.clone(),
            warnings: Vec::new(),
        };
        let mut timeout_from_args = None;
        let mut args = spec.extra_args.iter();
        while let Some(arg) = args.next() {
            let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
                plan.warnings
                    .push(format!("ignoring ssh argument {arg:?} (not an option)"));
                continue;
            };
            for (i, flag) in flags.char_indices() {
                if FLAGS_WITH_ARG.contains(flag) {
                    let rest = &flags[i + flag.len_utf8()..];
                    let value = if rest.is_empty() {
                        match args.next() {
                            Some(v) => v.as_str(),
                            None => {
                                plan.warnings
                                    .push(format!("ignoring ssh option -{flag} without a value"));
                                break;
                            }
                        }
                    } else {
                        rest
                    };
                    plan.flag_with_value(spec, flag, value, &mut timeout_from_args);
                    break;
                }
                plan.flag(flag);
            }
        }
        if spec.connect_timeout.is_none() {
            if let Some(t) = timeout_from_args {
                plan.connect_timeout = t;
            }
        }
        if plan.config_lines.iter().any(|l| {
            l.to_ascii_lowercase()
                .trim_start()
                .starts_with("serveraliveinterval")
        }) {
            plan.server_alive = None;
        }
        if plan.connect_timeout < Duration::from_secs(1) {
            plan.connect_timeout = Duration::from_secs(1);
        }
        plan
    }

    fn line(&mut self, key: &str, value: &str) {
        self.config_lines.push(format!("{key} {value}"));
    }

    fn flag(&mut self, flag: char) {
        match flag {
            '4' => self.line("AddressFamily", "inet"),
            '6' => self.line("AddressFamily", "inet6"),
            'A' => self.line("ForwardAgent", "yes"),
            'a' => self.line("ForwardAgent", "no"),
            'C' => self.line("Compression", "yes"),
            'q' => self.line("LogLevel", "QUIET"),
            'v' => self.line("LogLevel", "VERBOSE"),
            'X' => self.line("ForwardX11", "yes"),
            'x' => self.line("ForwardX11", "no"),
            'Y' => self.line("ForwardX11Trusted", "yes"),
            'g' => self.line("GatewayPorts", "yes"),
            'K' => {
                self.line("GSSAPIAuthentication", "yes");
                self.line("GSSAPIDelegateCredentials", "yes");
            }
            'k' => self.line("GSSAPIDelegateCredentials", "no"),
            other => self.warnings.push(format!(
                "ignoring ssh flag -{other} (windlass runs the session)"
            )),
        }
    }

    fn flag_with_value(
        &mut self,
        spec: &ConnectionSpec,
        flag: char,
        value: &str,
        timeout: &mut Option<Duration>,
    ) {
        if value.contains(['\n', '\r', '\0']) {
            self.warnings.push(format!(
                "ignoring ssh option -{flag} with a line break in its value"
            ));
            return;
        }
        match flag {
            'o' => self.option(spec, value, timeout),
            'i' => self.line("IdentityFile", &config_quote(value)),
            'p' => self.line("Port", value),
            'l' => self.line("User", value),
            'J' => self.line("ProxyJump", value),
            'c' => self.line("Ciphers", value),
            'm' => self.line("MACs", value),
            'b' => self.line("BindAddress", value),
            'B' => self.line("BindInterface", value),
            'F' => self.user_config = Some(PathBuf::from(value)),
            other => self
                .warnings
                .push(format!("ignoring ssh option -{other} {value}")),
        }
    }

    /// One `-o` argument: itself an ssh_config line (`Key=Value` or `Key Value`).
    fn option(&mut self, spec: &ConnectionSpec, line: &str, timeout: &mut Option<Duration>) {
        let line = line.trim();
        let end = line
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(line.len());
        let key = &line[..end];
        let value = line[end..]
            .trim_start()
            .strip_prefix('=')
            .unwrap_or(line[end..].trim_start())
            .trim();
        match key.to_ascii_lowercase().as_str() {
            "stricthostkeychecking" => {
                // Like Ansible, explicit args matter only while checking is at its default.
                if spec.host_keys == HostKeyPolicy::Strict {
                    match value.to_ascii_lowercase().as_str() {
                        "yes" | "ask" | "true" => self.known_hosts = KnownHosts::Strict,
                        "accept-new" => self.known_hosts = KnownHosts::Add,
                        "no" | "off" | "false" => self.known_hosts = KnownHosts::Accept,
                        _ => self
                            .warnings
                            .push(format!("ignoring unknown StrictHostKeyChecking={value}")),
                    }
                }
            }
            "userknownhostsfile" => {
                if spec.host_keys != HostKeyPolicy::Off {
                    self.known_hosts_file = Some(value.to_string());
                }
            }
            "connecttimeout" => match value.parse::<u64>() {
                Ok(s) => *timeout = Some(Duration::from_secs(s)),
                Err(_) => self
                    .warnings
                    .push(format!("ignoring ConnectTimeout={value} (not seconds)")),
            },
            "controlmaster" | "controlpath" | "controlpersist" | "batchmode" => self.warnings.push(
                format!("ignoring {key} (windlass manages the master connection)"),
            ),
            "host" | "match" | "include" | "" => {
                self.warnings.push(format!("ignoring ssh option {line:?}"))
            }
            _ => self.config_lines.push(line.to_string()),
        }
    }

    /// The generated ssh_config: the args' lines first (first value wins), then the
    /// user's configuration.
    fn config_file(&self) -> String {
        let mut s = String::from(
            "# Generated by windlass from ansible_ssh_common_args / ansible_ssh_extra_args.\n",
        );
        for l in &self.config_lines {
            s.push_str(l);
            s.push('\n');
        }
        match &self.user_config {
            Some(p) => {
                s.push_str(&format!("Include {}\n", config_quote(&path_str(p))));
            }
            None => {
                s.push_str("Include ~/.ssh/config\n");
                s.push_str("Include /etc/ssh/ssh_config\n");
            }
        }
        s
    }
}

/// Write `bytes` to `path`, a file created 0600 (only this user may read it).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Double-quote an ssh_config argument when it holds blanks or quotes.
fn config_quote(s: &str) -> String {
    if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        return s.to_string();
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> ConnectionSpec {
        ConnectionSpec {
            inventory_hostname: "h".into(),
            address: "10.0.0.1".into(),
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ansible_style_args_map_onto_builder_and_config() {
        let p = Plan::new(&spec(&[
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-oLogLevel=ERROR",
            "-o",
            "ProxyCommand=ssh -W %h:%p -q bastion",
            "-C",
            "-J",
            "jump@gw",
            "-o",
            "ControlPersist=60s",
            "-o",
            "ConnectTimeout=3",
        ]));
        assert!(matches!(p.known_hosts, KnownHosts::Accept));
        assert_eq!(p.known_hosts_file.as_deref(), Some("/dev/null"));
        assert_eq!(p.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            p.config_lines,
            [
                "LogLevel=ERROR",
                "ProxyCommand=ssh -W %h:%p -q bastion",
                "Compression yes",
                "ProxyJump jump@gw"
            ]
        );
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        let file = p.config_file();
        assert!(file.ends_with("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n"));
    }

    #[test]
    fn control_persist_is_bounded_even_when_the_args_ask_for_forever() {
        let s = spec(&["-o", "ControlPersist=yes", "-o", "ControlMaster=no"]);
        let dir = tempfile::tempdir().unwrap();
        let host = SshHost::new(s.clone(), Ok(Arc::new(tempfile::tempdir().unwrap())), 0);
        let plan = Plan::new(&s);
        assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
        assert!(plan.config_lines.is_empty(), "{:?}", plan.config_lines);
        let b = host.builder(&plan, dir.path()).unwrap();
        let shown = format!("{b:?}");
        assert_eq!(CONTROL_PERSIST, 300);
        assert!(
            shown.contains("control_persist: IdleFor(300)"),
            "ControlPersist must be 300 s: {shown}"
        );
    }

    #[test]
    fn explicit_policy_beats_args() {
        let mut s = spec(&["-o", "StrictHostKeyChecking=no"]);
        s.host_keys = HostKeyPolicy::AcceptNew;
        s.connect_timeout = Some(Duration::from_millis(200));
        let p = Plan::new(&s);
        assert!(matches!(p.known_hosts, KnownHosts::Add));
        assert_eq!(p.connect_timeout, Duration::from_secs(1));
        s.host_keys = HostKeyPolicy::Off;
        s.extra_args = vec!["-o".into(), "UserKnownHostsFile=/tmp/kh".into()];
        let p = Plan::new(&s);
        assert!(matches!(p.known_hosts, KnownHosts::Accept));
        assert_eq!(p.known_hosts_file.as_deref(), Some("/dev/null"));
        assert!(p.config_lines.is_empty());
    }

    #[test]
    fn user_config_and_bad_values() {
        let mut s = spec(&["-F", "/etc/my ssh.conf", "-o", "Host evil", "-p2222", "-o"]);
        s.ssh_config = Some("/ignored".into());
        let p = Plan::new(&s);
        assert_eq!(p.config_lines, ["Port 2222"]);
        assert!(
            p.config_file()
                .ends_with("Port 2222\nInclude \"/etc/my ssh.conf\"\n")
        );
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        let p = Plan::new(&spec(&["-o", "LogLevel=ERROR\nHost *"]));
        assert!(p.config_lines.is_empty());
    }

    #[test]
    fn server_alive_is_on_unless_the_args_set_it() {
        assert_eq!(
            Plan::new(&spec(&[])).server_alive,
            Some(SERVER_ALIVE_INTERVAL)
        );
        let p = Plan::new(&spec(&["-o", "ServerAliveInterval=1"]));
        assert_eq!(p.server_alive, None);
        assert_eq!(p.config_lines, ["ServerAliveInterval=1"]);
    }

    #[test]
    fn only_transient_refusals_are_retried() {
        assert!(is_transient(
            "ssh: connect to host 10.0.0.1 port 22: Connection refused"
        ));
        assert!(is_transient(
            "kex_exchange_identification: read: Connection reset by peer"
        ));
        assert!(!is_transient(
            "root@10.0.0.1: Permission denied (publickey)."
        ));
        assert!(!is_transient("Host key verification failed."));
        assert!(!is_transient(
            "ssh: connect to host 10.0.0.1 port 22: Connection timed out"
        ));
    }

    #[tokio::test]
    async fn refused_connections_are_retried_with_backoff() {
        // Nothing listens on port 1 of this machine: each attempt is refused at once.
        let pool = SshPool::new();
        let mut s = spec(&[]);
        s.address = "127.0.0.1".into();
        s.port = Some(1);
        s.host_keys = HostKeyPolicy::Off;
        s.connect_retries = Some(2);
        let t0 = Instant::now();
        let e = pool
            .transport(&s)
            .exec(&RemoteCommand::argv(["true"]))
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert!(
            matches!(&e, TransportError::Unreachable(m) if m.contains("after 3 attempts")),
            "{e}"
        );
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        s.connect_retries = Some(0);
        s.inventory_hostname = "h0".into();
        let t0 = Instant::now();
        let e = pool
            .transport(&s)
            .exec(&RemoteCommand::argv(["true"]))
            .await
            .unwrap_err();
        assert!(!e.to_string().contains("attempts"), "{e}");
        assert!(t0.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn control_directory_and_generated_configs_are_private_from_creation() {
        let pool = SshPool::new();
        let dir = pool.control_dir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(dir.path()), 0o700, "control directory");
        let s = spec(&["-C"]);
        let host = SshHost::new(s.clone(), Ok(dir.clone()), 0);
        let conf = host
            .config_path(&Plan::new(&s), dir.path())
            .unwrap()
            .expect("a generated config");
        assert_eq!(mode(&conf), 0o600, "generated ssh config");
    }

    #[tokio::test]
    async fn a_host_name_or_user_ssh_refuses_fails_with_ssh_s_reason() {
        // ssh rejects these before it opens its log file; no host is contacted.
        let pool = SshPool::new();
        let cases = [
            ("bad host", None, "hostname contains invalid characters"),
            ("bad'host", None, "hostname contains invalid characters"),
            (
                "nonexistent.invalid",
                Some("b'u"),
                "remote username contains invalid characters",
            ),
            (
                "nonexistent.invalid",
                None,
                "Could not resolve hostname nonexistent.invalid",
            ),
        ];
        for (i, (address, user, want)) in cases.into_iter().enumerate() {
            let mut s = spec(&[]);
            s.inventory_hostname = format!("h{i}");
            s.address = address.into();
            s.user = user.map(str::to_string);
            s.connect_retries = Some(0);
            let e = pool
                .transport(&s)
                .exec(&RemoteCommand::argv(["true"]))
                .await
                .unwrap_err();
            assert!(
                matches!(&e, TransportError::Unreachable(m) if m.contains(want)),
                "{address:?} {user:?}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn dash_address_is_refused_without_running_ssh() {
        let pool = SshPool::new();
        let mut s = spec(&[]);
        s.address = "-oProxyCommand=touch /tmp/x".into();
        let t = pool.transport(&s);
        let e = t.exec(&RemoteCommand::argv(["true"])).await.unwrap_err();
        assert!(matches!(e, TransportError::Unreachable(m) if m.contains("invalid host address")));
    }
}
