//! The engine: runs loaded plays against an inventory and emits [`Event`]s.
//!
//! Why this module exists: this is the "apply" end of the pipeline. It owns the run's
//! state (which hosts failed, which handlers are pending, per-host stats), walks each
//! play's task tree in batches (`serial`) with the `linear` or `free` strategy, runs tasks
//! on many hosts at once (bounded by `--forks`), and reports everything as events. A
//! host's failure is an event; only bad options or bad input stop the run.

mod abs_path;
mod async_job;
mod block;
mod delegate_facts;
mod engine_actions;
mod fan_out;
mod handlers;
mod host_carry;
mod step;
pub(crate) use host_carry::CarriedHosts;
pub use step::Stepper;
pub(crate) mod host_vars;
mod include;
mod include_report;
mod loop_vars;
mod meta_hosts;
mod play;
mod prefetch;
mod resolve;
mod resume;
mod roles_ran;
mod run_once;
mod run_state;
mod run_task;
pub(crate) use run_task::tags_selected;
mod task_loop;
mod walk;
mod with_lookup;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Loc, Result};
use crate::event::{Event, EventSink, HostStats};
use crate::inventory::Inventory;
use crate::playbook::{Loader, Play, Playbook, Serial};
use crate::template::{Templar, Vars};
use crate::transport::spec::ConnectionOverrides;
use crate::transport::{Connector, Transport};

