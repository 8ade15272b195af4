//! The system modules on the test hosts over real SSH: apt, systemd, sysctl, modprobe,
//! dpkg_selections, user/group, hostname, apt_repository. Ignored unless asked for; they
//! need `WINDLASS_TESTHOSTS`. Every test takes one lock: they share hosts and the apt database.

mod common;

use std::sync::OnceLock;

use common::{Project, changed, failed, lock, on_host, opts, testhosts};
use windlass::embed::RunReport;
use windlass::event::Event;

/// Run `play` (a playbook body) on the test hosts; `(events, report)`.
fn play(inv: &std::path::Path, play: &str, check: bool, diff: bool) -> (Vec<Event>, RunReport) {
    let p = Project::new();
    p.with_testhosts(inv);
    p.file("site.yml", play);
    let mut o = opts();
    o.forks = 5;
    o.check = check;
    o.diff = diff;
    p.run("site.yml", "hosts.yml", o).expect("run")
}

fn results_of<'a>(
    events: &'a [Event],
    host: &str,
) -> Vec<&'a serde_json::Map<String, serde_json::Value>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                host: h, result, ..
            } if h == host => Some(result),
            _ => None,
        })
        .collect()
}

/// Every `--diff` text shown for `host`, by task name.
fn diffs_of(events: &[Event], host: &str) -> std::collections::BTreeMap<String, String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                host: h,
                task,
                diff,
                ..
            } if h == host && !diff.is_empty() => Some((
                task.clone(),
                diff.iter()
                    .map(windlass::output::printer::unified_diff)
                    .collect(),
            )),
            _ => None,
        })
        .collect()
}

const APT_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: packages
      apt:
        name: [haproxy, keepalived]
        update_cache: yes
      register: r
"#;

/// What the apt sequence (check, apply, apply again) observed; run once per binary.
struct AptRuns {
    check_changed: u32,
    installed_before_apply: String,
    first_changed: u32,
    first_failed: u32,
    first_result: String,
    second_changed: u32,
    second_failed: u32,
    dpkg_after: String,
}

fn packages(inv: &std::path::Path) -> &'static AptRuns {
    static RUNS: OnceLock<AptRuns> = OnceLock::new();
    RUNS.get_or_init(|| {
        on_host(
            1,
            "echo keepalived install | dpkg --set-selections; systemctl stop haproxy keepalived 2>/dev/null; \
             DEBIAN_FRONTEND=noninteractive apt-get purge -y -q haproxy keepalived >/dev/null 2>&1; true",
        );
        let (_, check) = play(inv, APT_PLAY, true, false);
        let installed_before_apply =
            on_host(1, "dpkg-query -W -f='${Status}' haproxy 2>/dev/null; echo");
        let (events, first) = play(inv, APT_PLAY, false, false);
        let first_result = results_of(&events, "th01")
            .last()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .unwrap_or_default();
        let (_, second) = play(inv, APT_PLAY, false, false);
        AptRuns {
            check_changed: changed(&check, "th01"),
            installed_before_apply,
            first_changed: changed(&first, "th01"),
            first_failed: failed(&first),
            first_result,
            second_changed: changed(&second, "th01"),
            second_failed: failed(&second),
            dpkg_after: on_host(
                1,
                "dpkg-query -W -f='${Package} ${Status}\\n' haproxy keepalived",
            ),
        }
    })
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn apt_installs_from_the_local_mirror_once() {
    let inv = testhosts();
    let _g = lock();
    let r = packages(&inv);
    assert_eq!(r.check_changed, 1, "check mode predicts the install");
    assert_eq!(
        r.installed_before_apply.trim(),
        "",
        "check mode installed nothing"
    );
    assert_eq!(r.first_failed, 0, "{}", r.first_result);
    assert_eq!(r.first_changed, 1, "{}", r.first_result);
    assert!(
        r.first_result.contains("\"cache_updated\":true"),
        "{}",
        r.first_result
    );
    assert!(
        r.first_result.contains("newly installed"),
        "{}",
        r.first_result
    );
    assert_eq!(r.second_failed, 0);
    assert_eq!(r.second_changed, 0, "second run changes nothing");
    assert!(
        r.dpkg_after.contains("haproxy install ok installed"),
        "{}",
        r.dpkg_after
    );
    assert!(
        r.dpkg_after.contains("keepalived install ok installed"),
        "{}",
        r.dpkg_after
    );
}

