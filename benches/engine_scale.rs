//! Engine scale: N hosts × T controller-side tasks (debug / set_fact with templating) on the
//! local connection, so only the engine is measured: scheduling, variable precedence,
//! templating and events. Reports wall time and peak RSS per size, each size in a fresh
//! child process.
//!
//! Run: `cargo bench --bench engine_scale` (sizes 500, 1000, 5000 hosts × 100 tasks, plus
//! 1000 × 50), or `cargo bench --bench engine_scale -- HOSTS TASKS` for one size.

use std::sync::Arc;
use std::time::Instant;

use windlass::embed::{RunOptions, Runner};
use windlass::event::{Event, EventSink};
use windlass::inventory::Inventory;

struct Count(Arc<std::sync::atomic::AtomicUsize>);

impl EventSink for Count {
    fn event(&mut self, e: &Event) {
        if matches!(e, Event::HostResult { .. }) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

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

fn one(hosts: usize, tasks: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("[all:vars]\nansible_connection=local\nbase=10\n[nodes]\n");
    for i in 0..hosts {
        inv.push_str(&format!("node{i:05} idx={i}\n"));
    }
    std::fs::write(dir.path().join("hosts"), inv).unwrap();
    let mut pb = String::from(
        "- hosts: nodes\n  gather_facts: false\n  vars:\n    greeting: hello\n  tasks:\n",
    );
    for t in 0..tasks {
        if t % 2 == 0 {
            pb.push_str(&format!("    - set_fact:\n        v{t}: \"{{{{ greeting }}}}-{{{{ idx | int + base | int + {t} }}}}\"\n"));
        } else {
            pb.push_str(&format!(
                "    - debug:\n        msg: \"{{{{ inventory_hostname }}}} {{{{ v{} }}}}\"\n",
                t - 1
            ));
        }
    }
    std::fs::write(dir.path().join("site.yml"), pb).unwrap();
    // Through the embedding API. `load` is the inventory and the playbook loaded (the
    // playbook once apart, untimed by `wall`); `wall` is the inventory load plus the run,
    // which loads the playbook itself.
    let t0 = Instant::now();
    let inventory = Inventory::load(&[dir.path().join("hosts")]).unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runner = Runner::new()
        .inventory(inventory)
        .playbook_file(dir.path().join("site.yml"))
        .unwrap()
        .options(RunOptions {
            forks: 50,
            ..RunOptions::default()
        })
        .sink(Box::new(Count(count.clone())));
    let inventory_loaded = t0.elapsed();
    let t1 = Instant::now();
    runner.load().unwrap();
    let loaded = inventory_loaded + t1.elapsed();
    let t2 = Instant::now();
    let report = runner.run().unwrap();
    let wall = inventory_loaded + t2.elapsed();
    assert_eq!(report.exit_code, 0);
    let results = count.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(results, hosts * tasks);
    println!(
        "hosts={hosts:>5} tasks={tasks:>3} results={results:>7} load={:>6.3}s wall={:>7.3}s per-result={:>6.2}us peak_rss={:>7.1}MiB",
        loaded.as_secs_f64(),
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / results as f64,
        peak_rss_mib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.len() == 2 {
        one(args[0].parse().unwrap(), args[1].parse().unwrap());
        return;
    }
    let me = std::env::current_exe().unwrap();
    for (h, t) in [(1000, 50), (500, 100), (1000, 100), (5000, 100)] {
        let status = std::process::Command::new(&me)
            .arg(h.to_string())
            .arg(t.to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}
