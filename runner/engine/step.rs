//! `--step`: ask before each task whether to run it.
//!
//! Why this file exists: ansible-playbook's `--step` (plugins/strategy/__init__.py
//! `_take_step`, linear.py) asks `Perform task: TASK: <name> (N)o/(y)es/(c)ontinue:`
//! before each task (not meta tasks): `y` runs it, `c` runs it and stops asking, anything
//! else skips it for every host. Asking is the caller's (a terminal, a test); the engine
//! only asks and obeys.

use std::sync::Arc;

use super::Engine;
use crate::playbook::task::Task;

/// The answer source of `--step` ([`super::RunOptions::step`]).
pub trait Stepper: Send + Sync {
    /// Whether to run `task` (Ansible's `TASK: <name>`), on `host` under the `free`
    /// strategy. A stepper that was told to continue answers `true` from then on.
    fn run(&self, task: &str, host: Option<&str>) -> bool;
}

impl std::fmt::Debug for dyn Stepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stepper")
    }
}

impl Engine {
    /// Whether `t` runs: always without `--step`, else as the stepper answers.
    pub(crate) fn step_allows(&self, t: &Arc<Task>, host: Option<&str>) -> bool {
        match &self.opts.step {
            None => true,
            Some(s) => s.run(&format!("TASK: {}", t.display_name()), host),
        }
    }
}