const HAPROXY_CFG: &str = "global\n  log /dev/log local0\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend wl_system\n  bind 127.0.0.1:18443\n  default_backend wl_none\nbackend wl_none\n  server none 127.0.0.1:18444\n";

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn systemd_starts_and_enables_haproxy() {
    let inv = testhosts();
    let _g = lock();
    packages(&inv);
    on_host(
        1,
        &format!(
            "printf '%s' '{HAPROXY_CFG}' > /etc/haproxy/haproxy.cfg; systemctl stop haproxy; systemctl disable haproxy 2>/dev/null; true"
        ),
    );
    let pb = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: haproxy runs
      systemd:
        name: haproxy
        state: started
        enabled: true
        daemon_reload: true
      register: svc
    - debug: msg="{{ svc.status.ActiveState }} {{ svc.enabled }} {{ svc.state }}"
"#;
    let (_, check) = play(&inv, pb, true, false);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1);
    assert_eq!(on_host(1, "systemctl is-active haproxy").trim(), "inactive");
    let (events, first) = play(&inv, pb, false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 1);
    assert_eq!(
        common::debug_msgs(&events, "th01"),
        vec![serde_json::json!("inactive True started")]
    );
    assert_eq!(on_host(1, "systemctl is-active haproxy").trim(), "active");
    assert_eq!(on_host(1, "systemctl is-enabled haproxy").trim(), "enabled");
    let (_, second) = play(&inv, pb, false, false);
    assert_eq!(failed(&second), 0);
    assert_eq!(changed(&second, "th01"), 0);
    // restarted always changes; service (generic) agrees on the state.
    let pb = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - service: {name: haproxy, state: restarted}
    - service: {name: haproxy, state: started, enabled: yes}
"#;
    let (_, r) = play(&inv, pb, false, false);
    assert_eq!(failed(&r), 0);
    assert_eq!(changed(&r, "th01"), 1);
}

