//! Running the commands of [`super::plan`]: thin, no decisions.
//!
//! Why this file exists: the one place that starts processes for the lab, so what a failure
//! reports (the command line and the end of its error output) is the same everywhere.

use std::path::Path;
use std::process::{Command, Stdio};

use super::error::{LabError, Result};
use super::plan::Cmd;

fn command(c: &Cmd) -> Command {
    let mut cmd = Command::new(&c.argv[0]);
    cmd.args(&c.argv[1..])
        .envs(c.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    if let Some(dir) = &c.cwd {
        cmd.current_dir(dir);
    }
    cmd
}

fn failed(c: &Cmd, status: String, stderr: &[u8]) -> LabError {
    let text = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = text
        .lines()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let detail = if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{}", tail.join("\n"))
    };
    LabError::Command {
        argv: c.display(),
        status,
        detail,
    }
}

/// Run `c`; its stdout goes to `c.stdout` or is dropped; fails unless it exits 0.
pub fn run(c: &Cmd) -> Result<()> {
    let mut cmd = command(c);
    match &c.stdout {
        Some(path) => {
            let f =
                std::fs::File::create(path).map_err(|e| LabError::io("cannot create", path, e))?;
            cmd.stdout(f);
        }
        None => {
            cmd.stdout(Stdio::null());
        }
    }
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| spawn_error(c, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(c, out.status.to_string(), &out.stderr))
    }
}

/// Run `c`, returning its stdout and whether it exited 0.
pub fn output(c: &Cmd) -> Result<(bool, String)> {
    let out = command(c)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| spawn_error(c, e))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// Run `c` with this process's stdin, stdout and stderr; its exit code.
pub fn interactive(c: &Cmd) -> Result<i32> {
    let status = command(c)
        .stdin(Stdio::inherit())
        .status()
        .map_err(|e| spawn_error(c, e))?;
    Ok(status.code().unwrap_or(255))
}

/// Run `c` for a teardown step that may have nothing left to undo: its failure is not an
/// error, but whether it succeeded is returned.
pub fn best_effort(c: &Cmd) -> bool {
    command(c)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Start `c` in its own process group (a Ctrl-C of the caller does not reach it), its
/// output appended to `log`; its pid.
pub fn spawn_detached(c: &Cmd, log: &Path) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LabError::io("cannot open", log, e))?;
    let f2 = f
        .try_clone()
        .map_err(|e| LabError::io("cannot open", log, e))?;
    let child = command(c)
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .map_err(|e| spawn_error(c, e))?;
    Ok(child.id())
}

fn spawn_error(c: &Cmd, e: std::io::Error) -> LabError {
    if e.kind() == std::io::ErrorKind::NotFound {
        if let Some(err) = super::prereq::missing(&c.argv[0]) {
            return err;
        }
    }
    LabError::Command {
        argv: c.display(),
        status: format!("cannot start: {e}"),
        detail: String::new(),
    }
}
