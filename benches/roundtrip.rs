//! Per-task round-trip cost over SSH and connection setup time, on test hosts.
//!
//! `WINDLASS_TESTHOSTS=<inventory from testhosts.sh inventory> cargo bench --bench roundtrip`
//!
//! 1. A 50-task no-op playbook (`command: 'true'` × 50) on the first host, 5 runs: median
//!    wall time and per-task cost (each run opens its own SSH master, so the first task
//!    includes connection setup; the per-task figure excludes it by subtracting a 1-task
//!    run's median).
//! 2. Connection setup for every host of the inventory in parallel (`windlass ping`'s
//!    library call with a fresh connector), 5 runs: median.

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

fn main() {
    let Some(inv) = std::env::var_os("WINDLASS_TESTHOSTS").map(std::path::PathBuf::from) else {
        eprintln!("roundtrip: set WINDLASS_TESTHOSTS to a testhosts.sh inventory");
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
}
