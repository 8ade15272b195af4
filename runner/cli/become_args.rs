//! `-b/--become`, `--become-user`, `--become-method`: ansible-playbook's privilege
//! escalation options, the defaults of the plays' `become*` keywords.
//!
//! Why this module exists: the run and ad-hoc commands share these options, and they
//! combine with ansible.cfg `[privilege_escalation]` in one place
//! ([`crate::become_defaults`] says why a keyword still wins over them).

use clap::Args;

use crate::become_defaults::BecomeDefaults;

/// Privilege escalation options.
#[derive(Debug, Args, Clone, Default)]
pub struct BecomeArgs {
    /// Run tasks with become (sudo) unless a play or task says `become: false` (does not
    /// ask for a password: see -K) [default: `become` in `[privilege_escalation]` of the
    /// config file, or ANSIBLE_BECOME].
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// The user to become [default: `become_user` of the config file, ANSIBLE_BECOME_USER,
    /// else root].
    #[arg(long = "become-user", value_name = "USER")]
    pub become_user: Option<String>,
    /// How to become it: sudo or su [default: `become_method` of the config file,
    /// ANSIBLE_BECOME_METHOD, else sudo].
    #[arg(long = "become-method", value_name = "METHOD")]
    pub become_method: Option<String>,
}

impl BecomeArgs {
    /// These options over the configuration's `config`.
    pub fn over(&self, config: &BecomeDefaults) -> BecomeDefaults {
        BecomeDefaults {
            enabled: self.become_.then_some(true),
            user: self.become_user.clone(),
            method: self.become_method.clone(),
            ..Default::default()
        }
        .over(config)
    }
}
