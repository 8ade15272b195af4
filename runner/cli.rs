//! The command line: `windlass run`, `adhoc`, `inventory`, `ping`, `modules`, `vault`, `lab`,
//! `test`, `completions`.
//!
//! Why this module exists: it turns arguments into library calls and a process exit code,
//! and nothing else. It lives in the library so the book's CLI reference is generated from
//! the same definitions ([`command`]) and tests can drive it without a subprocess.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use indexmap::IndexMap;
use serde_json::Value;

use crate::config::Config;
use crate::engine::{Engine, RunOptions};
use crate::error::{Error, Loc, Result};
use crate::event::EventSink;
use crate::inventory::Inventory;
use crate::modules::Registry;
use crate::playbook::{Loader, load_playbook};
use crate::stop_signals::Stop;
use crate::transport::HostKeyPolicy;
use crate::transport::spec::ConnectionOverrides;
use crate::transport::{ConnectionKind, DefaultConnector};

mod adhoc;
mod become_args;
mod compat_args;
mod lab;
mod listing;
mod several_playbooks;
mod step;
mod test;
pub use adhoc::AdhocArgs;
pub use become_args::BecomeArgs;
pub use compat_args::CompatArgs;
pub use lab::{LabArgs, LabCommand};
pub use test::TestArgs;

/// windlass: Ansible-compatible playbooks, fast, over SSH.
#[derive(Debug, Parser)]
#[command(name = "windlass", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook (like ansible-playbook).
    Run(Box<RunArgs>),
    /// Run one module on hosts (like `ansible PATTERN -m MODULE -a ARGS`).
    Adhoc(Box<AdhocArgs>),
    /// Show an inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// Connect to hosts and run `true` on each (like `ansible -m ping`).
    Ping(PingArgs),
    /// List the native modules, then those the module bridge runs.
    Modules,
    /// Make, read and change Ansible Vault files (like ansible-vault).
    Vault(crate::vault::command::VaultCommand),
    /// Throwaway local Debian hosts to run playbooks against (root; systemd-nspawn).
    Lab(LabArgs),
    /// Test roles and playbooks on labs: converge, check idempotence, verify (root).
    Test(TestArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, like ansible-playbook.
    Text,
    /// One JSON event per line.
    Jsonl,
}

/// Options shared by commands that connect to hosts.
#[derive(Debug, Args, Clone)]
pub struct ConnectArgs {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    pub inventory: Vec<PathBuf>,
    /// Connect as this user (inventory `ansible_user` still wins, as in Ansible).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Private key file for SSH.
    #[arg(long = "private-key", alias = "key-file")]
    pub private_key: Option<PathBuf>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long = "timeout")]
    pub timeout: Option<u64>,
    /// Further SSH connection attempts after a transient refusal, waiting 0.5 s, 1 s, 2 s, …
    /// [default: 2; inventory `ansible_ssh_retries` wins].
    #[arg(long = "ssh-retries", value_name = "N")]
    pub ssh_retries: Option<u32>,
    /// Concurrent commands (SSH channels) per host, 1 to 256; keep it below the host's sshd
    /// `MaxSessions` [default: 8, or `ssh_channels` from the config file; inventory
    /// `windlass_ssh_channels` wins].
    #[arg(long = "ssh-channels", value_name = "N")]
    pub ssh_channels: Option<usize>,
    /// An ssh_config file to use.
    #[arg(long = "ssh-config")]
    pub ssh_config: Option<PathBuf>,
    /// Accept and remember host keys of hosts not yet in known_hosts (never changed ones).
    #[arg(long = "accept-new-host-keys")]
    pub accept_new_host_keys: bool,
    /// Do not check host keys at all (like `host_key_checking = False`).
    #[arg(long = "no-host-key-checking")]
    pub no_host_key_checking: bool,
    /// Connection type for every host (`ssh` or `local`).
    #[arg(short = 'c', long = "connection")]
    pub connection: Option<String>,
    /// Parallel hosts [default: 50, or `forks` from the config file].
    #[arg(short = 'f', long = "forks")]
    pub forks: Option<usize>,
}

