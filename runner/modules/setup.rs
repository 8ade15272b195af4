//! `ansible.builtin.setup` (alias `gather_facts`): gather facts about a host.
//!
//! Why this module exists: playbooks (and Kubespray above all) branch on
//! `ansible_os_family`, `ansible_default_ipv4.address`, `ansible_processor_vcpus` and
//! friends. Ansible ships a Python program to the host for this; windlass runs ONE POSIX
//! `sh` script that prints raw sections (`/etc/os-release`, `uname`, `ip -o addr`,
//! `/proc/meminfo`, …) using only what a minimal Debian has, and parses them here in a pure
//! function ([`parse_facts`]) so the parsing is tested against recorded outputs.
//! `gather_subset` chooses which sections the script gathers; `filter` trims the result.
//! The engine stores the returned `ansible_facts` as the host's facts (names without the
//! `ansible_` prefix; it exposes each as `ansible_facts.<name>` and `ansible_<name>`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::string_list;
use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx};
use crate::command::RemoteCommand;

/// Parameters of `setup`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupParams {
    /// Which facts to gather: `all` (default), `min`, `hardware`, `network`, `virtual`;
    /// prefix with `!` to exclude (`!hardware`, `!all` = only `min`). A list or a
    /// comma-separated string.
    #[serde(default, deserialize_with = "string_list")]
    pub gather_subset: Vec<String>,
    /// Only return facts whose name matches one of these shell-style globs (with or
    /// without the `ansible_` prefix: `ansible_eth*`, `default_ipv4`). Default: all.
    #[serde(default, deserialize_with = "string_list")]
    pub filter: Vec<String>,
    /// Seconds the gathering command may take. Default 10.
    #[serde(default)]
    pub gather_timeout: Option<Value>,
    /// Accepted for compatibility; local facts (`/etc/ansible/facts.d`) are not read.
    #[serde(default)]
    pub fact_path: Option<String>,
}

/// A group of facts the script can gather.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subset {
    /// Distribution, platform, hostname, user, service and package manager, date.
    Min,
    /// Memory and processors.
    Hardware,
    /// Interfaces, addresses, default routes.
    Network,
    /// Virtualization type and role.
    Virtual,
}

impl Subset {
    /// The subset's name, as `gather_subset` and the `gather_subset` fact spell it.
    pub fn name(self) -> &'static str {
        match self {
            Subset::Min => "min",
            Subset::Hardware => "hardware",
            Subset::Network => "network",
            Subset::Virtual => "virtual",
        }
    }
}

const ALL: [Subset; 3] = [Subset::Hardware, Subset::Network, Subset::Virtual];

/// Resolve `gather_subset` as Ansible does: `all` adds everything, `!x` excludes, only
/// exclusions means "all but those", and `min` is always there unless `!min`.
pub fn resolve_subsets(given: &[String]) -> Result<BTreeSet<Subset>, String> {
    let named = |s: &str| -> Result<Option<Subset>, String> {
        Ok(Some(match s {
            "min" => Subset::Min,
            "hardware" | "devices" | "dmi" => Subset::Hardware,
            "network" | "interfaces" => Subset::Network,
            "virtual" => Subset::Virtual,
            "all" => return Ok(None),
            // Fine-grained min collectors are gathered with min.
            "distribution" | "platform" | "service_mgr" | "pkg_mgr" | "user" | "date_time"
            | "env" | "dns" | "lsb" | "python" | "selinux" | "apparmor" | "caps" | "cmdline"
            | "fips" | "local" | "ssh_pub_keys" => Subset::Min,
            other => {
                return Err(format!(
                    "Bad subset '{other}' given to Ansible. gather_subset options allowed: all, min, hardware, network, virtual (and !name to exclude)"
                ));
            }
        }))
    };
    let given: Vec<&str> = if given.is_empty() {
        vec!["all"]
    } else {
        given.iter().map(|s| s.trim()).collect()
    };
    let mut add = BTreeSet::new();
    let mut exclude = BTreeSet::new();
    let mut exclude_all = false;
    let mut any_add = false;
    for s in &given {
        if let Some(x) = s.strip_prefix('!') {
            match named(x)? {
                None => exclude_all = true,
                Some(sub) => {
                    exclude.insert(sub);
                }
            }
        } else {
            any_add = true;
            match named(s)? {
                None => add.extend(ALL),
                Some(sub) => {
                    add.insert(sub);
                }
            }
        }
    }
    if !any_add && !exclude_all {
        add.extend(ALL);
    }
    add.insert(Subset::Min);
    Ok(add.into_iter().filter(|s| !exclude.contains(s)).collect())
}

