//! The local package repository of a suite: the packages the project's roles install, with
//! what they need beyond the base, downloaded once from the Debian mirror.
//!
//! Why this file exists: the hosts have no route off this machine; `apt-get install
//! haproxy` inside works because their only apt source is this repository, bound read-only
//! at /srv/localrepo. Stamped like the base, so a changed package list rebuilds it.

use std::path::Path;
use std::time::Instant;

use sha2::Digest;

use super::base::{mkdir, remove_all, remove_file, write};
use super::error::{LabError, Result};
use super::model::{Layout, Suite};
use super::{exec, plan, say};

const REPO_VERSION: u32 = 1;
const STAMP_FILE: &str = ".windlass-lab-repo";
/// In the base: the hash of the Packages index its apt lists were filled from.
const LISTS_FILE: &str = ".windlass-lab-lists";

fn stamp(suite: Suite) -> String {
    format!(
        "{REPO_VERSION} {} {}",
        suite.name(),
        plan::repo_packages(suite).join(" ")
    )
}

/// The codename of the Debian/Ubuntu system running here.
fn host_codename() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// The repository of `suite` (built when missing or stale), and the base's apt lists of it.
pub fn ensure(layout: &Layout, suite: Suite) -> Result<()> {
    let (base, repo) = (layout.base(suite), layout.repo(suite));
    if std::fs::read_to_string(repo.join(STAMP_FILE)).is_ok_and(|s| s == stamp(suite)) {
        say(format!(
            "package repository: cached {} repository reused",
            suite.name()
        ));
    } else {
        build(&base, &repo, suite)?;
    }
    fill_lists(&base, &repo)
}

fn build(base: &Path, repo: &Path, suite: Suite) -> Result<()> {
    let t0 = Instant::now();
    remove_all(repo)?;
    mkdir(&repo.join("partial"))?;
    let packages = plan::repo_packages(suite);
    say(format!(
        "package repository: downloading {} (+ dependencies) for {} ...",
        packages.join(" "),
        suite.name()
    ));
    if host_codename().as_deref() == Some(suite.name()) {
        exec::run(&plan::apt_download_host(base, repo, &packages))?;
    } else {
        exec::run(&plan::apt_download_in_base(
            base,
            repo,
            &sources(suite)?,
            &packages,
        ))?;
    }
    remove_all(&repo.join("partial"))?;
    remove_file(&repo.join("lock"))?;
    exec::run(&plan::scan_packages(repo))?;
    write(&repo.join(STAMP_FILE), &stamp(suite))?;
    let debs = std::fs::read_dir(repo)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "deb"))
        .count();
    say(format!(
        "package repository: {debs} packages in {:.1}s",
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The apt sources (one-line format) of `suite` on this machine's mirrors.
fn sources(suite: Suite) -> Result<String> {
    let m = super::mirror::debian().ok_or_else(|| LabError::State {
        path: "/etc/apt".into(),
        message: "no Debian mirror in this machine's apt sources: set WINDLASS_LAB_MIRROR".into(),
    })?;
    let kr = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ";
    let s = suite.name();
    let mut text = format!("deb {kr}{m} {s} main\ndeb {kr}{m} {s}-updates main");
    if let Some(sec) = super::mirror::security() {
        text.push_str(&format!("\ndeb {kr}{sec} {s}-security main"));
    }
    Ok(text)
}

/// Fill the base's apt lists from the repository's index, unless already done for this
/// index or hosts use the base.
fn fill_lists(base: &Path, repo: &Path) -> Result<()> {
    let index = std::fs::read(repo.join("Packages"))
        .map_err(|e| LabError::io("cannot read", repo.join("Packages"), e))?;
    let sum = hex::encode(sha2::Sha256::digest(&index));
    if std::fs::read_to_string(base.join(LISTS_FILE)).is_ok_and(|s| s == sum) {
        return Ok(());
    }
    if super::base::in_use(base) {
        say(
            "package repository: changed while hosts use the base; run apt-get update in the hosts",
        );
        return Ok(());
    }
    exec::run(&plan::base_apt_update(base, repo))?;
    write(&base.join(LISTS_FILE), &sum)
}

/// Forget that the base's lists are filled (a rebuilt base has none).
pub fn forget_lists(base: &Path) {
    let _ = std::fs::remove_file(base.join(LISTS_FILE));
}
