//! `ansible.builtin.setup` (alias `gather_facts`): gather facts about a host.
//!
//! Why this module exists: playbooks (and Kubespray above all) branch on
//! `ansible_os_family`, `ansible_default_ipv4.address`, `ansible_processor_vcpus` and
//! friends. Ansible ships a Python program to the host for this; windlass runs ONE POSIX
//! `sh` script that prints raw sections (`/etc/os-release`, `uname`, `ip -o addr`,
//! `/proc/meminfo`, …) and parses them here in pure functions ([`parse_facts`]) so the
//! parsing is tested against recorded outputs. The result is Ansible's whole fact tree,
//! key for key and with the same types (a test compares it with ansible-playbook's on a
//! real host): Ansible's collectors, each modelled after its file under
//! `lib/ansible/module_utils/facts/`. Only the `python` facts run the host's Python (the
//! interpreter Ansible would use: `ansible_python_interpreter`, else `/usr/bin/python3`);
//! without one those facts are left out. `gather_subset` chooses the collectors exactly as
//! Ansible resolves it; `filter` trims the result. The engine stores the returned
//! `ansible_facts` as the host's facts (names without the `ansible_` prefix; it exposes each
//! as `ansible_facts.<name>` and `ansible_<name>`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use indexmap::IndexMap;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::string_list;
use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx, TaskResult};
use crate::command::RemoteCommand;

/// Parameters of `setup`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupParams {
    /// Which facts to gather, as Ansible reads it: `all` (default), `min` (always added
    /// unless `!min`), a collector (`hardware`, `network`, `virtual`, `env`, `python`,
    /// `distribution`, …) or one of its fact names (`distribution_version` selects
    /// `distribution`); prefix with `!` to exclude (`!all` = only `min`). A collector
    /// brings those it needs (`network` brings `distribution` and `platform`). A list or a
    /// comma-separated string. The `gather_subset` fact is this list as given.
    #[serde(default, deserialize_with = "string_list")]
    pub gather_subset: Vec<String>,
    /// Only return facts whose name matches one of these shell-style globs, matched as
    /// Ansible does against the `ansible_` names (`ansible_eth*`); a pattern without the
    /// prefix also matches with it (`default_ipv4`). Default: all.
    #[serde(default, deserialize_with = "string_list")]
    pub filter: Vec<String>,
    /// Seconds the gathering command may take. Default 10.
    #[serde(default)]
    pub gather_timeout: Option<Value>,
    /// The directory of local facts: each `*.fact` file in it (JSON or INI; an executable
    /// one is run and its output read) becomes `ansible_local.<name>`, as Ansible's `local`
    /// collector (part of `min`) reads them. Default `/etc/ansible/facts.d`.
    #[serde(default)]
    pub fact_path: Option<String>,
}

/// One of Ansible's fact collectors (see `setup_subsets.rs`): `platform`, `hardware`,
/// `network`, `env`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Collector(&'static str);

