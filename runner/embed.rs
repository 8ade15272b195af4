//! The embedding API: run playbooks from your own program in a few lines.
//!
//! Why this module exists: the CLI is one user of the library; platform tools that wrap
//! windlass are others. [`Runner`] gathers what a run needs (inventory, playbook, extra
//! vars, check/diff, custom modules, a custom transport, an event callback) behind a small
//! builder, and gives back the [`RunReport`].
//!
//! ```
//! use windlass::embed::Runner;
//! use windlass::event::Event;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let playbook = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=\"hi {{ who }}\"\n";
//! let mut seen = Vec::new();
//! let report = Runner::new()
//!     .inventory_str("node1 ansible_connection=local\n")
//!     .unwrap()
//!     .playbook_str(playbook, &dir.path().join("site.yml"))
//!     .unwrap()
//!     .extra_var("who", "world")
//!     .on_event(move |e: &Event| {
//!         if let Event::HostResult { result, .. } = e {
//!             seen.push(result["msg"].clone());
//!         }
//!     })
//!     .run()
//!     .unwrap();
//! assert_eq!(report.exit_code, 0);
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::event::{Event, EventSink};
use crate::inventory::Inventory;
use crate::modules::{Module, Registry};
use crate::playbook::{Loader, Playbook, load_playbook, load_playbook_str};
use crate::transport::{Connector, DefaultConnector};

/// The options and the report of a run: the engine's, re-exported as part of this API
/// (with [`Stepper`], what `RunOptions::step` asks before each task, as `--step`).
pub use crate::engine::{RunOptions, RunReport, Stepper};

enum Source {
    File(PathBuf),
    Text(String, PathBuf),
}

/// Where the inventory comes from: read when the run starts, with the vault secrets given.
enum InventorySource {
    Files(Vec<PathBuf>),
    Text(String),
    Built(Box<Inventory>),
}

