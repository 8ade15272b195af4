//! Which of Ansible's fact collectors a `gather_subset` selects.
//!
//! Why this module exists: `gather_subset` is not a list of four groups but Ansible's
//! collector model: every collector has a name and fact ids that also select it
//! (`distribution_version` selects `distribution`), `min` is a fixed set of collectors
//! that is always added first (so `!hardware` alone gathers only `min`), `!all` excludes
//! everything but `min`, an explicit name wins over an exclusion, and a collector brings
//! the collectors it requires (`network` needs `distribution` and `platform`, even after
//! `!min`). This file models exactly that, after
//! `lib/ansible/module_utils/facts/collector.py` (`get_collector_names`, `_solve_deps`)
//! and the Linux collectors of `default_collectors.py`; `lib/ansible/modules/setup.py`
//! defines `min`.

use std::collections::BTreeSet;

/// Ansible's collectors on Linux: (name, fact ids that also select it, collectors it
/// requires).
const COLLECTORS: &[(&str, &[&str], &[&str])] = &[
    ("apparmor", &[], &[]),
    (
        "caps",
        &["system_capabilities", "system_capabilities_enforced"],
        &[],
    ),
    ("chroot", &["is_chroot"], &[]),
    ("cmdline", &[], &[]),
    ("date_time", &[], &[]),
    (
        "distribution",
        &[
            "distribution_version",
            "distribution_release",
            "distribution_major_version",
            "os_family",
        ],
        &[],
    ),
    ("dns", &[], &[]),
    ("env", &[], &[]),
    ("facter", &["facter"], &[]),
    ("fibre_channel_wwn", &[], &[]),
    ("fips", &[], &[]),
    (
        "hardware",
        &[
            "processor",
            "processor_cores",
            "processor_count",
            "mounts",
            "devices",
        ],
        &["platform"],
    ),
    ("iscsi", &[], &[]),
    ("loadavg", &[], &[]),
    ("local", &[], &[]),
    ("lsb", &[], &[]),
    (
        "network",
        &[
            "interfaces",
            "default_ipv4",
            "default_ipv6",
            "all_ipv4_addresses",
            "all_ipv6_addresses",
        ],
        &["distribution", "platform"],
    ),
    ("nvme", &[], &[]),
    ("ohai", &[], &[]),
    ("pkg_mgr", &[], &["distribution"]),
    (
        "platform",
        &[
            "system",
            "kernel",
            "kernel_version",
            "machine",
            "python_version",
            "architecture",
            "machine_id",
        ],
        &[],
    ),
    ("python", &[], &[]),
    ("selinux", &[], &[]),
    ("service_mgr", &[], &["platform", "distribution"]),
    (
        "ssh_pub_keys",
        &[
            "ssh_host_pub_keys",
            "ssh_host_key_dsa_public",
            "ssh_host_key_rsa_public",
            "ssh_host_key_ecdsa_public",
            "ssh_host_key_ed25519_public",
        ],
        &[],
    ),
    ("systemd", &[], &[]),
    (
        "user",
        &[
            "user_id",
            "user_uid",
            "user_gid",
            "user_gecos",
            "user_dir",
            "user_shell",
            "real_user_id",
            "effective_user_id",
            "effective_group_ids",
        ],
        &[],
    ),
    (
        "virtual",
        &[
            "virtualization_type",
            "virtualization_role",
            "virtualization_tech_guest",
            "virtualization_tech_host",
        ],
        &[],
    ),
];

/// The collectors `min` stands for (`lib/ansible/modules/setup.py`).
const MINIMAL: &[&str] = &[
    "apparmor",
    "caps",
    "cmdline",
    "date_time",
    "distribution",
    "dns",
    "env",
    "fips",
    "local",
    "lsb",
    "pkg_mgr",
    "platform",
    "python",
    "selinux",
    "service_mgr",
    "ssh_pub_keys",
    "user",
];

/// Every name `gather_subset` accepts (besides `all` and `min`): collector names and ids.
fn valid() -> BTreeSet<&'static str> {
    COLLECTORS
        .iter()
        .flat_map(|(n, ids, _)| std::iter::once(*n).chain(ids.iter().copied()))
        .collect()
}

