//! The smaller fact collectors of `setup` (env, dns, python, systemd, cmdline, user, ssh
//! host keys, selinux, apparmor, fips, chroot, caps, loadavg, lsb, local, nvme, iscsi,
//! fibre channel) and the hardware facts beyond CPU and memory (DMI, uptime, LVM, mounts,
//! block devices).
//!
//! Why this module exists: playbooks read these facts (`ansible_env.HOME`,
//! `ansible_python.version.major`, `ansible_mounts`, `ansible_ssh_host_key_*`, …), and
//! windlass must give the same values Ansible's Python collectors compute, without Python
//! modules on the host. Each collector adds raw sections to the one gathering script
//! ([`script`]) and parses them here ([`facts`]), after the collector's file under
//! `lib/ansible/module_utils/facts/` (named at each function).

use std::collections::BTreeMap;

use base64::Engine as _;
use indexmap::IndexMap;
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::command::quote;

type Sec<'a> = BTreeMap<&'a str, &'a str>;

/// The sections of the `python` and `platform` collectors: `python` is the interpreter
/// whose facts they report.
pub fn python_section(python: &str) -> String {
    let py = quote(python);
    format!("s python; {py} -c '{PY}' 2>/dev/null\ns bits; getconf LONG_BIT 2>/dev/null\n")
}

/// The script text of collector `name` (empty when it needs no section of its own).
pub fn script(name: &str) -> String {
    match name {
        "platform" | "python" => String::new(),
        "user" => concat!(
            "s user; u=${LOGNAME:-${USER:-${LNAME:-${USERNAME:-}}}}; [ -n \"$u\" ] || u=$(id -un); ",
            "printf '%s\\n' \"$u\"; getent passwd \"$u\" || getent passwd \"$(id -u)\"; ",
            "id -ru; id -u; id -rg\n"
        )
        .to_string(),
        "dns" => "s dns; cat /etc/resolv.conf 2>/dev/null\n".into(),
        "systemd" => {
            "s systemd; [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && systemctl --version 2>/dev/null\n".into()
        }
        "cmdline" => "s cmdline; cat /proc/cmdline 2>/dev/null\n".into(),
        "chroot" => concat!(
            "s chroot; stat -c '%d %i' / 2>/dev/null; ",
            "stat -c '%d %i' /proc/1/root/. 2>/dev/null || echo fail; ",
            "stat -f -c %T / 2>/dev/null\n"
        )
        .into(),
        "fips" => "s fips; cat /proc/sys/crypto/fips_enabled 2>/dev/null\n".into(),
        "apparmor" => "s apparmor; [ -e /sys/kernel/security/apparmor ] && echo enabled\n".into(),
        "selinux" => concat!(
            "s selinux; for f in /lib/*/libselinux.so.1 /usr/lib/*/libselinux.so.1 /lib64/libselinux.so.1 ",
            "/usr/lib64/libselinux.so.1 /lib/libselinux.so.1 /usr/lib/libselinux.so.1; ",
            "do [ -e \"$f\" ] && { echo lib; break; }; done; ",
            "[ -e /sys/fs/selinux/enforce ] && echo \"enforce $(cat /sys/fs/selinux/enforce)\" ",
            "\"$(cat /sys/fs/selinux/policyvers 2>/dev/null)\"; ",
            "s selinux_config; cat /etc/selinux/config 2>/dev/null\n"
        )
        .into(),
        "caps" => {
            "s caps; command -v capsh >/dev/null 2>&1 && { capsh --print 2>/dev/null; echo \"rc $?\"; }\n".into()
        }
        "loadavg" => "s loadavg; cat /proc/loadavg 2>/dev/null\n".into(),
        "lsb" => concat!(
            "s lsb_bin; command -v lsb_release >/dev/null 2>&1 && lsb_release -a 2>/dev/null\n",
            "s lsb_file; cat /etc/lsb-release 2>/dev/null\n"
        )
        .into(),
        "ssh_pub_keys" => {
            let mut s = String::new();
            for dir in SSH_KEY_DIRS {
                for algo in SSH_ALGOS {
                    let f = format!("{dir}/ssh_host_{algo}_key.pub");
                    s.push_str(&format!("[ -f {f} ] && {{ s 'sshkey {f}'; cat {f}; }}\n"));
                }
            }
            s
        }
        "nvme" => "s nvme; cat /etc/nvme/hostnqn 2>/dev/null\n".into(),
        "iscsi" => "s iscsi; cat /etc/iscsi/initiatorname.iscsi 2>/dev/null\n".into(),
        "fibre_channel_wwn" => {
            "s fc; for f in /sys/class/fc_host/*/port_name; do [ -f \"$f\" ] && cat \"$f\"; done\n".into()
        }
        "hardware" => HARDWARE_SCRIPT.to_string(),
        _ => String::new(),
    }
}

/// The Python facts, printed by the interpreter Ansible would run its module with
/// (lib/ansible/module_utils/facts/system/python.py, and platform.py's `python_version`
/// and `userspace_bits`). No single quote: it travels in one.
const PY: &str = "import sys, json, platform\ntry:\n    from ssl import SSLContext\n    h = True\nexcept Exception:\n    h = False\nv = sys.version_info\nprint(json.dumps({\"version\": {\"major\": v[0], \"minor\": v[1], \"micro\": v[2], \"releaselevel\": v[3], \"serial\": v[4]}, \"version_info\": list(v), \"executable\": sys.executable, \"has_sslcontext\": h, \"type\": getattr(getattr(sys, \"implementation\", None), \"name\", None), \"python_version\": platform.python_version(), \"bits\": platform.architecture()[0]}))";

