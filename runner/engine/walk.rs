//! Walking a play's task tree: blocks with rescue/always, dynamic includes, handlers.
//!
//! Why this module exists: the order in which tasks reach hosts is the strategy's whole
//! meaning. Here a task list is walked for a set of hosts: a block's `rescue` gets the hosts
//! that failed inside it, `always` gets every host that entered, includes are resolved per
//! host and grouped by file, and handlers run in definition order for the hosts that
//! notified them.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::playbook::Play;
use crate::playbook::task::{Include, Inherit, Task, TaskNode};
use crate::template::Vars;

use super::Engine;
use super::host_vars::PlayScope;

/// Hosts that include the same file with the same arguments: (inherited keywords and
/// parameters, templated arguments, hosts).
type IncludeGroup = (Inherit, serde_json::Map<String, Value>, Vec<String>);

/// How deep `include_tasks` / `include_role` may nest.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 64;

/// The play being walked.
pub(crate) struct PlayCx<'a> {
    pub play: &'a Play,
    pub scope: Arc<PlayScope>,
    /// State shared by every host of the batch.
    pub batch: Arc<BatchRun>,
    /// Walking handlers (an included handler's tasks run as handlers).
    pub handler: bool,
}

/// What the hosts of one batch share while they walk the play.
#[derive(Default)]
pub(crate) struct BatchRun {
    /// With the `free` strategy: the slots that bound how many hosts run a task at once.
    pub free: Option<FreeSlots>,
    /// Set when `max_fail_percentage` was exceeded: the play stops after this batch.
    pub stopped: std::sync::atomic::AtomicBool,
    /// Set by `meta: end_play`: no later batch of the play runs.
    pub end_play: std::sync::atomic::AtomicBool,
}

/// The `free` strategy's limits. Hosts walk the play on their own, but only `--forks` of
/// them run a task at any moment, and only `throttle` of them run a throttled task.
pub(crate) struct FreeSlots {
    pub forks: Arc<tokio::sync::Semaphore>,
    /// Per task (by location): the throttle's semaphore.
    pub throttles: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl FreeSlots {
    pub fn new(forks: usize) -> Self {
        FreeSlots {
            forks: Arc::new(tokio::sync::Semaphore::new(forks.max(1))),
            throttles: Default::default(),
        }
    }

    /// Wait for a slot to run task `key` (with its `throttle`, if any) on one host.
    pub async fn acquire(
        &self,
        key: &str,
        throttle: Option<usize>,
    ) -> Result<Vec<tokio::sync::OwnedSemaphorePermit>> {
        let mut permits = Vec::new();
        if let Some(n) = throttle {
            let sem = self
                .throttles
                .lock()
                .expect("throttles lock")
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(n.max(1))))
                .clone();
            permits.push(
                sem.acquire_owned()
                    .await
                    .map_err(|e| Error::Other(e.to_string()))?,
            );
        }
        permits.push(
            self.forks
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Other(e.to_string()))?,
        );
        Ok(permits)
    }
}

