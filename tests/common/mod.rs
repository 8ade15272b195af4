//! Helpers for integration tests: write a project into a temp dir, run a playbook on the
//! local connection, collect the events.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use windlass::embed::{RunOptions, RunReport, Runner};
use windlass::event::{Collector, Event, Status};
use windlass::inventory::Inventory;
use windlass::transport::DefaultConnector;

/// A temporary project directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `text` to `rel` (parents created).
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Load `playbook` and `inventory` (relative paths) and run with `opts`.
    pub fn run(
        &self,
        playbook: &str,
        inventory: &str,
        opts: RunOptions,
    ) -> windlass::Result<(Vec<Event>, RunReport)> {
        self.run_with(playbook, inventory, opts, Arc::new(DefaultConnector::new()))
    }

    /// The same through `connector` (a recording transport, for instance).
    pub fn run_with(
        &self,
        playbook: &str,
        inventory: &str,
        opts: RunOptions,
        connector: Arc<dyn windlass::transport::Connector>,
    ) -> windlass::Result<(Vec<Event>, RunReport)> {
        // The embedding API, as a program embedding windlass would run it: the inventory
        // file (its directory's and the playbook's group_vars/host_vars), the playbook, the
        // options, the connector, the events.
        let inv_path = self.dir.path().join(inventory);
        let collector = Collector::default();
        let report = Runner::new()
            .inventory_files(std::slice::from_ref(&inv_path))?
            .playbook_file(self.dir.path().join(playbook))?
            .options(opts)
            .connector(connector)
            .sink(Box::new(collector.clone()))
            .run()?;
        Ok((collector.take(), report))
    }
}

/// `c` without the caller's `ANSIBLE_*` and `WINDLASS_*` environment, so a test's
/// configuration is only what the test itself sets.
pub fn clear_tool_env(c: &mut std::process::Command) {
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_"))
        {
            c.env_remove(k);
        }
    }
}

/// The data of YAML text (a fixture, a sample inventory, role defaults, a rendered
/// manifest): `null` for an empty document. Read with the YAML library windlass parses with;
/// windlass's own reader (locations, Ansible's tags) is not public API.
pub fn yaml_str(text: &str) -> windlass::Result<serde_json::Value> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Ok(serde_json::Value::Null);
    }
    serde_saphyr::from_str(text).map_err(|e| windlass::Error::Other(e.to_string()))
}

/// [`yaml_str`] of the file at `path`.
pub fn yaml_file(path: &Path) -> windlass::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| windlass::Error::Other(format!("{}: {e}", path.display())))?;
    yaml_str(&text).map_err(|e| windlass::Error::Other(format!("{}: {e}", path.display())))
}

/// Every `msg` printed by `debug` and `fail` tasks on `host`, in order.
pub fn debug_msgs(events: &[Event], host: &str) -> Vec<serde_json::Value> {
    let mut action = String::new();
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::TaskStart { action: a, .. } => action = a.clone(),
            Event::HostResult {
                host: h,
                result,
                status,
                loop_summary: false,
                ..
            } if h == host
                && *status != Status::Skipped
                && (action.ends_with("debug") || action.ends_with("fail")) =>
            {
                if let Some(m) = result.get("msg") {
                    out.push(m.clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// `(task, host, status)` for every host result (loop items, not the loop summaries), in
/// order.
pub fn results(events: &[Event]) -> Vec<(String, String, Status)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                host,
                task,
                status,
                loop_summary: false,
                ..
            } => Some((task.clone(), host.clone(), *status)),
            _ => None,
        })
        .collect()
}

