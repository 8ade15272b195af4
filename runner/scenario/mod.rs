//! `windlass test`: role and playbook scenarios in the Molecule spirit, on a `windlass lab`.
//!
//! Why this module exists: a role is tested the way it is used, on real hosts: a scenario
//! ([`model`]) names the lab it needs and its playbooks; each run boots that lab, converges,
//! converges again and fails if anything changed, verifies, and tears the lab down
//! ([`run`]), reporting each phase ([`report`]). Scenarios live beside what they test
//! ([`find`]). The lab and the engine are driven as libraries by the CLI
//! (runner/cli/test.rs).

pub mod find;
pub mod inventory;
pub mod model;
pub mod report;
pub mod run;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lab::LabName;

pub use model::Scenario;

/// The lab-name prefix when none is given.
pub const DEFAULT_PREFIX: &str = "wt";
/// The longest prefix: the rest of the 12-byte lab name is the scenario's hash.
const MAX_PREFIX: usize = 6;

/// The lab of the scenario in `dir`: `prefix` and a hash of the directory's full path, so
/// two scenarios (or two checkouts) never share a lab, and a scenario always gets the same.
pub fn lab_name(prefix: &str, dir: &Path) -> Result<LabName> {
    let ok = (1..=MAX_PREFIX).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && prefix.as_bytes()[0].is_ascii_lowercase();
    if !ok {
        return Err(Error::Usage(format!(
            "bad lab prefix {prefix:?}: use 1 to {MAX_PREFIX} of a-z and 0-9, starting with a letter"
        )));
    }
    let full = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let hash = hex::encode(Sha256::digest(full.as_os_str().as_encoded_bytes()));
    let name = format!("{prefix}{}", &hash[..12 - prefix.len()]);
    Ok(LabName::parse(&name)?)
}

/// The scenarios `args` name (every one under `root` when none), each once, read and
/// checked: any error stops before a lab is booted.
pub fn load(root: &Path, args: &[String]) -> Result<Vec<Scenario>> {
    let found = if args.is_empty() {
        find::all(root)?
    } else {
        let mut all = vec![];
        for a in args {
            all.extend(find::named(root, a)?);
        }
        all
    };
    if found.is_empty() {
        return Err(Error::Usage(format!(
            "no scenarios under {} (roles/ROLE/scenarios/NAME/scenario.yml, playbooks/scenarios/NAME/scenario.yml)",
            root.display()
        )));
    }
    let yaml = crate::yaml::Reader::default();
    let mut seen = std::collections::HashSet::new();
    found
        .into_iter()
        .filter(|(_, id)| seen.insert(id.clone()))
        .map(|(dir, id)| Scenario::load(&dir, &id, &yaml))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names_are_distinct_stable_and_prefixed() {
        let a = lab_name("s14", Path::new("/p/roles/a/scenarios/default")).unwrap();
        let b = lab_name("s14", Path::new("/p/roles/b/scenarios/default")).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            a,
            lab_name("s14", Path::new("/p/roles/a/scenarios/default")).unwrap()
        );
        assert!(a.as_str().starts_with("s14") && a.as_str().len() == 12);
        for bad in ["", "S14", "1ab", "toolong", "a-b"] {
            assert!(lab_name(bad, Path::new("/p")).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_project_finds_and_loads_its_scenarios() {
        let p = tempfile::tempdir().unwrap();
        let dir = p.path().join("roles/r1/scenarios/default");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(p.path().join("roles/r1/tasks")).unwrap();
        std::fs::write(dir.join("scenario.yml"), "hosts:\n  - name: node1\n").unwrap();
        std::fs::write(dir.join("converge.yml"), "- hosts: all\n").unwrap();
        let pb = p.path().join("playbooks/scenarios/ha");
        std::fs::create_dir_all(&pb).unwrap();
        std::fs::write(pb.join("scenario.yml"), "hosts:\n  - name: lb1\n").unwrap();
        std::fs::write(pb.join("converge.yml"), "- hosts: all\n").unwrap();
        let all = load(p.path(), &[]).unwrap();
        let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec!["r1/default", "playbooks/ha"]);
        assert_eq!(all[0].roles_path, vec![p.path().join("roles")]);
        assert!(all[1].roles_path.is_empty());
        // by ROLE/NAME, by ROLE, by path, and the same one twice is run once
        let by = |a: &[&str]| {
            let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            load(p.path(), &args).map(|v| v.into_iter().map(|s| s.id).collect::<Vec<_>>())
        };
        assert_eq!(by(&["r1/default"]).unwrap(), vec!["r1/default"]);
        assert_eq!(by(&["r1", "r1/default"]).unwrap(), vec!["r1/default"]);
        assert_eq!(by(&[dir.to_str().unwrap()]).unwrap(), vec!["r1/default"]);
        assert_eq!(
            by(&[pb.join("scenario.yml").to_str().unwrap()]).unwrap(),
            vec!["playbooks/ha"]
        );
        let err = by(&["nope/x"]).unwrap_err().to_string();
        assert!(err.contains("r1/default, playbooks/ha"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(load(empty.path(), &[]).is_err());
    }
}
