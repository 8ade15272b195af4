//! The lab's SSH client configuration and key.
//!
//! Why this file exists: `lab ssh`, the boot check and the inventory reach the hosts the
//! same way: as root with the lab's own key, no host-key memory (every `up` makes new host
//! keys), a short connect timeout.

use super::base::write;
use super::error::Result;
use super::model::{Lab, arg};
use super::{exec, plan};

/// The ssh_config text of `lab`.
pub fn text(lab: &Lab) -> String {
    format!(
        "Host *\n  User root\n  IdentityFile \"{}\"\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 2\n  BatchMode yes\n",
        arg(&lab.key())
    )
}

/// The lab's key (made once per lab) and ssh_config.
pub fn ensure(lab: &Lab) -> Result<()> {
    if !lab.key().exists() {
        exec::run(&plan::keygen(
            &lab.key(),
            &format!("windlass-lab {}", lab.name.as_str()),
        ))?;
    }
    write(&lab.ssh_config(), &text(lab))
}
