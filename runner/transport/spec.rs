//! Building a [`ConnectionSpec`] from a host's variables and the command line.
//!
//! Why this module exists: Ansible users describe how to reach a host with the
//! `ansible_connection`, `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, `ansible_ssh_common_args`, `ansible_ssh_extra_args`,
//! `ansible_ssh_timeout`, `ansible_ssh_retries` and `ansible_host_key_checking` variables
//! (plus windlass's own `windlass_ssh_channels`); the command line adds
//! defaults (`-u`, `--private-key`, `-T`, `-c`, ...). This is the one place that reads them.
//!
//! Precedence follows Ansible: a host variable wins over the matching command-line option
//! (`ansible_user` beats `-u`). Host key checking: `ansible_host_key_checking: false` turns it
//! off; otherwise `--accept-new-host-keys` (the override) may relax strict checking to
//! accept-new, which still refuses a changed key.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::{
    ConnectionKind, ConnectionSpec, DEFAULT_MAX_CHANNELS, HostKeyPolicy, MAX_CHANNELS_LIMIT,
};
use crate::{Error, Loc, Result};

/// Connection settings from the command line; host variables win over them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOverrides {
    /// `-u`.
    pub user: Option<String>,
    /// `--private-key`.
    pub private_key: Option<PathBuf>,
    /// `-T` / `--timeout`.
    pub timeout: Option<Duration>,
    /// `--ssh-config`.
    pub ssh_config: Option<PathBuf>,
    /// `--accept-new-host-keys` (or another policy chosen on the command line).
    pub host_keys: Option<HostKeyPolicy>,
    /// `--ssh-channels`: per-host channel limit.
    pub max_channels: Option<usize>,
    /// `-c`.
    pub connection: Option<ConnectionKind>,
    /// `--ssh-retries`.
    pub ssh_retries: Option<u32>,
}

/// The connection settings of `inventory_hostname`, from its (already templated) variables
/// and the command-line overrides.
pub fn connection_spec(
    inventory_hostname: &str,
    vars: &IndexMap<String, Value>,
    overrides: &ConnectionOverrides,
) -> Result<ConnectionSpec> {
    let r = Reader {
        host: inventory_hostname,
        vars,
    };
    let kind = match r.string(&["ansible_connection"])? {
        Some(c) => parse_kind(&c).ok_or_else(|| {
            r.invalid_help(
                "ansible_connection",
                format!("unsupported connection type {c:?}"),
                "windlass supports `ssh` (also `smart`, `paramiko`) and `local`",
            )
        })?,
        None => overrides.connection.unwrap_or_default(),
    };
    let address = r
        .string(&["ansible_host", "ansible_ssh_host"])?
        .unwrap_or_else(|| inventory_hostname.to_string());
    let port = match r.get(&["ansible_port", "ansible_ssh_port"]) {
        None => None,
        Some((name, v)) => Some(parse_port(v).ok_or_else(|| {
            r.invalid(
                name,
                format!("must be a port number (1-65535), got {}", show(v)),
            )
        })?),
    };
    let user = r
        .string(&["ansible_user", "ansible_ssh_user"])?
        .or_else(|| overrides.user.clone());
    let private_key = r
        .string(&["ansible_ssh_private_key_file", "ansible_private_key_file"])?
        .map(|p| expand_home(&p))
        .or_else(|| overrides.private_key.clone());
    let mut extra_args = Vec::new();
    for name in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(line) = r.string(&[name])? {
            let words = crate::command::split(&line)
                .ok_or_else(|| r.invalid(name, "has unbalanced quotes"))?;
            extra_args.extend(words);
        }
    }
    let connect_timeout = match r.get(&["ansible_ssh_timeout", "ansible_timeout"]) {
        None => overrides.timeout,
        Some((name, v)) => Some(parse_seconds(v).ok_or_else(|| {
            r.invalid(
                name,
                format!("must be a number of seconds, got {}", show(v)),
            )
        })?),
    };
    let checking = match r.get(&["ansible_host_key_checking", "ansible_ssh_host_key_checking"]) {
        None => None,
        Some((name, v)) => Some(
            parse_bool(v)
                .ok_or_else(|| r.invalid(name, format!("must be a boolean, got {}", show(v))))?,
        ),
    };
    let connect_retries = match r.get(&["ansible_ssh_retries"]) {
        None => overrides.ssh_retries,
        Some((name, v)) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    r.invalid(
                        name,
                        format!("must be a number of retries, got {}", show(v)),
                    )
                })?,
        ),
    };
    let max_channels = match r.get(&["windlass_ssh_channels"]) {
        None => overrides.max_channels,
        Some((name, v)) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| (1..=MAX_CHANNELS_LIMIT).contains(n))
                .ok_or_else(|| {
                    r.invalid(
                        name,
                        format!(
                            "must be a number of channels from 1 to {MAX_CHANNELS_LIMIT}, got {}",
                            show(v)
                        ),
                    )
                })?,
        ),
    };
    let host_keys = match (checking, overrides.host_keys) {
        (Some(false), _) => HostKeyPolicy::Off,
        (Some(true), Some(HostKeyPolicy::AcceptNew)) => HostKeyPolicy::AcceptNew,
        (Some(true), _) => HostKeyPolicy::Strict,
        (None, o) => o.unwrap_or_default(),
    };
    Ok(ConnectionSpec {
        inventory_hostname: inventory_hostname.to_string(),
        kind,
        address,
        port,
        user,
        private_key,
        extra_args,
        connect_timeout,
        host_keys,
        ssh_config: overrides.ssh_config.clone(),
        max_channels: max_channels
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_CHANNELS),
        connect_retries,
    })
}

