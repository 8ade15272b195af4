//! What `up` made, recorded in the lab's directory, so `down` removes exactly that.
//!
//! Why this file exists: the machine may run other host sets (other labs, other scripts'
//! bridges and namespaces). `down` never searches by pattern: it undoes the network, mounts,
//! cgroups and processes this file names, and each is recorded before it is made, so a
//! failed `up` is undone as far as it got.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{LabError, Result};
use super::model::{Host, Lab, LabName, Layout, Suite};

/// A host as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// Name and address.
    #[serde(flatten)]
    pub host: Host,
    /// The pid of its systemd-nspawn, once started.
    pub pid: Option<u32>,
    /// The cgroups made for it.
    pub cgroups: Vec<PathBuf>,
}

/// A lab as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    /// The lab name.
    pub name: LabName,
    /// The Debian release.
    pub suite: Suite,
    /// N of 10.240.N.0/24.
    pub subnet: u8,
    /// Whether the network (namespace, uplink, routing rule) was made.
    pub network: bool,
    /// The hosts, in order.
    pub hosts: Vec<HostState>,
}

impl LabState {
    /// The file of the lab in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    /// The state of the lab in `dir`, if it has one.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LabError::State {
                    path,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io("cannot read", path, e)),
        }
    }

    /// Write it (atomically: a crash leaves the old or the new record).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| LabError::io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LabError::io("cannot write", &path, e))
    }

    /// The model of the recorded lab.
    pub fn lab(&self, layout: &Layout) -> Lab {
        Lab {
            name: self.name.clone(),
            suite: self.suite,
            dir: layout.lab(&self.name),
            subnet: self.subnet,
            hosts: self.hosts.iter().map(|h| h.host.clone()).collect(),
        }
    }
}

/// The recorded state of every lab under `layout`.
pub fn all(layout: &Layout) -> Result<Vec<LabState>> {
    let dir = layout.labs();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(LabError::io("cannot read", dir, e)),
    };
    let mut labs = vec![];
    for entry in entries.flatten() {
        if let Some(s) = LabState::load(&entry.path())? {
            labs.push(s);
        }
    }
    labs.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    Ok(labs)
}

/// The lowest subnet number no recorded lab holds and no address of this machine is in
/// (`addresses`: `ip -o -4 addr` output).
pub fn free_subnet(labs: &[LabState], addresses: &str) -> Result<u8> {
    (0..=255u8)
        .find(|n| {
            let prefix = format!(" 10.240.{n}.");
            !labs.iter().any(|l| l.subnet == *n) && !addresses.contains(&prefix)
        })
        .ok_or(LabError::NoSubnet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, subnet: u8) -> LabState {
        LabState {
            name: LabName::parse(name).unwrap(),
            suite: Suite::Bookworm,
            subnet,
            network: true,
            hosts: vec![],
        }
    }

    #[test]
    fn subnets_are_allocated_around_labs_and_addresses() {
        assert_eq!(free_subnet(&[], "").unwrap(), 0);
        let labs = [state("a", 0), state("b", 2)];
        assert_eq!(free_subnet(&labs, "").unwrap(), 1);
        let addrs = "5: wl-x    inet 10.240.1.1/24 scope global wl-x\n";
        assert_eq!(free_subnet(&labs, addrs).unwrap(), 3);
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), None);
        let mut s = state("s13", 4);
        let lab = Lab::new(s.name.clone(), s.suite, &Layout::new(dir.path()), 4, 1).unwrap();
        s.hosts.push(HostState {
            host: lab.hosts[0].clone(),
            pid: Some(42),
            cgroups: vec!["/sys/fs/cgroup/x".into()],
        });
        s.save(dir.path()).unwrap();
        assert_eq!(LabState::load(dir.path()).unwrap(), Some(s.clone()));
        assert_eq!(s.lab(&Layout::new(dir.path())).hosts, lab.hosts);
        std::fs::write(LabState::path(dir.path()), "{").unwrap();
        assert!(matches!(
            LabState::load(dir.path()),
            Err(LabError::State { .. })
        ));
    }
}
