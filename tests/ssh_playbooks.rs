//! Playbooks over real SSH on the test hosts: parallel runs, become (to root, to another
//! user, with a sudo password), unreachable hosts, host-key checking.
//!
//! These run when `WINDLASS_TESTHOSTS` names the inventory `testhosts.sh inventory` prints
//! (CI sets it); otherwise each test prints that it was skipped.

mod common;

use common::{Project, debug_msgs, on_host, opts, stats, testhosts};
use serde_json::json;
use windlass::engine::RunOptions;
use windlass::event::{Event, Status};

/// (name, address, key file) of each test host.
fn hosts(inv: &std::path::Path) -> Vec<(String, String, String)> {
    let root = windlass::yaml::load(inv).expect("inventory");
    let all = root.get("all").expect("all");
    let mut out = Vec::new();
    for (name, hv) in all.get("hosts").and_then(|h| h.as_map()).expect("hosts") {
        let addr = hv
            .get("ansible_host")
            .and_then(|v| v.as_str())
            .expect("ansible_host")
            .to_string();
        let key = hv
            .get("ansible_ssh_private_key_file")
            .and_then(|v| v.as_str())
            .expect("key")
            .to_string();
        out.push((name.key_str().unwrap(), addr, key));
    }
    out
}

#[test]
fn parallel_run_on_three_hosts_checks_results_on_the_hosts() {
    let Some(inv) = testhosts("parallel_run_on_three_hosts") else {
        return;
    };
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - command: hostname
      register: hn
      changed_when: false
    - debug: msg="{{ hn.stdout }}"
    - shell: "mkdir -p /tmp/wl-ssh && echo {{ inventory_hostname }} > /tmp/wl-ssh/marker"
"#,
    );
    let (events, report) = p
        .run(
            "site.yml",
            "hosts.yml",
            RunOptions {
                forks: 10,
                ..opts()
            },
        )
        .unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let hs = hosts(&inv);
    assert!(hs.len() >= 3);
    for (i, (name, _, _)) in hs.iter().enumerate() {
        assert_eq!(debug_msgs(&events, name), vec![json!(name)]);
        assert_eq!(on_host(i + 1, "cat /tmp/wl-ssh/marker").trim(), name);
    }
}

#[test]
fn become_root_another_user_and_with_a_sudo_password() {
    let Some(inv) = testhosts("become") else {
        return;
    };
    let hs = hosts(&inv);
    let (name, addr, key) = hs[1].clone();
    // A login user whose sudo needs a password (set up directly on the host).
    on_host(
        2,
        "id wldeploy >/dev/null 2>&1 || useradd -m -s /bin/bash wldeploy; echo 'wldeploy:s3cret-pw' | chpasswd; \
         mkdir -p ~wldeploy/.ssh; cp /root/.ssh/authorized_keys ~wldeploy/.ssh/; chown -R wldeploy: ~wldeploy/.ssh; \
         echo 'wldeploy ALL=(ALL) ALL' > /etc/sudoers.d/wldeploy; chmod 440 /etc/sudoers.d/wldeploy; \
         id wltester >/dev/null 2>&1 || useradd -m wltester",
    );
    let p = Project::new();
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_user: wldeploy\n"
        ),
    );
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - command: whoami
      register: plain
    - command: whoami
      become: true
      register: asroot
    - command: whoami
      become: true
      become_user: wltester
      register: astester
    - shell: cat
      args:
        stdin: from-stdin
      become: true
      register: piped
    - debug: msg="{{ plain.stdout }} {{ asroot.stdout }} {{ astester.stdout }} {{ piped.stdout }}"
"#,
    );
    let o = RunOptions {
        become_password: Some("s3cret-pw".into()),
        ..opts()
    };
    let (events, report) = p.run("site.yml", "hosts.yml", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(
        debug_msgs(&events, &name),
        vec![json!("wldeploy root wltester from-stdin")]
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains("s3cret-pw"),
        "the password leaked into events"
    );
    // Without the password, sudo fails (and says so), it does not hang.
    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 2, "{events:#?}");
}

