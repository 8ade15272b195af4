//! The admin modules on the test hosts over real SSH: tempfile, known_hosts,
//! authorized_key, cron, mount. Ignored unless asked for; they need `WINDLASS_TESTHOSTS`.
//! Each test checks that check mode predicts, the first run changes, a second run changes
//! nothing, and what is on the host (read with its own command, not windlass's); each
//! removes what it creates (names start with `wladmin`).

mod common;

use common::{Project, changed, debug_msgs, failed, lock, on_host, opts, testhosts};
use windlass::embed::RunReport;
use windlass::event::Event;

/// Run `play` (a playbook body) on the test hosts; `(events, report)`.
fn play(inv: &std::path::Path, play: &str, check: bool, diff: bool) -> (Vec<Event>, RunReport) {
    let p = Project::new();
    p.with_testhosts(inv);
    p.file("site.yml", play);
    let mut o = opts();
    o.check = check;
    o.diff = diff;
    p.run("site.yml", "hosts.yml", o).expect("run")
}

/// Every `--diff` text shown for `host`, joined in task order.
fn diffs_of(events: &[Event], host: &str) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult { host: h, diff, .. } if h == host => Some(
                diff.iter()
                    .map(windlass::output::printer::unified_diff)
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// The `msg`s of the `debug` tasks on th01, as text.
fn msgs(events: &[Event]) -> Vec<String> {
    debug_msgs(events, "th01")
        .iter()
        .map(|m| {
            m.as_str()
                .map(String::from)
                .unwrap_or_else(|| m.to_string())
        })
        .collect()
}

const TEMPFILE_PLAY: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - tempfile: {path: /var/tmp/wladmin-tf, prefix: "wladmin.", suffix: ".conf"}
      register: f
    - tempfile: {path: /var/tmp/wladmin-tf, state: directory}
      register: d
    - debug: msg="{{ f.path | default('') }}"
    - debug: msg="{{ d.path | default('') }}"
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn tempfile_creates_private_files_every_run() {
    let inv = testhosts();
    let _g = lock();
    on_host(1, "rm -rf /var/tmp/wladmin-tf; mkdir /var/tmp/wladmin-tf");
    let (_, check) = play(&inv, TEMPFILE_PLAY, true, false);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 0, "check mode skips tempfile");
    assert_eq!(on_host(1, "ls -A /var/tmp/wladmin-tf"), "");
    let (events, first) = play(&inv, TEMPFILE_PLAY, false, false);
    assert_eq!(failed(&first), 0);
    assert_eq!(changed(&first, "th01"), 2);
    let m = msgs(&events);
    assert!(
        m[0].starts_with("/var/tmp/wladmin-tf/wladmin.") && m[0].ends_with(".conf"),
        "{m:?}"
    );
    assert!(m[1].starts_with("/var/tmp/wladmin-tf/ansible."), "{m:?}");
    let seen = on_host(1, &format!("stat -c '%F %a %U' -- '{}' '{}'", m[0], m[1]));
    assert_eq!(seen, "regular empty file 600 root\ndirectory 700 root\n");
    // Every run makes new ones, as Ansible's does.
    let (events, second) = play(&inv, TEMPFILE_PLAY, false, false);
    assert_eq!(changed(&second, "th01"), 2);
    assert_ne!(msgs(&events)[0], m[0]);
    assert_eq!(on_host(1, "ls -A /var/tmp/wladmin-tf | wc -l").trim(), "4");
    on_host(1, "rm -rf /var/tmp/wladmin-tf");
}

const KH_KEY: &str = "wladmin.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

