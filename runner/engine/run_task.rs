//! Running one task on a set of hosts: selection, conditions, templated arguments,
//! the module, retries, `changed_when`/`failed_when`, `register` and `notify`.
//!
//! Why this module exists: these task keywords are the bulk of Ansible's semantics and
//! they all apply around the module call, the same way for every module.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::boolean::truthy;
use crate::error::{Error, Result};
use crate::event::{Event, Status};
use crate::modules::{FactGathering, ModuleError, Registry, TaskCtx, TaskResult};
use crate::playbook::numeric;
use crate::playbook::task::Task;
use crate::template::Vars;

use super::host_vars::HostVars;
use super::resolve::{Invocation, ModuleInfo, Resolved, Resolver, Target};
use super::run_state::Outcome;
use super::walk::PlayCx;
use super::{Engine, since};

impl Engine {
    /// Whether `t` runs under `--tags`/`--skip-tags`/`--start-at-task`.
    pub(crate) fn task_selected(&self, t: &Task) -> bool {
        if !self.state.started() {
            let want = self.opts.start_at_task.as_deref().unwrap_or_default();
            if t.name.as_deref() == Some(want) || t.display_name() == want {
                self.state.start();
            } else {
                return false;
            }
        }
        tags_selected(&t.kw.tags, &self.opts.tags, &self.opts.skip_tags)
    }

    /// The host's variables with the task's own layers.
    pub(crate) fn task_vars(&self, mut hv: HostVars, t: &Task) -> HostVars {
        hv.role = t.role.clone();
        if !t.kw.vars.is_empty() {
            hv.task_vars = Arc::new(t.kw.vars.clone());
        }
        if !t.include_params.is_empty() {
            hv.include_params = Arc::new(t.include_params.clone());
        }
        hv
    }

    /// Run `t` on `hosts` (linear: all at once, bounded by forks and `throttle`, then return).
    pub(crate) async fn run_task_on_hosts(
        self: &Arc<Self>,
        cx: &PlayCx<'_>,
        t: &Arc<Task>,
        hosts: &[String],
        handler: bool,
        ahead: Arc<[Arc<Task>]>,
    ) -> Result<()> {
        // The journal: each host's key for this task; resuming, the hosts that finished
        // it in the earlier run skip it (counted before tag selection, so keys do not
        // depend on --tags).
        let resume = self.resume_filter(cx, t, hosts, handler);
        if !handler && !self.task_selected(t) {
            return Ok(());
        }
        let keys = resume.as_ref().map(|(_, k)| k);
        let hosts: &[String] = match &resume {
            Some((left, _)) if left.is_empty() => return Ok(()),
            Some((left, _)) => left,
            None => hosts,
        };
        // An included role's dependency that already ran on a host is not run there (nor
        // announced when it ran on every host), as Ansible's strategies skip it.
        let not_ran = if handler {
            None
        } else {
            cx.scope.roles_ran.hosts_left(t.role.as_ref(), hosts)
        };
        let hosts: &[String] = match &not_ran {
            Some(left) if left.is_empty() => return Ok(()),
            Some(left) => left,
            None => hosts,
        };
        // --step: asked once per task (under `free`, once per host), before it starts.
        let free_host = cx
            .batch
            .free
            .as_ref()
            .and(hosts.first().map(String::as_str));
        if !self.step_allows(t, free_host) {
            return Ok(());
        }
        let key = format!("{}|{}", cx.scope.key, t.loc);
        let throttle = self.throttle(cx, hosts.first().map(String::as_str), t)?;
        // free: wait for a fork (and a throttle slot) before this host starts the task.
        let _slots = match &cx.batch.free {
            Some(free) => Some(free.acquire(&key, throttle).await?),
            None => None,
        };
        let templated;
        let t = match self.templated_name(cx, hosts.first().map(String::as_str), t) {
            Some(named) => {
                templated = named;
                &templated
            }
            None => t,
        };
        self.emit(Event::TaskStart {
            name: t.display_name(),
            action: t.action.clone(),
            loc: t.loc.clone(),
            handler,
            hosts: if run_once_planned(t) || self.bypasses_host_loop(t) {
                1
            } else {
                hosts.len()
            },
        });
        // run_once: the first host runs it; its result is applied to all.
        let run_once = match &t.kw.run_once {
            Some(v) => self
                .keyword_bool(cx, hosts.first().map(String::as_str), t, v)
                .unwrap_or(false),
            None => false,
        };
        // An action that bypasses the host loop (`pause`) runs for the first host only, and
        // unlike `run_once` its result stays that host's.
        let targets: Vec<String> = if run_once || self.bypasses_host_loop(t) {
            hosts.iter().take(1).cloned().collect()
        } else {
            hosts.to_vec()
        };
        let limit = throttle
            .unwrap_or(self.opts.forks)
            .min(self.opts.forks)
            .max(1);
        let done = self.fan_out(&cx.scope, t, targets, limit, ahead).await?;
        let outcome = self.note_runs(t, handler, keys, done, run_once)?;
        self.share_run_once(t, hosts, keys, &outcome);
        self.after_batch(cx, t, hosts, run_once, outcome.failed_any)
    }

