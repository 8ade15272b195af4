//! A simple in-memory [`Vars`]: a JSON map, optional other hosts, optional search dirs.
//!
//! Why this module exists: tests (here and in other modules) and small embedders need
//! template variables without the engine's precedence machinery.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{SearchKind, Vars};

/// A `serde_json::Map`-backed [`Vars`] with optional per-host maps and search dirs.
#[derive(Clone, Debug, Default)]
pub struct MapVars {
    /// This host's variables.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Other hosts (`hostvars`), by name.
    pub hosts: BTreeMap<String, Arc<MapVars>>,
    /// Directories searched by `lookup('file')`.
    pub files: Vec<PathBuf>,
    /// Directories searched by `lookup('template')` and `{% include %}`.
    pub templates: Vec<PathBuf>,
}

impl MapVars {
    /// Variables from a JSON object (anything else gives no variables).
    pub fn new(vars: serde_json::Value) -> MapVars {
        MapVars {
            vars: match vars {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
            ..MapVars::default()
        }
    }

    /// Adds another host visible through `hostvars`.
    pub fn with_host(mut self, name: &str, vars: MapVars) -> MapVars {
        self.hosts.insert(name.to_owned(), Arc::new(vars));
        self
    }

    /// Sets the search directories of one kind.
    pub fn with_search_dirs(mut self, kind: SearchKind, dirs: Vec<PathBuf>) -> MapVars {
        match kind {
            SearchKind::Files => self.files = dirs,
            SearchKind::Templates => self.templates = dirs,
        }
        self
    }

    /// This as the `Arc<dyn Vars>` the [`super::Templar`] takes.
    pub fn into_dyn(self) -> Arc<dyn Vars> {
        Arc::new(self)
    }
}

impl Vars for MapVars {
    fn get(&self, name: &str) -> Option<serde_json::Value> {
        self.vars.get(name).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.vars.keys().cloned().collect()
    }

    fn host(&self, name: &str) -> Option<Arc<dyn Vars>> {
        self.hosts.get(name).map(|h| h.clone() as Arc<dyn Vars>)
    }

    fn host_names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    fn search_dirs(&self, kind: SearchKind) -> Vec<PathBuf> {
        match kind {
            SearchKind::Files => self.files.clone(),
            SearchKind::Templates => self.templates.clone(),
        }
    }
}
