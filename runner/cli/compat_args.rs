//! ansible-playbook options that windlass accepts for compatibility but that do nothing
//! or are refused with the reason: `--flush-cache`, `-k/--ask-pass`.
//!
//! Why this module exists: scripts and muscle memory pass these; an "unknown option"
//! error says nothing about why, and silently accepting `-k` would leave the user
//! waiting for a prompt that never comes.

use clap::Args;

use crate::error::{Error, Result};

/// Options kept for ansible-playbook's command lines.
#[derive(Debug, Args, Clone, Default)]
pub struct CompatArgs {
    /// Clear the fact cache: windlass keeps no facts between runs (each run gathers
    /// afresh), so there is nothing to clear; accepted for ansible-playbook's command
    /// lines.
    #[arg(long = "flush-cache")]
    pub flush_cache: bool,
    /// Ask for the SSH password: refused. windlass starts OpenSSH without a terminal, and
    /// OpenSSH reads a password only from a terminal or an SSH_ASKPASS program; passing it
    /// any other way (sshpass, the command line) would expose it to other users of the
    /// machine. Use a key (with ssh-agent) instead.
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
}

impl CompatArgs {
    /// Refuse what cannot be done safely.
    pub fn check(&self) -> Result<()> {
        if self.ask_pass {
            return Err(Error::Usage(
                "-k/--ask-pass is not supported: windlass runs OpenSSH without a terminal, so \
                 it cannot prompt for the SSH password, and passing a password through the \
                 command line or the environment would expose it to other users of this \
                 machine; use an SSH key (ssh-agent, --private-key) instead"
                    .into(),
            ));
        }
        Ok(())
    }
}