/// Builds and runs one playbook run.
pub struct Runner {
    inventory: Option<InventorySource>,
    inventory_file: Option<PathBuf>,
    playbook: Option<Source>,
    registry: Arc<Registry>,
    roles_path: Vec<PathBuf>,
    /// The base options ([`Runner::options`]).
    opts: RunOptions,
    /// [`Runner::check`], [`Runner::diff`] and [`Runner::extra_var`]: applied over `opts`
    /// when the run starts, so the order of the builder calls does not matter.
    check: Option<bool>,
    diff: Option<bool>,
    extra_vars: IndexMap<String, Value>,
    connector: Option<Arc<dyn Connector>>,
    sinks: Vec<Box<dyn EventSink>>,
    /// Vault secrets ([`Runner::vault_secret`]), tried in order.
    secrets: Vec<crate::vault::Secret>,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with the built-in modules and default options.
    pub fn new() -> Self {
        Runner {
            inventory: None,
            inventory_file: None,
            playbook: None,
            registry: Arc::new(Registry::builtin()),
            roles_path: Vec::new(),
            opts: RunOptions::default(),
            check: None,
            diff: None,
            extra_vars: IndexMap::new(),
            connector: None,
            sinks: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Load the inventory from files or directories (like `-i`), when the run starts (so
    /// vault-encrypted inventory data opens with the [`Runner::vault_secret`]s, whatever
    /// the order of the calls; a bad inventory is an error of [`Runner::run`]).
    pub fn inventory_files(mut self, sources: &[PathBuf]) -> Result<Self> {
        self.inventory = Some(InventorySource::Files(sources.to_vec()));
        self.inventory_file = sources.first().cloned();
        Ok(self)
    }

    /// Parse the inventory from text (INI or YAML), when the run starts (as
    /// [`Runner::inventory_files`]).
    pub fn inventory_str(mut self, text: &str) -> Result<Self> {
        self.inventory = Some(InventorySource::Text(text.to_string()));
        Ok(self)
    }

    /// Use an inventory built in code.
    pub fn inventory(mut self, inv: Inventory) -> Self {
        self.inventory = Some(InventorySource::Built(Box::new(inv)));
        self
    }

    /// A vault secret (as `--vault-id LABEL@…` gives one): `label` is the vault id the
    /// secret is for (`default` for data without one), `password` the password itself.
    /// Secrets are tried in the order given, the one whose label the data names first,
    /// for vault-encrypted files and inline `!vault` values of the playbook, its vars files
    /// and the inventory, and for `copy`/`template`/`script`/`unarchive` sources.
    pub fn vault_secret(mut self, label: &str, password: impl Into<Vec<u8>>) -> Self {
        self.secrets
            .push(crate::vault::Secret::new(label, password.into()));
        self
    }

    /// Run the playbook in `path`.
    pub fn playbook_file(mut self, path: impl Into<PathBuf>) -> Result<Self> {
        self.playbook = Some(Source::File(path.into()));
        Ok(self)
    }

    /// Run a playbook given as text; `path` names it and anchors relative paths.
    pub fn playbook_str(mut self, text: &str, path: &Path) -> Result<Self> {
        self.playbook = Some(Source::Text(text.to_string(), path.to_path_buf()));
        Ok(self)
    }

    /// Set an extra variable (highest precedence, like `-e`). It wins over a variable of
    /// the same name in [`Runner::options`]' `extra_vars`, whichever is called first.
    pub fn extra_var(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra_vars.insert(name.to_string(), value.into());
        self
    }

    /// Check mode. Wins over [`Runner::options`]' `check`, whichever is called first.
    pub fn check(mut self, on: bool) -> Self {
        self.check = Some(on);
        self
    }

    /// Diff mode. Wins over [`Runner::options`]' `diff`, whichever is called first.
    pub fn diff(mut self, on: bool) -> Self {
        self.diff = Some(on);
        self
    }

    /// Set the base options (forks, tags, limit, …), replacing earlier `options` calls.
    /// [`Runner::check`], [`Runner::diff`] and [`Runner::extra_var`] are kept and applied
    /// over them, so the order of the builder calls does not matter.
    pub fn options(mut self, opts: RunOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The options the run will use: [`Runner::options`] with the single setters applied.
    pub fn effective_options(&self) -> RunOptions {
        let mut opts = self.opts.clone();
        if let Some(c) = self.check {
            opts.check = c;
        }
        if let Some(d) = self.diff {
            opts.diff = d;
        }
        for (k, v) in &self.extra_vars {
            opts.extra_vars.insert(k.clone(), v.clone());
        }
        opts
    }

    /// Add a module written in Rust (available to tasks by its names).
    pub fn module(mut self, m: impl Module + 'static) -> Self {
        Arc::make_mut(&mut self.registry).register(Arc::new(m));
        self
    }

    /// Turn on the module bridge (the book's "The module bridge" page) as the `windlass`
    /// command has it: a task whose module windlass lacks runs the real Ansible module,
    /// found and built by the ansible-core of `ansible_python` (`None`: the one
    /// `WINDLASS_ANSIBLE_PYTHON`, `ansible-playbook` on `PATH` or `python3` gives);
    /// `forced` (short names or FQCNs) go through it even though windlass has them
    /// natively (the configuration's `bridge_modules`). Off by default: no Python starts.
    pub fn module_bridge(mut self, ansible_python: Option<PathBuf>, forced: Vec<String>) -> Self {
        let bridge = Arc::new(crate::bridge::Bridge::new(ansible_python, forced));
        self.registry = Arc::new((*self.registry).clone().with_bridge(bridge));
        self
    }

    /// Extra directories to find roles in.
    pub fn roles_path(mut self, dirs: Vec<PathBuf>) -> Self {
        self.roles_path = dirs;
        self
    }

    /// Reach hosts through your own transports.
    pub fn connector(mut self, c: Arc<dyn Connector>) -> Self {
        self.connector = Some(c);
        self
    }

    /// Call `f` for every event.
    pub fn on_event(mut self, f: impl FnMut(&Event) + Send + 'static) -> Self {
        self.sinks.push(Box::new(f));
        self
    }

    /// Send events to `sink` (a printer, a JSONL writer, your own).
    pub fn sink(mut self, sink: Box<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Load and check everything without running: the playbook, as the engine would get it.
    pub fn load(&self) -> Result<Playbook> {
        self.load_with(&self.loader())
    }

    /// The loader of the run: YAML read with the vault secrets.
    fn loader(&self) -> Loader {
        Loader::new(self.registry.clone(), self.roles_path.clone())
            .with_yaml(self.yaml())
            .with_extra_vars(self.extra_vars.clone())
    }

    fn yaml(&self) -> crate::yaml::Reader {
        let vault = crate::vault::Vault::with_secrets(self.secrets.clone());
        crate::yaml::Reader::default().with_vault(vault)
    }

    /// The inventory, read now.
    fn take_inventory(&mut self) -> Result<Inventory> {
        match self.inventory.take() {
            None => Err(Error::Usage("no inventory given".into())),
            Some(InventorySource::Built(inv)) => Ok(*inv),
            Some(InventorySource::Files(sources)) => Inventory::load_with(&sources, self.yaml()),
            Some(InventorySource::Text(text)) => {
                Inventory::parse_str_with(&text, Path::new("<inventory>"), self.yaml())
            }
        }
    }

    fn load_with(&self, loader: &Loader) -> Result<Playbook> {
        match &self.playbook {
            Some(Source::File(p)) => load_playbook(p, loader),
            Some(Source::Text(t, p)) => load_playbook_str(t, p, loader),
            None => Err(Error::Usage("no playbook given".into())),
        }
    }

    /// Run on the current tokio runtime.
    pub async fn run_async(mut self) -> Result<RunReport> {
        let loader = self.loader();
        let playbook = self.load_with(&loader)?;
        let mut inventory = self.take_inventory()?;
        if let Some(dir) = playbook.path.parent() {
            inventory.add_vars_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })?;
        }
        let connector = self
            .connector
            .take()
            .unwrap_or_else(|| Arc::new(DefaultConnector::new()));
        let sinks = std::mem::take(&mut self.sinks);
        let engine = Engine::new(
            inventory,
            self.inventory_file.clone(),
            Arc::new(loader),
            connector,
            self.effective_options(),
            Box::new(Fanout(sinks)),
        );
        engine.run(&playbook).await
    }

    /// Run, blocking the calling thread (starts its own tokio runtime).
    pub fn run(self) -> Result<RunReport> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Other(e.to_string()))?;
        rt.block_on(self.run_async())
    }
}

/// Sends each event to several sinks.
struct Fanout(Vec<Box<dyn EventSink>>);

impl EventSink for Fanout {
    fn event(&mut self, e: &Event) {
        for s in &mut self.0 {
            s.event(e);
        }
    }
}
