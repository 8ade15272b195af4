//! The `service_mgr` fact of `setup`, decided as Ansible's `ServiceMgrFactCollector`
//! (`lib/ansible/module_utils/facts/system/service_mgr.py`) decides it on Linux.
//!
//! Why this module exists: roles branch on `ansible_service_mgr`, and Ansible's answer is
//! not simply "systemd or not": the name of process 1 wins when it is a real init (a
//! container's `tini` or `process_api` is the service manager), `init` and shells are
//! distrusted, and only then are systemd's canaries, upstart, OpenRC and the init
//! directories tried. [`SCRIPT`] gathers what that decision reads; [`facts`] makes it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The `init` section: process 1's name (`comm=`, else `ps=` from `ps`), `/sbin/init`'s
/// link target (`link=`), and one word for each thing the Linux fallbacks test.
pub const SCRIPT: &str = concat!(
    "s init; if [ -r /proc/1/comm ]; then printf 'comm=%s\\n' \"$(cat /proc/1/comm)\"; ",
    "else printf 'ps=%s\\n' \"$(ps -p 1 -o comm 2>/dev/null | tail -n 1)\"; fi; ",
    "[ -L /sbin/init ] && printf 'link=%s\\n' \"$(readlink /sbin/init)\"; ",
    "command -v systemctl >/dev/null 2>&1 && echo systemctl; ",
    "for d in /run/systemd/system/ /dev/.run/systemd/ /dev/.systemd/; do ",
    "[ -e $d ] && { echo run-systemd; break; }; done; ",
    "command -v initctl >/dev/null 2>&1 && [ -d /etc/init/ ] && echo upstart; ",
    "[ -e /sbin/openrc ] && echo openrc; [ -d /etc/init.d/ ] && echo init.d; ",
    "[ -d /etc/dinit.d/ ] && echo dinit.d\n"
);

/// Sets `service_mgr` from the `init` section.
pub fn facts(sec: &BTreeMap<&str, &str>, f: &mut Map<String, Value>) {
    let text = sec.get("init").copied().unwrap_or("");
    let name = match process_one(text) {
        Some(p) => match p {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        },
        None => linux_fallback(text),
    };
    let name = if name.is_empty() { "service" } else { name };
    f.insert("service_mgr".into(), json!(name));
}

fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(key))
}

fn has(text: &str, word: &str) -> bool {
    text.lines().any(|l| l.trim() == word)
}

/// Process 1's name as the collector trusts it: `/proc/1/comm`, else `ps`'s answer (not
/// when it is empty, a header or starts with a PID, as busybox's), else `/sbin/init`'s
/// target; its base name, and nothing when that is `init` or ends in `sh`.
fn process_one(text: &str) -> Option<&str> {
    let ps = value(text, "ps=").filter(|p| {
        let digits = p.trim_start_matches(' ');
        let pid_first = digits.starts_with(|c: char| c.is_ascii_digit())
            && digits
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(' ');
        !p.trim().is_empty() && *p != "COMMAND" && !pid_first
    });
    let p = value(text, "comm=")
        .or(ps)
        .or_else(|| value(text, "link="))?;
    let p = p.rsplit('/').next().unwrap_or(p).trim();
    (p != "init" && !p.ends_with("sh")).then_some(p)
}

/// What the collector tries on Linux when process 1 tells nothing.
fn linux_fallback(text: &str) -> &'static str {
    let systemctl = has(text, "systemctl");
    let offline = value(text, "link=").is_some_and(|l| l.rsplit('/').next() == Some("systemd"));
    if systemctl && has(text, "run-systemd") {
        "systemd"
    } else if has(text, "upstart") {
        "upstart"
    } else if has(text, "openrc") {
        "openrc"
    } else if systemctl && offline {
        "systemd"
    } else if has(text, "init.d") {
        "sysvinit"
    } else if has(text, "dinit.d") {
        "dinit"
    } else {
        "service"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgr(init: &str) -> String {
        let sec = BTreeMap::from([("init", init)]);
        let mut f = Map::new();
        facts(&sec, &mut f);
        f["service_mgr"].as_str().unwrap().to_string()
    }

    #[test]
    fn process_one_names_the_manager_unless_init_or_a_shell() {
        assert_eq!(mgr("comm=systemd\nsystemctl\nrun-systemd\n"), "systemd");
        assert_eq!(
            mgr("comm=tini\nsystemctl\nlink=/lib/systemd/systemd\n"),
            "tini"
        );
        assert_eq!(mgr("comm=runit-init\n"), "runit");
        assert_eq!(mgr("comm=bash\ninit.d\n"), "sysvinit");
        assert_eq!(mgr("comm=init\nsystemctl\nrun-systemd\n"), "systemd");
    }

    #[test]
    fn fallbacks_in_the_collectors_order() {
        assert_eq!(
            mgr("comm=sh\nsystemctl\nlink=/lib/systemd/systemd\ninit.d\n"),
            "systemd"
        );
        assert_eq!(
            mgr("comm=sh\nlink=/lib/systemd/systemd\ninit.d\n"),
            "sysvinit"
        );
        assert_eq!(mgr("ps=COMMAND\n"), "service");
        assert_eq!(mgr("ps=    1 init\nopenrc\n"), "openrc");
        assert_eq!(mgr("ps=\nlink=/sbin/upstart\n"), "upstart");
        assert_eq!(mgr(""), "service");
    }
}
