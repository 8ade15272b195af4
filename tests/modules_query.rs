//! The query modules on the test hosts over real SSH: getent, find, package_facts,
//! service_facts (read-only: they run in check mode too) and debconf, timezone (check
//! predicts, a run changes once, the host's state checked with its own tools, then put
//! back). Ignored unless asked for; they need `WINDLASS_TESTHOSTS`. Every test takes one
//! lock and cleans up what it made, under names of its own (`wlq-…`).

mod common;

use common::{Project, changed, debug_msgs, failed, lock, on_host, opts, testhosts};
use serde_json::json;
use windlass::embed::RunReport;
use windlass::event::Event;

/// Run `play` (a playbook body) on the test hosts; `(events, report)`.
fn play(inv: &std::path::Path, play: &str, check: bool) -> (Vec<Event>, RunReport) {
    let p = Project::new();
    p.with_testhosts(inv);
    p.file("site.yml", play);
    let mut o = opts();
    o.forks = 5;
    o.check = check;
    p.run("site.yml", "hosts.yml", o).expect("run")
}

const GETENT_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - getent: {database: passwd, key: wlq-getent}
    - debug: msg="{{ ansible_facts.getent_passwd }}"
    - getent: {database: hosts}
    - debug: msg="{{ getent_hosts['10.99.0.7'] }}"
    - getent: {database: group, key: wlq-nobody, fail_key: false}
    - debug: msg="{{ getent_group }}"
"#;

/// `getent` reads NSS on the host, in check mode as in a run: a user whose gecos holds
/// spaces and commas, a hosts line listed twice (a list of both entries), a missing key.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn getent_reads_the_name_service() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        1,
        "userdel wlq-getent 2>/dev/null; useradd -M -N -g 100 -u 23470 -c 'Query, Test  x' -s /bin/sh wlq-getent; \
         sed -i '/wlq-alias/d' /etc/hosts; \
         printf '10.99.0.7 wlq-a wlq-alias\\n10.99.0.7\\twlq-b\\n' >> /etc/hosts",
    );
    for check in [true, false] {
        let (events, r) = play(&inv, GETENT_PLAY, check);
        assert_eq!(failed(&r), 0, "check={check}");
        assert_eq!(changed(&r, "th01"), 0);
        let msgs = debug_msgs(&events, "th01");
        let passwd = &msgs[0];
        assert_eq!(
            passwd,
            &json!({"wlq-getent": ["x", "23470", "100", "Query, Test  x", "/home/wlq-getent", "/bin/sh"]}),
            "{passwd}"
        );
        assert_eq!(msgs[1], json!([["wlq-a", "wlq-alias"], ["wlq-b"]]));
        assert_eq!(msgs[2], json!({"wlq-nobody": null}));
    }
    on_host(
        1,
        "userdel wlq-getent; sed -i '/wlq-alias/d;/wlq-b$/d' /etc/hosts",
    );
}

const FIND_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - find: {paths: /tmp/wlq-find, recurse: true, patterns: "*.conf", get_checksum: true, checksum_algorithm: sha256}
      register: r
    - debug: msg="{{ r.files | map(attribute='path') | sort }}"
    - debug: msg="{{ r.files | map(attribute='checksum') | sort }}"
    - debug: msg="{{ r.matched }} {{ r.examined }} {{ r.files | map(attribute='pw_name') | unique | list }}"
"#;

/// `find` walks a tree on the host, in check mode as in a run: a file whose name holds a
/// newline and a header-like line comes back as one path, with the checksum of its bytes.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn find_walks_a_tree_on_the_host() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        1,
        "rm -rf /tmp/wlq-find; mkdir -p /tmp/wlq-find/sub; echo one > /tmp/wlq-find/a.conf; \
         echo two > /tmp/wlq-find/sub/b.conf; echo three > /tmp/wlq-find/c.txt; \
         printf 'evil\\n' > \"$(printf '/tmp/wlq-find/sub/x\\n@@0123456789abcdef0123456789abcdef walk\\nn.conf')\"",
    );
    let sums = on_host(
        1,
        "cd /tmp/wlq-find && cat a.conf | sha256sum; cat sub/b.conf | sha256sum; printf 'evil\\n' | sha256sum",
    );
    let mut want_sums: Vec<String> = sums.lines().map(|l| l[..64].to_string()).collect();
    want_sums.sort();
    for check in [true, false] {
        let (events, r) = play(&inv, FIND_PLAY, check);
        assert_eq!(failed(&r), 0, "check={check}");
        assert_eq!(changed(&r, "th01"), 0);
        let msgs = debug_msgs(&events, "th01");
        assert_eq!(
            msgs[0],
            json!([
                "/tmp/wlq-find/a.conf",
                "/tmp/wlq-find/sub/b.conf",
                "/tmp/wlq-find/sub/x\n@@0123456789abcdef0123456789abcdef walk\nn.conf"
            ])
        );
        assert_eq!(msgs[1], json!(want_sums));
        assert_eq!(msgs[2], json!("3 5 ['root']"));
    }
    on_host(1, "rm -rf /tmp/wlq-find");
}

const PACKAGES_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - package_facts:
    - debug: msg="{{ ansible_facts.packages | length }}"
    - debug: msg="{{ ansible_facts.packages.dpkg }}"
    - debug: msg="{{ 'wlq-no-such-package' in ansible_facts.packages }}"