    /// Whether `t`'s action runs once per batch, for its first host, as Ansible's
    /// `BYPASS_HOST_LOOP` action plugins do (the module says so).
    pub(crate) fn bypasses_host_loop(&self, t: &Task) -> bool {
        self.loader.registry().bypasses_host_loop(&t.action)
    }

    /// `max_fail_percentage`, checked after every task as Ansible's linear strategy does:
    /// once more than that share of the batch has failed (failures a `rescue` will handle
    /// do not count), the rest of the batch is failed too and the play stops.
    pub(crate) fn check_max_fail(&self, cx: &PlayCx<'_>) {
        let Some(pct) = cx.play.max_fail_percentage else {
            return;
        };
        let batch = &cx.scope.batch;
        let failed = {
            let states = self.state.hosts();
            batch
                .iter()
                .filter(|h| {
                    states
                        .get(*h)
                        .is_some_and(|s| (s.failed && s.rescuable == 0) || s.unreachable)
                })
                .count()
        };
        if !batch.is_empty()
            && (failed as f64) * 100.0 / (batch.len() as f64) > pct
            && !cx.batch.stopped.swap(true, Ordering::SeqCst)
        {
            self.emit(Event::Warning {
                message: format!(
                    "{failed} of {} hosts of the batch failed, above max_fail_percentage {pct}: stopping the play",
                    batch.len()
                ),
            });
            self.fail_all(batch);
        }
    }

    /// The task's `throttle`, templated with the first host's variables: a whole number;
    /// 0 (or none) means no limit below `--forks`.
    fn throttle(&self, cx: &PlayCx<'_>, host: Option<&str>, t: &Task) -> Result<Option<usize>> {
        let Some(v) = &t.kw.throttle else {
            return Ok(None);
        };
        let v = match (v, host.and_then(|h| self.host_vars(&cx.scope, h))) {
            (Value::String(s), Some(hv)) if s.contains("{{") || s.contains("{%") => {
                let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
                self.templar
                    .render_str(s, &vars, Some(&t.loc))
                    .map_err(Error::from)?
            }
            (v, _) => v.clone(),
        };
        numeric::throttle(&v).map_err(|e| Error::invalid(&t.loc, e))
    }