impl Collector {
    /// The collector's name, as Ansible spells it.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// The collectors `gather_subset` selects, as Ansible resolves it (empty = `all`).
pub fn resolve_subsets(given: &[String]) -> Result<BTreeSet<Collector>, String> {
    Ok(super::setup_subsets::collectors(given)?
        .into_iter()
        .map(Collector)
        .collect())
}

fn has(c: &BTreeSet<Collector>, name: &str) -> bool {
    c.iter().any(|x| x.0 == name)
}

/// The gathering script for `collectors`: a framed reply (see [`super::sysprobe`]) whose
/// sections hold raw command output, so no file or command output can fake another
/// section. Only reads; every command may be missing (its section is then empty).
/// `python` is the interpreter whose facts `python`/`platform` report.
pub fn gather_script(collectors: &BTreeSet<Collector>, python: &str) -> String {
    let mut s = format!(
        "{}s() {{ printf '\\n@@%s %s\\n' \"$wl_n\" \"$1\"; }}\n",
        super::sysprobe::PRELUDE
    );
    // Before LC_ALL is set: the environment the shell was started with.
    if has(collectors, "env") || has(collectors, "chroot") {
        s.push_str("s env; base64 -w0 /proc/$$/environ 2>/dev/null\n");
    }
    s.push_str("LC_ALL=C; export LC_ALL\n");
    for c in collectors {
        s.push_str(&super::setup_system::script(c.0));
    }
    if has(collectors, "platform") || has(collectors, "python") {
        s.push_str(&super::setup_system::python_section(python));
    }
    if has(collectors, "distribution")
        || has(collectors, "platform")
        || has(collectors, "service_mgr")
        || has(collectors, "pkg_mgr")
        || has(collectors, "user")
        || has(collectors, "date_time")
    {
        s.push_str(MIN_SCRIPT);
        s.push_str(super::setup_service_mgr::SCRIPT);
    }
    if has(collectors, "hardware") {
        s.push_str(concat!(
            "s meminfo; cat /proc/meminfo 2>/dev/null\n",
            "s cpuinfo; cat /proc/cpuinfo 2>/dev/null\n",
            "s nproc; nproc 2>/dev/null\n",
        ));
    }
    if has(collectors, "network") {
        s.push_str(concat!(
            "s addr; ip -o addr show 2>/dev/null\n",
            "s route4; ip -4 route show default 2>/dev/null\n",
            "s route6; ip -6 route show default 2>/dev/null\n",
            "s local4; ip -4 route show table local 2>/dev/null\n",
            "s local6; ip -6 route show table local 2>/dev/null\n",
            "s links; for d in /sys/class/net/*; do [ -d \"$d\" ] || continue; ",
            "m=; [ -e \"$d/device/driver/module\" ] && m=$(basename \"$(readlink -f \"$d/device/driver/module\")\"); ",
            "p=; [ -e \"$d/device\" ] && p=$(basename \"$(readlink \"$d/device\")\"); ",
            "b=; [ -e \"$d/bridge\" ] && b=\"bridge $(cat \"$d/bridge/bridge_id\" 2>/dev/null) $(cat \"$d/bridge/stp_state\" 2>/dev/null) $(ls \"$d/brif\" 2>/dev/null | tr '\\n' ' ')\"; ",
            "printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' \"${d##*/}\" \"$(cat \"$d/address\" 2>/dev/null)\" ",
            "\"$(cat \"$d/mtu\" 2>/dev/null)\" \"$(cat \"$d/flags\" 2>/dev/null)\" ",
            "\"$(cat \"$d/type\" 2>/dev/null)\" \"$(cat \"$d/speed\" 2>/dev/null)\" ",
            "\"$(cat \"$d/operstate\" 2>/dev/null)\" \"$m\" \"$p\" \"$b\"; done\n",
        ));
    }
    if has(collectors, "virtual") {
        s.push_str(concat!(
            "s container; cat /run/systemd/container 2>/dev/null\n",
            "s pid1_env; tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | grep '^container='\n",
            "s pid1_cgroup; cat /proc/1/cgroup 2>/dev/null\n",
            "s virt_files; for f in /.dockerenv /.dockerinit /proc/vz /proc/lve /proc/bc /proc/xen; do [ -e $f ] && echo $f; done\n",
            "s virt; command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt 2>/dev/null\n",
            "s virt_host; cut -d' ' -f1 /proc/modules 2>/dev/null | grep -x -e kvm -e vboxdrv -e virtio; ",
            "[ -e /dev/kvm ] && echo /dev/kvm\n",
        ));
    }
    s.push_str("s end\n");
    s
}

/// The sections the `distribution`, `platform`, `user`, `pkg_mgr` and
/// `date_time` collectors read.
const MIN_SCRIPT: &str = concat!(
    "s os_release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null\n",
    "s debian_version; cat /etc/debian_version 2>/dev/null\n",
    "s uname; uname -s; uname -n; uname -r; uname -v; uname -m\n",
    "s fqdn; hostname -f 2>/dev/null\n",
    "s machine_id; cat /var/lib/dbus/machine-id 2>/dev/null || cat /etc/machine-id 2>/dev/null\n",
    "s pkg; for p in apt-get dnf yum zypper apk pacman; do command -v $p >/dev/null 2>&1 && echo $p; done\n",
    "s date; date '+%Y %m %d %H %M %S %s %Z %z %A %w %W %N'; date -u '+%Y-%m-%dT%H:%M:%S'\n",
);

fn kv_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

fn distribution_name(id: &str, name: &str) -> String {
    match id {
        "debian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "linuxmint" => "Linux Mint".into(),
        "raspbian" => "Debian".into(),
        "centos" => "CentOS".into(),
        "rhel" => "RedHat".into(),
        "fedora" => "Fedora".into(),
        "rocky" => "Rocky".into(),
        "almalinux" => "AlmaLinux".into(),
        "ol" => "OracleLinux".into(),
        "amzn" => "Amazon".into(),
        "arch" => "Archlinux".into(),
        "alpine" => "Alpine".into(),
        "opensuse-leap" | "opensuse" => "openSUSE Leap".into(),
        "sles" => "SLES".into(),
        "" => name
            .split_whitespace()
            .next()
            .unwrap_or("Linux")
            .to_string(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

fn os_family(distribution: &str) -> String {
    match distribution {
        "Debian" | "Ubuntu" | "Linux Mint" | "Kali" | "Devuan" | "Pop" | "Raspbian" => "Debian",
        "RedHat" | "CentOS" | "Fedora" | "Rocky" | "AlmaLinux" | "OracleLinux" | "Amazon" => {
            "RedHat"
        }
        "SLES" | "openSUSE Leap" => "Suse",
        "Archlinux" => "Archlinux",
        "Alpine" => "Alpine",
        other => other,
    }
    .to_string()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

fn distribution_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let osr = kv_file(sec.get("os_release").copied().unwrap_or(""));
    let get = |k: &str| osr.get(k).cloned().unwrap_or_default();
    let dist = distribution_name(&get("ID"), &get("NAME"));
    let deb_version = sec.get("debian_version").map(|s| s.trim()).unwrap_or("");
    let version = if dist == "Debian"
        && deb_version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    {
        deb_version.to_string()
    } else if !get("VERSION_ID").is_empty() {
        get("VERSION_ID")
    } else {
        "NA".to_string()
    };
    let major = version.split('.').next().unwrap_or("").to_string();
    let release = [get("VERSION_CODENAME"), get("UBUNTU_CODENAME")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "NA".to_string());
    f.insert("distribution".into(), json!(dist));
    f.insert("distribution_version".into(), json!(version));
    f.insert("distribution_major_version".into(), json!(major));
    if let Some((_, minor)) = version.split_once('.') {
        f.insert("distribution_minor_version".into(), json!(minor));
    }
    f.insert("distribution_release".into(), json!(release));
    f.insert("os_family".into(), json!(os_family(&dist)));
    // lib/ansible/module_utils/facts/system/distribution.py: Debian-likes are recognised
    // from /etc/os-release.
    if os_family(&dist) == "Debian" && !osr.is_empty() {
        f.insert("distribution_file_path".into(), json!("/etc/os-release"));
        f.insert("distribution_file_variety".into(), json!("Debian"));
        f.insert("distribution_file_parsed".into(), json!(true));
    }
}

fn platform_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let un = lines(sec.get("uname").copied().unwrap_or(""));
    let u = |i: usize| un.get(i).copied().unwrap_or("").to_string();
    let nodename = u(1);
    f.insert("system".into(), json!(u(0)));
    f.insert("kernel".into(), json!(u(2)));
    f.insert("kernel_version".into(), json!(u(3)));
    f.insert("machine".into(), json!(u(4)));
    // lib/ansible/module_utils/facts/system/platform.py
    let arch = if Regex::new(r"i([3456]86|86pc)").is_ok_and(|r| r.is_match(&u(4))) {
        "i386".to_string()
    } else {
        u(4)
    };
    f.insert("architecture".into(), json!(arch));
    let short = nodename.split('.').next().unwrap_or("").to_string();
    let fqdn = sec
        .get("fqdn")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or(&nodename)
        .to_string();
    let domain = fqdn
        .split_once('.')
        .map(|(_, d)| d)
        .unwrap_or("")
        .to_string();
    f.insert("hostname".into(), json!(short));
    f.insert("nodename".into(), json!(nodename));
    f.insert("fqdn".into(), json!(fqdn));
    f.insert("domain".into(), json!(domain));
    if let Some(id) = sec
        .get("machine_id")
        .and_then(|s| s.lines().next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        f.insert("machine_id".into(), json!(id));
    }
    super::setup_system::platform_python(sec, f, &u(4));
}

fn pkg_mgr_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let pkg = lines(sec.get("pkg").copied().unwrap_or(""));
    let pm = match pkg.first().copied() {
        Some("apt-get") => "apt",
        Some(p) => p,
        None => "unknown",
    };
    f.insert("pkg_mgr".into(), json!(pm));
}

/// lib/ansible/module_utils/facts/system/date_time.py
fn date_time_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let d = lines(sec.get("date").copied().unwrap_or(""));
    let Some(first) = d.first() else { return };
    let w: Vec<&str> = first.split_whitespace().collect();
    if w.len() < 13 {
        return;
    }
    let micro = w[12].get(..6).unwrap_or("000000");
    let utc = d.get(1).copied().unwrap_or("");
    let mut dt = Map::new();
    for (k, v) in [
        ("year", w[0].to_string()),
        ("month", w[1].to_string()),
        ("weekday", w[9].to_string()),
        ("weekday_number", w[10].to_string()),
        ("weeknumber", w[11].to_string()),
        ("day", w[2].to_string()),
        ("hour", w[3].to_string()),
        ("minute", w[4].to_string()),
        ("second", w[5].to_string()),
        ("epoch", w[6].to_string()),
        ("epoch_int", w[6].to_string()),
        ("date", format!("{}-{}-{}", w[0], w[1], w[2])),
        ("time", format!("{}:{}:{}", w[3], w[4], w[5])),
        ("iso8601_micro", format!("{utc}.{micro}Z")),
        ("iso8601", format!("{utc}Z")),
        (
            "iso8601_basic",
            format!("{}{}{}T{}{}{}{micro}", w[0], w[1], w[2], w[3], w[4], w[5]),
        ),
        (
            "iso8601_basic_short",
            format!("{}{}{}T{}{}{}", w[0], w[1], w[2], w[3], w[4], w[5]),
        ),
        ("tz", w[7].to_string()),
        ("tz_dst", w[7].to_string()),
        ("tz_offset", w[8].to_string()),
    ] {
        dt.insert(k.into(), json!(v));
    }
    f.insert("date_time".into(), Value::Object(dt));
}

/// lib/ansible/module_utils/facts/hardware/linux.py `get_memory_facts`.
fn memory_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let Some(text) = sec.get("meminfo").filter(|t| !t.trim().is_empty()) else {
        return;
    };
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for l in text.lines() {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let Some(n) = v
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if matches!(k, "MemTotal" | "SwapTotal" | "MemFree" | "SwapFree") {
            f.insert(format!("{}_mb", k.to_lowercase()), json!(n / 1024));
        }
        if matches!(
            k,
            "MemTotal" | "SwapTotal" | "MemFree" | "SwapFree" | "Buffers" | "Cached" | "SwapCached"
        ) {
            m.insert(k.to_lowercase(), n / 1024);
        }
    }
    let g = |k: &str| m.get(k).copied();
    let sub = |a: Option<u64>, b: Option<u64>| Some(json!(a? as i64 - b? as i64));
    let nocache_free = (|| Some(g("cached")? + g("memfree")? + g("buffers")?))();
    let v = |x: Option<u64>| x.map_or(Value::Null, |n| json!(n));
    f.insert(
        "memory_mb".into(),
        json!({
            "real": {"total": v(g("memtotal")), "used": sub(g("memtotal"), g("memfree")),
                     "free": v(g("memfree"))},
            "nocache": {"free": v(nocache_free), "used": sub(g("memtotal"), nocache_free)},
            "swap": {"total": v(g("swaptotal")), "free": v(g("swapfree")),
                     "used": sub(g("swaptotal"), g("swapfree")), "cached": v(g("swapcached"))},
        }),
    );
}