/// `windlass run`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The playbooks, run in order as one command (the next starts only when the one
    /// before ended with no failed or unreachable host, as ansible-playbook does); each a
    /// file, or a collection's playbook by its full name (`ns.col.name`).
    #[arg(value_name = "PLAYBOOK", required = true, num_args = 1..)]
    pub playbooks: Vec<PathBuf>,
    /// The playbook being run (one of `playbooks`).
    #[arg(skip)]
    pub playbook: PathBuf,
    /// Connection options.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Privilege escalation.
    #[command(flatten)]
    pub become_: BecomeArgs,
    /// ansible-playbook options kept for compatibility.
    #[command(flatten)]
    pub compat: CompatArgs,
    /// Extra variables: `k=v …`, `@file.yml`, or JSON/YAML `{…}` (repeatable; later wins).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Further limit the hosts with a pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags")]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags")]
    pub skip_tags: Vec<String>,
    /// Predict changes without making them.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show diffs of changed files.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// Start at the task with this name.
    #[arg(long = "start-at-task")]
    pub start_at_task: Option<String>,
    /// One step at a time: confirm each task before running it.
    #[arg(long = "step")]
    pub step: bool,
    /// Run handlers even on hosts that failed.
    #[arg(long = "force-handlers")]
    pub force_handlers: bool,
    /// List the tasks that would run, and exit.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the hosts each play would run on, and exit.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tags of each play's tasks, and exit.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Check the playbook and exit.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// Continue the last failed or interrupted run of this playbook from its journal:
    /// finished tasks (known by their definition and place, not their line) are skipped per
    /// host, registered variables and pending handlers return. Stops if the playbook, a
    /// file it loads or the inventory changed since (see --resume-changed). A check run
    /// (-C) neither writes a journal nor resumes one: nothing it predicted was done.
    #[arg(long = "resume", conflicts_with = "check")]
    pub resume: bool,
    /// With --resume: go on even though the playbook, a file it loads or the inventory
    /// changed since the journal was written (what changed is listed as warnings).
    #[arg(long = "resume-changed", requires = "resume")]
    pub resume_changed: bool,
    /// After Ctrl-C, how long running tasks may take to finish before windlass aborts as on a
    /// second Ctrl-C (journal written, SSH masters closed, host locks released, exit 130);
    /// SIGTERM and SIGHUP abort at once (exit 143, 129).
    #[arg(long = "interrupt-grace", value_name = "SECS", default_value_t = 30)]
    pub interrupt_grace: u64,
    /// Where run journals are kept.
    #[arg(long = "state-dir", default_value = ".windlass", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Remove a stale host lock left by a run that died, then run (a lock left by a run of
    /// this machine whose process is gone is taken over without it).
    #[arg(long = "break-lock")]
    pub break_lock: bool,
    /// Run every task's probe on its own instead of batching the probes of upcoming tasks
    /// into one round trip per host (for comparison and troubleshooting; the results are
    /// the same).
    #[arg(long = "no-probe-batching")]
    pub no_probe_batching: bool,
    /// Run twice; fail (exit 2) if the second run changes anything, listing what changed.
    #[arg(long = "assert-idempotent")]
    pub assert_idempotent: bool,
    /// Output format.
    #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Ask for the become (sudo) password; `WINDLASS_BECOME_PASSWORD` also sets it.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Extra directories to look for roles in.
    #[arg(long = "roles-path")]
    pub roles_path: Vec<PathBuf>,
    /// More output (-v shows every result; -vvv also every command sent to a host).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Vault secrets (boxed: `Command` stays small).
    #[command(flatten)]
    pub vault: Box<crate::vault::args::VaultArgs>,
    /// Where the run notes which (host, task) changed (`windlass test`'s idempotence check).
    #[arg(skip)]
    pub(crate) changes: Option<ChangeLog>,
}

/// The (host, task) of each changed result of a run, in the order they came.
pub(crate) type ChangeLog = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// `windlass inventory`.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<PathBuf>,
    /// Print JSON like `ansible-inventory --list`.
    #[arg(long = "list", conflicts_with_all = ["graph", "host"])]
    pub list: bool,
    /// Print the group tree (optionally from GROUP).
    #[arg(long = "graph", num_args = 0..=1, default_missing_value = "all", value_name = "GROUP")]
    pub graph: Option<String>,
    /// Print one host's variables as JSON.
    #[arg(long = "host")]
    pub host: Option<String>,
    /// Vault secrets.
    #[command(flatten)]
    pub vault: crate::vault::args::VaultArgs,
}

