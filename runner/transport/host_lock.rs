//! One run at a time per host and user: a lock taken on the host before the first command.
//!
//! Why this module exists: two bootstraps racing on the same control plane (two
//! terminals, two CI jobs) corrupt each other's work. The first command a run sends to a
//! host creates the lock directory atomically (`mkdir`) with the run's id, user, controller
//! and start time inside; a second run finds it and refuses that host with a message
//! naming the holder. The lock is removed when the run closes its connection.
//!
//! Where: only the connecting user (or root) may be able to create or remove it, or any
//! local user could block runs by creating it first. Root's lock is `/run/windlass/lock`
//! (only root writes in /run, and a reboot empties it); another user's is
//! `$HOME/.windlass/lock`. The folder is made 0700 and must be the user's own, not a
//! symlink. The lock is taken by the login user, never through `become`, so two runs that
//! connect as the same user exclude each other whatever their tasks become; runs that
//! connect as different users do not. Taking it costs no round trip of its own: the take
//! script goes in front of the run's first command, which runs only once the lock is
//! taken ([`HostLock`]).
//!
//! A lock left behind (a run killed with SIGKILL, a controller that crashed):
//! - whose owner is provably gone is taken over without a word of the user: it was made
//!   by this controller in the same boot and pid namespace (the lock records the boot id
//!   and the pid namespace), and the process that made it no longer runs (its pid is free,
//!   or belongs to a process started at another time). See [`Controller`].
//! - any other stale lock (another controller, a rebooted one, a container we cannot see
//!   into) still needs `--break-lock`, which removes it first.
//!
//! `--resume` takes over the locks of the run it resumes: a host that went unreachable
//! kept that run's lock, and the resume is that run's continuation.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{ExecOutput, Transport, TransportError};
use crate::command::{RemoteCommand, quote};

/// The folder of root's lock (`/run/windlass/lock`) on a host.
pub const ROOT_LOCK_FOLDER: &str = "/run/windlass";

/// The folder of another user's lock, under their `$HOME` (`~/.windlass/lock`).
pub const USER_LOCK_FOLDER: &str = ".windlass";

/// Who holds a lock.
#[derive(Clone, Debug)]
pub struct LockOwner {
    /// The run's id.
    pub run_id: String,
    /// `user@controller pid N`.
    pub who: String,
    /// When the run started (RFC 3339-ish, UTC seconds).
    pub started: String,
    /// The controller process, to tell later whether it is gone; `None` when it cannot be
    /// known (then a lock it leaves behind needs `--break-lock`).
    pub controller: Option<Controller>,
}

/// The controller process that holds a lock, as precisely as is needed to prove later,
/// from the same machine, that it is gone.
///
/// A pid alone proves nothing: it is only meaningful within one boot of one kernel and one
/// pid namespace (two containers on one kernel share the boot id but not their pids), and
/// it is reused. So a lock records the kernel's boot id
/// (`/proc/sys/kernel/random/boot_id`), the pid namespace (`/proc/self/ns/pid`), the pid
/// and the process's start time (field 22 of `/proc/PID/stat`, in clock ticks since
/// boot). Another windlass with the same boot id and pid namespace sees the same pids: if
/// that pid does not run, or runs a process started at another time, the holder is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    /// The kernel's boot id.
    pub boot_id: String,
    /// The pid namespace, as `/proc/self/ns/pid` names it (`pid:[4026531836]`).
    pub pid_ns: String,
    /// The process id.
    pub pid: u32,
    /// The process's start time, in clock ticks after boot.
    pub start_time: u64,
}