/// The collector a name or fact id selects.
fn collector_of(key: &str) -> Option<&'static str> {
    COLLECTORS
        .iter()
        .find(|(n, ids, _)| *n == key || ids.contains(&key))
        .map(|(n, _, _)| *n)
}

/// The collectors `gather_subset` selects (empty = `["all"]`), requirements included; an
/// error (Ansible's message) for an unknown name that is not excluded.
pub fn collectors(given: &[String]) -> Result<BTreeSet<&'static str>, String> {
    let valid = valid();
    let minimal: BTreeSet<&str> = MINIMAL.iter().copied().collect();
    let mut add: BTreeSet<&str> = BTreeSet::new();
    let mut exclude: BTreeSet<String> = BTreeSet::new();
    let mut explicit: BTreeSet<String> = BTreeSet::new();
    let all = ["all".to_string()];
    let given = if given.is_empty() { &all[..] } else { given };
    for s in std::iter::once("min").chain(given.iter().map(String::as_str)) {
        match s {
            "min" => add.extend(&minimal),
            "all" => add.extend(&valid),
            "!min" => exclude.extend(minimal.iter().map(|s| s.to_string())),
            "!all" => exclude.extend(valid.difference(&minimal).map(|s| s.to_string())),
            _ => {
                if let Some(x) = s.strip_prefix('!') {
                    // An excluded collector takes its fact ids along.
                    if let Some((_, ids, _)) = COLLECTORS.iter().find(|(n, _, _)| *n == x) {
                        exclude.extend(ids.iter().map(|s| s.to_string()));
                    }
                    exclude.insert(x.to_string());
                } else {
                    let Some(v) = valid.get(s) else {
                        let names: Vec<&str> = valid.iter().copied().collect();
                        return Err(format!(
                            "Bad subset '{s}' given to Ansible. gather_subset options allowed: all, {}",
                            names.join(", ")
                        ));
                    };
                    explicit.insert(s.to_string());
                    add.insert(v);
                }
            }
        }
    }
    add.retain(|k| !exclude.contains(*k) || explicit.contains(*k));
    let mut out: BTreeSet<&'static str> = add.iter().filter_map(|k| collector_of(k)).collect();
    // Requirements, until none is missing.
    loop {
        let missing: Vec<&'static str> = out
            .iter()
            .flat_map(|c| COLLECTORS.iter().find(|(n, _, _)| n == c).unwrap().2)
            .copied()
            .filter(|r| !out.contains(r))
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        out.extend(missing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<&'static str> {
        collectors(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
            .unwrap()
            .into_iter()
            .collect()
    }

    /// Expected values are ansible-core 2.19's own answers
    /// (`collector_classes_from_gather_subset` with setup.py's minimal set, on Linux).
    #[test]
    fn subsets_follow_ansible() {
        let min: Vec<&str> = MINIMAL.to_vec();
        assert_eq!(names(&["!all"]), min);
        assert_eq!(names(&["min"]), min);
        assert_eq!(names(&["!hardware"]), min);
        assert_eq!(names(&["distribution_version"]), min);
        assert_eq!(names(&["!all", "!min"]), Vec::<&str>::new());
        assert_eq!(names(&["!min"]), Vec::<&str>::new());
        assert_eq!(
            names(&["!all", "!min", "network"]),
            ["distribution", "network", "platform"]
        );
        assert_eq!(
            names(&["!all", "!min", "hardware"]),
            ["hardware", "platform"]
        );
        assert_eq!(names(&["!all", "!min", "virtual"]), ["virtual"]);
        assert_eq!(names(&["!all", "!min", "distribution"]), ["distribution"]);
        let mut with_net = min.clone();
        with_net.push("network");
        with_net.sort();
        assert_eq!(names(&["network"]), with_net);
        assert_eq!(names(&["!all", "network"]), with_net);
        let all = names(&["all"]);
        assert_eq!(all.len(), COLLECTORS.len());
        assert_eq!(names(&[]), all);
        let e = collectors(&["netwrk".to_string()]).unwrap_err();
        assert!(e.starts_with("Bad subset 'netwrk' given to Ansible. gather_subset options allowed: all, all_ipv4_addresses, all_ipv6_addresses, apparmor,"), "{e}");
        // An unknown exclusion is no error.
        assert_eq!(names(&["!nothing"]), min);
    }
}
