//! The control modules on the test hosts over real SSH: pause, wait_for_connection,
//! reboot, async/poll with async_status. Ignored unless asked for; they need
//! `WINDLASS_TESTHOSTS` (3 hosts). The tests take turns (one lock): one stops a host's sshd
//! for a while, one reboots a host, and no other test may be talking to it then.

mod common;

use std::path::Path;

use common::{Project, lock, on_host, opts, stats, testhosts};
use serde_json::{Map, Value};
use windlass::embed::RunReport;
use windlass::event::{Event, Status};

/// Run `play` on the test hosts; `(events, report)`.
fn play(inv: &Path, play: &str, check: bool) -> (Vec<Event>, RunReport) {
    let p = Project::new();
    p.with_testhosts(inv);
    p.file("site.yml", play);
    let mut o = opts();
    o.forks = 5;
    o.check = check;
    p.run("site.yml", "hosts.yml", o).expect("run")
}

/// The result of the task named `task` on `host`.
fn result_of<'a>(events: &'a [Event], task: &str, host: &str) -> (Status, &'a Map<String, Value>) {
    events
        .iter()
        .find_map(|e| match e {
            Event::HostResult {
                host: h,
                task: t,
                status,
                result,
                loop_summary: false,
                ..
            } if h == host && t == task => Some((*status, result)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no result of {task:?} on {host}"))
}

fn secs(r: &Map<String, Value>, key: &str) -> u64 {
    r.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no whole {key} in {r:?}"))
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS (3 hosts)"]
fn pause_runs_once_for_the_first_host_in_check_mode_too() {
    let _l = lock();
    let inv = testhosts();
    for check in [false, true] {
        let (events, report) = play(
            &inv,
            r#"
- hosts: th01:th02
  gather_facts: false
  tasks:
    - name: a pause
      pause: seconds=1
      register: paused
    - name: who has it
      debug:
        msg: "{{ paused.delta | default('none') }}"
"#,
            check,
        );
        let (st, r) = result_of(&events, "a pause", "th01");
        assert_eq!(st, Status::Ok);
        assert!(secs(r, "delta") >= 1, "{r:?}");
        let pauses = events
            .iter()
            .filter(|e| matches!(e, Event::HostResult { task, .. } if task == "a pause"))
            .count();
        assert_eq!(pauses, 1, "one result, for the batch's first host");
        assert_eq!(result_of(&events, "who has it", "th02").1["msg"], "none");
        assert_eq!(stats(&report)["th01"].failed, 0);
    }
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS (3 hosts)"]
fn wait_for_connection_reconnects_after_sshd_comes_back() {
    let _l = lock();
    let inv = testhosts();
    // sshd stops for 12 s (the master already open survives it: only a new connection
    // tells whether the host can be reached), then comes back by itself.
    let (events, report) = play(
        &inv,
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: sshd goes away for a while
      shell: systemd-run --collect sh -c 'sleep 1; systemctl stop ssh; sleep 12; systemctl start ssh'
    - name: too short a wait
      wait_for_connection: delay=2 timeout=3 sleep=1
      ignore_errors: true
    - name: long enough a wait
      wait_for_connection: timeout=90
    - name: commands run again
      command: systemctl is-active ssh
      changed_when: false
"#,
        false,
    );
    let (st, short) = result_of(&events, "too short a wait", "th01");
    assert_eq!(st, Status::Failed, "{short:?}");
    let msg = short["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("timed out waiting for ping module test: "),
        "{msg}"
    );
    assert!(secs(short, "elapsed") >= 4, "delay + timeout: {short:?}");
    let (st, long) = result_of(&events, "long enough a wait", "th01");
    assert_eq!(st, Status::Ok, "{long:?}");
    assert!(secs(long, "elapsed") >= 2, "it waited for sshd: {long:?}");
    let (st, after) = result_of(&events, "commands run again", "th01");
    assert_eq!(st, Status::Ok, "{after:?}");
    assert_eq!(after["stdout"], "active");
    assert_eq!(stats(&report)["th01"].unreachable, 0);
    // Check mode skips it, as Ansible does.
    let (events, _) = play(
        &inv,
        "- hosts: th01\n  gather_facts: false\n  tasks:\n    - name: w\n      wait_for_connection:\n",
        true,
    );
    assert_eq!(result_of(&events, "w", "th01").0, Status::Skipped);
    assert_eq!(on_host(1, "systemctl is-active ssh").trim(), "active");
}

/// The boot id of the host in slot `i`.
fn boot_id(i: usize) -> String {
    let id = on_host(i, "cat /proc/sys/kernel/random/boot_id")
        .trim()
        .to_string();
    assert_eq!(id.len(), 36, "a boot id: {id:?}");
    id
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS (3 hosts)"]
fn reboot_waits_for_a_new_boot_id_and_commands_run_after_it() {
    let _l = lock();
    let inv = testhosts();
    let before = boot_id(3);
    // Check mode predicts, reboots nothing.
    let (events, _) = play(
        &inv,
        "- hosts: th03\n  gather_facts: false\n  tasks:\n    - name: r\n      reboot:\n",
        true,
    );
    let (st, r) = result_of(&events, "r", "th03");
    assert_eq!(st, Status::Changed, "{r:?}");
    assert_eq!(r["rebooted"], true);
    assert_eq!(boot_id(3), before, "check mode rebooted the host");
    // A reboot command that does not reboot: the boot id never changes.
    let (events, _) = play(
        &inv,
        r#"
- hosts: th03
  gather_facts: false
  tasks:
    - name: no reboot happens
      reboot: reboot_command=/bin/true reboot_timeout=4
      ignore_errors: true
    - name: the command fails
      reboot:
        reboot_command: /bin/false
      ignore_errors: true
    - name: no such program
      reboot:
        reboot_command: no-such-shutdown -r now
        search_paths: [/usr/sbin, /sbin]
      ignore_errors: true
"#,
        false,
    );
    let (st, r) = result_of(&events, "no reboot happens", "th03");
    assert_eq!(st, Status::Failed, "{r:?}");
    assert_eq!(
        r["msg"],
        "Timed out waiting for last boot time check (timeout=4)"
    );
    assert_eq!(r["rebooted"], true, "as Ansible says after a timeout");
    let (st, r) = result_of(&events, "the command fails", "th03");
    assert_eq!(st, Status::Failed, "{r:?}");
    assert_eq!(r["msg"], "Reboot command failed. Error was: ', '");
    assert_eq!(r["rebooted"], false);
    let (_, r) = result_of(&events, "no such program", "th03");
    assert_eq!(
        r["msg"],
        "Unable to find command \"no-such-shutdown\" in search paths: ['/usr/sbin', '/sbin']"
    );
    assert_eq!(boot_id(3), before, "nothing rebooted the host");
    // The real thing, with the defaults (`shutdown -r 0 …` found in /sbin).
    let (events, report) = play(
        &inv,
        r#"
- hosts: th03
  gather_facts: false
  tasks:
    - name: reboot it
      reboot:
        post_reboot_delay: 1
        reboot_timeout: 240
    - name: after
      command: cat /proc/sys/kernel/random/boot_id
"#,
        false,
    );
    let (st, r) = result_of(&events, "reboot it", "th03");
    assert_eq!(st, Status::Changed, "{r:?}");
    assert_eq!(r["rebooted"], true);
    assert!(secs(r, "elapsed") >= 1, "{r:?}");
    let after = boot_id(3);
    assert_ne!(after, before, "the host did not reboot");
    let (st, r) = result_of(&events, "after", "th03");
    assert_eq!(st, Status::Changed, "{r:?}");
    assert_eq!(
        r["stdout"],
        after.as_str(),
        "the task after ran on the new boot"
    );
    assert_eq!(stats(&report)["th03"].failed, 0);
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS (3 hosts)"]
fn async_jobs_survive_the_connection_and_time_out_as_ansible_s() {
    let _l = lock();
    let inv = testhosts();
    let (events, report) = play(
        &inv,
        r#"
- hosts: th02
  gather_facts: false
  tasks:
    - name: polled
      shell: "echo polled; echo err >&2"
      async: 30
      poll: 1
      register: polled
    - name: started
      shell: "sleep 3; echo done > /tmp/wl-moda-async; cat /tmp/wl-moda-async"
      async: 60
      poll: 0
      register: job
    - name: results file while it runs
      command: cat {{ job.results_file }}
      changed_when: false
    - meta: reset_connection
    - name: collected
      async_status:
        jid: "{{ job.ansible_job_id }}"
      register: got
      until: got is finished
      retries: 20
      delay: 1
    - name: cleanup
      async_status:
        jid: "{{ job.ansible_job_id }}"
        mode: cleanup
    - name: file gone
      stat: path={{ job.results_file }}
      register: gone
    - name: too long
      command: sleep 31
      async: 2
      poll: 4
      ignore_errors: true
    - name: a module that is no job, polled
      copy: content=x dest=/tmp/wl-moda-async-copy
      async: 20
      poll: 1
    - name: a module that is no job, not polled
      copy: content=x dest=/tmp/wl-moda-async-copy
      async: 20
      poll: 0
      ignore_errors: true
    - name: clean
      file: path={{ item }} state=absent
      loop: [/tmp/wl-moda-async, /tmp/wl-moda-async-copy]
"#,
        false,
    );
    let (st, r) = result_of(&events, "polled", "th02");
    assert_eq!(st, Status::Changed, "{r:?}");
    assert_eq!(
        (&r["stdout"], &r["stderr"], &r["rc"]),
        (&"polled".into(), &"err".into(), &0.into())
    );
    assert_eq!(
        (&r["finished"], &r["started"]),
        (&true.into(), &true.into())
    );
    let (st, r) = result_of(&events, "started", "th02");
    assert_eq!(st, Status::Changed);
    let jid = r["ansible_job_id"].as_str().unwrap().to_string();
    assert_eq!(r["results_file"], format!("/root/.ansible_async/{jid}"));
    assert_eq!(r["finished"], false);
    let (_, r) = result_of(&events, "results file while it runs", "th02");
    let first: Value = serde_json::from_str(r["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"started": true, "finished": false, "ansible_job_id": jid})
    );
    let (st, r) = result_of(&events, "collected", "th02");
    assert_eq!(st, Status::Changed, "{r:?}");
    assert_eq!(r["stdout"], "done", "the job outlived its connection");
    assert!(r["attempts"].as_u64().unwrap() > 1, "{r:?}");
    assert_eq!(
        result_of(&events, "file gone", "th02").1["stat"]["exists"],
        false
    );
    let (st, r) = result_of(&events, "too long", "th02");
    assert_eq!(st, Status::Failed, "{r:?}");
    assert_eq!(r["msg"], "Timeout exceeded");
    assert!(
        on_host(2, "pgrep -x -f 'sleep 31' || echo none").trim() == "none",
        "the job was killed"
    );
    assert_eq!(
        result_of(&events, "a module that is no job, polled", "th02").0,
        Status::Changed
    );
    let (st, r) = result_of(&events, "a module that is no job, not polled", "th02");
    assert_eq!(st, Status::Failed);
    assert!(r["msg"].as_str().unwrap().contains("poll: 0"), "{r:?}");
    assert_eq!(stats(&report)["th02"].failed, 0);
}