    /// The task with its `name:` templated, as Ansible shows `Add the {{ minor }} repository`
    /// (with the first host's variables); `None` when the name has no template or does not
    /// render (an undefined variable: the name is shown as written).
    pub(crate) fn templated_name(
        &self,
        cx: &PlayCx<'_>,
        host: Option<&str>,
        t: &Arc<Task>,
    ) -> Option<Arc<Task>> {
        let name = t.name.as_deref().filter(|n| n.contains("{{"))?;
        let hv = self.host_vars(&cx.scope, host?)?;
        let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
        let rendered = self.templar.render_str(name, &vars, Some(&t.loc)).ok()?;
        let rendered = match rendered {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let mut named = Task::clone(t);
        named.name = Some(rendered);
        Some(Arc::new(named))
    }

    fn keyword_bool(
        &self,
        cx: &PlayCx<'_>,
        host: Option<&str>,
        t: &Task,
        v: &Value,
    ) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => {
                let Some(hv) = host.and_then(|h| self.host_vars(&cx.scope, h)) else {
                    return Ok(false);
                };
                let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
                Ok(truthy(
                    &self
                        .templar
                        .render_str(s, &vars, Some(&t.loc))
                        .map_err(Error::from)?,
                ))
            }
            other => Ok(truthy(other)),
        }
    }

    /// Run `t` on `host`, with the task known to the command reporter
    /// ([`crate::transport::report::TASK`]).
    pub(super) async fn run_on_host(
        self: &Arc<Self>,
        scope: &Arc<super::host_vars::PlayScope>,
        t: &Arc<Task>,
        host: &str,
        ahead: &[Arc<Task>],
    ) -> Result<HostRun> {
        let _running = Running::count(&self.running);
        // Only the command reporter reads the label, and `pause` (its prompt names the
        // task).
        if !self.reports_commands() && !self.bypasses_host_loop(t) {
            return self.run_on_host_inner(scope, t, host, ahead).await;
        }
        let no_log = self.host_vars(scope, host).is_some_and(|hv| {
            let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
            // A no_log that does not evaluate hides the commands too.
            self.kw_bool(&t.kw.no_log, &vars, t).unwrap_or(true)
        });
        // A result registered under a secret-looking name is censored; so are the commands
        // that produced it (their lines can carry the secret, `echo $TOKEN`).
        let label = crate::transport::report::TaskLabel {
            name: t.display_name(),
            no_log: no_log || secret_register(t),
        };
        crate::transport::report::TASK
            .scope(label, self.run_on_host_inner(scope, t, host, ahead))
            .await
    }

    async fn run_on_host_inner(
        self: &Arc<Self>,
        scope: &Arc<super::host_vars::PlayScope>,
        t: &Arc<Task>,
        host: &str,
        ahead: &[Arc<Task>],
    ) -> Result<HostRun> {
        let t0 = Instant::now();
        let Some(hv) = self.host_vars(scope, host) else {
            return Ok(HostRun::default());
        };
        if let Some(role) = &t.role {
            scope.roles_ran.note(host, role);
        }
        let hv = self.task_vars(hv, t);
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        let no_log = self.kw_bool(&t.kw.no_log, &vars, t).unwrap_or(false);
        self.prefetch_probes(scope, t, ahead, host).await;
        if t.loop_.is_some() {
            return self.run_loop(scope, t, host, &hv, (t0, no_log)).await;
        }
        let mut o = self.run_once_item(t, host, &hv).await;
        self.divert_delegated_facts(t, &vars, &mut o.result);
        let notify = self.render_notify(t, &vars);
        if o.status == Status::Changed {
            self.check_handlers_exist(scope, host, t, &notify)?;
        }
        let run = self.finish(Finished::new(t, host, o, t0, no_log));
        self.note_notify(host, &run, notify);
        Ok(run)
    }

    /// The task's `notify` names, templated with the host's (and the loop item's)
    /// variables: Ansible templates `notify` per item before the result carries it
    /// (`lib/ansible/executor/task_executor.py`, `_ansible_notify`). A name that does not
    /// render stays as written.
    pub(super) fn render_notify(&self, t: &Task, vars: &Arc<dyn Vars>) -> Vec<String> {
        t.notify
            .iter()
            .map(|n| {
                if !crate::playbook::task::is_templated(n) {
                    return n.clone();
                }
                match self.templar.render_str(n, vars, Some(&t.loc)) {
                    Ok(Value::String(s)) => s,
                    Ok(other) => other.to_string(),
                    Err(_) => n.clone(),
                }
            })
            .collect()
    }

    /// A changed task notifies its handlers on `host` (resolved at the next flush).
    pub(super) fn note_notify(&self, host: &str, run: &HostRun, names: Vec<String>) {
        if !run.notified {
            return;
        }
        let mut states = self.state.hosts();
        if let Some(s) = states.get_mut(host) {
            s.notified.extend(names);
        }
    }

    /// Record a host's finished task ([`RunState::record`]), keep what it set (facts,
    /// its registered result) and report it (as the loop summary when it is one: the
    /// items were reported already).
    pub(super) fn finish(&self, f: Finished<'_>) -> HostRun {
        let Finished {
            task: t,
            host,
            outcome: mut o,
            started,
            no_log,
            loop_summary,
        } = f;
        let delegated_to = take_delegated(&mut o.result);
        let counted = self.state.record(host, t, &o, no_log);
        let mut run = HostRun {
            failed: counted.failed,
            journal_ok: matches!(o.status, Status::Ok | Status::Changed | Status::Skipped)
                && !no_log
                && !(self.journal.get().is_some() && journal_masks(t, &o.result)),
            notified: o.status == Status::Changed && !t.notify.is_empty(),
            ..HostRun::default()
        };
        self.keep_vars(t, host, &o, counted.rescuing, &mut run);
        let no_diff = no_log || secret_register(t) || loop_summary;
        let diff = if no_diff { Vec::new() } else { o.diffs.clone() };
        let mut result = shown(t, &o.result, no_log);
        if loop_summary {
            censor_items(&o.result, &mut result);
        }
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: t.display_name(),
            status: o.status,
            item: None,
            result,
            ignored: o.ignored,
            delegated_to,
            loop_summary,
            duration: since(started),
            diff,
        });
        run
    }

    /// What a finished task leaves in the host's variables: its facts, its registered
    /// result, and in a rescue what failed.
    fn keep_vars(&self, t: &Task, host: &str, o: &Outcome, rescuing: bool, run: &mut HostRun) {
        let Some(d) = self.scope.host(host) else {
            return;
        };
        let Ok(mut dynamic) = d.dynamic.write() else {
            return;
        };
        let gathering = self.fact_gathering(t);
        if let Some(Value::Object(f)) = o.result.get("ansible_facts") {
            keep_facts(t, gathering, &mut dynamic, o, f);
            run.facts = Some(Value::Object(f.clone()));
        }
        if rescuing {
            // A rescue (and what follows) sees what failed, as Ansible's non-persistent
            // facts (`lib/ansible/plugins/strategy/__init__.py`,
            // `ansible_failed_task`/`ansible_failed_result`).
            dynamic
                .set_facts
                .insert("ansible_failed_task".into(), failed_task(t));
            dynamic.set_facts.insert(
                "ansible_failed_result".into(),
                Value::Object(o.result.clone()),
            );
        }
        if let Some(name) = &t.register {
            let mut r = o.result.clone();
            r.remove("_ansible_facts_cacheable");
            // A module's `invocation` stays in its result, not in what it registers
            // (plugins/strategy/__init__.py deletes it from the registered copy).
            r.remove("invocation");
            // Ansible keeps `ansible_facts` in a registered result (setup's under the names
            // the module gave them: lib/ansible/executor/task_executor.py registers the
            // module's result as it came).
            if let Some(g) = gathering {
                g.registered(&mut r);
            }
            let v = Value::Object(r);
            dynamic.set_facts.insert(name.clone(), v.clone());
            run.registered = Some(v);
        }
    }

    /// How the task's module keeps the host facts it gathers, if it gathers them.
    pub(super) fn fact_gathering(&self, t: &Task) -> Option<&dyn FactGathering> {
        self.loader
            .registry()
            .get(&t.action)
            .and_then(|m| m.fact_gathering())
    }

    /// What resolving a task reads of this run: the templating engine and the options.
    pub(crate) fn resolver(&self) -> Resolver<'_> {
        Resolver {
            templar: &self.templar,
            opts: &self.opts,
            omit: &self.scope.omit,
        }
    }

    /// A boolean keyword, templated (see [`Resolver::kw_bool`]).
    pub(crate) fn kw_bool(
        &self,
        v: &Option<Value>,
        vars: &Arc<dyn Vars>,
        t: &Task,
    ) -> Result<bool, String> {
        self.resolver().kw_bool(v, vars, t)
    }

    /// A string keyword, templated (see [`Resolver::kw_string`]).
    pub(crate) fn kw_string(
        &self,
        v: &Option<Value>,
        vars: &Arc<dyn Vars>,
        t: &Task,
    ) -> Result<Option<String>, String> {
        self.resolver().kw_string(v, vars, t)
    }

    /// One execution of the task on one host (one loop item): `when`, arguments, module,
    /// `until` retries, `changed_when`/`failed_when`, `ignore_errors`.
    pub(super) async fn run_once_item(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        hv: &HostVars,
    ) -> Outcome {
        match self.try_run_once_item(t, host, hv).await {
            Ok(o) => o,
            Err(msg) => {
                let vars: Arc<dyn Vars> = Arc::new(hv.clone());
                let ignored = self.kw_bool(&t.kw.ignore_errors, &vars, t).unwrap_or(false);
                Outcome::new(Status::Failed, fail_result(msg), ignored)
            }
        }
    }

    /// The skipped outcome when one of the task's `when` conditions is false.
    pub(super) fn when_skips(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
    ) -> Result<Option<Outcome>, String> {
        let condition = self
            .resolver()
            .false_condition(t, vars)
            .map_err(|e| e.to_string())?;
        Ok(condition.map(skipped_outcome))
    }

    /// Whether a task whose loop did not template is skipped by its `when` (evaluated
    /// without the item): Ansible keeps the loop's error and raises it only if the
    /// conditions hold (`_loop_eval_error` in `lib/ansible/executor/task_executor.py`).
    pub(crate) fn skipped_despite_loop_error(&self, t: &Task, vars: &Arc<dyn Vars>) -> bool {
        matches!(self.when_skips(t, vars), Ok(Some(_)))
    }

    /// Resolve the task for the host ([`Resolver::resolve`]), then run the module on the
    /// target the invocation names. Engine actions (and unknown modules) are not resolved:
    /// only their `when` applies first.
    async fn try_run_once_item(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        hv: &HostVars,
    ) -> Result<Outcome, String> {
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        let action = t.action.as_str();
        let module = match self.loader.registry().module(action) {
            Some(m) if !Registry::is_engine_action(action) => m,
            _ => {
                // (delegate_to is templated before `when`, as for a module: Resolver::resolve)
                let delegate = self.kw_string(&t.kw.delegate_to, &vars, t)?;
                if let Some(skipped) = self.when_skips(t, &vars)? {
                    return Ok(skipped);
                }
                return self.run_engine_action(t, host, hv, &delegate).await;
            }
        };
        let info = ModuleInfo {
            name: module.name(),
            controller_only: module.controller_only(),
        };
        let target_vars = |d: &str| -> Arc<dyn Vars> { Arc::new(self.delegate_vars(hv, d)) };
        let resolved = self
            .resolver()
            .resolve(t, host, &vars, info, &target_vars)
            .map_err(|e| e.to_string())?;
        let inv = match resolved {
            Resolved::Skip(condition) => return Ok(skipped_outcome(condition)),
            Resolved::Run(inv) => inv,
        };
        let transport = self.target_transport(hv, &inv.target, &t.loc)?;
        self.run_attempts(t, host, hv, &module, &inv, transport)
            .await
    }

    /// An engine action (`include_vars`, `add_host`, `group_by`), its result marked with
    /// the delegate (`delegate`, templated) when it ran; any other unknown action is an
    /// error.
    async fn run_engine_action(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        hv: &HostVars,
        delegate: &Option<String>,
    ) -> Result<Outcome, String> {
        if !Registry::is_engine_action(&t.action) {
            return Err(format!("unknown module `{}`", t.action));
        }
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        let mut o = self.engine_action(t, host, &vars).await?;
        if o.status != Status::Skipped {
            self.engine_changed_failed_when(t, hv, &mut o)?;
            mark_delegated(&mut o.result, delegate);
        }
        Ok(o)
    }

    /// `changed_when` and `failed_when` on an engine action's result, as Ansible's strategy
    /// applies them to add_host's and group_by's (`StrategyBase._process_pending_results`)
    /// and its task executor to include_vars'.
    fn engine_changed_failed_when(
        &self,
        t: &Task,
        hv: &HostVars,
        o: &mut Outcome,
    ) -> Result<(), String> {
        let rvars = registered_vars(t, hv, &o.result);
        let (changed, failed) = self.changed_failed_when(t, &rvars)?;
        if let Some(changed) = changed {
            o.result.insert("changed".into(), Value::Bool(changed));
            o.changed = changed;
            o.status = if changed { Status::Changed } else { Status::Ok };
        }
        if let Some(failed) = failed {
            o.result
                .insert("failed_when_result".into(), Value::Bool(failed));
            if failed {
                // (Ansible counted the result before the strategy applied failed_when: an
                // ignored failure here is not also a change in the recap)
                o.result.insert("failed".into(), Value::Bool(true));
                o.changed = false;
                o.status = Status::Failed;
                o.ignored = self.kw_bool(&t.kw.ignore_errors, &rvars, t)?;
            }
        }
        Ok(())
    }

    /// The connection an invocation's commands go over.
    fn target_transport(
        &self,
        hv: &HostVars,
        target: &Target,
        loc: &crate::error::Loc,
    ) -> Result<Arc<dyn crate::transport::Transport>, String> {
        match target {
            Target::Controller => Ok(Arc::new(crate::transport::local::LocalTransport::new())),
            Target::Host(h) => self.transport(h, hv, loc),
            Target::Delegate(d) => self.transport(d, &self.delegate_vars(hv, d), loc),
        }
    }

    /// Run the module as `inv` says, again while `until` (or, with retries and no `until`,
    /// a failure) asks for it, as `executor/task_executor.py` (`_execute`): the result
    /// carries `attempts` once there are retries.
    async fn run_attempts(
        self: &Arc<Self>,
        t: &Task,
        host: &str,
        hv: &HostVars,
        module: &Arc<dyn crate::modules::Module>,
        inv: &Invocation,
        transport: Arc<dyn crate::transport::Transport>,
    ) -> Result<Outcome, String> {
        let vars: Arc<dyn Vars> = Arc::new(hv.clone());
        let retries = inv.retry.retries;
        let job = self.async_spec(t, &vars)?;
        let mut attempt = 0usize;
        loop {
            attempt += 1;
            let mut ctx = self.task_ctx(host, inv, &vars, transport.clone());
            if let Some(d) = &inv.delegate_to {
                ctx.delegate = Some(crate::modules::TaskDelegate {
                    name: d.clone(),
                    vars: Arc::new(self.delegate_vars(hv, d)),
                    facts: self.kw_bool(&t.kw.delegate_facts, &vars, t)?,
                });
            }
            self.emit_module(t, host, module.as_ref());
            let run = match job {
                Some(spec) => {
                    super::async_job::run(&ctx, module.as_ref(), inv.args.clone(), spec).await
                }
                None => module.run(&ctx, inv.args.clone()).await,
            };
            let mut result = match run {
                Ok(r) => r,
                Err(ModuleError::Unreachable(msg)) => {
                    return self.unreachable_outcome(t, &vars, msg, &inv.delegate_to);
                }
                Err(ModuleError::Failed(msg)) => TaskResult::failure(msg),
            };
            complete_result(&mut result, retries, attempt);
            let rvars = registered_vars(t, hv, &result.registered());
            // As Ansible: a result the module skipped (a command in check mode) did not run,
            // so changed_when/failed_when/until, which look at its output, are not evaluated.
            let skipped = result.skipped();
            if !skipped {
                self.apply_changed_failed_when(t, &rvars, &mut result)?;
            }
            if retries > 0 && !skipped {
                let done = self.until_met(t, &rvars, &result)?;
                result.insert("attempts", Value::from(attempt));
                if !done && attempt <= retries {
                    self.emit_retry(t, host, attempt, retries, &inv.delegate_to);
                    tokio::time::sleep(inv.retry.delay).await;
                    continue;
                }
                if !done {
                    retries_exhausted(&mut result, retries);
                }
            }
            return self.final_outcome(t, &vars, result, &inv.delegate_to);
        }
    }

    /// The task's `async` and `poll`, when it runs as a background job (`async` > 0).
    fn async_spec(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
    ) -> Result<Option<super::async_job::AsyncSpec>, String> {
        let Some(v) = &t.async_ else {
            return Ok(None);
        };
        let Some(limit) = numeric::timeout("async", &self.resolver().render_kw(v, vars, t)?)?
        else {
            return Ok(None);
        };
        let poll = match &t.poll {
            Some(p) => numeric::timeout("poll", &self.resolver().render_kw(p, vars, t)?)?
                .unwrap_or_default(),
            None => super::async_job::DEFAULT_POLL,
        };
        Ok(Some(super::async_job::AsyncSpec { limit, poll }))
    }

    /// What a module gets for one run.
    pub(crate) fn task_ctx<'a>(
        &'a self,
        host: &'a str,
        inv: &Invocation,
        vars: &Arc<dyn Vars>,
        transport: Arc<dyn crate::transport::Transport>,
    ) -> TaskCtx<'a> {
        TaskCtx {
            host,
            transport,
            check: inv.check,
            diff: inv.diff,
            become_: inv.become_.clone(),
            env: inv.env.clone(),
            vars: vars.clone(),
            templar: &self.templar,
            timeout: inv.timeout,
            changed_before: self
                .state
                .hosts()
                .get(host)
                .is_some_and(|s| s.stats.changed > 0),
            verbosity: self.opts.verbosity,
            remote_tmp: inv.remote_tmp.clone(),
            no_log: inv.no_log,
            delegate: None,
        }
    }

    /// The outcome when the target could not be reached (`ignore_unreachable` applies).
    fn unreachable_outcome(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        msg: String,
        delegate: &Option<String>,
    ) -> Result<Outcome, String> {
        let ignore = self.kw_bool(&t.kw.ignore_unreachable, vars, t)?;
        let mut r = Map::new();
        r.insert("unreachable".into(), Value::Bool(true));
        r.insert("changed".into(), Value::Bool(false));
        r.insert("msg".into(), Value::String(msg));
        mark_delegated(&mut r, delegate);
        Ok(Outcome::new(Status::Unreachable, r, ignore))
    }

    /// `changed_when` and `failed_when` (each: all conditions must hold), on the result
    /// visible under the register name.
    fn apply_changed_failed_when(
        &self,
        t: &Task,
        rvars: &Arc<dyn Vars>,
        result: &mut TaskResult,
    ) -> Result<(), String> {
        let (changed, failed) = self.changed_failed_when(t, rvars)?;
        if let Some(changed) = changed {
            result.set_changed(changed);
        }
        if let Some(failed) = failed {
            result.insert("failed_when_result", Value::Bool(failed));
            result.set_failed(failed);
            if !failed {
                result.clear_msg();
            }
        }
        Ok(())
    }

    /// What the task's `changed_when` and `failed_when` say of a result (`rvars`: the
    /// variables with it registered), each `None` when the task has none; an empty
    /// `failed_when` list never fails.
    fn changed_failed_when(
        &self,
        t: &Task,
        rvars: &Arc<dyn Vars>,
    ) -> Result<(Option<bool>, Option<bool>), String> {
        let changed = match &t.changed_when {
            Some(conds) => Some(self.all_hold(t, rvars, conds, "changed_when")?),
            None => None,
        };
        let failed = match &t.failed_when {
            Some(conds) => {
                Some(!conds.is_empty() && self.all_hold(t, rvars, conds, "failed_when")?)
            }
            None => None,
        };
        Ok((changed, failed))
    }

    /// Whether the retries may stop: `until` holds, or without `until` the run did not fail.
    fn until_met(
        &self,
        t: &Task,
        rvars: &Arc<dyn Vars>,
        result: &TaskResult,
    ) -> Result<bool, String> {
        match &t.until {
            Some(conds) => self.all_hold(t, rvars, conds, "until"),
            None => Ok(!result.failed()),
        }
    }

    /// Whether every condition holds (all are evaluated: an error in any is the task's).
    fn all_hold(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        conds: &[String],
        what: &str,
    ) -> Result<bool, String> {
        let mut all = true;
        for c in conds {
            all &= self
                .templar
                .eval_bool(c, vars, Some(&t.loc))
                .map_err(|e| format!("{what}: {}", e.message))?;
        }
        Ok(all)
    }

    /// [`Event::Module`]: which implementation runs the task's module now (native, or the
    /// Ansible module file the bridge packages), when commands are reported (`-vvv`).
    fn emit_module(&self, t: &Task, host: &str, module: &dyn crate::modules::Module) {
        if !self.reports_commands() {
            return;
        }
        self.emit(Event::Module {
            host: host.to_string(),
            task: t.display_name(),
            module: module.name().to_string(),
            path: module.ansible_file().map(str::to_string),
        });
    }

    /// As Ansible's task_executor.py sends `v2_runner_retry`: with the runs left (its
    /// `retries` counts the first run too).
    fn emit_retry(
        &self,
        t: &Task,
        host: &str,
        attempt: usize,
        retries: usize,
        delegate: &Option<String>,
    ) {
        self.emit(Event::Retry {
            host: host.to_string(),
            task: t.name.clone().unwrap_or_else(|| t.display_name()),
            attempt: attempt as u32,
            retries_left: (retries + 1 - attempt) as u32,
            delegated_to: delegate.clone(),
        });
    }

    /// The status the final result gives (`ignore_errors` applies to a failure).
    fn final_outcome(
        &self,
        t: &Task,
        vars: &Arc<dyn Vars>,
        result: TaskResult,
        delegate: &Option<String>,
    ) -> Result<Outcome, String> {
        let ignored = result.failed() && self.kw_bool(&t.kw.ignore_errors, vars, t)?;
        let mut o = Outcome::of(&result, ignored);
        mark_delegated(&mut o.result, delegate);
        Ok(o)
    }

    /// Variables used to connect to a delegate: the delegate's own connection variables.
    fn delegate_vars(&self, hv: &HostVars, target: &str) -> HostVars {
        match self.scope.host(target) {
            Some(data) => HostVars::new(self.scope.clone(), data, hv.play.clone()),
            None => {
                let mut inv = IndexMap::new();
                if target == "localhost" || target == "127.0.0.1" {
                    inv.insert(
                        "ansible_connection".to_string(),
                        Value::String("local".into()),
                    );
                }
                let data = Arc::new(super::host_vars::HostData {
                    name: target.to_string(),
                    inventory: Arc::new(inv),
                    group_names: Vec::new(),
                    source: None,
                    dynamic: Default::default(),
                });
                HostVars::new(self.scope.clone(), data, hv.play.clone())
            }
        }
    }
}

