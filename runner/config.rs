//! Run defaults from a configuration file and the environment.
//!
//! Why this module exists: teams keep `forks`, the inventory, the remote user, host-key
//! checking and the roles path in `ansible.cfg`; windlass reads the same `[defaults]` keys
//! (or a `windlass.toml` with the same keys), then the environment, and the command line
//! wins over both: CLI > environment > file.
//!
//! The file is the first of: `$WINDLASS_CONFIG`, `$ANSIBLE_CONFIG`, `./windlass.toml`,
//! `./ansible.cfg`, `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`.
//!
//! `[privilege_escalation]` (`become`, `become_user`, `become_method`, `become_flags`,
//! `become_ask_pass`) and its `ANSIBLE_BECOME*` variables are the defaults of the `become*`
//! play keywords, as in ansible-core (`config/base.yml` `DEFAULT_BECOME*`; the CLI options
//! default to them, the keywords to the CLI options: `playbook/base.py`). A key or an
//! `ANSIBLE_*` variable windlass does not honour is not silently dropped: it is listed in
//! [`Config::unhonoured`] for the run to warn about once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Loc, Result};

/// Defaults for a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The file they came from, if any.
    pub source: Option<PathBuf>,
    /// `forks`.
    pub forks: Option<usize>,
    /// `inventory` (one or more, comma-separated in ansible.cfg).
    pub inventory: Vec<PathBuf>,
    /// `remote_user`.
    pub remote_user: Option<String>,
    /// `host_key_checking`.
    pub host_key_checking: Option<bool>,
    /// `roles_path` (colon-separated in ansible.cfg).
    pub roles_path: Vec<PathBuf>,
    /// `private_key_file`.
    pub private_key_file: Option<PathBuf>,
    /// `timeout` (SSH connect timeout, seconds).
    pub timeout: Option<u64>,
    /// `ssh_channels` (windlass's own: concurrent channels per SSH master).
    pub ssh_channels: Option<usize>,
    /// `remote_tmp`: where modules keep scratch files on hosts (`~/` is the remote user's
    /// home, expanded on the host).
    pub remote_tmp: Option<String>,
    /// `duplicate_dict_key`: a key written twice in one YAML mapping warns, errors or is
    /// ignored (environment: `ANSIBLE_DUPLICATE_YAML_DICT_KEY`, as in Ansible).
    pub duplicate_dict_key: Option<crate::yaml::DuplicateKeys>,
    /// `template_max_output` (windlass's own): bytes one template render may produce.
    pub template_max_output: Option<u64>,
    /// `template_fuel` (windlass's own): instructions one template render may run.
    pub template_fuel: Option<u64>,
    /// The `vault_*` settings (runner/vault/args.rs).
    pub vault: crate::vault::args::VaultConfig,

    /// `pager`: what `windlass vault view` shows plain text through on a terminal
    /// (`ANSIBLE_PAGER`; `PAGER` is read by the command itself, as Ansible reads both).
    pub pager: Option<String>,
    /// `localhost_warning`: warn that an inventory without hosts leaves only the implicit
    /// localhost (default on).
    pub localhost_warning: Option<bool>,
    /// `[inventory]` `inventory_unparsed_warning`: warn that no inventory source was given
    /// (default on).
    pub inventory_unparsed_warning: Option<bool>,
    /// `[privilege_escalation]`: the defaults of the `become*` keywords.
    pub become_: crate::become_defaults::BecomeDefaults,
    /// `collections_path` (`ANSIBLE_COLLECTIONS_PATH`): the roots collections are found
    /// in, colon-separated; relative ones are taken from the file's directory (from the
    /// working directory in the environment), as Ansible's `pathspec` settings. `None`:
    /// Ansible's default (`runner/playbook/collections.rs`).
    pub collections_path: Option<Vec<PathBuf>>,
    /// `collections_scan_sys_path` (`ANSIBLE_COLLECTIONS_SCAN_SYS_PATH`): whether the
    /// ansible Python's `sys.path` is searched for collections after `collections_path`.
    /// `None`: Ansible's default, true.
    pub collections_scan_sys_path: Option<bool>,

    /// `ansible_python` (windlass's own, `WINDLASS_ANSIBLE_PYTHON`): the controller Python
    /// with the user's ansible-core, which the module bridge runs modules through.
    pub ansible_python: Option<PathBuf>,
    /// `bridge_modules` (windlass's own): modules run through the module bridge even
    /// though windlass has them natively.
    pub bridge_modules: Vec<String>,
    /// One warning per setting of the file or the environment windlass does not honour,
    /// each naming where it was set (worded by `runner/unhonoured.rs`).
    pub unhonoured: Vec<String>,
}