const SSH_KEY_DIRS: [&str; 3] = ["/etc/ssh", "/etc/openssh", "/etc"];
const SSH_ALGOS: [&str; 4] = ["dsa", "rsa", "ecdsa", "ed25519"];

/// DMI fact → file under /sys/devices/virtual/dmi/id, and dmidecode's keyword.
const DMI: [(&str, &str, &str); 18] = [
    ("bios_date", "bios_date", "bios-release-date"),
    ("bios_vendor", "bios_vendor", "bios-vendor"),
    ("bios_version", "bios_version", "bios-version"),
    ("board_asset_tag", "board_asset_tag", "baseboard-asset-tag"),
    ("board_name", "board_name", "baseboard-product-name"),
    ("board_serial", "board_serial", "baseboard-serial-number"),
    ("board_vendor", "board_vendor", "baseboard-manufacturer"),
    ("board_version", "board_version", "baseboard-version"),
    (
        "chassis_asset_tag",
        "chassis_asset_tag",
        "chassis-asset-tag",
    ),
    ("chassis_serial", "chassis_serial", "chassis-serial-number"),
    ("chassis_vendor", "chassis_vendor", "chassis-manufacturer"),
    ("chassis_version", "chassis_version", "chassis-version"),
    ("form_factor", "chassis_type", "chassis-type"),
    ("product_name", "product_name", "system-product-name"),
    ("product_serial", "product_serial", "system-serial-number"),
    ("product_uuid", "product_uuid", "system-uuid"),
    ("product_version", "product_version", "system-version"),
    ("system_vendor", "sys_vendor", "system-manufacturer"),
];

/// The hardware collector's sections beyond /proc/meminfo and /proc/cpuinfo.
const HARDWARE_SCRIPT: &str = concat!(
    // `rd FILE`: its first line into $v without a process (false when unreadable).
    "rd() { v=; { IFS= read -r v || [ -n \"$v\" ]; } < \"$1\"; } 2>/dev/null\n",
    "s dmi; D=/sys/devices/virtual/dmi/id; if [ -e $D/product_name ]; then echo sysfs; ",
    "for k in bios_date bios_vendor bios_version board_asset_tag board_name board_serial board_vendor ",
    "board_version chassis_asset_tag chassis_serial chassis_vendor chassis_version chassis_type ",
    "product_name product_serial product_uuid product_version sys_vendor; do ",
    "rd $D/$k && printf '%s\\t%s\\n' $k \"$v\"; done; ",
    "elif command -v dmidecode >/dev/null 2>&1; then echo dmidecode; ",
    "for k in bios-release-date bios-vendor bios-version baseboard-asset-tag baseboard-product-name ",
    "baseboard-serial-number baseboard-manufacturer baseboard-version chassis-asset-tag ",
    "chassis-serial-number chassis-manufacturer chassis-version chassis-type system-product-name ",
    "system-serial-number system-uuid system-version system-manufacturer; do ",
    "v=$(dmidecode -s $k 2>/dev/null | grep -v '^#' | tr -d '\\n') && printf '%s\\t%s\\n' $k \"$v\"; done; fi\n",
    "s uptime; cat /proc/uptime 2>/dev/null\n",
    "s lvm; command -v vgs >/dev/null 2>&1 && { echo have; [ \"$(id -u)\" = 0 ] && echo root; }\n",
    "s vgs; [ \"$(id -u)\" = 0 ] && vgs --noheadings --nosuffix --units g --separator , 2>/dev/null\n",
    "s lvs; [ \"$(id -u)\" = 0 ] && lvs --noheadings --nosuffix --units g --separator , 2>/dev/null\n",
    "s pvs; [ \"$(id -u)\" = 0 ] && pvs --noheadings --nosuffix --units g --separator , 2>/dev/null\n",
    "s mtab; if [ -e /etc/mtab ]; then cat /etc/mtab; else cat /proc/mounts; fi 2>/dev/null\n",
    "s findmnt; findmnt --list --noheadings --notruncate 2>/dev/null\n",
    "s lsblk; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2 2>/dev/null\n",
    "s statfs; { if [ -e /etc/mtab ]; then cat /etc/mtab; else cat /proc/mounts; fi; } 2>/dev/null | ",
    // (only the mounts the parser keeps, below: a device path, not fstype none; a mount
    // point without escapes needs no printf: a container has dozens of pseudo mounts)
    "while read -r dev m fs rest; do case \"$dev\" in /*|\\\\*|*:/*) ;; *) continue;; esac; ",
    "[ \"$fs\" = none ] && continue; case \"$m\" in *\\\\*) p=$(printf '%b' \"$m\");; *) p=$m;; esac; ",
    "printf '%s\\t%s\\n' \"$m\" \"$(stat -f -c '%S %s %b %f %a %c %d' \"$p\" 2>/dev/null)\"; done\n",
    "s xen; [ -e /proc/xen ] && echo xen; cat /sys/hypervisor/type 2>/dev/null\n",
    "s lspci; command -v lspci >/dev/null 2>&1 && lspci -D 2>/dev/null\n",
    "s devlinks; for t in by-id by-uuid by-label; do for l in /dev/disk/$t/*; do [ -L \"$l\" ] && ",
    "{ r=$(readlink \"$l\"); printf '%s\\t%s\\t%s\\n' $t \"${l##*/}\" \"${r##*/}\"; }; done; done; ",
    "for p in /sys/block/*/slaves/*; do [ -e \"$p\" ] && printf 'masters\\t%s\\n' \"$p\"; done\n",
    "s blockdevs; have_sg=; command -v sg_inq >/dev/null 2>&1 && have_sg=1; ",
    "for b in /sys/block/*; do [ -e \"$b\" ] || continue; n=${b##*/}; ",
    "printf '@dev\\t%s\\t%s\\n' \"$n\" \"$(readlink \"$b\")\"; d=$b; ",
    "for k in device/vendor device/model device/sas_address device/sas_device_handle device/serial ",
    "removable queue/discard_max_hw_bytes queue/discard_granularity queue/rotational queue/scheduler ",
    "queue/logical_block_size queue/hw_sector_size size; do rd \"$d/$k\" && ",
    "printf '%s\\t%s\\n' \"$k\" \"$v\"; done; ",
    "[ -n \"$have_sg\" ] && printf 'sg\\t%s\\n' \"$(sg_inq /dev/$n 2>/dev/null | sed -n 's/.*[Ss]erial number:[[:space:]]*//p' | head -n1)\"; ",
    "for h in \"$d\"/holders/dm-*; do [ -e \"$h\" ] && { rd \"$h/dm/name\" || v=; printf 'holder\\t%s\\t%s\\n' \"${h##*/}\" \"$v\"; }; done; ",
    "for p in \"$d\"/*; do pn=${p##*/}; [ -e \"$p/partition\" ] || continue; ",
    "printf '@part\\t%s\\n' \"$pn\"; ",
    "for k in start size queue/logical_block_size queue/hw_sector_size; do rd \"$p/$k\" && ",
    "printf '%s\\t%s\\n' \"$k\" \"$v\"; done; ",
    "for h in \"$p\"/holders/dm-*; do [ -e \"$h\" ] && { rd \"$h/dm/name\" || v=; printf 'holder\\t%s\\t%s\\n' \"${h##*/}\" \"$v\"; }; done; ",
    "done; done\n",
);