const SYSCTL_PLAY: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - sysctl:
        name: net.ipv4.ip_forward
        value: "1"
        sysctl_file: /etc/sysctl.d/99-wl-test.conf
        sysctl_set: yes
    - ansible.posix.sysctl:
        name: net.bridge.bridge-nf-call-iptables
        value: 1
        sysctl_file: /etc/sysctl.d/99-wl-test.conf
        state: present
        reload: yes
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn sysctl_writes_one_file_from_two_tasks() {
    let inv = testhosts();
    let _g = lock();
    for i in 1..=3 {
        on_host(
            i,
            "rm -f /etc/sysctl.d/99-wl-test.conf; sysctl -qw net.ipv4.ip_forward=0",
        );
    }
    let (events, check) = play(&inv, SYSCTL_PLAY, true, true);
    assert_eq!(failed(&check), 0, "{events:#?}");
    assert_eq!(changed(&check, "th02"), 2);
    assert!(
        !results_of(&events, "th02")[0].contains_key("diff"),
        "no diff, as ansible.posix.sysctl gives none (conformance ssh/sysctl_modprobe_fqcn)"
    );
    assert_eq!(on_host(2, "cat /proc/sys/net/ipv4/ip_forward").trim(), "0");
    let (events, first) = play(&inv, SYSCTL_PLAY, false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    for h in ["th01", "th02", "th03"] {
        assert_eq!(changed(&first, h), 2, "{h}");
    }
    assert_eq!(
        on_host(3, "cat /etc/sysctl.d/99-wl-test.conf"),
        "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\n"
    );
    assert_eq!(on_host(3, "cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    let (_, second) = play(&inv, SYSCTL_PLAY, false, false);
    assert_eq!(failed(&second), 0);
    for h in ["th01", "th02", "th03"] {
        assert_eq!(changed(&second, h), 0, "{h}");
    }
}

const MODPROBE_PLAY: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: overlay
      modprobe: {name: overlay, state: present, persistent: present}
    - name: br_netfilter
      community.general.modprobe: {name: br_netfilter, persistent: present}
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn modprobe_persists_builtin_modules() {
    let inv = testhosts();
    let _g = lock();
    for i in 1..=3 {
        on_host(
            i,
            "rm -f /etc/modules-load.d/overlay.conf /etc/modules-load.d/br_netfilter.conf",
        );
    }
    // A kernel without loadable module support (the machine the test hosts run on, often)
    // has no /proc/modules: community.general.modprobe fails there, check mode too, as
    // modprobe.py does (conformance case ssh/sysctl_modprobe_fqcn), and writes nothing.
    if on_host(1, "test -e /proc/modules && echo yes || echo no").trim() == "no" {
        for check in [true, false] {
            let (events, r) = play(&inv, MODPROBE_PLAY, check, true);
            assert_eq!(failed(&r), 3, "{events:#?}");
            for res in results_of(&events, "th01") {
                assert_eq!(
                    res["msg"], "[Errno 2] No such file or directory: '/proc/modules'",
                    "{res:?}"
                );
            }
            assert_eq!(on_host(1, "ls /etc/modules-load.d/"), "modules.conf\n");
        }
        return;
    }
    let (events, check) = play(&inv, MODPROBE_PLAY, true, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 2);
    let check_diffs = diffs_of(&events, "th01");
    assert_eq!(on_host(1, "ls /etc/modules-load.d/"), "modules.conf\n");
    let (events, first) = play(&inv, MODPROBE_PLAY, false, true);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 2);
    // --diff shows each new file, in check mode as in the run.
    let run_diffs = diffs_of(&events, "th01");
    assert_eq!(check_diffs, run_diffs, "check shows the run's diffs");
    for m in ["overlay", "br_netfilter"] {
        let d = &run_diffs[m];
        assert!(
            d.contains(&format!("--- before\n+++ after\n@@ -0,0 +1 @@\n+{m}\n")),
            "{m}: {d}"
        );
    }
    assert_eq!(
        on_host(
            1,
            "cat /etc/modules-load.d/overlay.conf /etc/modules-load.d/br_netfilter.conf"
        ),
        "overlay\nbr_netfilter\n"
    );
    let (events, second) = play(&inv, MODPROBE_PLAY, false, true);
    assert_eq!(failed(&second), 0);
    assert_eq!(changed(&second, "th02"), 0);
    assert!(diffs_of(&events, "th01").is_empty(), "{events:#?}");
    // persistent: absent comments the module out; --diff shows the line before and after.
    let pb = "- hosts: th01\n  gather_facts: false\n  tasks:\n    - name: unpersist\n      modprobe: {name: br_netfilter, persistent: absent}\n";
    let (events, check) = play(&inv, pb, true, true);
    assert_eq!(changed(&check, "th01"), 1, "{events:#?}");
    let check_diffs = diffs_of(&events, "th01");
    let (events, first) = play(&inv, pb, false, true);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 1);
    let run_diffs = diffs_of(&events, "th01");
    assert_eq!(check_diffs, run_diffs);
    assert!(
        run_diffs["unpersist"].contains("-br_netfilter\n+#br_netfilter\n"),
        "{run_diffs:?}"
    );
    assert_eq!(
        on_host(1, "cat /etc/modules-load.d/br_netfilter.conf"),
        "#br_netfilter\n"
    );
    let (events, second) = play(&inv, pb, false, true);
    assert_eq!(changed(&second, "th01"), 0);
    assert!(diffs_of(&events, "th01").is_empty(), "{events:#?}");
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn dpkg_selections_holds_a_package() {
    let inv = testhosts();
    let _g = lock();
    packages(&inv);
    on_host(1, "echo keepalived install | dpkg --set-selections");
    let pb = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - dpkg_selections: {name: keepalived, selection: hold}
"#;
    let (_, check) = play(&inv, pb, true, false);
    assert_eq!(changed(&check, "th01"), 1);
    let (_, first) = play(&inv, pb, false, false);
    assert_eq!(failed(&first), 0);
    assert_eq!(changed(&first, "th01"), 1);
    assert!(
        on_host(1, "dpkg --get-selections keepalived").contains("hold"),
        "held"
    );
    let (_, second) = play(&inv, pb, false, false);
    assert_eq!(changed(&second, "th01"), 0);
    on_host(1, "echo keepalived install | dpkg --set-selections");
}

const USER_PLAY: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - group: {name: wlsys-grp, gid: 23450}
    - group: {name: wlsys-extra, system: yes}
    - user:
        name: wlsys-user
        uid: 23450
        group: wlsys-grp
        groups: [wlsys-extra]
        shell: /bin/sh
        home: /home/wlsys-user
      register: u
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn user_and_group_are_created_then_unchanged() {
    let inv = testhosts();
    let _g = lock();
    for i in 1..=3 {
        on_host(
            i,
            "userdel -r wlsys-user 2>/dev/null; groupdel wlsys-grp 2>/dev/null; groupdel wlsys-extra 2>/dev/null; true",
        );
    }
    // As in Ansible (user.py), check mode reports an account it would create as changed
    // without looking at its groups, which do not exist yet.
    let (events, check) = play(&inv, USER_PLAY, true, false);
    assert_eq!(failed(&check), 0, "{events:#?}");
    assert_eq!(
        changed(&check, "th01"),
        3,
        "both groups and the user predicted"
    );
    assert_eq!(on_host(1, "getent group wlsys-grp"), "");
    let (events, first) = play(&inv, USER_PLAY, false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th03"), 3);
    assert_eq!(
        on_host(3, "getent passwd wlsys-user"),
        "wlsys-user:x:23450:23450::/home/wlsys-user:/bin/sh\n"
    );
    assert_eq!(on_host(3, "id -Gn wlsys-user"), "wlsys-grp wlsys-extra\n");
    assert_eq!(on_host(3, "stat -c %U /home/wlsys-user"), "wlsys-user\n");
    let (_, second) = play(&inv, USER_PLAY, false, false);
    assert_eq!(failed(&second), 0);
    for h in ["th01", "th02", "th03"] {
        assert_eq!(changed(&second, h), 0, "{h}");
    }
    // With the groups there, check mode predicts exactly the user's creation.
    on_host(1, "userdel -r wlsys-user");
    let (_, check) = play(&inv, USER_PLAY, true, false);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1);
    assert_eq!(on_host(1, "getent passwd wlsys-user"), "");
    let (_, again) = play(&inv, USER_PLAY, false, false);
    assert_eq!(changed(&again, "th01"), 1);
    // A change of shell is one usermod.
    let (_, r) = play(
        &inv,
        "- hosts: th02\n  gather_facts: false\n  tasks:\n    - user: {name: wlsys-user, shell: /bin/bash}\n",
        false,
        false,
    );
    assert_eq!(changed(&r, "th02"), 1);
    assert!(on_host(2, "getent passwd wlsys-user").ends_with(":/bin/bash\n"));
}

/// Puts the host's name back even when an assertion fails.
struct RestoreHostname(String);

impl Drop for RestoreHostname {
    fn drop(&mut self) {
        on_host(
            1,
            &format!(
                "hostnamectl set-hostname {0} 2>/dev/null || hostname {0}; echo {0} > /etc/hostname",
                self.0
            ),
        );
    }
}

/// hostname on a container: the current name is unchanged; a rename to a temporary name is
/// predicted by check mode, applied (kernel name and /etc/hostname), unchanged the second
/// time, and renamed back.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn hostname_renames_and_restores() {
    let inv = testhosts();
    let _g = lock();
    let original = on_host(1, "hostname").trim().to_string();
    assert!(!original.is_empty());
    let _restore = RestoreHostname(original.clone());
    let pb = |name: &str| {
        format!(
            "- hosts: th01\n  gather_facts: false\n  tasks:\n    - hostname: {{name: {name}}}\n"
        )
    };
    let (events, r) = play(&inv, &pb(&original), false, false);
    assert_eq!(failed(&r), 0, "{events:#?}");
    assert_eq!(changed(&r, "th01"), 0, "the current name is unchanged");
    let (_, check) = play(&inv, &pb("wl-tmp-name"), true, false);
    assert_eq!(changed(&check, "th01"), 1);
    assert_eq!(
        on_host(1, "hostname").trim(),
        original,
        "check renamed nothing"
    );
    let (events, first) = play(&inv, &pb("wl-tmp-name"), false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 1);
    assert_eq!(
        on_host(1, "hostname; cat /etc/hostname"),
        "wl-tmp-name\nwl-tmp-name\n"
    );
    let (_, second) = play(&inv, &pb("wl-tmp-name"), false, false);
    assert_eq!(changed(&second, "th01"), 0);
    let (events, back) = play(&inv, &pb(&original), false, false);
    assert_eq!(failed(&back), 0, "{events:#?}");
    assert_eq!(changed(&back, "th01"), 1);
    assert_eq!(
        on_host(1, "hostname; cat /etc/hostname"),
        format!("{original}\n{original}\n")
    );
}

/// systemd `masked`: mask a stopped vendor unit (a unit file in /etc cannot be masked; check predicts it), unchanged the second time;
/// unmask it the same way.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn systemd_masks_and_unmasks_a_unit() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        2,
        "rm -f /etc/systemd/system/wl-mask.service; printf '[Unit]\\nDescription=wl mask test\\n[Service]\\nExecStart=/bin/sleep 600\\n' > /usr/lib/systemd/system/wl-mask.service; systemctl unmask wl-mask 2>/dev/null; systemctl daemon-reload; systemctl stop wl-mask; true",
    );
    let pb = |masked: bool| {
        format!(
            "- hosts: th02\n  gather_facts: false\n  tasks:\n    - systemd: {{name: wl-mask, masked: {masked}}}\n"
        )
    };
    for (masked, want) in [(true, "masked"), (false, "static")] {
        let (events, check) = play(&inv, &pb(masked), true, false);
        assert_eq!(failed(&check), 0, "{events:#?}");
        assert_eq!(changed(&check, "th02"), 1, "{events:#?}");
        let (events, first) = play(&inv, &pb(masked), false, false);
        assert_eq!(failed(&first), 0, "{events:#?}");
        assert_eq!(changed(&first, "th02"), 1);
        assert_eq!(on_host(2, "systemctl is-enabled wl-mask").trim(), want);
        let (_, second) = play(&inv, &pb(masked), false, false);
        assert_eq!(changed(&second, "th02"), 0, "masked={masked} twice");
    }
    on_host(
        2,
        "rm -f /usr/lib/systemd/system/wl-mask.service; systemctl daemon-reload",
    );
}

