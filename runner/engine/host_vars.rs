//! Variable precedence at run time: what a template on one host sees.
//!
//! Why this module exists: Ansible's 22-level precedence is the contract users rely on.
//! [`HostVars`] stacks the layers (role defaults < inventory < facts < play vars <
//! vars_files < role vars < block/task vars < set_fact/registered < role and include params
//! < loop vars < extra vars) plus the magic variables, and hands them to templates lazily,
//! so a value is only templated when something uses it.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::playbook::role::RoleInstance;
use crate::template::{SearchKind, Vars};

use super::abs_path::absolute;

/// A layer of variables.
pub type Layer = Arc<IndexMap<String, Value>>;

/// What is the same for every host of a run.
pub struct RunScope {
    /// `-e` variables (highest precedence).
    pub extra_vars: Layer,
    /// The `groups` magic variable.
    pub groups: RwLock<Arc<Value>>,
    /// Every host's data, by name.
    pub hosts: RwLock<IndexMap<String, Arc<HostData>>>,
    /// `inventory_dir` / `inventory_file`.
    pub inventory_file: Option<PathBuf>,
    /// `ansible_check_mode`.
    pub check_mode: bool,
    /// `ansible_diff_mode`.
    pub diff_mode: bool,
    /// The `omit` placeholder.
    pub omit: String,
    /// `ansible_run_tags`.
    pub run_tags: Vec<String>,
    /// `ansible_skip_tags`.
    pub skip_tags: Vec<String>,
    /// `ansible_limit` (`--limit`, as given; unset without one).
    pub limit: Option<String>,
    /// `ansible_forks`.
    pub forks: usize,
    /// `ansible_verbosity` (the number of `-v`).
    pub verbosity: u8,
    /// The vault secrets (controller files are decrypted with them).
    pub vault: Arc<crate::vault::Vault>,
}

impl RunScope {
    /// The data of host `name`, if it is in the inventory.
    pub fn host(&self, name: &str) -> Option<Arc<HostData>> {
        self.hosts.read().ok()?.get(name).cloned()
    }
}

/// One host's variables that live for the whole run.
pub struct HostData {
    /// The inventory name.
    pub name: String,
    /// Inventory variables (group_vars, host_vars), merged.
    pub inventory: Layer,
    /// `group_names`.
    pub group_names: Vec<String>,
    /// The inventory file that defines the host (`inventory_file`, `inventory_dir`).
    pub source: Option<PathBuf>,
    /// Facts and `set_fact`/registered variables.
    pub dynamic: RwLock<Dynamic>,
}

/// What tasks add to a host.
#[derive(Clone, Default)]
pub struct Dynamic {
    /// Gathered facts (without the `ansible_` prefix).
    pub facts: Map<String, Value>,
    /// `set_fact` and `register` results.
    pub set_facts: IndexMap<String, Value>,
    /// `include_vars` results: a layer of their own, below `set_fact`/`register` and
    /// above task vars (Ansible's `vars/manager.py`: the vars cache is merged before the
    /// non-persistent fact cache).
    pub included: IndexMap<String, Value>,
    /// The fact subsets (`min`, `hardware`, …) gathered so far in this run: a play's
    /// fact gathering skips a host that already has every subset it asks for.
    pub gathered: std::collections::BTreeSet<String>,
}