/// The facts of collector `name` from the script's sections.
pub fn facts(name: &str, sec: &Sec<'_>, f: &mut Map<String, Value>) {
    let get = |k: &str| sec.get(k).copied().unwrap_or("");
    match name {
        "python" => {
            if let Some(mut p) = python_json(sec) {
                p.remove("python_version");
                p.remove("bits");
                f.insert("python".into(), Value::Object(p));
            }
        }
        "user" => user(get("user"), f),
        "env" => {
            f.insert("env".into(), Value::Object(env(sec)));
        }
        "dns" => {
            f.insert("dns".into(), dns(get("dns")));
        }
        "systemd" => {
            let out = get("systemd");
            let mut lines = out.split('\n');
            let first = lines.next().unwrap_or("");
            if let (Some(v), Some(features)) = (
                first.split(' ').nth(1).and_then(|v| v.parse::<i64>().ok()),
                lines.next(),
            ) {
                f.insert(
                    "systemd".into(),
                    json!({"features": features, "version": v}),
                );
            }
        }
        "cmdline" => cmdline(get("cmdline"), f),
        "chroot" => {
            f.insert("is_chroot".into(), json!(is_chroot(sec)));
        }
        "fips" => {
            f.insert("fips".into(), json!(get("fips").trim() == "1"));
        }
        "apparmor" => {
            let st = if get("apparmor").trim() == "enabled" {
                "enabled"
            } else {
                "disabled"
            };
            f.insert("apparmor".into(), json!({"status": st}));
        }
        "selinux" => selinux(get("selinux"), get("selinux_config"), f),
        "caps" => caps(sec.get("caps").copied(), f),
        "loadavg" => {
            let v: Vec<f64> = get("loadavg")
                .split_whitespace()
                .take(3)
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() == 3 {
                f.insert(
                    "loadavg".into(),
                    json!({"1m": v[0], "5m": v[1], "15m": v[2]}),
                );
            }
        }
        "lsb" => {
            f.insert("lsb".into(), lsb(get("lsb_bin"), get("lsb_file")));
        }
        "local" => {
            f.insert("local".into(), json!({}));
        }
        "ssh_pub_keys" => ssh_keys(sec, f),
        "nvme" => {
            let nqn = get("nvme")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(';') && !l.trim().is_empty())
                .find(|l| l.starts_with("nqn."))
                .unwrap_or("");
            f.insert("hostnqn".into(), json!(nqn));
        }
        "iscsi" => {
            let iqn = get("iscsi")
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(';') && !l.trim().is_empty())
                .find_map(|l| l.strip_prefix("InitiatorName="))
                .unwrap_or("");
            f.insert("iscsi_iqn".into(), json!(iqn));
        }
        "fibre_channel_wwn" => {
            let v: Vec<Value> = get("fc")
                .lines()
                .map(|l| json!(l.trim_end().get(2..).unwrap_or("")))
                .collect();
            f.insert("fibre_channel_wwn".into(), Value::Array(v));
        }
        _ => {}
    }
}