fn known_hosts_play(state: &str) -> String {
    format!(
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - known_hosts:
        path: ~/wladmin_known_hosts
        name: wladmin.example
        key: "{KH_KEY}"
        hash_host: true
        state: {state}
      register: r
    - debug: msg="{{{{ r.path | default('') }}}}"
"#
    )
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn known_hosts_adds_a_hashed_entry_once_and_removes_it() {
    let inv = testhosts();
    let _g = lock();
    let file = "/root/wladmin_known_hosts";
    on_host(
        1,
        &format!("rm -f {file} {file}.old; echo 'other.example ssh-rsa AAAA' > {file}"),
    );
    let add = known_hosts_play("present");
    let (events, check) = play(&inv, &add, true, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1, "check mode predicts the change");
    let d = diffs_of(&events, "th01");
    assert!(
        d.contains("+|1|") && d.contains(" ssh-ed25519 AAAAC3"),
        "{d}"
    );
    assert_eq!(on_host(1, &format!("wc -l < {file}")).trim(), "1");
    let (events, first) = play(&inv, &add, false, false);
    assert_eq!(failed(&first), 0);
    assert_eq!(changed(&first, "th01"), 1);
    assert_eq!(msgs(&events), [file], "`~` is the remote user's home");
    let found = on_host(1, &format!("ssh-keygen -F wladmin.example -f {file}"));
    assert!(
        found.contains("found: line 2") && found.contains("|1|"),
        "{found}"
    );
    let (_, second) = play(&inv, &add, false, false);
    assert_eq!(changed(&second, "th01"), 0, "a hashed entry is recognised");
    let remove = known_hosts_play("absent");
    let (_, gone) = play(&inv, &remove, false, false);
    assert_eq!(changed(&gone, "th01"), 1);
    assert_eq!(
        on_host(1, &format!("cat {file}")),
        "other.example ssh-rsa AAAA\n"
    );
    let (_, again) = play(&inv, &remove, false, false);
    assert_eq!(changed(&again, "th01"), 0);
    on_host(1, &format!("rm -f {file} {file}.old"));
}

const AK_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@wladmin";
const AK_URL_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 from-url";

fn authorized_key_play(key: &str, state: &str) -> String {
    format!(
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - authorized_key:
        user: wladminkey
        key: "{key}"
        state: {state}
"#
    )
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn authorized_key_adds_keys_once_as_the_user_and_removes_them() {
    let inv = testhosts();
    let _g = lock();
    let reset = "userdel -r wladminkey >/dev/null 2>&1; rm -rf /var/tmp/wladmin-keys; true";
    on_host(1, reset);
    on_host(1, "useradd -m -s /bin/sh wladminkey");
    let add = authorized_key_play(AK_KEY, "present");
    let (events, check) = play(&inv, &add, true, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 1, "check mode predicts the change");
    assert!(diffs_of(&events, "th01").contains(&format!("+{AK_KEY}")));
    assert_eq!(
        on_host(1, "ls -A /home/wladminkey"),
        ".bash_logout\n.bashrc\n.profile\n"
    );
    let (_, first) = play(&inv, &add, false, false);
    assert_eq!((failed(&first), changed(&first, "th01")), (0, 1));
    let seen = on_host(
        1,
        "cd /home/wladminkey && stat -c '%a %U %G %n' .ssh .ssh/authorized_keys && cat .ssh/authorized_keys",
    );
    assert_eq!(
        seen,
        format!(
            "700 wladminkey wladminkey .ssh\n600 wladminkey wladminkey .ssh/authorized_keys\n{AK_KEY}\n"
        )
    );
    let (_, second) = play(&inv, &add, false, false);
    assert_eq!(changed(&second, "th01"), 0);
    // A key list from a URL, fetched on the host.
    on_host(
        1,
        &format!(
            "mkdir -p /var/tmp/wladmin-keys && echo '{AK_URL_KEY}' > /var/tmp/wladmin-keys/k.pub && \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null 2>&1; \
             setsid python3 -m http.server 18931 --bind 127.0.0.1 --directory /var/tmp/wladmin-keys >/dev/null 2>&1 & \
             echo $! > /var/tmp/wladmin-keys.pid; sleep 1"
        ),
    );
    let url = authorized_key_play("http://127.0.0.1:18931/k.pub", "present");
    let (_, fetched) = play(&inv, &url, false, false);
    assert_eq!((failed(&fetched), changed(&fetched, "th01")), (0, 1));
    assert_eq!(
        on_host(1, "cat /home/wladminkey/.ssh/authorized_keys"),
        format!("{AK_KEY}\n{AK_URL_KEY}\n")
    );
    on_host(
        1,
        "kill $(cat /var/tmp/wladmin-keys.pid); rm -f /var/tmp/wladmin-keys.pid",
    );
    let remove = authorized_key_play(AK_KEY, "absent");
    let (_, gone) = play(&inv, &remove, false, false);
    assert_eq!(changed(&gone, "th01"), 1);
    assert_eq!(
        on_host(1, "cat /home/wladminkey/.ssh/authorized_keys"),
        format!("{AK_URL_KEY}\n")
    );
    let (_, again) = play(&inv, &remove, false, false);
    assert_eq!(changed(&again, "th01"), 0);
    on_host(1, reset);
}

fn cron_play(state: &str) -> String {
    format!(
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - cron:
        name: "wladmin backup"
        user: wladmincron
        minute: "5"
        hour: "2"
        job: "/bin/echo 'backup' > /dev/null"
        state: {state}
    - cron:
        name: PATH
        env: true
        job: /usr/bin:/bin
        user: root
        cron_file: wladmin
        state: {state}
    - cron:
        name: wladmin daily
        special_time: daily
        job: /bin/true
        user: root
        cron_file: wladmin
        state: {state}
"#
    )
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn cron_keeps_a_user_job_and_a_cron_file_once() {
    let inv = testhosts();
    let _g = lock();
    let reset = "crontab -u wladmincron -r >/dev/null 2>&1; userdel -r wladmincron >/dev/null 2>&1; rm -f /etc/cron.d/wladmin; true";
    // `crontab` comes with the cron package, from the local repository (TH_REPO_PKGS).
    on_host(
        1,
        &format!(
            "{reset}; command -v crontab >/dev/null || {{ apt-get update -q; \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q cron; }} >/dev/null 2>&1; \
             useradd -m wladmincron"
        ),
    );
    assert!(
        on_host(1, "command -v crontab").contains("crontab"),
        "the test host needs the cron package in its local repository (add cron to TH_REPO_PKGS)"
    );
    let add = cron_play("present");
    let (events, check) = play(&inv, &add, true, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(
        changed(&check, "th01"),
        3,
        "check mode predicts the changes"
    );
    let d = diffs_of(&events, "th01");
    assert!(
        d.contains("+5 2 * * * /bin/echo 'backup' > /dev/null"),
        "{d}"
    );
    assert_eq!(
        on_host(
            1,
            "crontab -u wladmincron -l 2>/dev/null; test -e /etc/cron.d/wladmin || echo none"
        ),
        "none\n",
        "check mode wrote nothing"
    );
    let (_, first) = play(&inv, &add, false, false);
    assert_eq!((failed(&first), changed(&first, "th01")), (0, 3));
    assert_eq!(
        on_host(1, "crontab -u wladmincron -l"),
        "#Ansible: wladmin backup\n5 2 * * * /bin/echo 'backup' > /dev/null\n"
    );
    assert_eq!(
        on_host(
            1,
            "stat -c '%a %U' /etc/cron.d/wladmin; cat /etc/cron.d/wladmin"
        ),
        "644 root\nPATH=\"/usr/bin:/bin\"\n#Ansible: wladmin daily\n@daily root /bin/true\n"
    );
    let (_, second) = play(&inv, &add, false, false);
    assert_eq!(changed(&second, "th01"), 0);
    let remove = cron_play("absent");
    let (_, gone) = play(&inv, &remove, false, false);
    assert_eq!((failed(&gone), changed(&gone, "th01")), (0, 3));
    assert_eq!(on_host(1, "crontab -u wladmincron -l"), "");
    assert_eq!(
        on_host(1, "ls /etc/cron.d/wladmin 2>/dev/null | wc -l").trim(),
        "0"
    );
    let (_, again) = play(&inv, &remove, false, false);
    assert_eq!(changed(&again, "th01"), 0);
    on_host(1, reset);
}

fn mount_play(state: &str) -> String {
    format!(
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - mount:
        path: /mnt/wladmin tmp
        src: tmpfs
        fstype: tmpfs
        opts: size=8m
        fstab: /var/tmp/wladmin/fstab
        state: {state}
    - ansible.posix.mount:
        path: /mnt/wladmin-bind
        src: /var/tmp/wladmin/src
        fstype: none
        opts: bind
        fstab: /var/tmp/wladmin/fstab
        state: {state}
"#
    )
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn mount_keeps_fstab_lines_and_mounts_for_real() {
    let inv = testhosts();
    let _g = lock();
    let reset = "umount '/mnt/wladmin tmp' /mnt/wladmin-bind 2>/dev/null; rm -rf '/mnt/wladmin tmp' /mnt/wladmin-bind /var/tmp/wladmin; true";
    on_host(1, reset);
    on_host(
        1,
        "mkdir -p /var/tmp/wladmin/src && echo hi > /var/tmp/wladmin/src/f && echo '# test fstab' > /var/tmp/wladmin/fstab",
    );
    let live =
        "findmnt -rn -o TARGET,FSTYPE,OPTIONS '/mnt/wladmin tmp'; cat /mnt/wladmin-bind/f 2>&1";
    let mounted = mount_play("mounted");
    let (events, check) = play(&inv, &mounted, true, true);
    assert_eq!(failed(&check), 0);
    assert_eq!(changed(&check, "th01"), 2, "check mode predicts the mounts");
    // ansible.posix.mount returns no diff, so `--diff` shows none (conformance mount_fstab).
    assert_eq!(diffs_of(&events, "th01"), "");
    assert_eq!(
        on_host(1, "cat /var/tmp/wladmin/fstab; ls /mnt | grep -c wladmin"),
        "# test fstab\n0\n"
    );
    let (_, first) = play(&inv, &mounted, false, false);
    assert_eq!((failed(&first), changed(&first, "th01")), (0, 2));
    assert_eq!(
        on_host(1, "cat /var/tmp/wladmin/fstab"),
        "# test fstab\ntmpfs /mnt/wladmin\\040tmp tmpfs size=8m 0 0\n/var/tmp/wladmin/src /mnt/wladmin-bind none bind 0 0\n"
    );
    assert_eq!(
        on_host(1, live),
        "/mnt/wladmin\\x20tmp tmpfs rw,relatime,size=8192k\nhi\n"
    );
    let (_, second) = play(&inv, &mounted, false, false);
    assert_eq!(changed(&second, "th01"), 0, "in fstab and mounted");
    let (_, remounted) = play(&inv, &mount_play("remounted"), false, false);
    assert_eq!((failed(&remounted), changed(&remounted, "th01")), (0, 2));
    let (_, unmounted) = play(&inv, &mount_play("unmounted"), false, false);
    assert_eq!((failed(&unmounted), changed(&unmounted, "th01")), (0, 2));
    assert_eq!(
        on_host(1, live),
        "cat: /mnt/wladmin-bind/f: No such file or directory\n"
    );
    let (_, again) = play(&inv, &mount_play("unmounted"), false, false);
    assert_eq!(changed(&again, "th01"), 0);
    play(&inv, &mounted, false, false);
    let (_, absent) = play(&inv, &mount_play("absent"), false, false);
    assert_eq!((failed(&absent), changed(&absent, "th01")), (0, 2));
    assert_eq!(
        on_host(
            1,
            "cat /var/tmp/wladmin/fstab; ls /mnt | grep -c wladmin; grep -c wladmin /proc/self/mountinfo"
        ),
        "# test fstab\n0\n0\n"
    );
    on_host(1, reset);
}
