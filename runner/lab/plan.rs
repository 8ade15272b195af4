//! Every external command the lab runs, built as a value (program, argv, environment,
//! working directory, where stdout goes) from the lab's model.
//!
//! Why this file exists: the commands are the lab's whole effect on the machine. Built in
//! one place as argv vectors (no shell text assembled from data: the two scripts below are
//! constants that get their data as positional arguments), they can be read and
//! snapshot-tested without root; [`super::exec`] only runs them.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model::{Host, Lab, Suite, arg};

/// One external command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cmd {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// A file that receives stdout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<PathBuf>,
}

impl Cmd {
    fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            env: vec![],
            cwd: None,
            stdout: None,
        }
    }

    /// The command line, for messages and logs (shell-quoted, never executed).
    pub fn display(&self) -> String {
        shlex::try_join(self.argv.iter().map(String::as_str))
            .unwrap_or_else(|_| self.argv.join(" "))
    }
}

fn ip<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Cmd {
    let mut argv = vec!["ip".to_string()];
    argv.extend(args.into_iter().map(Into::into));
    Cmd::new(argv)
}

/// What the base rootfs gets beside debootstrap's minbase.
pub const BASE_INCLUDE: &str = "systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,sudo,kmod,procps,ca-certificates,libpam-systemd,python3-apt";

/// The packages (with their dependencies) of the local repository: what the project's
/// roles install, and what its host tests need (`cron` for crontab, `python3-pip` and
/// `python3-venv` for the module bridge's pip case).
pub fn repo_packages(suite: Suite) -> Vec<&'static str> {
    let mut p = vec![
        "haproxy",
        "keepalived",
        "containerd",
        "etcd-server",
        "etcd-client",
        "curl",
        "gnupg",
        "conntrack",
        "socat",
        "iptables",
        "ipset",
        "ipvsadm",
        "cron",
        "python3-pip",
        "python3-venv",
    ];
    if suite == Suite::Trixie {
        p.extend(["kubectl", "containernetworking-plugins"]);
    }
    p
}

/// debootstrap of the base into `target`.
pub fn debootstrap(suite: Suite, target: &Path, mirror: &str) -> Cmd {
    Cmd::new([
        "debootstrap".to_string(),
        "--variant=minbase".into(),
        format!("--include={BASE_INCLUDE}"),
        suite.name().into(),
        arg(target),
        mirror.into(),
    ])
}

/// Enable or mask units in the rootfs at `root`.
pub fn systemctl_root(root: &Path, verb: &str, units: &[&str]) -> Cmd {
    let mut c = Cmd::new([
        "systemctl".to_string(),
        format!("--root={}", arg(root)),
        verb.into(),
    ]);
    c.argv.extend(units.iter().map(|u| u.to_string()));
    c
}

/// depmod in the rootfs, so `modprobe` finds the modules the kernel has built in.
pub fn depmod(root: &Path, kernel: &str) -> Cmd {
    Cmd::new([
        "chroot".to_string(),
        arg(root),
        "depmod".into(),
        "-a".into(),
        kernel.into(),
    ])
}

/// The running kernel's configuration (`CONFIG_X=y` lines).
pub fn kernel_config() -> Cmd {
    Cmd::new(["zcat", "/proc/config.gz"])
}

/// Download `packages` and what they need beyond the base into `repo`, with this machine's
/// apt (its release is the suite's), resolving against the base's dpkg status.
pub fn apt_download_host(base: &Path, repo: &Path, packages: &[&str]) -> Cmd {
    let mut c = Cmd::new([
        "apt-get".to_string(),
        "-y".into(),
        "-qq".into(),
        "-o".into(),
        format!(
            "Dir::State::status={}",
            arg(&base.join("var/lib/dpkg/status"))
        ),
        "-o".into(),
        format!("Dir::Cache::archives={}/", arg(repo)),
        "-o".into(),
        "Debug::NoLocking=1".into(),
        "install".into(),
        "--download-only".into(),
    ]);
    c.argv.extend(packages.iter().map(|p| p.to_string()));
    c
}