/// The gathering script for `subsets`: a framed reply (see [`super::sysprobe`]) whose
/// sections hold raw command output, so no file or command output can fake another
/// section. Only reads; every command may be missing (its section is then empty).
pub fn gather_script(subsets: &BTreeSet<Subset>) -> String {
    let mut s = format!(
        "LC_ALL=C; export LC_ALL; {}s() {{ printf '\\n@@%s %s\\n' \"$wl_n\" \"$1\"; }}\n",
        super::sysprobe::PRELUDE
    );
    if subsets.contains(&Subset::Min) {
        s.push_str(concat!(
            "s os_release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null\n",
            "s debian_version; cat /etc/debian_version 2>/dev/null\n",
            "s uname; uname -s; uname -n; uname -r; uname -v; uname -m\n",
            "s fqdn; hostname -f 2>/dev/null\n",
            "s user; id -un; id -u; id -g; printf '%s\\n' \"$HOME\" \"$SHELL\"\n",
            "s machine_id; cat /etc/machine-id 2>/dev/null\n",
            "s init; cat /proc/1/comm 2>/dev/null; [ -d /run/systemd/system ] && echo run-systemd\n",
            "s pkg; for p in apt-get dnf yum zypper apk pacman; do command -v $p >/dev/null 2>&1 && echo $p; done\n",
            "s date; date '+%Y %m %d %H %M %S %s %Z %z %A %u %W %j'; date -u '+%Y-%m-%dT%H:%M:%SZ'\n",
        ));
    }
    if subsets.contains(&Subset::Hardware) {
        s.push_str(concat!(
            "s meminfo; cat /proc/meminfo 2>/dev/null\n",
            "s cpuinfo; cat /proc/cpuinfo 2>/dev/null\n",
            "s nproc; nproc 2>/dev/null\n",
        ));
    }
    if subsets.contains(&Subset::Network) {
        s.push_str(concat!(
            "s addr; ip -o addr show 2>/dev/null\n",
            "s route4; ip -4 route show default 2>/dev/null\n",
            "s route6; ip -6 route show default 2>/dev/null\n",
            "s links; for d in /sys/class/net/*; do [ -e \"$d/mtu\" ] || continue; ",
            "printf '%s\\t%s\\t%s\\t%s\\t%s\\n' \"${d##*/}\" \"$(cat \"$d/address\" 2>/dev/null)\" ",
            "\"$(cat \"$d/mtu\" 2>/dev/null)\" \"$(cat \"$d/flags\" 2>/dev/null)\" ",
            "\"$(cat \"$d/type\" 2>/dev/null)\"; done\n",
        ));
    }
    if subsets.contains(&Subset::Virtual) {
        s.push_str(concat!(
            "s virt; command -v systemd-detect-virt >/dev/null 2>&1 && systemd-detect-virt 2>/dev/null\n",
            "s container; cat /run/systemd/container 2>/dev/null; echo; ",
            "tr '\\0' '\\n' < /proc/1/environ 2>/dev/null | grep '^container='; ",
            "[ -e /.dockerenv ] && echo docker\n",
        ));
    }
    s.push_str("s end\n");
    s
}

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

