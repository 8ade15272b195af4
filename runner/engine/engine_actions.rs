//! The actions the engine runs itself: `include_vars`, `add_host`, `group_by`.
//!
//! Why this module exists: these change the run, not a host — the variables of the host
//! or the inventory every later task sees — so no module can do them; they need the
//! engine's loader and inventory.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::event::Status;
use crate::playbook::task::Task;
use crate::template::Vars;

use super::Engine;
use super::resolve::located;
use super::run_state::Outcome;

impl Engine {
    /// Run engine action `t` (by its short name) on `host` with templated arguments.
    pub(super) async fn engine_action(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        vars: &Arc<dyn Vars>,
    ) -> Result<Outcome, String> {
        let short = t.action.rsplit('.').next().unwrap_or(&t.action);
        let args = match self
            .templar
            .render_value(&Value::Object(t.args.clone()), vars, Some(&t.args_loc))
            .map_err(located)?
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (status, result) = match short {
            "include_vars" => (Status::Ok, self.include_vars(&args, vars)?),
            "add_host" => self.add_host(&args)?,
            "group_by" => self.group_by(&args, host)?,
            other => return Err(format!("`{other}` cannot run as a task here")),
        };
        Ok(Outcome::new(status, result, false))
    }

    /// `include_vars`: a vars file (searched next to the role's or play's files) as facts,
    /// under `name` when given.
    fn include_vars(
        &self,
        args: &Map<String, Value>,
        vars: &Arc<dyn Vars>,
    ) -> Result<Map<String, Value>, String> {
        let file = args
            .get("file")
            .or_else(|| args.get("_raw_params"))
            .and_then(Value::as_str)
            .ok_or("include_vars needs a file")?;
        let dirs = vars.search_dirs(crate::template::SearchKind::Files);
        let mut candidates: Vec<PathBuf> = vec![PathBuf::from(file)];
        for d in dirs {
            candidates.push(
                d.parent()
                    .map(|p| p.join("vars").join(file))
                    .unwrap_or_default(),
            );
            candidates.push(d.join(file));
        }
        let path = candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| format!("vars file {file} not found"))?;
        let node = self.loader.yaml().load(&path);
        self.emit_load_warnings();
        let node = node.map_err(|e| e.located())?;
        let mut facts = Map::new();
        if !node.is_null() {
            for (k, v) in node.expect_map("a vars file").map_err(|e| e.located())? {
                facts.insert(k, v.to_value());
            }
        }
        if let Some(name) = args.get("name").and_then(Value::as_str) {
            let mut wrapped = Map::new();
            wrapped.insert(name.to_string(), Value::Object(facts));
            facts = wrapped;
        }
        let mut r = unchanged();
        r.insert("ansible_facts".into(), Value::Object(facts));
        Ok(r)
    }

    /// `add_host`: a host (with groups and variables) joins the run's inventory; changed
    /// when that changed the inventory.
    fn add_host(&self, args: &Map<String, Value>) -> Result<(Status, Map<String, Value>), String> {
        let name = args
            .get("name")
            .or_else(|| args.get("hostname"))
            .or_else(|| args.get("host"))
            .and_then(Value::as_str)
            .ok_or("add_host needs `name`")?
            .to_string();
        let groups: Vec<String> = match args
            .get("groups")
            .or_else(|| args.get("group"))
            .or_else(|| args.get("groupname"))
        {
            Some(Value::String(s)) => s
                .split(',')
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
            Some(Value::Array(a)) => strings(a),
            _ => Vec::new(),
        };
        let hvars: IndexMap<String, Value> = args
            .iter()
            .filter(|(k, _)| {
                !["name", "hostname", "host", "groups", "group", "groupname"].contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let changed = self.join_groups(&name, &groups, hvars);
        let mut r = unchanged();
        r.insert(
            "add_host".into(),
            serde_json::json!({"host_name": name, "groups": groups}),
        );
        Ok(status_of(changed, r))
    }

    /// `group_by`: the host joins the group `key` (and its `parents`); changed when it was
    /// not in them.
    fn group_by(
        &self,
        args: &Map<String, Value>,
        host: &str,
    ) -> Result<(Status, Map<String, Value>), String> {
        let key = args
            .get("key")
            .or_else(|| args.get("_raw_params"))
            .and_then(Value::as_str)
            .ok_or("group_by needs `key`")?
            .to_string();
        let parents: Vec<String> = match args.get("parents") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => strings(a),
            _ => Vec::new(),
        };
        let mut groups = vec![key];
        groups.extend(parents);
        let changed = self.join_groups(host, &groups, IndexMap::new());
        Ok(status_of(changed, unchanged()))
    }

    /// Add `host` to the inventory (or to more groups), and rebuild its per-host data;
    /// whether the inventory changed.
    fn join_groups(&self, host: &str, groups: &[String], hvars: IndexMap<String, Value>) -> bool {
        let changed = self
            .inventory
            .lock()
            .expect("inventory lock")
            .add_host(host, groups, hvars);
        self.scope
            .hosts
            .write()
            .expect("hosts lock")
            .shift_remove(host);
        self.refresh_hosts();
        changed
    }
}

/// The status and result of an inventory change.
fn status_of(changed: bool, mut r: Map<String, Value>) -> (Status, Map<String, Value>) {
    r.insert("changed".into(), Value::Bool(changed));
    let status = if changed { Status::Changed } else { Status::Ok };
    (status, r)
}

/// A result that changed nothing.
fn unchanged() -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r
}

/// The strings of a list (anything else left out).
fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
