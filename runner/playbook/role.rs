//! Roles: finding a role directory and reading its defaults, vars and meta dependencies.
//!
//! Why this module exists: a role is a directory convention (`tasks/`, `handlers/`,
//! `defaults/`, `vars/`, `templates/`, `files/`, `meta/`). This module knows where roles are
//! looked for and what each file means; the loader turns the role's task files into tasks.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Loc, Result};
use crate::yaml::{self, Node};

/// One use of a role in a play: its files' variables plus the parameters it was given.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleInstance {
    /// The role's name.
    pub name: String,
    /// The role's directory.
    pub path: PathBuf,
    /// `defaults/main.yml` (lowest precedence).
    pub defaults: IndexMap<String, Value>,
    /// `vars/main.yml` (above play vars).
    pub vars: IndexMap<String, Value>,
    /// Role parameters (`- role: x` with extra keys, or `vars:` on the role entry).
    pub params: IndexMap<String, Value>,
    /// The collection (`ns.col`) the role comes from, if any.
    pub collection: Option<String>,
}

impl RoleInstance {
    /// The role's full name: `ns.col.name` for a collection's role, else its name (Ansible's
    /// `Role.get_name()`, shown in task headers and as `ansible_role_name`).
    pub fn fqcn(&self) -> String {
        match &self.collection {
            Some(c) => format!("{c}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A role dependency from `meta/main.yml`, or a play's `roles:` entry.
#[derive(Clone, Debug)]
pub struct RoleRef {
    /// Name or path as written.
    pub name: String,
    /// Parameters.
    pub params: IndexMap<String, Value>,
    /// Keywords on the entry (`when`, `tags`, `become`, …) as a node, if any.
    pub keywords: Vec<(String, Node)>,
    /// Where it is written.
    pub loc: Loc,
}

impl RoleRef {
    /// Parse a `roles:` entry or a meta dependency: `name`, or a mapping with `role:`/`name:`.
    pub fn parse(node: &Node) -> Result<RoleRef> {
        if let Some(s) = node.as_str() {
            return Ok(RoleRef {
                name: s.to_string(),
                params: IndexMap::new(),
                keywords: Vec::new(),
                loc: node.loc.clone(),
            });
        }
        let entries = node.expect_map("a role entry")?;
        let mut name = None;
        let mut params = IndexMap::new();
        let mut keywords = Vec::new();
        for (k, v) in entries {
            match k.as_str() {
                "role" | "name" => name = Some(v.expect_str("role name")?.to_string()),
                "vars" => {
                    for (vk, vv) in v.expect_map("role vars")? {
                        params.insert(vk, vv.to_value());
                    }
                }
                // Task keywords on a role entry apply to all its tasks (`vars` is handled above).
                kw if super::task::is_inherited_keyword(kw) => keywords.push((k, v.clone())),
                _ => {
                    params.insert(k, v.to_value());
                }
            }
        }
        let name = name.ok_or_else(|| {
            Error::invalid(&node.loc, "a role entry needs `role:` (the role's name)")
        })?;
        Ok(RoleRef {
            name,
            params,
            keywords,
            loc: node.loc.clone(),
        })
    }
}

/// Find a role by name (or path) in `search`, in order.
pub fn find_role(name: &str, search: &[PathBuf], loc: &Loc) -> Result<PathBuf> {
    let as_path = Path::new(name);
    if as_path.is_absolute() || name.contains('/') {
        for base in search.iter().map(|p| p.as_path()).chain([Path::new(".")]) {
            let p = base.join(as_path);
            if p.is_dir() {
                return Ok(p);
            }
        }
    }
    for dir in search {
        let p = dir.join(name);
        if p.join("tasks").is_dir()
            || p.join("meta").is_dir()
            || p.join("handlers").is_dir()
            || p.join("defaults").is_dir()
        {
            return Ok(p);
        }
    }
    let looked: Vec<String> = search.iter().map(|p| p.display().to_string()).collect();
    Err(Error::invalid_help(
        loc,
        format!("role `{name}` not found"),
        format!("looked in: {}", looked.join(", ")),
    ))
}

/// The main file of a role subdirectory: `<dir>/<name>.yml`, `.yaml`, or `<name>` itself.
pub fn role_file(role: &Path, sub: &str, name: &str) -> Option<PathBuf> {
    let d = role.join(sub);
    [
        format!("{name}.yml"),
        format!("{name}.yaml"),
        name.to_string(),
    ]
    .into_iter()
    .map(|f| d.join(f))
    .find(|p| p.is_file())
}

/// Read a role's `defaults/` or `vars/` main file as a mapping (empty when absent).
pub fn role_vars(
    role: &Path,
    sub: &str,
    name: &str,
    reader: &yaml::Reader,
) -> Result<IndexMap<String, Value>> {
    let mut out = IndexMap::new();
    for f in role_vars_files(role, sub, name) {
        let node = reader.load(&f)?;
        if node.is_null() {
            continue;
        }
        for (k, v) in node.expect_map(&format!("{sub}/{name}"))? {
            out.insert(k, v.to_value());
        }
    }
    Ok(out)
}

/// The files of a role's `defaults/<name>` or `vars/<name>`: the file, or when it is a
/// directory (`defaults/main/`), every YAML/JSON file under it in sorted path order, later
/// ones winning (Ansible's `DataLoader.find_vars_files` / `Role._load_role_yaml`).
pub fn role_vars_files(role: &Path, sub: &str, name: &str) -> Vec<PathBuf> {
    let dir = role.join(sub).join(name);
    if dir.is_dir() {
        let mut files = Vec::new();
        collect_vars_files(&dir, &mut files);
        files.sort();
        return files;
    }
    role_file(role, sub, name).into_iter().collect()
}

fn collect_vars_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_vars_files(&p, out);
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            None | Some("yml" | "yaml" | "json")
        ) {
            out.push(p);
        }
    }
}

/// Whether a role's `meta/main.yml` says `allow_duplicates: true`: it then runs each time
/// a play lists it, even with the same parameters.
pub fn allows_duplicates(role: &Path, reader: &yaml::Reader) -> Result<bool> {
    let Some(f) = role_file(role, "meta", "main") else {
        return Ok(false);
    };
    let node = reader.load(&f)?;
    Ok(node
        .get("allow_duplicates")
        .map(|v| v.to_value())
        .is_some_and(|v| crate::boolean::truthy(&v)))
}

/// A role's `meta/main.yml` `collections:` list (empty when absent).
pub fn role_meta_collections(role: &Path, reader: &yaml::Reader) -> Result<Vec<String>> {
    let Some(f) = role_file(role, "meta", "main") else {
        return Ok(Vec::new());
    };
    let node = reader.load(&f)?;
    match node.get("collections") {
        Some(c) => Ok(super::collections::parse_keyword(c)?.unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

/// A role's `meta/main.yml` dependencies.
pub fn role_dependencies(role: &Path, reader: &yaml::Reader) -> Result<Vec<RoleRef>> {
    let Some(f) = role_file(role, "meta", "main") else {
        return Ok(Vec::new());
    };
    let node = reader.load(&f)?;
    let Some(deps) = node.get("dependencies") else {
        return Ok(Vec::new());
    };
    if deps.is_null() {
        return Ok(Vec::new());
    }
    let items = deps
        .as_seq()
        .ok_or_else(|| Error::invalid(&deps.loc, "`dependencies` must be a list of roles"))?;
    items.iter().map(RoleRef::parse).collect()
}