/// lib/ansible/module_utils/facts/hardware/linux.py `get_cpu_facts` (x86 and the like:
/// the s390x and Xen paravirt branches are not modelled).
fn cpu_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>, arch: &str) {
    let Some(cpuinfo) = sec.get("cpuinfo").filter(|t| !t.trim().is_empty()) else {
        return;
    };
    let mut processor = Vec::new();
    let (mut i, mut vendor_n, mut model_n, mut proc_n) = (0u64, 0u64, 0u64, 0u64);
    let mut physid = String::from("0");
    let mut coreid = String::from("0");
    let mut sockets: IndexMap<String, u64> = IndexMap::new();
    let mut cores: IndexMap<String, u64> = IndexMap::new();
    for line in cpuinfo.lines() {
        let (key, val) = match line.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line.trim(), ""),
        };
        if key == "flags" {
            f.insert(
                "flags".into(),
                Value::Array(val.split_whitespace().map(|x| json!(x)).collect()),
            );
        }
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(json!(val));
                match key {
                    "vendor_id" => vendor_n += 1,
                    "model name" => model_n += 1,
                    "processor" => proc_n += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = val.to_string();
                sockets.entry(physid.clone()).or_insert(1);
            }
            "core id" => {
                coreid = val.to_string();
                if !sockets.contains_key(&coreid) {
                    cores.insert(coreid.clone(), 1);
                }
            }
            "cpu cores" => {
                sockets.insert(physid.clone(), val.parse().unwrap_or(0));
            }
            "siblings" => {
                cores.insert(coreid.clone(), val.parse().unwrap_or(0));
            }
            "ncpus active" => i = val.parse().unwrap_or(i),
            _ => {}
        }
    }
    if vendor_n > 0 && vendor_n == model_n {
        i = vendor_n;
    }
    if ["armv", "aarch", "ppc"].iter().any(|p| arch.starts_with(p)) {
        i = proc_n;
    }
    f.insert("processor".into(), Value::Array(processor));
    let count = if sockets.is_empty() {
        i
    } else {
        sockets.len() as u64
    };
    let per_socket = sockets
        .values()
        .next()
        .copied()
        .filter(|c| *c > 0)
        .unwrap_or(1);
    // Python's round(): halves to even.
    let round = |x: f64| {
        let r = x.round();
        if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
            r - x.signum()
        } else {
            r
        }
    };
    let threads = match cores.values().next() {
        Some(c) => round(*c as f64 / per_socket as f64),
        None => round(1.0 / per_socket as f64),
    } as u64;
    f.insert("processor_count".into(), json!(count));
    f.insert("processor_cores".into(), json!(per_socket));
    f.insert("processor_threads_per_core".into(), json!(threads));
    f.insert(
        "processor_vcpus".into(),
        json!(threads.saturating_mul(count).saturating_mul(per_socket)),
    );
    let nproc = sec.get("nproc").and_then(|s| s.trim().parse::<u64>().ok());
    f.insert("processor_nproc".into(), json!(nproc.unwrap_or(proc_n)));
}

fn hardware_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let arch = lines(sec.get("uname").copied().unwrap_or(""))
        .get(4)
        .copied()
        .unwrap_or("")
        .to_string();
    cpu_facts(sec, f, &arch);
    memory_facts(sec, f);
    super::setup_system::hardware_extra(sec, f);
}

