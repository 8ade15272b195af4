//! What can go wrong in `windlass lab`, as values the CLI renders with miette.
//!
//! Why this file exists: a lab touches root-only machinery (network namespaces, overlay
//! mounts, cgroups) and external tools; each failure says what to do next (install a
//! package, run as root, run `lab down`), instead of a bare exit status.

use std::path::PathBuf;

/// A lab failure.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab needs root (namespaces, mounts, cgroups).
    #[error("windlass lab needs root (network namespaces, overlay mounts, cgroups)")]
    NotRoot,
    /// An external tool is missing.
    #[error("`{tool}` is not installed")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The Debian/Ubuntu package that has it.
        package: &'static str,
    },
    /// A lab name that cannot name a namespace, a link and a directory.
    #[error("bad lab name {0:?}: use 1 to 12 of a-z, 0-9 and '-', starting with a letter or digit")]
    BadName(String),
    /// A host count out of range.
    #[error("bad host count {0}: a lab has 1 to {max} hosts", max = super::model::MAX_HOSTS)]
    BadCount(usize),
    /// An unknown host of a lab.
    #[error("lab {lab:?} has no host {host:?}")]
    UnknownHost {
        /// The lab.
        lab: String,
        /// The host asked for.
        host: String,
    },
    /// The lab is not up.
    #[error("lab {0:?} is not up")]
    NotUp(String),
    /// The host is not running (no container under its supervisor).
    #[error("host {0} is not running")]
    NotRunning(String),
    /// The lab is up with another suite.
    #[error("lab {lab:?} runs {have}, not {want}")]
    SuiteMismatch {
        /// The lab.
        lab: String,
        /// Its suite.
        have: String,
        /// The suite asked for.
        want: String,
    },
    /// Every subnet of the lab range is taken.
    #[error("no free lab subnet left in 10.240.0.0/16")]
    NoSubnet,
    /// A command failed.
    #[error("`{argv}` failed ({status}){detail}")]
    Command {
        /// The command line, for reading.
        argv: String,
        /// How it ended.
        status: String,
        /// The end of its error output, when it gave any.
        detail: String,
    },
    /// A file or directory operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The recorded state of a lab could not be read.
    #[error("cannot read the lab state {}: {message}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Hosts did not finish booting.
    #[error("{} host(s) did not boot: {}", hosts.len(), hosts.join(", "))]
    BootFailed {
        /// `name (state)` of each.
        hosts: Vec<String>,
        /// Where the consoles are.
        dir: PathBuf,
    },
    /// The cache is still used by other labs.
    #[error("the {suite} cache is used by lab(s) {}", labs.join(", "))]
    CacheInUse {
        /// The suite.
        suite: String,
        /// The labs using it.
        labs: Vec<String>,
    },
}

impl LabError {
    /// How to fix it, when we know.
    pub fn help(&self) -> Option<String> {
        match self {
            LabError::NotRoot => Some("run it as root (e.g. with sudo)".into()),
            LabError::MissingTool { package, .. } => Some(format!(
                "on Debian/Ubuntu: apt-get install {package} (all the lab needs: apt-get install systemd-container debootstrap dpkg-dev openssh-client iproute2 util-linux)"
            )),
            LabError::SuiteMismatch { lab, .. } => Some(format!(
                "run `windlass lab down --name {lab}` first, or use another --name"
            )),
            LabError::BootFailed { dir, .. } => Some(format!(
                "each host's console is in {}/hosts/<host>/console.log",
                dir.display()
            )),
            LabError::CacheInUse { .. } => {
                Some("run `windlass lab down` for those labs first".into())
            }
            LabError::NotUp(lab) => Some(format!("start it with `windlass lab up N --name {lab}`")),
            LabError::NotRunning(_) => Some("`windlass lab up N` boots it again".into()),
            _ => None,
        }
    }

    /// An [`LabError::Io`].
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
