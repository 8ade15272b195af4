//! The module registry: every action a task can name, keyed by FQCN with short aliases.
//!
//! Why this module exists: a task names its module (`copy`, `ansible.builtin.copy`); the
//! loader must reject an unknown module or an unknown parameter at the task's line before
//! any host is touched, and the engine must find the code that runs it. Each module
//! declares its parameters in a [`ParamSpec`] and implements [`Module`].

pub(crate) mod apt;
pub(crate) mod apt_key;
pub(crate) mod apt_repository;
pub(crate) mod assert;
pub(crate) mod async_status;
pub(crate) mod blockinfile;
pub(crate) mod command;
pub(crate) mod copy;
pub(crate) mod copy_tree;
pub(crate) mod deb822_repository;
pub(crate) mod debug;
pub(crate) mod dpkg_selections;
pub(crate) mod encoding;
pub(crate) mod expand_args;
pub(crate) mod fetch;
pub(crate) mod file;
pub(crate) mod fileops;
pub(crate) mod get_url;
pub(crate) mod group;
pub(crate) mod hostname;
pub(crate) mod ini_file;
mod lenient;
pub(crate) mod lineinfile;
pub(crate) mod modprobe;
pub(crate) mod package;
pub(crate) mod params;
pub(crate) mod pause;
pub(crate) mod ping;
pub mod plan;
pub(crate) mod py_strptime;
pub(crate) mod py_time;
pub(crate) mod reboot;
pub(crate) mod replace;
pub(crate) mod reply;
pub(crate) mod script;
pub(crate) mod service;
pub(crate) mod set_fact;
pub(crate) mod setup;
mod setup_local;
mod setup_service_mgr;
mod setup_subsets;
mod setup_system;
pub(crate) mod slurp;
pub(crate) mod stat;
pub(crate) mod sysctl;
pub(crate) mod sysprobe;
pub(crate) mod task_result;
pub(crate) mod template;
pub(crate) mod unarchive;
pub(crate) mod uri;
pub(crate) mod user;
pub(crate) mod wait_for;
// MODB: admin modules.
pub(crate) mod authorized_key;
pub(crate) mod cron;
pub(crate) mod known_hosts;
pub(crate) mod mount;
pub(crate) mod tempfile;
mod userpath;

pub(crate) mod wait_for_connection;

// MODC: the query modules.
pub(crate) mod debconf;
pub(crate) mod find;
mod find_walk;
pub(crate) mod getent;
pub(crate) mod package_facts;
pub(crate) mod service_facts;
pub(crate) mod timezone;

// The probe-reply parsers behind one entry point, for the fuzz targets (not an API).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod reply_fuzz;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::command::Become;
use crate::error::{Error, Loc, Result};
use crate::template::{Templar, Vars};
use crate::transport::Transport;

pub use task_result::{Ending, TaskResult};

/// The result dictionary of a task, as `register` stores it (`changed`, `failed`, `msg`,
/// `rc`, `stdout`, …).
pub type ResultMap = Map<String, Value>;

/// What a module may use while it runs on one host.
pub struct TaskCtx<'a> {
    /// The inventory name of the host.
    pub host: &'a str,
    /// How to reach it.
    pub transport: Arc<dyn Transport>,
    /// Check mode: predict, change nothing.
    pub check: bool,
    /// Diff mode: report before/after of files.
    pub diff: bool,
    /// Privilege escalation for commands.
    pub become_: Option<Become>,
    /// `environment:` for commands.
    pub env: Vec<(String, String)>,
    /// The host's variables.
    pub vars: Arc<dyn Vars>,
    /// The templating engine.
    pub templar: &'a Templar,
    /// Per-task timeout.
    pub timeout: Option<Duration>,
    /// Whether an earlier task of this run already changed this host (in check mode: would
    /// have changed it). A check-mode plan uses it to tell "not there yet because an earlier
    /// step has not really run" from "not there".
    pub changed_before: bool,
    /// The run's `-v` count (`debug`'s `verbosity` compares against it).
    pub verbosity: u8,
    /// Where scratch files go on the host (`ansible_remote_tmp`, else the configuration's
    /// `remote_tmp`, else `~/.ansible/tmp`); modules make a per-command directory in it
    /// with `crate::command::scratch_prelude`.
    pub remote_tmp: String,
    /// `no_log`: a module that logs its arguments on the host (an Ansible module run
    /// through the bridge, `_ansible_no_log`) must not.
    pub no_log: bool,
    /// With `delegate_to`: the delegate, whose variables say which Python a bridged module
    /// runs with there (as ansible-core's `_configure_module` reads the delegate's).
    pub delegate: Option<TaskDelegate>,
}

