//! What one playbook leaves on its hosts for the next playbook of the same command.
//!
//! Why this file exists: `windlass run a.yml b.yml` runs each playbook as a run of its own,
//! but ansible-playbook runs them all with one `VariableManager`
//! (executor/playbook_executor.py), so what a task adds to a host — gathered facts,
//! `set_fact`, `register`, `include_vars` — is still there in the next playbook, while
//! play-level variables are not. The command line takes each host's [`Dynamic`] state out
//! of one run and puts it into the next.

use indexmap::IndexMap;

use super::Engine;
use super::host_vars::Dynamic;

/// Each host's facts and task-set variables at the end of a run, by host name.
#[derive(Clone, Default)]
pub(crate) struct CarriedHosts(IndexMap<String, Dynamic>);

impl Engine {
    /// What the run's tasks added to each host so far.
    pub(crate) fn carried_hosts(&self) -> CarriedHosts {
        let Ok(hosts) = self.scope.hosts.read() else {
            return CarriedHosts::default();
        };
        let carried = hosts
            .iter()
            .filter_map(|(name, d)| Some((name.clone(), d.dynamic.read().ok()?.clone())))
            .collect();
        CarriedHosts(carried)
    }

    /// Start from what an earlier run left (hosts this inventory does not have are left
    /// out; `add_host` hosts come back with the inventory of the run that adds them).
    pub(crate) fn seed_hosts(&self, carried: &CarriedHosts) {
        for (name, state) in &carried.0 {
            if let Some(d) = self.scope.host(name) {
                if let Ok(mut dynamic) = d.dynamic.write() {
                    *dynamic = state.clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use serde_json::json;

    fn engine(inv: &str) -> std::sync::Arc<Engine> {
        let inventory = Inventory::parse_str(inv, "hosts".as_ref()).unwrap();
        let loader = std::sync::Arc::new(crate::playbook::Loader::new(
            std::sync::Arc::new(crate::modules::Registry::builtin()),
            vec![],
        ));
        Engine::new(
            inventory,
            None,
            loader,
            std::sync::Arc::new(crate::transport::DefaultConnector::new()),
            crate::engine::RunOptions::default(),
            Box::new(crate::event::Collector::default()),
        )
    }

    #[test]
    fn a_hosts_state_goes_to_the_next_run_for_the_hosts_it_has() {
        let first = engine("a\nb\n");
        let a = first.scope.host("a").unwrap();
        a.dynamic
            .write()
            .unwrap()
            .set_facts
            .insert("x".into(), json!(1));
        a.dynamic
            .write()
            .unwrap()
            .facts
            .insert("system".into(), json!("Linux"));
        let carried = first.carried_hosts();
        let next = engine("a\nc\n");
        next.seed_hosts(&carried);
        let a = next.scope.host("a").unwrap();
        let state = a.dynamic.read().unwrap().clone();
        assert_eq!(state.set_facts["x"], json!(1));
        assert_eq!(state.facts["system"], json!("Linux"));
        let c = next.scope.host("c").unwrap();
        assert!(c.dynamic.read().unwrap().set_facts.is_empty());
    }
}