impl Engine {
    /// Run `nodes` for `hosts` (those still active), in order.
    pub(crate) fn walk<'a>(
        self: &'a Arc<Self>,
        cx: &'a PlayCx<'a>,
        nodes: &'a [TaskNode],
        hosts: &'a [String],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            for (i, node) in nodes.iter().enumerate() {
                if self.is_cancelled() {
                    return Err(Error::Interrupted);
                }
                if cx.batch.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    // max_fail_percentage stopped the play: no rescue, no always.
                    return Ok(());
                }
                let active = self.walk_hosts(cx, hosts);
                if active.is_empty() {
                    return Ok(());
                }
                match node {
                    TaskNode::Task(t) => {
                        if t.action.ends_with("meta")
                            && (t.action == "meta" || t.action.ends_with(".meta"))
                        {
                            self.run_meta(cx, t, &active).await?;
                        } else {
                            // The plain tasks that follow, whose probes may be batched
                            // with this one's.
                            let ahead: Arc<[Arc<Task>]> = nodes[i + 1..]
                                .iter()
                                .map_while(|n| match n {
                                    TaskNode::Task(t) => Some(t.clone()),
                                    _ => None,
                                })
                                .take(super::prefetch::LOOKAHEAD)
                                .collect();
                            self.run_task_on_hosts(cx, t, &active, cx.handler, ahead)
                                .await?;
                        }
                    }
                    TaskNode::Block(b) => self.walk_block(cx, b, &active).await?,
                    TaskNode::Include(inc) => self.run_include(cx, inc, &active).await?,
                }
            }
            Ok(())
        })
    }

    /// The hosts of `hosts` that still run tasks. Walking handlers under `force_handlers`
    /// (play keyword or `--force-handlers`), failed hosts do too: an included handler's
    /// tasks run for every host the flush chose (the `HANDLERS` state runs for failed hosts
    /// with `force_handlers`: `PlayIterator`, lib/ansible/executor/play_iterator.py).
    fn walk_hosts(&self, cx: &PlayCx<'_>, hosts: &[String]) -> Vec<String> {
        if !(cx.handler && (self.opts.force_handlers || cx.play.force_handlers)) {
            return self.active_hosts(hosts);
        }
        let states = self.state.hosts();
        hosts
            .iter()
            .filter(|h| states.get(*h).is_some_and(|s| !s.unreachable && !s.ended))
            .cloned()
            .collect()
    }

    /// Enter (`true`) or leave a block with a `rescue` for `hosts`.
    pub(super) fn mark_rescuable(&self, hosts: &[String], enter: bool) {
        let mut states = self.state.hosts();
        for h in hosts {
            if let Some(s) = states.get_mut(h) {
                s.rescuable = if enter {
                    s.rescuable + 1
                } else {
                    s.rescuable.saturating_sub(1)
                };
            }
        }
    }

    async fn run_meta(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        t: &Arc<Task>,
        hosts: &[String],
    ) -> Result<()> {
        let what = t
            .args
            .get("_raw_params")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !self.task_selected(t) {
            return Ok(());
        }
        let chosen = self.meta_hosts(cx, t, &what, hosts)?;
        match what.as_str() {
            "flush_handlers" => self.flush_handlers(cx, &chosen).await?,
            "end_play" | "end_batch" if !chosen.is_empty() => {
                let mut states = self.state.hosts();
                for h in hosts {
                    if let Some(s) = states.get_mut(h) {
                        s.ended = true;
                    }
                }
                if what == "end_play" {
                    // Later `serial` batches do not run either.
                    cx.batch
                        .end_play
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            "end_host" => {
                let mut states = self.state.hosts();
                for h in &chosen {
                    if let Some(s) = states.get_mut(h) {
                        s.ended = true;
                    }
                }
            }
            "clear_facts" => {
                for h in &chosen {
                    if let Some(d) = self.scope.host(h) {
                        if let Ok(mut dynamic) = d.dynamic.write() {
                            dynamic.facts.clear();
                            dynamic.gathered.clear();
                        }
                    }
                }
            }
            "clear_host_errors" => {
                let mut states = self.state.hosts();
                for s in states.values_mut() {
                    s.failed = false;
                    s.unreachable = false;
                }
            }
            "reset_connection" => {
                for h in &chosen {
                    let t = self.transports.lock().expect("transports lock").remove(h);
                    if let Some(t) = t {
                        t.close().await;
                    }
                }
            }
            _ => {} // noop, refresh_inventory, role_complete
        }
        Ok(())
    }

    async fn run_include(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        inc: &Arc<Include>,
        hosts: &[String],
    ) -> Result<()> {
        let t = &inc.task;
        if !self.task_selected(t) {
            return Ok(());
        }
        self.include_task_start(cx, t, inc.is_role, hosts);
        // Resolve per host (and per loop item): which file, with which parameters.
        let mut groups: IndexMap<String, IncludeGroup> = IndexMap::new();
        let mut labels: IndexMap<String, Value> = IndexMap::new();
        for h in hosts {
            let Some(hv) = self.host_vars(&cx.scope, h) else {
                continue;
            };
            let hv = self.task_vars(hv, t);
            let looped = t.loop_.is_some();
            // Whether the host's own result (the loop's summary) is still to report: not
            // after a failure, which reported it.
            let mut report = true;
            let mut any_item_ran = false;
            let items: Vec<Option<IndexMap<String, Value>>> = match &t.loop_ {
                None => vec![None],
                Some(_) => {
                    let vars: Arc<dyn Vars> = Arc::new(hv.clone());
                    match self.loop_items(t, &vars) {
                        Ok(items) => (0..items.len())
                            .map(|i| Some(self.loop_locals(t, &items, i)))
                            .collect(),
                        Err(_) if self.skipped_despite_loop_error(t, &vars) => {
                            // The `when` skips the whole task before its loop is templated
                            // (`TaskExecutor._run_loop`, lib/ansible/executor/task_executor.py).
                            let why = "Conditional result was False";
                            self.include_host_result(t, h, Some(why), None, false);
                            continue;
                        }
                        Err(msg) => {
                            self.fail_host(t, h, msg);
                            continue;
                        }
                    }
                }
            };
            let n_items = items.len();
            for locals in items {
                let hv = match &locals {
                    Some(l) => hv.with_locals(l.clone()),
                    None => hv.clone(),
                };
                let vars: Arc<dyn Vars> = Arc::new(hv);
                let label = locals
                    .as_ref()
                    .map(|l| self.include_item_label(t, l, &vars));
                let mut when_ok = true;
                for c in &t.kw.when {
                    match self.templar.eval_bool(c, &vars, Some(&t.loc)) {
                        Ok(true) => {}
                        Ok(false) => {
                            when_ok = false;
                            break;
                        }
                        Err(e) => {
                            self.fail_host(t, h, e.message);
                            report = false;
                            when_ok = false;
                            break;
                        }
                    }
                }
                if !when_ok {
                    if report && looped {
                        let why = "Conditional result was False";
                        self.include_host_result(t, h, Some(why), label, false);
                    }
                    continue;
                }
                let args = match self.templar.render_value(
                    &Value::Object(t.args.clone()),
                    &vars,
                    Some(&t.args_loc),
                ) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => serde_json::Map::new(),
                    Err(e) => {
                        self.fail_host(t, h, e.message);
                        report = false;
                        continue;
                    }
                };
                any_item_ran = true;
                if looped {
                    self.include_host_result(t, h, None, label.clone(), false);
                }
                let mut params: IndexMap<String, Value> = t.include_params.clone();
                for (k, v) in &args {
                    if ![
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
                    ]
                    .contains(&k.as_str())
                    {
                        params.insert(k.clone(), v.clone());
                    }
                }
                if let Some(l) = &locals {
                    params.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                if inc.is_role {
                    parent_role_params(t, &mut params);
                }
                let key = format!(
                    "{}|{}",
                    serde_json::to_string(&args).unwrap_or_default(),
                    serde_json::to_string(&params).unwrap_or_default()
                );
                let inherit = Inherit {
                    // The enclosing blocks' keywords and `apply:`; the include's own
                    // `vars` reach its tasks too (Ansible: as include parameters).
                    kw: {
                        let mut kw =
                            crate::playbook::task::merge_keywords(&inc.parent_kw, &inc.apply);
                        kw.vars = t.kw.vars.clone();
                        kw
                    },
                    role: t.role.clone(),
                    include_params: params,
                    chain: Vec::new(),
                    include_depth: inc.depth + 1,
                };
                if let Some(l) = label {
                    labels.insert(key.clone(), l);
                }
                groups
                    .entry(key)
                    .or_insert_with(|| (inherit, args, Vec::new()))
                    .2
                    .push(h.clone());
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
        // As Ansible's linear strategy: every file is loaded (and reported) before the
        // tasks of any of them run.
        let mut loaded = Vec::new();
        for (key, (inherit, args, group)) in groups {
            if inc.depth >= MAX_INCLUDE_DEPTH {
                // Each level nests the walk once more: without a bound a file that includes
                // itself overflows the stack. Ansible has none but Python's recursion limit
                // (its strategy fails with RecursionError after ~250 levels).
                for h in &group {
                    let msg = format!(
                        "{}: includes nested more than {MAX_INCLUDE_DEPTH} deep (does a file or role include itself?)",
                        t.loc
                    );
                    self.fail_host(t, h, msg);
                }
                continue;
            }
            let nodes = match self.load_include(cx, inc, &args, &inherit) {
                Ok((nodes, role, path)) => {
                    let item = labels.get(&key).cloned();
                    self.include_loaded(t, role.as_deref(), path.as_deref(), &group, item);
                    nodes
                }
                Err(e) => {
                    for h in &group {
                        self.fail_host(t, h, e.located());
                    }
                    continue;
                }
            };
            self.emit_load_warnings();
            loaded.push((nodes, group));
        }
        for (nodes, group) in loaded {
            self.walk(cx, &nodes, &group).await?;
        }
        Ok(())
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
            self.state.handlers().extra.extend(handlers);
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

    /// Mark `host` failed on task `t` with `msg`, emitting the result.
    pub(crate) fn fail_host(&self, t: &Task, host: &str, msg: String) {
        let o = super::run_state::Outcome::failed(msg);
        self.state.record(host, t, &o, false);
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: crate::event::Status::Failed,
            item: None,
            result: o.result,
            ignored: false,
            delegated_to: None,
            loop_summary: false,
            duration: std::time::Duration::ZERO,
            diff: None,
        });
    }
}

/// `ansible_parent_role_names`/`ansible_parent_role_paths` for a role included from a
/// role: the includer first, then its own parents (`IncludeRole.get_include_params`,
/// lib/ansible/playbook/role_include.py).
fn parent_role_params(t: &Task, params: &mut IndexMap<String, Value>) {
    let Some(parent) = &t.role else {
        return;
    };
    for (key, this) in [
        ("ansible_parent_role_names", parent.name.clone()),
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