/// The delegate of a delegated task ([`TaskCtx::delegate`]).
#[derive(Clone)]
pub struct TaskDelegate {
    /// Its inventory name (or the name as written, outside the inventory).
    pub name: String,
    /// Its variables (its inventory variables and facts).
    pub vars: Arc<dyn Vars>,
    /// `delegate_facts`: facts the task learns about the delegate are reported (and so
    /// kept for it); else they are not reported at all, as Ansible does.
    pub facts: bool,
}

/// What the engine needs from a module that gathers host facts ([`Module::fact_gathering`]):
/// the names it keeps them under, and which collectors a gathering ran (the per-run fact
/// cache of `gathering = smart`).
pub trait FactGathering: Send + Sync {
    /// The name the engine keeps fact `key` under (`ansible_facts.<name>`).
    fn stored_name(&self, key: &str) -> String;
    /// A registered result's `ansible_facts` under the names the module gave them.
    fn registered(&self, result: &mut ResultMap);
    /// The collectors a gathering with these `gather_subset` values runs (`None`: not a
    /// valid subset).
    fn collectors(&self, gather_subset: &[String]) -> Option<Vec<&'static str>>;
}

/// Why a module could not run (as opposed to a task that ran and reported `failed`).
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The host could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The task failed; the message goes to `msg`.
    #[error("{0}")]
    Failed(String),
}

impl From<crate::transport::TransportError> for ModuleError {
    fn from(e: crate::transport::TransportError) -> Self {
        match e {
            crate::transport::TransportError::Unreachable(m) => ModuleError::Unreachable(m),
            other => ModuleError::Failed(other.to_string()),
        }
    }
}

/// A module's parameters, for load-time checking.
#[derive(Clone, Debug, Default)]
pub struct ParamSpec {
    /// Accepted parameter names; `(name, aliases)`.
    pub params: &'static [(&'static str, &'static [&'static str])],
    /// Parameters that must be present (or be given through an alias); `a|b` means either.
    pub required: &'static [&'static str],
    /// Whether free-form text (`_raw_params`) is accepted.
    pub free_form: bool,
    /// Groups of which at most one may be given.
    pub exclusive: &'static [&'static [&'static str]],
    /// Any parameter name is accepted (`set_fact`: the names are variables).
    pub open: bool,
    /// Parameters that name paths: a literal value with a NUL byte is refused.
    pub paths: &'static [&'static str],
}

/// An action tasks can run.
#[async_trait::async_trait]
pub trait Module: Send + Sync {
    /// The fully-qualified name (`ansible.builtin.copy`).
    fn name(&self) -> &'static str;
    /// Other names it answers to, besides the FQCN's last part.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Its parameters.
    fn spec(&self) -> ParamSpec;
    /// The Ansible module file this runs, for a module the bridge runs (`runner/bridge`);
    /// `None` for a module implemented in Rust. Reported per execution as
    /// [`crate::event::Event::Module`].
    fn ansible_file(&self) -> Option<&str> {
        None
    }
    /// Whether it runs on the controller only (no transport needed).
    fn controller_only(&self) -> bool {
        false
    }
    /// Whether it runs once per batch, for the batch's first host only, its result staying
    /// that host's (Ansible's `BYPASS_HOST_LOOP` action attribute, honoured in
    /// `lib/ansible/plugins/strategy/linear.py`; `pause` has it).
    fn bypasses_host_loop(&self) -> bool {
        false
    }
    /// For a module that gathers host facts (`setup`): how the engine keeps them. `None`
    /// (the default): the `ansible_facts` it returns are a task's own facts.
    fn fact_gathering(&self) -> Option<&dyn FactGathering> {
        None
    }
    /// The read-only command this module would run first to learn the host's state (its
    /// probe), exactly as [`Module::run`] would run it, so the engine can batch it with the
    /// probes of the tasks around it. `None` (the default): no probe, or none known before
    /// running; the task then simply runs.
    async fn probe_command(
        &self,
        _ctx: &TaskCtx<'_>,
        _args: Map<String, Value>,
    ) -> Option<crate::command::RemoteCommand> {
        None
    }

