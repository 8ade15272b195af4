//! What a dynamic include (`include_tasks`, `include_role`) reports: its task header, its
//! own per-host result, and one `included:` line per file it loaded.
//!
//! Why this module exists: an include is not a module run, so `run_task.rs` never reports
//! it; but ansible-playbook does, and counts it. Its linear strategy
//! (lib/ansible/plugins/strategy/linear.py, with `StrategyBase._process_pending_results`
//! in lib/ansible/plugins/strategy/__init__.py) sends `v2_playbook_on_task_start`, then each
//! host's result (`ok`, or `skipped` when its `when` is false, counted as skipped; a loop
//! sends its items then the summary), and after loading each included file it adds one
//! `ok` per host of that file to the recap and sends `v2_playbook_on_include`
//! (`included: <file> for <hosts>`). An `ok` result itself is not counted: the file is.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::event::{Event, Status};
use crate::playbook::task::Task;

use super::Engine;
use super::run_state::Outcome;
use super::walk::PlayCx;

impl Engine {
    /// The include's `TASK [...]` header (`t` with its name templated; an `include_role`
    /// named as [`Task::display_name`] says).
    pub(crate) fn include_task_start(&self, cx: &PlayCx<'_>, t: &Task, hosts: &[String]) {
        let name = t.display_name();
        self.emit(Event::TaskStart {
            name,
            action: t.action.clone(),
            loc: t.loc.clone(),
            // An include that is a handler is shown as one (`RUNNING HANDLER`).
            handler: cx.handler,
            hosts: hosts.len(),
        });
    }

    /// A looped include's item label: `loop_control.label` rendered, else the item.
    pub(crate) fn include_item_label(
        &self,
        t: &Task,
        locals: &indexmap::IndexMap<String, Value>,
        vars: &Arc<dyn crate::template::Vars>,
    ) -> Value {
        let var = t.loop_control.loop_var.as_deref().unwrap_or("item");
        let item = locals.get(var).cloned().unwrap_or(Value::Null);
        match &t.loop_control.label {
            Some(l) => self
                .templar
                .render_value(l, vars, Some(&t.loc))
                .unwrap_or(item),
            None => item,
        }
    }

    /// The include's own result on `host` (an item's with `item`; the loop's summary with
    /// `loop_summary`). A skipped result that is the task's own (not an item's) counts as
    /// skipped in the recap.
    pub(crate) fn include_host_result(
        &self,
        t: &Task,
        host: &str,
        skip: Option<&str>,
        item: Option<Value>,
        loop_summary: bool,
    ) {
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        if let Some(why) = skip {
            result.insert("skipped".into(), Value::Bool(true));
            result.insert("skip_reason".into(), Value::String(why.into()));
            if item.is_none() {
                self.state
                    .record(host, t, &Outcome::plain(Status::Skipped), false);
            }
        }
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: if skip.is_some() {
                Status::Skipped
            } else {
                Status::Ok
            },
            item,
            result,
            ignored: false,
            delegated_to: None,
            loop_summary,
            duration: std::time::Duration::ZERO,
            diff: Vec::new(),
        });
    }

    /// A file (or role) was loaded for `hosts`: one `ok` each in the recap, and the
    /// `included:` line. `path` is the tasks file, or `None` for a role (Ansible names the
    /// role then).
    pub(crate) fn include_loaded(
        &self,
        t: &Task,
        role: Option<&str>,
        path: Option<&Path>,
        hosts: &[String],
        item: Option<Value>,
    ) {
        for h in hosts {
            self.state.record(h, t, &Outcome::plain(Status::Ok), false);
        }
        let shown = match (role, path) {
            (Some(r), _) => r.to_string(),
            (None, Some(p)) => super::abs_path::absolute(p).display().to_string(),
            (None, None) => String::new(),
        };
        let file = Path::new(&shown)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| shown.clone());
        self.emit(Event::Include {
            file,
            path: shown,
            hosts: hosts.to_vec(),
            item,
        });
    }
}
