//! Each host's own cgroup in every hierarchy that matters, made before its nspawn starts.
//!
//! Why this file exists: nspawn runs `--keep-unit --register=no` (no machined needed), so a
//! container's systemd takes the cgroup it starts in. Sharing one would let the hosts kill
//! each other's services; each host gets `<our cgroup>/windlass-lab/<lab>/<host>`, recorded
//! so `down` removes exactly those. The CPU and memory hierarchies are among them, so what
//! a host spends (its CPU time, its memory) is read from its own cgroup (`lab status`, the
//! benches' per-host CPU seconds).

use std::path::{Path, PathBuf};

use super::error::{LabError, Result};

const CG: &str = "/sys/fs/cgroup";

/// `(mount point, our path there)` of each hierarchy, from `/proc/self/cgroup` text.
pub fn targets(
    self_cgroup: &str,
    pure_v2: bool,
    has: impl Fn(&str) -> bool,
) -> Vec<(PathBuf, String)> {
    let ours = |c: &str| {
        self_cgroup.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (id, ctl, path) = (f.next()?, f.next()?, f.next()?);
            let hit = if c == "unified" {
                id == "0" && ctl.is_empty()
            } else {
                ctl.split(',').any(|x| x == c || x == format!("name={c}"))
            };
            hit.then(|| path.to_string())
        })
    };
    if pure_v2 {
        return ours("unified")
            .map(|p| vec![(PathBuf::from(CG), p)])
            .unwrap_or_default();
    }
    ["systemd", "unified", "memory", "pids", "cpuacct"]
        .into_iter()
        .filter(|c| has(c))
        .filter_map(|c| ours(c).map(|p| (Path::new(CG).join(c), p)))
        .collect()
}

/// The cgroups of `host` of lab `lab` on this machine (not made yet).
pub fn for_host(lab: &str, host: &str) -> Vec<PathBuf> {
    let me = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let pure = Path::new(CG).join("cgroup.controllers").exists();
    targets(&me, pure, |c| {
        Path::new(CG).join(c).join("cgroup.procs").exists()
    })
    .into_iter()
    .map(|(mount, ours)| {
        mount
            .join(ours.trim_start_matches('/'))
            .join("windlass-lab")
            .join(lab)
            .join(host)
    })
    .collect()
}

/// Make `cgroups` and move the calling process into each.
pub fn enter(cgroups: &[PathBuf]) -> Result<()> {
    for cg in cgroups {
        std::fs::create_dir_all(cg).map_err(|e| LabError::io("cannot create cgroup", cg, e))?;
        let procs = cg.join("cgroup.procs");
        std::fs::write(&procs, std::process::id().to_string())
            .map_err(|e| LabError::io("cannot join cgroup", &procs, e))?;
    }
    Ok(())
}

/// Remove `cgroup` with what the host's systemd made inside, then its lab and
/// `windlass-lab` parents when empty. Only empty cgroups can be removed: a live process
/// keeps its cgroup.
pub fn remove(cgroup: &Path) {
    remove_tree(cgroup);
    for parent in cgroup.ancestors().skip(1).take(2) {
        let _ = std::fs::remove_dir(parent);
    }
}

fn remove_tree(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Memory charged to the host's cgroups, in bytes (resident + page cache), if known.
pub fn memory(cgroups: &[PathBuf]) -> Option<u64> {
    cgroups.iter().find_map(|cg| {
        if let Ok(stat) = std::fs::read_to_string(cg.join("memory.stat")) {
            let field = |k: &str| {
                stat.lines()
                    .find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok())
            };
            if let (Some(rss), Some(cache)) = (field("total_rss "), field("total_cache ")) {
                return Some(rss + cache);
            }
        }
        std::fs::read_to_string(cg.join("memory.current"))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// CPU time charged to the host's cgroups since it booted, in nanoseconds, if known
/// (cgroup v1 `cpuacct.usage`, v2 `cpu.stat` `usage_usec`).
pub fn cpu_nanos(cgroups: &[PathBuf]) -> Option<u64> {
    cgroups.iter().find_map(|cg| {
        if let Ok(ns) = std::fs::read_to_string(cg.join("cpuacct.usage")) {
            return ns.trim().parse().ok();
        }
        let stat = std::fs::read_to_string(cg.join("cpu.stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())
            .map(|us| us * 1000)
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn hybrid_and_pure_v2_hierarchies() {
        let hybrid = "9:name=systemd:/\n4:memory:/job/7\n8:pids:/\n0::/\n";
        let t = super::targets(hybrid, false, |c| c != "pids" && c != "cpuacct");
        assert_eq!(
            t,
            vec![
                (PathBuf::from("/sys/fs/cgroup/systemd"), "/".to_string()),
                (PathBuf::from("/sys/fs/cgroup/unified"), "/".to_string()),
                (PathBuf::from("/sys/fs/cgroup/memory"), "/job/7".to_string()),
            ]
        );
        assert_eq!(
            super::targets("0::/user.slice/x\n", true, |_| true),
            vec![(PathBuf::from("/sys/fs/cgroup"), "/user.slice/x".to_string())]
        );
        let t = super::targets("2:cpu,cpuacct:/a\n0::/\n", false, |c| c == "cpuacct");
        assert_eq!(
            t,
            vec![(PathBuf::from("/sys/fs/cgroup/cpuacct"), "/a".to_string())]
        );
    }
}