fn min_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
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

    let un = lines(sec.get("uname").copied().unwrap_or(""));
    let u = |i: usize| un.get(i).copied().unwrap_or("").to_string();
    let nodename = u(1);
    f.insert("system".into(), json!(u(0)));
    f.insert("kernel".into(), json!(u(2)));
    f.insert("kernel_version".into(), json!(u(3)));
    f.insert("machine".into(), json!(u(4)));
    let arch = match u(4).as_str() {
        "i686" | "i586" | "i486" => "i386".to_string(),
        other => other.to_string(),
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

    let user: Vec<&str> = sec
        .get("user")
        .copied()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .collect();
    let uget = |i: usize| user.get(i).copied().unwrap_or("");
    f.insert("user_id".into(), json!(uget(0)));
    if let Ok(uid) = uget(1).parse::<u64>() {
        f.insert("user_uid".into(), json!(uid));
    }
    if let Ok(gid) = uget(2).parse::<u64>() {
        f.insert("user_gid".into(), json!(gid));
    }
    f.insert("user_dir".into(), json!(uget(3)));
    f.insert("user_shell".into(), json!(uget(4)));

    if let Some(id) = sec
        .get("machine_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        f.insert("machine_id".into(), json!(id));
    }

    let init = lines(sec.get("init").copied().unwrap_or(""));
    let comm = init.first().copied().unwrap_or("");
    let svc = if comm == "systemd" || init.contains(&"run-systemd") {
        "systemd"
    } else {
        match comm {
            "init" => "sysvinit",
            "openrc-init" | "openrc" => "openrc",
            "runit" | "runit-init" => "runit",
            _ => "service",
        }
    };
    f.insert("service_mgr".into(), json!(svc));

    let pkg = lines(sec.get("pkg").copied().unwrap_or(""));
    let pm = match pkg.first().copied() {
        Some("apt-get") => "apt",
        Some(p) => p,
        None => "unknown",
    };
    f.insert("pkg_mgr".into(), json!(pm));

    let d = lines(sec.get("date").copied().unwrap_or(""));
    if let Some(first) = d.first() {
        let w: Vec<&str> = first.split_whitespace().collect();
        if w.len() >= 12 {
            let mut dt = Map::new();
            dt.insert("year".into(), json!(w[0]));
            dt.insert("month".into(), json!(w[1]));
            dt.insert("day".into(), json!(w[2]));
            dt.insert("hour".into(), json!(w[3]));
            dt.insert("minute".into(), json!(w[4]));
            dt.insert("second".into(), json!(w[5]));
            dt.insert("epoch".into(), json!(w[6]));
            dt.insert("epoch_int".into(), json!(w[6]));
            dt.insert("tz".into(), json!(w[7]));
            dt.insert("tz_offset".into(), json!(w[8]));
            dt.insert("weekday".into(), json!(w[9]));
            dt.insert("weekday_number".into(), json!(w[10]));
            dt.insert("weeknumber".into(), json!(w[11]));
            dt.insert("date".into(), json!(format!("{}-{}-{}", w[0], w[1], w[2])));
            dt.insert("time".into(), json!(format!("{}:{}:{}", w[3], w[4], w[5])));
            if let Some(iso) = d.get(1) {
                dt.insert("iso8601".into(), json!(iso));
            }
            f.insert("date_time".into(), Value::Object(dt));
        }
    }
}

fn kb_to_mb(kb: u64) -> u64 {
    kb / 1024
}