/// `windlass ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// Host pattern (default `all`).
    #[arg(default_value = "all")]
    pub pattern: String,
    /// Connection options.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Vault secrets (for vault-encrypted inventory variables).
    #[command(flatten)]
    pub vault: Box<crate::vault::args::VaultArgs>,
}

/// The clap command, for generated docs and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parse `args` and run; returns the process exit code, or a run-level error.
pub fn run_cli<I, T>(args: I) -> Result<i32>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(adhoc::as_windlass(args.into_iter().collect())) {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // What clap refuses (an unknown option, a missing or mistyped value)
                // argparse refuses in ansible-playbook, which exits 2 then.
                _ => crate::exit::USAGE_ERROR,
            };
            let _ = e.print();
            return Ok(code);
        }
    };
    match cli.command {
        Command::Run(a) => several_playbooks::run(*a),
        Command::Adhoc(a) => adhoc::run(*a),
        Command::Inventory(a) => show_inventory(a),
        Command::Ping(a) => ping(a),
        Command::Vault(a) => crate::vault::command::run(a, &Config::discover()?),
        Command::Modules => list_modules(),
        Command::Lab(a) => lab::run(a),
        Command::Test(a) => test::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "windlass", &mut std::io::stdout());
            Ok(0)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    raise_open_file_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))
}

/// Raise this process's soft limit on open files to its hard limit, as Go's runtime does
/// for every program: each host a task is running on holds a few descriptors (a
/// connection to its ssh master, the pipes of the command in flight), so the usual soft
/// limit of 1024 would stop a run with `--forks` in the hundreds. Best effort: a limit
/// that cannot be raised stays as it was.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    // No hard limit: the kernel still caps descriptors at fs.nr_open (1 Mi by default).
    let target = lim.maximum.unwrap_or(1 << 20);
    if lim.current.is_some_and(|c| c < target) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: lim.maximum,
            },
        );
    }
}

/// The connection options with the configuration file's and environment's defaults filled
/// in where the command line said nothing.
fn with_config(mut c: ConnectArgs, cfg: &Config) -> ConnectArgs {
    if c.inventory.is_empty() {
        c.inventory = cfg.inventory.clone();
    }
    c.user = c.user.or_else(|| cfg.remote_user.clone());
    c.private_key = c.private_key.or_else(|| cfg.private_key_file.clone());
    c.timeout = c.timeout.or(cfg.timeout);
    c.forks = c.forks.or(cfg.forks);
    c.ssh_channels = c.ssh_channels.or(cfg.ssh_channels);
    if cfg.host_key_checking == Some(false) && !c.accept_new_host_keys {
        c.no_host_key_checking = true;
    }
    c
}

/// The inventory of `sources`, YAML read by `yaml`. Without any, like Ansible without
/// `-i`: no hosts, only the implicit localhost, which `all` does not match.
/// `cfg`'s `localhost_warning`/`inventory_unparsed_warning` for a run on `pattern` decide
/// which warnings an inventory without hosts gives.
fn load_inventory(
    sources: &[PathBuf],
    yaml: &crate::yaml::Reader,
    cfg: &Config,
    pattern: &str,
) -> Result<Inventory> {
    let mut inv = if sources.is_empty() {
        Inventory::new()
    } else {
        Inventory::load_with(sources, yaml.clone())?
    };
    inv.set_empty_warnings(cfg.empty_warnings(pattern));
    Ok(inv)
}

/// The YAML reader of a run: the configuration's `duplicate_dict_key` policy.
fn yaml_reader(cfg: &Config) -> crate::yaml::Reader {
    crate::yaml::Reader::new(cfg.duplicate_dict_key.unwrap_or_default())
}

/// Warnings of the configuration and of loading that have no run to report them
/// (`--syntax-check`, the listings and `ping`), to stderr as ansible-playbook prints them.
fn print_load_warnings(config: &[String], inventory: &Inventory, yaml: &crate::yaml::Reader) {
    for w in config
        .iter()
        .cloned()
        .chain(inventory.empty_warnings())
        .chain(yaml.take_warnings())
    {
        eprintln!("[WARNING]: {w}");
    }
}

