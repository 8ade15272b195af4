//! Where scenarios are: `roles/ROLE/scenarios/NAME/` and `playbooks/scenarios/NAME/` under
//! the project, and what a scenario named on the command line (a path, `ROLE/NAME`, `ROLE`
//! or `playbooks/NAME`) is.
//!
//! Why this file exists: `windlass test` with no argument runs every scenario of the
//! project, and a scenario has one name (its id) in the summary, the JSONL and its lab's
//! name, however it was asked for.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

use super::model::FILE;

/// A scenario directory and its id.
pub type Found = (PathBuf, String);

/// Every scenario under the project `root`, roles' first, each group by name.
pub fn all(root: &Path) -> Result<Vec<Found>> {
    let mut out = vec![];
    for role in sorted_dirs(&root.join("roles"))? {
        out.extend(scenarios_in(&role.join("scenarios"))?);
    }
    out.extend(scenarios_in(&root.join("playbooks").join("scenarios"))?);
    Ok(out)
}

/// The scenarios `arg` names: a scenario directory or its `scenario.yml`, `ROLE/NAME`,
/// `playbooks/NAME`, or `ROLE` (each of its scenarios).
pub fn named(root: &Path, arg: &str) -> Result<Vec<Found>> {
    let path = Path::new(arg);
    if path.join(FILE).is_file() {
        return Ok(vec![found(path)]);
    }
    if path.file_name().is_some_and(|f| f == FILE) && path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        return Ok(vec![found(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })]);
    }
    let plain = !arg.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if plain {
        let dir = match arg.split_once('/') {
            Some(("playbooks", name)) => root.join("playbooks").join("scenarios").join(name),
            Some((role, name)) => root.join("roles").join(role).join("scenarios").join(name),
            None => {
                let of_role = scenarios_in(&root.join("roles").join(arg).join("scenarios"))?;
                if !of_role.is_empty() {
                    return Ok(of_role);
                }
                PathBuf::new()
            }
        };
        if dir.join(FILE).is_file() {
            return Ok(vec![found(&dir)]);
        }
    }
    let known: Vec<String> = all(root)?.into_iter().map(|(_, id)| id).collect();
    Err(Error::Usage(format!(
        "no scenario `{arg}`: give a scenario directory, ROLE/NAME, ROLE or playbooks/NAME (known under {}: {})",
        root.display(),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// The scenario in `dir`, with its id.
fn found(dir: &Path) -> Found {
    (dir.to_path_buf(), id(dir))
}

/// `ROLE/NAME` for `…/roles/ROLE/scenarios/NAME`, `playbooks/NAME` for
/// `…/playbooks/scenarios/NAME`, else the directory as given.
pub fn id(dir: &Path) -> String {
    let names: Vec<String> = std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        [.., roles, role, s, name] if roles == "roles" && s == "scenarios" => {
            format!("{role}/{name}")
        }
        [.., p, s, name] if p == "playbooks" && s == "scenarios" => format!("playbooks/{name}"),
        _ => dir.display().to_string(),
    }
}

/// The scenario directories directly in `dir` (none when it does not exist), by name.
fn scenarios_in(dir: &Path) -> Result<Vec<Found>> {
    Ok(sorted_dirs(dir)?
        .into_iter()
        .filter(|d| d.join(FILE).is_file())
        .map(|d| found(&d))
        .collect())
}

/// The directories in `dir`, by name; none when `dir` does not exist.
fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}
