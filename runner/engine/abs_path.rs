//! Paths as Ansible shows them to playbooks and users: absolute and normalised.
//!
//! Why this module exists: windlass keeps the paths it was given (`site.yml`, `-i hosts`)
//! relative, for short error locations; but `playbook_dir`, `inventory_file`,
//! `inventory_dir` and the `included:` lines are absolute in Ansible
//! (`os.path.abspath` in lib/ansible/vars/manager.py, `unfrackpath` in
//! lib/ansible/inventory/manager.py), and content compares and joins them.

use std::path::{Component, Path, PathBuf};

/// `p` made absolute (against the current directory) and without `.` or `..` components,
/// as Python's `os.path.abspath`: symlinks are not resolved.
pub(crate) fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::absolute;
    use std::path::Path;

    #[test]
    fn absolute_drops_dot_and_dotdot() {
        assert_eq!(
            absolute(Path::new("/a/./b/../c.yml")),
            Path::new("/a/c.yml")
        );
        assert!(absolute(Path::new("./x.yml")).is_absolute());
        assert!(!absolute(Path::new(".")).to_string_lossy().ends_with('.'));
    }
}