fn python_json(sec: &Sec<'_>) -> Option<Map<String, Value>> {
    match serde_json::from_str(sec.get("python")?.trim()).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// platform.py's `python_version`, `userspace_bits` and `userspace_architecture`.
pub fn platform_python(sec: &Sec<'_>, f: &mut Map<String, Value>, machine: &str) {
    let p = python_json(sec);
    if let Some(v) = p.as_ref().and_then(|p| p.get("python_version")) {
        f.insert("python_version".into(), v.clone());
    }
    let bits = p
        .as_ref()
        .and_then(|p| p.get("bits"))
        .and_then(Value::as_str)
        .map(|b| b.replace("bit", ""))
        .or_else(|| {
            sec.get("bits")
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
        });
    if let Some(bits) = bits {
        let i86 = Regex::new(r"i([3456]86|86pc)").is_ok_and(|r| r.is_match(machine));
        if machine == "x86_64" || i86 {
            match bits.as_str() {
                "64" => {
                    f.insert("userspace_architecture".into(), json!("x86_64"));
                }
                "32" => {
                    f.insert("userspace_architecture".into(), json!("i386"));
                }
                _ => {}
            }
        }
        f.insert("userspace_bits".into(), json!(bits));
    }
}

/// lib/ansible/module_utils/facts/system/user.py
fn user(text: &str, f: &mut Map<String, Value>) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(name) = lines.first() else { return };
    f.insert("user_id".into(), json!(name));
    let rest = &lines[1..];
    let pw_at = rest.iter().position(|l| l.matches(':').count() >= 6);
    if let Some(i) = pw_at {
        let w: Vec<&str> = rest[i].splitn(7, ':').collect();
        let num = |s: &str| s.parse::<i64>().map_or(json!(s), |n| json!(n));
        f.insert("user_uid".into(), num(w[2]));
        f.insert("user_gid".into(), num(w[3]));
        f.insert("user_gecos".into(), json!(w[4]));
        f.insert("user_dir".into(), json!(w[5]));
        f.insert("user_shell".into(), json!(w[6]));
    }
    let ids: Vec<i64> = rest[pw_at.map_or(0, |i| i + 1)..]
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if let [ruid, euid, rgid] = ids[..] {
        f.insert("real_user_id".into(), json!(ruid));
        f.insert("effective_user_id".into(), json!(euid));
        // user.py reports getgid() for both.
        f.insert("real_group_id".into(), json!(rgid));
        f.insert("effective_group_id".into(), json!(rgid));
    }
}

fn env(sec: &Sec<'_>) -> Map<String, Value> {
    let raw = sec.get("env").copied().unwrap_or("");
    let clean: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap_or_default();
    let mut m = Map::new();
    for kv in bytes.split(|b| *b == 0) {
        let kv = String::from_utf8_lossy(kv);
        if let Some((k, v)) = kv.split_once('=') {
            m.insert(k.to_string(), json!(v));
        }
    }
    m
}

/// lib/ansible/module_utils/facts/system/dns.py
fn dns(text: &str) -> Value {
    let mut d = Map::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with(';') || line.trim().is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        let list = |v: &[&str]| Value::Array(v.iter().map(|x| json!(x)).collect());
        match t[0] {
            "nameserver" => {
                let e = d.entry("nameservers").or_insert_with(|| json!([]));
                if let Value::Array(a) = e {
                    a.extend(t[1..].iter().map(|x| json!(x)));
                }
            }
            "domain" if t.len() > 1 => {
                d.insert("domain".into(), json!(t[1]));
            }
            "search" => {
                d.insert("search".into(), list(&t[1..]));
            }
            "sortlist" => {
                d.insert("sortlist".into(), list(&t[1..]));
            }
            "options" => {
                let mut o = Map::new();
                for opt in &t[1..] {
                    match opt.split_once(':') {
                        Some((k, v)) if !v.is_empty() => o.insert(k.into(), json!(v)),
                        Some((k, _)) => o.insert(k.into(), json!(true)),
                        None => o.insert(opt.to_string(), json!(true)),
                    };
                }
                d.insert("options".into(), Value::Object(o));
            }
            _ => {}
        }
    }
    Value::Object(d)
}