    /// Start this module as an `async` job of `limit` seconds its own way (a bridged
    /// module: under ansible-core's `async_wrapper`, `jid` the id's first part), answering
    /// the job's first result. `None` (the default): the engine's job runner decides.
    async fn start_job(
        &self,
        _ctx: &TaskCtx<'_>,
        _args: &Map<String, Value>,
        _jid: &str,
        _limit: u64,
    ) -> Option<Result<TaskResult, ModuleError>> {
        None
    }

    /// Run with templated arguments. Returns the typed result ([`TaskResult`]); mark it
    /// failed, or return [`ModuleError::Failed`], to fail the task.
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError>;
}

/// Every module windlass knows, by every name.
#[derive(Clone)]
pub struct Registry {
    by_name: HashMap<String, Arc<dyn Module>>,
    /// The module bridge: unknown names asked of the user's ansible-core (runner/bridge).
    bridge: Option<Arc<crate::bridge::Bridge>>,
}

/// Actions handled by the engine itself (they change the run, not the host).
pub(crate) const ENGINE_ACTIONS: &[&str] = &["meta", "include_vars", "add_host", "group_by"];
/// The engine actions that run once per batch, for its first host (their action plugins
/// have `BYPASS_HOST_LOOP`, as [`Module::bypasses_host_loop`] says for a module).
const HOST_LOOP_BYPASSING_ENGINE_ACTIONS: &[&str] = &["add_host"];

/// The engine actions that run host after host, in batch order: `group_by` adds each
/// host to its group as it runs, so running hosts at once would make the order of a
/// group's members (and `groups[...]`) depend on which host got there first.
/// ansible-playbook adds a host to the group when its worker's result reaches the
/// strategy (`_process_pending_results` in `plugins/strategy/__init__.py` reads them off
/// one queue as workers finish), so its order is usually, but not always, batch order;
/// windlass makes batch order the rule, so its output does not change run to run.
const IN_ORDER_ENGINE_ACTIONS: &[&str] = &["group_by"];

impl Registry {
    /// An empty registry.
    pub fn empty() -> Self {
        Registry {
            by_name: HashMap::new(),
            bridge: None,
        }
    }