/// Reads one host's variables and words errors about them.
struct Reader<'a> {
    host: &'a str,
    vars: &'a IndexMap<String, Value>,
}

impl<'a> Reader<'a> {
    /// The first of `names` that is set (and not null).
    fn get(&self, names: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        names
            .iter()
            .find_map(|n| self.vars.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
    }

    /// A string variable; numbers are accepted as their text (e.g. a numeric user).
    fn string(&self, names: &[&'static str]) -> Result<Option<String>> {
        match self.get(names) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
            Some((name, v)) => {
                Err(self.invalid(name, format!("must be a string, got {}", show(v))))
            }
        }
    }

    fn invalid(&self, name: &str, msg: impl std::fmt::Display) -> Error {
        Error::invalid(
            &Loc::file("<inventory>"),
            format!("host {}: {name} {msg}", self.host),
        )
    }

    fn invalid_help(&self, name: &str, msg: impl std::fmt::Display, help: &str) -> Error {
        Error::invalid_help(
            &Loc::file("<inventory>"),
            format!("host {}: {name}: {msg}", self.host),
            help,
        )
    }
}

fn parse_kind(s: &str) -> Option<ConnectionKind> {
    match s.trim() {
        "ssh"
        | "smart"
        | "paramiko"
        | "paramiko_ssh"
        | "ansible.builtin.ssh"
        | "ansible.builtin.paramiko_ssh" => Some(ConnectionKind::Ssh),
        "local" | "ansible.builtin.local" => Some(ConnectionKind::Local),
        _ => None,
    }
}

fn parse_port(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|p| *p != 0)
}

fn parse_seconds(v: &Value) -> Option<Duration> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    // None for what no Duration holds (negative, NaN, infinite, too large): no panic.
    Duration::try_from_secs_f64(f).ok()
}