/// Names of tasks started, in order (handlers included).
pub fn task_starts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TaskStart { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Options for a quiet, sequential run (deterministic event order).
pub fn opts() -> RunOptions {
    RunOptions {
        forks: 1,
        ..RunOptions::default()
    }
}

/// A local-connection INI inventory with hosts `names`.
pub fn local_inventory(names: &[&str]) -> String {
    let mut s = String::from("[nodes]\n");
    for n in names {
        s.push_str(&format!("{n} ansible_connection=local\n"));
    }
    s
}

/// The test hosts' inventory (from `windlass lab inventory`) that `WINDLASS_TESTHOSTS`
/// names. Every test that calls this is `#[ignore = "needs WINDLASS_TESTHOSTS"]`, so a plain
/// `cargo test` lists it as ignored instead of passing it unrun; `-- --include-ignored` (or
/// `--ignored`, as `.ci/run` does) runs it, and then a missing variable or inventory, or a
/// host whose sshd does not answer, fails it.
#[track_caller]
pub fn testhosts() -> PathBuf {
    let inventory = required_inventory(
        "WINDLASS_TESTHOSTS",
        "boot hosts with `windlass lab up 3 --name ci`, set it to the file \
         `windlass lab inventory --name ci` prints and WINDLASS_TESTHOSTS_LAB to ci",
    );
    assert_hosts_answer(&inventory);
    inventory
}

/// Fails unless an sshd answers (its `SSH-` banner within 5 s) on every host of `inventory`:
/// a test run on hosts that are down fails at once and says so, instead of failing later on
/// an assertion about results that never came.
#[track_caller]
fn assert_hosts_answer(inventory: &Path) {
    let inv = Inventory::load(&[inventory.to_path_buf()]).expect("test hosts' inventory");
    for name in inv.host_names() {
        let vars = &inv.host(&name).expect("a listed host").vars;
        let addr = vars
            .get("ansible_host")
            .and_then(|v| v.as_str())
            .unwrap_or(&name);
        let port = vars.get("ansible_port").and_then(|v| v.as_u64());
        let port = port.and_then(|p| u16::try_from(p).ok()).unwrap_or(22);
        if let Err(e) = ssh_banner(addr, port) {
            panic!(
                "{}: no sshd answers on {name} ({addr}:{port}): {e}; are the test hosts up, \
                 and is this test in their network namespace?",
                inventory.display()
            );
        }
    }
}

/// Reads the first bytes `addr:port` sends, within 5 s each way; an error unless they are
/// an SSH banner (a bare TCP accept proves nothing behind a transparent proxy).
fn ssh_banner(addr: &str, port: u16) -> std::io::Result<()> {
    use std::io::Read;
    let five = Duration::from_secs(5);
    let to = std::net::ToSocketAddrs::to_socket_addrs(&(addr, port))?
        .next()
        .ok_or(std::io::ErrorKind::NotFound)?;
    let mut s = std::net::TcpStream::connect_timeout(&to, five)?;
    s.set_read_timeout(Some(five))?;
    let mut banner = [0u8; 4];
    s.read_exact(&mut banner).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            std::io::Error::other("no SSH banner within 5 s")
        }
        _ => e,
    })?;
    if &banner != b"SSH-" {
        return Err(std::io::Error::other(format!(
            "not an SSH banner: {banner:?}"
        )));
    }
    Ok(())
}

/// The inventory file the variable `var` names; a test that needs it and runs without it
/// fails, saying `how` to provide it.
#[track_caller]
pub fn required_inventory(var: &str, how: &str) -> PathBuf {
    let Some(p) = std::env::var_os(var) else {
        panic!("{var} is not set: this test needs test hosts ({how})");
    };
    let p = PathBuf::from(p);
    assert!(p.is_file(), "{var}={}: no such inventory file", p.display());
    p
}

/// The test inventory's host names, in order. Tests name hosts by *slot*: `th01` in a
/// playbook and `on_host(1, …)` mean the inventory's first host, whatever it is called
/// (`th07` when the inventory holds th07..th09), so the suite runs on any set of hosts.
pub fn testhost_names() -> Vec<String> {
    let Some(p) = std::env::var_os("WINDLASS_TESTHOSTS") else {
        return Vec::new();
    };
    Inventory::load(&[PathBuf::from(p)])
        .expect("WINDLASS_TESTHOSTS inventory")
        .host_names()
}