impl Controller {
    /// This process; `None` when /proc does not tell (not Linux, or a /proc of another pid
    /// namespace than ours).
    pub fn this_process() -> Option<Controller> {
        let pid = std::process::id();
        // /proc must be our pid namespace's, or its pids are not ours.
        let me = std::fs::read_link("/proc/self").ok()?;
        if me.to_str()? != pid.to_string() {
            return None;
        }
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
        Some(Controller {
            boot_id: one_line(boot_id.trim()),
            pid_ns: one_line(pid_ns.to_str()?),
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// Whether `other` (read from a lock) is provably gone, seen from `self`: same boot,
    /// same pid namespace, and its pid is free or another process's.
    pub fn proves_gone(&self, other: &Controller) -> bool {
        self.sees(other) && start_time(other.pid) != Some(other.start_time)
    }

    /// Whether `other`'s pid means the same process here: same boot, same pid namespace.
    fn sees(&self, other: &Controller) -> bool {
        self.boot_id == other.boot_id && self.pid_ns == other.pid_ns
    }
}

/// The start time of running process `pid` (not a zombie), from /proc/PID/stat (proc(5):
/// `state` is the first field after the command name, `starttime` the 20th).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// `s` with control characters (line breaks) replaced, so it stays one line of the owner
/// file.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl LockOwner {
    /// The owner file's text: `key=value` lines.
    fn file_text(&self) -> String {
        let mut s = format!(
            "run_id={}\nwho={}\nstarted={}\n",
            one_line(&self.run_id),
            one_line(&self.who),
            one_line(&self.started)
        );
        if let Some(c) = &self.controller {
            s.push_str(&format!(
                "boot_id={}\npid_ns={}\npid={}\npid_start={}\n",
                c.boot_id, c.pid_ns, c.pid, c.start_time
            ));
        }
        s
    }
}

/// What an owner file says, as far as it can be read.
#[derive(Debug, Default, PartialEq, Eq)]
struct Holder {
    run_id: Option<String>,
    /// `who`, `started`: for the message.
    shown: Vec<String>,
    controller: Option<Controller>,
}

impl Holder {
    /// Read an owner file. Its text came from the host: a line is only ever a field of
    /// its own key, and anything unreadable leaves the holder unproven.
    fn parse(text: &str) -> Holder {
        let mut h = Holder::default();
        let (mut boot_id, mut pid_ns, mut pid, mut start) = (None, None, None, None);
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "run_id" => h.run_id = Some(v.to_string()),
                "who" | "started" => h.shown.push(line.to_string()),
                "boot_id" => boot_id = Some(v.to_string()),
                "pid_ns" => pid_ns = Some(v.to_string()),
                "pid" => pid = v.parse().ok(),
                "pid_start" => start = v.parse().ok(),
                _ => {}
            }
        }
        if let (Some(boot_id), Some(pid_ns), Some(pid), Some(start_time)) =
            (boot_id, pid_ns, pid, start)
        {
            h.controller = Some(Controller {
                boot_id,
                pid_ns,
                pid,
                start_time,
            });
        }
        h
    }

