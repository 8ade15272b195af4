//! `group_vars/` and `host_vars/` directories, as Ansible's `host_group_vars` plugin reads them.
//!
//! Why this module exists: most variables of a real inventory (all of Kubespray's settings)
//! live in `group_vars/<group>.yml`, `group_vars/<group>/*.yml` and `host_vars/<host>.yml`
//! beside the inventory or the playbook. This module finds those files, in Ansible's order,
//! checks that each holds a mapping, and stores them in the [`Inventory`] at their
//! precedence level.
//!
//! For a name, Ansible looks at `<dir>/<name>` (a file, or a directory whose files are
//! read recursively in sorted order), then `<name>.yml`, `<name>.yaml`, `<name>.json`;
//! later files win key by key. Every such name in the directory is loaded, so hosts added
//! later with `add_host` still get their `host_vars/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Inventory, Vars, VarsLevel};
use crate::error::{Error, Result};
use crate::yaml;

/// Extensions a variables file may have (besides none).
pub const VARS_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// Load `dir/group_vars/` and `dir/host_vars/` into `inv` at `level`. Missing directories
/// are fine.
pub fn load_into(inv: &mut Inventory, dir: &Path, level: VarsLevel) -> Result<()> {
    for (sub, is_group) in [("group_vars", true), ("host_vars", false)] {
        let base = dir.join(sub);
        if !base.is_dir() {
            continue;
        }
        for name in names_in(&base, |n| {
            if is_group {
                inv.groups.contains_key(n)
            } else {
                inv.hosts.contains_key(n)
            }
        })? {
            let mut vars = Vars::new();
            for file in files_for(&base, &name)? {
                vars.extend(load_file(&file, inv.yaml())?);
            }
            if is_group {
                inv.set_group_files(level, &name, vars);
            } else {
                inv.set_host_files(level, &name, vars);
            }
        }
    }
    Ok(())
}

/// The names `base` holds variables for: directories, files with a variables extension
/// (minus it), files without an extension, and other files whose full name is `known`.
fn names_in(base: &Path, known: impl Fn(&str) -> bool) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(base).map_err(|e| Error::io(base, e))? {
        let entry = entry.map_err(|e| Error::io(base, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if skipped(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            names.insert(name);
            continue;
        }
        match name.rsplit_once('.') {
            Some((stem, ext)) if VARS_EXTENSIONS.contains(&ext) => {
                names.insert(stem.to_string());
            }
            None => {
                names.insert(name);
            }
            Some(_) if known(&name) => {
                names.insert(name);
            }
            Some(_) => {}
        }
    }
    Ok(names)
}

fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".bak")
        || name.ends_with(".orig")
}

/// The files holding variables for `name` under `base`, in the order they apply.
fn files_for(base: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let bare = base.join(name);
    if bare.is_dir() {
        dir_files(&bare, &mut out)?;
    } else if bare.is_file() {
        out.push(bare);
    }
    for ext in VARS_EXTENSIONS {
        let p = base.join(format!("{name}.{ext}"));
        if p.is_file() {
            out.push(p);
        }
    }
    Ok(out)
}

/// Files in a `group_vars/<name>/` directory, recursively, sorted by name; only files with
/// a variables extension or none.
fn dir_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if skipped(&name) {
            continue;
        }
        if path.is_dir() {
            dir_files(&path, out)?;
        } else {
            let ok = match path.extension() {
                None => true,
                Some(e) => VARS_EXTENSIONS.contains(&e.to_string_lossy().as_ref()),
            };
            if ok {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// One variables file: a mapping (or empty), as plain data, read by `reader`.
pub fn load_file(path: &Path, reader: &yaml::Reader) -> Result<Vars> {
    let doc = reader.load(path)?;
    if doc.is_null() {
        return Ok(Vars::new());
    }
    let entries = doc.expect_map("a variables file")?;
    Ok(entries
        .into_iter()
        .map(|(k, v)| (k, v.to_value()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_dirs_and_order() {
        let t = tempfile::tempdir().unwrap();
        let gv = t.path().join("group_vars");
        std::fs::create_dir_all(gv.join("web")).unwrap();
        std::fs::write(gv.join("web/a.yml"), "x: dir_a\ny: dir_a\n").unwrap();
        std::fs::write(gv.join("web/b.yaml"), "y: dir_b\n").unwrap();
        std::fs::write(gv.join("web/notes.txt"), "not: loaded\n").unwrap();
        std::fs::write(gv.join("web.yml"), "z: file\n").unwrap();
        std::fs::write(gv.join("README.md"), "# nothing\n").unwrap();
        std::fs::write(gv.join("all"), "w: bare\n").unwrap();
        let mut inv = Inventory::parse_str("[web]\nh\n", Path::new("hosts")).unwrap();
        load_into(&mut inv, t.path(), VarsLevel::Inventory).unwrap();
        let v = inv.host_vars("h");
        assert_eq!(v["x"], json!("dir_a"));
        assert_eq!(v["y"], json!("dir_b"));
        assert_eq!(v["z"], json!("file"));
        assert_eq!(v["w"], json!("bare"));
        assert!(!v.contains_key("not"));
    }

    #[test]
    fn non_mapping_is_a_located_error() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("host_vars")).unwrap();
        std::fs::write(t.path().join("host_vars/h.yml"), "- a\n- b\n").unwrap();
        let mut inv = Inventory::parse_str("h\n", Path::new("hosts")).unwrap();
        let e = load_into(&mut inv, t.path(), VarsLevel::Inventory).unwrap_err();
        assert!(e.to_string().contains("must be a mapping"), "{e}");
        assert_eq!(e.loc().unwrap().line, 1);
    }
}