fn overrides(c: &ConnectArgs) -> Result<ConnectionOverrides> {
    let connection = match c.connection.as_deref() {
        None => None,
        Some("ssh") | Some("smart") => Some(ConnectionKind::Ssh),
        Some("local") => Some(ConnectionKind::Local),
        Some(other) => {
            return Err(Error::Usage(format!(
                "unknown connection `{other}` (use ssh or local)"
            )));
        }
    };
    let host_keys = if c.no_host_key_checking {
        Some(HostKeyPolicy::Off)
    } else if c.accept_new_host_keys {
        Some(HostKeyPolicy::AcceptNew)
    } else {
        None
    };
    if c.forks == Some(0) {
        return Err(Error::Usage("--forks must be at least 1".into()));
    }
    let limit = crate::transport::MAX_CHANNELS_LIMIT;
    if let Some(n) = c.ssh_channels.filter(|n| !(1..=limit).contains(n)) {
        return Err(Error::Usage(format!(
            "--ssh-channels must be from 1 to {limit}, got {n}"
        )));
    }
    Ok(ConnectionOverrides {
        user: c.user.clone(),
        private_key: c.private_key.clone(),
        timeout: c.timeout.map(Duration::from_secs),
        ssh_config: c.ssh_config.clone(),
        host_keys,
        max_channels: c.ssh_channels,
        connection,
        ssh_retries: c.ssh_retries,
    })
}

/// Parse `-e` values in order (later wins); `@file`s are read by `yaml`.
pub fn parse_extra_vars(
    values: &[String],
    yaml: &crate::yaml::Reader,
) -> Result<IndexMap<String, Value>> {
    let mut out = IndexMap::new();
    for raw in values {
        let raw = raw.trim();
        let node = if let Some(file) = raw.strip_prefix('@') {
            yaml.load(Path::new(file))?
        } else if raw.starts_with('{') || raw.starts_with('[') {
            crate::yaml::parse(raw, Path::new("<-e>"))?
        } else {
            let mut m = IndexMap::new();
            let words = crate::command::split(raw)
                .ok_or_else(|| Error::Usage(format!("-e {raw:?}: unbalanced quotes")))?;
            for w in words {
                let (k, v) = w.split_once('=').ok_or_else(|| {
                    Error::Usage(format!(
                        "-e {raw:?}: expected key=value, @file or JSON, found `{w}`"
                    ))
                })?;
                crate::playbook::task::check_var_name(k, &Loc::file("<-e>"))
                    .map_err(|_| Error::Usage(format!("-e: `{k}` is not a valid variable name")))?;
                m.insert(k.to_string(), Value::String(v.to_string()));
            }
            out.extend(m);
            continue;
        };
        if node.is_null() {
            continue;
        }
        for (k, v) in node.expect_map("extra vars")? {
            crate::playbook::task::check_var_name(&k, &v.loc)?;
            out.insert(k, v.to_value());
        }
    }
    Ok(out)
}

fn become_password(ask: bool) -> Result<Option<String>> {
    if let Ok(p) = std::env::var("WINDLASS_BECOME_PASSWORD") {
        return Ok(Some(p));
    }
    if !ask {
        return Ok(None);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "--ask-become-pass needs a terminal; set WINDLASS_BECOME_PASSWORD instead".into(),
        ));
    }
    eprint!("BECOME password: ");
    let mut line = String::new();
    // Echo off is the terminal's business; read a line plainly when stty is unavailable.
    let _ = std::process::Command::new("stty").arg("-echo").status();
    let r = std::io::stdin().read_line(&mut line);
    let _ = std::process::Command::new("stty").arg("echo").status();
    eprintln!();
    r.map_err(|e| Error::Other(format!("cannot read the password: {e}")))?;
    Ok(Some(line.trim_end_matches(['\n', '\r']).to_string()))
}

