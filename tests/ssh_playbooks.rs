//! Playbooks over real SSH on the test hosts: parallel runs, become (to root, to another
//! user, with a sudo password), unreachable hosts, host-key checking.
//!
//! These run when `WINDLASS_TESTHOSTS` names the inventory `windlass lab inventory` prints
//! (CI sets it) and the ignored tests are asked for (`-- --include-ignored`); a plain
//! `cargo test` lists them as ignored.

mod common;

/// The tests share the test hosts' host lock and look for their own ssh masters among the
/// machine's processes: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

use common::{Project, debug_msgs, on_host, opts, stats, testhosts};
use serde_json::json;
use windlass::embed::RunOptions;
use windlass::event::{Event, Status};
use windlass::inventory::Inventory;

/// (name, address, key file) of each test host.
fn hosts(inv: &std::path::Path) -> Vec<(String, String, String)> {
    let inventory = Inventory::load(&[inv.to_path_buf()]).expect("inventory");
    let mut out = Vec::new();
    for name in inventory.host_names() {
        let hv = inventory.host_vars(&name);
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
        out.push((name, addr, key));
    }
    out
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn parallel_run_on_three_hosts_checks_results_on_the_hosts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
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
    // the project names the hosts by slot (th01..); each machine keeps its own hostname
    let slots = common::slot_names(hs.len());
    for (i, (name, _, _)) in hs.iter().enumerate() {
        assert_eq!(debug_msgs(&events, &slots[i]), vec![json!(name)]);
        assert_eq!(on_host(i + 1, "cat /tmp/wl-ssh/marker").trim(), slots[i]);
    }
}

/// Set up, on the second test host, a login user `wldeploy` whose sudo needs the password
/// `s3cret-pw`, and the user `wltester`; write `hosts.yml` logging in as wldeploy. Returns
/// the host's name.
fn sudo_user_with_password(inv: &std::path::Path, p: &Project) -> String {
    let hs = hosts(inv);
    let (name, addr, key) = hs[1].clone();
    on_host(
        2,
        "id wldeploy >/dev/null 2>&1 || useradd -m -s /bin/bash wldeploy; echo 'wldeploy:s3cret-pw' | chpasswd; \
         mkdir -p ~wldeploy/.ssh; cp /root/.ssh/authorized_keys ~wldeploy/.ssh/; chown -R wldeploy: ~wldeploy/.ssh; \
         echo 'wldeploy ALL=(ALL) ALL' > /etc/sudoers.d/wldeploy; chmod 440 /etc/sudoers.d/wldeploy; \
         id wltester >/dev/null 2>&1 || useradd -m wltester",
    );
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_user: wldeploy\n"
        ),
    );
    name
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn the_binary_takes_the_become_password_from_the_environment_and_never_shows_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let p = Project::new();
    sudo_user_with_password(&inv, &p);
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - command: whoami
      become: true
      register: asroot
    - shell: cat
      args:
        stdin: piped-through-sudo
      become: true
      register: piped
    - set_fact:
        seen: "{{ asroot.stdout }} {{ piped.stdout }}"
    - debug: var=seen
    - name: fail so that the journal is kept
      command: 'false'
"#,
    );
    for args in [&["--output", "jsonl"][..], &["-v"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
            .args(["run", "site.yml", "-i", "hosts.yml", "--state-dir", "state"])
            .args(args)
            .current_dir(p.path())
            .env("NO_COLOR", "1")
            .env("WINDLASS_BECOME_PASSWORD", "s3cret-pw")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(
            stdout.contains("root piped-through-sudo"),
            "sudo did not get the password: {stdout}{stderr}"
        );
        assert!(!stdout.contains("s3cret-pw"), "{stdout}");
        assert!(!stderr.contains("s3cret-pw"), "{stderr}");
        let mut files = 0;
        for e in std::fs::read_dir(p.path().join("state")).unwrap() {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains("s3cret-pw"), "{}: {text}", path.display());
            files += 1;
        }
        assert!(files >= 1, "no journal was kept");
    }
}