/// Download with the base's apt (see [`DOWNLOAD_IN_BASE`]).
pub fn apt_download_in_base(base: &Path, repo: &Path, sources: &str, packages: &[&str]) -> Cmd {
    let mut c = Cmd::new([
        "unshare".to_string(),
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "bash".into(),
        "-euc".into(),
        DOWNLOAD_IN_BASE.into(),
        "download-in-base".into(),
        arg(base),
        arg(repo),
        sources.into(),
    ]);
    c.argv.extend(packages.iter().map(|p| p.to_string()));
    c
}

/// Downloads with the base's own apt, chrooted in a private mount namespace (gone when it
/// exits), from the sources in $3: for a suite this machine does not run. $1 base, $2 repo,
/// $3 sources.list text, then the packages.
const DOWNLOAD_IN_BASE: &str = r#"b=$1 repo=$2 src=$3; shift 3
w=/run/windlass-lab-dl
mount -t tmpfs -o mode=0755 lab-dl "$b/run"
mount -t tmpfs -o mode=1777 lab-dl "$b/tmp"
mount -t proc proc "$b/proc"
mount --bind "$repo" "$b/srv/localrepo"
mount --bind /etc/resolv.conf "$b/etc/resolv.conf"
mkdir -p "$b$w/lists/partial" "$b$w/parts"
printf '%s\n' "$src" > "$b$w/sources.list"
apt() { chroot "$b" apt-get -qq -o Dir::Etc::sourcelist=$w/sources.list -o Dir::Etc::sourceparts=$w/parts \
  -o Dir::State::lists=$w/lists/ -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
  -o Dir::Cache::archives=/srv/localrepo/ -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"; }
apt update >/dev/null
apt -y install --download-only "$@" >/dev/null
"#;

/// The repository's index.
pub fn scan_packages(repo: &Path) -> Cmd {
    let mut c = Cmd::new(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"]);
    c.cwd = Some(repo.to_path_buf());
    c.stdout = Some(repo.join("Packages"));
    c
}

/// Fills the base's apt lists from the repository ($2), bound at /srv/localrepo of the
/// base ($1) in a private mount namespace.
const BASE_APT_UPDATE: &str = r#"mount --bind "$2" "$1/srv/localrepo"
chroot "$1" apt-get update -qq >/dev/null
"#;

/// `apt-get update` in the base against the local repository.
pub fn base_apt_update(base: &Path, repo: &Path) -> Cmd {
    Cmd::new([
        "unshare".to_string(),
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "sh".into(),
        "-euc".into(),
        BASE_APT_UPDATE.into(),
        "base-apt-update".into(),
        arg(base),
        arg(repo),
    ])
}

/// A new ed25519 key without passphrase at `path`.
pub fn keygen(path: &Path, comment: &str) -> Cmd {
    Cmd::new([
        "ssh-keygen".to_string(),
        "-q".into(),
        "-t".into(),
        "ed25519".into(),
        "-N".into(),
        String::new(),
        "-C".into(),
        comment.into(),
        "-f".into(),
        arg(path),
    ])
}

/// This machine's IPv4 addresses, one line each (subnet allocation avoids them).
pub fn addresses() -> Cmd {
    ip(["-o", "-4", "addr", "show"])
}

/// The lab's network: its namespace with a bridge, and a veth from this machine into it,
/// so this machine (.1) reaches every host directly. A policy rule sends whatever the hosts
/// address beyond this machine to an `unreachable` route, even with forwarding on.
pub fn network_up(lab: &Lab) -> Vec<Cmd> {
    let (ns, up, table) = (lab.netns(), lab.uplink(), lab.table().to_string());
    vec![
        ip(["netns", "add", &ns]),
        ip(["-n", &ns, "link", "set", "lo", "up"]),
        ip(["-n", &ns, "link", "add", "br0", "type", "bridge"]),
        ip(["-n", &ns, "link", "set", "br0", "up"]),
        ip([
            "link", "add", &up, "type", "veth", "peer", "name", "up0", "netns", &ns,
        ]),
        ip(["-n", &ns, "link", "set", "up0", "master", "br0", "up"]),
        ip(["addr", "add", &format!("{}/24", lab.gateway()), "dev", &up]),
        ip(["link", "set", &up, "up"]),
        ip(["route", "replace", &lab.cidr(), "dev", &up, "table", &table]),
        ip([
            "route",
            "replace",
            "unreachable",
            "default",
            "table",
            &table,
        ]),
        ip([
            "rule", "add", "iif", &up, "priority", "1000", "lookup", &table,
        ]),
    ]
}

/// Undo [`network_up`]: each step on its own (a half-made network is undone as far as it
/// got).
pub fn network_down(lab: &Lab) -> Vec<Cmd> {
    let (ns, up, table) = (lab.netns(), lab.uplink(), lab.table().to_string());
    vec![
        ip([
            "rule", "del", "iif", &up, "priority", "1000", "lookup", &table,
        ]),
        ip(["route", "flush", "table", &table]),
        ip(["link", "del", &up]),
        ip(["netns", "del", &ns]),
    ]
}

/// The overlay of a host: the base below, the host's own upper layer.
pub fn mount_overlay(lab: &Lab, base: &Path, host: &Host) -> Cmd {
    let d = lab.host_dir(&host.name);
    Cmd::new([
        "mount".to_string(),
        "-t".into(),
        "overlay".into(),
        format!("overlay-{}", host.name),
        "-o".into(),
        format!(
            "lowerdir={},upperdir={},workdir={}",
            arg(base),
            arg(&d.join("upper")),
            arg(&d.join("work"))
        ),
        arg(&d.join("root")),
    ])
}

/// Unmount `target`.
pub fn umount(target: &Path) -> Cmd {
    Cmd::new(["umount".to_string(), arg(target)])
}

/// Unmount `target` lazily (when busy).
pub fn umount_lazy(target: &Path) -> Cmd {
    Cmd::new(["umount".to_string(), "-l".into(), arg(target)])
}

/// `inner` run by this program's hidden `lab boot-host`, which first moves itself into
/// `cgroups`, then becomes `inner` (exec).
pub fn supervised(exe: &Path, cgroups: &[PathBuf], inner: Cmd) -> Cmd {
    let mut argv = vec![arg(exe), "lab".into(), "boot-host".into()];
    for cg in cgroups {
        argv.extend(["--cgroup".to_string(), arg(cg)]);
    }
    argv.push("--".into());
    argv.extend(inner.argv);
    Cmd {
        argv,
        env: inner.env,
        cwd: None,
        stdout: None,
    }
}

/// Boot `host`: systemd-nspawn inside the lab's network namespace, its veth on the lab's
/// bridge, the repository read-only at /srv/localrepo. Not registered with machined and
/// kept in the caller's cgroup, which the boot supervisor made the host's own.
pub fn nspawn(lab: &Lab, repo: &Path, host: &Host, unified: bool) -> Cmd {
    let d = lab.host_dir(&host.name);
    let mut c = Cmd::new([
        "nsenter".to_string(),
        format!("--net=/run/netns/{}", lab.netns()),
        "--".into(),
        "systemd-nspawn".into(),
        "--quiet".into(),
        "-D".into(),
        arg(&d.join("root")),
        "-M".into(),
        host.name.clone(),
        "-b".into(),
        "--register=no".into(),
        "--keep-unit".into(),
        "--link-journal=no".into(),
        "--resolv-conf=off".into(),
        "--timezone=off".into(),
        "--network-bridge=br0".into(),
        format!("--bind-ro={}:/srv/localrepo", arg(repo)),
        "--console=read-only".into(),
    ]);
    c.env.push((
        "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY".into(),
        if unified { "1" } else { "0" }.into(),
    ));
    c
}

/// Run `command` on `host` as root over SSH with the lab's key.
pub fn ssh(lab: &Lab, host: &Host, command: &[String]) -> Cmd {
    let mut c = Cmd::new([
        "ssh".to_string(),
        "-F".into(),
        arg(&lab.ssh_config()),
        format!("root@{}", host.ip),
    ]);
    c.argv.extend(command.iter().cloned());
    c
}

/// Run `command` (joined by spaces and given to `/bin/sh -c`, as ssh joins its words) or a
/// login shell inside every namespace of the container whose init is `init`, without SSH.
pub fn nsenter(init: u32, command: &[String]) -> Cmd {
    let mut c = Cmd::new([
        "nsenter".to_string(),
        "-t".into(),
        init.to_string(),
        "-a".into(),
    ]);
    if command.is_empty() {
        c.argv.extend(["/bin/bash".to_string(), "-l".into()]);
    } else {
        c.argv
            .extend(["/bin/sh".to_string(), "-c".into(), command.join(" ")]);
    }
    c
}

/// Wait until `host`'s systemd finished booting; prints its state.
pub fn wait_booted(lab: &Lab, host: &Host) -> Cmd {
    ssh(
        lab,
        host,
        &[
            "systemctl".into(),
            "is-system-running".into(),
            "--wait".into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::super::model::{LabName, Layout};
    use super::*;

    fn lab() -> Lab {
        Lab::new(
            LabName::parse("s13-doc").unwrap(),
            Suite::Bookworm,
            &Layout::new("/var/tmp/windlass-lab"),
            3,
            2,
        )
        .unwrap()
    }

    fn lines(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter().map(Cmd::display).collect()
    }

    #[test]
    fn network_commands() {
        let lab = lab();
        insta::assert_yaml_snapshot!("network_up", lines(&network_up(&lab)));
        insta::assert_yaml_snapshot!("network_down", lines(&network_down(&lab)));
    }

    #[test]
    fn host_commands() {
        let lab = lab();
        let layout = Layout::new("/var/tmp/windlass-lab");
        let h = &lab.hosts[1];
        let cmds = [
            mount_overlay(&lab, &layout.base(lab.suite), h),
            nspawn(&lab, &layout.repo(lab.suite), h, true),
            wait_booted(&lab, h),
            umount(&lab.host_dir(&h.name).join("root")),
        ];
        insta::assert_yaml_snapshot!("host_commands", cmds);
    }

    #[test]
    fn exec_joins_the_words_for_sh_as_ssh_does_and_opens_a_shell_without_them() {
        let words = ["echo".to_string(), "a b;".into(), "$HOME".into()];
        assert_eq!(
            nsenter(42, &words).argv,
            [
                "nsenter",
                "-t",
                "42",
                "-a",
                "/bin/sh",
                "-c",
                "echo a b; $HOME"
            ]
        );
        assert_eq!(
            nsenter(7, &[]).argv,
            ["nsenter", "-t", "7", "-a", "/bin/bash", "-l"]
        );
    }

    #[test]
    fn cache_commands() {
        let layout = Layout::new("/var/tmp/windlass-lab");
        let (base, repo) = (layout.base(Suite::Trixie), layout.repo(Suite::Trixie));
        let pk = repo_packages(Suite::Trixie);
        let cmds = [
            debootstrap(
                Suite::Trixie,
                &base.with_extension("tmp"),
                "http://deb.debian.org/debian",
            ),
            apt_download_host(&base, &repo, &pk),
            scan_packages(&repo),
            keygen(
                Path::new("/var/tmp/windlass-lab/labs/s13-doc/id_ed25519"),
                "windlass-lab s13-doc",
            ),
        ];
        insta::assert_yaml_snapshot!("cache_commands", cmds);
        let dl = apt_download_in_base(&base, &repo, "deb http://m trixie main", &pk);
        assert_eq!(
            dl.argv[..6],
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "bash",
                "-euc"
            ]
        );
        // data stays in positional arguments, never in the script
        assert!(!dl.argv[6].contains("trixie") && dl.argv[10] == "deb http://m trixie main");
    }
}