impl Dynamic {
    /// Store what a (non-`setup`) task returned as `ansible_facts`, where Ansible's strategy
    /// puts it (`lib/ansible/plugins/strategy/__init__.py`, `_process_pending_results`):
    /// `include_vars` into its own layer; any other module's facts (`getent_passwd`,
    /// `packages`) and `set_fact` with `cacheable` into the facts too (`ansible_facts.<name>`).
    pub fn store_task_facts(&mut self, action: &str, facts: &Map<String, Value>, cacheable: bool) {
        let short = action.rsplit('.').next().unwrap_or(action);
        if short == "include_vars" {
            self.included
                .extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
            return;
        }
        if cacheable || short != "set_fact" {
            for (k, v) in facts {
                self.facts
                    .insert(k.trim_start_matches("ansible_").to_string(), v.clone());
            }
        }
        self.set_facts
            .extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// What is the same for every host of a play.
pub struct PlayScope {
    /// `vars:` of the play.
    pub vars: Layer,
    /// Every role's defaults, merged in load order.
    pub role_defaults: Layer,
    /// Every role's vars, merged in load order.
    pub role_vars: Layer,
    /// `ansible_play_hosts_all`.
    pub play_hosts_all: Vec<String>,
    /// `ansible_play_batch`.
    pub batch: Vec<String>,
    /// `ansible_play_name`.
    pub name: String,
    /// Identifies the play in the journal (its file:line).
    pub key: String,
    /// The playbook's directory.
    pub dir: PathBuf,
    /// Hosts of the batch still running (`ansible_play_batch`, `play_hosts`), updated as
    /// hosts fail.
    pub active: RwLock<Vec<String>>,
    /// Hosts of the play, every batch, still running (`ansible_play_hosts`).
    pub remaining: RwLock<Vec<String>>,
    /// `vars_files` per host (they may be templated per host).
    pub vars_files: RwLock<IndexMap<String, Layer>>,
    /// Vars and defaults of roles included with `public: true`, from then on visible to
    /// the whole play like a play role's (Ansible adds them to `play.roles`,
    /// lib/ansible/playbook/role_include.py).
    pub public_roles: RwLock<Vec<Arc<RoleInstance>>>,
    /// Which copy of each role ran on each host: an included role's dependency that
    /// already ran there is skipped (Ansible's `has_run`, [`super::roles_ran`]).
    pub(crate) roles_ran: super::roles_ran::RolesRan,
}

/// The variables one host sees for one task.
#[derive(Clone)]
pub struct HostVars {
    /// The run.
    pub run: Arc<RunScope>,
    /// The host.
    pub host: Arc<HostData>,
    /// The play.
    pub play: Arc<PlayScope>,
    /// The task's role, if any.
    pub role: Option<Arc<RoleInstance>>,
    /// Block and task `vars:`.
    pub task_vars: Layer,
    /// Include parameters.
    pub include_params: Layer,
    /// Loop variables and other per-evaluation values (highest below extra vars).
    pub locals: Layer,
    /// Seen through `hostvars[...]`: without the play's layers (play vars, vars_files,
    /// role vars and defaults), as Ansible's `HostVars` asks `VariableManager.get_vars`
    /// for the host alone (lib/ansible/vars/hostvars.py).
    pub outside_play: bool,
}

impl HostVars {
    /// The variables of `host` in `play`, outside any task.
    pub fn new(run: Arc<RunScope>, host: Arc<HostData>, play: Arc<PlayScope>) -> Self {
        let empty: Layer = Arc::new(IndexMap::new());
        HostVars {
            run,
            host,
            play,
            role: None,
            task_vars: empty.clone(),
            include_params: empty.clone(),
            locals: empty,
            outside_play: false,
        }
    }

    /// The same with extra locals on top (loop variables, a registered result).
    pub fn with_locals(&self, locals: IndexMap<String, Value>) -> Self {
        let mut merged = (*self.locals).clone();
        merged.extend(locals);
        HostVars {
            locals: Arc::new(merged),
            ..self.clone()
        }
    }

    fn magic(&self, name: &str) -> Option<Value> {
        let h = &self.host.name;
        Some(match name {
            "inventory_hostname" => Value::String(h.clone()),
            "inventory_hostname_short" => {
                Value::String(h.split('.').next().unwrap_or(h).to_string())
            }
            "group_names" => Value::Array(
                self.host
                    .group_names
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "groups" => (**self.run.groups.read().ok()?).clone(),
            // `play_hosts` is Ansible's deprecated name for `ansible_play_batch`.
            "play_hosts" | "ansible_play_batch" => Value::Array(
                self.play
                    .active
                    .read()
                    .ok()?
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "ansible_play_hosts" => Value::Array(
                self.play
                    .remaining
                    .read()
                    .ok()?
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "ansible_play_hosts_all" => Value::Array(
                self.play
                    .play_hosts_all
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "ansible_play_name" => Value::String(self.play.name.clone()),
            "playbook_dir" => Value::String(absolute(&self.play.dir).display().to_string()),
            "ansible_check_mode" => Value::Bool(self.run.check_mode),
            "ansible_diff_mode" => Value::Bool(self.run.diff_mode),
            "omit" => Value::String(self.run.omit.clone()),
            "ansible_run_tags" => Value::Array(
                self.run
                    .run_tags
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "ansible_skip_tags" => Value::Array(
                self.run
                    .skip_tags
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            // ansible-core's options vars (utils/vars.py load_options_vars).
            "ansible_limit" => Value::String(self.run.limit.clone()?),
            "ansible_forks" => Value::from(self.run.forks),
            "ansible_verbosity" => Value::from(self.run.verbosity),
            "role_path" => Value::String(self.role.as_ref()?.path.display().to_string()),
            "role_name" => Value::String(self.role.as_ref()?.name.clone()),
            "ansible_role_name" => Value::String(self.role.as_ref()?.fqcn()),
            "ansible_collection_name" => Value::from(self.role.as_ref()?.collection.clone()),
            "inventory_dir" => {
                let f = self
                    .host
                    .source
                    .as_ref()
                    .or(self.run.inventory_file.as_ref())?;
                let f = absolute(f);
                let dir = if f.is_dir() { f.as_path() } else { f.parent()? };
                Value::String(dir.display().to_string())
            }
            "inventory_file" => Value::String(
                absolute(
                    self.host
                        .source
                        .as_ref()
                        .or(self.run.inventory_file.as_ref())?,
                )
                .display()
                .to_string(),
            ),
            // The ansible-core whose behaviour windlass follows: the conformance suite's
            // pinned oracle (tests/conformance/requirements.txt). Content gates on it.
            "ansible_version" => serde_json::json!({
                "full": "2.19.14", "major": 2, "minor": 19, "revision": 14, "string": "2.19.14"
            }),
            "windlass_version" => Value::String(env!("CARGO_PKG_VERSION").to_string()),
            _ => return None,
        })
    }

    /// Lookup by precedence, highest first.
    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.run.extra_vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.locals.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.include_params.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.role.as_ref().and_then(|r| r.params.get(name)) {
            return Some(v.clone());
        }
        {
            let d = self.host.dynamic.read().ok()?;
            if let Some(v) = d.set_facts.get(name) {
                return Some(v.clone());
            }
            if let Some(v) = d.included.get(name) {
                return Some(v.clone());
            }
        }
        if let Some(v) = self.task_vars.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.role.as_ref().and_then(|r| r.vars.get(name)) {
            return Some(v.clone());
        }
        if let Some(v) = self.play.role_vars.get(name).filter(|_| !self.outside_play) {
            return Some(v.clone());
        }
        if let Some(v) = self.public_role(name, |r| &r.vars) {
            return Some(v);
        }
        if let Some(v) = self
            .play
            .vars_files
            .read()
            .ok()?
            .get(&self.host.name)
            .and_then(|l| l.get(name))
            .filter(|_| !self.outside_play)
        {
            return Some(v.clone());
        }
        if let Some(v) = self.play.vars.get(name).filter(|_| !self.outside_play) {
            return Some(v.clone());
        }
        {
            let d = self.host.dynamic.read().ok()?;
            if name == "ansible_facts" {
                return Some(Value::Object(d.facts.clone()));
            }
            if let Some(short) = name.strip_prefix("ansible_") {
                // `ansible_local` is kept under its full name (see `stored_fact_name`).
                if let Some(v) = d.facts.get(short).or_else(|| d.facts.get(name)) {
                    return Some(v.clone());
                }
            }
        }
        if let Some(v) = self.host.inventory.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.role.as_ref().and_then(|r| r.defaults.get(name)) {
            return Some(v.clone());
        }
        if let Some(v) = self
            .play
            .role_defaults
            .get(name)
            .filter(|_| !self.outside_play)
        {
            return Some(v.clone());
        }
        self.public_role(name, |r| &r.defaults)
    }

    /// `name` in a layer (vars or defaults) of the public included roles, last one first.
    fn public_role(
        &self,
        name: &str,
        layer: impl Fn(&RoleInstance) -> &IndexMap<String, Value>,
    ) -> Option<Value> {
        if self.outside_play {
            return None;
        }
        let roles = self.play.public_roles.read().ok()?;
        roles.iter().rev().find_map(|r| layer(r).get(name).cloned())
    }
}

/// The core magic variables cannot be overridden, as in Ansible.
const FIXED_MAGIC: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
    "groups",
    "omit",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_batch",
    "ansible_play_hosts_all",
    "playbook_dir",
    "role_path",
    "role_name",
];

impl Vars for HostVars {
    fn get(&self, name: &str) -> Option<Value> {
        if FIXED_MAGIC.contains(&name) {
            if let Some(v) = self.magic(name) {
                return Some(v);
            }
        }
        self.lookup(name).or_else(|| self.magic(name))
    }

    fn is_final(&self, name: &str) -> bool {
        // Only when set_fact/register is the layer that answers (nothing above it has it).
        if FIXED_MAGIC.contains(&name)
            || self.run.extra_vars.contains_key(name)
            || self.locals.contains_key(name)
            || self.include_params.contains_key(name)
            || self
                .role
                .as_ref()
                .is_some_and(|r| r.params.contains_key(name))
        {
            return false;
        }
        self.host
            .dynamic
            .read()
            .is_ok_and(|d| d.set_facts.contains_key(name))
    }

    fn names(&self) -> Vec<String> {
        let mut names: IndexMap<String, ()> = IndexMap::new();
        let play = !self.outside_play;
        let mut add = |l: &IndexMap<String, Value>| names.extend(l.keys().map(|k| (k.clone(), ())));
        if play {
            add(&self.play.role_defaults);
        }
        if let Some(r) = &self.role {
            add(&r.defaults);
        }
        add(&self.host.inventory);
        if play {
            add(&self.play.vars);
            if let Ok(vf) = self.play.vars_files.read() {
                if let Some(l) = vf.get(&self.host.name) {
                    add(l);
                }
            }
            add(&self.play.role_vars);
            if let Ok(roles) = self.play.public_roles.read() {
                for r in roles.iter() {
                    add(&r.defaults);
                    add(&r.vars);
                }
            }
        }
        if let Some(r) = &self.role {
            add(&r.vars);
            add(&r.params);
        }
        add(&self.task_vars);
        if let Ok(d) = self.host.dynamic.read() {
            add(&d.included);
            add(&d.set_facts);
        }
        add(&self.include_params);
        add(&self.locals);
        add(&self.run.extra_vars);
        let mut out: Vec<String> = names.into_keys().collect();
        for m in FIXED_MAGIC
            .iter()
            .chain(&["ansible_check_mode", "ansible_facts"])
        {
            if !out.iter().any(|n| n == m) {
                out.push(m.to_string());
            }
        }
        out
    }

    fn host(&self, name: &str) -> Option<Arc<dyn Vars>> {
        let data = self.run.host(name)?;
        Some(Arc::new(HostVars {
            outside_play: true,
            ..HostVars::new(self.run.clone(), data, self.play.clone())
        }))
    }

    fn host_names(&self) -> Vec<String> {
        self.run
            .hosts
            .read()
            .map(|h| h.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn vault(&self) -> Arc<crate::vault::Vault> {
        self.run.vault.clone()
    }

    fn search_dirs(&self, kind: SearchKind) -> Vec<PathBuf> {
        let sub = match kind {
            SearchKind::Files => "files",
            SearchKind::Templates => "templates",
        };
        let mut dirs = Vec::new();
        if let Some(r) = &self.role {
            dirs.push(r.path.join(sub));
            dirs.push(r.path.clone());
        }
        dirs.push(self.play.dir.join(sub));
        dirs.push(self.play.dir.clone());
        dirs
    }
}