const KEYS: &[&str] = &[
    "forks",
    "inventory",
    "remote_user",
    "host_key_checking",
    "roles_path",
    "private_key_file",
    "timeout",
    "ssh_channels",
    "remote_tmp",
    "duplicate_dict_key",
    "template_max_output",
    "template_fuel",
    "localhost_warning",
    "pager",
    "collections_path",
    "ansible_python",
    "bridge_modules",
    "collections_scan_sys_path",
];

/// The environment name of a setting after its `ANSIBLE_`/`WINDLASS_` prefix: the key in
/// capitals, except where Ansible named the variable otherwise (lib/ansible/config/base.yml).
fn env_name(key: &str) -> String {
    match key {
        "duplicate_dict_key" => "DUPLICATE_YAML_DICT_KEY".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

impl Config {
    /// Find and read the configuration file, then apply the environment.
    pub fn discover() -> Result<Config> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        for var in ["WINDLASS_CONFIG", "ANSIBLE_CONFIG"] {
            if let Some(p) = std::env::var_os(var) {
                let p = PathBuf::from(p);
                if !p.is_file() {
                    return Err(Error::Usage(format!(
                        "{var} names {}, which is not a file",
                        p.display()
                    )));
                }
                candidates.push(p);
            }
        }
        candidates.push(PathBuf::from("windlass.toml"));
        candidates.push(PathBuf::from("ansible.cfg"));
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(Path::new(&home).join(".ansible.cfg"));
        }
        candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
        let mut cfg = match candidates.into_iter().find(|p| p.is_file()) {
            Some(p) => Config::load(&p)?,
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.note_unhonoured_env(std::env::vars_os());
        Ok(cfg)
    }

    /// List the `ANSIBLE_*` variables of `env` that windlass does not read.
    fn note_unhonoured_env(&mut self, env: impl Iterator<Item = (OsString, OsString)>) {
        let honoured = env_names();
        for (k, v) in env {
            let (Some(k), v) = (k.to_str(), v.to_string_lossy()) else {
                continue;
            };
            self.unhonoured
                .extend(crate::unhonoured::env_var(k, &v, &honoured));
        }
    }

    /// Read one file: TOML when it ends in `.toml`, else ansible.cfg's INI.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut cfg = if path.extension().is_some_and(|e| e == "toml") {
            Config::from_toml(&text, path)?
        } else {
            Config::from_ansible_cfg(&text, path)?
        };
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parse `ansible.cfg`: the `[defaults]` and `[privilege_escalation]` keys windlass uses
    /// (their values must be valid); every other key is listed in [`Config::unhonoured`].
    pub fn from_ansible_cfg(text: &str, path: &Path) -> Result<Config> {
        let mut cfg = Config::default();
        let mut section = String::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let loc = Loc::new(std::sync::Arc::from(path), i as u32 + 1, 1);
            if let Some(name) = line.strip_prefix('[') {
                section = name.trim_end_matches(']').trim().to_string();
                continue;
            }
            let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
                return Err(Error::syntax(
                    &loc,
                    format!("expected `key = value`, found `{line}`"),
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            if !cfg.set_in(&section, k, v, &loc, ',')? {
                let file = path.display().to_string();
                let w = crate::unhonoured::ini_key(&file, loc.line, &section, k, v);
                cfg.unhonoured.extend(w);
            }
        }
        Ok(cfg)
    }

    /// Set `k` of `section`; `Ok(false)` when windlass does not read that key there.
    fn set_in(&mut self, section: &str, k: &str, v: &str, loc: &Loc, sep: char) -> Result<bool> {
        match section {
            "defaults" => self.set(k, v, loc, sep),
            "privilege_escalation" => self.become_.set(k, v, loc),
            "inventory" if k == UNPARSED => {
                self.inventory_unparsed_warning = Some(bool_setting(k, v, loc)?);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Parse `windlass.toml` (`[defaults]` and `[privilege_escalation]` with the same keys;
    /// unknown keys are errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            Error::syntax(
                &Loc::new(std::sync::Arc::from(path), line, col),
                e.message().to_string(),
            )
        })?;
        let mut cfg = Config::default();
        for (section, body) in &value {
            let loc = Loc::new(
                std::sync::Arc::from(path),
                find_line(text, &format!("[{section}]")),
                1,
            );
            if section != "defaults" && section != "privilege_escalation" {
                return Err(Error::invalid_help(
                    &loc,
                    format!("unknown section `[{section}]`"),
                    "windlass.toml has two sections, [defaults] and [privilege_escalation]",
                ));
            }
            let Some(table) = body.as_table() else {
                return Err(Error::invalid(&loc, format!("`{section}` must be a table")));
            };
            for (k, v) in table {
                let loc = Loc::new(std::sync::Arc::from(path), find_line(text, k), 1);
                if !cfg.set_in(section, k, &toml_text(v), &loc, '\u{1f}')? {
                    return Err(Error::invalid_help(
                        &loc,
                        format!("unknown setting `{k}` in [{section}]"),
                        format!(
                            "known settings: {}; in [privilege_escalation]: {}",
                            KEYS.join(", "),
                            crate::become_defaults::KEYS.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(cfg)
    }

    /// Set a `[defaults]` key; `Ok(false)` when windlass does not read it.
    fn set(&mut self, k: &str, v: &str, loc: &Loc, list_sep: char) -> Result<bool> {
        match k {
            "forks" => {
                self.forks = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::invalid(
                        loc,
                        format!("`forks` must be a positive number, found `{v}`"),
                    )
                })?)
            }
            "inventory" | "hostfile" => {
                self.inventory = v
                    .split(list_sep)
                    .flat_map(|p| p.split(','))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(expand_home)
                    .collect()
            }
            "remote_user" => self.remote_user = Some(v.to_string()),
            "pager" => self.pager = Some(v.to_string()),
            "localhost_warning" => self.localhost_warning = Some(bool_setting(k, v, loc)?),
            "collections_scan_sys_path" => {
                self.collections_scan_sys_path = Some(bool_setting(k, v, loc)?)
            }
            "host_key_checking" => {
                self.host_key_checking = Some(crate::boolean::parse_bool(v).ok_or_else(|| {
                    Error::invalid(
                        loc,
                        format!("`host_key_checking` must be a boolean, found `{v}`"),
                    )
                })?)
            }
            "roles_path" => {
                self.roles_path = v
                    .split(list_sep)
                    .flat_map(|p| p.split(':'))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(expand_home)
                    .collect()
            }
            "collections_path" => {
                let base = match loc.file.to_str() {
                    Some(f) if f.starts_with('<') => None,
                    _ => loc.file.parent().map(Path::to_path_buf),
                };
                self.collections_path = Some(
                    v.split(list_sep)
                        .flat_map(|p| p.split(':'))
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let p = match &base {
                                Some(b) => b.join(expand_home(p)),
                                None => expand_home(p),
                            };
                            std::path::absolute(&p).unwrap_or(p)
                        })
                        .collect(),
                )
            }
            "private_key_file" => self.private_key_file = Some(expand_home(v)),
            "remote_tmp" => {
                crate::command::check_remote_tmp(v)
                    .map_err(|e| Error::invalid(loc, format!("`remote_tmp` {e}")))?;
                self.remote_tmp = Some(v.to_string());
            }
            "duplicate_dict_key" => {
                self.duplicate_dict_key = Some(v.parse().map_err(|e: String| {
                    Error::invalid(loc, format!("`duplicate_dict_key`: {e}"))
                })?)
            }
            "timeout" => {
                self.timeout = Some(v.parse().map_err(|_| {
                    Error::invalid(
                        loc,
                        format!("`timeout` must be a number of seconds, found `{v}`"),
                    )
                })?)
            }
            "ssh_channels" => {
                let limit = crate::transport::MAX_CHANNELS_LIMIT;
                self.ssh_channels = Some(
                    v.parse()
                        .ok()
                        .filter(|n| (1..=limit).contains(n))
                        .ok_or_else(|| {
                            Error::invalid(
                                loc,
                                format!(
                                    "`ssh_channels` must be a number from 1 to {limit}, found `{v}`"
                                ),
                            )
                        })?,
                )
            }
            "ansible_python" => self.ansible_python = Some(expand_home(v)),
            "bridge_modules" => {
                self.bridge_modules = v
                    .split(list_sep)
                    .flat_map(|p| p.split(','))
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "template_max_output" => self.template_max_output = Some(positive(k, v, loc)?),
            "template_fuel" => self.template_fuel = Some(positive(k, v, loc)?),
            k if crate::vault::args::KEYS.contains(&k) => self
                .vault
                .set(k, v, list_sep)
                .map_err(|e| Error::invalid(loc, e))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Apply `ANSIBLE_FORKS`, `ANSIBLE_INVENTORY`, `ANSIBLE_REMOTE_USER`,
    /// `ANSIBLE_HOST_KEY_CHECKING`, `ANSIBLE_ROLES_PATH`, `ANSIBLE_PRIVATE_KEY_FILE`,
    /// `ANSIBLE_TIMEOUT`, `ANSIBLE_SSH_CHANNELS`, `ANSIBLE_REMOTE_TMP`,
    /// `ANSIBLE_DUPLICATE_YAML_DICT_KEY`, `ANSIBLE_TEMPLATE_MAX_OUTPUT`, `ANSIBLE_TEMPLATE_FUEL`,
    /// `ANSIBLE_BECOME`, `ANSIBLE_BECOME_USER`, `ANSIBLE_BECOME_METHOD`,
    /// `ANSIBLE_BECOME_FLAGS`, `ANSIBLE_BECOME_ASK_PASS` (and the same with a `WINDLASS_`
    /// prefix, which wins).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        for key in KEYS.iter().chain(crate::vault::args::KEYS) {
            let upper = env_name(key);
            let value =
                get(&format!("WINDLASS_{upper}")).or_else(|| get(&format!("ANSIBLE_{upper}")));
            if let Some(v) = value {
                let loc = Loc::file(format!("<environment {upper}>"));
                self.set(key, &v, &loc, ',')?;
            }
        }
        let upper = UNPARSED.to_ascii_uppercase();
        if let Some(v) =
            get(&format!("WINDLASS_{upper}")).or_else(|| get(&format!("ANSIBLE_{upper}")))
        {
            let loc = Loc::file(format!("<environment {upper}>"));
            self.set_in("inventory", UNPARSED, &v, &loc, ',')?;
        }
        for key in crate::become_defaults::KEYS {
            let upper = key.to_ascii_uppercase();
            if let Some(v) =
                get(&format!("WINDLASS_{upper}")).or_else(|| get(&format!("ANSIBLE_{upper}")))
            {
                let loc = Loc::file(format!("<environment {upper}>"));
                self.become_.set(key, &v, &loc)?;
            }
        }
        Ok(())
    }
}

/// The `ANSIBLE_*` variables [`Config::apply_env`] reads.
fn env_names() -> Vec<String> {
    let become_keys = crate::become_defaults::KEYS
        .iter()
        .map(|k| k.to_ascii_uppercase());
    KEYS.iter()
        .chain(crate::vault::args::KEYS)
        .map(|k| env_name(k))
        .chain(become_keys)
        .chain([UNPARSED.to_ascii_uppercase()])
        .map(|k| format!("ANSIBLE_{k}"))
        .collect()
}

/// ansible.cfg `[inventory]`'s one key windlass reads.
const UNPARSED: &str = "inventory_unparsed_warning";

/// A boolean setting's value (Ansible's spellings).
fn bool_setting(k: &str, v: &str, loc: &Loc) -> Result<bool> {
    crate::boolean::parse_bool(v)
        .ok_or_else(|| Error::invalid(loc, format!("`{k}` must be a boolean, found `{v}`")))
}

impl Config {
    /// The inventory warnings these settings leave on, for a run on `pattern` (`ansible`
    /// says nothing of the empty hosts list for a pattern naming the implicit localhost,
    /// lib/ansible/cli/__init__.py `get_host_list`).
    pub(crate) fn empty_warnings(
        &self,
        pattern: &str,
    ) -> crate::inventory::implicit_localhost::EmptyWarnings {
        let localhost_name = crate::inventory::LOCALHOST_NAMES.contains(&pattern);
        crate::inventory::implicit_localhost::EmptyWarnings {
            localhost: self.localhost_warning != Some(false) && !localhost_name,
            unparsed: self.inventory_unparsed_warning != Some(false),
        }
    }
}

impl Config {
    /// The template render limits: these settings over the defaults.
    pub fn template_limits(&self) -> crate::template::Limits {
        let d = crate::template::Limits::DEFAULT;
        crate::template::Limits {
            max_output: self.template_max_output.unwrap_or(d.max_output),
            fuel: self.template_fuel.unwrap_or(d.fuel),
        }
    }
}

/// A TOML value as the text an ansible.cfg value would be (a list's items joined by
/// U+001F, the separator `set` splits TOML lists on).
fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join("\u{1f}"),
        other => other.to_string(),
    }
}

/// A setting that must be a whole number above 0.
fn positive(k: &str, v: &str, loc: &Loc) -> Result<u64> {
    v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::invalid(
            loc,
            format!("`{k}` must be a whole number above 0, found `{v}`"),
        )
    })
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0) as u32
        + 1;
    (line, col)
}

