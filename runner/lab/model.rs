//! The lab's model: its name, Debian suite, directories, subnet and hosts.
//!
//! Why this file exists: every name a lab puts in a machine-global place (network
//! namespace, uplink link, routing table, machine names, directories) is derived here from
//! the lab name and its recorded subnet, so two labs never share one and `down` can name
//! exactly what `up` made.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{LabError, Result};

/// The most hosts one lab has (addresses .11 to .210 of its /24).
pub const MAX_HOSTS: usize = 200;
/// The first host's last address byte; .1 is this machine's end of the uplink.
const FIRST_HOST: u8 = 11;
/// Where labs live when `--dir`/`WINDLASS_LAB_DIR` says nothing.
pub const DEFAULT_ROOT: &str = "/var/tmp/windlass-lab";
/// The lab name when `--name` says nothing.
pub const DEFAULT_NAME: &str = "default";
/// Routing table numbers are this plus the subnet number.
const TABLE_BASE: u32 = 2400;

/// A Debian release the hosts run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Debian 12.
    Bookworm,
    /// Debian 13.
    Trixie,
}

impl Suite {
    /// The codename.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
        }
    }
}

/// A lab's name, checked: it names a netns, a link (`wl-NAME`, at most 15 bytes) and a
/// directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabName(String);

impl LabName {
    /// `name` if it can name a lab.
    pub fn parse(name: &str) -> Result<Self> {
        let ok = (1..=12).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if ok {
            Ok(LabName(name.to_string()))
        } else {
            Err(LabError::BadName(name.to_string()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a lab's files and the shared caches are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The root of every lab and cache.
    pub root: PathBuf,
}

impl Layout {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The directory of every lab.
    pub fn labs(&self) -> PathBuf {
        self.root.join("labs")
    }

    /// One lab's directory.
    pub fn lab(&self, name: &LabName) -> PathBuf {
        self.labs().join(name.as_str())
    }

    /// A suite's cache (base rootfs and package repository), shared by its labs.
    pub fn cache(&self, suite: Suite) -> PathBuf {
        self.root.join("cache").join(suite.name())
    }

    /// The cached base rootfs of `suite`.
    pub fn base(&self, suite: Suite) -> PathBuf {
        self.cache(suite).join("rootfs")
    }

    /// The local package repository of `suite`.
    pub fn repo(&self, suite: Suite) -> PathBuf {
        self.cache(suite).join("repo")
    }
}

/// One host of a lab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// The machine and inventory name, `LAB-NN`.
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
}

/// A lab: what `up` makes, derived from the name, suite, subnet number and host count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lab {
    /// The name.
    pub name: LabName,
    /// The Debian release.
    pub suite: Suite,
    /// The lab's directory.
    pub dir: PathBuf,
    /// The subnet number N of 10.240.N.0/24.
    pub subnet: u8,
    /// The hosts.
    pub hosts: Vec<Host>,
}

impl Lab {
    /// The lab `name` with `count` hosts on subnet `subnet`.
    pub fn new(
        name: LabName,
        suite: Suite,
        layout: &Layout,
        subnet: u8,
        count: usize,
    ) -> Result<Self> {
        if !(1..=MAX_HOSTS).contains(&count) {
            return Err(LabError::BadCount(count));
        }
        let hosts = (1..=count)
            .map(|i| Host {
                name: format!("{}-{i:02}", name.as_str()),
                ip: Ipv4Addr::new(10, 240, subnet, FIRST_HOST + (i - 1) as u8),
            })
            .collect();
        Ok(Lab {
            dir: layout.lab(&name),
            name,
            suite,
            subnet,
            hosts,
        })
    }

    /// The network namespace holding the bridge and the hosts' links.
    pub fn netns(&self) -> String {
        format!("windlass-{}", self.name.as_str())
    }

    /// This machine's end of the link to the lab's bridge.
    pub fn uplink(&self) -> String {
        format!("wl-{}", self.name.as_str())
    }

    /// This machine's address on the lab's subnet (the hosts' gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 240, self.subnet, 1)
    }

    /// The subnet, `10.240.N.0/24`.
    pub fn cidr(&self) -> String {
        format!("10.240.{}.0/24", self.subnet)
    }

    /// The policy routing table that keeps the hosts' packets on this machine.
    pub fn table(&self) -> u32 {
        TABLE_BASE + u32::from(self.subnet)
    }

    /// The lab's SSH private key.
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// The ssh_config that `lab ssh` and the boot check use.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// A host's directory (overlay upper/work, mount point, console log).
    pub fn host_dir(&self, host: &str) -> PathBuf {
        self.dir.join("hosts").join(host)
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| LabError::UnknownHost {
                lab: self.name.as_str().to_string(),
                host: name.to_string(),
            })
    }
}

/// `path` as text, for argv.
pub(crate) fn arg(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(LabName::parse("s13-a").is_ok());
        for bad in ["", "-a", "A", "a_b", "a/b", "thirteen-long"] {
            assert!(
                matches!(LabName::parse(bad), Err(LabError::BadName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn hosts_get_names_and_addresses() {
        let lab = Lab::new(
            LabName::parse("s13").unwrap(),
            Suite::Bookworm,
            &Layout::new("/r"),
            7,
            2,
        )
        .unwrap();
        assert_eq!(lab.hosts[1].name, "s13-02");
        assert_eq!(lab.hosts[1].ip, Ipv4Addr::new(10, 240, 7, 12));
        assert_eq!(lab.dir, PathBuf::from("/r/labs/s13"));
        assert_eq!(
            (lab.netns().as_str(), lab.uplink().as_str(), lab.table()),
            ("windlass-s13", "wl-s13", 2407)
        );
        assert!(matches!(
            Lab::new(lab.name.clone(), Suite::Bookworm, &Layout::new("/r"), 7, 0),
            Err(LabError::BadCount(0))
        ));
        assert!(
            Lab::new(
                lab.name.clone(),
                Suite::Bookworm,
                &Layout::new("/r"),
                7,
                MAX_HOSTS + 1
            )
            .is_err()
        );
    }
}
