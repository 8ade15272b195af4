//! `delegate_facts: true`: the facts a delegated task returns belong to the delegate.
//!
//! Why this exists: the pattern that hands each node its own `kubeadm join` command —
//! `set_fact` with `delegate_to: "{{ item }}"`, `delegate_facts: true` and a loop over the
//! nodes — must set the fact on each item's delegate, not on the host running the loop.
//! As Ansible's strategy does (`lib/ansible/plugins/strategy/__init__.py`,
//! `_process_pending_results` and `get_delegated_hosts`): per result (per loop item), when
//! the task has `delegate_to` and `delegate_facts`, its `ansible_facts` go to that result's
//! delegate only; without `delegate_facts` they stay with the host (and with `run_once`,
//! every host of the batch). A delegate outside the inventory keeps nothing.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::playbook::task::Task;
use crate::template::Vars;

use super::Engine;

impl Engine {
    /// When `t` delegates its facts, move the `ansible_facts` of `result` (one execution,
    /// one loop item) to the delegate named by `delegate_to` under `vars`. The result keeps
    /// no facts then, so the host itself (and, under `run_once`, its batch) gets none.
    pub(crate) fn divert_delegated_facts(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        result: &mut Map<String, Value>,
    ) {
        if t.kw.delegate_to.is_none() || !result.contains_key("ansible_facts") {
            return;
        }
        if !self.kw_bool(&t.kw.delegate_facts, vars, t).unwrap_or(false) {
            return;
        }
        let Ok(Some(delegate)) = self.kw_string(&t.kw.delegate_to, vars, t) else {
            return;
        };
        let Some(Value::Object(facts)) = result.remove("ansible_facts") else {
            return;
        };
        let Some(data) = self.scope.host(&delegate) else {
            return;
        };
        let Ok(mut dynamic) = data.dynamic.write() else {
            return;
        };
        let is_setup = self.fact_gathering(t).is_some();
        for (k, v) in facts {
            if is_setup {
                // Gathered facts, as `finish` stores them for the host itself.
                dynamic
                    .facts
                    .insert(k.trim_start_matches("ansible_").to_string(), v);
            } else {
                dynamic.set_facts.insert(k, v);
            }
        }
    }
}