fn find_line(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_cfg_defaults() {
        let c = Config::from_ansible_cfg("[defaults]\nforks = 20\ninventory = inv/a,inv/b\nhost_key_checking = False\nroles_path = r1:r2\ngathering = smart\n[ssh_connection]\npipelining = True\n", Path::new("ansible.cfg")).unwrap();
        assert_eq!(c.forks, Some(20));
        assert_eq!(
            c.inventory,
            vec![PathBuf::from("inv/a"), PathBuf::from("inv/b")]
        );
        assert_eq!(c.host_key_checking, Some(false));
        assert_eq!(c.roles_path, vec![PathBuf::from("r1"), PathBuf::from("r2")]);
        let e = Config::from_ansible_cfg("[defaults]\nforks = many\n", Path::new("ansible.cfg"))
            .unwrap_err();
        assert_eq!(e.loc().unwrap().line, 2);
    }

    #[test]
    fn toml_and_env_precedence() {
        let mut c = Config::from_toml(
            "[defaults]\nforks = 7\nroles_path = [\"a\", \"b\"]\nremote_user = \"ops\"\n",
            Path::new("windlass.toml"),
        )
        .unwrap();
        assert_eq!(c.forks, Some(7));
        assert_eq!(c.roles_path.len(), 2);
        c.apply_env(|k| match k {
            "ANSIBLE_FORKS" => Some("9".into()),
            "WINDLASS_FORKS" => Some("11".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.forks, Some(11));
        assert_eq!(c.remote_user.as_deref(), Some("ops"));
        let e =
            Config::from_toml("[defaults]\nforkz = 1\n", Path::new("windlass.toml")).unwrap_err();
        assert!(e.to_string().contains("forkz"));
        assert_eq!(e.loc().unwrap().line, 2);
    }

    #[test]
    fn remote_tmp_is_kept_for_the_host_to_expand() {
        let c = Config::from_ansible_cfg(
            "[defaults]\nremote_tmp = ~/.cache/windlass tmp\n",
            Path::new("ansible.cfg"),
        )
        .unwrap();
        // Not expanded here: `~` is the remote user's home, not the controller's.
        assert_eq!(c.remote_tmp.as_deref(), Some("~/.cache/windlass tmp"));
        let e = Config::from_toml(
            "[defaults]\nforks = 2\nremote_tmp = \"tmp\"\n",
            Path::new("windlass.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("remote_tmp"), "{e}");
        assert_eq!(e.loc().unwrap().line, 3);
    }

    #[test]
    fn duplicate_dict_key_from_the_file_and_ansibles_variable() {
        use crate::yaml::DuplicateKeys;
        let mut c = Config::from_ansible_cfg(
            "[defaults]\nduplicate_dict_key = ignore\n",
            Path::new("ansible.cfg"),
        )
        .unwrap();
        assert_eq!(c.duplicate_dict_key, Some(DuplicateKeys::Ignore));
        // Ansible's variable is ANSIBLE_DUPLICATE_YAML_DICT_KEY, not ..._DUPLICATE_DICT_KEY.
        c.apply_env(|k| (k == "ANSIBLE_DUPLICATE_DICT_KEY").then(|| "warn".into()))
            .unwrap();
        assert_eq!(c.duplicate_dict_key, Some(DuplicateKeys::Ignore));
        c.apply_env(|k| (k == "ANSIBLE_DUPLICATE_YAML_DICT_KEY").then(|| "error".into()))
            .unwrap();
        assert_eq!(c.duplicate_dict_key, Some(DuplicateKeys::Error));
        let e = Config::from_toml(
            "[defaults]\nduplicate_dict_key = \"bogus\"\n",
            Path::new("windlass.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("error, warn, ignore"), "{e}");
        assert_eq!(e.loc().unwrap().line, 2);
    }

    #[test]
    fn privilege_escalation_section_and_its_variables() {
        let text = "[defaults]\nforks = 3\nstdout_callback = yaml\n[privilege_escalation]\nbecome = True\nbecome_user = app\nbecome_exe = doas\n[ssh_connection]\npipelining = True\n";
        let mut c = Config::from_ansible_cfg(text, Path::new("ansible.cfg")).unwrap();
        assert_eq!(c.become_.enabled, Some(true));
        assert_eq!(c.become_.user.as_deref(), Some("app"));
        assert_eq!(
            c.unhonoured,
            vec![
                "ansible.cfg:3: `stdout_callback` in [defaults] is not honoured by windlass; it is ignored",
                "ansible.cfg:7: `become_exe` in [privilege_escalation] is not honoured by windlass; it is ignored",
                "ansible.cfg:9: `pipelining` in [ssh_connection] is not honoured by windlass; it is ignored",
            ]
        );
        // The environment beats the file (config/base.yml: env over ini).
        c.apply_env(|k| match k {
            "ANSIBLE_BECOME_USER" => Some("envuser".into()),
            "ANSIBLE_BECOME_METHOD" => Some("su".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.become_.user.as_deref(), Some("envuser"));
        assert_eq!(c.become_.method.as_deref(), Some("su"));
        let e = Config::from_ansible_cfg(
            "[privilege_escalation]\nbecome = sometimes\n",
            Path::new("ansible.cfg"),
        )
        .unwrap_err();
        assert_eq!(e.loc().unwrap().line, 2);
        let t = Config::from_toml(
            "[privilege_escalation]\nbecome = true\n",
            Path::new("windlass.toml"),
        )
        .unwrap();
        assert_eq!(t.become_.enabled, Some(true));
        let e = Config::from_toml(
            "[privilege_escalation]\nbecome_exe = \"doas\"\n",
            Path::new("windlass.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("become_exe"), "{e}");
    }

    #[test]
    fn unhonoured_variables_are_noted_once_each() {
        let mut c = Config::default();
        let env = [
            ("ANSIBLE_FORKS", "4"),
            ("ANSIBLE_BECOME", "true"),
            ("ANSIBLE_STDOUT_CALLBACK", "yaml"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        c.note_unhonoured_env(env.into_iter());
        assert_eq!(
            c.unhonoured,
            vec![
                "the environment variable ANSIBLE_STDOUT_CALLBACK is not honoured by windlass; it is ignored"
            ]
        );
    }

    #[test]
    fn ssh_channels_is_a_bounded_positive_number() {
        let c = Config::from_toml("[defaults]\nssh_channels = 4\n", Path::new("windlass.toml"))
            .unwrap();
        assert_eq!(c.ssh_channels, Some(4));
        for bad in ["0", "257", "lots"] {
            let e = Config::from_ansible_cfg(
                &format!("[defaults]\nssh_channels = {bad}\n"),
                Path::new("ansible.cfg"),
            )
            .unwrap_err();
            assert!(e.to_string().contains("ssh_channels"), "{e}");
            assert_eq!(e.loc().unwrap().line, 2);
        }
    }
    /// `collections_path` is a colon-separated list; relative entries are taken from the
    /// file's directory in ansible.cfg and from the working directory in the environment.
    #[test]
    fn collections_path_relative_to_the_file() {
        let c = Config::from_ansible_cfg(
            "[defaults]\ncollections_path = ./colls:/abs/one\n",
            Path::new("/etc/proj/ansible.cfg"),
        )
        .unwrap();
        assert_eq!(
            c.collections_path,
            Some(vec![
                PathBuf::from("/etc/proj/colls"),
                PathBuf::from("/abs/one")
            ])
        );
        let mut c = Config::default();
        c.apply_env(|k| (k == "ANSIBLE_COLLECTIONS_PATH").then(|| "rel".into()))
            .unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.collections_path, Some(vec![cwd.join("rel")]));
    }
}
