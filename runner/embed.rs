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

/// The options and the report of a run: the engine's, re-exported as part of this API.
pub use crate::engine::{RunOptions, RunReport};

enum Source {
    File(PathBuf),
    Text(String, PathBuf),
}

/// Builds and runs one playbook run.
pub struct Runner {
    inventory: Option<Inventory>,
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
        }
    }

    /// Load the inventory from files or directories (like `-i`).
    pub fn inventory_files(mut self, sources: &[PathBuf]) -> Result<Self> {
        self.inventory = Some(Inventory::load(sources)?);
        self.inventory_file = sources.first().cloned();
        Ok(self)
    }

    /// Parse the inventory from text (INI or YAML).
    pub fn inventory_str(mut self, text: &str) -> Result<Self> {
        self.inventory = Some(Inventory::parse_str(text, Path::new("<inventory>"))?);
        Ok(self)
    }

    /// Use an inventory built in code.
    pub fn inventory(mut self, inv: Inventory) -> Self {
        self.inventory = Some(inv);
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
        let loader = Loader::new(self.registry.clone(), self.roles_path.clone())
            .with_extra_vars(self.extra_vars.clone());
        self.load_with(&loader)
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
        let loader = Loader::new(self.registry.clone(), self.roles_path.clone())
            .with_extra_vars(self.extra_vars.clone());
        let playbook = self.load_with(&loader)?;
        let mut inventory = self
            .inventory
            .take()
            .ok_or_else(|| Error::Usage("no inventory given".into()))?;
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