/// The control directory (`/tmp/wl…`) of the running ssh master connected to `addr` with an
/// explicit `-p 22` (which only the abort test's inventory gives), from the master's command
/// line (`ssh … -S DIR/.ssh-connection…/master -M … -p 22 … ADDR`).
fn master_control_dir(addr: &str) -> Option<(u32, std::path::PathBuf)> {
    for e in std::fs::read_dir("/proc").ok()? {
        let e = e.ok()?;
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .strip_suffix(b"\0")
            .unwrap_or(&cmd)
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let port_22 = args.windows(2).any(|w| w[0] == "-p" && w[1] == "22");
        if !port_22
            || !args.iter().any(|a| a == "-M")
            || args.last().map(String::as_str) != Some(addr)
        {
            continue;
        }
        let sock = args.iter().skip_while(|a| *a != "-S").nth(1)?;
        let dir = std::path::Path::new(sock).parent()?.parent()?.to_path_buf();
        if dir.starts_with("/tmp") {
            return Some((pid, dir));
        }
    }
    None
}

/// `hosts.yml` with `host` (name, address, key) alone, with an explicit `ansible_port: 22`
/// (which [`master_control_dir`] looks for) and `ansible_ssh_common_args`.
fn port_22_inventory(p: &Project, host: &(String, String, String), common_args: &str) {
    let (name, addr, key) = host;
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_port: 22\n      ansible_user: root\n      ansible_ssh_private_key_file: {key}\n      ansible_host_key_checking: false\n      ansible_ssh_common_args: '{common_args}'\n"
        ),
    );
}

/// Start `windlass run site.yml -i hosts.yml` in `p`, output captured.
fn spawn_run(p: &Project) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts.yml"])
        .current_dir(p.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn an_abort_closes_the_master_removes_its_control_dir_and_releases_the_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    abort_cleans_up(&inv, &["-INT", "-INT"], 130);
}

/// SIGTERM (`timeout`, a cancelled CI job) and SIGHUP (a closed terminal) abort as a second
/// Ctrl-C does: no master, control directory or host lock is left.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn sigterm_and_sighup_abort_as_cleanly_as_ctrl_c() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    abort_cleans_up(&inv, &["-TERM"], 143);
    abort_cleans_up(&inv, &["-HUP"], 129);
}

/// Run a long task on the first test host, send `signals` to windlass (300 ms apart) once
/// the task runs, and check the run ended with `code`, its recap and journal, and left no
/// ssh master, control directory or host lock behind.
fn abort_cleans_up(inv: &std::path::Path, signals: &[&str], code: i32) {
    let hs = hosts(inv);
    let addr = hs[0].1.clone();
    let p = Project::new();
    port_22_inventory(&p, &hs[0], "");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 20\n",
    );
    assert!(
        master_control_dir(&addr).is_none(),
        "another master to {addr} is running"
    );
    let child = spawn_run(&p);
    let t0 = std::time::Instant::now();
    let (_, dir) = loop {
        if let Some(m) = master_control_dir(&addr) {
            break m;
        }
        assert!(t0.elapsed().as_secs() < 15, "no ssh master appeared");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(dir.is_dir());
    // Let the task start and the lock be taken.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // `ssh -f` forks: the master is the process running now, not the one first seen.
    let (master, _) = master_control_dir(&addr).expect("the ssh master");
    assert!(on_host(1, "cat /run/windlass/lock/owner").contains("run_id="));
    for sig in signals {
        let _ = std::process::Command::new("kill")
            .args([sig.to_string(), child.id().to_string()])
            .status();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{signals:?}: {t}");
    assert!(t.contains("PLAY RECAP") && t.contains("aborted"), "{t}");
    let journal = std::fs::read_dir(p.path().join(".windlass"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect::<Vec<_>>()
        .join("");
    assert!(journal.contains("\"interrupted\""), "{journal}");
    assert!(
        t0.elapsed().as_secs() < 15,
        "the abort took {:?}",
        t0.elapsed()
    );
    assert!(!dir.exists(), "{} is left behind: {t}", dir.display());
    // (`ssh -O exit` returns before the master has finished exiting)
    let gone = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{master}")).exists() && gone.elapsed().as_secs() < 3
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{master}")).exists(),
        "the ssh master {master} still runs"
    );
    assert_eq!(
        on_host(1, "test -e /run/windlass/lock && echo held || echo free").trim(),
        "free"
    );
}

/// The run in `p` (site.yml on hosts.yml) with `args`, output captured; (exit code, text).
fn run_bin(p: &Project, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts.yml"])
        .args(args)
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), t)
}

