//! The inventory: hosts, groups and their variables, read as Ansible reads them.
//!
//! Why this module exists: every run starts from "which hosts, in which groups, with which
//! variables". Users bring Ansible inventories (INI, YAML or JSON files, executable
//! inventory scripts, directories of them,
//! `host1,host2,` lists, `group_vars/` and `host_vars/`), so this module loads all of
//! those into one [`Inventory`] and answers the questions the engine asks: host patterns
//! ([`Inventory::select`]), the `groups` and `group_names` magic variables, and each host's
//! inventory variables in Ansible's precedence order ([`Inventory::host_vars`]).
//!
//! The formats live in their own files: `ini`, `yaml_format`, `script_format` (executable
//! inventories and their saved JSON), `hostrange` (ranges and ports), `pattern` (host
//! patterns), `vars_dirs` (`group_vars/`, `host_vars/`) and `listing`
//! (`ansible-inventory --list` / `--graph` output).

pub(crate) mod hostrange;
pub(crate) mod implicit_localhost;
pub(crate) mod ini;
pub(crate) mod listing;
pub(crate) mod pattern;
pub(crate) mod pyliteral;
mod script_format;
pub(crate) mod vars_dirs;
pub(crate) mod yaml_format;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::{IndexMap, IndexSet};
use serde_json::Value;

use crate::error::{Error, Loc, Result};

/// Variables as an ordered map.
pub type Vars = IndexMap<String, Value>;

/// The names Ansible treats as the implicit localhost when they are not in the inventory.
pub(crate) const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A host pattern that cannot be resolved (unknown name, bad syntax, bad regex).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    /// What is wrong, naming the offending part of the pattern.
    pub message: String,
}

impl PatternError {
    /// A pattern error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        PatternError {
            message: message.into(),
        }
    }
}

/// One host.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The inventory name (`inventory_hostname`).
    pub name: String,
    /// Variables set on the host in inventory files (not `host_vars/`), later files winning.
    pub vars: Vars,
    /// The groups the host was put in directly, in order (never `all`/`ungrouped`).
    pub groups: Vec<String>,
    /// The inventory source that first defined the host (for `inventory_file`/`inventory_dir`);
    /// `None` for hosts from a `a,b,` list or `add_host`.
    pub source: Option<PathBuf>,
    /// Where the host was first defined.
    pub loc: Option<Loc>,
}

/// One group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Hosts put directly in this group, in order. For `all` this is every host; for
    /// `ungrouped` every host in no other group.
    pub hosts: Vec<String>,
    /// Direct child groups, in order. `all` has every group without another parent.
    pub children: Vec<String>,
    /// Direct parent groups (every group but `all` has at least `all`).
    pub parents: Vec<String>,
    /// Variables set on the group in inventory files (not `group_vars/`).
    pub vars: Vars,
    /// Where the group was first defined.
    pub loc: Option<Loc>,
}

impl Group {
    fn new(name: &str, loc: Option<Loc>) -> Group {
        Group {
            name: name.to_string(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            vars: Vars::new(),
            loc,
        }
    }

    /// `ansible_group_priority` from the group's inventory variables (default 1).
    pub fn priority(&self) -> i64 {
        match self.vars.get("ansible_group_priority") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
            _ => 1,
        }
    }
}

/// Which `group_vars/`/`host_vars/` a variable file came from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum VarsLevel {
    /// Beside an inventory source.
    Inventory,
    /// Beside the playbook ([`Inventory::add_vars_dir`]).
    Playbook,
}

