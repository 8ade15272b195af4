//! `windlass lab` for real: the built binary boots a two-host lab, the inventory it prints
//! reaches both hosts over SSH with `windlass ping`, `lab ssh` runs a command, `lab down`
//! leaves nothing behind (network namespace, uplink, routing rule, mounts, processes,
//! cgroups, directory), and a second `up` boots from the cached base.
//!
//! Needs root, systemd-container and debootstrap, and the Debian mirror the first time (the
//! base rootfs and package repository are cached in the lab directory's `cache/`):
//!
//! ```sh
//! cargo test --test lab -- --ignored
//! ```
//!
//! `WINDLASS_LAB_DIR` moves the labs and caches (default /var/tmp/windlass-lab); the lab is
//! named `lt<pid>` (`WINDLASS_LAB_TEST_PREFIX` replaces `lt`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn windlass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(args)
        .output()
        .expect("windlass runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let o = windlass(args);
    assert!(
        o.status.success(),
        "windlass {}: {}\n{}",
        args.join(" "),
        o.status,
        text(&o)
    );
    text(&o)
}

/// Takes the lab down when the test ends, passed or not.
struct Lab(String);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = windlass(&["lab", "down", "--name", &self.0]);
    }
}

fn root_dir() -> PathBuf {
    std::env::var_os("WINDLASS_LAB_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/windlass-lab"), PathBuf::from)
}

/// What of lab `name` is left on this machine, one line each.
fn leftovers(name: &str, lab_dir: &Path) -> Vec<String> {
    let mut left = vec![];
    let netns = Path::new("/run/netns").join(format!("windlass-{name}"));
    if netns.exists() {
        left.push(format!("netns {}", netns.display()));
    }
    let link = Command::new("ip")
        .args(["link", "show", &format!("wl-{name}")])
        .output()
        .unwrap();
    if link.status.success() {
        left.push(format!("link wl-{name}"));
    }
    let rules = String::from_utf8(
        Command::new("ip")
            .args(["rule", "show"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    left.extend(
        rules
            .lines()
            .filter(|l| l.contains(&format!("iif wl-{name} ")))
            .map(|l| format!("rule {l}")),
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = lab_dir.display().to_string();
    let inside = format!("{dir}/");
    left.extend(
        mounts
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&inside)))
            .map(|l| format!("mount {l}")),
    );
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args
            .windows(2)
            .any(|w| w[0] == b"-M" && w[1].starts_with(format!("{name}-").as_bytes()))
        {
            left.push(format!("process {}", entry.file_name().to_string_lossy()));
        }
    }
    let self_cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for line in self_cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctl, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let mount = match ctl {
            "" if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() => {
                "/sys/fs/cgroup".to_string()
            }
            "" => "/sys/fs/cgroup/unified".to_string(),
            c => format!("/sys/fs/cgroup/{}", c.trim_start_matches("name=")),
        };
        let cg = Path::new(&mount)
            .join(path.trim_start_matches('/'))
            .join("windlass-lab")
            .join(name);
        if cg.exists() {
            left.push(format!("cgroup {}", cg.display()));
        }
    }
    if lab_dir.exists() {
        left.push(format!("directory {dir}"));
    }
    left
}

