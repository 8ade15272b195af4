//! `windlass lab`: the clap definitions of the lab's subcommands and their dispatch to
//! [`crate::lab`].
//!
//! Why this file exists: the lab's options in one place, next to the other commands', so the
//! book's CLI reference shows them; the work is in the library.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::Result;
use crate::lab::{self, LabName, Layout, Suite};

/// `windlass lab`.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Where labs and their caches live (each lab in `labs/NAME`, the base rootfs and
    /// package repository of each suite in `cache/SUITE`).
    #[arg(long = "dir", env = "WINDLASS_LAB_DIR", hide_env_values = true, default_value = lab::model::DEFAULT_ROOT, global = true, value_name = "DIR")]
    pub dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The lab's name.
#[derive(Debug, Args, Clone)]
pub struct NameArg {
    /// The lab (1 to 12 of a-z, 0-9, '-'); labs of different names run side by side.
    #[arg(long = "name", default_value = lab::model::DEFAULT_NAME, value_name = "LAB")]
    pub name: String,
}

/// A host of a lab and a command for it (`lab ssh`, `lab exec`).
#[derive(Debug, Args)]
pub struct HostCommand {
    /// The host: its name or its number (1 is the first).
    #[arg(value_name = "HOST")]
    pub host: String,
    /// The command and its arguments (joined by spaces for the host's shell, as ssh joins
    /// them).
    #[arg(
        value_name = "CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
    /// The lab.
    #[command(flatten)]
    pub name: NameArg,
}

/// The lab subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Boot N hosts (hosts beyond N are removed, running ones kept); the first run builds
    /// the suite's base rootfs and package repository (minutes), later ones boot in seconds.
    Up {
        /// How many hosts.
        #[arg(value_name = "N")]
        count: usize,
        /// The Debian release of the hosts.
        #[arg(long = "suite", value_enum, default_value_t = Suite::Bookworm)]
        suite: Suite,
        /// The lab.
        #[command(flatten)]
        name: NameArg,
    },
    /// Print a YAML inventory of the running hosts (for `windlass run -i`).
    Inventory {
        /// The lab.
        #[command(flatten)]
        name: NameArg,
    },
    /// Run a command on a host as root over SSH (a login shell without CMD).
    Ssh(HostCommand),
    /// Run a command inside a host as root without SSH (nsenter into its container; a login
    /// shell without CMD): works while sshd is down or the host's link is cut.
    Exec(HostCommand),
    /// Power a host off hard, as a machine dies (SIGKILL to its init and container);
    /// `lab up N` boots it again, fresh.
    Kill {
        /// The host: its name or its number (1 is the first).
        #[arg(value_name = "HOST")]
        host: String,
        /// The lab.
        #[command(flatten)]
        name: NameArg,
    },
    /// Show the hosts: address, pid, systemd state, memory (every lab without --name).
    Status {
        /// The lab.
        #[arg(long = "name", value_name = "LAB")]
        name: Option<String>,
    },
    /// Stop and delete the lab's hosts, network and directory (the cache is kept).
    Down {
        /// The lab.
        #[command(flatten)]
        name: NameArg,
    },
    /// `down`, then delete the suite's cached base rootfs and package repository (refused
    /// while another lab uses them).
    Purge {
        /// The lab.
        #[command(flatten)]
        name: NameArg,
    },
    /// Internal: a host's boot supervisor (joins the host's cgroups, then runs nspawn).
    #[command(hide = true)]
    BootHost {
        /// The cgroups to join.
        #[arg(long = "cgroup")]
        cgroups: Vec<PathBuf>,
        /// The command to become.
        #[arg(last = true)]
        argv: Vec<String>,
    },
}

fn name(n: &str) -> Result<LabName> {
    Ok(LabName::parse(n)?)
}

/// A host command of `lab ssh` or `lab exec` (`how`): its exit code.
fn on_host(
    layout: &Layout,
    c: &HostCommand,
    how: fn(&Layout, &LabName, &str, &[String]) -> lab::Result<i32>,
) -> Result<i32> {
    Ok(how(layout, &name(&c.name.name)?, &c.host, &c.command)?)
}

/// Run a lab subcommand.
pub fn run(a: LabArgs) -> Result<i32> {
    let layout = Layout::new(a.dir);
    match a.command {
        LabCommand::Up {
            count,
            suite,
            name: n,
        } => lab::up(&layout, &name(&n.name)?, suite, count)?,
        LabCommand::Inventory { name: n } => {
            print!("{}", lab::inventory(&layout, &name(&n.name)?)?)
        }
        LabCommand::Ssh(c) => return on_host(&layout, &c, lab::ssh),
        LabCommand::Exec(c) => return on_host(&layout, &c, lab::exec_in),
        LabCommand::Kill { host, name: n } => lab::kill(&layout, &name(&n.name)?, &host)?,
        LabCommand::Status { name: Some(n) } => print!("{}", lab::status(&layout, &name(&n)?)?),
        LabCommand::Status { name: None } => {
            let labs = lab::names(&layout)?;
            if labs.is_empty() {
                println!("no labs in {}", layout.root.display());
            }
            for n in labs {
                print!("{}", lab::status(&layout, &n)?);
            }
        }
        LabCommand::Down { name: n } => lab::down(&layout, &name(&n.name)?)?,
        LabCommand::Purge { name: n } => lab::purge(&layout, &name(&n.name)?)?,
        LabCommand::BootHost { cgroups, argv } => return Ok(lab::boot_host(&cgroups, &argv)?),
    }
    Ok(0)
}