/// The failed task as `ansible_failed_task` shows it (the fields of Ansible's
/// `Task.serialize()` that content reads).
fn failed_task(t: &Task) -> Value {
    let mut m = Map::new();
    m.insert(
        "name".into(),
        Value::String(t.name.clone().unwrap_or_default()),
    );
    m.insert("action".into(), Value::String(t.action.clone()));
    m.insert("args".into(), Value::Object(t.args.clone()));
    m.insert(
        "tags".into(),
        Value::Array(t.kw.tags.iter().cloned().map(Value::String).collect()),
    );
    m.insert(
        "when".into(),
        Value::Array(t.kw.when.iter().cloned().map(Value::String).collect()),
    );
    Value::Object(m)
}

/// Whether the journal masks anything the task set (its registered result, its facts):
/// such a task is not recorded as finished, so a resume runs it again instead of
/// restoring a masked value (crate::journal::mask).
fn journal_masks(t: &Task, result: &Map<String, Value>) -> bool {
    let registered = t
        .register
        .as_deref()
        .is_some_and(|name| crate::journal::var_masked(name, &Value::Object(result.clone())));
    registered
        || result
            .get("ansible_facts")
            .and_then(Value::as_object)
            .is_some_and(|f| f.iter().any(|(k, v)| crate::journal::var_masked(k, v)))
}