/// Ansible's boolean reading: true/false, yes/no, on/off, 1/0, any case.
fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64()? {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "t" | "on" | "1" => Some(true),
            "no" | "n" | "false" | "f" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `~/x` → `$HOME/x`, as Ansible does for key paths.
fn expand_home(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(p)
}

fn show(v: &Value) -> String {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    };
    format!("{kind} {v}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> IndexMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_timeout_no_duration_holds_is_ignored_not_a_panic() {
        for v in [
            json!(1e20),
            json!(-1),
            json!("inf"),
            json!("nan"),
            json!("1e309"),
        ] {
            assert_eq!(parse_seconds(&v), None, "{v}");
        }
        assert_eq!(
            parse_seconds(&json!(2.5)),
            Some(Duration::from_millis(2500))
        );
    }

    #[test]
    fn reads_ansible_variables() {
        let v = vars(json!({
            "ansible_host": "10.0.0.5",
            "ansible_port": "2222",
            "ansible_user": "admin",
            "ansible_ssh_private_key_file": "/k/id",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o 'ProxyCommand=ssh -W %h:%p gw'",
            "ansible_ssh_extra_args": "-C",
            "ansible_ssh_timeout": 7,
            "ansible_ssh_retries": "4",
        }));
        let o = ConnectionOverrides {
            user: Some("cli".into()),
            private_key: Some("/cli/key".into()),
            timeout: Some(Duration::from_secs(30)),
            max_channels: Some(4),
            ..Default::default()
        };
        let s = connection_spec("node1", &v, &o).unwrap();
        assert_eq!(s.kind, ConnectionKind::Ssh);
        assert_eq!(s.address, "10.0.0.5");
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.user.as_deref(), Some("admin"));
        assert_eq!(s.private_key, Some(PathBuf::from("/k/id")));
        assert_eq!(
            s.extra_args,
            [
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "ProxyCommand=ssh -W %h:%p gw",
                "-C"
            ]
        );
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(s.host_keys, HostKeyPolicy::Strict);
        assert_eq!(s.max_channels, 4);
        assert_eq!(s.connect_retries, Some(4));
        // The inventory variable wins over --ssh-channels.
        let v = vars(json!({"windlass_ssh_channels": "2"}));
        assert_eq!(connection_spec("node1", &v, &o).unwrap().max_channels, 2);
    }

    #[test]
    fn overrides_fill_in_and_defaults() {
        let o = ConnectionOverrides {
            user: Some("cli".into()),
            host_keys: Some(HostKeyPolicy::AcceptNew),
            connection: Some(ConnectionKind::Local),
            ..Default::default()
        };
        let s = connection_spec("web1", &IndexMap::new(), &o).unwrap();
        assert_eq!(s.address, "web1");
        assert_eq!(s.user.as_deref(), Some("cli"));
        assert_eq!(s.kind, ConnectionKind::Local);
        assert_eq!(s.host_keys, HostKeyPolicy::AcceptNew);
        assert_eq!(s.max_channels, DEFAULT_MAX_CHANNELS);
        assert_eq!(s.port, None);

        let v = vars(json!({"ansible_host_key_checking": "no", "ansible_connection": "smart"}));
        let s = connection_spec("web1", &v, &o).unwrap();
        assert_eq!(s.host_keys, HostKeyPolicy::Off);
        assert_eq!(s.kind, ConnectionKind::Ssh);
        let v = vars(json!({"ansible_ssh_host_key_checking": true}));
        assert_eq!(
            connection_spec("web1", &v, &o).unwrap().host_keys,
            HostKeyPolicy::AcceptNew
        );
        assert_eq!(
            connection_spec("web1", &v, &ConnectionOverrides::default())
                .unwrap()
                .host_keys,
            HostKeyPolicy::Strict
        );
    }

    #[test]
    fn wrong_values_are_errors_naming_host_and_variable() {
        let o = ConnectionOverrides::default();
        for (v, needle) in [
            (json!({"ansible_port": "ssh"}), "ansible_port"),
            (json!({"ansible_port": 70000}), "ansible_port"),
            (json!({"ansible_connection": "winrm"}), "winrm"),
            (
                json!({"ansible_user": ["a"]}),
                "ansible_user must be a string",
            ),
            (json!({"ansible_ssh_common_args": "-o 'x"}), "unbalanced"),
            (json!({"ansible_ssh_timeout": "soon"}), "seconds"),
            (json!({"ansible_host_key_checking": "maybe"}), "boolean"),
            (json!({"ansible_ssh_retries": -1}), "ansible_ssh_retries"),
            (json!({"windlass_ssh_channels": 0}), "windlass_ssh_channels"),
            (json!({"windlass_ssh_channels": "257"}), "from 1 to 256"),
            (
                json!({"windlass_ssh_channels": "many"}),
                "windlass_ssh_channels",
            ),
        ] {
            let e = connection_spec("db1", &vars(v), &o).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("db1") && text.contains(needle), "{text}");
            assert!(matches!(e, Error::Invalid { .. }));
        }
    }
}