fn split_tags(v: &[String]) -> Vec<String> {
    v.iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `windlass modules`: the native modules, then those the module bridge would run from the
/// user's ansible-core (installed, not native, or forced by `bridge_modules`).
fn list_modules() -> Result<i32> {
    let cfg = Config::discover()?;
    let bridge = Arc::new(crate::bridge::Bridge::new(
        cfg.ansible_python.clone(),
        cfg.bridge_modules.clone(),
    ));
    let registry = Registry::builtin().with_bridge(bridge.clone());
    let native = registry.fqcns();
    println!("# native modules ({})", native.len());
    for n in &native {
        println!("{n}");
    }
    match bridge.installed() {
        Ok(i) => {
            let bridged: Vec<&String> = i
                .modules
                .iter()
                .filter(|m| registry.get(m).is_none() && !Registry::is_engine_action(m))
                .collect();
            println!(
                "# bridged modules ({}), through ansible-core {} ({})",
                bridged.len(),
                i.ansible_version,
                i.python
            );
            for m in bridged {
                println!("{m}");
            }
        }
        Err(why) => eprintln!("no bridged modules: {why}"),
    }
    Ok(0)
}

/// Run `a.playbook`; `warn`: show the configuration's warnings (once per command).
fn run_playbook(mut a: RunArgs, warn: bool, carry: &several_playbooks::Carry) -> Result<i32> {
    let cfg = Config::discover()?;
    let warnings: &[String] = if warn { &cfg.unhonoured } else { &[] };
    crate::template::set_limits(cfg.template_limits());
    a.connect = with_config(a.connect, &cfg);
    a.roles_path.extend(cfg.roles_path.iter().cloned());
    let yaml = yaml_reader(&cfg).with_vault(a.vault.keyring(&cfg.vault, false, false)?);
    let inventory = load_inventory(&a.connect.inventory, &yaml, &cfg, "all")?;
    let extra_vars = parse_extra_vars(&a.extra_vars, &yaml)?;
    let roles_path = a.roles_path.clone();
    let registry = Arc::new(
        Registry::builtin().with_bridge(Arc::new(crate::bridge::Bridge::new(
            cfg.ansible_python.clone(),
            cfg.bridge_modules.clone(),
        ))),
    );
    let (collections, default_collection) = crate::playbook::collections::command_line(
        &mut a.playbook,
        &a.playbooks,
        cfg.collections_path.as_deref(),
    );
    let collections = collections.scan_sys_path(cfg.collections_scan_sys_path.unwrap_or(true));
    let loader = Arc::new(
        Loader::new(registry, roles_path)
            .with_collections(collections)
            .with_default_collection(default_collection)
            .with_yaml(yaml.clone())
            .with_extra_vars(extra_vars.clone()),
    );
    if !a.playbook.is_file() {
        return Err(Error::Usage(format!(
            "playbook {} not found",
            a.playbook.display()
        )));
    }
    let playbook = load_playbook(&a.playbook, &loader)?;
    let mut inventory = inventory;
    if let Some(dir) = a.playbook.parent() {
        inventory.add_vars_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })?;
    }
    if a.syntax_check {
        print_load_warnings(warnings, &inventory, &yaml);
        println!("playbook: {}", a.playbook.display());
        return Ok(0);
    }
    if a.list_hosts || a.list_tasks || a.list_tags {
        print_load_warnings(warnings, &inventory, &yaml);
        let tags = split_tags(&a.tags);
        let what = listing::Listings {
            only: match tags.is_empty() && a.skip_tags.is_empty() && a.list_tags {
                true => vec!["never".into(), "all".into()],
                false => tags,
            },
            skip: split_tags(&a.skip_tags),
            hosts: a.list_hosts,
            tasks: a.list_tasks,
            tags: a.list_tags,
        };
        listing::print(&playbook, &inventory, a.limit.as_deref(), &what)?;
        return Ok(0);
    }
    let tags = split_tags(&a.tags);
    let opts = RunOptions {
        check: a.check,
        diff: a.diff,
        forks: a.connect.forks.unwrap_or(50),
        tags,
        skip_tags: split_tags(&a.skip_tags),
        limit: a.limit.clone(),
        start_at_task: a.start_at_task.clone(),
        extra_vars,
        force_handlers: a.force_handlers,
        verbosity: a.verbose,
        connection: overrides(&a.connect)?,
        become_password: become_password(a.ask_become_pass || cfg.become_.ask_pass == Some(true))?,
        become_defaults: a.become_.over(&cfg.become_),
        host_lock: true,
        break_lock: a.break_lock,
        batch_probes: !a.no_probe_batching,
        report_commands: false,
        remote_tmp: cfg.remote_tmp.clone(),
        step: a
            .step
            .then(|| Arc::new(step::PromptStepper::new()) as Arc<dyn crate::engine::Stepper>),
    };
    let inv_file = a.connect.inventory.first().cloned();
    let rt = runtime()?;
    let journal_path = crate::journal::Journal::path_for(&a.state_dir, &a.playbook);
    // A check run finishes nothing, so it leaves the journal alone: its predicted tasks
    // must not become a resume point that skips them for real.
    let journal = if a.check {
        None
    } else if a.resume {
        Some(crate::journal::Journal::resume(
            journal_path,
            &a.playbook,
            a.resume_changed,
        )?)
    } else {
        Some(crate::journal::Journal::fresh(journal_path, &a.playbook))
    };
    let mut sink = make_sink(a.output, a.verbose);
    if let Some(changed) = &a.changes {
        sink = Box::new(ChangedTee {
            inner: sink,
            changed: changed.clone(),
        });
    }
    let report = rt.block_on(execute(
        inventory,
        inv_file.clone(),
        loader.clone(),
        &playbook,
        opts.clone(),
        carry.wrap(with_warnings(sink, warnings)),
        journal.map(Arc::new),
        Duration::from_secs(a.interrupt_grace),
        Some(carry),
    ))?;
    if !a.assert_idempotent || report.exit_code != 0 {
        return Ok(report.exit_code);
    }
    // --assert-idempotent: the same run again must change nothing.
    let mut inventory = load_inventory(&a.connect.inventory, &yaml, &cfg, "all")?;
    if let Some(dir) = a.playbook.parent() {
        inventory.add_vars_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })?;
    }
    let changed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tee = ChangedTee {
        inner: make_sink(a.output, a.verbose),
        changed: changed.clone(),
    };
    let second = rt.block_on(execute(
        inventory,
        inv_file,
        loader,
        &playbook,
        opts,
        Box::new(tee),
        None,
        Duration::from_secs(a.interrupt_grace),
        None,
    ))?;
    let changed = changed.lock().map(|c| c.clone()).unwrap_or_default();
    if changed.is_empty() {
        eprintln!("[windlass] idempotent: the second run changed nothing");
        return Ok(second.exit_code);
    }
    eprintln!(
        "[windlass] NOT idempotent: {} task result(s) changed on the second run:",
        changed.len()
    );
    for (host, task) in &changed {
        eprintln!("  [{host}] {task}");
    }
    Ok(crate::exit::HOST_FAILED)
}

