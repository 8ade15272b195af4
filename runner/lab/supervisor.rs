//! The boot supervisor of one host (`windlass lab boot-host`, started detached by `up`):
//! joins the host's cgroups, runs its systemd-nspawn, boots it again when the host reboots,
//! and passes SIGTERM on (the host's systemd powers off).
//!
//! Why this file exists: nspawn exits when the container reboots (status 133, as
//! systemd-nspawn@.service knows); without a supervisor, a role that reboots a host (the
//! `reboot` module) would lose it. Its pid is the one `up` records and `down` signals.

use std::path::PathBuf;

use tokio::signal::unix::{SignalKind, signal};

use super::cgroup;
use super::error::{LabError, Result};

/// nspawn's exit status when the container asked for a reboot.
const REBOOT: i32 = 133;

fn failed(argv: &[String], e: std::io::Error) -> LabError {
    LabError::Command {
        argv: argv.join(" "),
        status: format!("cannot start: {e}"),
        detail: String::new(),
    }
}

/// Join `cgroups`, then run `argv` until it exits for another reason than a reboot or this
/// process gets SIGTERM; its exit code.
pub fn run(cgroups: &[PathBuf], argv: &[String]) -> Result<i32> {
    cgroup::enter(cgroups)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(argv, e))?;
    rt.block_on(supervise(argv))
}

async fn supervise(argv: &[String]) -> Result<i32> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(2);
    };
    let mut term = signal(SignalKind::terminate()).map_err(|e| failed(argv, e))?;
    loop {
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .spawn()
            .map_err(|e| failed(argv, e))?;
        let status = tokio::select! {
            s = child.wait() => s,
            _ = term.recv() => {
                if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
                child.wait().await
            }
        }
        .map_err(|e| failed(argv, e))?;
        match status.code() {
            Some(REBOOT) => eprintln!("=== windlass lab: the host rebooted, booting it again ==="),
            code => return Ok(code.unwrap_or(1)),
        }
    }
}