/// `shlex.split(data, posix=False)`: words split at whitespace; a quoted part (quotes
/// kept) may hold whitespace. None when a quote is left open (shlex raises, the collector
/// keeps what it had: nothing).
fn split_non_posix(data: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in data.chars() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

/// lib/ansible/module_utils/facts/system/cmdline.py
fn cmdline(data: &str, f: &mut Map<String, Value>) {
    if data.is_empty() {
        return;
    }
    let words = split_non_posix(data).unwrap_or_default();
    let mut plain = Map::new();
    let mut multi = Map::new();
    for w in &words {
        match w.split_once('=') {
            None => {
                plain.insert(w.clone(), json!(true));
                multi.insert(w.clone(), json!(true));
            }
            Some((k, v)) => {
                plain.insert(k.into(), json!(v));
                match multi.get_mut(k) {
                    Some(Value::Array(a)) => a.push(json!(v)),
                    Some(old) => *old = json!([old.clone(), v]),
                    None => {
                        multi.insert(k.into(), json!(v));
                    }
                }
            }
        }
    }
    f.insert("cmdline".into(), Value::Object(plain));
    f.insert("proc_cmdline".into(), Value::Object(multi));
}

/// lib/ansible/module_utils/facts/system/chroot.py `is_chroot`
fn is_chroot(sec: &Sec<'_>) -> bool {
    if env(sec)
        .get("debian_chroot")
        .and_then(Value::as_str)
        .is_some_and(|v| !v.is_empty())
    {
        return true;
    }
    let l: Vec<&str> = sec.get("chroot").copied().unwrap_or("").lines().collect();
    let (me, pid1, fs) = (
        l.first().copied().unwrap_or(""),
        l.get(1).copied().unwrap_or("fail"),
        l.get(2).copied().unwrap_or(""),
    );
    if pid1 != "fail" {
        return me != pid1;
    }
    let root_ino = if fs.contains("btrfs") {
        "256"
    } else if fs.contains("xfs") {
        "128"
    } else {
        "2"
    };
    me.split_whitespace().nth(1) != Some(root_ino)
}

/// lib/ansible/module_utils/facts/system/selinux.py (through libselinux, which Ansible
/// loads when the host has it).
fn selinux(text: &str, config: &str, f: &mut Map<String, Value>) {
    let lines: Vec<&str> = text.lines().collect();
    if !lines.contains(&"lib") {
        f.insert(
            "selinux".into(),
            json!({"status": "Missing selinux Python library"}),
        );
        f.insert("selinux_python_present".into(), json!(false));
        return;
    }
    f.insert("selinux_python_present".into(), json!(true));
    let Some(enf) = lines.iter().find_map(|l| l.strip_prefix("enforce ")) else {
        f.insert("selinux".into(), json!({"status": "disabled"}));
        return;
    };
    let mut w = enf.split_whitespace();
    let mode = match w.next() {
        Some("1") => "enforcing",
        Some("0") => "permissive",
        _ => "unknown",
    };
    let policyvers = w
        .next()
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(json!("unknown"), |v| json!(v));
    let conf = |k: &str| {
        config
            .lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .map(|v| v.trim().to_string())
    };
    f.insert(
        "selinux".into(),
        json!({
            "status": "enabled",
            "policyvers": policyvers,
            "config_mode": conf("SELINUX=").unwrap_or_else(|| "unknown".into()),
            "mode": mode,
            "type": conf("SELINUXTYPE=").unwrap_or_else(|| "unknown".into()),
        }),
    );
}

/// lib/ansible/module_utils/facts/system/caps.py (its parse of `capsh --print`, kept as
/// it is).
fn caps(text: Option<&str>, f: &mut Map<String, Value>) {
    let text = text.unwrap_or("");
    let rc_ok = text.lines().last().is_some_and(|l| l.trim() == "rc 0");
    if !rc_ok {
        f.insert("system_capabilities_enforced".into(), json!("N/A"));
        f.insert("system_capabilities".into(), json!("N/A"));
        return;
    }
    let mut enforced = "NA";
    let mut list: Vec<Value> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Current:") {
            if line.split(':').nth(1).unwrap_or("").trim() == "=ep" {
                enforced = "False";
            } else {
                enforced = "True";
                list = line
                    .split('=')
                    .nth(1)
                    .unwrap_or("")
                    .split(',')
                    .map(|c| json!(c.trim()))
                    .collect();
            }
        }
    }
    f.insert("system_capabilities_enforced".into(), json!(enforced));
    f.insert("system_capabilities".into(), Value::Array(list));
}

