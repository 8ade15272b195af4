//! `windlass lab`: throwaway local Debian hosts, for trying roles and playbooks and for the
//! project's own tests.
//!
//! Why this module exists: real hosts (systemd, sshd, apt) on one machine in seconds, so a
//! playbook can be run against something real without touching real machines. Each host is
//! a systemd-nspawn container booting systemd on an overlay over a cached debootstrapped
//! base, with its own address on the lab's bridge. Several labs run side by side: each has
//! its own network namespace (bridge and host links inside), uplink, subnet 10.240.N.0/24,
//! routing table, cgroups and directory, all derived from its name ([`model`]) and recorded
//! (in `state.json`) so `down` removes only what its `up` made.
//!
//! Needs root, systemd-nspawn (systemd-container), debootstrap, dpkg-dev, openssh-client,
//! iproute2 and util-linux.

mod base;
mod cgroup;
pub mod error;
mod exec;
mod hosts;
mod inside;
mod inventory;
mod kmods;
mod mirror;
pub mod model;
mod plan;
mod prereq;
mod repo;
mod ssh_config;
mod state;
mod supervisor;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use error::{LabError, Result};
pub use model::{LabName, Layout, Suite};

use model::Lab;
use state::{HostState, LabState};

/// Progress, on stderr.
pub(crate) fn say(msg: impl AsRef<str>) {
    eprintln!("lab: {}", msg.as_ref());
}