/// The printer (with a progress bar on a terminal) or the JSONL writer.
fn make_sink(output: OutputFormat, verbose: u8) -> Box<dyn EventSink> {
    match output {
        OutputFormat::Jsonl => Box::new(crate::output::jsonl::JsonlSink::new(std::io::stdout())),
        OutputFormat::Text => {
            let tty = std::io::stdout().is_terminal();
            let color = crate::output::color::wanted(tty, |k| std::env::var_os(k));
            let printer = crate::output::printer::Printer::new(std::io::stdout(), color, verbose);
            if tty && std::io::stderr().is_terminal() {
                Box::new(printer.with_progress())
            } else {
                Box::new(printer)
            }
        }
    }
}

/// `sink` after it was given `warnings` (the configuration's, before the run's events).
fn with_warnings(mut sink: Box<dyn EventSink>, warnings: &[String]) -> Box<dyn EventSink> {
    for message in warnings {
        sink.event(&crate::event::Event::Warning {
            message: message.clone(),
        });
    }
    sink
}

/// Passes events on and remembers which (host, task) changed: a looped task once per host,
/// by its summary (the outcome the recap counts), not once per item.
struct ChangedTee {
    inner: Box<dyn EventSink>,
    changed: ChangeLog,
}

impl EventSink for ChangedTee {
    fn event(&mut self, e: &crate::event::Event) {
        if let crate::event::Event::HostResult {
            host,
            task,
            status: crate::event::Status::Changed,
            item: None,
            ..
        } = e
        {
            if let Ok(mut c) = self.changed.lock() {
                c.push((host.clone(), task.clone()));
            }
        }
        self.inner.event(e);
    }
}