/// One address from `ip -o addr`.
#[derive(Debug, Clone)]
struct Addr {
    ifname: String,
    v6: bool,
    address: String,
    prefix: u8,
    broadcast: Option<String>,
    scope: String,
}

fn parse_addr_line(line: &str) -> Option<Addr> {
    // "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\       valid_lft …"
    let w: Vec<&str> = line.split_whitespace().collect();
    let ifname = w.get(1)?.split('@').next()?.to_string();
    let fam = *w.get(2)?;
    if fam != "inet" && fam != "inet6" {
        return None;
    }
    let (address, prefix) = w.get(3)?.split_once('/')?;
    let after = |key: &str| {
        w.iter()
            .position(|x| *x == key)
            .and_then(|i| w.get(i + 1))
            .map(|s| s.to_string())
    };
    Some(Addr {
        ifname,
        v6: fam == "inet6",
        address: address.to_string(),
        prefix: prefix.parse().ok()?,
        broadcast: after("brd"),
        scope: after("scope").unwrap_or_else(|| "global".into()),
    })
}

fn v4_netmask_network(address: &str, prefix: u8) -> Option<(String, String)> {
    let ip: Ipv4Addr = address.parse().ok()?;
    let net = ipnet::Ipv4Net::new(ip, prefix).ok()?;
    Some((net.netmask().to_string(), net.network().to_string()))
}

fn ipv4_dict(a: &Addr) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), json!(a.address));
    m.insert(
        "broadcast".into(),
        json!(a.broadcast.clone().unwrap_or_default()),
    );
    if let Some((mask, net)) = v4_netmask_network(&a.address, a.prefix) {
        m.insert("netmask".into(), json!(mask));
        m.insert("network".into(), json!(net));
    }
    m.insert("prefix".into(), json!(a.prefix.to_string()));
    Value::Object(m)
}

/// `INTERFACE_TYPE` of lib/ansible/module_utils/facts/network/linux.py.
fn link_type(t: &str) -> &'static str {
    match t {
        "1" => "ether",
        "32" => "infiniband",
        "512" => "ppp",
        "772" => "loopback",
        "65534" => "tunnel",
        _ => "unknown",
    }
}

/// `(gateway, interface)` of the first default route in `ip route show default` output.
fn default_route(text: &str) -> Option<(Option<String>, String)> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("default"))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    let after = |k: &str| {
        w.iter()
            .position(|x| *x == k)
            .and_then(|i| w.get(i + 1))
            .map(|s| s.to_string())
    };
    Some((after("via"), after("dev")?))
}

fn network_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    // name → the fields the script prints for /sys/class/net/<name>
    let mut links: IndexMap<String, Vec<String>> = IndexMap::new();
    for l in sec.get("links").copied().unwrap_or("").lines() {
        let mut w: Vec<String> = l.split('\t').map(|x| x.trim().to_string()).collect();
        if w.len() >= 5 && !w[0].is_empty() {
            w.resize(10, String::new());
            links.insert(w[0].clone(), w[1..].to_vec());
        }
    }
    let addrs: Vec<Addr> = sec
        .get("addr")
        .copied()
        .unwrap_or("")
        .lines()
        .filter_map(parse_addr_line)
        .collect();
    let mut names: BTreeSet<String> = links.keys().cloned().collect();
    names.extend(addrs.iter().map(|a| a.ifname.clone()));
    let mut ifaces: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for name in &names {
        let mut d = Map::new();
        d.insert("device".into(), json!(name));
        // lib/ansible/module_utils/facts/network/linux.py `get_interfaces_info`
        if let Some(w) = links.get(name) {
            let (mac, mtu, flags, typ, speed, oper, module, pci, bridge) = (
                &w[0], &w[1], &w[2], &w[3], &w[4], &w[5], &w[6], &w[7], &w[8],
            );
            if !mac.is_empty() && mac != "00:00:00:00:00:00" {
                d.insert("macaddress".into(), json!(mac));
            }
            if let Ok(m) = mtu.parse::<u64>() {
                d.insert("mtu".into(), json!(m));
            }
            if !oper.is_empty() {
                d.insert("active".into(), json!(oper != "down"));
            }
            if !module.is_empty() {
                d.insert("module".into(), json!(module));
            }
            if !typ.is_empty() {
                d.insert("type".into(), json!(link_type(typ)));
            }
            if let Some(b) = bridge.strip_prefix("bridge") {
                let mut parts = b.split_whitespace();
                d.insert("type".into(), json!("bridge"));
                let id = parts.next().unwrap_or("");
                let stp = parts.next().unwrap_or("");
                let ifs: Vec<Value> = parts.map(|x| json!(x)).collect();
                d.insert("interfaces".into(), Value::Array(ifs));
                d.insert("id".into(), json!(id));
                d.insert("stp".into(), json!(stp == "1"));
            }
            if !pci.is_empty() {
                d.insert("pciid".into(), json!(pci));
            }
            if let Ok(sp) = speed.parse::<i64>() {
                d.insert("speed".into(), json!(sp));
            }
            if let Ok(fl) = u64::from_str_radix(flags.trim_start_matches("0x"), 16) {
                d.insert("promisc".into(), json!(fl & 0x100 != 0));
            }
        }
        let v4: Vec<&Addr> = addrs
            .iter()
            .filter(|a| &a.ifname == name && !a.v6)
            .collect();
        if let Some(first) = v4.first() {
            d.insert("ipv4".into(), ipv4_dict(first));
            if v4.len() > 1 {
                d.insert(
                    "ipv4_secondaries".into(),
                    Value::Array(v4[1..].iter().map(|a| ipv4_dict(a)).collect()),
                );
            }
        }
        let v6: Vec<Value> = addrs
            .iter()
            .filter(|a| &a.ifname == name && a.v6)
            .map(
                |a| json!({"address": a.address, "prefix": a.prefix.to_string(), "scope": a.scope}),
            )
            .collect();
        if !v6.is_empty() {
            d.insert("ipv6".into(), Value::Array(v6));
        }
        ifaces.insert(name.clone(), d);
    }
    let all4: Vec<Value> = addrs
        .iter()
        .filter(|a| !a.v6 && !a.address.starts_with("127."))
        .map(|a| json!(a.address))
        .collect();
    let all6: Vec<Value> = addrs
        .iter()
        .filter(|a| {
            a.v6 && a
                .address
                .parse::<IpAddr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .map(|a| json!(a.address))
        .collect();
    f.insert("all_ipv4_addresses".into(), Value::Array(all4));
    f.insert("all_ipv6_addresses".into(), Value::Array(all6));
    f.insert(
        "interfaces".into(),
        Value::Array(names.iter().map(|n| json!(n)).collect()),
    );
    for (key, sec_name, v6) in [
        ("default_ipv4", "route4", false),
        ("default_ipv6", "route6", true),
    ] {
        let mut d = Map::new();
        if let Some((gw, dev)) = default_route(sec.get(sec_name).copied().unwrap_or("")) {
            let addr = addrs
                .iter()
                .find(|a| a.ifname == dev && a.v6 == v6 && (!v6 || a.scope == "global"));
            if let Some(a) = addr {
                if v6 {
                    d.insert("address".into(), json!(a.address));
                    d.insert("prefix".into(), json!(a.prefix.to_string()));
                    d.insert("scope".into(), json!(a.scope));
                } else if let Value::Object(m) = ipv4_dict(a) {
                    d.extend(m);
                }
            }
            d.insert("interface".into(), json!(dev));
            if !v6 {
                d.insert("alias".into(), json!(dev));
            }
            if let Some(g) = gw {
                d.insert("gateway".into(), json!(g));
            }
            if let Some(i) = ifaces.get(&dev) {
                for k in ["macaddress", "mtu", "type"] {
                    if let Some(v) = i.get(k) {
                        d.insert(k.into(), v.clone());
                    }
                }
            }
        }
        f.insert(key.into(), Value::Object(d));
    }
    for (name, d) in ifaces {
        f.insert(name.replace([':', '-'], "_"), Value::Object(d));
    }
    let mut reach = Map::new();
    for (fam, key) in [("ipv4", "local4"), ("ipv6", "local6")] {
        let mut v: Vec<Value> = Vec::new();
        for l in sec.get(key).copied().unwrap_or("").lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.first() == Some(&"local") && w.len() > 1 && !v.contains(&json!(w[1])) {
                v.push(json!(w[1]));
            }
        }
        reach.insert(fam.into(), Value::Array(v));
    }
    f.insert("locally_reachable_ips".into(), Value::Object(reach));
}