#[test]
fn an_unreachable_host_does_not_stop_the_others() {
    let Some(inv) = testhosts("unreachable") else {
        return;
    };
    let hs = hosts(&inv);
    let (name, addr, key) = hs[0].clone();
    let p = Project::new();
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n    ansible_ssh_timeout: 2\n  hosts:\n    {name}:\n      ansible_host: {addr}\n    ghost:\n      ansible_host: 10.213.0.250\n"
        ),
    );
    p.file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n    - debug: msg=after\n");
    let (events, report) = p
        .run("site.yml", "hosts.yml", RunOptions { forks: 5, ..opts() })
        .unwrap();
    assert_eq!(report.exit_code, 4, "{events:#?}");
    let s = stats(&report);
    assert_eq!(s["ghost"].unreachable, 1);
    assert_eq!(s[&name].ok, 2);
    assert_eq!(debug_msgs(&events, &name), vec![json!("after")]);
    // ignore_unreachable keeps the host in the play.
    p.file("ign.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n      ignore_unreachable: true\n");
    let (events, _) = p.run("ign.yml", "hosts.yml", opts()).unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::HostResult { host, status: Status::Unreachable, .. } if host == "ghost")));
}

#[test]
fn a_changed_host_key_is_refused_by_default() {
    let Some(inv) = testhosts("host_key") else {
        return;
    };
    let hs = hosts(&inv);
    let (name, addr, key) = hs[0].clone();
    let p = Project::new();
    // A known_hosts file with a wrong key for the host's address.
    let kh = p.file(
        "known_hosts",
        &format!("{addr} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"),
    );
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_user: root\n      ansible_ssh_private_key_file: {key}\n      ansible_ssh_common_args: '-o UserKnownHostsFile={}'\n      ansible_ssh_timeout: 3\n",
            kh.display()
        ),
    );
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 4, "{events:#?}");
    let msg = serde_json::to_string(&events).unwrap();
    assert!(msg.to_lowercase().contains("host key"), "{msg}");
}

#[test]
fn a_second_run_is_refused_while_a_host_is_locked() {
    let Some(inv) = testhosts("host_lock") else {
        return;
    };
    let hs = hosts(&inv);
    let (name, addr, key) = hs[2].clone();
    let p = Project::new();
    p.file(
        "hosts.yml",
        &format!("all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n  hosts:\n    {name}:\n      ansible_host: {addr}\n"),
    );
    p.file(
        "slow.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 3\n",
    );
    p.file(
        "quick.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    let bin = env!("CARGO_BIN_EXE_windlass");
    let dir = p.path().to_path_buf();
    let slow = move || {
        std::process::Command::new(bin)
            .args(["run", "slow.yml", "-i", "hosts.yml"])
            .current_dir(&dir)
            .output()
    };
    let quick = || {
        std::process::Command::new(bin)
            .args(["run", "quick.yml", "-i", "hosts.yml"])
            .current_dir(p.path())
            .output()
            .unwrap()
    };
    let handle = std::thread::spawn(move || slow().map(|_| ()));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let o = quick();
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("locked by another windlass run") && t.contains("--break-lock"),
        "{t}"
    );
    handle.join().unwrap().unwrap();
    // Released at the end of the first run.
    assert_eq!(quick().status.code(), Some(0));
    // A stale lock (a killed run) is refused until --break-lock.
    on_host(
        3,
        "mkdir -p /tmp/windlass.lock && echo run_id=dead > /tmp/windlass.lock/owner",
    );
    assert_eq!(quick().status.code(), Some(2));
    let o = std::process::Command::new(bin)
        .args(["run", "quick.yml", "-i", "hosts.yml", "--break-lock"])
        .current_dir(p.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(on_host(3, "ls /tmp/windlass.lock 2>&1").contains("No such file"));
}