/// The names a handler answers to: its name, `role : name`, its `listen` topics.
pub(super) fn handler_names(t: &Task) -> Vec<String> {
    let mut names: Vec<String> = t.name.iter().chain(t.listen.iter()).cloned().collect();
    if let (Some(n), Some(r)) = (&t.name, &t.role) {
        names.push(format!("{} : {}", r.name, n));
        if r.collection.is_some() {
            names.push(format!("{} : {}", r.fqcn(), n));
        }
    }
    names
}

/// Whether the task is marked `run_once: true` literally (for the host count of its start).
fn run_once_planned(t: &Task) -> bool {
    matches!(t.kw.run_once, Some(Value::Bool(true)))
}

/// What the engine keeps from one host's run of a task.
#[derive(Default)]
pub(super) struct HostRun {
    pub(super) failed: bool,
    /// Finished in a way the journal may record (not failed, nothing secret to restore).
    pub(super) journal_ok: bool,
    /// Changed, so its `notify` handlers were notified.
    pub(super) notified: bool,
    pub(super) registered: Option<Value>,
    pub(super) facts: Option<Value>,
}

/// A host's finished task, for [`Engine::finish`].
pub(super) struct Finished<'a> {
    task: &'a Task,
    host: &'a str,
    outcome: Outcome,
    /// When the host started the task.
    started: Instant,
    no_log: bool,
    /// The loop's summary, reported after its items.
    loop_summary: bool,
}