/// lib/ansible/module_utils/facts/virtual/linux.py `get_virtual_facts`: containers first
/// (its order: /proc/1/cgroup, pid 1's `container=`, OpenVZ, /run/systemd/container,
/// docker files); virtual machines are told by `systemd-detect-virt` here.
fn virtual_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let mut guest: BTreeSet<String> = BTreeSet::new();
    let mut host: BTreeSet<String> = BTreeSet::new();
    let mut found: Option<(String, &str)> = None;
    let hit = |tech: &str, found: &mut Option<(String, &str)>, guest: &mut BTreeSet<String>| {
        guest.insert(tech.to_string());
        if found.is_none() {
            *found = Some((tech.to_string(), "guest"));
        }
    };
    let docker = Regex::new(r"/docker(/|-[0-9a-f]+\.scope)").expect("constant regex");
    for l in sec.get("pid1_cgroup").copied().unwrap_or("").lines() {
        if docker.is_match(l) {
            hit("docker", &mut found, &mut guest);
        }
        if l.contains("/lxc/") || l.contains("/machine.slice/machine-lxc") {
            hit("lxc", &mut found, &mut guest);
        }
        if l.contains("/system.slice/containerd.service") {
            hit("containerd", &mut found, &mut guest);
        }
    }
    for l in sec.get("pid1_env").copied().unwrap_or("").lines() {
        if l.contains("container=lxc") {
            hit("lxc", &mut found, &mut guest);
        }
        if l.contains("container=podman") {
            hit("podman", &mut found, &mut guest);
        }
        if l.starts_with("container=") && l.len() > "container=".len() {
            hit("container", &mut found, &mut guest);
        }
    }
    let files = lines(sec.get("virt_files").copied().unwrap_or(""));
    if files.contains(&"/proc/vz") && !files.contains(&"/proc/lve") {
        if files.contains(&"/proc/bc") {
            host.insert("openvz".into());
            found.get_or_insert(("openvz".into(), "host"));
        } else {
            hit("openvz", &mut found, &mut guest);
        }
    }
    let systemd_container = sec.get("container").map(|s| s.trim()).unwrap_or("");
    if !systemd_container.is_empty() {
        hit(systemd_container, &mut found, &mut guest);
    }
    if files.contains(&"/.dockerenv") || files.contains(&"/.dockerinit") {
        hit("docker", &mut found, &mut guest);
    }
    if !systemd_container.is_empty()
        || ["docker", "lxc", "podman", "openvz", "containerd"]
            .iter()
            .any(|t| guest.contains(*t))
    {
        guest.insert("container".into());
    }
    // systemd-detect-virt stands for the collector's DMI and CPU checks, which come before
    // its /proc/modules and /dev/kvm ones.
    let detected = sec.get("virt").map(|s| s.trim()).unwrap_or("");
    if found.is_none() && matches!(detected, "" | "none") {
        found = host_virt(sec, &mut host);
    } else {
        host_virt(sec, &mut host);
    }
    let (typ, role) = match found {
        Some((t, r)) => (t, r.to_string()),
        None => match detected {
            "" | "none" => ("NA".to_string(), "NA".to_string()),
            d => {
                let t = match d {
                    "qemu" | "kvm" => "kvm",
                    "vmware" => "VMware",
                    "microsoft" => "VirtualPC",
                    "oracle" => "virtualbox",
                    other => other,
                };
                guest.insert(t.to_string());
                (t.to_string(), "guest".to_string())
            }
        },
    };
    f.insert("virtualization_type".into(), json!(typ));
    f.insert("virtualization_role".into(), json!(role));
    f.insert(
        "virtualization_tech_guest".into(),
        Value::Array(guest.into_iter().map(|x| json!(x)).collect()),
    );
    f.insert(
        "virtualization_tech_host".into(),
        Value::Array(host.into_iter().map(|x| json!(x)).collect()),
    );
}