const REPO_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: list
      apt_repository:
        repo: "deb [trusted=yes arch=amd64] file:/srv/localrepo ./"
        filename: wl-system-local
    - name: sources
      deb822_repository:
        name: wl-system-k8s
        uris: https://pkgs.k8s.io/core:/stable:/v1.30/deb/
        suites: /
        signed_by: /etc/apt/keyrings/kubernetes-apt-keyring.gpg
        enabled: ENABLED
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn repositories_are_written_once() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        1,
        "rm -f /etc/apt/sources.list.d/wl-system-local.list /etc/apt/sources.list.d/wl-system-k8s.sources",
    );
    let disabled = REPO_PLAY.replace("ENABLED", "no");
    let (events, check) = play(&inv, &disabled, true, true);
    assert_eq!(changed(&check, "th01"), 2);
    let check_diffs = diffs_of(&events, "th01");
    let (events, first) = play(&inv, &disabled, false, true);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 2);
    // --diff shows both new files, in check mode as in the run.
    let run_diffs = diffs_of(&events, "th01");
    assert_eq!(check_diffs, run_diffs, "check shows the run's diffs");
    assert!(
        run_diffs["list"].contains(
            "+++ after: /etc/apt/sources.list.d/wl-system-local.list\n@@ -0,0 +1 @@\n+deb [trusted=yes arch=amd64] file:/srv/localrepo ./\n"
        ),
        "{run_diffs:?}"
    );
    let d = &run_diffs["sources"];
    assert!(
        d.contains("--- before\n+++ after\n")
            && d.contains("\n+URIs: https://pkgs.k8s.io/core:/stable:/v1.30/deb/\n")
            && d.contains("\n+Enabled: no\n")
            && !d.contains("\n-"),
        "{d}"
    );
    assert_eq!(
        on_host(1, "cat /etc/apt/sources.list.d/wl-system-local.list"),
        "deb [trusted=yes arch=amd64] file:/srv/localrepo ./\n"
    );
    assert!(
        on_host(1, "cat /etc/apt/sources.list.d/wl-system-k8s.sources").contains("Enabled: no\n")
    );
    let (events, second) = play(&inv, &disabled, false, true);
    assert_eq!(changed(&second, "th01"), 0);
    assert!(diffs_of(&events, "th01").is_empty(), "{events:#?}");
    // apt accepts both files.
    assert!(on_host(1, "apt-get update -q >/dev/null 2>&1 && echo ok").contains("ok"));
    // The line commented out by hand is enabled in place, the sources file is enabled:
    // --diff shows each line before and after, in check mode as in the run.
    on_host(
        1,
        "sed -i 's/^deb /# deb /' /etc/apt/sources.list.d/wl-system-local.list",
    );
    let enabled = REPO_PLAY.replace("ENABLED", "yes");
    let (events, check) = play(&inv, &enabled, true, true);
    assert_eq!(changed(&check, "th01"), 2, "{events:#?}");
    let check_diffs = diffs_of(&events, "th01");
    let (events, first) = play(&inv, &enabled, false, true);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 2);
    let run_diffs = diffs_of(&events, "th01");
    assert_eq!(check_diffs, run_diffs, "check shows the run's diffs");
    assert!(
        run_diffs["list"].contains(
            "-# deb [trusted=yes arch=amd64] file:/srv/localrepo ./\n+deb [trusted=yes arch=amd64] file:/srv/localrepo ./\n"
        ),
        "{run_diffs:?}"
    );
    assert!(
        run_diffs["sources"].contains("-Enabled: no\n+Enabled: yes\n"),
        "{run_diffs:?}"
    );
    let (events, second) = play(&inv, &enabled, false, true);
    assert_eq!(changed(&second, "th01"), 0);
    assert!(diffs_of(&events, "th01").is_empty(), "{events:#?}");
    on_host(
        1,
        "rm -f /etc/apt/sources.list.d/wl-system-local.list /etc/apt/sources.list.d/wl-system-k8s.sources",
    );
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn apt_key_writes_a_dearmored_keyring_once() {
    let inv = testhosts();
    let _g = lock();
    on_host(1, "rm -f /etc/apt/keyrings/wl-system-test.gpg");
    let pb = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - apt_key:
        file: /etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc
        keyring: /etc/apt/keyrings/wl-system-test.gpg
      register: k
    - debug: msg="{{ k.key_id }}"
"#;
    let (_, check) = play(&inv, pb, true, false);
    assert_eq!(changed(&check, "th01"), 1);
    let (events, first) = play(&inv, pb, false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert_eq!(changed(&first, "th01"), 1);
    // The armor's base64 body, decoded, is what was written.
    let same = on_host(
        1,
        "sed -n '/^$/,/^=/p' /etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc | grep -v '^=' | base64 -d | cmp - /etc/apt/keyrings/wl-system-test.gpg && echo same",
    );
    assert_eq!(same.trim(), "same");
    let (_, second) = play(&inv, pb, false, false);
    assert_eq!(changed(&second, "th01"), 0);
    on_host(1, "rm -f /etc/apt/keyrings/wl-system-test.gpg");
}

/// The upstream part of the candidate version `apt-cache policy` shows for `pkg` on slot
/// `i`, as a version pattern (`1.6.20~ds1-1+deb12u3` → `1.6.20~ds1*`).
fn candidate_glob(i: usize, pkg: &str) -> String {
    let policy = on_host(i, &format!("apt-cache policy {pkg}"));
    let cand = policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no candidate for {pkg}: {policy}"));
    assert_ne!(cand, "(none)", "{pkg} is not in the local mirror");
    format!("{}*", cand.split('-').next().unwrap())
}

/// containerd and etcd from the local mirror, pinned to a version pattern, running under
/// systemd: check mode installs nothing, the first run installs and starts them, the
/// second changes nothing; stopped by hand, the play starts them again.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn apt_pins_containerd_and_etcd_and_systemd_runs_them() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        3,
        "systemctl stop containerd etcd 2>/dev/null; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q containerd etcd-server etcd-client >/dev/null 2>&1; rm -rf /var/lib/etcd; true",
    );
    let cv = candidate_glob(3, "containerd");
    let ev = candidate_glob(3, "etcd-server");
    let pb = format!(
        r#"
- hosts: th03
  gather_facts: false
  tasks:
    - name: runtime packages
      apt:
        name: ["containerd={cv}", "etcd-server={ev}", etcd-client]
        update_cache: yes
    - name: containerd runs
      systemd: {{name: containerd, state: started, enabled: true}}
    - name: etcd runs
      systemd: {{name: etcd, state: started, enabled: true}}
"#
    );
    let (events, check) = play(&inv, &pb, true, false);
    assert_eq!(failed(&check), 0, "{events:#?}");
    assert!(
        changed(&check, "th03") >= 1,
        "check mode predicts the install"
    );
    assert_eq!(
        on_host(
            3,
            "dpkg-query -W -f='${Status}' containerd etcd-server 2>/dev/null; echo"
        )
        .trim(),
        "",
        "check mode installed nothing"
    );
    let (events, first) = play(&inv, &pb, false, false);
    assert_eq!(failed(&first), 0, "{events:#?}");
    assert!(changed(&first, "th03") >= 1, "{events:#?}");
    let versions = on_host(
        3,
        "dpkg-query -W -f='${Package} ${Version} ${Status}\\n' containerd etcd-server",
    );
    for (pkg, glob) in [("containerd", &cv), ("etcd-server", &ev)] {
        let line = versions
            .lines()
            .find(|l| l.starts_with(&format!("{pkg} ")))
            .unwrap_or_else(|| panic!("{pkg} not installed: {versions}"));
        let v = line.split(' ').nth(1).unwrap();
        // The pin is a shell-style glob (fnmatch, as Ansible matches it): the host's shell
        // is the judge.
        let matched = on_host(3, &format!("case '{v}' in {glob}) echo yes;; esac"));
        assert!(
            matched.trim() == "yes" && line.ends_with("install ok installed"),
            "{line} (pinned {glob})"
        );
    }
    assert_eq!(
        on_host(3, "systemctl is-active containerd etcd"),
        "active\nactive\n"
    );
    assert_eq!(
        on_host(3, "systemctl is-enabled containerd etcd"),
        "enabled\nenabled\n"
    );
    let (events, second) = play(&inv, &pb, false, false);
    assert_eq!(failed(&second), 0, "{events:#?}");
    assert_eq!(changed(&second, "th03"), 0, "second run: {events:#?}");
    // Stopped by hand: the check run predicts both starts, the run does them.
    on_host(3, "systemctl stop containerd etcd");
    let (_, check) = play(&inv, &pb, true, false);
    assert_eq!(changed(&check, "th03"), 2);
    assert_eq!(
        on_host(3, "systemctl is-active containerd etcd"),
        "inactive\ninactive\n"
    );
    let (events, r) = play(&inv, &pb, false, false);
    assert_eq!(changed(&r, "th03"), 2, "{events:#?}");
    assert_eq!(
        on_host(3, "systemctl is-active containerd etcd"),
        "active\nactive\n"
    );
    // etcd answers (etcdctl from etcd-client, installed unpinned by the same task).
    let health = on_host(
        3,
        "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 endpoint health 2>&1",
    );
    assert!(health.contains("is healthy"), "{health}");
}