/// Held while a lab or the cache changes: one `up`/`down`/`purge` at a time per root.
fn lock(layout: &Layout) -> Result<File> {
    base::mkdir(&layout.root)?;
    let path = layout.root.join(".lock");
    let f = File::create(&path).map_err(|e| LabError::io("cannot create", &path, e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| LabError::io("cannot lock", &path, e.into()))?;
    Ok(f)
}

fn netns_exists(lab: &Lab) -> bool {
    Path::new("/run/netns").join(lab.netns()).exists()
}

/// Whether the whole network is there: the namespace and this machine's end of the uplink
/// (a network made half-way is made again).
fn network_exists(lab: &Lab) -> bool {
    netns_exists(lab) && Path::new("/sys/class/net").join(lab.uplink()).exists()
}

/// Whether this machine can run labs (root, the tools): the error `up` would give.
pub fn check_prerequisites() -> Result<()> {
    prereq::check()
}

/// Boot `count` hosts of lab `name` (suite `suite`); hosts beyond `count` are removed, hosts
/// already running are kept.
pub fn up(layout: &Layout, name: &LabName, suite: Suite, count: usize) -> Result<()> {
    prereq::check()?;
    let _lock = lock(layout)?;
    let dir = layout.lab(name);
    let mut st = match LabState::load(&dir)? {
        Some(s) if s.suite != suite => {
            return Err(LabError::SuiteMismatch {
                lab: name.as_str().into(),
                have: s.suite.name().into(),
                want: suite.name().into(),
            });
        }
        Some(s) => s,
        None => {
            let (_, addrs) = exec::output(&plan::addresses())?;
            let subnet = state::free_subnet(&state::all(layout)?, &addrs)?;
            LabState {
                name: name.clone(),
                suite,
                subnet,
                network: false,
                hosts: vec![],
            }
        }
    };
    let lab = Lab::new(name.clone(), suite, layout, st.subnet, count)?;
    base::ensure(layout, suite)?;
    repo::ensure(layout, suite)?;
    base::mkdir(&dir)?;
    st.save(&dir)?;
    ssh_config::ensure(&lab)?;
    // hosts booted on a network made again sit in its old namespace: booted again too
    let fresh_network = network(&lab, &mut st)?;
    raise_inotify(count)?;
    let t0 = Instant::now();
    let todo = start_hosts(layout, &lab, &mut st, fresh_network)?;
    if todo.is_empty() {
        say(format!("{count} host(s) already running"));
        return Ok(());
    }
    say(format!(
        "started {} host(s) in {:.1}s; waiting for systemd and sshd ...",
        todo.len(),
        t0.elapsed().as_secs_f64()
    ));
    let bad = wait_all(&lab, &st, &todo);
    say(format!(
        "up {count}: {} booted in {:.1}s ({} not ready); lab {} on {} ({})",
        todo.len(),
        t0.elapsed().as_secs_f64(),
        bad.len(),
        name.as_str(),
        lab.cidr(),
        dir.display()
    ));
    if bad.is_empty() {
        Ok(())
    } else {
        Err(LabError::BootFailed { hosts: bad, dir })
    }
}

/// The lab's network, made once (recorded first: a half-made one is undone by `down`);
/// whether it was made now.
fn network(lab: &Lab, st: &mut LabState) -> Result<bool> {
    if st.network && network_exists(lab) {
        return Ok(false);
    }
    if st.network {
        plan::network_down(lab).iter().for_each(|c| {
            exec::best_effort(c);
        });
    }
    st.network = true;
    st.save(&lab.dir)?;
    plan::network_up(lab).iter().try_for_each(exec::run)?;
    Ok(true)
}

/// Every container's systemd takes inotify instances charged to root: the default 128 runs
/// out at about 20 hosts. Raised, never lowered.
fn raise_inotify(count: usize) -> Result<()> {
    for (key, min) in [
        ("max_user_instances", 64 * count + 1024),
        ("max_user_watches", 8192 * count + 524_288),
    ] {
        let path = PathBuf::from("/proc/sys/fs/inotify").join(key);
        let cur: usize = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if cur < min {
            say(format!("raising fs.inotify.{key}: {cur} -> {min}"));
            base::write(&path, &min.to_string())?;
        }
    }
    Ok(())
}

/// Remove hosts beyond the lab's count and stale ones (every one when `restart`), start the
/// missing; their names.
fn start_hosts(
    layout: &Layout,
    lab: &Lab,
    st: &mut LabState,
    restart: bool,
) -> Result<Vec<String>> {
    let keep: Vec<&str> = lab.hosts.iter().map(|h| h.name.as_str()).collect();
    let mut kept = vec![];
    for h in std::mem::take(&mut st.hosts) {
        let running = !restart && h.pid.is_some_and(|p| hosts::alive(p, &h.host.name));
        if running && keep.contains(&h.host.name.as_str()) {
            kept.push(h);
        } else {
            if let Some(p) = h.pid {
                hosts::stop(p, &h.host.name);
            }
            hosts::delete(lab, &h)?;
        }
    }
    st.hosts = kept;
    st.save(&lab.dir)?;
    let mut todo = vec![];
    for host in &lab.hosts {
        if st.hosts.iter().any(|h| h.host == *host) {
            continue;
        }
        let cgroups = cgroup::for_host(lab.name.as_str(), &host.name);
        st.hosts.push(HostState {
            host: host.clone(),
            pid: None,
            cgroups: cgroups.clone(),
        });
        st.save(&lab.dir)?;
        hosts::prepare(lab, layout, host)?;
        let pid = hosts::start(lab, layout, host, &cgroups)?;
        if let Some(h) = st.hosts.last_mut() {
            h.pid = Some(pid);
        }
        st.save(&lab.dir)?;
        todo.push(host.name.clone());
    }
    st.hosts.sort_by_key(|h| h.host.ip);
    st.save(&lab.dir)?;
    Ok(todo)
}

/// Wait for the hosts `todo` in parallel; `name (state)` of those not up, in lab order.
fn wait_all(lab: &Lab, st: &LabState, todo: &[String]) -> Vec<String> {
    let waiting: Vec<&HostState> = st
        .hosts
        .iter()
        .filter(|h| h.pid.is_some() && todo.contains(&h.host.name))
        .collect();
    let results: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = waiting
            .iter()
            .map(|h| {
                s.spawn(move || {
                    (
                        h.host.name.clone(),
                        hosts::wait(lab, &h.host, h.pid.unwrap_or(0)),
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|t| t.join().ok()).collect()
    });
    for (name, state) in &results {
        if state == "degraded" {
            say(format!(
                "WARNING: {name} is degraded (see `systemctl --failed` on it)"
            ));
        }
    }
    results
        .into_iter()
        .filter(|(_, s)| s != "running" && s != "degraded")
        .map(|(n, s)| format!("{n} ({s})"))
        .collect()
}

/// Stop and delete lab `name`'s hosts, its network and directory: what its state records.
pub fn down(layout: &Layout, name: &LabName) -> Result<()> {
    prereq::check()?;
    let _lock = lock(layout)?;
    let dir = layout.lab(name);
    let Some(mut st) = LabState::load(&dir)? else {
        say(format!("lab {} is not up: nothing to do", name.as_str()));
        return Ok(());
    };
    let t0 = Instant::now();
    let lab = st.lab(layout);
    std::thread::scope(|s| {
        for h in &st.hosts {
            if let Some(pid) = h.pid {
                s.spawn(move || hosts::stop(pid, &h.host.name));
            }
        }
    });
    let n = st.hosts.len();
    while let Some(h) = st.hosts.pop() {
        hosts::delete(&lab, &h)?;
        st.save(&dir)?;
    }
    if st.network {
        for c in plan::network_down(&lab) {
            exec::best_effort(&c);
        }
    }
    base::remove_all(&dir)?;
    say(format!(
        "down: lab {} removed ({n} host(s)) in {:.1}s",
        name.as_str(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// [`down`], then remove the lab's suite cache, unless another lab still uses it.
pub fn purge(layout: &Layout, name: &LabName) -> Result<()> {
    let suite = LabState::load(&layout.lab(name))?.map(|s| s.suite);
    down(layout, name)?;
    let _lock = lock(layout)?;
    let others = state::all(layout)?;
    for suite in suite.map_or_else(|| vec![Suite::Bookworm, Suite::Trixie], |s| vec![s]) {
        let users: Vec<String> = others
            .iter()
            .filter(|o| o.suite == suite)
            .map(|o| o.name.as_str().to_string())
            .collect();
        if !users.is_empty() {
            return Err(LabError::CacheInUse {
                suite: suite.name().into(),
                labs: users,
            });
        }
        base::remove_all(&layout.cache(suite))?;
        say(format!("purge: {} cache removed", suite.name()));
    }
    Ok(())
}

fn recorded(layout: &Layout, name: &LabName) -> Result<(Lab, LabState)> {
    let st =
        LabState::load(&layout.lab(name))?.ok_or_else(|| LabError::NotUp(name.as_str().into()))?;
    Ok((st.lab(layout), st))
}

fn running(st: &LabState) -> Vec<&str> {
    st.hosts
        .iter()
        .filter(|h| h.pid.is_some_and(|p| hosts::alive(p, &h.host.name)))
        .map(|h| h.host.name.as_str())
        .collect()
}

/// The YAML inventory of lab `name`'s running hosts.
pub fn inventory(layout: &Layout, name: &LabName) -> Result<String> {
    let (lab, st) = recorded(layout, name)?;
    Ok(inventory::yaml(&lab, &running(&st)))
}

/// Lab `name`'s running hosts, in lab order, and the variables that reach each (for an
/// inventory that names them otherwise).
pub fn reach(
    layout: &Layout,
    name: &LabName,
) -> Result<(Vec<model::Host>, serde_json::Map<String, serde_json::Value>)> {
    let (lab, st) = recorded(layout, name)?;
    let up = running(&st);
    let hosts = lab
        .hosts
        .iter()
        .filter(|h| up.contains(&h.name.as_str()))
        .cloned()
        .collect();
    Ok((hosts, inventory::vars(&lab)))
}

/// A table of the hosts of lab `name`: address, pid, systemd state, memory.
pub fn status(layout: &Layout, name: &LabName) -> Result<String> {
    let (lab, st) = recorded(layout, name)?;
    let mut out = format!(
        "lab {} ({}): {} on {}, netns {}{}, {}\n",
        name.as_str(),
        st.suite.name(),
        lab.cidr(),
        lab.uplink(),
        lab.netns(),
        if netns_exists(&lab) { "" } else { " (missing)" },
        lab.dir.display()
    );
    out.push_str(&format!(
        "{:<16} {:<14} {:<8} {:<12} {:<12} {}\n",
        "HOST", "IP", "PID", "STATE", "MEMORY(MiB)", "CPU(s)"
    ));
    for h in &st.hosts {
        let pid = h.pid.filter(|p| hosts::alive(*p, &h.host.name));
        let state = match pid {
            Some(_) => {
                let cmd = plan::ssh(
                    &lab,
                    &h.host,
                    &["systemctl".into(), "is-system-running".into()],
                );
                exec::output(&cmd)
                    .map(|(_, o)| o.trim().to_string())
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unreachable".into())
            }
            None => "stopped".into(),
        };
        let mem = cgroup::memory(&h.cgroups).map_or_else(
            || "-".to_string(),
            |b| format!("{:.0}", b as f64 / 1048576.0),
        );
        let cpu = cgroup::cpu_nanos(&h.cgroups)
            .map_or_else(|| "-".to_string(), |ns| format!("{:.2}", ns as f64 / 1e9));
        let pid = pid.map_or_else(|| "-".to_string(), |p| p.to_string());
        out.push_str(&format!(
            "{:<16} {:<14} {:<8} {:<12} {:<12} {}\n",
            h.host.name,
            h.host.ip.to_string(),
            pid,
            state,
            mem,
            cpu
        ));
    }
    Ok(out)
}

/// The names of every recorded lab.
pub fn names(layout: &Layout) -> Result<Vec<LabName>> {
    Ok(state::all(layout)?.into_iter().map(|s| s.name).collect())
}

/// Host `host` (a name, or a 1-based number) of `lab`.
fn find<'a>(lab: &'a Lab, host: &str) -> Result<&'a model::Host> {
    match host.parse::<usize>() {
        Ok(i) if (1..=lab.hosts.len()).contains(&i) => Ok(&lab.hosts[i - 1]),
        _ => lab.host(host),
    }
}

/// Run `command` (or a login shell) on `host` (a name, or a 1-based number) of lab `name`
/// over SSH; ssh's exit code.
pub fn ssh(layout: &Layout, name: &LabName, host: &str, command: &[String]) -> Result<i32> {
    let (lab, _) = recorded(layout, name)?;
    let h = find(&lab, host)?;
    let mut cmd = plan::ssh(&lab, h, command);
    if command.is_empty() {
        cmd.argv.insert(1, "-t".into());
    }
    exec::interactive(&cmd)
}

/// The boot supervisor's pid of running host `host` of lab `name`, and the host's name.
fn supervisor(layout: &Layout, name: &LabName, host: &str) -> Result<(u32, String)> {
    let (lab, st) = recorded(layout, name)?;
    let h = find(&lab, host)?;
    st.hosts
        .iter()
        .find(|s| s.host.name == h.name)
        .and_then(|s| s.pid)
        .filter(|p| hosts::alive(*p, &h.name))
        .map(|p| (p, h.name.clone()))
        .ok_or_else(|| LabError::NotRunning(h.name.clone()))
}

/// Run `command` (or a login shell) inside `host` of lab `name` without SSH (through its
/// container's init: works while sshd is down or its link is cut); the exit code.
pub fn exec_in(layout: &Layout, name: &LabName, host: &str, command: &[String]) -> Result<i32> {
    let (sup, host) = supervisor(layout, name, host)?;
    exec::interactive(&plan::nsenter(inside::init(sup, &host)?, command))
}

/// Power `host` of lab `name` off hard, as a machine dies: SIGKILL to its init, nspawn and
/// boot supervisor. `lab up` boots it again, fresh.
pub fn kill(layout: &Layout, name: &LabName, host: &str) -> Result<()> {
    let (sup, host) = supervisor(layout, name, host)?;
    inside::kill(sup, &host)?;
    say(format!("{host} killed"));
    Ok(())
}

/// The boot supervisor (`lab boot-host`): join `cgroups`, run `argv` (a host's nspawn),
/// again after each reboot (runner/lab/supervisor.rs).
pub fn boot_host(cgroups: &[PathBuf], argv: &[String]) -> Result<i32> {
    supervisor::run(cgroups, argv)
}