/// `th01`-style slot name → the inventory's host (`th07`), and back.
fn rename_hosts(text: &str, from: &[String], to: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        let at_word = out
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        if at_word {
            for (f, t) in from.iter().zip(to) {
                if let Some(after) = rest.strip_prefix(f.as_str()) {
                    if after
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    {
                        out.push_str(t);
                        rest = after;
                        continue 'outer;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Slot names `th01`, `th02`, … for `n` hosts.
pub fn slot_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("th{i:02}")).collect()
}

impl Project {
    /// Copy the test hosts' inventory into the project as `hosts.yml`, its hosts renamed to
    /// their slot names (`th01`, `th02`, … in inventory order; addresses unchanged).
    pub fn with_testhosts(&self, inventory: &Path) -> PathBuf {
        let text = std::fs::read_to_string(inventory).expect("testhosts inventory");
        let names = Inventory::load(&[inventory.to_path_buf()])
            .expect("testhosts inventory")
            .host_names();
        self.file(
            "hosts.yml",
            &rename_hosts(&text, &names, &slot_names(names.len())),
        )
    }
}

/// The lab host number of slot `slot` (1-based): the number in the inventory's `slot`-th
/// host name (`ci-07` → 7); the slot itself without an inventory.
pub fn testhost_index(slot: usize) -> usize {
    testhost_names()
        .get(slot - 1)
        .and_then(|n| {
            n.trim_start_matches(|c: char| !c.is_ascii_digit())
                .parse()
                .ok()
        })
        .unwrap_or(slot)
}

/// `windlass lab ssh` to the test host in slot `i` (1-based, see [`testhost_names`]) of the
/// lab `WINDLASS_TESTHOSTS_LAB` names (the lab `WINDLASS_TESTHOSTS` is the inventory of),
/// running `cmd` as root.
fn lab_ssh(i: usize, cmd: &str) -> std::process::Command {
    let lab = std::env::var("WINDLASS_TESTHOSTS_LAB").unwrap_or_else(|_| {
        panic!(
            "WINDLASS_TESTHOSTS_LAB is not set: name the lab whose inventory \
             WINDLASS_TESTHOSTS is (`windlass lab up 3 --name ci`)"
        )
    });
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    c.args(["lab", "ssh", "--name", &lab])
        .arg(testhost_index(i).to_string())
        .arg(cmd)
        .stdin(std::process::Stdio::null());
    c
}

/// Run a command on the test host in slot `i` (1-based, see [`testhost_names`]) as root,
/// through `windlass lab ssh` (plain ssh, no playbook code involved), to check results on
/// the host itself.
pub fn on_host(i: usize, cmd: &str) -> String {
    let out = lab_ssh(i, cmd).output().expect("windlass lab ssh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Start `cmd` on the test host in slot `i` as root (like [`on_host`]) without waiting:
/// its stdout is piped, for watchers that report what they see while a run goes on.
pub fn spawn_on_host(i: usize, cmd: &str) -> std::process::Child {
    lab_ssh(i, cmd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("windlass lab ssh")
}

/// Serialises the tests of one test binary that change the shared test hosts.
static HOSTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Hold the test hosts for one test (a panicking holder does not poison the others).
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    HOSTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many tasks changed on `host`.
pub fn changed(r: &RunReport, host: &str) -> u32 {
    stats(r)[host].changed
}

/// Failed plus unreachable, over every host.
pub fn failed(r: &RunReport) -> u32 {
    r.stats.iter().map(|(_, s)| s.failed + s.unreachable).sum()
}

/// Per-host totals from a report, by host name.
pub fn stats(report: &RunReport) -> std::collections::HashMap<String, windlass::event::HostStats> {
    report.stats.iter().cloned().collect()
}

/// Run the windlass binary in `dir` on `site.yml` with a one-host local inventory and a
/// state dir of its own, the environment's ANSIBLE_/WINDLASS_ settings removed (plus
/// `env`): its exit code and its stdout and stderr together.
pub fn run_site(dir: &Path, env: &[(&str, &str)]) -> (i32, String) {
    std::fs::write(dir.join("hosts"), "h1 ansible_connection=local\n").unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_") {
            c.env_remove(k);
        }
    }
    let out = c
        .args(["run", "site.yml", "-i", "hosts", "--state-dir", "state"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), all)
}
