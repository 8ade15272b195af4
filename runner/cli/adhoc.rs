//! `windlass adhoc PATTERN -m MODULE -a ARGS`: one task on the matching hosts, what the
//! `ansible` command does.
//!
//! Why this module exists: "run this on those hosts now" is the first thing Ansible users
//! type. Like ansible-core's `cli/adhoc.py` (`_play_ds`), the command builds a play of one
//! task (`hosts: PATTERN`, no fact gathering) and runs it through the same engine as a
//! playbook, so a module behaves the same in both; only the output differs
//! ([`crate::output::adhoc`]). Invoked as `ansible` (a link or copy named so), the binary
//! reads its arguments as `windlass adhoc`'s.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use super::{BecomeArgs, ConnectArgs};
use crate::config::Config;
use crate::engine::RunOptions;
use crate::error::{Error, Result};
use crate::event::EventSink;
use crate::modules::Registry;
use crate::playbook::{Loader, load_playbook_str};

/// `windlass adhoc`.
#[derive(Debug, Args, Clone)]
pub struct AdhocArgs {
    /// The hosts: a pattern as in a play's `hosts:` (`all`, `web:!web3`, `db*`).
    pub pattern: String,
    /// The module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,
    /// Its arguments: `key=value …`, the command line of command/shell/raw, or a JSON
    /// object `{"key": "value"}`.
    #[arg(short = 'a', long = "args", default_value = "")]
    pub args: String,
    /// Connection options.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Privilege escalation.
    #[command(flatten)]
    pub become_: BecomeArgs,
    /// Ask for the become (sudo) password; `WINDLASS_BECOME_PASSWORD` also sets it.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Extra variables: `k=v …`, `@file.yml`, or JSON/YAML `{…}` (repeatable; later wins).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Further limit the hosts with a pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Predict changes without making them.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show diffs of changed files.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// One line per host (`ansible -o`).
    #[arg(short = 'o', long = "one-line")]
    pub one_line: bool,
    /// List the matching hosts, and exit.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// More output (-vvv also shows every command sent to a host).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Vault secrets (for vault-encrypted inventory variables, `-e @file` and sources).
    #[command(flatten)]
    pub vault: crate::vault::args::VaultArgs,
}

/// Modules that need arguments (ansible-core's `MODULE_REQUIRE_ARGS`).
const REQUIRE_ARGS: &[&str] = &["command", "raw", "script", "shell"];

/// Run the ad-hoc task; the exit code is a playbook run's.
pub(super) fn run(mut a: AdhocArgs) -> Result<i32> {
    let cfg = Config::discover()?;
    crate::template::set_limits(cfg.template_limits());
    a.connect = super::with_config(a.connect, &cfg);
    let yaml = super::yaml_reader(&cfg).with_vault(a.vault.keyring(&cfg.vault, false, false)?);
    let inventory = super::load_inventory(&a.connect.inventory, &yaml, &cfg, &a.pattern)?;
    if a.list_hosts {
        super::print_load_warnings(&cfg.unhonoured, &inventory, &yaml);
        return list_hosts(&inventory, &a);
    }
    let extra_vars = super::parse_extra_vars(&a.extra_vars, &yaml)?;
    let loader = Arc::new(
        Loader::new(Arc::new(registry(&cfg)), cfg.roles_path.clone())
            .with_yaml(yaml)
            .with_extra_vars(extra_vars.clone()),
    );
    let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
    let text = play_text(&a)?;
    let playbook = load_playbook_str(&text, &cwd.join("__adhoc_playbook__"), &loader)?;
    let opts = run_options(&a, &cfg, extra_vars)?;
    let repr = task_repr(&playbook, &a.module);
    let sink = super::with_warnings(printer(&a, inventory.is_empty(), repr), &cfg.unhonoured);
    let inv_file = a.connect.inventory.first().cloned();
    let rt = super::runtime()?;
    let grace = Duration::from_secs(30);
    let report = rt.block_on(super::execute(
        inventory, inv_file, loader, &playbook, opts, sink, None, grace, None,
    ))?;
    Ok(report.exit_code)
}

/// The modules: the native ones and, as for `windlass run`, the module bridge (`-m` may
/// name a module windlass lacks, or one `bridge_modules` forces through it).
fn registry(cfg: &Config) -> Registry {
    Registry::builtin().with_bridge(Arc::new(crate::bridge::Bridge::new(
        cfg.ansible_python.clone(),
        cfg.bridge_modules.clone(),
    )))
}

