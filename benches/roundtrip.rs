//! Per-task round-trip cost over SSH and connection setup time, on test hosts.
//!
//! `windlass lab up 3 --name bench && windlass lab inventory --name bench > bench.yml &&
//! WINDLASS_TESTHOSTS=bench.yml cargo bench --bench roundtrip`
//!
//! 1. A 50-task no-op playbook (`command: 'true'` × 50) on the first host, 5 runs: median
//!    wall time and per-task cost (each run opens its own SSH master, so the first task
//!    includes connection setup; the per-task figure excludes it by subtracting a 1-task
//!    run's median).
//! 2. Connection setup for every host of the inventory in parallel (`windlass ping`'s
//!    library call with a fresh connector), 5 runs: median.
//! 3. A bridged module against its native twin: 20 × `getent` on the first host through
//!    the `windlass` binary, natively and forced through the module bridge
//!    (`WINDLASS_BRIDGE_MODULES=getent`, with `WINDLASS_ANSIBLE_PYTHON` or the conformance
//!    venv's ansible-core), 5 runs each: median per-task cost (a 1-task run subtracted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use windlass::embed::RunOptions;
use windlass::embed::Runner;
use windlass::inventory::Inventory;
use windlass::transport::DefaultConnector;
use windlass::transport::spec::{ConnectionOverrides, connection_spec};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run_tasks(inv: &std::path::Path, host: &str, tasks: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut pb = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for _ in 0..tasks {
        pb.push_str("    - command: 'true'\n");
    }
    let t0 = Instant::now();
    let report = Runner::new()
        .inventory_files(&[inv.to_path_buf()])
        .unwrap()
        .playbook_str(&pb, &dir.path().join("noop.yml"))
        .unwrap()
        .options(RunOptions {
            limit: Some(host.to_string()),
            ..RunOptions::default()
        })
        .run()
        .unwrap();
    assert_eq!(report.exit_code, 0);
    t0.elapsed()
}

/// The Python with ansible-core for the bridge row: `WINDLASS_ANSIBLE_PYTHON`, else the
/// conformance venv; `None` skips the row (said so).
fn ansible_python() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("WINDLASS_ANSIBLE_PYTHON") {
        return Some(p.into());
    }
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/python3");
    p.is_file().then_some(p)
}

/// `tasks` × `getent` on `host` through the binary, bridged or not: wall time.
fn run_getent(
    inv: &std::path::Path,
    host: &str,
    tasks: usize,
    bridge: Option<&std::path::Path>,
) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let mut pb = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for _ in 0..tasks {
        pb.push_str("    - getent: {database: passwd, key: root}\n");
    }
    std::fs::write(dir.path().join("site.yml"), pb).unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    c.args(["run", "site.yml", "-i"])
        .arg(inv)
        .args(["--limit", host, "--state-dir", "state"])
        .current_dir(dir.path())
        .env_remove("WINDLASS_BRIDGE_MODULES")
        .stdout(std::process::Stdio::null());
    if let Some(py) = bridge {
        c.env("WINDLASS_ANSIBLE_PYTHON", py)
            .env("WINDLASS_BRIDGE_MODULES", "getent");
    }
    let t0 = Instant::now();
    let status = c.status().unwrap();
    assert!(status.success(), "getent run failed");
    t0.elapsed()
}

/// Row 3: per-task cost of `getent`, native and bridged.
fn bridge_row(inv: &std::path::Path, host: &str) {
    let Some(py) = ansible_python() else {
        println!("bridged getent: skipped, no ansible-core (set WINDLASS_ANSIBLE_PYTHON)");
        return;
    };
    for (what, bridge) in [("native", None), ("bridged", Some(py.as_path()))] {
        let one = median((0..5).map(|_| run_getent(inv, host, 1, bridge)).collect());
        let twenty = median((0..5).map(|_| run_getent(inv, host, 20, bridge)).collect());
        println!(
            "20 × getent, {what}: median {:.3} s; 1-task run {:.3} s; per task {:.1} ms",
            twenty.as_secs_f64(),
            one.as_secs_f64(),
            twenty.saturating_sub(one).as_secs_f64() * 1000.0 / 19.0
        );
    }
}

fn main() {
    let Some(inv) = std::env::var_os("WINDLASS_TESTHOSTS").map(std::path::PathBuf::from) else {
        eprintln!(
            "roundtrip: set WINDLASS_TESTHOSTS to an inventory (`windlass lab inventory` prints one)"
        );
        return;
    };
    // Connect as the `windlass` binary does: through its dialer (TCP_NODELAY).
    windlass::transport::dialer::enable(env!("CARGO_BIN_EXE_windlass").into());
    let inventory = Inventory::load(std::slice::from_ref(&inv)).unwrap();
    let hosts = inventory.host_names();
    let first = hosts[0].clone();
    let one: Vec<Duration> = (0..5).map(|_| run_tasks(&inv, &first, 1)).collect();
    let fifty: Vec<Duration> = (0..5).map(|_| run_tasks(&inv, &first, 50)).collect();
    let (one, fifty) = (median(one), median(fifty));
    let per_task = fifty.saturating_sub(one) / 49;
    println!(
        "50-task no-op playbook on {first}: median {:.3} s; 1-task run {:.3} s; per task {:.1} ms",
        fifty.as_secs_f64(),
        one.as_secs_f64(),
        per_task.as_secs_f64() * 1000.0
    );
    let specs: Vec<_> = hosts
        .iter()
        .map(|h| {
            connection_spec(h, &inventory.host_vars(h), &ConnectionOverrides::default()).unwrap()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let setups: Vec<Duration> = (0..5)
        .map(|_| {
            rt.block_on(async {
                let c = Arc::new(DefaultConnector::new());
                let t0 = Instant::now();
                let r = windlass::ping::ping(c.as_ref(), &specs, 50).await;
                let d = t0.elapsed();
                assert!(r.iter().all(|p| p.ok), "a host did not answer");
                c.close_all().await;
                d
            })
        })
        .collect();
    println!(
        "connection setup + first command, {} hosts in parallel: median {:.3} s",
        hosts.len(),
        median(setups).as_secs_f64()
    );
    bridge_row(&inv, &first);
}
