//! Which hosts a `meta` task acts for, with the events Ansible's linear strategy sends.
//!
//! Why this exists: Ansible runs most meta actions once per host, but some once for the
//! whole batch, and its event stream shows it (`lib/ansible/plugins/strategy/linear.py`
//! and `_execute_meta` in `plugins/strategy/__init__.py`): every execution starts the task
//! again, and a `when` that is false skips that host (shown, but not counted in the
//! recap). `noop`, `reset_connection`, `end_host`, `flush_handlers`, `role_complete` and
//! `end_role` run per host; the others (`end_play`, `end_batch`, `clear_facts`,
//! `clear_host_errors`, `refresh_inventory`) run for the first host only, and what its
//! `when` decides applies to every host.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::event::{Event, Status};
use crate::playbook::task::Task;
use crate::template::Vars;

use super::Engine;
use super::walk::PlayCx;

/// Meta actions Ansible's linear strategy executes for each host.
const PER_HOST: &[&str] = &[
    "noop",
    "reset_connection",
    "end_host",
    "flush_handlers",
    "role_complete",
    "end_role",
];

/// Meta actions that ignore `when` (Ansible warns and runs them).
const NO_WHEN: &[&str] = &["noop", "refresh_inventory", "reset_connection"];

impl Engine {
    /// Emit the meta task's starts (and skips) and return the hosts it acts for.
    pub(crate) fn meta_hosts(
        &self,
        cx: &PlayCx<'_>,
        t: &Arc<Task>,
        what: &str,
        hosts: &[String],
    ) -> Result<Vec<String>> {
        let per_host = PER_HOST.contains(&what);
        let runs = if per_host {
            hosts
        } else {
            &hosts[..hosts.len().min(1)]
        };
        let mut chosen = Vec::new();
        for h in runs {
            self.emit(Event::TaskStart {
                name: t.display_name(),
                action: t.action.clone(),
                loc: t.loc.clone(),
                handler: cx.handler,
                hosts: 1,
            });
            if NO_WHEN.contains(&what) || self.meta_when(cx, t, h)? {
                chosen.push(h.clone());
                continue;
            }
            let mut r = Map::new();
            r.insert("skipped".into(), Value::Bool(true));
            r.insert(
                "skip_reason".into(),
                Value::String(format!("{what} conditional evaluated to False")),
            );
            self.emit(Event::HostResult {
                host: h.clone(),
                task: t.display_name(),
                status: Status::Skipped,
                item: None,
                result: r,
                ignored: false,
                delegated_to: None,
                duration: Duration::ZERO,
                diff: Vec::new(),
                loop_summary: false,
            });
        }
        if !per_host && !chosen.is_empty() {
            return Ok(hosts.to_vec());
        }
        Ok(chosen)
    }

    /// The meta task's `when` for one host.
    fn meta_when(&self, cx: &PlayCx<'_>, t: &Task, host: &str) -> Result<bool> {
        let Some(hv) = self.host_vars(&cx.scope, host) else {
            return Ok(false);
        };
        let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
        for c in &t.kw.when {
            if !self
                .templar
                .eval_bool(c, &vars, Some(&t.loc))
                .map_err(Error::from)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