impl<'a> Finished<'a> {
    pub(super) fn new(
        task: &'a Task,
        host: &'a str,
        outcome: Outcome,
        started: Instant,
        no_log: bool,
    ) -> Self {
        Finished {
            task,
            host,
            outcome,
            started,
            no_log,
            loop_summary: false,
        }
    }

    /// As a loop's summary (its items were reported already).
    pub(super) fn loop_summary(self) -> Self {
        Finished {
            loop_summary: true,
            ..self
        }
    }
}

/// A task's facts into the host's: gathered facts (and which collectors this host now
/// has, for the per-run fact cache), or a task's own facts (`set_fact`, `include_vars`…).
fn keep_facts(
    t: &Task,
    gathering: Option<&dyn FactGathering>,
    dynamic: &mut super::host_vars::Dynamic,
    o: &Outcome,
    f: &Map<String, Value>,
) {
    let Some(g) = gathering else {
        let cacheable = o
            .result
            .get("_ansible_facts_cacheable")
            .is_some_and(|c| c == &Value::Bool(true));
        dynamic.store_task_facts(&t.action, f, cacheable);
        return;
    };
    // A filtered gathering does not count for the cache: it kept only some facts.
    if !t.args.contains_key("filter") {
        if let Some(Value::Array(subsets)) = f.get("gather_subset") {
            // The fact holds the subsets as given; the cache keeps collectors.
            let given: Vec<String> = subsets
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            if let Some(c) = g.collectors(&given) {
                dynamic.gathered.extend(c.into_iter().map(str::to_string));
            }
        }
    }
    for (k, v) in f {
        dynamic.facts.insert(g.stored_name(k), v.clone());
    }
    // The gather_facts action (also the play's implicit gathering) marks the facts
    // gathered (lib/ansible/plugins/action/gather_facts.py); a plain `setup` task does not.
    if t.action.rsplit('.').next() == Some("gather_facts") {
        dynamic
            .facts
            .insert("_ansible_facts_gathered".into(), Value::Bool(true));
    }
}

