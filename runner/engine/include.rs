//! Dynamic includes (`include_tasks`, `include_role`): resolved per host and loop item to
//! a file and its parameters, hosts grouped by what they include, every file loaded (and
//! reported) before the tasks of any of them run.
//!
//! Why this module exists: an include is decided at run time, per host, and its result
//! lines, skips and failures follow rules of their own (Ansible's `IncludedFile`,
//! lib/ansible/playbook/included_file.py, and the linear strategy's loading order).

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::playbook::role::RoleInstance;
use crate::playbook::task::{Include, Inherit, Task, TaskNode};
use crate::template::Vars;

use super::Engine;
use super::host_vars::HostVars;
use super::walk::PlayCx;

/// How deep `include_tasks` / `include_role` may nest.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 64;

/// The include arguments that choose what is included (not parameters of its tasks).
const INCLUDE_ARGS: &[&str] = &[
    "file",
    "_raw_params",
    "name",
    "tasks_from",
    "apply",
    "public",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "allow_duplicates",
];

/// Hosts that include the same file with the same arguments.
struct IncludeGroup {
    /// Inherited keywords and parameters.
    inherit: Inherit,
    /// The templated arguments.
    args: Map<String, Value>,
    hosts: Vec<String>,
    /// The loop item's label, shown on the `included:` line.
    label: Option<Value>,
}

/// Every host's includes, grouped by what is included (in the order first seen).
type IncludeGroups = IndexMap<String, IncludeGroup>;

/// How one item of an include went on a host.
enum ItemInclude {
    /// Its `when` is false.
    Skipped,
    /// Its `when` or arguments failed (the failure was reported).
    Failed,
    /// It includes: the group key, what the group needs.
    Included(String, Box<IncludeGroup>),
}

impl Engine {
    /// Run include `inc` for `hosts`.
    pub(super) async fn run_include(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        inc: &Arc<Include>,
        hosts: &[String],
    ) -> Result<()> {
        if !self.task_selected(&inc.task) {
            return Ok(());
        }
        // Its name templated once, for its header and its results alike.
        let named = self.templated_include(cx, inc, hosts);
        let inc = named.as_ref().unwrap_or(inc);
        self.include_task_start(cx, &inc.task, hosts);
        // Resolve per host (and per loop item): which file, with which parameters.
        let mut groups = IncludeGroups::new();
        for h in hosts {
            self.resolve_include(cx, inc, h, &mut groups);
        }
        // As Ansible's linear strategy: every file is loaded (and reported) before the
        // tasks of any of them run.
        let mut loaded = Vec::new();
        for group in groups.into_values() {
            if let Some(nodes) = self.load_group(cx, inc, &group) {
                loaded.push((nodes, group.hosts));
            }
        }
        for (nodes, group) in loaded {
            self.walk(cx, &nodes, &group).await?;
        }
        Ok(())
    }

    /// `inc` with its name templated (for the first host, as a task's header is), when it
    /// has a template in it.
    fn templated_include(
        &self,
        cx: &PlayCx<'_>,
        inc: &Arc<Include>,
        hosts: &[String],
    ) -> Option<Arc<Include>> {
        inc.task.name.as_deref().filter(|n| n.contains("{{"))?;
        let t = Arc::new(inc.task.clone());
        let named = self.templated_name(cx, hosts.first().map(String::as_str), &t)?;
        Some(Arc::new(Include {
            task: Arc::unwrap_or_clone(named),
            ..Include::clone(inc)
        }))
    }

    /// What include `inc` includes on `h`, item by item, into `groups`; reports the host's
    /// own result (the loop's summary, or its skip).
    fn resolve_include(&self, cx: &PlayCx<'_>, inc: &Include, h: &str, groups: &mut IncludeGroups) {
        let t = &inc.task;
        let Some(hv) = self.host_vars(&cx.scope, h) else {
            return;
        };
        let hv = self.task_vars(hv, t);
        let looped = t.loop_.is_some();
        let Some(items) = self.include_items(t, h, &hv) else {
            return;
        };
        // Whether the host's own result (the loop's summary) is still to report: not
        // after a failure, which reported it.
        let mut report = true;
        let mut any_item_ran = false;
        let n_items = items.len();
        for locals in items {
            match self.include_item(inc, h, &hv, locals, report) {
                ItemInclude::Skipped => {}
                ItemInclude::Failed => report = false,
                ItemInclude::Included(key, group) => {
                    any_item_ran = true;
                    // The last item's label shows, as the last one given wins.
                    let label = group.label.clone();
                    let entry = groups.entry(key).or_insert(*group);
                    if label.is_some() {
                        entry.label = label;
                    }
                    entry.hosts.push(h.to_string());
                }
            }
        }
        if report {
            let skip = match (looped, any_item_ran, n_items) {
                (true, _, 0) => Some("No items in the list"),
                (true, false, _) => Some("All items skipped"),
                (false, false, _) => Some("Conditional result was False"),
                _ => None,
            };
            self.include_host_result(t, h, skip, None, looped);
        }
    }