/// How long an abort may spend ending local commands, releasing host locks, and then
/// closing SSH masters.
const ABORT_STEP: Duration = Duration::from_secs(1);

/// One run with stop-signal handling. Ctrl-C (SIGINT) stops scheduling and lets running
/// tasks finish for up to `grace`; a second stop signal, or the end of `grace`, aborts.
/// SIGTERM and SIGHUP abort at once (whoever sends them is not there to wait: `timeout`,
/// a cancelled CI job and `docker stop` follow with SIGKILL within seconds). An abort
/// ends the local commands still running, writes the journal as interrupted, closes the
/// connections (host locks released, SSH masters told to exit, their control directory
/// removed), prints the recap, all within about four seconds, and exits with 128 + the
/// number of the signal that ended the run (130, 143, 129).
#[allow(clippy::too_many_arguments)]
async fn execute(
    inventory: Inventory,
    inv_file: Option<PathBuf>,
    loader: Arc<Loader>,
    playbook: &crate::playbook::Playbook,
    opts: RunOptions,
    sink: Box<dyn EventSink>,
    journal: Option<Arc<crate::journal::Journal>>,
    grace: Duration,
    carry: Option<&several_playbooks::Carry>,
) -> Result<crate::engine::RunReport> {
    let connector = Arc::new(DefaultConnector::new());
    let engine = Engine::new(inventory, inv_file, loader, connector.clone(), opts, sink);
    if let Some(c) = carry {
        c.seed(&engine);
    }
    if let Some(j) = journal {
        engine.set_journal(j);
    }
    let stops = crate::stop_signals::Stops::listen();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let (abort_tx, abort_rx) = tokio::sync::oneshot::channel();
    let interrupts = tokio::spawn(watch(stops, engine.clone(), seen.clone(), grace, abort_tx));
    let run = engine.run(playbook);
    tokio::pin!(run);
    let stop = tokio::select! {
        r = &mut run => {
            interrupts.abort();
            let seen = seen.lock().ok().and_then(|s| *s);
            match seen {
                // SIGTERM or SIGHUP came while the run was ending anyway (the engine wrote
                // the journal, released the locks and printed the recap): finish the abort.
                Some(stop) if stop != Stop::Interrupt => {
                    connector.abort_all(ABORT_STEP).await;
                    say("[windlass] aborted");
                    std::process::exit(stop.exit_code());
                }
                _ => {
                    if let Some(c) = carry {
                        c.keep(&engine);
                    }
                    return r;
                }
            }
        }
        Ok(stop) = abort_rx => stop,
    };
    connector.end_local_commands(ABORT_STEP).await;
    engine.abort(ABORT_STEP).await;
    connector.abort_all(ABORT_STEP).await;
    say("[windlass] aborted");
    std::process::exit(stop.exit_code());
}

/// Wait for stop signals: cancel the run at the first (noted in `seen`) and, once it must
/// be aborted, send the signal that decided it on `abort`. Ctrl-C first lets running tasks
/// finish for `grace`; SIGTERM and SIGHUP abort at once.
async fn watch(
    mut stops: crate::stop_signals::Stops,
    engine: Arc<Engine>,
    seen: Arc<std::sync::Mutex<Option<Stop>>>,
    grace: Duration,
    abort: tokio::sync::oneshot::Sender<Stop>,
) {
    let mut stop = stops.next().await;
    if let Ok(mut s) = seen.lock() {
        *s = Some(stop);
    }
    engine.cancel();
    if stop == Stop::Interrupt {
        say(
            "\n[windlass] Ctrl-C: letting running tasks finish, starting no new ones (Ctrl-C again aborts now)",
        );
        tokio::select! {
            s = stops.next() => stop = s,
            _ = tokio::time::sleep(grace) => {
                say(&format!(
                    "[windlass] running tasks did not finish within {} s: aborting",
                    grace.as_secs()
                ));
                let _ = abort.send(stop);
                return;
            }
        }
    }
    say(&format!("[windlass] {}: aborting", stop.name()));
    let _ = abort.send(stop);
}

