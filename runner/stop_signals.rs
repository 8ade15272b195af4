//! The signals that stop a run: SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, a CI job
//! cancelled, systemd, `docker stop`) and SIGHUP (the terminal closed).
//!
//! Why this module exists: a run told to stop must still release what it took on its way
//! out (journal written, host locks released, ssh masters closed, local commands ended),
//! whichever of these signals told it. The CLI waits on [`Stops::next`] and decides what
//! each one means (see `cli::execute`).
//!
//! A signal that was ignored when windlass started stays ignored: `nohup` ignores SIGHUP
//! and a non-interactive shell starts background jobs with SIGINT ignored, and a program
//! that catches them again breaks what its caller asked for (POSIX's rule for signals
//! ignored on entry; Python, and so ansible-playbook, only installs its SIGINT handler when
//! SIGINT is not ignored: `signal_install_handlers` in CPython's Modules/signalmodule.c).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// A signal that stops a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT, Ctrl-C on a terminal.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl Stop {
    /// How messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
        }
    }

    /// The exit code of a run it stopped: 128 + the signal's number, as a shell reports a
    /// process the signal killed.
    pub fn exit_code(self) -> i32 {
        match self {
            Stop::Interrupt => crate::exit::INTERRUPTED,
            Stop::Terminate => crate::exit::TERMINATED,
            Stop::Hangup => crate::exit::HANGUP,
        }
    }
}

/// The stop signals this process listens to.
pub struct Stops {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
    hangup: Option<Signal>,
}

impl Stops {
    /// Catch SIGINT, SIGTERM and SIGHUP from now on, except those ignored at start (or
    /// that cannot be caught: then they keep their default action).
    pub fn listen() -> Stops {
        let ignored = ignored_at_start();
        let catch = |kind: SignalKind| {
            let n = kind.as_raw_value();
            let was_ignored = (1..=64).contains(&n) && ignored & (1u64 << (n - 1)) != 0;
            if was_ignored { None } else { signal(kind).ok() }
        };
        Stops {
            interrupt: catch(SignalKind::interrupt()),
            terminate: catch(SignalKind::terminate()),
            hangup: catch(SignalKind::hangup()),
        }
    }

    /// The next stop signal.
    pub async fn next(&mut self) -> Stop {
        tokio::select! {
            _ = recv(&mut self.interrupt) => Stop::Interrupt,
            _ = recv(&mut self.terminate) => Stop::Terminate,
            _ = recv(&mut self.hangup) => Stop::Hangup,
        }
    }
}

/// Wait for `s`; forever when it is not caught.
async fn recv(s: &mut Option<Signal>) {
    if let Some(s) = s
        && s.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

/// The signals this process ignores (bit n-1 for signal n), from `SigIgn` in
/// /proc/self/status (proc(5)); none when it cannot be read. Read before any is caught:
/// a caught signal is no longer ignored.
fn ignored_at_start() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_sig_ign(&s))
        .unwrap_or(0)
}

fn parse_sig_ign(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_ign_is_read_from_proc_status() {
        let status = "Name:\tx\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001001\nSigCgt:\t0\n";
        assert_eq!(parse_sig_ign(status), Some(0x1001)); // SIGHUP (1) and SIGPIPE (13)
        assert_eq!(parse_sig_ign("Name:\tx\n"), None);
        assert_eq!(Stop::Terminate.exit_code(), 143);
        assert_eq!(Stop::Hangup.exit_code(), 129);
        assert_eq!(Stop::Interrupt.exit_code(), 130);
    }
}