/// lib/ansible/module_utils/facts/system/lsb.py
fn lsb(bin: &str, file: &str) -> Value {
    let mut m: Map<String, Value> = Map::new();
    for line in bin.lines() {
        let Some((_, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        let key = if line.contains("LSB Version:") || line.contains("Release:") {
            "release"
        } else if line.contains("Distributor ID:") {
            "id"
        } else if line.contains("Description:") {
            "description"
        } else if line.contains("Codename:") {
            "codename"
        } else {
            continue;
        };
        m.insert(key.into(), json!(v));
    }
    if m.is_empty() {
        for line in file.lines() {
            let Some((_, v)) = line.split_once('=') else {
                continue;
            };
            let key = if line.contains("DISTRIB_ID") {
                "id"
            } else if line.contains("DISTRIB_RELEASE") {
                "release"
            } else if line.contains("DISTRIB_DESCRIPTION") {
                "description"
            } else if line.contains("DISTRIB_CODENAME") {
                "codename"
            } else {
                continue;
            };
            m.insert(key.into(), json!(v.trim()));
        }
    }
    if let Some(r) = m.get("release").and_then(Value::as_str) {
        let major = r.split('.').next().unwrap_or("").to_string();
        m.insert("major_release".into(), json!(major));
    }
    for v in m.values_mut() {
        if let Value::String(s) = v {
            *s = s.trim_matches(['\'', '"', '\\']).to_string();
        }
    }
    Value::Object(m)
}

/// lib/ansible/module_utils/facts/system/ssh_pub_keys.py
fn ssh_keys(sec: &Sec<'_>, f: &mut Map<String, Value>) {
    for dir in SSH_KEY_DIRS {
        for algo in SSH_ALGOS {
            let fact = format!("ssh_host_key_{algo}_public");
            if f.contains_key(&fact) {
                return;
            }
            let Some(data) = sec.get(format!("sshkey {dir}/ssh_host_{algo}_key.pub").as_str())
            else {
                continue;
            };
            let w: Vec<&str> = data.split_whitespace().collect();
            if w.len() >= 2 {
                f.insert(fact.clone(), json!(w[1]));
                f.insert(format!("{fact}_keytype"), json!(w[0]));
            }
        }
    }
}

/// The hardware facts beyond CPU and memory (lib/ansible/module_utils/facts/hardware/
/// linux.py: `get_dmi_facts`, `get_uptime_facts`, `get_lvm_facts`, `get_mount_facts`,
/// `get_device_facts`).
pub fn hardware_extra(sec: &Sec<'_>, f: &mut Map<String, Value>) {
    dmi(sec.get("dmi").copied().unwrap_or(""), f);
    if let Some(up) = sec
        .get("uptime")
        .and_then(|u| u.split(' ').next())
        .and_then(|u| u.trim().parse::<f64>().ok())
    {
        f.insert("uptime_seconds".into(), json!(up as i64));
    }
    lvm(sec, f);
    mounts(sec, f);
    devices(sec, f);
}

fn dmi(text: &str, f: &mut Map<String, Value>) {
    const FORM_FACTOR: [&str; 37] = [
        "Unknown",
        "Other",
        "Unknown",
        "Desktop",
        "Low Profile Desktop",
        "Pizza Box",
        "Mini Tower",
        "Tower",
        "Portable",
        "Laptop",
        "Notebook",
        "Hand Held",
        "Docking Station",
        "All In One",
        "Sub Notebook",
        "Space-saving",
        "Lunch Box",
        "Main Server Chassis",
        "Expansion Chassis",
        "Sub Chassis",
        "Bus Expansion Chassis",
        "Peripheral Chassis",
        "RAID Chassis",
        "Rack Mount Chassis",
        "Sealed-case PC",
        "Multi-system",
        "CompactPCI",
        "AdvancedTCA",
        "Blade",
        "Blade Enclosure",
        "Tablet",
        "Convertible",
        "Detachable",
        "IoT Gateway",
        "Embedded PC",
        "Mini PC",
        "Stick PC",
    ];
    let mut lines = text.lines();
    let how = lines.next().unwrap_or("");
    let got: BTreeMap<&str, &str> = lines.filter_map(|l| l.split_once('\t')).collect();
    for (fact, file, kw) in DMI {
        let key = if how == "sysfs" { file } else { kw };
        let raw = got.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let v = match (how, raw) {
            ("sysfs", Some(v)) if fact == "form_factor" => match v.parse::<usize>() {
                Ok(i) if i < FORM_FACTOR.len() => FORM_FACTOR[i].to_string(),
                _ => format!("unknown ({v})"),
            },
            ("dmidecode", None) if got.contains_key(key) => String::new(),
            (_, Some(v)) => v.to_string(),
            _ => "NA".to_string(),
        };
        f.insert(fact.into(), json!(v));
    }
}

fn lvm(sec: &Sec<'_>, f: &mut Map<String, Value>) {
    let state = sec.get("lvm").copied().unwrap_or("");
    if !state.contains("have") || !state.contains("root") {
        f.insert("lvm".into(), json!("N/A"));
        return;
    }
    let rows = |k: &str| -> Vec<Vec<String>> {
        sec.get(k)
            .copied()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().split(',').map(String::from).collect())
            .collect()
    };
    let at = |r: &[String], i: usize| r.get(i).cloned().unwrap_or_default();
    let mut vgs = Map::new();
    for r in rows("vgs") {
        let n = r.len();
        vgs.insert(
            at(&r, 0),
            json!({"size_g": at(&r, n.saturating_sub(2)), "free_g": at(&r, n.saturating_sub(1)),
                   "num_lvs": at(&r, 2), "num_pvs": at(&r, 1)}),
        );
    }
    let mut lvs = Map::new();
    for r in rows("lvs") {
        lvs.insert(at(&r, 0), json!({"size_g": at(&r, 3), "vg": at(&r, 1)}));
    }
    let mut pvs = Map::new();
    for r in rows("pvs") {
        pvs.insert(
            at(&r, 0),
            json!({"size_g": at(&r, 4), "free_g": at(&r, 5), "vg": at(&r, 1)}),
        );
    }
    f.insert("lvm".into(), json!({"lvs": lvs, "vgs": vgs, "pvs": pvs}));
}

/// `\NNN` octal escapes of /etc/mtab fields, decoded.
fn unescape(s: &str) -> String {
    let re = Regex::new(r"\\[0-9]{3}").expect("constant regex");
    re.replace_all(s, |c: &regex::Captures<'_>| {
        u32::from_str_radix(&c[0][1..], 8)
            .ok()
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default()
    })
    .into_owned()
}

fn mounts(sec: &Sec<'_>, f: &mut Map<String, Value>) {
    let get = |k: &str| sec.get(k).copied().unwrap_or("");
    let binds: Vec<&str> = get("findmnt")
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 2 && w[1].ends_with(']')).then(|| w[0])
        })
        .collect();
    let mut uuids: BTreeMap<String, String> = BTreeMap::new();
    for l in get("lsblk").lines() {
        let l = l.trim();
        if let Some((dev, uuid)) = l.rsplit_once(char::is_whitespace) {
            uuids
                .entry(dev.trim().to_string())
                .or_insert_with(|| uuid.trim().to_string());
        }
    }
    let statfs: BTreeMap<&str, Vec<u64>> = get("statfs")
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(m, v)| {
            (
                m,
                v.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect(),
            )
        })
        .collect();
    // Ansible keys the mounts by mount point: a later line for the same point replaces
    // the earlier one, in the earlier one's place.
    let mut out: IndexMap<String, Value> = IndexMap::new();
    for l in get("mtab").lines() {
        let raw: Vec<&str> = l.split_whitespace().collect();
        if raw.len() < 6 {
            continue;
        }
        let w: Vec<String> = raw.iter().map(|x| unescape(x)).collect();
        let (device, mount, fstype) = (&w[0], &w[1], &w[2]);
        if (!device.starts_with(['/', '\\']) && !device.contains(":/")) || fstype == "none" {
            continue;
        }
        let mut options = w[3].clone();
        if binds.contains(&mount.as_str()) {
            options.push_str(",bind");
        }
        let mut m = Map::new();
        m.insert("mount".into(), json!(mount));
        m.insert("device".into(), json!(device));
        m.insert("fstype".into(), json!(fstype));
        m.insert("options".into(), json!(options));
        m.insert("dump".into(), json!(w[4].parse::<i64>().unwrap_or(0)));
        m.insert("passno".into(), json!(w[5].parse::<i64>().unwrap_or(0)));
        let st: Option<[u64; 7]> = statfs
            .get(raw[1])
            .and_then(|v| <[u64; 7]>::try_from(v.as_slice()).ok());
        if let Some([frsize, bsize, blocks, _bfree, bavail, files, ffree]) = st {
            m.insert("size_total".into(), json!(frsize.saturating_mul(blocks)));
            m.insert(
                "size_available".into(),
                json!(frsize.saturating_mul(bavail)),
            );
            m.insert("block_size".into(), json!(bsize));
            m.insert("block_total".into(), json!(blocks));
            m.insert("block_available".into(), json!(bavail));
            m.insert("block_used".into(), json!(blocks.saturating_sub(bavail)));
            m.insert("inode_total".into(), json!(files));
            // Linux's statvfs has f_favail = f_ffree.
            m.insert("inode_available".into(), json!(ffree));
            m.insert("inode_used".into(), json!(files.saturating_sub(ffree)));
        }
        let uuid = uuids
            .get(device)
            .filter(|u| !u.is_empty())
            .cloned()
            .unwrap_or_else(|| "N/A".into());
        m.insert("uuid".into(), json!(uuid));
        out.insert(mount.clone(), Value::Object(m));
    }
    f.insert("mounts".into(), Value::Array(out.into_values().collect()));
}