    /// The include's loop items on `h` as their loop variables (one `None` without a
    /// loop); `None` when the loop did not template (reported: skipped by a false `when`,
    /// else failed).
    fn include_items(
        &self,
        t: &Task,
        h: &str,
        hv: &HostVars,
    ) -> Option<Vec<Option<IndexMap<String, Value>>>> {
        if t.loop_.is_none() {
            return Some(vec![None]);
        }
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        match self.loop_items(t, &vars) {
            Ok(items) => Some(
                (0..items.len())
                    .map(|i| Some(self.loop_locals(t, &items, i)))
                    .collect(),
            ),
            Err(_) if self.skipped_despite_loop_error(t, &vars) => {
                // The `when` skips the whole task before its loop is templated
                // (`TaskExecutor._run_loop`, lib/ansible/executor/task_executor.py).
                let why = "Conditional result was False";
                self.include_host_result(t, h, Some(why), None, false);
                None
            }
            Err(msg) => {
                self.fail_host(t, h, msg);
                None
            }
        }
    }

    /// One item of include `inc` on `h`: its `when`, its templated arguments, its
    /// parameters. `report`: the host's results are still reported (no failure yet).
    fn include_item(
        &self,
        inc: &Include,
        h: &str,
        hv: &HostVars,
        locals: Option<IndexMap<String, Value>>,
        report: bool,
    ) -> ItemInclude {
        let t = &inc.task;
        let looped = t.loop_.is_some();
        let hv = match &locals {
            Some(l) => hv.with_locals(l.clone()),
            None => hv.clone(),
        };
        let vars: Arc<dyn Vars> = Arc::new(hv);
        let label = locals
            .as_ref()
            .map(|l| self.include_item_label(t, l, &vars));
        for c in &t.kw.when {
            match self.templar.eval_bool(c, &vars, Some(&t.loc)) {
                Ok(true) => {}
                Ok(false) => {
                    if report && looped {
                        let why = "Conditional result was False";
                        self.include_host_result(t, h, Some(why), label, false);
                    }
                    return ItemInclude::Skipped;
                }
                Err(e) => {
                    self.fail_host(t, h, e.message);
                    return ItemInclude::Failed;
                }
            }
        }
        let args = Value::Object(t.args.clone());
        let args = match self.templar.render_value(&args, &vars, Some(&t.args_loc)) {
            Ok(Value::Object(m)) => m,
            Ok(_) => Map::new(),
            Err(e) => {
                self.fail_host(t, h, e.message);
                return ItemInclude::Failed;
            }
        };
        if looped {
            self.include_host_result(t, h, None, label.clone(), false);
        }
        let params = include_params(inc, &args, locals.as_ref());
        let key = format!(
            "{}|{}",
            serde_json::to_string(&args).unwrap_or_default(),
            serde_json::to_string(&params).unwrap_or_default()
        );
        let inherit = Inherit {
            // The enclosing blocks' keywords and `apply:`; the include's own `vars` reach
            // its tasks too (Ansible: as include parameters).
            kw: {
                let mut kw = crate::playbook::task::merge_keywords(&inc.parent_kw, &inc.apply);
                kw.vars = t.kw.vars.clone();
                // The include's own `collections:` (or its blocks') finds the role.
                kw.collections = t.kw.collections.clone();
                kw
            },
            role: t.role.clone(),
            include_params: params,
            chain: Vec::new(),
            include_depth: inc.depth + 1,
        };
        let group = IncludeGroup {
            inherit,
            args,
            hosts: Vec::new(),
            label,
        };
        ItemInclude::Included(key, Box::new(group))
    }