/// The host technologies module_utils/facts/virtual/linux.py reads from the loaded kernel
/// modules (`kvm`, `vboxdrv`, `virtio`: the last one it counts as a KVM host too) and
/// `/dev/kvm`, into `host`; the first one found, as the type and role it gives.
fn host_virt(
    sec: &BTreeMap<&str, &str>,
    host: &mut BTreeSet<String>,
) -> Option<(String, &'static str)> {
    let seen = lines(sec.get("virt_host").copied().unwrap_or(""));
    let mut found = None;
    for (what, tech, role) in [
        ("kvm", "kvm", "host"),
        ("vboxdrv", "virtualbox", "host"),
        ("virtio", "kvm", "guest"),
        ("/dev/kvm", "kvm", "host"),
    ] {
        if seen.contains(&what) {
            host.insert(tech.to_string());
            found = found.or(Some((tech.to_string(), role)));
        }
    }
    found
}

/// Turn the gathering script's output into facts (names without `ansible_`), for
/// `collectors`; `given` is the `gather_subset` as the task gave it (Ansible reports that).
/// Pure: tested against recorded outputs.
pub fn parse_facts(
    stdout: &[u8],
    collectors: &BTreeSet<Collector>,
    given: &[String],
) -> Result<Map<String, Value>, String> {
    let sections = super::sysprobe::Sections::parse_bytes(stdout)
        .ok_or("the host's reply to the facts gathering is not what windlass sent for")?;
    let sec = sections.map();
    let mut f = Map::new();
    for c in collectors {
        match c.0 {
            "distribution" => distribution_facts(&sec, &mut f),
            "platform" => platform_facts(&sec, &mut f),
            "service_mgr" => super::setup_service_mgr::facts(&sec, &mut f),
            "pkg_mgr" => pkg_mgr_facts(&sec, &mut f),
            "date_time" => date_time_facts(&sec, &mut f),
            "hardware" => hardware_facts(&sec, &mut f),
            "network" => network_facts(&sec, &mut f),
            "virtual" => virtual_facts(&sec, &mut f),
            other => super::setup_system::facts(other, &sec, &mut f),
        }
    }
    let given: Vec<Value> = if given.is_empty() {
        vec![json!("all")]
    } else {
        given.iter().map(|s| json!(s)).collect()
    };
    f.insert("gather_subset".into(), Value::Array(given));
    f.insert("module_setup".into(), json!(true));
    Ok(f)
}

/// Keep the facts `filters` name, as lib/ansible/module_utils/facts/ansible_collector.py
/// `_filter` does: a pattern matches the fact's full name (`ansible_…`; `gather_subset`
/// and `module_setup` have no prefix), and a pattern that does not start with `ansible_`
/// also matches as `ansible_<pattern>`. An empty pattern matches everything.
pub fn filter_facts(
    facts: Map<String, Value>,
    filters: &[String],
) -> Result<Map<String, Value>, String> {
    if filters.is_empty() || filters == ["*"] {
        return Ok(facts);
    }
    let mut pats = Vec::new();
    for p in filters {
        let direct = glob::Pattern::new(p).map_err(|e| format!("bad filter {p:?}: {e}"))?;
        let prefixed =
            if p.starts_with("ansible_") || p.starts_with("facter") || p.starts_with("ohai") {
                None
            } else {
                Some(
                    glob::Pattern::new(&format!("ansible_{p}"))
                        .map_err(|e| format!("bad filter {p:?}: {e}"))?,
                )
            };
        pats.push((p.is_empty(), direct, prefixed));
    }
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    };
    Ok(facts
        .into_iter()
        .filter(|(k, _)| {
            let full = if matches!(k.as_str(), "gather_subset" | "module_setup") {
                k.clone()
            } else {
                format!("ansible_{k}")
            };
            pats.iter().any(|(empty, d, p)| {
                *empty
                    || d.matches_with(&full, opts)
                    || p.as_ref().is_some_and(|p| p.matches_with(&full, opts))
            })
        })
        .collect())
}

/// `result`'s `ansible_facts` under the names Ansible's setup module gives them
/// (`ansible_distribution`; `gather_subset` and `module_setup` have no prefix), as the
/// module's result carries them (registered, printed by `-v` and the ad-hoc output). The
/// engine keeps facts without the prefix ([`stored_fact_name`]).
pub fn prefix_facts(result: &mut ResultMap) {
    if let Some(Value::Object(f)) = result.get_mut("ansible_facts") {
        let named = std::mem::take(f)
            .into_iter()
            .map(|(k, v)| match k.as_str() {
                "gather_subset" | "module_setup" => (k, v),
                _ => (format!("ansible_{k}"), v),
            })
            .collect();
        *f = named;
    }
}

/// The name under which the engine keeps a fact `setup` returned (`ansible_facts.<name>`,
/// and the variable `ansible_<name>`): without the `ansible_` prefix, except the local
/// facts, which Ansible keeps as `ansible_local` in `ansible_facts` too
/// (lib/ansible/vars/clean.py `clean_facts`, lib/ansible/vars/manager.py).
pub fn stored_fact_name(k: &str) -> String {
    match k {
        "local" | "ansible_local" => "ansible_local".to_string(),
        _ => k.trim_start_matches("ansible_").to_string(),
    }
}

fn timeout_secs(v: &Option<Value>) -> Result<u64, String> {
    match v {
        None | Some(Value::Null) => Ok(10),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("gather_timeout must be a whole number of seconds, got {n}")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("gather_timeout must be a whole number of seconds, got {s:?}")),
        Some(other) => Err(format!("gather_timeout must be a number, got {other}")),
    }
}