/// lib/ansible/module_utils/common/text/formatters.py `bytes_to_human`.
fn bytes_to_human(size: f64) -> String {
    const RANGES: [(&str, u32); 8] = [
        ("YB", 80),
        ("ZB", 70),
        ("EB", 60),
        ("PB", 50),
        ("TB", 40),
        ("GB", 30),
        ("MB", 20),
        ("KB", 10),
    ];
    for (suffix, shift) in RANGES {
        let limit = 2f64.powi(shift as i32);
        if size >= limit {
            return format!("{:.2} {suffix}", size / limit);
        }
    }
    format!("{size:.2} Bytes")
}

/// One block device (or partition) as the script printed it.
#[derive(Default)]
struct Block {
    name: String,
    link: String,
    kv: BTreeMap<String, String>,
    holders: Vec<String>,
    sg: Option<String>,
    parts: Vec<Block>,
}

fn parse_blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut in_part = false;
    for l in text.lines() {
        let w: Vec<&str> = l.splitn(3, '\t').collect();
        match w[0] {
            "@dev" => {
                out.push(Block {
                    name: w.get(1).unwrap_or(&"").to_string(),
                    link: w.get(2).unwrap_or(&"").to_string(),
                    ..Block::default()
                });
                in_part = false;
            }
            "@part" => {
                if let Some(b) = out.last_mut() {
                    b.parts.push(Block {
                        name: w.get(1).unwrap_or(&"").to_string(),
                        ..Block::default()
                    });
                    in_part = true;
                }
            }
            k => {
                let b = if in_part {
                    out.last_mut().and_then(|b| b.parts.last_mut())
                } else {
                    out.last_mut()
                };
                let Some(b) = b else { continue };
                match k {
                    "holder" => {
                        let dm = w.get(1).unwrap_or(&"");
                        let name = w.get(2).unwrap_or(&"");
                        b.holders
                            .push(if name.is_empty() { dm } else { name }.to_string());
                    }
                    "sg" => b.sg = w.get(1).map(|s| s.to_string()),
                    _ => {
                        b.kv.insert(k.to_string(), w.get(1).unwrap_or(&"").to_string());
                    }
                }
            }
        }
    }
    out
}