    /// The built-in modules.
    pub fn builtin() -> Self {
        let mut r = Registry::empty();
        r.register(Arc::new(debug::Debug));
        r.register(Arc::new(set_fact::SetFact));
        r.register(Arc::new(assert::Assert));
        r.register(Arc::new(assert::Fail));
        r.register(Arc::new(command::CommandModule::Command));
        r.register(Arc::new(command::CommandModule::Shell));
        r.register(Arc::new(command::CommandModule::Raw));
        r.register(Arc::new(plan::PlannedModule::new(apt::Apt)));
        r.register(Arc::new(plan::PlannedModule::new(sysctl::Sysctl)));
        r.register(Arc::new(plan::PlannedModule::new(modprobe::Modprobe)));
        r.register(Arc::new(plan::PlannedModule::new(service::Systemd)));
        r.register(Arc::new(plan::PlannedModule::new(service::Service)));
        r.register(Arc::new(plan::PlannedModule::new(package::Package)));
        r.register(Arc::new(plan::PlannedModule::new(apt_key::AptKey)));
        r.register(Arc::new(plan::PlannedModule::new(
            deb822_repository::Deb822Repository,
        )));
        r.register(Arc::new(plan::PlannedModule::new(
            apt_repository::AptRepository,
        )));
        r.register(Arc::new(plan::PlannedModule::new(
            dpkg_selections::DpkgSelections,
        )));
        r.register(Arc::new(plan::PlannedModule::new(user::User)));
        r.register(Arc::new(plan::PlannedModule::new(group::Group)));
        r.register(Arc::new(plan::PlannedModule::new(hostname::Hostname)));
        r.register(Arc::new(plan::PlannedModule::new(copy::Copy)));
        r.register(Arc::new(plan::PlannedModule::new(file::File)));
        r.register(Arc::new(plan::PlannedModule::new(stat::Stat)));
        r.register(Arc::new(plan::PlannedModule::new(slurp::Slurp)));
        r.register(Arc::new(plan::PlannedModule::new(lineinfile::Lineinfile)));
        r.register(Arc::new(plan::PlannedModule::new(blockinfile::Blockinfile)));
        r.register(Arc::new(plan::PlannedModule::new(replace::Replace)));
        r.register(Arc::new(plan::PlannedModule::new(ini_file::IniFile)));
        r.register(Arc::new(fetch::Fetch));
        r.register(Arc::new(plan::PlannedModule::new(template::Template)));
        r.register(Arc::new(setup::Setup));
        r.register(Arc::new(ping::Ping));
        r.register(Arc::new(script::Script));
        r.register(Arc::new(uri::Uri));
        r.register(Arc::new(plan::PlannedModule::new(get_url::GetUrl)));
        r.register(Arc::new(plan::PlannedModule::new(unarchive::Unarchive)));
        r.register(Arc::new(wait_for::WaitFor));
        // MODB: admin modules.
        r.register(Arc::new(tempfile::Tempfile));
        r.register(Arc::new(plan::PlannedModule::new(known_hosts::KnownHosts)));
        r.register(Arc::new(plan::PlannedModule::new(
            authorized_key::AuthorizedKey,
        )));
        r.register(Arc::new(plan::PlannedModule::new(cron::Cron)));
        r.register(Arc::new(plan::PlannedModule::new(mount::Mount)));

        r.register(Arc::new(pause::Pause));
        r.register(Arc::new(wait_for_connection::WaitForConnection));
        r.register(Arc::new(reboot::Reboot));
        r.register(Arc::new(async_status::AsyncStatus));

        r.register(Arc::new(plan::PlannedModule::new(getent::Getent)));
        r.register(Arc::new(plan::PlannedModule::new(find::Find)));
        r.register(Arc::new(plan::PlannedModule::new(
            package_facts::PackageFacts,
        )));
        r.register(Arc::new(plan::PlannedModule::new(
            service_facts::ServiceFacts,
        )));
        r.register(Arc::new(plan::PlannedModule::new(debconf::Debconf)));
        r.register(Arc::new(plan::PlannedModule::new(timezone::Timezone)));
        r
    }

    /// Add a module under its FQCN, its short name, `ansible.legacy.<short>` and its aliases.
    pub fn register(&mut self, m: Arc<dyn Module>) {
        let fqcn = m.name();
        let short = fqcn.rsplit('.').next().unwrap_or(fqcn);
        let mut names = vec![
            fqcn.to_string(),
            short.to_string(),
            format!("ansible.legacy.{short}"),
        ];
        names.extend(m.aliases().iter().map(|a| a.to_string()));
        for n in names {
            self.by_name.insert(n, m.clone());
        }
    }

    /// The same registry with the module bridge: names it does not know are asked of the
    /// user's ansible-core at load time, and the bridge's forced names (`bridge_modules`)
    /// stop being native.
    pub(crate) fn with_bridge(mut self, bridge: Arc<crate::bridge::Bridge>) -> Self {
        self.by_name.retain(|_, m| !bridge.forced(m.name()));
        self.bridge = Some(bridge);
        self
    }

    /// The module that runs `action`: native, else resolved by the bridge at load time.
    pub(crate) fn module(&self, action: &str) -> Option<Arc<dyn Module>> {
        if let Some(m) = self.get(action) {
            return Some(m.clone());
        }
        let b = self.bridge.as_ref()?.resolved(action)?;
        Some(b)
    }