/// A censored loop summary keeps its shape, its items censored too (as Ansible's
/// task_result.py `as_callback_task_result`), so sinks still see a loop.
fn censor_items(result: &Map<String, Value>, shown: &mut Map<String, Value>) {
    if let (Some(Value::Array(items)), false) =
        (result.get("results"), shown.contains_key("results"))
    {
        let items = items
            .iter()
            .map(|i| match i {
                Value::Object(m) => Value::Object(censored(m)),
                other => other.clone(),
            })
            .collect();
        shown.insert("results".into(), Value::Array(items));
    }
}

/// The skipped outcome of a false `when` condition.
fn skipped_outcome(condition: String) -> Outcome {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("skipped".into(), Value::Bool(true));
    r.insert(
        "skip_reason".into(),
        Value::String("Conditional result was False".into()),
    );
    r.insert("false_condition".into(), Value::String(condition));
    Outcome::new(Status::Skipped, r, false)
}

/// A module's result as task_executor.py completes it ([`TaskResult::complete`]), with
/// `attempts` once there are retries (available to changed_when/failed_when already).
fn complete_result(result: &mut TaskResult, retries: usize, attempt: usize) {
    result.complete();
    if retries > 0 {
        result.insert("attempts", Value::from(attempt));
    }
}

/// The variables changed_when/failed_when/until see: the result under the register name too.
fn registered_vars(t: &Task, hv: &HostVars, result: &Map<String, Value>) -> Arc<dyn Vars> {
    let mut l = IndexMap::new();
    if let Some(name) = &t.register {
        l.insert(name.clone(), Value::Object(result.clone()));
    }
    Arc::new(hv.with_locals(l))
}