/// Hosts, groups and their variables.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// `group_vars/<name>` contents by level, then group name.
    group_files: [IndexMap<String, Vars>; 2],
    /// `host_vars/<name>` contents by level, then host name.
    host_files: [IndexMap<String, Vars>; 2],
    /// Every source loaded, in order.
    sources: Vec<PathBuf>,
    /// Reads the YAML sources and vars files (duplicate keys, their warnings).
    yaml: crate::yaml::Reader,
    /// Hosts added as the implicit localhost ([`Inventory::add_implicit_localhost`]).
    implicit: Vec<String>,
    /// Which warnings [`Inventory::empty_warnings`] gives (all by default).
    empty_warnings: implicit_localhost::EmptyWarnings,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An inventory with only the groups `all` and `ungrouped`.
    pub fn new() -> Inventory {
        let mut groups = IndexMap::new();
        groups.insert("all".to_string(), Group::new("all", None));
        let mut ungrouped = Group::new("ungrouped", None);
        ungrouped.parents.push("all".to_string());
        groups.insert("ungrouped".to_string(), ungrouped);
        if let Some(all) = groups.get_mut("all") {
            all.children.push("ungrouped".to_string());
        }
        Inventory {
            hosts: IndexMap::new(),
            groups,
            group_files: [IndexMap::new(), IndexMap::new()],
            host_files: [IndexMap::new(), IndexMap::new()],
            sources: Vec::new(),
            yaml: crate::yaml::Reader::default(),
            implicit: Vec::new(),
            empty_warnings: implicit_localhost::EmptyWarnings::default(),
        }
    }

    /// Load one or more sources as `ansible -i` does: a file (INI or YAML, auto-detected:
    /// YAML if the extension is `.yml`/`.yaml`/`.json` or the text parses as a mapping
    /// whose top values are group mappings, else INI), a directory (every file in it,
    /// recursively, in sorted order, except hidden ones, `*.retry`, `*.orig`, `*.bak`,
    /// `*~`, `README*`, the `host_vars/`/`group_vars/` subdirectories and the `artifacts/`
    /// and `credentials/` subdirectories runs write kubeconfigs to), or a
    /// comma-separated host list (`a,b,` or `host1,`). `group_vars/` and `host_vars/` beside
    /// each source (in a directory source: inside it) are loaded.
    pub fn load(sources: &[PathBuf]) -> Result<Inventory> {
        Self::load_with(sources, crate::yaml::Reader::default())
    }

    /// [`Inventory::load`] with YAML read by `yaml` (its duplicate-key policy), which also
    /// reads the vars directories added later.
    pub(crate) fn load_with(sources: &[PathBuf], yaml: crate::yaml::Reader) -> Result<Inventory> {
        let mut inv = Inventory::new();
        inv.yaml = yaml;
        let mut vars_dirs: Vec<PathBuf> = Vec::new();
        for source in sources {
            let text = source.to_string_lossy();
            if source.is_dir() {
                inv.load_dir(source)?;
                vars_dirs.push(source.clone());
            } else if source.is_file() {
                inv.load_file(source)?;
                let parent = match source.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                vars_dirs.push(parent);
            } else if text.contains(',') {
                inv.load_host_list(&text)?;
            } else {
                return Err(Error::io(
                    source,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "inventory source not found (not a file, a directory or a `host1,host2,` list)",
                    ),
                ));
            }
            inv.sources.push(source.clone());
        }
        inv.reconcile();
        let mut seen = HashSet::new();
        for dir in vars_dirs {
            if seen.insert(dir.clone()) {
                vars_dirs::load_into(&mut inv, &dir, VarsLevel::Inventory)?;
            }
        }
        Ok(inv)
    }

    /// Parse inventory text (format auto-detected as in [`Inventory::load`]); `file` is used
    /// for locations and for the format hint of its extension. No vars directories are read.
    pub fn parse_str(text: &str, file: &Path) -> Result<Inventory> {
        Self::parse_str_with(text, file, crate::yaml::Reader::default())
    }

    /// [`Inventory::parse_str`] with YAML read by `yaml` (its vault, its duplicate-key
    /// policy), which also reads the vars directories added later.
    pub(crate) fn parse_str_with(
        text: &str,
        file: &Path,
        yaml: crate::yaml::Reader,
    ) -> Result<Inventory> {
        let mut inv = Inventory::new();
        inv.yaml = yaml;
        inv.parse_into(text, file)?;
        inv.reconcile();
        Ok(inv)
    }

    /// Load `group_vars/` and `host_vars/` under `dir` (the playbook's directory): higher
    /// precedence than the inventory-adjacent ones. Missing directories are fine.
    pub fn add_vars_dir(&mut self, dir: &Path) -> Result<()> {
        vars_dirs::load_into(self, dir, VarsLevel::Playbook)
    }

    /// Every source given to [`Inventory::load`], in order.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// The reader of the inventory's YAML, holding its warnings until they are taken.
    pub(crate) fn yaml(&self) -> &crate::yaml::Reader {
        &self.yaml
    }

    fn parse_into(&mut self, text: &str, file: &Path) -> Result<()> {
        if let Some(listing) = script_format::saved_listing(text) {
            return script_format::parse_saved(self, &listing, file);
        }
        match yaml_format::detect(text, file, &self.yaml)? {
            Some(doc) => yaml_format::parse_into(self, &doc, file),
            None => ini::parse_into(self, text, file),
        }
    }

    fn load_file(&mut self, path: &Path) -> Result<()> {
        let text = self.read_lossy(path)?;
        if text.starts_with("#!") && is_executable(path) {
            return script_format::load_script(self, path);
        }
        self.parse_into(&text, path)
    }

    fn load_dir(&mut self, dir: &Path) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if ignored_in_dir(&name) {
                continue;
            }
            if path.is_dir() {
                // What a run leaves beside its inventory (Kubespray's and our roles'
                // artifacts_dir and credentials_dir: kubeconfigs, tokens) is not inventory.
                if name == "artifacts" || name == "credentials" {
                    continue;
                }
                self.load_dir(&path)?;
            } else {
                self.load_file(&path)?;
            }
        }
        Ok(())
    }

    fn load_host_list(&mut self, list: &str) -> Result<()> {
        let loc = Loc::file("<host list>");
        for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let addr = hostrange::parse_address(entry).map_err(|m| Error::invalid(&loc, m))?;
            let host = self.ensure_host(&addr.name, None, None);
            if let Some(port) = addr.port {
                host.vars
                    .insert("ansible_port".to_string(), Value::from(port));
            }
        }
        Ok(())
    }

    /// Every host name in inventory order (order of first appearance).
    pub fn host_names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// Every group name in order of creation (`all` and `ungrouped` first).
    pub fn group_list(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// Resolve a host pattern (for `--limit` and listings) to host names in the pattern's
    /// order, deduplicated. See `pattern` for the syntax. Names that match nothing are
    /// an error (unlike Ansible, which only warns).
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, PatternError> {
        pattern::select(self, pattern)
    }

    /// As [`Inventory::select`], for a play's `hosts:`: names that match nothing are
    /// skipped (returned second, to warn about), as Ansible does.
    pub(crate) fn select_lenient(
        &self,
        pattern: &str,
    ) -> Result<(Vec<String>, Vec<String>), PatternError> {
        pattern::select_lenient(self, pattern)
    }

    /// The `groups` magic variable: every group name (incl. `all` and `ungrouped`) → all
    /// hosts in it, transitively through children, in Ansible's order (see
    /// `Inventory::group_order`).
    pub fn groups_var(&self) -> IndexMap<String, Vec<String>> {
        let mut members: IndexMap<String, IndexSet<String>> = self
            .groups
            .keys()
            .map(|g| (g.clone(), IndexSet::new()))
            .collect();
        for host in self.hosts.keys() {
            for g in self.host_group_set(host) {
                if let Some(set) = members.get_mut(&g) {
                    set.insert(host.clone());
                }
            }
        }
        members
            .into_iter()
            .map(|(g, set)| {
                let mut list: Vec<String> = self
                    .group_order(&g)
                    .into_iter()
                    .filter(|h| set.contains(h))
                    .collect();
                let listed: HashSet<String> = list.iter().cloned().collect();
                list.extend(set.into_iter().filter(|h| !listed.contains(h)));
                (g, list)
            })
            .collect()
    }

    /// The hosts of `group` in the order Ansible lists them (`Group._get_hosts` in
    /// `lib/ansible/inventory/group.py`): the group's own hosts, then its descendants' level
    /// by level (children first, then grandchildren...), each host once. `all`'s own hosts
    /// are those in no other group. (Ansible walks the levels below the children in set
    /// order, which varies between runs; here they go in order of appearance.)
    pub(crate) fn group_order(&self, group: &str) -> Vec<String> {
        let mut order: Vec<&str> = vec![group];
        let mut seen: HashSet<&str> = HashSet::from([group]);
        let mut i = 0;
        while i < order.len() {
            if let Some(g) = self.groups.get(order[i]) {
                for c in &g.children {
                    if seen.insert(c.as_str()) {
                        order.push(c.as_str());
                    }
                }
            }
            i += 1;
        }
        let mut hosts: IndexSet<String> = IndexSet::new();
        for g in order {
            if g == "all" {
                let own = self.hosts.values().filter(|h| h.groups.is_empty());
                hosts.extend(own.map(|h| h.name.clone()));
            } else if let Some(grp) = self.groups.get(g) {
                hosts.extend(grp.hosts.iter().cloned());
            }
        }
        hosts.into_iter().collect()
    }

    /// The `group_names` magic variable: groups the host is in (transitively), sorted,
    /// without `all` and `ungrouped`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_group_set(host)
            .into_iter()
            .filter(|g| g != "all" && g != "ungrouped")
            .collect();
        names.sort();
        names
    }

    /// Every group `host` is in, directly or through children, `all` included.
    pub(crate) fn host_group_set(&self, host: &str) -> IndexSet<String> {
        let mut out = IndexSet::new();
        let Some(h) = self.hosts.get(host) else {
            return out;
        };
        let mut stack: Vec<&str> = vec!["all"];
        if h.groups.is_empty() {
            stack.push("ungrouped");
        }
        stack.extend(h.groups.iter().map(String::as_str));
        while let Some(g) = stack.pop() {
            if out.insert(g.to_string())
                && let Some(group) = self.groups.get(g)
            {
                stack.extend(group.parents.iter().map(String::as_str));
            }
        }
        out
    }

    fn depth_memo(&self, group: &str, memo: &mut HashMap<String, usize>) -> usize {
        if let Some(d) = memo.get(group) {
            return *d;
        }
        let d = match self.groups.get(group) {
            Some(g) if g.name != "all" => g
                .parents
                .iter()
                .map(|p| self.depth_memo(p, memo) + 1)
                .max()
                .unwrap_or(1),
            _ => 0,
        };
        memo.insert(group.to_string(), d);
        d
    }

    /// The host's groups other than `all`, in the order Ansible applies their variables:
    /// by depth (parents before children), then `ansible_group_priority`, then name.
    pub fn sorted_groups(&self, host: &str) -> Vec<String> {
        let mut memo = HashMap::new();
        let mut groups: Vec<(usize, i64, String)> = self
            .host_group_set(host)
            .into_iter()
            .filter(|g| g != "all")
            .map(|g| {
                let depth = self.depth_memo(&g, &mut memo);
                let prio = self.groups.get(&g).map(Group::priority).unwrap_or(1);
                (depth, prio, g)
            })
            .collect();
        groups.sort();
        groups.into_iter().map(|(_, _, g)| g).collect()
    }

    /// All inventory-derived variables of the host, merged in Ansible's precedence order
    /// (its default `VARIABLE_PRECEDENCE`; later wins, top-level keys replaced, no deep
    /// merge):
    ///
    /// 1. inventory-file vars of `all`;
    /// 2. inventory-file vars of the host's other groups;
    /// 3. inventory-adjacent `group_vars/all`;
    /// 4. playbook-adjacent `group_vars/all`;
    /// 5. inventory-adjacent `group_vars/<g>` for the other groups;
    /// 6. playbook-adjacent `group_vars/<g>`;
    /// 7. the host's vars from inventory files;
    /// 8. inventory-adjacent `host_vars/<host>`;
    /// 9. playbook-adjacent `host_vars/<host>`.
    ///
    /// Within 2, 5 and 6 groups go by depth (parents before children), then
    /// `ansible_group_priority`, then name. A host not in the inventory but named like the
    /// implicit localhost gets `all`'s variables and `ansible_connection: local`.
    pub fn host_vars(&self, host: &str) -> Vars {
        let mut out = Vars::new();
        let merge = |out: &mut Vars, v: Option<&Vars>| {
            if let Some(v) = v {
                for (k, x) in v {
                    out.insert(k.clone(), x.clone());
                }
            }
        };
        let Some(h) = self.hosts.get(host) else {
            if LOCALHOST_NAMES.contains(&host) {
                merge(&mut out, self.groups.get("all").map(|g| &g.vars));
                for level in 0..2 {
                    merge(&mut out, self.group_files[level].get("all"));
                }
                out.insert("ansible_connection".into(), Value::from("local"));
            }
            return out;
        };
        let groups = self.sorted_groups(host);
        merge(&mut out, self.groups.get("all").map(|g| &g.vars));
        for g in &groups {
            merge(&mut out, self.groups.get(g).map(|g| &g.vars));
        }
        for level in 0..2 {
            merge(&mut out, self.group_files[level].get("all"));
        }
        for level in 0..2 {
            for g in &groups {
                merge(&mut out, self.group_files[level].get(g));
            }
        }
        merge(&mut out, Some(&h.vars));
        for level in 0..2 {
            merge(&mut out, self.host_files[level].get(host));
        }
        out
    }

    /// Variables of `group` from `group_vars/` files (inventory-adjacent, then
    /// playbook-adjacent merged over them).
    pub(crate) fn group_file_vars(&self, group: &str) -> Vars {
        let mut out = Vars::new();
        for level in 0..2 {
            if let Some(v) = self.group_files[level].get(group) {
                out.extend(v.iter().map(|(k, x)| (k.clone(), x.clone())));
            }
        }
        out
    }

    /// Add a host at runtime (for `add_host`), into `groups` (created when missing), with
    /// `vars` merged over its existing inventory variables.
    /// Whether anything changed: the host is new, joined a group (a new one too) or its
    /// variables changed (`InventoryManager.add_dynamic_host`/`add_dynamic_group`, which
    /// make add_host's and group_by's `changed`).
    pub fn add_host(&mut self, name: &str, groups: &[String], vars: Vars) -> bool {
        let mut changed = !self.hosts.contains_key(name);
        self.ensure_host(name, None, None);
        for g in groups {
            if g == "all" || g == "ungrouped" {
                continue;
            }
            changed |= !self.groups.contains_key(g);
            self.ensure_group(g, None);
            changed |= !self.hosts[name].groups.iter().any(|x| x == g);
            self.put_host_in_group(name, g);
        }
        if let Some(h) = self.hosts.get_mut(name) {
            for (k, v) in vars {
                changed |= h.vars.get(&k) != Some(&v);
                h.vars.insert(k, v);
            }
        }
        self.reconcile();
        changed
    }

    /// JSON like `ansible-inventory --list`: see `listing::to_list_json`.
    pub fn to_list_json(&self) -> Value {
        listing::to_list_json(self, false)
    }

    /// JSON like `ansible-inventory --list --export`: group variables stay on the groups
    /// and `_meta.hostvars` holds only each host's own variables.
    pub fn to_list_json_export(&self) -> Value {
        listing::to_list_json(self, true)
    }

    /// Text like `ansible-inventory --graph [group]` (`@all:`, `  |--@group:`,
    /// `  |  |--host`).
    pub fn graph(&self, group: Option<&str>) -> Result<String, PatternError> {
        listing::graph(self, group)
    }

    // ---- building (used by the format parsers) ----

    pub(crate) fn ensure_group(&mut self, name: &str, loc: Option<&Loc>) -> &mut Group {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group::new(name, loc.cloned()))
    }

    pub(crate) fn ensure_host(
        &mut self,
        name: &str,
        source: Option<&Path>,
        loc: Option<&Loc>,
    ) -> &mut Host {
        self.hosts.entry(name.to_string()).or_insert_with(|| Host {
            name: name.to_string(),
            vars: Vars::new(),
            groups: Vec::new(),
            source: source.map(Path::to_path_buf),
            loc: loc.cloned(),
        })
    }

    /// Put an existing host directly into an existing group (`all`/`ungrouped` are implicit).
    /// Membership is looked up in the host's own (short) group list, which this function
    /// keeps in step with the group's host list: scanning the group's list instead made
    /// loading a large group quadratic (100,000 hosts in one group took minutes).
    pub(crate) fn put_host_in_group(&mut self, host: &str, group: &str) {
        if group == "all" || group == "ungrouped" || !self.groups.contains_key(group) {
            return;
        }
        let Some(h) = self.hosts.get_mut(host) else {
            return;
        };
        if h.groups.iter().any(|g| g == group) {
            return;
        }
        h.groups.push(group.to_string());
        if let Some(g) = self.groups.get_mut(group) {
            g.hosts.push(host.to_string());
        }
    }

    /// Make `child` a child of `parent` (both must exist); a cycle is an error at `loc`.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str, loc: &Loc) -> Result<()> {
        if child == "all" {
            return Err(Error::invalid(
                loc,
                format!("group `all` cannot be a child of `{parent}`"),
            ));
        }
        if parent == child || self.is_ancestor(child, parent) {
            return Err(Error::invalid(
                loc,
                format!(
                    "adding group `{child}` as a child of `{parent}` creates a cycle (`{parent}` is already below `{child}`)"
                ),
            ));
        }
        if let Some(p) = self.groups.get_mut(parent)
            && !p.children.iter().any(|c| c == child)
        {
            p.children.push(child.to_string());
        }
        if let Some(c) = self.groups.get_mut(child)
            && !c.parents.iter().any(|p| p == parent)
        {
            c.parents.push(parent.to_string());
        }
        Ok(())
    }

    /// Whether `anc` is `group` or one of its ancestors.
    fn is_ancestor(&self, anc: &str, group: &str) -> bool {
        let mut stack = vec![group];
        let mut seen = HashSet::new();
        while let Some(g) = stack.pop() {
            if g == anc {
                return true;
            }
            if seen.insert(g)
                && let Some(grp) = self.groups.get(g)
            {
                stack.extend(grp.parents.iter().map(String::as_str));
            }
        }
        false
    }

    /// Re-establish the implicit structure: every parentless group is a child of `all`,
    /// `all` lists every host, `ungrouped` every host in no other group.
    pub(crate) fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in &names {
            if name == "all" {
                continue;
            }
            let parentless = self.groups.get(name).is_some_and(|g| g.parents.is_empty());
            if parentless {
                if let Some(g) = self.groups.get_mut(name) {
                    g.parents.push("all".to_string());
                }
                if let Some(all) = self.groups.get_mut("all") {
                    all.children.push(name.clone());
                }
            }
        }
        let all_hosts: Vec<String> = self.hosts.keys().cloned().collect();
        let ungrouped: Vec<String> = self
            .hosts
            .values()
            .filter(|h| h.groups.is_empty())
            .map(|h| h.name.clone())
            .collect();
        if let Some(all) = self.groups.get_mut("all") {
            all.hosts = all_hosts;
        }
        if let Some(u) = self.groups.get_mut("ungrouped") {
            u.hosts = ungrouped;
        }
    }

    pub(crate) fn set_group_files(&mut self, level: VarsLevel, name: &str, vars: Vars) {
        let slot = self.group_files[level as usize]
            .entry(name.to_string())
            .or_default();
        slot.extend(vars);
    }

    pub(crate) fn set_host_files(&mut self, level: VarsLevel, name: &str, vars: Vars) {
        let slot = self.host_files[level as usize]
            .entry(name.to_string())
            .or_default();
        slot.extend(vars);
    }
}