/// The generic `package` and `service` modules on slot 2: two small packages from the
/// local mirror and a unit written for the test, installed/started then removed/stopped.
/// Each way, a check run on the state before predicts the first run's changes exactly and
/// touches nothing; the first run changes; the second changes nothing; dpkg and systemctl
/// on the host agree.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn package_and_service_check_and_run_twice() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        2,
        "systemctl disable --now wl-pkgsvc 2>/dev/null; \
         DEBIAN_FRONTEND=noninteractive apt-get purge -y -q socat conntrack >/dev/null 2>&1; \
         printf '[Unit]\\nDescription=wl package/service test\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/wl-pkgsvc.service; \
         systemctl daemon-reload; true",
    );
    let status = || {
        on_host(
            2,
            "for p in socat conntrack; do dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q ' installed$' \
             && echo \"$p installed\" || echo \"$p absent\"; done; \
             systemctl is-active wl-pkgsvc; systemctl is-enabled wl-pkgsvc",
        )
    };
    let pb = |pkg: &str, svc: &str, enabled: bool| {
        format!(
            r#"
- hosts: th02
  gather_facts: false
  tasks:
    - name: tools
      package: {{name: [socat, conntrack], state: {pkg}}}
    - name: unit
      ansible.builtin.service: {{name: wl-pkgsvc, state: {svc}, enabled: {enabled}}}
"#
        )
    };
    let before = status();
    assert_eq!(
        before, "socat absent\nconntrack absent\ninactive\ndisabled\n",
        "fresh state"
    );
    for (pb, after) in [
        (
            pb("present", "started", true),
            "socat installed\nconntrack installed\nactive\nenabled\n",
        ),
        (
            pb("absent", "stopped", false),
            "socat absent\nconntrack absent\ninactive\ndisabled\n",
        ),
    ] {
        let state = status();
        let (events, check) = play(&inv, &pb, true, false);
        assert_eq!(failed(&check), 0, "{events:#?}");
        let predicted = changed(&check, "th02");
        assert_eq!(status(), state, "check mode changed nothing");
        let (events, first) = play(&inv, &pb, false, false);
        assert_eq!(failed(&first), 0, "{events:#?}");
        assert_eq!(
            changed(&first, "th02"),
            predicted,
            "check predicted the run: {events:#?}"
        );
        assert_eq!(predicted, 2, "{events:#?}");
        assert_eq!(status(), after);
        let (events, second) = play(&inv, &pb, false, false);
        assert_eq!(failed(&second), 0, "{events:#?}");
        assert_eq!(changed(&second, "th02"), 0, "second run: {events:#?}");
        assert_eq!(status(), after);
    }
    on_host(
        2,
        "rm -f /etc/systemd/system/wl-pkgsvc.service; systemctl daemon-reload",
    );
}