    /// Load what `group` includes and report it; `None` when it cannot be loaded (its
    /// hosts failed) or nests too deep.
    fn load_group(
        &self,
        cx: &PlayCx<'_>,
        inc: &Include,
        group: &IncludeGroup,
    ) -> Option<Vec<TaskNode>> {
        let t = &inc.task;
        if inc.depth >= MAX_INCLUDE_DEPTH {
            // Each level nests the walk once more: without a bound a file that includes
            // itself overflows the stack. Ansible has none but Python's recursion limit (its
            // strategy fails with RecursionError after ~250 levels).
            for h in &group.hosts {
                let msg = format!(
                    "{}: includes nested more than {MAX_INCLUDE_DEPTH} deep (does a file or role include itself?)",
                    t.loc
                );
                self.fail_host(t, h, msg);
            }
            return None;
        }
        match self.load_include(cx, inc, &group.args, &group.inherit) {
            Ok((nodes, role, path)) => {
                let item = group.label.clone();
                self.include_loaded(t, role.as_deref(), path.as_deref(), &group.hosts, item);
                self.emit_load_warnings();
                Some(nodes)
            }
            Err(e) => {
                for h in &group.hosts {
                    self.fail_host(t, h, e.located());
                }
                None
            }
        }
    }

    /// Load what include `inc` brings with templated `args`: its tasks, and what the
    /// `included:` line names (the role, or the tasks file's path). An `include_role`'s
    /// handlers join the play's; with `public: true` its vars and defaults do too.
    fn load_include(
        &self,
        cx: &PlayCx<'_>,
        inc: &Include,
        args: &serde_json::Map<String, Value>,
        inherit: &Inherit,
    ) -> Result<(Vec<TaskNode>, Option<String>, Option<std::path::PathBuf>)> {
        let t = &inc.task;
        if inc.is_role {
            let (tasks, handlers, roles) =
                self.loader
                    .include_role(args, &cx.play.dir, inherit, &t.loc)?;
            self.state.handlers().extra.push(handlers);
            self.check_included_roles(cx, &roles);
            if args.get("public").is_some_and(crate::boolean::truthy) {
                if let Ok(mut public) = cx.scope.public_roles.write() {
                    public.extend(roles);
                }
            }
            let role = args
                .get("name")
                .or_else(|| args.get("role"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Ok((tasks, Some(role.to_string()), None));
        }
        let file = args
            .get("file")
            .or_else(|| args.get("_raw_params"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let candidates = [inc.base_dir.join(file), cx.play.dir.join(file)];
        let path = candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .unwrap_or_else(|| inc.base_dir.join(file));
        let nodes = self
            .loader
            .include_tasks(&path, &cx.play.dir, inherit, &t.loc)?;
        Ok((nodes, None, Some(path)))
    }
}

impl Engine {
    /// The copies of roles an `include_role` loaded that are skipped on hosts where the
    /// role already ran ([`super::roles_ran`]): its role's dependencies (the role itself is
    /// loaded last, and runs again even with `allow_duplicates: false` on the include, as
    /// ansible-core 2.19 runs it) unless their meta allows duplicates.
    fn check_included_roles(&self, cx: &PlayCx<'_>, roles: &[Arc<RoleInstance>]) {
        let deps = &roles[..roles.len().saturating_sub(1)];
        let checked = deps
            .iter()
            .filter(|r| !self.loader.allows_duplicates(&r.path));
        cx.scope.roles_ran.check(checked.cloned());
    }
}

/// The parameters an included file's tasks get: the include's own (inherited) ones, its
/// arguments that are not about what to include, the loop variables, and for a role the
/// parent role names and paths.
fn include_params(
    inc: &Include,
    args: &Map<String, Value>,
    locals: Option<&IndexMap<String, Value>>,
) -> IndexMap<String, Value> {
    let t = &inc.task;
    let mut params: IndexMap<String, Value> = t.include_params.clone();
    for (k, v) in args {
        if !INCLUDE_ARGS.contains(&k.as_str()) {
            params.insert(k.clone(), v.clone());
        }
    }
    if let Some(l) = locals {
        params.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if inc.is_role {
        parent_role_params(t, &mut params);
    }
    params
}

/// `ansible_parent_role_names`/`ansible_parent_role_paths` for a role included from a
/// role: the includer first, then its own parents (`IncludeRole.get_include_params`,
/// lib/ansible/playbook/role_include.py).
fn parent_role_params(t: &Task, params: &mut IndexMap<String, Value>) {
    let Some(parent) = &t.role else {
        return;
    };
    for (key, this) in [
        ("ansible_parent_role_names", parent.fqcn()),
        (
            "ansible_parent_role_paths",
            parent.path.display().to_string(),
        ),
    ] {
        let mut list = vec![Value::String(this)];
        if let Some(Value::Array(outer)) = t.include_params.get(key) {
            list.extend(outer.iter().cloned());
        }
        params.insert(key.to_string(), Value::Array(list));
    }
}
