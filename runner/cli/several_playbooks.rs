//! `windlass run a.yml b.yml`: several playbooks in one command, as ansible-playbook runs
//! them.
//!
//! Why this module exists: ansible-playbook runs its playbooks in order and stops after
//! the first that leaves a failed or unreachable host (`executor/playbook_executor.py`:
//! `if result != 0: break`); it prints a recap after each, counting everything since the
//! command started (one `_tqm._stats` for all), and runs them all with one
//! `VariableManager`, so what tasks set on a host (facts, `set_fact`, `register`,
//! `include_vars`) is there in the next playbook. windlass runs each playbook as a run of
//! its own: the recap each run reports is added to the ones before here, before any sink
//! sees it, and each run starts from the host state the one before left
//! (engine/host_carry.rs).

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::engine::{CarriedHosts, Engine};
use crate::error::{Error, Result};
use crate::event::{Event, EventSink, HostStats};

use super::RunArgs;

/// Run each of `a.playbooks` in order; stop at the first that does not end well.
pub(super) fn run(a: RunArgs) -> Result<i32> {
    a.compat.check()?;
    a.playbooks.iter().try_for_each(|p| check_exists(p))?;
    let carry = Carry::default();
    for (i, p) in a.playbooks.iter().enumerate() {
        let args = RunArgs {
            playbook: p.clone(),
            ..a.clone()
        };
        let code = super::run_playbook(args, i == 0, &carry)?;
        if code != 0 {
            return Ok(code);
        }
    }
    Ok(0)
}

/// Every playbook named must exist before any runs, as ansible-playbook checks them all
/// first (`cli/playbook.py`: "the playbook: … could not be found", exit 1); a collection
/// playbook (`ns.coll.name`, no file of that name) is found when it is loaded. Parsing
/// waits for each playbook's turn, as there.
fn check_exists(p: &Path) -> Result<()> {
    let fqcn = p
        .to_str()
        .is_some_and(|s| !s.contains('/') && s.split('.').count() >= 3);
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() || m.file_type().is_fifo() => Ok(()),
        Ok(_) => Err(Error::io(
            p,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the playbook does not appear to be a file",
            ),
        )),
        Err(_) if fqcn => Ok(()),
        Err(e) => Err(Error::io(p, e)),
    }
}

/// The recap so far, of the playbooks already run, and the state they left on hosts.
#[derive(Clone, Default)]
pub(super) struct Carry(
    Arc<Mutex<Vec<(String, HostStats)>>>,
    Arc<Mutex<CarriedHosts>>,
);

impl Carry {
    /// Start `engine`'s hosts from what the playbooks before left.
    pub(super) fn seed(&self, engine: &Engine) {
        if let Ok(hosts) = self.1.lock() {
            engine.seed_hosts(&hosts);
        }
    }

    /// Keep what `engine`'s run left on its hosts, for the next playbook.
    pub(super) fn keep(&self, engine: &Engine) {
        if let Ok(mut hosts) = self.1.lock() {
            *hosts = engine.carried_hosts();
        }
    }

    /// `sink`, seeing each recap with the earlier playbooks' counts added.
    pub(super) fn wrap(&self, sink: Box<dyn EventSink>) -> Box<dyn EventSink> {
        Box::new(Carried {
            inner: sink,
            carry: self.clone(),
        })
    }

    /// `stats` plus what was carried; remembered for the next playbook.
    fn add(&self, stats: &[(String, HostStats)]) -> Vec<(String, HostStats)> {
        let Ok(mut sum) = self.0.lock() else {
            return stats.to_vec();
        };
        for (host, s) in stats {
            match sum.iter_mut().find(|(h, _)| h == host) {
                Some((_, t)) => plus(t, s),
                None => sum.push((host.clone(), s.clone())),
            }
        }
        // The recap lists hosts by name (default.py `sorted(stats.processed.keys())`).
        sum.sort_by(|a, b| a.0.cmp(&b.0));
        sum.clone()
    }
}

fn plus(t: &mut HostStats, s: &HostStats) {
    t.ok += s.ok;
    t.changed += s.changed;
    t.unreachable += s.unreachable;
    t.failed += s.failed;
    t.skipped += s.skipped;
    t.rescued += s.rescued;
    t.ignored += s.ignored;
}

struct Carried {
    inner: Box<dyn EventSink>,
    carry: Carry,
}

impl EventSink for Carried {
    fn event(&mut self, e: &Event) {
        match e {
            Event::RunEnd { stats, duration } => self.inner.event(&Event::RunEnd {
                stats: self.carry.add(stats),
                duration: *duration,
            }),
            other => self.inner.event(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recaps_add_up_across_playbooks() {
        let carry = Carry::default();
        let seen = crate::event::Collector::default();
        let stats = |ok, failed| HostStats {
            ok,
            failed,
            ..HostStats::default()
        };
        let end = |stats: Vec<(String, HostStats)>| Event::RunEnd {
            stats,
            duration: std::time::Duration::ZERO,
        };
        let mut first = carry.wrap(Box::new(seen.clone()));
        first.event(&end(vec![("web1".into(), stats(2, 0))]));
        let mut second = carry.wrap(Box::new(seen.clone()));
        second.event(&end(vec![
            ("db1".into(), stats(1, 1)),
            ("web1".into(), stats(1, 0)),
        ]));
        let events = seen.take();
        let Event::RunEnd { stats: last, .. } = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            last,
            &vec![
                ("db1".to_string(), stats(1, 1)),
                ("web1".into(), stats(3, 0))
            ]
        );
    }
}