use host_vars::{Dynamic, HostData, HostVars, Layer, PlayScope, RunScope};
use run_state::RunState;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// `--check`.
    pub check: bool,
    /// `--diff`.
    pub diff: bool,
    /// `--forks` (default 50).
    pub forks: usize,
    /// `--tags` (empty: all).
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--limit` pattern.
    pub limit: Option<String>,
    /// `--start-at-task`.
    pub start_at_task: Option<String>,
    /// `-e` variables.
    pub extra_vars: IndexMap<String, Value>,
    /// `--force-handlers`.
    pub force_handlers: bool,
    /// `-v` count.
    pub verbosity: u8,
    /// Connection settings from the command line.
    pub connection: ConnectionOverrides,
    /// The sudo password for `become`, if any.
    pub become_password: Option<String>,
    /// The defaults of the `become*` keywords (`-b`, `--become-user`, `--become-method`,
    /// ansible.cfg `[privilege_escalation]`): a keyword or variable that is set wins.
    pub become_defaults: crate::become_defaults::BecomeDefaults,
    /// Take a lock on every SSH host so two runs never race on one host (the CLI turns it
    /// on; off by default for embedders and tests that run concurrently on purpose).
    pub host_lock: bool,
    /// Remove an existing host lock first (`--break-lock`).
    pub break_lock: bool,
    /// Run the probes of upcoming tasks together, one round trip per host, and answer each
    /// task's probe from that batch while nothing has changed the host since
    /// (`crate::transport::probe_cache`); SSH hosts only. On by default
    /// (`--no-probe-batching` turns it off).
    pub batch_probes: bool,
    /// Report every command sent to a host as an [`Event::Command`] (on from `-vvv`;
    /// embedders may ask for it at any verbosity). `no_log` tasks' lines are censored.
    pub report_commands: bool,
    /// `remote_tmp` from the configuration: where modules keep scratch files on hosts
    /// (`None`: `~/.ansible/tmp`). A host's `ansible_remote_tmp` wins.
    pub remote_tmp: Option<String>,
    /// `--step`: asked before each task whether to run it (`None`: every task runs).
    pub step: Option<Arc<dyn Stepper>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            check: false,
            diff: false,
            forks: 50,
            tags: Vec::new(),
            skip_tags: Vec::new(),
            limit: None,
            start_at_task: None,
            extra_vars: IndexMap::new(),
            force_handlers: false,
            verbosity: 0,
            connection: ConnectionOverrides::default(),
            become_password: None,
            become_defaults: Default::default(),
            host_lock: false,
            break_lock: false,
            batch_probes: true,
            report_commands: false,
            remote_tmp: None,
            step: None,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Per-host totals, in inventory order.
    pub stats: Vec<(String, HostStats)>,
    /// The process exit code ansible-playbook would give.
    pub exit_code: i32,
}

/// One run of a playbook.
pub struct Engine {
    pub(crate) opts: RunOptions,
    pub(crate) templar: Templar,
    pub(crate) loader: Arc<Loader>,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) inventory: Mutex<Inventory>,
    pub(crate) scope: Arc<RunScope>,
    pub(crate) transports: Mutex<HashMap<String, Arc<dyn Transport>>>,
    pub(crate) sink: Arc<Mutex<Box<dyn EventSink>>>,
    /// The run journal, when one is kept.
    pub(crate) journal: std::sync::OnceLock<Arc<crate::journal::Journal>>,
    /// Who this run is, for host locks.
    pub(crate) lock_owner: crate::transport::host_lock::LockOwner,
    /// Set by [`Engine::cancel`]: no new task starts.
    pub(crate) cancelled: std::sync::atomic::AtomicBool,
    /// When the engine was made: the run's duration in an abort's recap.
    pub(crate) created: Instant,
    /// Set once an abort printed the recap: what cut-off tasks report later is dropped.
    pub(crate) silenced: std::sync::atomic::AtomicBool,
    /// How many host tasks run now.
    pub(crate) running: std::sync::atomic::AtomicUsize,
    /// What the run has done so far (everything above is its fixed context).
    pub(crate) state: RunState,
}

/// How long an abort lets the tasks it cut off report their results, so the recap counts
/// them.
const ABORT_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

impl Engine {
    /// A run of `inventory` with `opts`, reporting to `sink`.
    pub fn new(
        inventory: Inventory,
        inventory_file: Option<PathBuf>,
        loader: Arc<Loader>,
        connector: Arc<dyn Connector>,
        opts: RunOptions,
        sink: Box<dyn EventSink>,
    ) -> Arc<Engine> {
        let omit = format!(
            "__omit_place_holder__{:016x}",
            std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ 0x5eed_1a55
        );
        let scope = RunScope {
            extra_vars: Arc::new(opts.extra_vars.clone()),
            groups: std::sync::RwLock::new(Arc::new(Value::Null)),
            hosts: std::sync::RwLock::new(IndexMap::new()),
            inventory_file,
            check_mode: opts.check,
            diff_mode: opts.diff,
            omit,
            run_tags: if opts.tags.is_empty() {
                vec!["all".into()]
            } else {
                opts.tags.clone()
            },
            skip_tags: opts.skip_tags.clone(),
            limit: opts.limit.clone(),
            forks: opts.forks,
            verbosity: opts.verbosity,
            vault: loader.yaml().vault().clone(),
        };
        let started = opts.start_at_task.is_none();
        let engine = Arc::new(Engine {
            opts,
            templar: Templar::new(),
            loader,
            connector,
            inventory: Mutex::new(inventory),
            scope: Arc::new(scope),
            transports: Mutex::new(HashMap::new()),
            sink: Arc::new(Mutex::new(sink)),
            cancelled: std::sync::atomic::AtomicBool::new(false),
            created: Instant::now(),
            silenced: std::sync::atomic::AtomicBool::new(false),
            running: std::sync::atomic::AtomicUsize::new(0),
            lock_owner: lock_owner(),
            journal: std::sync::OnceLock::new(),
            state: RunState::new(started),
        });
        engine.refresh_hosts();
        engine
    }

    /// Rebuild the per-host inventory data (after `add_host` too), keeping dynamic state.
    pub(crate) fn refresh_hosts(&self) {
        let inv = self.inventory.lock().expect("inventory lock");
        let mut hosts = self.scope.hosts.write().expect("hosts lock");
        let mut states = self.state.hosts();
        for name in inv.host_names() {
            if !hosts.contains_key(&name) {
                hosts.insert(
                    name.clone(),
                    Arc::new(HostData {
                        name: name.clone(),
                        inventory: Arc::new(inv.host_vars(&name)),
                        group_names: inv.group_names(&name),
                        source: inv.host(&name).and_then(|h| h.source.clone()),
                        dynamic: std::sync::RwLock::new(Dynamic::default()),
                    }),
                );
            }
            states.entry(name).or_default();
        }
        let groups: serde_json::Map<String, Value> = inv
            .groups_var()
            .into_iter()
            .map(|(g, hs)| (g, Value::Array(hs.into_iter().map(Value::String).collect())))
            .collect();
        *self.scope.groups.write().expect("groups lock") = Arc::new(Value::Object(groups));
    }

    /// Stop scheduling: tasks already running finish, no new task starts, and
    /// [`Engine::run`] returns [`Error::Interrupted`] (after closing connections).
    pub fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// For an abort (a second Ctrl-C, SIGTERM): write the journal as interrupted, then close
    /// every connection (which releases host locks), giving up on the connections after
    /// `within`, give the tasks so cut off half a second to report, and report the run's
    /// end (the recap) as it stands. What tasks report after that is not passed on.
    pub async fn abort(&self, within: std::time::Duration) {
        let _ = self.save_journal("interrupted");
        let mut closing = tokio::task::JoinSet::new();
        for t in self.open_transports() {
            closing.spawn(async move { t.close().await });
        }
        let _ = tokio::time::timeout(within, async {
            while closing.join_next().await.is_some() {}
        })
        .await;
        // The tasks whose commands were just ended (or whose connections were closed)
        // report at once: give them a moment, so the recap counts them.
        let _ = tokio::time::timeout(ABORT_SETTLE, async {
            while self.running.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
        self.emit(Event::Warning {
            message: "aborted: tasks still running were cut off".into(),
        });
        self.emit(Event::RunEnd {
            stats: self.recap(),
            duration: self.created.elapsed(),
        });
        self.silenced
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether every command reaching a host is reported (`-vvv`, or asked for by an
    /// embedder): the transports then carry the reporter of `transport::report`.
    pub(crate) fn reports_commands(&self) -> bool {
        self.opts.report_commands || self.opts.verbosity >= 3
    }

    /// Every transport made so far.
    fn open_transports(&self) -> Vec<Arc<dyn Transport>> {
        self.transports
            .lock()
            .expect("transports lock")
            .values()
            .cloned()
            .collect()
    }

    /// Close every connection (releasing host locks), `--forks` at a time: each close is a
    /// round trip (the lock's release) and the master's exit, so one after the other they
    /// cost a run on 100 hosts 1.5 s.
    async fn close_transports(&self) {
        let mut closing = tokio::task::JoinSet::new();
        for t in self.open_transports() {
            if closing.len() >= self.opts.forks.max(1) {
                closing.join_next().await;
            }
            closing.spawn(async move { t.close().await });
        }
        while closing.join_next().await.is_some() {}
    }

    /// Keep a journal (and, if it continues an earlier one, resume from it). Call before
    /// [`Engine::run`].
    pub fn set_journal(&self, j: Arc<crate::journal::Journal>) {
        j.set_run_id(&self.lock_owner.run_id);
        let _ = self.journal.set(j);
    }

    /// Whether [`Engine::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `--start-at-task` named no task the run reached: said as ansible-playbook says it
    /// (lib/ansible/executor/playbook_executor.py, an error there; the run still exits 0).
    fn warn_start_at_task_unmatched(&self) {
        if let Some(want) = &self.opts.start_at_task {
            if !self.state.started() {
                self.emit(Event::Warning {
                    message: format!(
                        "No matching task \"{want}\" found. Note: --start-at-task can only follow static includes."
                    ),
                });
            }
        }
    }

    pub(crate) fn emit(&self, e: Event) {
        if self.silenced.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Ok(mut s) = self.sink.lock() {
            s.event(&e);
        }
    }

    /// Report what reading YAML (inventory, playbook, and what includes load during the
    /// run) had to warn about and was not reported yet: duplicate mapping keys.
    pub(crate) fn emit_load_warnings(&self) {
        let inventory = self
            .inventory
            .lock()
            .map(|i| i.yaml().take_warnings())
            .unwrap_or_default();
        for message in inventory
            .into_iter()
            .chain(self.loader.yaml().take_warnings())
        {
            self.emit(Event::Warning { message });
        }
    }

    /// Run every play of `playbook`.
    pub async fn run(self: &Arc<Self>, playbook: &Playbook) -> Result<RunReport> {
        let t0 = Instant::now();
        let changed = self.start_journal(playbook)?;
        self.emit(Event::RunStart {
            playbook: playbook.path.display().to_string(),
            check: self.opts.check,
        });
        for c in changed {
            self.emit(Event::Warning {
                message: format!("--resume-changed: {c}"),
            });
        }
        let empty = self.inventory.lock().map(|i| i.empty_warnings());
        for message in empty.unwrap_or_default() {
            self.emit(Event::Warning { message });
        }
        self.emit_load_warnings();
        let mut outcome = Ok(());
        for play in &playbook.plays {
            match self.run_play(play).await {
                Ok(false) => {}
                Ok(true) => break,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if let Err(e) = outcome {
            // Interrupted or a run-level error: close every connection before returning.
            self.close_transports().await;
            let _ = self.end_journal(if matches!(e, Error::Interrupted) {
                "interrupted"
            } else {
                "failed"
            });
            if matches!(e, Error::Interrupted) {
                self.emit(Event::Warning {
                    message: "interrupted: no new task was started after the stop signal".into(),
                });
                let stats = self.recap();
                self.emit(Event::RunEnd {
                    stats,
                    duration: t0.elapsed(),
                });
            }
            return Err(e);
        }
        let stats = self.recap();
        let journal_status = if stats.iter().any(|(_, s)| s.failed > 0 || s.unreachable > 0) {
            "failed"
        } else {
            "ok"
        };
        if let Some(j) = self.journal.get() {
            if journal_status == "ok" {
                // Nothing left to resume.
                let _ = std::fs::remove_file(j.path());
            } else {
                self.end_journal(journal_status)?;
            }
        }
        // The exit code says which hosts are failed or unreachable at the end, as Ansible's
        // (`plugins/strategy/__init__.py`, `run`): a failure that `meta: clear_host_errors`
        // cleared no longer counts, though the recap still shows it.
        let (failed_now, unreachable_now) = {
            let states = self.state.hosts();
            (
                states.values().any(|s| s.failed),
                states.values().any(|s| s.unreachable),
            )
        };
        let exit_code = if failed_now {
            crate::exit::HOST_FAILED
        } else if unreachable_now {
            crate::exit::HOST_UNREACHABLE
        } else {
            crate::exit::OK
        };
        // Connections close (host locks released) before the run ends, so what they run
        // is reported inside the run.
        self.close_transports().await;
        self.warn_start_at_task_unmatched();
        self.emit(Event::RunEnd {
            stats: stats.clone(),
            duration: t0.elapsed(),
        });
        Ok(RunReport { stats, exit_code })
    }

    /// Per-host totals so far, for hosts that did anything.
    fn recap(&self) -> Vec<(String, HostStats)> {
        let states = self.state.hosts();
        let mut out: Vec<(String, HostStats)> = states
            .iter()
            .filter(|(_, s)| s.stats != HostStats::default() || s.unreachable)
            .map(|(h, s)| (h.clone(), s.stats.clone()))
            .collect();
        // Sorted by name, as the default callback's PLAY RECAP
        // (lib/ansible/plugins/callback/default.py: `sorted(stats.processed.keys())`).
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The play's hosts, in the host pattern's order, and the pattern with its template
    /// rendered.
    fn select_hosts(&self, play: &Play) -> Result<(Vec<String>, String)> {
        let pattern = if play.hosts.contains("{{") {
            // Play patterns may use extra vars only (no host is chosen yet).
            let vars: Arc<dyn Vars> = Arc::new(crate::template::MapVars::new(Value::Object(
                self.opts
                    .extra_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )));
            match self
                .templar
                .render_str(&play.hosts, &vars, Some(&play.loc))
                .map_err(Error::from)?
            {
                Value::String(s) => s,
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(":"),
                other => other.to_string(),
            }
        } else {
            play.hosts.clone()
        };
        let mut inv = self.inventory.lock().expect("inventory lock");
        if inv.add_implicit_localhost(&pattern) {
            drop(inv);
            self.refresh_hosts();
            inv = self.inventory.lock().expect("inventory lock");
        }
        let (mut hosts, unmatched) = inv
            .select_lenient(&pattern)
            .map_err(|e| Error::invalid(&play.loc, format!("hosts: {e}")))?;
        for name in unmatched {
            self.emit(Event::Warning {
                message: format!("Could not match supplied host pattern, ignoring: {name}"),
            });
        }
        // The implicit localhost answers to its own name only, never to `all` (Ansible).
        hosts.retain(|h| *h == pattern || !inv.is_implicit(h));
        if let Some(limit) = &self.opts.limit {
            let allowed = inv
                .select(limit)
                .map_err(|e| Error::Usage(format!("--limit: {e}")))?
                .into_iter()
                .collect::<std::collections::HashSet<String>>();
            hosts.retain(|h| allowed.contains(h));
        }
        Ok((hosts, pattern))
    }

    fn fail_all(&self, hosts: &[String]) {
        let mut states = self.state.hosts();
        for h in hosts {
            if let Some(s) = states.get_mut(h) {
                if !s.failed && !s.unreachable {
                    s.failed = true;
                }
            }
        }
    }

    /// Hosts of `hosts` still running (not failed, unreachable or ended).
    pub(crate) fn active_hosts(&self, hosts: &[String]) -> Vec<String> {
        let states = self.state.hosts();
        hosts
            .iter()
            .filter(|h| {
                states
                    .get(*h)
                    .is_some_and(|s| !s.failed && !s.unreachable && !s.ended)
            })
            .cloned()
            .collect()
    }

    pub(crate) fn host_vars(&self, scope: &Arc<PlayScope>, host: &str) -> Option<HostVars> {
        let data = self.scope.host(host)?;
        Some(HostVars::new(self.scope.clone(), data, scope.clone()))
    }

    fn load_vars_files(&self, play: &Play, scope: &Arc<PlayScope>, batch: &[String]) -> Result<()> {
        if play.vars_files.is_empty() {
            return Ok(());
        }
        let mut cache: HashMap<PathBuf, Layer> = HashMap::new();
        for h in batch {
            let Some(hv) = self.host_vars(scope, h) else {
                continue;
            };
            let vars: Arc<dyn Vars> = Arc::new(hv);
            let mut merged = IndexMap::new();
            for (alts, loc) in &play.vars_files {
                let mut found = None;
                for alt in alts {
                    let name = match self
                        .templar
                        .render_str(alt, &vars, Some(loc))
                        .map_err(Error::from)?
                    {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let p = play.dir.join(&name);
                    if p.is_file() {
                        found = Some(p);
                        break;
                    }
                }
                let Some(path) = found else {
                    return Err(Error::invalid(
                        loc,
                        format!("vars file not found: {}", alts.join(", ")),
                    ));
                };
                if let Some(j) = self.journal.get() {
                    j.note_files(std::slice::from_ref(&path));
                }
                let layer = match cache.get(&path) {
                    Some(l) => l.clone(),
                    None => {
                        let node = self.loader.yaml().load(&path)?;
                        let mut m = IndexMap::new();
                        if !node.is_null() {
                            for (k, v) in node.expect_map("a vars file")? {
                                m.insert(k, v.to_value());
                            }
                        }
                        let l: Layer = Arc::new(m);
                        cache.insert(path, l.clone());
                        l
                    }
                };
                merged.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            scope
                .vars_files
                .write()
                .expect("vars_files lock")
                .insert(h.clone(), Arc::new(merged));
        }
        Ok(())
    }

    fn gather_facts_wanted(
        &self,
        play: &Play,
        scope: &Arc<PlayScope>,
        batch: &[String],
    ) -> Result<bool> {
        Ok(match &play.gather_facts {
            Value::Bool(b) => *b,
            Value::String(s) => {
                let Some(hv) = batch.first().and_then(|h| self.host_vars(scope, h)) else {
                    return Ok(false);
                };
                let vars: Arc<dyn Vars> = Arc::new(hv);
                self.templar
                    .eval_bool(s, &vars, Some(&play.loc))
                    .map_err(Error::from)?
            }
            _ => true,
        })
    }

    /// The play's fact gathering, with a per-run cache (Ansible's `gathering = smart`):
    /// a host whose facts were gathered earlier in this run, with every subset this play
    /// asks for (`gather_subset`), is not gathered again. An explicit `setup` task always
    /// gathers.
    async fn gather_facts(self: &Arc<Self>, cx: &walk::PlayCx<'_>, batch: &[String]) {
        let gathering = self
            .loader
            .registry()
            .get("setup")
            .and_then(|m| m.fact_gathering());
        let Some(gathering) = gathering else {
            self.emit(Event::Warning {
                message:
                    "fact gathering is not available yet in this build: set `gather_facts: false`"
                        .to_string(),
            });
            return;
        };
        // Checked when the playbook was loaded.
        let wanted = gathering
            .collectors(&cx.play.gather_subset)
            .unwrap_or_default();
        let batch: Vec<String> = batch
            .iter()
            .filter(|h| {
                self.scope.host(h).is_none_or(|d| {
                    d.dynamic
                        .read()
                        .map(|dy| !wanted.iter().all(|w| dy.gathered.contains(*w)))
                        .unwrap_or(true)
                })
            })
            .cloned()
            .collect();
        if batch.is_empty() {
            return;
        }
        let mut args = serde_json::Map::new();
        if !cx.play.gather_subset.is_empty() {
            args.insert(
                "gather_subset".into(),
                Value::Array(
                    cx.play
                        .gather_subset
                        .iter()
                        .map(|s| Value::String(s.clone()))
                        .collect(),
                ),
            );
        }
        if let Some(t) = &cx.play.gather_timeout {
            args.insert("gather_timeout".into(), t.clone());
        }
        // The play's `fact_path` is setup's (`Play.fact_path`, lib/ansible/playbook/play.py;
        // the gathering task gets it in lib/ansible/executor/play_iterator.py).
        if let Some(p) = &cx.play.fact_path {
            args.insert("fact_path".into(), p.clone());
        }
        // Ansible's implicit task is the gather_facts action running setup.
        let mut task = crate::playbook::task::Task::synthetic(
            "Gathering Facts",
            "ansible.builtin.gather_facts",
            args,
            cx.play.loc.clone(),
            cx.play.kw.clone(),
        );
        task.kw.tags.insert("always".into());
        let _ = self
            .run_task_on_hosts(cx, &Arc::new(task), &batch, false, Arc::from([]))
            .await;
    }

    /// The transport for `host`, made on first use from its connection variables.
    pub(crate) fn transport(
        &self,
        host: &str,
        vars: &HostVars,
        loc: &Loc,
    ) -> Result<Arc<dyn Transport>, String> {
        if let Some(t) = self.transports.lock().expect("transports lock").get(host) {
            return Ok(t.clone());
        }
        let mut conn_vars = IndexMap::new();
        let dynvars: Arc<dyn Vars> = Arc::new(vars.clone());
        for name in [
            "ansible_connection",
            "ansible_host",
            "ansible_port",
            "ansible_user",
            "ansible_ssh_private_key_file",
            "ansible_private_key_file",
            "ansible_ssh_common_args",
            "ansible_ssh_extra_args",
            "ansible_ssh_timeout",
            "ansible_ssh_retries",
            "windlass_ssh_channels",
            "ansible_host_key_checking",
            "ansible_ssh_host_key_checking",
        ] {
            if let Some(v) = dynvars.get(name) {
                let v = self
                    .templar
                    .render_value(&v, &dynvars, Some(loc))
                    .map_err(|e| e.message)?;
                conn_vars.insert(name.to_string(), v);
            }
        }
        let spec = crate::transport::spec::connection_spec(host, &conn_vars, &self.opts.connection)
            .map_err(|e| e.to_string())?;
        let mut t = self.connector.connect(&spec);
        // Right on the connection: it sees what really goes to the host (see
        // `transport::report`).
        if self.reports_commands() {
            let sink = self.sink.clone();
            let emit: crate::transport::report::Emit = Arc::new(move |e| {
                if let Ok(mut s) = sink.lock() {
                    s.event(&e);
                }
            });
            t = Arc::new(crate::transport::report::Reporting::new(t, host, emit));
        }
        if self.opts.host_lock && spec.kind == crate::transport::ConnectionKind::Ssh {
            let adopt = self
                .journal
                .get()
                .and_then(|j| j.resumed_run_id().map(str::to_string));
            t = Arc::new(
                crate::transport::host_lock::HostLock::new(
                    t,
                    self.lock_owner.clone(),
                    self.opts.break_lock,
                )
                .adopting(adopt)
                .with_notice(self.lock_notice(host)),
            );
        }
        // The host's `ansible_become_password` beats `--ask-become-pass` (variables beat
        // command-line options in Ansible).
        let password = self
            .resolver()
            .become_password_var(&dynvars, loc)?
            .or_else(|| self.opts.become_password.clone());
        if let Some(pw) = password {
            t = Arc::new(crate::transport::become_password::BecomePassword::new(
                t, pw,
            ));
        }
        if self.opts.batch_probes && spec.kind == crate::transport::ConnectionKind::Ssh {
            t = Arc::new(crate::transport::probe_cache::ProbeCache::new(t));
        }
        self.transports
            .lock()
            .expect("transports lock")
            .insert(host.to_string(), t.clone());
        Ok(t)
    }
}

impl Engine {
    /// A host lock's notices (a takeover) as warnings of this run.
    fn lock_notice(&self, host: &str) -> crate::transport::host_lock::Notice {
        let sink = self.sink.clone();
        let host = host.to_string();
        Arc::new(move |m| {
            if let Ok(mut s) = sink.lock() {
                s.event(&Event::Warning {
                    message: format!("{host}: {m}"),
                });
            }
        })
    }
}

fn lock_owner() -> crate::transport::host_lock::LockOwner {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "controller".into());
    crate::transport::host_lock::LockOwner {
        run_id: format!(
            "{:x}{:05x}",
            now.as_secs(),
            (now.subsec_nanos() ^ std::process::id()) & 0xfffff
        ),
        who: format!("{user}@{host} pid {}", std::process::id()),
        started: format!("{} (unix time)", now.as_secs()),
        controller: crate::transport::host_lock::Controller::this_process(),
    }
}

/// Split hosts into `serial` batches (the last size repeats).
pub fn batches(hosts: &[String], serial: &[Serial]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < hosts.len() {
        let size = match &serial[k.min(serial.len() - 1)] {
            Serial::Count(n) => *n,
            Serial::Percent(p) => ((hosts.len() as f64) * p / 100.0).floor().max(1.0) as usize,
        }
        .max(1);
        let end = (i + size).min(hosts.len());
        out.push(hosts[i..end].to_vec());
        i = end;
        k += 1;
    }
    out
}

/// How long a duration is, for events.
pub(crate) fn since(t: Instant) -> Duration {
    t.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_batches() {
        let hosts: Vec<String> = (1..=7).map(|i| format!("h{i}")).collect();
        let b = batches(&hosts, &[Serial::Count(1), Serial::Percent(50.0)]);
        let sizes: Vec<usize> = b.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 3, 3]);
        assert_eq!(batches(&hosts, &[]).len(), 1);
    }
}
