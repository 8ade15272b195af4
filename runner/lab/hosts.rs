//! The hosts: an overlay over the base, a per-host identity, systemd-nspawn booting it under
//! a supervisor in the host's own cgroups, the wait for systemd and sshd, and the teardown.
//!
//! Why this file exists: a host's life, from directory to process and back. Everything it
//! makes is recorded in [`HostState`] before it is made.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::base::{mkdir, remove_all, write};
use super::error::{LabError, Result};
use super::model::{Host, Lab, Layout};
use super::state::HostState;
use super::{cgroup, exec, plan};

/// How long hosts may take to boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// Whether `path` is a mount point.
pub fn mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(4) == Some(p.as_str())))
}

/// Mount `host`'s overlay and write its identity: hostname, hosts, machine-id, the lab's
/// key, its own host key, its address.
pub fn prepare(lab: &Lab, layout: &Layout, host: &Host) -> Result<()> {
    let d = lab.host_dir(&host.name);
    for sub in ["upper", "work", "root"] {
        mkdir(&d.join(sub))?;
    }
    let root = d.join("root");
    if !mounted(&root) {
        exec::run(&plan::mount_overlay(lab, &layout.base(lab.suite), host))?;
    }
    let name = &host.name;
    write(&root.join("etc/hostname"), &format!("{name}\n"))?;
    write(
        &root.join("etc/hosts"),
        &format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n{}\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            host.ip
        ),
    )?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| {
        LabError::io(
            "cannot get random bytes for",
            root.join("etc/machine-id"),
            std::io::Error::other(e.to_string()),
        )
    })?;
    write(
        &root.join("etc/machine-id"),
        &format!("{}\n", hex::encode(id)),
    )?;
    let public = std::fs::read_to_string(lab.key().with_extension("pub"))
        .map_err(|e| LabError::io("cannot read", lab.key().with_extension("pub"), e))?;
    write(&root.join("root/.ssh/authorized_keys"), &public)?;
    let host_key = root.join("etc/ssh/ssh_host_ed25519_key");
    super::base::remove_file(&host_key)?;
    super::base::remove_file(&host_key.with_extension("pub"))?;
    exec::run(&plan::keygen(&host_key, &format!("root@{name}")))?;
    mkdir(&root.join("etc/systemd/network"))?;
    write(
        &root.join("etc/systemd/network/10-host0.network"),
        &format!(
            "[Match]\nName=host0\n[Network]\nAddress={}/24\nGateway={}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
            host.ip,
            lab.gateway()
        ),
    )
}

/// Whether the cgroup v2 layout is what the hosts' systemd sees.
fn unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists()
}

/// Start `host` under the boot supervisor (this program's hidden `lab boot-host`), which
/// joins `cgroups` first; the supervisor's pid.
pub fn start(lab: &Lab, layout: &Layout, host: &Host, cgroups: &[PathBuf]) -> Result<u32> {
    // this very program, even when its file was replaced since it started
    let exe = Path::new("/proc/self/exe");
    let nspawn = plan::nspawn(lab, &layout.repo(lab.suite), host, unified());
    let cmd = plan::supervised(exe, cgroups, nspawn);
    exec::spawn_detached(&cmd, &lab.host_dir(&host.name).join("console.log"))
}

/// Wait until `host` is up: systemd `running` or `degraded` over SSH; the state seen last.
pub fn wait(lab: &Lab, host: &Host, pid: u32) -> String {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    let mut last = String::from("timeout");
    while Instant::now() < deadline {
        if !alive(pid, &host.name) {
            return "dead".into();
        }
        if let Ok((_, out)) = exec::output(&plan::wait_booted(lab, host)) {
            let st = out.trim().to_string();
            if st == "running" || st == "degraded" {
                return st;
            }
            if !st.is_empty() {
                last = st;
            }
        }
        // sshd not listening yet: ssh's own 2 s connect timeout paces the retries
        std::thread::sleep(Duration::from_millis(300));
    }
    last
}

/// Whether `pid` is still the supervisor of machine `name` (its command line holds nspawn's
/// `-M name`; a reused pid does not).
pub fn alive(pid: u32, name: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(2)
        .any(|w| w[0] == b"-M" && w[1] == name.as_bytes())
}

/// Power the host off (SIGTERM to its supervisor, passed on to nspawn: the container's
/// systemd shuts down), SIGKILL to the supervisor's process group (nspawn with it) after
/// 20 s. Only a pid that still is this host's supervisor is signalled.
pub fn stop(pid: u32, name: &str) {
    use rustix::process::{Pid, Signal, kill_process, kill_process_group};
    let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    if !alive(pid, name) {
        return;
    }
    let _ = kill_process(p, Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while alive(pid, name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid, name) {
        let _ = kill_process_group(p, Signal::KILL);
        while alive(pid, name) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Remove what [`prepare`] and [`start`] made for a stopped host.
pub fn delete(lab: &Lab, state: &HostState) -> Result<()> {
    let d = lab.host_dir(&state.host.name);
    let root = d.join("root");
    if mounted(&root) && !exec::best_effort(&plan::umount(&root)) {
        exec::run(&plan::umount_lazy(&root))?;
    }
    for cg in &state.cgroups {
        cgroup::remove(cg);
    }
    remove_all(&d)?;
    remove_all(&Path::new("/run/systemd/nspawn/propagate").join(&state.host.name))
}
