//! The run-wide defaults of the `become*` keywords: ansible.cfg `[privilege_escalation]`,
//! `ANSIBLE_BECOME*`, then `-b`/`--become-user`/`--become-method` over them.
//!
//! Why this module exists: in ansible-core the `become`, `become_user`, `become_method` and
//! `become_flags` keywords default to the command line's options (`playbook/base.py`:
//! `FieldAttribute(default=context.cliargs_deferred_get('become'))`), and those options
//! default to the configuration (`cli/arguments/option_helpers.py`: `default=C.DEFAULT_BECOME`;
//! `config/base.yml` `DEFAULT_BECOME*`: ini `[privilege_escalation]`, env `ANSIBLE_BECOME*`).
//! So a play or task keyword wins over all of them, and the `ansible_become*` variables win
//! over the keywords (see [`crate::engine`]'s resolution). Ignoring this section ran tasks
//! with other privileges than the user configured; this type carries it from the
//! configuration and the command line to the engine.

use crate::error::{Error, Loc, Result};

/// What the configuration or the command line set; `None` is "not set here".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BecomeDefaults {
    /// `become` (`-b`): escalate unless a keyword says otherwise.
    pub enabled: Option<bool>,
    /// `become_user` (`--become-user`); unset means `root`.
    pub user: Option<String>,
    /// `become_method` (`--become-method`): `sudo` (unset) or `su`.
    pub method: Option<String>,
    /// `become_flags`: extra options for the become program.
    pub flags: Option<String>,
    /// `become_ask_pass`: ask for the become password as `-K` does.
    pub ask_pass: Option<bool>,
}

/// The keys of `[privilege_escalation]` windlass honours.
pub const KEYS: &[&str] = &[
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_ask_pass",
];

impl BecomeDefaults {
    /// Set `key` (one of [`KEYS`]) from the text `v`; `Ok(false)` when `key` is not one.
    pub fn set(&mut self, key: &str, v: &str, loc: &Loc) -> Result<bool> {
        match key {
            "become" => self.enabled = Some(boolean(key, v, loc)?),
            "become_ask_pass" => self.ask_pass = Some(boolean(key, v, loc)?),
            "become_user" => self.user = Some(v.to_string()),
            "become_method" => self.method = Some(v.to_string()),
            "become_flags" => self.flags = Some(v.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// These settings over `base`: what is set here wins.
    pub fn over(&self, base: &BecomeDefaults) -> BecomeDefaults {
        BecomeDefaults {
            enabled: self.enabled.or(base.enabled),
            user: self.user.clone().or_else(|| base.user.clone()),
            method: self.method.clone().or_else(|| base.method.clone()),
            flags: self.flags.clone().or_else(|| base.flags.clone()),
            ask_pass: self.ask_pass.or(base.ask_pass),
        }
    }
}

fn boolean(key: &str, v: &str, loc: &Loc) -> Result<bool> {
    crate::boolean::parse_bool(v)
        .ok_or_else(|| Error::invalid(loc, format!("`{key}` must be a boolean, found `{v}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_reads_each_key_and_rejects_bad_booleans() {
        let loc = Loc::file("ansible.cfg");
        let mut b = BecomeDefaults::default();
        for (k, v) in [
            ("become", "True"),
            ("become_user", "app"),
            ("become_method", "su"),
            ("become_flags", "-s /bin/sh"),
            ("become_ask_pass", "no"),
        ] {
            assert!(b.set(k, v, &loc).unwrap(), "{k}");
        }
        assert!(!b.set("become_exe", "doas", &loc).unwrap());
        assert_eq!(b.enabled, Some(true));
        assert_eq!(b.user.as_deref(), Some("app"));
        assert_eq!(b.method.as_deref(), Some("su"));
        assert_eq!(b.flags.as_deref(), Some("-s /bin/sh"));
        assert_eq!(b.ask_pass, Some(false));
        let e = b.set("become", "maybe", &loc).unwrap_err();
        assert!(e.to_string().contains("`become` must be a boolean"), "{e}");
    }

    #[test]
    fn over_keeps_what_is_set_and_fills_the_rest() {
        let file = BecomeDefaults {
            enabled: Some(true),
            user: Some("file_user".into()),
            method: Some("su".into()),
            ..Default::default()
        };
        let cli = BecomeDefaults {
            user: Some("cli_user".into()),
            ..Default::default()
        };
        let both = cli.over(&file);
        assert_eq!(both.enabled, Some(true));
        assert_eq!(both.user.as_deref(), Some("cli_user"));
        assert_eq!(both.method.as_deref(), Some("su"));
        assert_eq!(both.flags, None);
    }
}
