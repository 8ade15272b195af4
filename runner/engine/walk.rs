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
                let active = self.active_hosts(hosts);
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
                            self.run_task_on_hosts(cx, t, &active, false, ahead).await?;
                        }
                    }
                    TaskNode::Block(b) => {
                        let rescuable = !b.rescue.is_empty();
                        if rescuable {
                            self.mark_rescuable(&active, true);
                        }
                        let walked = self
                            .in_place(&active, b, "block", self.walk(cx, &b.block, &active))
                            .await;
                        if rescuable {
                            self.mark_rescuable(&active, false);
                        }
                        walked?;
                        if cx.batch.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                            return Ok(());
                        }
                        let failed_here: Vec<String> = {
                            let states = self.states.lock().expect("states lock");
                            active
                                .iter()
                                .filter(|h| {
                                    states.get(*h).is_some_and(|s| s.failed && !s.unreachable)
                                })
                                .cloned()
                                .collect()
                        };
                        if !b.rescue.is_empty() && !failed_here.is_empty() {
                            {
                                let mut states = self.states.lock().expect("states lock");
                                for h in &failed_here {
                                    if let Some(s) = states.get_mut(h) {
                                        s.failed = false;
                                        s.stats.rescued += 1;
                                        s.stats.failed = s.stats.failed.saturating_sub(1);
                                    }
                                }
                            }
                            self.in_place(
                                &failed_here,
                                b,
                                "rescue",
                                self.walk(cx, &b.rescue, &failed_here),
                            )
                            .await?;
                        }
                        if !b.always.is_empty() {
                            // `always` runs even for hosts that failed in the block or rescue.
                            let (runnable, was_failed): (Vec<String>, Vec<String>) = {
                                let mut states = self.states.lock().expect("states lock");
                                let mut run = Vec::new();
                                let mut was = Vec::new();
                                for h in &active {
                                    if let Some(s) = states.get_mut(h) {
                                        if s.unreachable || s.ended {
                                            continue;
                                        }
                                        if s.failed {
                                            was.push(h.clone());
                                            s.failed = false;
                                        }
                                        run.push(h.clone());
                                    }
                                }
                                (run, was)
                            };
                            self.in_place(
                                &runnable,
                                b,
                                "always",
                                self.walk(cx, &b.always, &runnable),
                            )
                            .await?;
                            let mut states = self.states.lock().expect("states lock");
                            for h in was_failed {
                                if let Some(s) = states.get_mut(&h) {
                                    s.failed = true;
                                }
                            }
                        }
                    }
                    TaskNode::Include(inc) => self.run_include(cx, inc, &active).await?,
                }
            }
            Ok(())
        })
    }

    /// Enter (`true`) or leave a block with a `rescue` for `hosts`.
    fn mark_rescuable(&self, hosts: &[String], enter: bool) {
        let mut states = self.states.lock().expect("states lock");
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
            "flush_handlers" => self.flush_handlers(cx, hosts).await?,
            "end_play" | "end_batch" if !chosen.is_empty() => {
                let mut states = self.states.lock().expect("states lock");
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
                let mut states = self.states.lock().expect("states lock");
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
                let mut states = self.states.lock().expect("states lock");
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
        // Resolve per host (and per loop item): which file, with which parameters.
        let mut groups: IndexMap<String, IncludeGroup> = IndexMap::new();
        for h in hosts {
            let Some(hv) = self.host_vars(&cx.scope, h) else {
                continue;
            };
            let hv = self.task_vars(hv, t);
            let items: Vec<Option<IndexMap<String, Value>>> = match &t.loop_ {
                None => vec![None],
                Some(_) => {
                    let vars: Arc<dyn Vars> = Arc::new(hv.clone());
                    match self.loop_items(t, &vars) {
                        Ok(items) => items
                            .into_iter()
                            .enumerate()
                            .map(|(i, item)| Some(self.loop_locals(t, item, i)))
                            .collect(),
                        Err(msg) => {
                            self.fail_host(t, h, msg);
                            continue;
                        }
                    }
                }
            };
            for locals in items {
                let hv = match &locals {
                    Some(l) => hv.with_locals(l.clone()),
                    None => hv.clone(),
                };
                let vars: Arc<dyn Vars> = Arc::new(hv);
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
                            when_ok = false;
                            break;
                        }
                    }
                }
                if !when_ok {
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
                        continue;
                    }
                };
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
                let key = format!(
                    "{}|{}",
                    serde_json::to_string(&args).unwrap_or_default(),
                    serde_json::to_string(&params).unwrap_or_default()
                );
                let inherit = Inherit {
                    kw: {
                        let mut kw = t.kw.clone();
                        kw.when.clear(); // already evaluated for the include itself
                        kw.vars.clear(); // task vars of the include are include params
                        kw
                    },
                    role: t.role.clone(),
                    include_params: params,
                    chain: Vec::new(),
                    include_depth: inc.depth + 1,
                };
                groups
                    .entry(key)
                    .or_insert_with(|| (inherit, args, Vec::new()))
                    .2
                    .push(h.clone());
            }
        }
        for (_, (inherit, args, group)) in groups {
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
            let nodes = if inc.is_role {
                match self
                    .loader
                    .include_role(&args, &cx.play.dir, &inherit, &t.loc)
                {
                    Ok((tasks, handlers, _roles)) => {
                        self.extra_handlers
                            .lock()
                            .expect("handlers lock")
                            .extend(handlers);
                        tasks
                    }
                    Err(e) => {
                        for h in &group {
                            self.fail_host(t, h, e.located());
                        }
                        continue;
                    }
                }
            } else {
                let file = args
                    .get("file")
                    .or_else(|| args.get("_raw_params"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let candidates = [inc.base_dir.join(&file), cx.play.dir.join(&file)];
                let path = candidates
                    .iter()
                    .find(|p| p.is_file())
                    .cloned()
                    .unwrap_or_else(|| inc.base_dir.join(&file));
                match self
                    .loader
                    .include_tasks(&path, &cx.play.dir, &inherit, &t.loc)
                {
                    Ok(n) => n,
                    Err(e) => {
                        for h in &group {
                            self.fail_host(t, h, e.located());
                        }
                        continue;
                    }
                }
            };
            self.emit_load_warnings();
            self.walk(cx, &nodes, &group).await?;
        }
        Ok(())
    }

    /// Run notified handlers for `hosts`, in definition order, until none is pending.
    pub(crate) fn flush_handlers<'a>(
        self: &'a Arc<Self>,
        cx: &'a PlayCx<'a>,
        hosts: &'a [String],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let mut handlers: Vec<TaskNode> = cx.play.handlers.clone();
            handlers.extend(
                self.extra_handlers
                    .lock()
                    .expect("handlers lock")
                    .iter()
                    .cloned(),
            );
            for _round in 0..8 {
                let mut ran_any = false;
                for node in &handlers {
                    let TaskNode::Task(h) = node else { continue };
                    let names: Vec<&str> = h
                        .name
                        .iter()
                        .map(String::as_str)
                        .chain(h.listen.iter().map(String::as_str))
                        .collect();
                    let force = self.opts.force_handlers || cx.play.force_handlers;
                    let targets: Vec<String> = {
                        let mut states = self.states.lock().expect("states lock");
                        let mut out = Vec::new();
                        for host in hosts {
                            let Some(s) = states.get_mut(host) else {
                                continue;
                            };
                            let hit = names.iter().any(|n| s.notified.contains(*n))
                                || h.name.as_ref().is_some_and(|n| {
                                    h.role.as_ref().is_some_and(|r| {
                                        s.notified.contains(&format!("{} : {}", r.name, n))
                                    })
                                });
                            // A host that cannot run the handler now (failed, unreachable)
                            // keeps the notification: the journal carries it to a resume.
                            if hit && !s.unreachable && (!s.failed || force) {
                                for n in &names {
                                    s.notified.shift_remove(*n);
                                }
                                if let (Some(n), Some(r)) = (&h.name, &h.role) {
                                    s.notified.shift_remove(&format!("{} : {}", r.name, n));
                                }
                                out.push(host.clone());
                            }
                        }
                        out
                    };
                    if targets.is_empty() {
                        continue;
                    }
                    ran_any = true;
                    self.run_task_on_hosts(cx, h, &targets, true, Arc::from([]))
                        .await?;
                }
                if !ran_any {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Mark `host` failed on task `t` with `msg`, emitting the result.
    pub(crate) fn fail_host(&self, t: &Task, host: &str, msg: String) {
        let mut result = serde_json::Map::new();
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String(msg));
        {
            let mut states = self.states.lock().expect("states lock");
            if let Some(s) = states.get_mut(host) {
                s.failed = true;
                s.stats.failed += 1;
            }
        }
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: crate::event::Status::Failed,
            item: None,
            result,
            ignored: false,
            delegated_to: None,
            duration: std::time::Duration::ZERO,
            diff: None,
        });
    }
}