/// A line on stderr that may go nowhere (after SIGHUP the terminal is gone).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn show_inventory(a: InventoryArgs) -> Result<i32> {
    let sources = if a.inventory.is_empty() {
        Config::discover()?.inventory
    } else {
        a.inventory.clone()
    };
    if sources.is_empty() {
        return Err(Error::Usage(
            "no inventory: give -i or set `inventory` in the config file".into(),
        ));
    }
    let cfg = Config::discover()?;
    let yaml = yaml_reader(&cfg).with_vault(a.vault.keyring(&cfg.vault, false, false)?);
    let inv = Inventory::load_with(&sources, yaml.clone())?;
    for w in cfg.unhonoured.iter().cloned().chain(yaml.take_warnings()) {
        eprintln!("[WARNING]: {w}");
    }
    if let Some(h) = &a.host {
        if inv.host(h).is_none() {
            return Err(Error::Usage(format!("host `{h}` is not in the inventory")));
        }
        let vars: serde_json::Map<String, Value> = inv.host_vars(h).into_iter().collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&Value::Object(vars)).unwrap_or_default()
        );
    } else if let Some(g) = &a.graph {
        let text = inv
            .graph(Some(g))
            .map_err(|e| Error::Usage(e.to_string()))?;
        println!("{text}");
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(&inv.to_list_json()).unwrap_or_default()
        );
    }
    Ok(0)
}

fn ping(mut a: PingArgs) -> Result<i32> {
    let cfg = Config::discover()?;
    a.connect = with_config(a.connect, &cfg);
    let yaml = yaml_reader(&cfg).with_vault(a.vault.keyring(&cfg.vault, false, false)?);
    let mut inv = load_inventory(&a.connect.inventory, &yaml, &cfg, "all")?;
    print_load_warnings(&cfg.unhonoured, &inv, &yaml);
    inv.add_implicit_localhost(&a.pattern);
    let mut hosts = inv
        .select(&a.pattern)
        .map_err(|e| Error::Usage(e.to_string()))?;
    hosts.retain(|h| *h == a.pattern || !inv.is_implicit(h));
    let ov = overrides(&a.connect)?;
    let mut specs = Vec::new();
    for h in &hosts {
        specs.push(crate::transport::spec::connection_spec(
            h,
            &inv.host_vars(h),
            &ov,
        )?);
    }
    let rt = runtime()?;
    let results = rt.block_on(async {
        let connector = DefaultConnector::new();
        let r = crate::ping::ping(&connector, &specs, a.connect.forks.unwrap_or(50)).await;
        connector.close_all().await;
        r
    });
    let mut code = 0;
    for r in results {
        if r.ok {
            println!(
                "{} | SUCCESS | {:.1} ms",
                r.host,
                r.latency.as_secs_f64() * 1000.0
            );
        } else {
            code = crate::exit::HOST_UNREACHABLE;
            println!("{} | UNREACHABLE | {}", r.host, r.error.unwrap_or_default());
        }
    }
    Ok(code)
}

/// The command-line reference as Markdown, generated from the clap definitions (the book's
/// `reference/cli.md` is this text; a test keeps them equal).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Command line\n\n<!-- Generated from the clap definitions by `windlass::cli::reference_markdown`; \
         run `WINDLASS_BLESS=1 cargo test --test book` after changing options. -->\n\n\
         Exit codes, as ansible-playbook's: 0 every host ok, 1 a run-level error, 2 a host \
         failed, 4 a host unreachable or malformed input (YAML syntax), 5 bad command-line \
         options; 129/130/143 a signal, 250 an internal error. [Exit codes](exit-codes.md) \
         has the details and where they differ from ansible-playbook's.\n\n",
    );
    let mut root = command();
    root.build();
    out.push_str(&format!(
        "```text\n{}\n```\n",
        root.render_long_help().to_string().trim_end()
    ));
    for sub in root.get_subcommands_mut() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = sub.get_name().to_string();
        let help = sub.render_long_help().to_string();
        out.push_str(&format!(
            "\n## windlass {name}\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
        if name != "lab" {
            continue;
        }
        for nested in sub.get_subcommands_mut() {
            if nested.is_hide_set() || nested.get_name() == "help" {
                continue;
            }
            let help = nested.render_long_help().to_string();
            out.push_str(&format!(
                "\n### windlass {name} {}\n\n```text\n{}\n```\n",
                nested.get_name(),
                help.trim_end()
            ));
        }
    }
    out
}
