//! What the lab needs from the machine: root, overlayfs and a handful of tools, each named
//! with the Debian/Ubuntu package that provides it.
//!
//! Why this file exists: checked before anything is made, so a machine that lacks one gets
//! one clear error saying what to install, not a half-made lab.

use super::error::{LabError, Result};

/// Tools of the lab and their packages.
const TOOLS: &[(&str, &str)] = &[
    ("systemd-nspawn", "systemd-container"),
    ("debootstrap", "debootstrap"),
    ("dpkg-scanpackages", "dpkg-dev"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
];

/// The error for a missing `tool`, if it is one of the lab's.
pub fn missing(tool: &str) -> Option<LabError> {
    TOOLS
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|&(tool, package)| LabError::MissingTool { tool, package })
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(tool).is_file())
}

/// Root and every tool, or the first thing missing.
pub fn check() -> Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Err(LabError::NotRoot);
    }
    if let Some(&(tool, package)) = TOOLS.iter().find(|(t, _)| !on_path(t)) {
        return Err(LabError::MissingTool { tool, package });
    }
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !fs.split_whitespace().any(|w| w == "overlay") {
        return Err(LabError::MissingTool {
            tool: "overlayfs (kernel)",
            package: "a kernel with overlayfs",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn missing_tools_name_their_package() {
        let e = super::missing("debootstrap").unwrap();
        assert!(
            e.help().unwrap().contains("apt-get install debootstrap"),
            "{:?}",
            e.help()
        );
        assert!(super::missing("ls").is_none());
    }
}
