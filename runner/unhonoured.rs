//! The settings of ansible.cfg and the `ANSIBLE_*` environment windlass does not honour,
//! told to the user once instead of dropped in silence.
//!
//! Why this module exists: a team's ansible.cfg or shell sets many things (`pipelining`,
//! `stdout_callback`, `ANSIBLE_BECOME_EXE`, …). Ignoring one windlass does not implement
//! means a run that behaves otherwise than its owner configured, without a word. This
//! module decides, for one setting, whether windlass honours it, and words the warning the
//! run shows once ([`crate::config::Config::unhonoured`], sent as an
//! [`crate::event::Event::Warning`] by the command line).

/// `ANSIBLE_*` variables honoured outside the configuration's own keys: the config file's
/// location, colour (the printer), and the vault's password sources (runner/vault).
const OTHER_ENV: &[&str] = &[
    "ANSIBLE_CONFIG",
    "ANSIBLE_NOCOLOR",
    "ANSIBLE_FORCE_COLOR",
    "ANSIBLE_VAULT_PASSWORD_FILE",
    "ANSIBLE_VAULT_IDENTITY_LIST",
];

/// Settings whose value asks for what windlass does anyway (it writes no retry files):
/// (key in ansible.cfg, its value as a boolean). No warning for those.
const ALREADY_SO: &[(&str, bool)] = &[("retry_files_enabled", false)];

/// The warning for an ansible.cfg key windlass does not read (`None` when the value asks
/// for what windlass does anyway).
pub fn ini_key(file: &str, line: u32, section: &str, key: &str, value: &str) -> Option<String> {
    if already_so(key, value) {
        return None;
    }
    Some(format!(
        "{file}:{line}: `{key}` in [{section}] is not honoured by windlass; it is ignored"
    ))
}

/// The warning for an `ANSIBLE_*` variable windlass does not read, `None` for any other
/// variable. `honoured` lists the variables the configuration reads.
pub fn env_var(name: &str, value: &str, honoured: &[String]) -> Option<String> {
    let key = name.strip_prefix("ANSIBLE_")?;
    if OTHER_ENV.contains(&name)
        || honoured.iter().any(|h| h == name)
        || already_so(&key.to_ascii_lowercase(), value)
    {
        return None;
    }
    Some(format!(
        "the environment variable {name} is not honoured by windlass; it is ignored"
    ))
}

fn already_so(key: &str, value: &str) -> bool {
    ALREADY_SO
        .iter()
        .any(|(k, v)| *k == key && crate::boolean::parse_bool(value) == Some(*v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_keys_warn_unless_windlass_already_does_what_they_ask() {
        let w = ini_key("ansible.cfg", 7, "ssh_connection", "pipelining", "True").unwrap();
        assert_eq!(
            w,
            "ansible.cfg:7: `pipelining` in [ssh_connection] is not honoured by windlass; it is ignored"
        );
        assert!(ini_key("ansible.cfg", 2, "defaults", "retry_files_enabled", "False").is_none());
        assert!(ini_key("ansible.cfg", 2, "defaults", "retry_files_enabled", "yes").is_some());
    }

    #[test]
    fn env_vars_warn_when_unknown_and_prefixed() {
        let honoured = vec!["ANSIBLE_FORKS".to_string()];
        assert!(env_var("ANSIBLE_FORKS", "5", &honoured).is_none());
        assert!(env_var("ANSIBLE_NOCOLOR", "1", &honoured).is_none());
        assert!(env_var("HOME", "/root", &honoured).is_none());
        assert!(env_var("ANSIBLE_RETRY_FILES_ENABLED", "false", &honoured).is_none());
        let w = env_var("ANSIBLE_STDOUT_CALLBACK", "yaml", &honoured).unwrap();
        assert!(w.contains("ANSIBLE_STDOUT_CALLBACK is not honoured"), "{w}");
    }
}