/// The host lock is where only the connecting user (or root) can write: root's in
/// /run/windlass, another user's in their home; a lock another local user made in /tmp (the
/// old place) blocks nothing, and `become` does not move the lock.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn the_host_lock_is_the_connecting_users_own() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let hs = hosts(&inv);
    let p = Project::new();
    port_22_inventory(&p, &hs[0], "");
    on_host(
        1,
        "rm -rf /tmp/windlass.lock; su nobody -s /bin/sh -c 'mkdir /tmp/windlass.lock && echo run_id=squatter > /tmp/windlass.lock/owner'",
    );
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: stat -c '%a %U' /run/windlass && sed -n 1p /run/windlass/lock/owner\n      register: r\n    - debug: var=r.stdout\n",
    );
    let (code, t) = run_bin(&p, &[]);
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("700 root\\nrun_id="), "{t}");
    assert_eq!(
        on_host(1, "test -e /run/windlass/lock && echo held || echo free").trim(),
        "free"
    );
    on_host(1, "rm -rf /tmp/windlass.lock");
    // A user other than root, whose tasks become root.
    let p = Project::new();
    sudo_user_with_password(&inv, &p);
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: stat -c '%a %U' ~/.windlass && sed -n 1p ~/.windlass/lock/owner\n      register: r\n    - debug: var=r.stdout\n    - shell: test -e /run/windlass/lock && echo root-lock || echo no-root-lock\n      become: true\n      register: b\n    - debug: var=b.stdout\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts.yml"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("WINDLASS_BECOME_PASSWORD", "s3cret-pw")
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("700 wldeploy\\nrun_id="), "{t}");
    assert!(t.contains("\"no-root-lock\""), "{t}");
    assert_eq!(
        on_host(
            2,
            "test -e ~wldeploy/.windlass/lock && echo held || echo free"
        )
        .trim(),
        "free"
    );
}

/// A run killed outright (SIGKILL) leaves its lock; the next run from this machine sees
/// that the holder's process is gone and takes the lock over, saying so.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn the_lock_of_a_killed_run_from_this_machine_is_taken_over() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let hs = hosts(&inv);
    let addr = hs[0].1.clone();
    let p = Project::new();
    port_22_inventory(&p, &hs[0], "");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    p.file(
        "slow.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: sleep 20\n",
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "slow.yml", "-i", "hosts.yml"])
        .current_dir(p.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !on_host(1, "cat /run/windlass/lock/owner 2>/dev/null").contains("run_id=") {
        assert!(t0.elapsed().as_secs() < 15, "the run took no lock");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The killed run's master (daemonized by ssh -f) outlives it: end it, as it would in 5 min.
    if let Some((master, dir)) = master_control_dir(&addr) {
        let _ = std::process::Command::new("kill")
            .arg(master.to_string())
            .status();
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(on_host(1, "cat /run/windlass/lock/owner").contains("run_id="));
    let (code, t) = run_bin(&p, &[]);
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("took over the host lock left by run"), "{t}");
    assert_eq!(
        on_host(1, "test -e /run/windlass/lock && echo held || echo free").trim(),
        "free"
    );
    // A lock from another controller (another boot id) is not taken over.
    on_host(
        1,
        "mkdir -p /run/windlass/lock && printf 'run_id=far\\nwho=x@y pid 1\\nboot_id=0\\npid_ns=pid:[1]\\npid=1\\npid_start=1\\n' > /run/windlass/lock/owner",
    );
    let (code, t) = run_bin(&p, &[]);
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("run_id=far")
            && t.contains("another machine, boot or container")
            && t.contains("--break-lock"),
        "{t}"
    );
    let (code, t) = run_bin(&p, &["--break-lock"]);
    assert_eq!(code, Some(0), "{t}");
}

