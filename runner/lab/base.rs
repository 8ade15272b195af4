//! The cached base rootfs of a suite: debootstrap's minbase plus systemd, sshd and python3,
//! configured once for every host of every lab of that suite, and stamped.
//!
//! Why this file exists: debootstrap takes minutes, a host's overlay over the base takes
//! milliseconds. The stamp (format version, suite, package list) says whether the cached
//! base is still what this windlass builds; the per-host identity (hostname, machine-id, SSH
//! keys, address) goes into each host's overlay, never here.

use std::path::Path;
use std::time::Instant;

use super::error::{LabError, Result};
use super::model::{Layout, Suite};
use super::{exec, plan, say};

/// Bump when the base's configuration changes: cached bases are rebuilt.
const BASE_VERSION: u32 = 1;
const STAMP_FILE: &str = ".windlass-lab-base";

/// The stamp of a base built now.
pub fn stamp(suite: Suite) -> String {
    format!("{BASE_VERSION} {} {}", suite.name(), plan::BASE_INCLUDE)
}

/// Whether an overlay mount uses `base` (then it must not change under the hosts).
pub fn in_use(base: &Path) -> bool {
    let needle = format!("lowerdir={}", base.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.split([' ', ',']).any(|w| w == needle)))
}

/// The base of `suite`, built when missing or stale; whether it was built.
pub fn ensure(layout: &Layout, suite: Suite) -> Result<bool> {
    let base = layout.base(suite);
    if std::fs::read_to_string(base.join(STAMP_FILE)).is_ok_and(|s| s == stamp(suite)) {
        say(format!(
            "base rootfs: cached {} base reused ({})",
            suite.name(),
            base.display()
        ));
        return Ok(false);
    }
    if in_use(&base) {
        return Err(LabError::State {
            path: base,
            message: "the base must be rebuilt but hosts still use it: run `windlass lab down` for every lab of this suite".into(),
        });
    }
    let t0 = Instant::now();
    let cache = layout.cache(suite);
    let tmp = cache.join("rootfs.tmp");
    remove_all(&tmp)?;
    mkdir(&cache)?;
    let mirror = super::mirror::debian().ok_or_else(|| LabError::State {
        path: "/etc/apt".into(),
        message: "no Debian mirror in this machine's apt sources: set WINDLASS_LAB_MIRROR".into(),
    })?;
    say(format!(
        "base rootfs: debootstrapping {} from {mirror} (minbase + systemd, sshd, python3) ...",
        suite.name()
    ));
    let mut boot = plan::debootstrap(suite, &tmp, &mirror);
    boot.stdout = Some(cache.join("debootstrap.log"));
    exec::run(&boot)?;
    configure(&tmp, suite)?;
    remove_all(&base)?;
    std::fs::rename(&tmp, &base).map_err(|e| LabError::io("cannot rename to", &base, e))?;
    write(&base.join(STAMP_FILE), &stamp(suite))?;
    super::repo::forget_lists(&base);
    say(format!(
        "base rootfs: built in {:.1}s",
        t0.elapsed().as_secs_f64()
    ));
    Ok(true)
}

/// Make the debootstrapped tree at `r` a lab host's base.
fn configure(r: &Path, suite: Suite) -> Result<()> {
    // No mirror inside the hosts: they only see the read-only local repository.
    for dir in ["etc/apt/sources.list.d"] {
        for entry in std::fs::read_dir(r.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            remove_file(&entry.path())?;
        }
    }
    match suite {
        Suite::Bookworm => write(
            &r.join("etc/apt/sources.list"),
            "deb [trusted=yes] file:/srv/localrepo ./\n",
        )?,
        Suite::Trixie => {
            remove_file(&r.join("etc/apt/sources.list"))?;
            write(
                &r.join("etc/apt/sources.list.d/debian.sources"),
                "Types: deb\nURIs: file:/srv/localrepo\nSuites: ./\nTrusted: yes\n",
            )?;
        }
    }
    remove_all(&r.join("var/lib/apt/lists"))?;
    mkdir(&r.join("var/lib/apt/lists/partial"))?;
    mkdir(&r.join("srv/localrepo"))?;
    remove_file(&r.join("var/log/bootstrap.log"))?; // names the mirror
    write(
        &r.join("etc/apt/apt.conf.d/90windlass-lab"),
        "Acquire::Languages \"none\";\nAPT::Install-Suggests \"false\";\n",
    )?;
    // No DNS inside the hosts: lookups fail fast.
    remove_file(&r.join("etc/resolv.conf"))?;
    write(
        &r.join("etc/resolv.conf"),
        "# windlass lab: no DNS\noptions timeout:1 attempts:1\n",
    )?;
    // Per-host identity goes into each host's overlay.
    for entry in std::fs::read_dir(r.join("etc/ssh"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            remove_file(&entry.path())?;
        }
    }
    write(&r.join("etc/machine-id"), "")?;
    remove_file(&r.join("var/lib/dbus/machine-id"))?;
    write(&r.join("etc/hostname"), "localhost\n")?;
    write(
        &r.join("etc/ssh/sshd_config.d/10-windlass-lab.conf"),
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nHostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\nMaxStartups 100:30:200\n",
    )?;
    mkdir(&r.join("root/.ssh"))?;
    write(&r.join("etc/default/locale"), "LANG=C.UTF-8\n")?;
    mkdir(&r.join("etc/systemd/journald.conf.d"))?;
    write(
        &r.join("etc/systemd/journald.conf.d/10-windlass-lab.conf"),
        "[Journal]\nRuntimeMaxUse=16M\nSystemMaxUse=16M\n",
    )?;
    exec::run(&plan::systemctl_root(
        r,
        "enable",
        &["systemd-networkd.service"],
    ))?;
    // Sources of flakiness and noise: apt runs holding the dpkg lock, gettys.
    exec::run(&plan::systemctl_root(
        r,
        "mask",
        &[
            "apt-daily.timer",
            "apt-daily-upgrade.timer",
            "apt-daily.service",
            "apt-daily-upgrade.service",
            "e2scrub_all.timer",
            "e2scrub_reap.service",
            "fstrim.timer",
            "dpkg-db-backup.timer",
            "console-getty.service",
            "getty@tty1.service",
        ],
    ))?;
    super::kmods::install(r)
}

pub(crate) fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| LabError::io("cannot write", path, e))
}

pub(crate) fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| LabError::io("cannot create", path, e))
}

pub(crate) fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(LabError::io("cannot remove", path, e))
        }
        _ => Ok(()),
    }
}

pub(crate) fn remove_all(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(LabError::io("cannot remove", path, e))
        }
        _ => Ok(()),
    }
}