fn devices(sec: &Sec<'_>, f: &mut Map<String, Value>) {
    let get = |k: &str| sec.get(k).copied().unwrap_or("");
    // kind → target device → sorted link names
    let mut links: BTreeMap<&str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for k in ["ids", "uuids", "labels", "masters"] {
        links.insert(k, BTreeMap::new());
    }
    let mut wwn: BTreeMap<String, String> = BTreeMap::new();
    for l in get("devlinks").lines() {
        let w: Vec<&str> = l.split('\t').collect();
        match w[..] {
            ["masters", path] => {
                let e: Vec<&str> = path.split('/').collect();
                if e.len() > 5 {
                    let m = links.get_mut("masters").expect("kind");
                    m.entry(e[5].to_string())
                        .or_default()
                        .push(e[3].to_string());
                }
            }
            [kind, name, target] => {
                let kind = match kind {
                    "by-id" => "ids",
                    "by-uuid" => "uuids",
                    _ => "labels",
                };
                if kind == "ids" {
                    if let Some(x) = name.strip_prefix("wwn-") {
                        wwn.insert(target.to_string(), x.to_string());
                    }
                }
                let m = links.get_mut(kind).expect("kind");
                m.entry(target.to_string())
                    .or_default()
                    .push(name.to_string());
            }
            _ => {}
        }
    }
    for m in links.values_mut() {
        for v in m.values_mut() {
            v.sort();
            v.dedup();
        }
    }
    let links_of = |dev: &str| -> Value {
        let mut m = Map::new();
        for (k, by) in &links {
            m.insert(
                k.to_string(),
                json!(by.get(dev).cloned().unwrap_or_default()),
            );
        }
        Value::Object(m)
    };
    let blocks = parse_blocks(get("blockdevs"));
    if blocks.is_empty() && get("blockdevs").is_empty() && !sec.contains_key("blockdevs") {
        return;
    }
    let mut device_links = Map::new();
    for (k, by) in &links {
        device_links.insert(k.to_string(), json!(by));
    }
    f.insert("device_links".into(), Value::Object(device_links));
    let pci = Regex::new(r".+/([a-f0-9]{4}:[a-f0-9]{2}:[0|1][a-f0-9]\.[0-7])/").expect("regex");
    let sched = Regex::new(r".*?(\[(.*)\])").expect("regex");
    let lspci = get("lspci");
    let opt = |b: &Block, k: &str| {
        b.kv.get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map_or(Value::Null, |v| json!(v))
    };
    let sector_size = |b: &Block| -> String {
        b.kv.get("queue/logical_block_size")
            .or(b.kv.get("queue/hw_sector_size"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "512".into())
    };
    let mut devs = Map::new();
    for b in &blocks {
        let mut d = Map::new();
        d.insert("virtual".into(), json!(1));
        d.insert("links".into(), links_of(&b.name));
        for k in ["vendor", "model", "sas_address", "sas_device_handle"] {
            d.insert(k.into(), opt(b, &format!("device/{k}")));
        }
        match &b.sg {
            Some(s) if !s.is_empty() => {
                d.insert("serial".into(), json!(s));
            }
            Some(_) => {}
            None => {
                if let Value::String(s) = opt(b, "device/serial") {
                    d.insert("serial".into(), json!(s));
                }
            }
        }
        d.insert("removable".into(), opt(b, "removable"));
        let discard = if b.kv.get("queue/discard_max_hw_bytes").map(|v| v.trim()) == Some("0") {
            json!("0")
        } else {
            opt(b, "queue/discard_granularity")
        };
        d.insert("support_discard".into(), discard);
        if let Some(w) = wwn.get(&b.name) {
            d.insert("wwn".into(), json!(w));
        }
        let mut parts = Map::new();
        for p in &b.parts {
            let mut pd = Map::new();
            pd.insert("links".into(), links_of(&p.name));
            pd.insert(
                "start".into(),
                json!(p.kv.get("start").map(|v| v.trim()).unwrap_or("0")),
            );
            let ss = sector_size(p);
            pd.insert("sectorsize".into(), json!(ss));
            let size: u64 =
                p.kv.get("size")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
            let ssn: u64 = ss.parse().unwrap_or(512).max(1);
            let sectors = size.saturating_mul(512) / ssn;
            pd.insert("sectors".into(), json!(sectors));
            pd.insert(
                "size".into(),
                json!(bytes_to_human(sectors as f64 * ssn as f64)),
            );
            let uuid = links["uuids"]
                .iter()
                .find(|(t, _)| *t == &p.name)
                .and_then(|(_, v)| v.first())
                .map_or(Value::Null, |u| json!(u));
            pd.insert("uuid".into(), uuid);
            pd.insert("holders".into(), json!(p.holders));
            parts.insert(p.name.clone(), Value::Object(pd));
        }
        d.insert("partitions".into(), Value::Object(parts));
        d.insert("rotational".into(), opt(b, "queue/rotational"));
        let mode =
            b.kv.get("queue/scheduler")
                .and_then(|s| sched.captures(s))
                .map(|c| c[2].to_string())
                .unwrap_or_default();
        d.insert("scheduler_mode".into(), json!(mode));
        let ss = sector_size(b);
        d.insert("sectorsize".into(), json!(ss));
        let size: u64 =
            b.kv.get("size")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
        let ssn: u64 = ss.parse().unwrap_or(512).max(1);
        let sectors = size.saturating_mul(512) / ssn;
        d.insert("sectors".into(), json!(sectors));
        d.insert(
            "size".into(),
            json!(bytes_to_human(sectors as f64 * ssn as f64)),
        );
        let sysdir = format!("/sys/block/{}", b.link);
        let host = pci
            .captures(&sysdir)
            .filter(|_| !lspci.is_empty())
            .and_then(|c| {
                let id = c[1].to_string();
                lspci
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{id} ")).map(str::to_string))
            })
            .unwrap_or_default();
        d.insert("host".into(), json!(host));
        d.insert("holders".into(), json!(b.holders));
        devs.insert(b.name.clone(), Value::Object(d));
    }
    f.insert("devices".into(), Value::Object(devs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_ansible_prints_them() {
        assert_eq!(bytes_to_human(0.0), "0.00 Bytes");
        assert_eq!(bytes_to_human(274877906944.0), "256.00 GB");
        assert_eq!(bytes_to_human(1536.0), "1.50 KB");
    }

    #[test]
    fn cmdline_keeps_quotes_and_repeats() {
        let mut f = Map::new();
        cmdline("ro quiet a=1 a=2 x=\"y z\"\n", &mut f);
        assert_eq!(f["cmdline"]["a"], "2");
        assert_eq!(f["proc_cmdline"]["a"], json!(["1", "2"]));
        assert_eq!(f["cmdline"]["x"], "\"y z\"");
        assert_eq!(f["cmdline"]["ro"], true);
    }

    #[test]
    fn dns_options_and_lists() {
        let d = dns(
            "# c\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch a b\noptions timeout:1 rotate\n",
        );
        assert_eq!(
            d,
            json!({"nameservers": ["1.1.1.1", "8.8.8.8"], "search": ["a", "b"],
                   "options": {"timeout": "1", "rotate": true}})
        );
    }
}
