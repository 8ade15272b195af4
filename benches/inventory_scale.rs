//! Inventory scale: one INI range of N hosts in a group (`[nodes] n[1:N]`), loaded, selected
//! (`all`, a group, a `--limit`-style intersection of two selections) and drawn as
//! `windlass inventory --graph` draws it, each size in a fresh child process. Every step
//! must grow linearly with N; they used to be quadratic (membership checks scanned the
//! group's host list, `--limit` scanned the allowed list: 100,000 hosts took minutes).
//!
//! Run: `cargo bench --bench inventory_scale` (10,000 / 50,000 / 100,000 hosts), or
//! `cargo bench --bench inventory_scale -- HOSTS` for one size.

use std::collections::HashSet;
use std::time::Instant;

use windlass::inventory::Inventory;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn one(hosts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(
        &path,
        format!(
            "[nodes]\nn[1:{hosts}] ansible_connection=local\n[edge]\nn[1:{}]\n",
            hosts / 2
        ),
    )
    .unwrap();
    let t0 = Instant::now();
    let inv = Inventory::load(&[path]).unwrap();
    let load = t0.elapsed();
    let t1 = Instant::now();
    let all = inv.select("all").unwrap();
    let nodes = inv.select("nodes").unwrap();
    let allowed: HashSet<String> = inv.select("edge").unwrap().into_iter().collect();
    let limited = nodes.iter().filter(|h| allowed.contains(*h)).count();
    let select = t1.elapsed();
    let t2 = Instant::now();
    let graph = inv.graph(None).unwrap();
    let draw = t2.elapsed();
    assert_eq!(all.len(), hosts);
    assert_eq!(limited, hosts / 2);
    assert!(graph.lines().count() > hosts);
    println!(
        "hosts={hosts:>6} load={:>7.3}s select={:>7.3}s graph={:>7.3}s total={:>7.3}s peak_rss={:>7.1}MiB",
        load.as_secs_f64(),
        select.as_secs_f64(),
        draw.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.len() == 1 {
        one(args[0].parse().unwrap());
        return;
    }
    let me = std::env::current_exe().unwrap();
    for n in [10_000, 50_000, 100_000] {
        let status = std::process::Command::new(&me)
            .arg(n.to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}