/// The interpreter whose facts `python` reports: `ansible_python_interpreter` when set
/// (as Ansible runs its module with it), else the one Ansible's discovery finds on Debian
/// and most distributions.
fn python_interpreter(ctx: &TaskCtx<'_>) -> String {
    ctx.vars
        .get("ansible_python_interpreter")
        .and_then(|v| match v {
            Value::String(s) if !s.contains("{{") && !s.contains("{%") => Some(s),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty() && s != "auto" && !s.starts_with("auto_"))
        .unwrap_or_else(|| "/usr/bin/python3".to_string())
}

/// `ansible.builtin.setup`.
pub struct Setup;

#[async_trait::async_trait]
impl Module for Setup {
    fn name(&self) -> &'static str {
        "ansible.builtin.setup"
    }
    fn fact_gathering(&self) -> Option<&dyn super::FactGathering> {
        Some(self)
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["gather_facts", "ansible.builtin.gather_facts"]
    }
    fn spec(&self) -> ParamSpec {
        let params: Vec<(&'static str, &'static [&'static str])> = field_names::<SetupParams>()
            .iter()
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: SetupParams = params("setup", args)?;
        let collectors = resolve_subsets(&p.gather_subset).map_err(ModuleError::Failed)?;
        let secs = timeout_secs(&p.gather_timeout).map_err(ModuleError::Failed)?;
        let python = python_interpreter(ctx);
        let mut script = gather_script(&collectors, &python);
        let fact_path = p.fact_path.as_deref().unwrap_or("/etc/ansible/facts.d");
        if has(&collectors, "local") {
            script.push_str(&super::setup_local::script(fact_path));
        }
        let mut cmd = RemoteCommand::shell(script).with_become(ctx.become_.clone());
        cmd.timeout = Some(match ctx.timeout {
            Some(t) => t.min(Duration::from_secs(secs)),
            None => Duration::from_secs(secs),
        });
        let out = ctx.transport.exec(&cmd).await.map_err(|e| match e {
            crate::transport::TransportError::Timeout(_) => ModuleError::Failed(format!(
                "gathering facts timed out after {secs}s (gather_timeout)"
            )),
            other => other.into(),
        })?;
        let mut facts = parse_facts(&out.stdout, &collectors, &p.gather_subset).map_err(|e| {
            ModuleError::Failed(format!("{e} (exit code {}): {}", out.rc, out.stderr_str()))
        })?;
        if has(&collectors, "local") {
            if let Some(sections) = super::sysprobe::Sections::parse_bytes(&out.stdout) {
                facts.insert("local".into(), super::setup_local::facts(&sections));
            }
        }
        let facts = filter_facts(facts, &p.filter).map_err(ModuleError::Failed)?;
        let mut named = ResultMap::new();
        named.insert("ansible_facts".into(), Value::Object(facts));
        prefix_facts(&mut named);
        let mut r = TaskResult::with_changed(false);
        for (k, v) in named {
            r.insert(&k, v);
        }
        Ok(r)
    }
}

/// How the engine keeps what `setup` gathers.
impl super::FactGathering for Setup {
    fn stored_name(&self, key: &str) -> String {
        stored_fact_name(key)
    }

    /// The result already holds the module's names (see [`prefix_facts`]).
    fn registered(&self, _result: &mut ResultMap) {}

    fn collectors(&self, gather_subset: &[String]) -> Option<Vec<&'static str>> {
        let collectors = resolve_subsets(gather_subset).ok()?;
        Some(collectors.into_iter().map(Collector::name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{ExecOutput, Transport, TransportError};
    use std::sync::{Arc, Mutex};

    const DEBIAN12: &str = include_str!("../../tests/fixtures/facts/debian12.txt");
    const UBUNTU2204: &str = include_str!("../../tests/fixtures/facts/ubuntu2204.txt");

    /// The facts of a recorded reply (recorded with `@@name` headers, framed here as the
    /// script frames them).
    fn facts_of(recorded: &str, subsets: &BTreeSet<Collector>) -> Map<String, Value> {
        let out = crate::modules::sysprobe::testutil::out(recorded);
        parse_facts(&out.stdout, subsets, &[]).unwrap()
    }

    fn subsets(s: &[&str]) -> BTreeSet<Collector> {
        resolve_subsets(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn script_for_all() {
        insta::assert_snapshot!(
            "setup_script_all",
            gather_script(&subsets(&[]), "/usr/bin/python3")
        );
    }

    #[test]
    fn golden_debian12() {
        let f = facts_of(DEBIAN12, &subsets(&["all"]));
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["distribution_release"], "bookworm");
        assert_eq!(f["distribution_version"], "12.15");
        assert_eq!(f["distribution_major_version"], "12");
        assert_eq!(f["default_ipv4"]["address"], "10.213.0.11");
        assert_eq!(f["processor_vcpus"], 2);
        insta::assert_yaml_snapshot!("setup_debian12", f);
    }

    #[test]
    fn golden_ubuntu2204() {
        let f = facts_of(UBUNTU2204, &subsets(&["all"]));
        assert_eq!(f["distribution"], "Ubuntu");
        assert_eq!(f["distribution_version"], "22.04");
        assert_eq!(f["distribution_release"], "jammy");
        assert_eq!(f["hostname"], "node-a");
        assert_eq!(f["domain"], "k8s.example.net");
        assert_eq!(f["processor_vcpus"], 4);
        assert_eq!(f["processor_cores"], 2);
        assert_eq!(f["processor_threads_per_core"], 2);
        assert_eq!(f["swaptotal_mb"], 2047);
        assert_eq!(f["br_5f2a9c"]["ipv4"]["network"], "172.18.0.0");
        assert_eq!(f["default_ipv6"]["address"], "2001:db8:10::21");
        insta::assert_yaml_snapshot!("setup_ubuntu2204", f);
    }

    #[test]
    fn host_technologies_from_kernel_modules_and_dev_kvm() {
        let virt = |pairs: &[(&'static str, &'static str)]| {
            let mut f = Map::new();
            virtual_facts(&pairs.iter().copied().collect(), &mut f);
            let s = |k: &str| f[k].to_string();
            format!(
                "{} {} {} {}",
                s("virtualization_type"),
                s("virtualization_role"),
                s("virtualization_tech_guest"),
                s("virtualization_tech_host")
            )
        };
        let docker = ("pid1_cgroup", "0::/docker/abc\n");
        assert_eq!(
            virt(&[docker, ("virt_host", "/dev/kvm\n")]),
            r#""docker" "guest" ["container","docker"] ["kvm"]"#
        );
        assert_eq!(
            virt(&[("virt_host", "vboxdrv\nvirtio\n")]),
            r#""virtualbox" "host" [] ["kvm","virtualbox"]"#
        );
        assert_eq!(
            virt(&[("virt", "kvm\n"), ("virt_host", "virtio\n")]),
            r#""kvm" "guest" ["kvm"] ["kvm"]"#
        );
        assert_eq!(virt(&[]), r#""NA" "NA" [] []"#);
    }

    #[test]
    fn only_the_chosen_collectors_are_gathered() {
        let e = resolve_subsets(&["netwrk".to_string()]).unwrap_err();
        assert!(
            e.starts_with("Bad subset 'netwrk' given to Ansible."),
            "{e}"
        );
        let s = gather_script(&subsets(&["!all"]), "/usr/bin/python3");
        assert!(s.contains("os_release") && !s.contains("ip -o addr") && !s.contains("meminfo"));
        let f = facts_of(DEBIAN12, &subsets(&["!all"]));
        assert!(f.contains_key("distribution") && !f.contains_key("default_ipv4"));
        assert!(!f.contains_key("memtotal_mb"));
        assert_eq!(f["gather_subset"], json!(["all"]));
        // network brings the collectors it requires, even without min.
        let f = facts_of(DEBIAN12, &subsets(&["!all", "!min", "network"]));
        assert!(f.contains_key("default_ipv4") && f.contains_key("distribution"));
        assert!(f.contains_key("system") && !f.contains_key("user_id"));
    }

    /// Numbers the host makes up (a huge disk, a CPU with absurd counts, empty lines)
    /// give facts, never a panic.
    #[test]
    fn outlandish_host_numbers_do_not_panic() {
        let big = u64::MAX.to_string();
        let reply = crate::modules::sysprobe::testutil::reply(&[
            ("uname", "Linux\nh\n1\n#1\nx86_64\n"),
            (
                "cpuinfo",
                &format!(
                    "processor\t: 0\nphysical id\t: 0\ncpu cores\t: {big}\nsiblings\t: {big}\n\n"
                ),
            ),
            ("meminfo", &format!("MemTotal: {big} kB\nMemFree: 1 kB\n")),
            (
                "blockdevs",
                &format!(
                    "@dev\tvda\tx\nsize\t{big}\nqueue/logical_block_size\t0\n@part\tvda1\nsize\t{big}\n\n\t\n"
                ),
            ),
            ("devlinks", "masters\t/x\nby-id\n\t\t\n"),
            ("findmnt", "\n \n/a [x]\n"),
            ("mtab", "/dev/x /a ext4 rw 0 0 extra\n/dev/y\n"),
            (
                "statfs",
                &format!("/a\t{big} {big} {big} {big} {big} {big} {big}\n"),
            ),
            ("user", "\n::::::\n"),
            ("dns", "options\nnameserver\n"),
            ("date", "1 2 3 4 5 6 7 8 9 10 11 12 \u{e9}\n"),
            ("lvm", "have\nroot\n"),
            ("vgs", ",\n"),
        ]);
        let f = parse_facts(&reply.stdout, &subsets(&["all"]), &[]).unwrap();
        assert!(f.contains_key("devices") && f.contains_key("processor_vcpus"));
    }

    #[test]
    fn filter_matches_with_or_without_prefix() {
        let f = facts_of(DEBIAN12, &subsets(&[]));
        let got = filter_facts(f.clone(), &["ansible_distribution*".into()]).unwrap();
        let mut keys: Vec<&String> = got.keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                "distribution",
                "distribution_file_parsed",
                "distribution_file_path",
                "distribution_file_variety",
                "distribution_major_version",
                "distribution_minor_version",
                "distribution_release",
                "distribution_version"
            ]
        );
        let got = filter_facts(f.clone(), &["host0".into(), "memtotal_mb".into()]).unwrap();
        assert_eq!(got.len(), 2);
        // Ansible matches the prefixed names: `ansible_*` keeps no `gather_subset`, and
        // `gather_subset` itself has no prefix.
        let got = filter_facts(f.clone(), &["ansible_*".into()]).unwrap();
        assert!(!got.contains_key("gather_subset") && got.contains_key("system"));
        let got = filter_facts(f, &["gather_subset".into()]).unwrap();
        assert_eq!(got.len(), 1);
    }

    /// Answers every command with a recorded output and counts the calls.
    struct Recorded {
        out: String,
        scripts: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl Transport for Recorded {
        async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
            self.scripts.lock().unwrap().push(cmd.to_shell());
            Ok(ExecOutput {
                rc: 0,
                stdout: self.out.clone().into_bytes(),
                stderr: vec![],
            })
        }
    }

    #[tokio::test]
    async fn one_round_trip_per_call_respecting_subset() {
        let t = Arc::new(Recorded {
            out: String::from_utf8(crate::modules::sysprobe::testutil::out(DEBIAN12).stdout)
                .unwrap(),
            scripts: Mutex::new(vec![]),
        });
        let templar = crate::template::Templar::new();
        let ctx = TaskCtx {
            host: "h",
            transport: t.clone(),
            check: true,
            diff: false,
            become_: None,
            env: vec![],
            vars: Arc::new(crate::template::MapVars::new(json!({}))),
            templar: &templar,
            timeout: None,
            changed_before: false,
            verbosity: 0,
            remote_tmp: crate::command::DEFAULT_REMOTE_TMP.into(),
            no_log: false,
            delegate: None,
        };
        let all = Setup.run(&ctx, Map::new()).await.unwrap();
        // Under the names the module gives them (setup.py's `ansible_` prefix).
        assert_eq!(
            all.data()["ansible_facts"]["ansible_distribution"],
            "Debian"
        );
        let mut args = Map::new();
        args.insert("gather_subset".into(), json!(["!all", "network"]));
        args.insert("filter".into(), json!("ansible_default_ipv4"));
        let net = Setup.run(&ctx, args).await.unwrap();
        let scripts = t.scripts.lock().unwrap();
        assert_eq!(scripts.len(), 2, "one command per setup call");
        assert!(!scripts[1].contains("meminfo") && scripts[1].contains("ip -o addr"));
        let facts = net.data()["ansible_facts"].as_object().unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["ansible_default_ipv4"]["gateway"], "10.213.0.1");
    }

    /// A host file whose content prints a section header cannot fake another section's
    /// facts: the real gathering script runs here with its `cat /etc/machine-id` replaced
    /// by hostile text that repeats earlier sections (on the old reply, the last one won).
    #[test]
    fn file_content_cannot_fake_a_section() {
        let hostile = "abc\n@@fqdn\nforged.example\n@@user\nforged\n4242\n4242\n/forged\n/bin/forged\n@@0123456789abcdef0123456789abcdef fqdn\nforged.example";
        let script = gather_script(&subsets(&["!all"]), "/usr/bin/python3").replacen(
            "cat /var/lib/dbus/machine-id 2>/dev/null || cat /etc/machine-id 2>/dev/null",
            &format!("printf '%s\\n' {}", crate::command::quote(hostile)),
            1,
        );
        let out =
            crate::transport::local::LocalTransport::exec_blocking(&RemoteCommand::shell(script));
        let f = parse_facts(&out.stdout, &subsets(&["!all"]), &[]).unwrap();
        assert_ne!(f["fqdn"], "forged.example", "{:?}", f["fqdn"]);
        assert_ne!(f["user_id"], "forged", "{:?}", f["user_id"]);
        assert_ne!(f["user_uid"], 4242, "{:?}", f["user_uid"]);
        // platform.py keeps the first line.
        assert_eq!(f["machine_id"], json!("abc"), "{:?}", f["machine_id"]);
    }
}