#[test]
#[ignore = "needs root: boots a windlass lab"]
fn lab_up_ping_ssh_down_and_cached_second_up() {
    // WINDLASS_LAB_TEST_PREFIX: where several people share a machine, a prefix of one's own
    let prefix = std::env::var("WINDLASS_LAB_TEST_PREFIX").unwrap_or_else(|_| "lt".into());
    let name = format!("{prefix}{}", std::process::id() % 100_000);
    let lab_dir = root_dir().join("labs").join(&name);
    let _guard = Lab(name.clone());

    let up = ok(&["lab", "up", "2", "--name", &name]);
    assert!(up.contains("up 2: 2 booted"), "{up}");
    // the leftover check sees every kind of thing a running lab has
    let live = leftovers(&name, &lab_dir);
    for kind in [
        "netns",
        "link",
        "rule",
        "mount",
        "process",
        "cgroup",
        "directory",
    ] {
        assert!(
            live.iter().any(|l| l.starts_with(kind)),
            "no {kind} among {live:#?}"
        );
    }

    let status = ok(&["lab", "status", "--name", &name]);
    for host in [format!("{name}-01"), format!("{name}-02")] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&host))
            .unwrap_or_else(|| panic!("{host} in\n{status}"));
        assert!(
            line.contains("running") || line.contains("degraded"),
            "{line}"
        );
    }

    let inventory = windlass(&["lab", "inventory", "--name", &name]);
    assert!(inventory.status.success(), "{}", text(&inventory));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &inventory.stdout).unwrap();
    let ping = ok(&["ping", "-i", file.path().to_str().unwrap()]);
    for host in [format!("{name}-01"), format!("{name}-02")] {
        assert!(
            ping.lines()
                .any(|l| l.starts_with(&format!("{host} | SUCCESS"))),
            "{host} in\n{ping}"
        );
    }

    let ssh = ok(&["lab", "ssh", "--name", &name, "2", "cat", "/etc/hostname"]);
    assert_eq!(ssh.trim(), format!("{name}-02"));

    ok(&["lab", "down", "--name", &name]);
    assert_eq!(leftovers(&name, &lab_dir), Vec::<String>::new());

    let again = ok(&["lab", "up", "1", "--name", &name]);
    assert!(
        again.contains("base rootfs: cached bookworm base reused"),
        "{again}"
    );
    assert!(
        again.contains("package repository: cached bookworm repository reused"),
        "{again}"
    );
    assert!(!again.contains("debootstrapping"), "{again}");
    ok(&["lab", "down", "--name", &name]);
    assert_eq!(leftovers(&name, &lab_dir), Vec::<String>::new());
}

/// Without root, or without a tool the lab needs, `lab up` stops before making anything and
/// says what to do (run as root; the Debian/Ubuntu package to install). Runs as anyone: as
/// root the tools are hidden (empty PATH), otherwise the missing root is what it reports.
#[test]
fn up_without_root_or_tools_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args([
            "lab",
            "--dir",
            dir.path().to_str().unwrap(),
            "up",
            "1",
            "--name",
            "never",
        ])
        .env("PATH", "")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    if is_root() {
        assert!(err.contains("`systemd-nspawn` is not installed"), "{err}");
        assert!(err.contains("apt-get install systemd-container"), "{err}");
    } else {
        assert!(err.contains("windlass lab needs root"), "{err}");
    }
    // nothing was made
    assert!(!dir.path().join("labs").exists(), "{err}");
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Two labs side by side: each its own subnet and network namespace, and `down` of one
/// leaves the other running and reachable.
#[test]
#[ignore = "needs root: boots a windlass lab"]
fn two_labs_side_by_side_and_down_of_one_keeps_the_other() {
    let prefix = std::env::var("WINDLASS_LAB_TEST_PREFIX").unwrap_or_else(|_| "lt".into());
    let pid = std::process::id() % 100_000;
    let (a, b) = (format!("{prefix}{pid}a"), format!("{prefix}{pid}b"));
    let (_ga, _gb) = (Lab(a.clone()), Lab(b.clone()));
    ok(&["lab", "up", "1", "--name", &a]);
    ok(&["lab", "up", "1", "--name", &b]);
    let subnet = |name: &str| {
        let inv = ok(&["lab", "inventory", "--name", name]);
        let host = inv
            .lines()
            .find_map(|l| l.trim().strip_prefix("ansible_host: "))
            .unwrap()
            .to_string();
        host.rsplit_once('.').unwrap().0.to_string()
    };
    assert_ne!(subnet(&a), subnet(&b));

    ok(&["lab", "down", "--name", &a]);
    assert_eq!(
        leftovers(&a, &root_dir().join("labs").join(&a)),
        Vec::<String>::new()
    );
    let ssh = ok(&[
        "lab",
        "ssh",
        "--name",
        &b,
        "1",
        "systemctl",
        "is-system-running",
    ]);
    assert!(ssh.contains("running") || ssh.contains("degraded"), "{ssh}");
    assert!(!leftovers(&b, &root_dir().join("labs").join(&b)).is_empty());
    ok(&["lab", "down", "--name", &b]);
    assert_eq!(
        leftovers(&b, &root_dir().join("labs").join(&b)),
        Vec::<String>::new()
    );
}