    /// Every module's FQCN, once each.
    pub fn fqcns(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.by_name.values().map(|m| m.name()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The module for `action`.
    pub fn get(&self, action: &str) -> Option<&Arc<dyn Module>> {
        self.by_name.get(action)
    }

    /// Whether `action` is handled by the engine itself.
    pub(crate) fn is_engine_action(action: &str) -> bool {
        ENGINE_ACTIONS.contains(&builtin_short(action))
    }

    /// Whether `action` runs once per batch, for the batch's first host (an engine action
    /// or a module with Ansible's `BYPASS_HOST_LOOP`).
    pub(crate) fn bypasses_host_loop(&self, action: &str) -> bool {
        HOST_LOOP_BYPASSING_ENGINE_ACTIONS.contains(&builtin_short(action))
            || self.get(action).is_some_and(|m| m.bypasses_host_loop())
    }

    /// Whether `action` must run on the batch's hosts one after another, in order
    /// ([`IN_ORDER_ENGINE_ACTIONS`]).
    pub(crate) fn runs_in_order(action: &str) -> bool {
        IN_ORDER_ENGINE_ACTIONS.contains(&builtin_short(action))
    }

    /// Whether `action` takes free-form text (`_raw_params`: `command: ls -l`) besides
    /// `k=v` words: as its module's [`ParamSpec::free_form`] says, so a module added with
    /// [`Registry::register`] declares it in one place. Every engine action takes it
    /// (`meta: flush_handlers`, `include_vars: file.yml`, `group_by: key=…`).
    pub fn free_form(&self, action: &str) -> bool {
        Self::is_engine_action(action) || self.get(action).is_some_and(|m| m.spec().free_form)
    }

    /// Check that `action` names a module (or an engine action), at load time.
    pub(crate) fn check_name(&self, action: &str, loc: &Loc) -> Result<()> {
        if Self::is_engine_action(action) || self.get(action).is_some() {
            return Ok(());
        }
        self.check(action, &Map::new(), loc, loc)
    }

    /// Check a task's module and parameters at load time.
    pub(crate) fn check(
        &self,
        action: &str,
        args: &Map<String, Value>,
        loc: &Loc,
        args_loc: &Loc,
    ) -> Result<()> {
        self.check_in(action, args, &[], loc, args_loc)
    }

    /// [`Registry::check`] with the play's or role's `collections:` list, which the bridge
    /// searches for a short name.
    pub(crate) fn check_in(
        &self,
        action: &str,
        args: &Map<String, Value>,
        collections: &[String],
        loc: &Loc,
        args_loc: &Loc,
    ) -> Result<()> {
        if Self::is_engine_action(action) {
            return check_engine_action(action, args, args_loc);
        }
        let Some(m) = self.get(action) else {
            return self.check_bridged(action, collections, loc);
        };
        check_params(m.name(), &m.spec(), args, args_loc)?;
        crate::playbook::numeric::check_module_seconds(m.name(), args, true)
            .map_err(|e| Error::invalid(args_loc, e))
    }
}

impl Registry {
    /// An action that is neither native nor an engine action: the bridge's module, or the
    /// unknown-module error (did-you-mean, what to install, how to enable the bridge).
    fn check_bridged(&self, action: &str, collections: &[String], loc: &Loc) -> Result<()> {
        use crate::bridge::Resolution;
        let missing = match &self.bridge {
            Some(b) => match b.resolve(action, collections, loc)? {
                Resolution::Module => return Ok(()),
                Resolution::Missing(help) => help,
            },
            None => None,
        };
        let mut names: Vec<&String> = self.by_name.keys().filter(|n| !n.contains('.')).collect();
        names.sort();
        let close = closest(action, names.iter().map(|s| s.as_str()));
        let mut help = match close {
            Some(c) => format!("did you mean `{c}`?"),
            None => "see `windlass modules` for the list of modules".to_string(),
        };
        if let Some(m) = missing {
            help = format!("{help}; {m}");
        }
        Err(Error::parser(
            loc,
            format!("unknown module or keyword `{action}`"),
            Some(help),
        ))
    }
}

/// `action` without the `ansible.builtin.`/`ansible.legacy.` prefix.
fn builtin_short(action: &str) -> &str {
    action
        .strip_prefix("ansible.builtin.")
        .or_else(|| action.strip_prefix("ansible.legacy."))
        .unwrap_or(action)
}

fn check_engine_action(action: &str, args: &Map<String, Value>, loc: &Loc) -> Result<()> {
    let short = action.rsplit('.').next().unwrap_or(action);
    if short == "meta" {
        let what = args
            .get("_raw_params")
            .and_then(Value::as_str)
            .unwrap_or_default();
        const METAS: &[&str] = &[
            "flush_handlers",
            "noop",
            "end_play",
            "end_host",
            "end_batch",
            "clear_facts",
            "clear_host_errors",
            "refresh_inventory",
            "reset_connection",
            "role_complete",
            "end_role",
        ];
        if !METAS.contains(&what) {
            return Err(Error::invalid_help(
                loc,
                format!("unknown meta action `{what}`"),
                format!("one of: {}", METAS.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A literal path parameter (no template in it) must not hold a NUL byte: no file name can,
/// and the command line would cut it short. Ansible fails such a task with "embedded null
/// byte"; a literal one fails here, before any host is touched.
fn check_paths(module: &str, spec: &ParamSpec, args: &Map<String, Value>, loc: &Loc) -> Result<()> {
    for k in spec.paths {
        if let Some(Value::String(v)) = args.get(*k)
            && v.contains('\0')
            && !v.contains("{{")
            && !v.contains("{%")
        {
            return Err(Error::invalid(
                loc,
                format!(
                    "parameter `{k}` of `{module}` contains a NUL byte, which no path can hold"
                ),
            ));
        }
    }
    Ok(())
}

/// Check `args` against `spec`: unknown parameters, mutually exclusive ones, missing ones.
pub(crate) fn check_params(
    module: &str,
    spec: &ParamSpec,
    args: &Map<String, Value>,
    loc: &Loc,
) -> Result<()> {
    let known = |k: &str| spec.params.iter().any(|(n, a)| *n == k || a.contains(&k));
    for k in args.keys() {
        if k == "_raw_params" {
            if !spec.free_form {
                return Err(Error::invalid_help(
                    loc,
                    format!("`{module}` does not take free-form arguments"),
                    "give its parameters as a mapping",
                ));
            }
            continue;
        }
        if !known(k) && !spec.open {
            let all = spec
                .params
                .iter()
                .flat_map(|(n, a)| std::iter::once(*n).chain(a.iter().copied()));
            let hint = match closest(k, all) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!(
                    "`{module}` takes: {}",
                    spec.params
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(Error::invalid_help(
                loc,
                format!("unsupported parameter `{k}` for module `{module}`"),
                hint,
            ));
        }
    }
    check_paths(module, spec, args, loc)?;
    let given = |p: &str| {
        let aliases = spec
            .params
            .iter()
            .find(|(n, _)| *n == p)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        args.contains_key(p) || aliases.iter().any(|a| args.contains_key(*a))
    };
    for r in spec.required {
        // `path|dest|name`: any one of these names.
        let any = r.split('|').any(given);
        if !any && (!spec.free_form || !args.contains_key("_raw_params")) {
            return Err(Error::invalid(
                loc,
                format!("module `{module}` needs the parameter {}", {
                    let mut names = r.split('|').map(|n| format!("`{n}`"));
                    let first = names.next().unwrap_or_default();
                    let rest: Vec<String> = names.collect();
                    if rest.is_empty() {
                        first
                    } else {
                        format!("{first} (or {})", rest.join(", "))
                    }
                }),
            ));
        }
    }
    for group in spec.exclusive {
        let present: Vec<&str> = group.iter().copied().filter(|p| given(p)).collect();
        if present.len() > 1 {
            return Err(Error::invalid(
                loc,
                format!("parameters are mutually exclusive: {}", present.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The candidate closest to `word` by edit distance, if close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_form_is_what_the_spec_or_the_engine_says() {
        let r = Registry::builtin();
        for a in [
            "command",
            "ansible.builtin.shell",
            "ansible.legacy.raw",
            "script",
            "meta",
            "ansible.builtin.include_vars",
            "add_host",
            "group_by",
        ] {
            assert!(r.free_form(a), "{a} takes free-form text");
        }
        for a in [
            "copy",
            "set_fact",
            "debug",
            "ansible.builtin.file",
            "nosuch",
        ] {
            assert!(!r.free_form(a), "{a} takes k=v words only");
        }
    }
}