fn hardware_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let mem: BTreeMap<&str, u64> = sec
        .get("meminfo")
        .copied()
        .unwrap_or("")
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let n = v.split_whitespace().next()?.parse().ok()?;
            Some((k.trim(), n))
        })
        .collect();
    let m = |k: &str| mem.get(k).copied().unwrap_or(0);
    if !mem.is_empty() {
        let (total, free) = (m("MemTotal"), m("MemFree"));
        let (stotal, sfree) = (m("SwapTotal"), m("SwapFree"));
        f.insert("memtotal_mb".into(), json!(kb_to_mb(total)));
        f.insert("memfree_mb".into(), json!(kb_to_mb(free)));
        f.insert("swaptotal_mb".into(), json!(kb_to_mb(stotal)));
        f.insert("swapfree_mb".into(), json!(kb_to_mb(sfree)));
        let nocache_free = free + m("Buffers") + m("Cached");
        f.insert(
            "memory_mb".into(),
            json!({
                "real": {"total": kb_to_mb(total), "free": kb_to_mb(free),
                         "used": kb_to_mb(total.saturating_sub(free))},
                "nocache": {"free": kb_to_mb(nocache_free),
                            "used": kb_to_mb(total.saturating_sub(nocache_free))},
                "swap": {"total": kb_to_mb(stotal), "free": kb_to_mb(sfree),
                         "used": kb_to_mb(stotal.saturating_sub(sfree)),
                         "cached": kb_to_mb(m("SwapCached"))},
            }),
        );
    }
    // /proc/cpuinfo: blocks separated by blank lines, one per logical CPU.
    let cpuinfo = sec.get("cpuinfo").copied().unwrap_or("");
    let mut processor = Vec::new();
    let mut sockets = BTreeSet::new();
    let mut cores_per_socket = None;
    let mut siblings = None;
    let mut logical = 0u64;
    for block in cpuinfo.split("\n\n") {
        let kv: BTreeMap<&str, &str> = block
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let Some(idx) = kv.get("processor") else {
            continue;
        };
        logical += 1;
        processor.push(json!(idx));
        if let Some(v) = kv.get("vendor_id") {
            processor.push(json!(v));
        }
        if let Some(v) = kv
            .get("model name")
            .or(kv.get("Processor"))
            .or(kv.get("cpu model"))
        {
            processor.push(json!(v));
        }
        if let Some(p) = kv.get("physical id") {
            sockets.insert(p.to_string());
        }
        if let Some(c) = kv.get("cpu cores").and_then(|c| c.parse::<u64>().ok()) {
            cores_per_socket = Some(c);
        }
        if let Some(s) = kv.get("siblings").and_then(|c| c.parse::<u64>().ok()) {
            siblings = Some(s);
        }
    }
    if logical > 0 {
        let (count, cores, threads) = if sockets.is_empty() {
            (logical, 1, 1)
        } else {
            let cores = cores_per_socket.unwrap_or(1).max(1);
            let threads = siblings.map(|s| (s / cores).max(1)).unwrap_or(1);
            (sockets.len() as u64, cores, threads)
        };
        f.insert("processor".into(), Value::Array(processor));
        f.insert("processor_count".into(), json!(count));
        f.insert("processor_cores".into(), json!(cores));
        f.insert("processor_threads_per_core".into(), json!(threads));
        f.insert("processor_vcpus".into(), json!(count * cores * threads));
    }
    if let Some(n) = sec.get("nproc").and_then(|s| s.trim().parse::<u64>().ok()) {
        f.insert("processor_nproc".into(), json!(n));
    }
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
    if let Some(b) = &a.broadcast {
        m.insert("broadcast".into(), json!(b));
    }
    if let Some((mask, net)) = v4_netmask_network(&a.address, a.prefix) {
        m.insert("netmask".into(), json!(mask));
        m.insert("network".into(), json!(net));
    }
    m.insert("prefix".into(), json!(a.prefix.to_string()));
    Value::Object(m)
}

