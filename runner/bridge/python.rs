//! Finding the controller's Python that has the user's ansible-core.
//!
//! Why this module exists: the bridge must build modules with the ansible-core the user
//! runs (same version, same collections), not one windlass ships. The first of: the
//! `ansible_python` setting (`WINDLASS_ANSIBLE_PYTHON`), the interpreter of `ansible-playbook`
//! or `ansible` on PATH (their shebang), `python3` on PATH if it can `import ansible`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the Python comes from.
#[derive(Debug)]
pub(crate) struct Source {
    configured: Option<PathBuf>,
}

/// What the error says when no ansible-core is found.
pub(crate) const HOW_TO_ENABLE: &str = "the module bridge runs modules windlass lacks with your own ansible-core, and none was found: install ansible-core, or set `WINDLASS_ANSIBLE_PYTHON` (or `ansible_python` in the configuration) to the Python that has it (a venv's `bin/python3`)";

impl Source {
    pub(crate) fn new(configured: Option<PathBuf>) -> Self {
        Source { configured }
    }

    /// The Python to run the helper with, or why there is none.
    pub(crate) fn find(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.configured {
            return match p.is_file() {
                true => Ok(p.clone()),
                false => Err(format!(
                    "the configured ansible Python {} is not a file; {HOW_TO_ENABLE}",
                    p.display()
                )),
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        for tool in ["ansible-playbook", "ansible"] {
            if let Some(py) = find_in(&dirs, tool).and_then(|t| shebang_python(&t, &dirs)) {
                return Ok(py);
            }
        }
        match find_in(&dirs, "python3") {
            Some(py) if imports_ansible(&py) => Ok(py),
            _ => Err(HOW_TO_ENABLE.to_string()),
        }
    }
}

fn find_in(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The interpreter a script's `#!` line names (`#!/usr/bin/env python3` looked up on PATH).
pub(crate) fn shebang_python(script: &Path, dirs: &[PathBuf]) -> Option<PathBuf> {
    let text = std::fs::read(script).ok()?;
    let first = text.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let prog = words.next()?;
    if prog.ends_with("/env") {
        let name = words.find(|w| !w.starts_with('-'))?;
        return find_in(dirs, name);
    }
    let p = PathBuf::from(prog);
    p.is_file().then_some(p)
}

fn imports_ansible(py: &Path) -> bool {
    Command::new(py)
        .args(["-c", "import ansible.release"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shebang_names_the_python_directly_or_through_env() {
        let dir = tempfile::tempdir().unwrap();
        let py = dir.path().join("python3");
        std::fs::write(&py, "").unwrap();
        let direct = dir.path().join("ansible-playbook");
        std::fs::write(&direct, format!("#!{}\nimport x\n", py.display())).unwrap();
        assert_eq!(shebang_python(&direct, &[]), Some(py.clone()));
        let env = dir.path().join("ansible");
        std::fs::write(&env, "#!/usr/bin/env -S python3\n").unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        assert_eq!(shebang_python(&env, &dirs), Some(py));
        let none = dir.path().join("plain");
        std::fs::write(&none, "echo hi\n").unwrap();
        assert_eq!(shebang_python(&none, &dirs), None);
    }

    #[test]
    fn a_configured_python_that_is_not_there_says_how_to_enable() {
        let s = Source::new(Some(PathBuf::from("/nonexistent/python3")));
        let e = s.find().unwrap_err();
        assert!(e.contains("WINDLASS_ANSIBLE_PYTHON"), "{e}");
    }
}