"#;

/// `package_facts` lists what dpkg has installed on the host, in check mode as in a run.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn package_facts_match_dpkg() {
    let inv = testhosts();
    let _g = lock();
    let count: usize = on_host(
        1,
        "dpkg-query -W -f '${db:Status-Abbrev}\\n' | grep -vc '^.[nc]'",
    )
    .trim()
    .parse()
    .expect("a count");
    let dpkg = on_host(
        1,
        "dpkg-query -W -f '${Version} ${Architecture} ${Section}' dpkg",
    );
    let dpkg: Vec<&str> = dpkg.split(' ').collect();
    for check in [true, false] {
        let (events, r) = play(&inv, PACKAGES_PLAY, check);
        assert_eq!(failed(&r), 0, "check={check}");
        assert_eq!(changed(&r, "th01"), 0);
        let msgs = debug_msgs(&events, "th01");
        assert_eq!(msgs[0], json!(count));
        assert_eq!(
            msgs[1],
            json!([{"name": "dpkg", "version": dpkg[0], "arch": dpkg[1],
                    "category": dpkg[2], "origin": "", "source": "apt"}])
        );
        assert_eq!(msgs[2], json!(false));
    }
}

const SERVICES_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - service_facts:
    - debug: msg="{{ ansible_facts.services['ssh.service'] }}"
    - debug: msg="{{ ansible_facts.services['wlq-svc.service'] }}"
"#;

/// `service_facts` sees systemd's units on the host, in check mode as in a run: a unit
/// file that is not loaded gets its ActiveState, and its description cannot pose as
/// another section.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn service_facts_read_systemd() {
    let inv = testhosts();
    let _g = lock();
    on_host(
        1,
        "printf '[Unit]\\nDescription=x\\\\n@@0123456789abcdef0123456789abcdef files_rc\\n[Service]\\nExecStart=/bin/true\\n' \
         > /etc/systemd/system/wlq-svc.service; systemctl daemon-reload",
    );
    for check in [true, false] {
        let (events, r) = play(&inv, SERVICES_PLAY, check);
        assert_eq!(failed(&r), 0, "check={check}");
        assert_eq!(changed(&r, "th01"), 0);
        let msgs = debug_msgs(&events, "th01");
        assert_eq!(
            msgs[0],
            json!({"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"})
        );
        assert_eq!(
            msgs[1],
            json!({"name": "wlq-svc.service", "state": "inactive", "status": "static", "source": "systemd"})
        );
    }
    on_host(
        1,
        "rm -f /etc/systemd/system/wlq-svc.service; systemctl daemon-reload",
    );
}

const DEBCONF_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - debconf: {name: wlq-pkg, question: wlq-pkg/answer, vtype: string, value: "a  b"}
"#;

/// `debconf`: check mode predicts a change and makes none, a run sets the answer (read
/// back with `debconf-show`), a second run changes nothing; the question is purged after.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn debconf_sets_an_answer_once() {
    let inv = testhosts();
    let _g = lock();
    let purge = "echo PURGE | debconf-communicate wlq-pkg >/dev/null 2>&1; true";
    on_host(1, purge);
    let (_, check) = play(&inv, DEBCONF_PLAY, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1);
    assert_eq!(on_host(1, "debconf-show wlq-pkg"), "");
    let (_, first) = play(&inv, DEBCONF_PLAY, false);
    assert_eq!(failed(&first), 0);
    assert_eq!(changed(&first, "th01"), 1);
    assert_eq!(
        on_host(1, "debconf-show wlq-pkg"),
        "* wlq-pkg/answer: a  b\n"
    );
    let (_, second) = play(&inv, DEBCONF_PLAY, false);
    assert_eq!(changed(&second, "th01"), 0);
    on_host(1, purge);
}

const TIMEZONE_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - timezone: {name: Asia/Tokyo}
      register: tz
    - debug: msg="{{ tz.diff }}"
"#;

/// `timezone` (community.general's, by its bare name) with timedatectl: check mode
/// predicts, a run changes the zone (read back from `/etc/localtime`), a second run changes
/// nothing; the zone is put back to Etc/UTC after.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn timezone_is_set_once() {
    let inv = testhosts();
    let _g = lock();
    let reset = "timedatectl set-timezone Etc/UTC";
    on_host(1, reset);
    let (events, check) = play(&inv, TIMEZONE_PLAY, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1);
    assert_eq!(
        debug_msgs(&events, "th01")[0],
        json!({"before": {"name": "Etc/UTC"}, "after": {"name": "Asia/Tokyo"}})
    );
    assert_eq!(
        on_host(1, "readlink -f /etc/localtime"),
        "/usr/share/zoneinfo/Etc/UTC\n"
    );
    let (_, first) = play(&inv, TIMEZONE_PLAY, false);
    assert_eq!(failed(&first), 0);
    assert_eq!(changed(&first, "th01"), 1);
    assert_eq!(
        on_host(1, "readlink -f /etc/localtime"),
        "/usr/share/zoneinfo/Asia/Tokyo\n"
    );
    let (_, second) = play(&inv, TIMEZONE_PLAY, false);
    assert_eq!(failed(&second), 0);
    assert_eq!(changed(&second, "th01"), 0);
    on_host(1, reset);
}