/// On a terminal, Ctrl-C reaches windlass's whole process group: the ssh processes it
/// started must not die with it, so the running task finishes.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn ctrl_c_on_a_terminal_lets_running_ssh_tasks_finish() {
    use std::os::unix::process::CommandExt;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file(
        "site.yml",
        "- hosts: th01:th02\n  gather_facts: false\n  tasks:\n    - command: sleep 3\n    - command: 'true'\n",
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts.yml"])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status();
    let out = child.wait_with_output().unwrap();
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(130), "{t}");
    for h in ["th01", "th02"] {
        assert!(t.contains(&format!("changed: [{h}]")), "{h}: {t}");
    }
    assert!(!t.contains("UNREACHABLE") && !t.contains("FAILED"), "{t}");
}

/// A user the host refuses fails with ssh's own reason.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn a_user_the_host_refuses_is_reported_in_ssh_s_words() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let hs = hosts(&inv);
    let (name, addr, key) = &hs[0];
    let p = Project::new();
    p.file(
        "hosts.yml",
        &format!("all:\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_user: nosuchuser\n      ansible_ssh_private_key_file: {key}\n      ansible_host_key_checking: false\n"),
    );
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    let (code, t) = run_bin(&p, &[]);
    assert_eq!(code, Some(4), "{t}");
    assert!(
        t.contains("nosuchuser@") && t.contains("Permission denied (publickey"),
        "{t}"
    );
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn become_root_another_user_and_with_a_sudo_password() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let p = Project::new();
    let name = sudo_user_with_password(&inv, &p);
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
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn become_with_su_from_root_and_with_a_password_from_another_user() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let hs = hosts(&inv);
    let (name, addr, key) = hs[2].clone();
    // A login user that may su only with root's password; root's password set here.
    on_host(
        3,
        "id wlsuer >/dev/null 2>&1 || useradd -m -s /bin/sh wlsuer; \
         mkdir -p ~wlsuer/.ssh; cp /root/.ssh/authorized_keys ~wlsuer/.ssh/; chown -R wlsuer: ~wlsuer/.ssh; \
         echo 'root:r00t-su-pw' | chpasswd; \
         id wltester >/dev/null 2>&1 || useradd -m wltester; rm -f /tmp/wl-su-marker /tmp/wl-su-copy",
    );
    let p = Project::new();
    let inventory = |user: &str| {
        format!(
            "all:\n  vars:\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n  hosts:\n    {name}:\n      ansible_host: {addr}\n      ansible_user: {user}\n"
        )
    };
    // From root: su needs no password.
    p.file("root.yml", &inventory("root"));
    p.file(
        "from_root.yml",
        r#"
- hosts: all
  gather_facts: false
  become: true
  become_method: su
  become_user: wltester
  tasks:
    - command: whoami
      register: w
    - command: touch /tmp/wl-su-marker
    - debug: msg="{{ w.stdout }}"
"#,
    );
    let (events, report) = p.run("from_root.yml", "root.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(debug_msgs(&events, &name), vec![json!("wltester")]);
    assert_eq!(
        on_host(3, "stat -c %U /tmp/wl-su-marker").trim(),
        "wltester"
    );
    // From an unprivileged user: su asks for root's password on a terminal.
    p.file("user.yml", &inventory("wlsuer"));
    p.file(
        "from_user.yml",
        r#"
- hosts: all
  gather_facts: false
  become: true
  become_method: su
  tasks:
    - command: whoami
      register: w
    - shell: cat
      args:
        stdin: "line one\nline two"
      register: piped
    - copy:
        dest: /tmp/wl-su-copy
        content: "copied through su\n"
        mode: "0600"
    - command: whoami
      become: false
      register: plain
    - debug: msg="{{ plain.stdout }} {{ w.stdout }} {{ piped.stdout }}"
"#,
    );
    let o = RunOptions {
        become_password: Some("r00t-su-pw".into()),
        ..opts()
    };
    let (events, report) = p.run("from_user.yml", "user.yml", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(
        debug_msgs(&events, &name),
        vec![json!("wlsuer root line one\nline two")]
    );
    assert_eq!(
        on_host(3, "stat -c '%U %a' /tmp/wl-su-copy; cat /tmp/wl-su-copy"),
        "root 600\ncopied through su\n"
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("r00t-su-pw"), "the password leaked: {all}");
    // A wrong password fails the task with su's message; it does not hang.
    let o = RunOptions {
        become_password: Some("wrong".into()),
        ..opts()
    };
    let (events, report) = p.run("from_user.yml", "user.yml", o).unwrap();
    assert_eq!(report.exit_code, 2, "{events:#?}");
    let all = serde_json::to_string(&events).unwrap();
    assert!(all.contains("Authentication failure"), "{all}");
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn an_unreachable_host_does_not_stop_the_others() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let hs = hosts(&inv);
    let (name, addr, key) = hs[0].clone();
    // .250 of the test hosts' subnet: on their bridge, where nothing answers
    let ghost = format!("{}.250", addr.rsplit_once('.').expect("an IPv4 address").0);
    let p = Project::new();
    p.file(
        "hosts.yml",
        &format!(
            "all:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: {key}\n    ansible_host_key_checking: false\n    ansible_ssh_timeout: 2\n  hosts:\n    {name}:\n      ansible_host: {addr}\n    ghost:\n      ansible_host: {ghost}\n"
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
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn a_changed_host_key_is_refused_by_default() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
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
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn a_second_run_is_refused_while_a_host_is_locked() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
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
        "mkdir -p /run/windlass/lock && echo run_id=dead > /run/windlass/lock/owner",
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
    assert!(on_host(3, "ls /run/windlass/lock 2>&1").contains("No such file"));
}

/// The binary's masters connect through its dialer (runner/transport/dialer.rs: the
/// socket with TCP_NODELAY, unit-tested there), as the master's generated ssh config
/// shows while it runs; a host whose ssh options route or bind the connection themselves
/// (here `BindAddress`) is connected by ssh alone, as before.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn masters_use_the_dialer_unless_the_ssh_options_route_the_connection() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let inv = testhosts();
    let host = hosts(&inv)[0].clone();
    let addr = host.1.clone();
    // The address this machine reaches the host from, for BindAddress.
    let local = {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        s.connect((addr.as_str(), 22)).unwrap();
        s.local_addr().unwrap().ip().to_string()
    };
    for (args, dialer) in [("", true), (&*format!("-o BindAddress={local}"), false)] {
        let p = Project::new();
        port_22_inventory(&p, &host, args);
        p.file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 3\n",
        );
        assert!(
            master_control_dir(&addr).is_none(),
            "another master to {addr} runs"
        );
        let child = spawn_run(&p);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let (_, dir) = master_control_dir(&addr).expect("the ssh master");
        // The pool's generated configs: `<n>.conf` beside the masters' directories.
        let confs: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                (path.extension()? == "conf").then(|| std::fs::read_to_string(path).ok())?
            })
            .collect();
        let out = child.wait_with_output().unwrap();
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{t}");
        let dials = confs.iter().any(|c| {
            c.lines()
                .any(|l| l.starts_with("ProxyCommand ") && l.contains(" __dial %h %p "))
                && c.lines().any(|l| l == "ProxyUseFdpass yes")
        });
        assert_eq!(dials, dialer, "args {args:?}: {confs:#?}");
    }
}