/// Retries ran out: the result fails; Ansible reports one attempt less than it ran.
fn retries_exhausted(result: &mut TaskResult, retries: usize) {
    result.insert("attempts", Value::from(retries));
    result.set_failed(true);
    result.default_msg(format!("retries exhausted ({retries})"));
}

pub(super) fn fail_result(msg: String) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("failed".into(), Value::Bool(true));
    r.insert("changed".into(), Value::Bool(false));
    r.insert("msg".into(), Value::String(msg));
    r
}

/// What a loop item is shown as when its result is hidden.
pub(super) const CENSORED_ITEM: &str = "(censored due to no_log)";

/// Whether the task registers its result under a name that looks like a secret.
pub(crate) fn secret_register(t: &Task) -> bool {
    t.register
        .as_deref()
        .is_some_and(crate::journal::secret_like)
}

/// A result as the sinks may see it: censored for `no_log` tasks and results registered
/// under a secret-looking name; otherwise with the values of secret-looking facts
/// (`set_fact: db_password=…`) masked.
pub(super) fn shown(t: &Task, r: &Map<String, Value>, no_log: bool) -> Map<String, Value> {
    if no_log || secret_register(t) {
        return censored(r);
    }
    let mut out = r.clone();
    if let Some(Value::Object(facts)) = out.get_mut("ansible_facts") {
        for (k, v) in facts.iter_mut() {
            if crate::journal::secret_like(k) {
                *v = Value::String("********".into());
            }
        }
    }
    out
}

/// Where a delegated task ran, kept in its result as Ansible keeps it
/// (`_ansible_delegated_vars.ansible_delegated_host`, set by `TaskExecutor._execute` in
/// task_executor.py once the task ran: not for a `when` that skipped it).
fn mark_delegated(r: &mut Map<String, Value>, delegate: &Option<String>) {
    if let Some(d) = delegate {
        let mut dv = Map::new();
        dv.insert("ansible_delegated_host".into(), Value::String(d.clone()));
        r.insert("_ansible_delegated_vars".into(), Value::Object(dv));
    }
}

/// Take the delegate out of a result (for the event's `delegated_to`): like Ansible's
/// internal keys, it is not part of what a task registers.
pub(super) fn take_delegated(r: &mut Map<String, Value>) -> Option<String> {
    match r.remove("_ansible_delegated_vars") {
        Some(Value::Object(mut dv)) => match dv.remove("ansible_delegated_host") {
            Some(Value::String(d)) => Some(d),
            _ => None,
        },
        _ => None,
    }
}

fn censored(r: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("censored".into(), Value::String("the output has been hidden due to the fact that 'no_log: true' was specified for this result".into()));
    for k in ["changed", "failed", "skipped"] {
        if let Some(v) = r.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out
}

/// Whether a task with `tags` runs under `--tags` `only` and `--skip-tags` `skip`
/// (playbook/taggable.py `evaluate_tags`; also what the `--list-*` options show).
pub(crate) fn tags_selected(tags: &BTreeSet<String>, only: &[String], skip: &[String]) -> bool {
    if skip.iter().any(|s| {
        tags.contains(s)
            || (s == "tagged" && !tags.is_empty())
            || (s == "untagged" && tags.is_empty())
    }) {
        return false;
    }
    let explicit = |tag: &str| only.iter().any(|o| o == tag);
    if tags.contains("never")
        && !tags.iter().any(|t| t != "never" && explicit(t))
        && !explicit("never")
    {
        return false;
    }
    if only.is_empty() || explicit("all") {
        return true;
    }
    if tags.contains("always") && !skip.iter().any(|s| s == "always") {
        return true;
    }
    tags.iter().any(|t| explicit(t))
        || (explicit("tagged") && !tags.is_empty())
        || (explicit("untagged") && tags.is_empty())
}

/// A host's task counted as running for as long as this lives: an abort gives the tasks
/// it cut off a moment to report before it prints the recap.
struct Running<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Running<'a> {
    fn count(n: &'a std::sync::atomic::AtomicUsize) -> Self {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Running(n)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