    /// How the refusal names the holder.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.run_id {
            parts.push(format!("run_id={id}"));
        }
        parts.extend(self.shown.iter().cloned());
        if parts.is_empty() {
            "owner unknown".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Where the lock folder is: the default per-user place, or a given folder (tests).
#[derive(Clone, Debug)]
enum Place {
    PerUser,
    #[cfg(test)]
    Dir(String),
}

/// A transport that takes the host lock on first use and releases it on close.
pub struct HostLock {
    inner: Arc<dyn Transport>,
    owner: LockOwner,
    break_lock: bool,
    /// A run whose lock this run may take over (the run being resumed).
    adopt: Option<String>,
    place: Place,
    /// Told when a lock is taken over (the engine makes it a warning).
    notice: Option<Notice>,
    taken: OnceCell<Result<(), String>>,
    /// A take script was sent: the lock may be ours even before its reply is read (the
    /// first command, which carries it, still runs when a run is aborted), so `close`
    /// releases it (only if it names this run).
    tried: std::sync::atomic::AtomicBool,
}

/// Receives what the lock has to say (a takeover).
pub type Notice = Arc<dyn Fn(String) + Send + Sync>;

/// The first word of the reply to taking the lock.
const TAKEN: &str = "TAKEN";
const HELD: &str = "HELD";
const NO_PLACE: &str = "NOPLACE";

impl HostLock {
    /// Wrap `inner`; `break_lock` removes an existing lock first.
    pub fn new(inner: Arc<dyn Transport>, owner: LockOwner, break_lock: bool) -> Self {
        HostLock {
            inner,
            owner,
            break_lock,
            adopt: None,
            place: Place::PerUser,
            notice: None,
            taken: OnceCell::new(),
            tried: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Tell `notice` when this run takes over a lock whose holder is gone.
    pub fn with_notice(mut self, notice: Notice) -> Self {
        self.notice = Some(notice);
        self
    }

    /// Also take over a lock held by run `run_id` (the run being resumed).
    pub fn adopting(mut self, run_id: Option<String>) -> Self {
        self.adopt = run_id;
        self
    }

    /// Keep the lock in `dir` instead of the per-user place.
    #[cfg(test)]
    fn in_dir(mut self, dir: &str) -> Self {
        self.place = Place::Dir(dir.to_string());
        self
    }

    /// Shell that sets `$l` to the lock's path after making sure its folder is the
    /// connecting user's (0700, owned, not a symlink), or prints `NOPLACE why` and exits.
    fn locate(&self) -> String {
        let dir = match &self.place {
            Place::PerUser => format!(
                "if [ \"$(id -u)\" = 0 ]; then d={root}; elif [ -n \"$HOME\" ]; then d=\"$HOME\"/{user}; \
                 else echo '{NO_PLACE} HOME is not set'; exit 0; fi; ",
                root = quote(ROOT_LOCK_FOLDER),
                user = quote(USER_LOCK_FOLDER),
            ),
            #[cfg(test)]
            Place::Dir(d) => format!("d={}; ", quote(d)),
        };
        format!(
            "{dir}mkdir -m 700 \"$d\" 2>/dev/null; \
             if [ -L \"$d\" ] || [ ! -d \"$d\" ] || [ ! -O \"$d\" ]; then \
             echo \"{NO_PLACE} $d is not a folder of the connecting user\"; exit 0; fi; \
             chmod 700 \"$d\"; l=\"$d\"/lock; "
        )
    }

    /// One round trip: take the lock, or learn who holds it.
    fn take_script(&self) -> String {
        let text = self.owner.file_text();
        let info = quote(&text);
        let mut script = self.locate();
        if self.break_lock {
            script.push_str("rm -rf \"$l\"; ");
        }
        script.push_str(&format!(
            "if mkdir \"$l\" 2>/dev/null; then printf %s {info} > \"$l\"/owner; echo {TAKEN}; "
        ));
        if let Some(id) = &self.adopt {
            script.push_str(&format!(
                "elif grep -qx {} \"$l\"/owner 2>/dev/null; then printf %s {info} > \"$l\"/owner; echo {TAKEN}; ",
                quote(&format!("run_id={id}"))
            ));
        }
        script.push_str(&format!(
            "else echo {HELD}; cat \"$l\"/owner 2>/dev/null; fi"
        ));
        script
    }

    /// Replace the lock of run `stale` (proven gone) by ours, unless another run got there
    /// first: a `takeover` folder inside the lock lets one run at a time look and write.
    fn takeover_script(&self, stale: &str) -> String {
        let text = self.owner.file_text();
        let info = quote(&text);
        format!(
            "{locate}if mkdir \"$l\"/takeover 2>/dev/null; then \
             if grep -qx {stale} \"$l\"/owner 2>/dev/null; then \
             printf %s {info} > \"$l\"/owner.new && mv -f \"$l\"/owner.new \"$l\"/owner && rmdir \"$l\"/takeover && echo {TAKEN}; \
             else rmdir \"$l\"/takeover; echo {HELD}; cat \"$l\"/owner 2>/dev/null; fi; \
             else echo {HELD}; cat \"$l\"/owner 2>/dev/null; fi",
            locate = self.locate(),
            stale = quote(&format!("run_id={stale}")),
        )
    }

    /// What a reply says: `Ok(None)` taken, `Ok(Some(holder))` held, `Err` no place.
    fn read_reply(out: &ExecOutput) -> Result<Option<Holder>, String> {
        let text = out.stdout_str();
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        match first.split_once(' ').map_or(first, |(w, _)| w) {
            TAKEN => Ok(None),
            HELD => Ok(Some(Holder::parse(rest))),
            NO_PLACE => Err(format!(
                "cannot take the host lock: {}",
                first[NO_PLACE.len()..].trim()
            )),
            _ => Err(format!(
                "cannot take the host lock: {}",
                match out.stderr_str().trim() {
                    "" => format!("unexpected reply (rc {})", out.rc),
                    e => e.to_string(),
                }
            )),
        }
    }

    /// `cmd` behind the take script, in one round trip: the script's reply comes first,
    /// whole, and `cmd` runs only after it, when the lock was taken; so nothing `cmd`
    /// prints can pose as the reply, and its exit code is the command's.
    fn take_then(&self, cmd: &RemoteCommand) -> RemoteCommand {
        let script = format!(
            "r=$({take}); printf '%s\\n' \"$r\"; if [ \"$r\" = {TAKEN} ]; then {line}; fi",
            take = self.take_script(),
            line = cmd.to_shell(),
        );
        let mut combined = RemoteCommand::shell(script);
        combined.stdin = cmd.stdin.clone();
        combined.stdin_is_script = cmd.stdin_is_script;
        combined.timeout = cmd.timeout;
        combined
    }

    /// Take the lock with the run's first command (`take_then`): when taken, `cmd`'s own
    /// output goes to `ran`; otherwise `cmd` did not run, and the reply is dealt with as
    /// [`HostLock::try_take`]'s.
    async fn try_take_with(
        &self,
        cmd: &RemoteCommand,
        ran: &std::sync::Mutex<Option<ExecOutput>>,
    ) -> Result<Result<(), String>, TransportError> {
        self.tried.store(true, std::sync::atomic::Ordering::SeqCst);
        let out = self.inner.exec(&self.take_then(cmd)).await?;
        let taken = format!("{TAKEN}\n");
        if let Some(rest) = out.stdout.strip_prefix(taken.as_bytes()) {
            let own = ExecOutput {
                rc: out.rc,
                stdout: rest.to_vec(),
                stderr: out.stderr,
            };
            *ran.lock().expect("lock reply") = Some(own);
            return Ok(Ok(()));
        }
        self.after_reply(&out).await
    }

    async fn try_take(&self) -> Result<Result<(), String>, TransportError> {
        self.tried.store(true, std::sync::atomic::Ordering::SeqCst);
        let out = self
            .inner
            .exec(&RemoteCommand::shell(self.take_script()))
            .await?;
        self.after_reply(&out).await
    }

    /// What the reply to the take script means: taken, refused, or a holder proven gone
    /// whose lock is taken over.
    async fn after_reply(&self, out: &ExecOutput) -> Result<Result<(), String>, TransportError> {
        let holder = match Self::read_reply(out) {
            Ok(None) => return Ok(Ok(())),
            Ok(Some(h)) => h,
            Err(m) => return Ok(Err(m)),
        };
        let gone = match (&self.owner.controller, &holder.controller, &holder.run_id) {
            (Some(me), Some(them), Some(id)) if me.proves_gone(them) => Some(id.clone()),
            _ => None,
        };
        let Some(stale) = gone else {
            return Ok(Err(self.refusal(&holder)));
        };
        let out = self
            .inner
            .exec(&RemoteCommand::shell(self.takeover_script(&stale)))
            .await?;
        Ok(match Self::read_reply(&out) {
            Ok(None) => {
                if let Some(notice) = &self.notice {
                    notice(format!(
                        "took over the host lock left by run {stale}: its windlass process on this machine is gone"
                    ));
                }
                Ok(())
            }
            Ok(Some(h)) => Err(self.refusal(&h)),
            Err(m) => Err(m),
        })
    }

    /// Why this run does not take the lock `h` holds.
    fn refusal(&self, h: &Holder) -> String {
        let why = match (&self.owner.controller, &h.controller) {
            (Some(me), Some(them)) if me.sees(them) => {
                format!("its process {} on this machine still runs", them.pid)
            }
            (_, Some(_)) => "it was taken from another machine, boot or container, so windlass cannot tell whether it still runs".to_string(),
            (_, None) => "the lock does not say which process holds it".to_string(),
        };
        format!(
            "host is locked by another windlass run ({}): {why}; if that run is dead, re-run with --break-lock",
            h.describe()
        )
    }

    async fn take(&self) -> Result<(), TransportError> {
        let r = self
            .taken
            .get_or_try_init(|| async { self.try_take().await })
            .await?;
        r.clone().map_err(TransportError::Failed)
    }
}

#[async_trait::async_trait]
impl Transport for HostLock {
    /// The first command takes the lock in the same round trip (`take_then`); a command
    /// that comes while another takes it waits, then runs on its own.
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        if self.taken.get().is_none() {
            let ran = std::sync::Mutex::new(None);
            let r = self
                .taken
                .get_or_try_init(|| self.try_take_with(cmd, &ran))
                .await?;
            r.clone().map_err(TransportError::Failed)?;
            if let Some(own) = ran.lock().expect("lock reply").take() {
                return Ok(own);
            }
        } else {
            self.take().await?;
        }
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
        let in_flight =
            self.taken.get().is_none() && self.tried.load(std::sync::atomic::Ordering::SeqCst);
        if matches!(self.taken.get(), Some(Ok(()))) || in_flight {
            let release = format!(
                "{}if grep -qx {} \"$l\"/owner 2>/dev/null; then rm -rf \"$l\"; fi",
                self.locate(),
                quote(&format!("run_id={}", self.owner.run_id)),
            );
            let _ = self.inner.exec(&RemoteCommand::shell(release)).await;
        }
        self.inner.close().await;
    }

    /// A new connection, the lock kept (it is the run's, not the connection's).
    async fn reset(&self) {
        self.inner.reset().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;

    fn owner(run_id: &str, controller: Option<Controller>) -> LockOwner {
        LockOwner {
            run_id: run_id.into(),
            who: format!("tester@here pid {run_id}"),
            started: "0 (unix time)".into(),
            controller,
        }
    }

    fn lock_in(dir: &std::path::Path, o: LockOwner) -> HostLock {
        HostLock::new(Arc::new(LocalTransport::new()), o, false)
            .in_dir(&dir.join("locks").to_string_lossy())
    }

    async fn try_lock(l: &HostLock) -> Result<(), String> {
        l.exec(&RemoteCommand::argv(["true"]))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Two runs' locks on the same folder, both from this process (runs `a` and `b`).
    fn two_runs_here(dir: &std::path::Path) -> (HostLock, HostLock) {
        let me = Controller::this_process().expect("Linux /proc");
        (
            lock_in(dir, owner("a", Some(me.clone()))),
            lock_in(dir, owner("b", Some(me))),
        )
    }

    /// A process of this machine that has exited: its pid is free.
    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    }

    #[tokio::test]
    async fn two_runs_exclude_each_other_until_the_first_releases() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_runs_here(dir.path());
        try_lock(&a).await.unwrap();
        let e = try_lock(&b).await.unwrap_err();
        assert!(
            e.contains("locked by another windlass run (run_id=a, who=tester@here pid a")
                && e.contains("--break-lock"),
            "{e}"
        );
        let folder = dir.path().join("locks");
        let mode = std::fs::metadata(&folder).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        a.close().await;
        assert!(!folder.join("lock").exists());
        let c = lock_in(dir.path(), owner("c", None));
        try_lock(&c).await.unwrap();
    }

    #[tokio::test]
    async fn the_first_command_takes_the_lock_in_its_round_trip_and_runs_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_runs_here(dir.path());
        // its output and exit code are the command's alone, whatever it prints
        let cmd = RemoteCommand::shell("printf 'TAKEN\\nHELD\\n'; echo err >&2; exit 3")
            .with_stdin(b"in".to_vec());
        let out = a.exec(&cmd).await.unwrap();
        assert_eq!(out.stdout, b"TAKEN\nHELD\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.rc, 3);
        let piped = a
            .exec(&RemoteCommand::shell("cat").with_stdin(b"kept".to_vec()))
            .await
            .unwrap();
        assert_eq!(piped.stdout, b"kept");
        // refused: the command does not run
        let marker = dir.path().join("ran");
        let touch = RemoteCommand::argv(["touch", marker.to_str().unwrap()]);
        let e = b.exec(&touch).await.unwrap_err().to_string();
        assert!(e.contains("locked by another windlass run"), "{e}");
        assert!(!marker.exists());
        // a first command's stdin reaches it
        a.close().await;
        let c = lock_in(dir.path(), owner("c", None));
        let cat = RemoteCommand::shell("cat").with_stdin(b"first".to_vec());
        assert_eq!(c.exec(&cat).await.unwrap().stdout, b"first");
    }

    #[tokio::test]
    async fn a_lock_whose_holder_is_provably_gone_is_taken_over_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let me = Controller::this_process().expect("Linux /proc");
        let dead = Controller {
            pid: dead_pid(),
            ..me.clone()
        };
        let reused = Controller {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        let elsewhere = "another machine, boot or container";
        let other_boot = Controller {
            boot_id: "other".into(),
            ..dead.clone()
        };
        let other_ns = Controller {
            pid_ns: "pid:[1]".into(),
            ..dead.clone()
        };
        let cases = [
            ("dead pid", Some(dead), ""),
            ("pid now another process's", Some(reused), ""),
            (
                "holder still runs",
                Some(me.clone()),
                "on this machine still runs",
            ),
            ("another boot", Some(other_boot), elsewhere),
            ("another pid namespace", Some(other_ns), elsewhere),
            ("holder unknown", None, "does not say which process"),
        ];
        for (what, holder, why) in cases {
            let stale = lock_in(dir.path(), owner("stale", holder));
            try_lock(&stale).await.unwrap();
            // The holder vanished without releasing (SIGKILL): its lock stays.
            let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = notices.clone();
            let next = lock_in(dir.path(), owner("next", Some(me.clone())))
                .with_notice(Arc::new(move |m| seen.lock().unwrap().push(m)));
            let r = try_lock(&next).await;
            let notices = notices.lock().unwrap().clone();
            let owner_file = std::fs::read_to_string(dir.path().join("locks/lock/owner")).unwrap();
            if why.is_empty() {
                assert!(r.is_ok(), "{what}: {r:?}");
                assert!(
                    owner_file.starts_with("run_id=next\n"),
                    "{what}: {owner_file}"
                );
                assert!(
                    notices.len() == 1 && notices[0].contains("left by run stale"),
                    "{what}: {notices:?}"
                );
                next.close().await;
                assert!(
                    !dir.path().join("locks/lock").exists(),
                    "{what}: not released"
                );
            } else {
                let e = r.unwrap_err();
                assert!(
                    e.contains("run_id=stale") && e.contains("--break-lock"),
                    "{what}: {e}"
                );
                assert!(e.contains(why), "{what}: {e}");
                assert!(notices.is_empty(), "{what}: {notices:?}");
                assert!(
                    owner_file.starts_with("run_id=stale\n"),
                    "{what}: {owner_file}"
                );
                std::fs::remove_dir_all(dir.path().join("locks/lock")).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn of_two_runs_taking_over_the_same_stale_lock_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let me = Controller::this_process().expect("Linux /proc");
        let dead = Controller {
            pid: dead_pid(),
            ..me.clone()
        };
        for _ in 0..5 {
            let stale = lock_in(dir.path(), owner("stale", Some(dead.clone())));
            try_lock(&stale).await.unwrap();
            let x = lock_in(dir.path(), owner("x", Some(me.clone())));
            let y = lock_in(dir.path(), owner("y", Some(me.clone())));
            let (rx, ry) = tokio::join!(try_lock(&x), try_lock(&y));
            assert!(rx.is_ok() != ry.is_ok(), "{rx:?} {ry:?}");
            let owner_file = std::fs::read_to_string(dir.path().join("locks/lock/owner")).unwrap();
            let winner = if rx.is_ok() {
                "run_id=x\n"
            } else {
                "run_id=y\n"
            };
            assert!(owner_file.starts_with(winner), "{owner_file}");
            assert!(!dir.path().join("locks/lock/takeover").exists());
            std::fs::remove_dir_all(dir.path().join("locks/lock")).unwrap();
        }
    }

    #[tokio::test]
    async fn the_lock_folder_must_be_the_users_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("locks")).unwrap();
        let l = lock_in(dir.path(), owner("a", None));
        let e = try_lock(&l).await.unwrap_err();
        assert!(e.contains("is not a folder of the connecting user"), "{e}");
        assert!(!dir.path().join("elsewhere/lock").exists());
    }

    #[test]
    fn a_user_s_lock_is_in_their_home_and_root_s_in_run() {
        // The per-user place as a user other than root sees it (`id -u` answering 1000).
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("id"), "#!/bin/sh\necho 1000\n").unwrap();
        std::fs::set_permissions(
            bin.join("id"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let l = HostLock::new(Arc::new(LocalTransport::new()), owner("a", None), false);
        let script = format!(
            "PATH={}:$PATH HOME={}; {}echo \"$l\"",
            quote(&bin.to_string_lossy()),
            quote(&home.to_string_lossy()),
            l.locate()
        );
        let out = LocalTransport::exec_blocking(&RemoteCommand::shell(script));
        assert_eq!(
            out.stdout_str(),
            format!("{}/.windlass/lock", home.display())
        );
        let mode = std::fs::metadata(home.join(".windlass"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        assert!(
            l.locate().contains("then d=/run/windlass;"),
            "{}",
            l.locate()
        );
    }

    #[test]
    fn an_owner_file_is_read_field_by_field() {
        let me = Controller {
            boot_id: "b".into(),
            pid_ns: "pid:[7]".into(),
            pid: 42,
            start_time: 9,
        };
        let text = owner("r1", Some(me.clone())).file_text();
        let h = Holder::parse(&text);
        assert_eq!(h.run_id.as_deref(), Some("r1"));
        assert_eq!(h.controller, Some(me));
        // A line break in a value cannot make a field of its own.
        let mut o = owner("r2", None);
        o.who = "x\npid=1".into();
        let h = Holder::parse(&o.file_text());
        assert_eq!(h.controller, None);
        assert_eq!(h.shown[0], "who=x?pid=1");
    }
}