fn link_type(t: &str) -> &'static str {
    match t {
        "1" => "ether",
        "772" => "loopback",
        "65534" => "tunnel",
        "776" => "tunnel6",
        "768" => "ipip",
        "32" => "infiniband",
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
    // name → (mac, mtu, flags, type)
    let mut links: IndexMap<String, (String, String, String, String)> = IndexMap::new();
    for l in sec.get("links").copied().unwrap_or("").lines() {
        let w: Vec<&str> = l.split('\t').map(str::trim).collect();
        if w.len() >= 5 && !w[0].is_empty() {
            links.insert(
                w[0].to_string(),
                (w[1].into(), w[2].into(), w[3].into(), w[4].into()),
            );
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
        if let Some((mac, mtu, flags, typ)) = links.get(name) {
            let flags = u64::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap_or(0);
            d.insert("active".into(), json!(flags & 1 == 1));
            d.insert("promisc".into(), json!(flags & 0x100 != 0));
            if !mac.is_empty() && mac != "00:00:00:00:00:00" {
                d.insert("macaddress".into(), json!(mac));
            }
            if let Ok(m) = mtu.parse::<u64>() {
                d.insert("mtu".into(), json!(m));
            }
            d.insert("type".into(), json!(link_type(typ)));
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
        f.insert(name.replace('-', "_"), Value::Object(d));
    }
}

fn virtual_facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let detected = sec.get("virt").map(|s| s.trim()).unwrap_or("");
    let container = lines(sec.get("container").copied().unwrap_or(""))
        .into_iter()
        .map(|l| l.strip_prefix("container=").unwrap_or(l))
        .next()
        .unwrap_or("")
        .to_string();
    let (typ, role) = match detected {
        "" | "none" if !container.is_empty() => (container.clone(), "guest"),
        "" | "none" => ("NA".to_string(), "NA"),
        "qemu" | "kvm" => ("kvm".into(), "guest"),
        "vmware" => ("VMware".into(), "guest"),
        "microsoft" => ("VirtualPC".into(), "guest"),
        "oracle" => ("virtualbox".into(), "guest"),
        "container-other" if !container.is_empty() => (container.clone(), "guest"),
        other => (other.to_string(), "guest"),
    };
    let tech: Vec<Value> = if role == "guest" {
        vec![json!(typ)]
    } else {
        vec![]
    };
    f.insert("virtualization_type".into(), json!(typ));
    f.insert("virtualization_role".into(), json!(role));
    f.insert("virtualization_tech_guest".into(), Value::Array(tech));
    f.insert("virtualization_tech_host".into(), Value::Array(vec![]));
}

/// Turn the gathering script's output into facts (names without `ansible_`), for the
/// sections of `subsets` that are present. Pure: tested against recorded outputs.
pub fn parse_facts(
    stdout: &[u8],
    subsets: &BTreeSet<Subset>,
) -> Result<Map<String, Value>, String> {
    let sections = super::sysprobe::Sections::parse_bytes(stdout)
        .ok_or("the host's reply to the facts gathering is not what windlass sent for")?;
    let sec = sections.map();
    let mut f = Map::new();
    if subsets.contains(&Subset::Min) {
        min_facts(&sec, &mut f);
    }
    if subsets.contains(&Subset::Hardware) {
        hardware_facts(&sec, &mut f);
    }
    if subsets.contains(&Subset::Network) {
        network_facts(&sec, &mut f);
    }
    if subsets.contains(&Subset::Virtual) {
        virtual_facts(&sec, &mut f);
    }
    f.insert(
        "gather_subset".into(),
        Value::Array(subsets.iter().map(|s| json!(s.name())).collect()),
    );
    f.insert("module_setup".into(), json!(true));
    Ok(f)
}

/// Keep the facts whose name (with or without `ansible_`) matches one of `filters`.
pub fn filter_facts(
    facts: Map<String, Value>,
    filters: &[String],
) -> Result<Map<String, Value>, String> {
    if filters.is_empty() || filters.iter().all(|p| p == "*") {
        return Ok(facts);
    }
    let pats = filters
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad filter {p:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(facts
        .into_iter()
        .filter(|(k, _)| {
            let long = format!("ansible_{k}");
            pats.iter().any(|p| p.matches(k) || p.matches(&long))
        })
        .collect())
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

/// `ansible.builtin.setup`.
pub struct Setup;

#[async_trait::async_trait]
impl Module for Setup {
    fn name(&self) -> &'static str {
        "ansible.builtin.setup"
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
    ) -> Result<ResultMap, ModuleError> {
        let p: SetupParams = params("setup", args)?;
        let subsets = resolve_subsets(&p.gather_subset).map_err(ModuleError::Failed)?;
        let secs = timeout_secs(&p.gather_timeout).map_err(ModuleError::Failed)?;
        let mut cmd =
            RemoteCommand::shell(gather_script(&subsets)).with_become(ctx.become_.clone());
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
        let facts = parse_facts(&out.stdout, &subsets).map_err(|e| {
            ModuleError::Failed(format!("{e} (exit code {}): {}", out.rc, out.stderr_str()))
        })?;
        let facts = filter_facts(facts, &p.filter).map_err(ModuleError::Failed)?;
        let mut r = ResultMap::new();
        r.insert("changed".into(), Value::Bool(false));
        r.insert("ansible_facts".into(), Value::Object(facts));
        Ok(r)
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
    fn facts_of(recorded: &str, subsets: &BTreeSet<Subset>) -> Map<String, Value> {
        let out = crate::modules::sysprobe::testutil::out(recorded);
        parse_facts(&out.stdout, subsets).unwrap()
    }

    fn subsets(s: &[&str]) -> BTreeSet<Subset> {
        resolve_subsets(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn script_for_all() {
        insta::assert_snapshot!("setup_script_all", gather_script(&subsets(&[])));
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
    fn subsets_follow_ansible() {
        use Subset::*;
        let v = |s: &[&str]| subsets(s).into_iter().collect::<Vec<_>>();
        assert_eq!(v(&["all"]), vec![Min, Hardware, Network, Virtual]);
        assert_eq!(v(&["!all"]), vec![Min]);
        assert_eq!(v(&["!hardware"]), vec![Min, Network, Virtual]);
        assert_eq!(v(&["network"]), vec![Min, Network]);
        assert_eq!(v(&["!all", "!min"]), Vec::<Subset>::new());
        assert_eq!(v(&["network", "!min"]), vec![Network]);
        let e = resolve_subsets(&["netwrk".to_string()]).unwrap_err();
        insta::assert_snapshot!("setup_err_subset", e);
        // Only the chosen sections are gathered and parsed.
        let s = gather_script(&subsets(&["!all"]));
        assert!(s.contains("os_release") && !s.contains("ip -o addr") && !s.contains("meminfo"));
        let f = facts_of(DEBIAN12, &subsets(&["!all"]));
        assert!(f.contains_key("distribution") && !f.contains_key("default_ipv4"));
        assert!(!f.contains_key("memtotal_mb"));
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
                "distribution_major_version",
                "distribution_minor_version",
                "distribution_release",
                "distribution_version"
            ]
        );
        let got = filter_facts(f, &["host0".into(), "memtotal_mb".into()]).unwrap();
        assert_eq!(got.len(), 2);
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
        };
        let all = Setup.run(&ctx, Map::new()).await.unwrap();
        assert_eq!(all["ansible_facts"]["distribution"], "Debian");
        let mut args = Map::new();
        args.insert("gather_subset".into(), json!(["!all", "network"]));
        args.insert("filter".into(), json!("ansible_default_ipv4"));
        let net = Setup.run(&ctx, args).await.unwrap();
        let scripts = t.scripts.lock().unwrap();
        assert_eq!(scripts.len(), 2, "one command per setup call");
        assert!(!scripts[1].contains("meminfo") && scripts[1].contains("ip -o addr"));
        let facts = net["ansible_facts"].as_object().unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts["default_ipv4"]["gateway"], "10.213.0.1");
    }

    /// A host file whose content prints a section header cannot fake another section's
    /// facts: the real gathering script runs here with its `cat /etc/machine-id` replaced
    /// by hostile text that repeats earlier sections (on the old reply, the last one won).
    #[test]
    fn file_content_cannot_fake_a_section() {
        let hostile = "abc\n@@fqdn\nforged.example\n@@user\nforged\n4242\n4242\n/forged\n/bin/forged\n@@0123456789abcdef0123456789abcdef fqdn\nforged.example";
        let script = gather_script(&subsets(&["!all"])).replacen(
            "cat /etc/machine-id 2>/dev/null",
            &format!("printf '%s\\n' {}", crate::command::quote(hostile)),
            1,
        );
        let out =
            crate::transport::local::LocalTransport::exec_blocking(&RemoteCommand::shell(script));
        let f = parse_facts(&out.stdout, &subsets(&["!all"])).unwrap();
        assert_ne!(f["fqdn"], "forged.example", "{:?}", f["fqdn"]);
        assert_ne!(f["user_id"], "forged", "{:?}", f["user_id"]);
        assert_ne!(f["user_uid"], 4242, "{:?}", f["user_uid"]);
        assert_eq!(f["machine_id"], json!(hostile), "{:?}", f["machine_id"]);
    }
}
