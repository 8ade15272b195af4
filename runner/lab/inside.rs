//! Reaching a host without SSH: a command inside it through its container's init
//! (`lab exec`), and a hard power-off (`lab kill`).
//!
//! Why this file exists: a test of what happens when sshd dies or a link is cut must still
//! look inside the host and repair it, and a test of a host that dies mid-run needs it to
//! die the way a machine does (no shutdown, no goodbye on its connections). Both start from
//! the process tree the boot supervisor leads: supervisor → systemd-nspawn → the
//! container's init.

use std::time::{Duration, Instant};

use super::error::{LabError, Result};

/// The pids whose parent is `parent` (from `/proc/*/stat`; field 4 after the command name,
/// which may itself hold spaces and parentheses, so it is read from the last `)`).
fn children(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut out: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| parent_of(&s))
                == Some(parent)
        })
        .collect();
    out.sort_unstable();
    out
}

/// The parent pid in a `/proc/PID/stat` line.
fn parent_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command name (`comm`) of `pid`.
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The host's nspawn and its container's init, under the boot supervisor `supervisor`.
fn tree(supervisor: u32, host: &str) -> Result<(u32, u32)> {
    let not_running = || LabError::NotRunning(host.into());
    let nspawn = children(supervisor)
        .into_iter()
        .find(|p| comm(*p) == "systemd-nspawn")
        .ok_or_else(not_running)?;
    let init = children(nspawn)
        .into_iter()
        .next()
        .ok_or_else(not_running)?;
    Ok((nspawn, init))
}

/// The container's init of the host whose boot supervisor is `supervisor`.
pub fn init(supervisor: u32, host: &str) -> Result<u32> {
    Ok(tree(supervisor, host)?.1)
}

/// SIGKILL to the container's init (which takes every process of the host with it), its
/// nspawn and the supervisor, in that order; waits (up to 20 s) until init is gone.
pub fn kill(supervisor: u32, host: &str) -> Result<()> {
    use rustix::process::{Pid, Signal, kill_process, test_kill_process};
    let (nspawn, init) = tree(supervisor, host)?;
    let pid = |p: u32| i32::try_from(p).ok().and_then(Pid::from_raw);
    for p in [init, nspawn, supervisor].into_iter().filter_map(pid) {
        let _ = kill_process(p, Signal::KILL);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while pid(init).is_some_and(|p| test_kill_process(p).is_ok()) {
        if Instant::now() > deadline {
            return Err(LabError::NotRunning(format!(
                "{host} (init {init} does not die)"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_from_stat_with_odd_command_names() {
        assert_eq!(parent_of("42 (sh) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("42 (a) b) (c) S 9 42"), Some(9));
        assert_eq!(parent_of("42 (x"), None);
    }

    #[test]
    fn this_process_is_a_child_of_its_parent() {
        let me = std::process::id();
        let parent = std::os::unix::process::parent_id();
        assert!(children(parent).contains(&me));
    }
}