/// Whether a directory inventory skips the entry `name` (Ansible's ignore rules).
fn ignored_in_dir(name: &str) -> bool {
    const EXTS: [&str; 14] = [
        "~",
        ".orig",
        ".bak",
        ".retry",
        ".cfg",
        ".pyc",
        ".pyo",
        ".swp",
        ".rpm",
        ".md",
        ".txt",
        ".rst",
        ".tmp",
        ".dpkg-old",
    ];
    name.starts_with('.')
        || name.starts_with("README")
        || name == "group_vars"
        || name == "host_vars"
        || name == "vars_plugins"
        || EXTS.iter().any(|e| name.ends_with(e))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

impl Inventory {
    /// An inventory file's text; bytes that are not UTF-8 are replaced (U+FFFD) with a
    /// warning, as ansible-core 2.19's DataLoader escapes them ("could not be decoded as
    /// 'utf-8'. Invalid content has been escaped", a deprecation) and parses the rest,
    /// rather than stopping the run.
    fn read_lossy(&self, path: &Path) -> Result<String> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(e) => {
                self.yaml.warn(format!(
                    "File '{}' could not be decoded as 'utf-8'. Invalid content has been \
                     replaced. This file must be UTF-8 encoded.",
                    path.display()
                ));
                Ok(String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv(text: &str) -> Inventory {
        Inventory::parse_str(text, Path::new("hosts")).unwrap()
    }

    #[test]
    fn all_and_ungrouped_are_implicit() {
        let i = inv("lonely\n[web]\nw1\n[db]\n");
        assert_eq!(i.host_names(), ["lonely", "w1"]);
        assert_eq!(i.group("ungrouped").unwrap().hosts, ["lonely"]);
        assert_eq!(i.group("all").unwrap().children, ["ungrouped", "web", "db"]);
        let g = i.groups_var();
        assert_eq!(g["all"], ["lonely", "w1"]);
        assert_eq!(g["db"], Vec::<String>::new());
        assert_eq!(i.group_names("w1"), ["web"]);
        assert_eq!(i.group_names("lonely"), Vec::<String>::new());
    }

    #[test]
    fn a_host_named_twice_in_a_group_is_in_it_once() {
        // Membership is checked on the host's side (put_host_in_group): the group's list
        // and the host's list stay in step, in first-seen order.
        let i = inv("[web]\na\nb\na\n[db]\nb\n[web]\nb\nc\n");
        assert_eq!(i.group("web").unwrap().hosts, ["a", "b", "c"]);
        assert_eq!(i.group("db").unwrap().hosts, ["b"]);
        assert_eq!(i.hosts.get("b").unwrap().groups, ["web", "db"]);
        assert_eq!(i.select("web:&db").unwrap(), ["b"]);
        assert_eq!(i.select("all:!web").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn group_order_by_depth_priority_name() {
        let i = inv(
            "[b]\nh\n[a]\nh\n[top:children]\nb\n[z]\nh\n[z:vars]\nansible_group_priority=0\nx=z\n[a:vars]\nx=a\n[b:vars]\nx=b\n",
        );
        // top(1), z(1, prio 0), a(1), b(2)
        assert_eq!(i.sorted_groups("h"), ["z", "a", "top", "b"]);
        assert_eq!(i.host_vars("h")["x"], json!("b"));
    }

    #[test]
    fn add_host_at_runtime() {
        let mut i = inv("a\n");
        let mut vars = Vars::new();
        vars.insert("v".into(), json!(1));
        i.add_host("new", &["fresh".to_string()], vars);
        assert_eq!(i.host_names(), ["a", "new"]);
        assert_eq!(i.groups_var()["fresh"], ["new"]);
        assert!(
            i.group("all")
                .unwrap()
                .children
                .contains(&"fresh".to_string())
        );
        assert_eq!(i.host_vars("new")["v"], json!(1));
        assert_eq!(i.group("ungrouped").unwrap().hosts, ["a"]);
    }

    #[test]
    #[cfg(unix)]
    fn inventory_scripts_run_with_list_then_host() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let script = t.path().join("inv.sh");
        // No `_meta`: each host's variables come from `--host NAME`.
        let body = r#"#!/bin/sh
case "$1" in
  --list) echo '{"web": {"hosts": ["w1", "w2"], "vars": {"tier": "front"}, "children": ["edge"]}, "edge": ["e1"]}' ;;
  --host) echo "{\"who\": \"$2\"}" ;;
esac
"#;
        std::fs::write(&script, body).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let i = Inventory::load(std::slice::from_ref(&script)).unwrap();
        assert_eq!(i.group("web").unwrap().hosts, ["w1", "w2"]);
        assert_eq!(i.host_vars("w2")["who"], json!("w2"));
        assert_eq!(i.host_vars("e1")["tier"], json!("front"));
        std::fs::write(&script, "#!/bin/sh\necho oops >&2\nexit 3\n").unwrap();
        let e = Inventory::load(std::slice::from_ref(&script)).unwrap_err();
        assert!(e.to_string().contains("oops"), "{e}");
        // Without the executable bit it is read as INI (the `#!` line is a comment).
        std::fs::write(&script, "#!/bin/sh\nhostx\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(Inventory::load(&[script]).unwrap().host_names(), ["hostx"]);
    }

    #[test]
    fn saved_listings_are_read_with_their_hostvars() {
        let text = r#"{"_meta": {"hostvars": {"a": {"ansible_host": "10.0.0.1"}}},
            "all": {"children": ["ungrouped", "db"]}, "db": {"hosts": ["a"]}, "ungrouped": {"hosts": ["b"]}}"#;
        let i = Inventory::parse_str(text, Path::new("inventory.json")).unwrap();
        assert_eq!(i.host_names(), ["a", "b"]);
        assert_eq!(i.host_vars("a")["ansible_host"], json!("10.0.0.1"));
        assert_eq!(i.group("db").unwrap().hosts, ["a"]);
        // A YAML inventory written as JSON is still that.
        let yaml = r#"{"all": {"hosts": {"c": {"x": 1}}}}"#;
        let i = Inventory::parse_str(yaml, Path::new("inventory.json")).unwrap();
        assert_eq!(i.host_vars("c")["x"], json!(1));
    }

    #[test]
    fn several_sources_merge() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.ini");
        let b = t.path().join("b.yml");
        std::fs::write(&a, "[web]\nw1 x=1\n[web:vars]\ng=a\n").unwrap();
        std::fs::write(
            &b,
            "web:\n  hosts:\n    w2:\n    w1: {x: 2}\n  vars:\n    g: b\n",
        )
        .unwrap();
        let i = Inventory::load(&[a, b]).unwrap();
        assert_eq!(i.group("web").unwrap().hosts, ["w1", "w2"]);
        assert_eq!(i.host_vars("w1")["x"], json!(2));
        assert_eq!(i.host_vars("w2")["g"], json!("b"));
        assert_eq!(i.sources().len(), 2);
    }

    #[test]
    fn implicit_localhost_vars() {
        let i = inv("[all:vars]\nx=1\n");
        assert_eq!(
            i.host_vars("localhost")["ansible_connection"],
            json!("local")
        );
        assert_eq!(i.host_vars("localhost")["x"], json!(1));
        assert!(i.host_vars("elsewhere").is_empty());
    }
}
