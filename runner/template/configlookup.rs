//! `lookup('config', 'DEFAULT_FORKS', …)`: Ansible's core settings as a playbook reads them.
//!
//! Why this module exists: roles read settings such as `DEFAULT_ROLES_PATH`,
//! `DEFAULT_BECOME_USER` or `DEFAULT_MANAGED_STR` through the `config` lookup
//! (`lib/ansible/plugins/lookup/config.py`, values from `lib/ansible/config/base.yml`:
//! the config file, then the environment, then the default). The settings windlass itself
//! reads (`forks`, `remote_user`, `timeout`, `roles_path`, `inventory`, `host_key_checking`,
//! `private_key_file`, `duplicate_dict_key`, `[privilege_escalation]`'s `become*`) come
//! from its own [`Config`]; the others are
//! Ansible's defaults, overridden by their `ANSIBLE_*` environment variable.

use minijinja::Error;
use minijinja::value::{Kwargs, Value};

use super::filters::{err, text};
use crate::config::Config;

/// A setting windlass does not read itself: its name, environment variable and default.
struct Setting {
    name: &'static str,
    env: &'static str,
    default: Def,
}

#[derive(Clone, Copy)]
enum Def {
    Str(&'static str),
    StrOrNone,
    Bool(bool),
    Int(i64),
    IntOrNone,
}

const SETTINGS: &[Setting] = &[
    s("DEFAULT_BECOME_EXE", "ANSIBLE_BECOME_EXE", Def::StrOrNone),
    s("DEFAULT_ASK_PASS", "ANSIBLE_ASK_PASS", Def::Bool(false)),
    s("DEFAULT_MANAGED_STR", "", Def::Str("Ansible managed")),
    s(
        "DEFAULT_HASH_BEHAVIOUR",
        "ANSIBLE_HASH_BEHAVIOUR",
        Def::Str("replace"),
    ),
    s(
        "DEFAULT_GATHERING",
        "ANSIBLE_GATHERING",
        Def::Str("implicit"),
    ),
    s(
        "DEFAULT_POLL_INTERVAL",
        "ANSIBLE_POLL_INTERVAL",
        Def::Int(15),
    ),
    s("DEFAULT_TRANSPORT", "ANSIBLE_TRANSPORT", Def::Str("ssh")),
    s(
        "DEFAULT_KEEP_REMOTE_FILES",
        "ANSIBLE_KEEP_REMOTE_FILES",
        Def::Bool(false),
    ),
    s("DEFAULT_MODULE_NAME", "", Def::Str("command")),
    s("DEFAULT_STRATEGY", "ANSIBLE_STRATEGY", Def::Str("linear")),
    s(
        "DEFAULT_UNDEFINED_VAR_BEHAVIOR",
        "ANSIBLE_ERROR_ON_UNDEFINED_VARS",
        Def::Bool(true),
    ),
    s(
        "DEFAULT_JINJA2_NATIVE",
        "ANSIBLE_JINJA2_NATIVE",
        Def::Bool(true),
    ),
    s(
        "DEFAULT_PRIVATE_ROLE_VARS",
        "ANSIBLE_PRIVATE_ROLE_VARS",
        Def::Bool(false),
    ),
    s("DEFAULT_REMOTE_PORT", "ANSIBLE_REMOTE_PORT", Def::IntOrNone),
    s("ANSIBLE_PIPELINING", "ANSIBLE_PIPELINING", Def::Bool(false)),
    s(
        "INJECT_FACTS_AS_VARS",
        "ANSIBLE_INJECT_FACT_VARS",
        Def::Bool(true),
    ),
    s(
        "RETRY_FILES_ENABLED",
        "ANSIBLE_RETRY_FILES_ENABLED",
        Def::Bool(false),
    ),
];

const fn s(name: &'static str, env: &'static str, default: Def) -> Setting {
    Setting { name, env, default }
}

/// The `config` lookup: one value per setting named.
pub(crate) fn config(terms: &[Value], kw: &Option<Kwargs>) -> Result<Vec<Value>, Error> {
    let on_missing = match kw {
        Some(kw) => {
            for k in ["plugin_type", "plugin_name"] {
                if kw.get::<Option<Value>>(k)?.is_some() {
                    return Err(err(format!(
                        "lookup('config', {k}=...): windlass reads the core settings only"
                    )));
                }
            }
            kw.get::<Option<String>>("on_missing")?
                .unwrap_or_else(|| "error".into())
        }
        None => "error".into(),
    };
    if !matches!(on_missing.as_str(), "error" | "warn" | "skip") {
        return Err(err(format!(
            "\"on_missing\" must be a string and one of \"error\", \"warn\" or \"skip\", not {on_missing}"
        )));
    }
    let cfg = Config::discover().map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for t in terms {
        let name = text(t)?;
        match setting(&cfg, &name)? {
            Some(v) => out.push(v),
            None if on_missing == "error" => {
                return Err(err(format!("No config definition exists for '{name}'.")));
            }
            None => {}
        }
    }
    Ok(out)
}

/// A setting's value, `None` when Ansible has no such setting (as windlass knows them).
fn setting(cfg: &Config, name: &str) -> Result<Option<Value>, Error> {
    let paths = |p: &[std::path::PathBuf]| {
        Value::from_iter(p.iter().map(|x| x.to_string_lossy().into_owned()))
    };
    let opt = |v: Option<Value>| v.unwrap_or(Value::from(()));
    Ok(Some(match name {
        "DEFAULT_FORKS" => Value::from(cfg.forks.unwrap_or(5)),
        "DEFAULT_TIMEOUT" => Value::from(cfg.timeout.unwrap_or(10)),
        "DEFAULT_REMOTE_USER" => opt(cfg.remote_user.clone().map(Value::from)),
        "HOST_KEY_CHECKING" => Value::from(cfg.host_key_checking.unwrap_or(true)),
        "DEFAULT_PRIVATE_KEY_FILE" => opt(cfg
            .private_key_file
            .as_ref()
            .map(|p| Value::from(p.to_string_lossy()))),
        "DEFAULT_ROLES_PATH" if cfg.roles_path.is_empty() => paths(&default_roles_path()),
        "DEFAULT_ROLES_PATH" => paths(&cfg.roles_path),
        "DEFAULT_HOST_LIST" if cfg.inventory.is_empty() => Value::from(vec!["/etc/ansible/hosts"]),
        "DEFAULT_HOST_LIST" => paths(&cfg.inventory),
        // [privilege_escalation], environment applied (runner/become_defaults.rs).
        "DEFAULT_BECOME" => Value::from(cfg.become_.enabled.unwrap_or(false)),
        "DEFAULT_BECOME_ASK_PASS" => Value::from(cfg.become_.ask_pass.unwrap_or(false)),
        "DEFAULT_BECOME_USER" => Value::from(cfg.become_.user.as_deref().unwrap_or("root")),
        "DEFAULT_BECOME_METHOD" => Value::from(cfg.become_.method.as_deref().unwrap_or("sudo")),
        "DEFAULT_BECOME_FLAGS" => Value::from(cfg.become_.flags.as_deref().unwrap_or("")),
        "DUPLICATE_YAML_DICT_KEY" => {
            Value::from(match cfg.duplicate_dict_key.unwrap_or_default() {
                crate::yaml::DuplicateKeys::Warn => "warn",
                crate::yaml::DuplicateKeys::Error => "error",
                crate::yaml::DuplicateKeys::Ignore => "ignore",
            })
        }
        _ => return other(name),
    }))
}

/// `~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles`, with `~` expanded.
fn default_roles_path() -> Vec<std::path::PathBuf> {
    let home = std::env::var("HOME").unwrap_or_else(|_| "~".into());
    vec![
        std::path::Path::new(&home).join(".ansible/roles"),
        "/usr/share/ansible/roles".into(),
        "/etc/ansible/roles".into(),
    ]
}

/// A setting from the table: its environment variable (typed as the default), else the
/// default.
fn other(name: &str) -> Result<Option<Value>, Error> {
    let Some(s) = SETTINGS.iter().find(|s| s.name == name) else {
        return Ok(None);
    };
    let env = (!s.env.is_empty())
        .then(|| std::env::var(s.env).ok())
        .flatten();
    Ok(Some(match (s.default, env) {
        (Def::Bool(_), Some(v)) => Value::from(
            crate::boolean::parse_bool(&v)
                .ok_or_else(|| err(format!("Invalid value for {name}: {v:?} is not a boolean")))?,
        ),
        (Def::Int(_) | Def::IntOrNone, Some(v)) => Value::from(
            v.trim()
                .parse::<i64>()
                .map_err(|_| err(format!("Invalid value for {name}: {v:?} is not an integer")))?,
        ),
        (_, Some(v)) => Value::from(v),
        (Def::Str(d), None) => Value::from(d),
        (Def::Bool(b), None) => Value::from(b),
        (Def::Int(i), None) => Value::from(i),
        (Def::StrOrNone | Def::IntOrNone, None) => Value::from(()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DEFAULT_BECOME*` are what the run uses: ansible.cfg `[privilege_escalation]` with
    /// the environment applied, else Ansible's defaults.
    #[test]
    fn become_settings_come_from_the_configuration() {
        let plain = Config::default();
        assert_eq!(
            setting(&plain, "DEFAULT_BECOME_USER").unwrap(),
            Some(Value::from("root"))
        );
        assert_eq!(
            setting(&plain, "DEFAULT_BECOME").unwrap(),
            Some(Value::from(false))
        );
        let mut cfg = Config::default();
        cfg.become_.enabled = Some(true);
        cfg.become_.method = Some("su".into());
        assert_eq!(
            setting(&cfg, "DEFAULT_BECOME").unwrap(),
            Some(Value::from(true))
        );
        assert_eq!(
            setting(&cfg, "DEFAULT_BECOME_METHOD").unwrap(),
            Some(Value::from("su"))
        );
    }
}