/// The run's options: the ad-hoc flags over the configuration.
fn run_options(
    a: &AdhocArgs,
    cfg: &Config,
    extra_vars: indexmap::IndexMap<String, Value>,
) -> Result<RunOptions> {
    let ask = a.ask_become_pass || cfg.become_.ask_pass == Some(true);
    Ok(RunOptions {
        check: a.check,
        diff: a.diff,
        forks: a.connect.forks.unwrap_or(50),
        limit: a.limit.clone(),
        extra_vars,
        verbosity: a.verbose,
        connection: super::overrides(&a.connect)?,
        become_password: super::become_password(ask)?,
        become_defaults: a.become_.over(&cfg.become_),
        host_lock: true,
        remote_tmp: cfg.remote_tmp.clone(),
        ..RunOptions::default()
    })
}

/// `ansible`'s output on stdout, painted on a terminal.
fn printer(a: &AdhocArgs, inventory_empty: bool, repr: Option<String>) -> Box<dyn EventSink> {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let color = crate::output::color::wanted(tty, |k| std::env::var_os(k));
    let p =
        crate::output::adhoc::AdhocPrinter::new(std::io::stdout(), &a.module, a.one_line, color);
    let p = p.verbosity(a.verbose).inventory_empty(inventory_empty);
    Box::new(match repr {
        Some(r) => p.task_repr(r),
        None => p,
    })
}

/// The ad-hoc task as `ansible`'s error block shows it: its action, its arguments as
/// parsed (Python's repr) and the fixed keywords adhoc.py gives it.
fn task_repr(playbook: &crate::playbook::Playbook, module: &str) -> Option<String> {
    let crate::playbook::task::TaskNode::Task(t) = playbook.plays.first()?.tasks.first()? else {
        return None;
    };
    let task = json!({"action": module, "args": Value::Object(t.args.clone())});
    let repr = crate::template::json_py_str(&task);
    // The keywords after the arguments: adhoc.py's `timeout`, `async_val` and `poll`.
    let head = repr.strip_suffix('}')?;
    Some(format!(
        "{head}, 'timeout': 0, 'async_val': 0, 'poll': 15}}"
    ))
}

/// The play of one task, as `cli/adhoc.py` `_play_ds` builds it.
fn play_text(a: &AdhocArgs) -> Result<String> {
    let short = a.module.rsplit('.').next().unwrap_or_default();
    let raw = a.args.trim();
    let args = if raw.starts_with('{') && raw.ends_with('}') {
        serde_json::from_str(raw).unwrap_or_else(|_| Value::String(a.args.clone()))
    } else if raw.is_empty() {
        if REQUIRE_ARGS.contains(&short) {
            return Err(Error::Usage(format!(
                "No argument passed to {} module",
                a.module
            )));
        }
        json!({})
    } else {
        Value::String(a.args.clone())
    };
    if matches!(short, "import_playbook") {
        return Err(Error::Usage(format!(
            "'{}' is not a valid action for ad-hoc commands",
            a.module
        )));
    }
    let play = json!([{
        "name": "Ansible Ad-Hoc",
        "hosts": a.pattern,
        "gather_facts": false,
        "tasks": [{ a.module.clone(): args }],
    }]);
    Ok(play.to_string())
}

/// `--list-hosts`: `  hosts (N):` and one indented line a host (adhoc.py).
fn list_hosts(inventory: &crate::inventory::Inventory, a: &AdhocArgs) -> Result<i32> {
    let (mut hosts, _) = inventory
        .select_lenient(&a.pattern)
        .map_err(|e| Error::Usage(e.to_string()))?;
    hosts.retain(|h| *h == a.pattern || !inventory.is_implicit(h));
    if let Some(l) = &a.limit {
        let allowed = inventory
            .select(l)
            .map_err(|e| Error::Usage(format!("--limit: {e}")))?;
        hosts.retain(|h| allowed.contains(h));
    }
    println!("  hosts ({}):", hosts.len());
    for h in &hosts {
        println!("    {h}");
    }
    Ok(0)
}

/// `argv` as `windlass adhoc …` when the program was invoked as `ansible`.
pub(super) fn as_windlass<T: Into<std::ffi::OsString> + Clone>(
    argv: Vec<T>,
) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
    let invoked_as_ansible = out
        .first()
        .and_then(|p| Path::new(p).file_name())
        .is_some_and(|n| n == "ansible");
    if invoked_as_ansible {
        out.insert(1, "adhoc".into());
    }
    out
}
