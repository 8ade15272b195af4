//! The file modules on the test hosts over real SSH: convergence, idempotency, check mode
//! predicting the first run, diffs, validation that refuses bad content, and atomic writes
//! that never leave a partial file. Ignored unless asked for; they need `WINDLASS_TESTHOSTS`.

mod common;

use std::time::Duration;

use common::{Project, on_host, opts, stats, testhosts};
use windlass::event::{Event, Status};

const CONVERGE: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: dir
      file: {path: /tmp/wl-files/d, state: directory, mode: "0750"}
    - name: copy
      copy: {content: "a=1\n", dest: /tmp/wl-files/d/c.conf, mode: "0640"}
    - name: template
      template: {src: t.j2, dest: /tmp/wl-files/d/}
    - name: link
      file: {src: /etc/hostname, dest: /tmp/wl-files/d/l, state: link}
    - name: touch
      file: {path: /tmp/wl-files/d/touched, state: touch, modification_time: preserve, access_time: preserve}
    - name: lineinfile
      lineinfile: {path: /tmp/wl-files/d/li.conf, line: "x = 1", create: true, mode: "0600"}
    - name: blockinfile
      blockinfile: {path: /tmp/wl-files/d/bl.conf, block: "one\ntwo", create: true}
    - name: ini
      ini_file: {path: /tmp/wl-files/d/i.ini, section: s, option: k, value: v}
"#;

fn changed(report: &windlass::embed::RunReport, host: &str) -> u32 {
    stats(report).get(host).map(|s| s.changed).unwrap_or(999)
}

fn failed(report: &windlass::embed::RunReport, host: &str) -> u32 {
    stats(report).get(host).map(|s| s.failed).unwrap_or(999)
}

fn project(inv: &std::path::Path, playbook: &str) -> Project {
    let p = Project::new();
    p.with_testhosts(inv);
    p.file("site.yml", playbook);
    p.file(
        "templates/t.j2",
        "host={{ inventory_hostname }} dest={{ template_destpath }}\n",
    );
    p
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn converge_check_idempotent_diff() {
    let inv = testhosts();
    on_host(1, "rm -rf /tmp/wl-files/d");
    let p = project(&inv, CONVERGE);

    let mut check = opts();
    check.check = true;
    let (ev, rep) = p.run("site.yml", "hosts.yml", check).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    let predicted = changed(&rep, "th01");
    assert_eq!(
        on_host(1, "test -e /tmp/wl-files/d && echo there || echo absent").trim(),
        "absent"
    );

    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(
        changed(&rep, "th01"),
        predicted,
        "check mode predicted the first run"
    );
    assert_eq!(predicted, 8);

    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(
        changed(&rep, "th01"),
        0,
        "second run changes nothing: {ev:#?}"
    );

    assert_eq!(on_host(1, "stat -c %a /tmp/wl-files/d").trim(), "750");
    assert_eq!(
        on_host(1, "stat -c %a /tmp/wl-files/d/c.conf").trim(),
        "640"
    );
    assert_eq!(on_host(1, "cat /tmp/wl-files/d/c.conf"), "a=1\n");
    assert_eq!(
        on_host(1, "cat /tmp/wl-files/d/t.j2"),
        "host=th01 dest=/tmp/wl-files/d/\n"
    );
    assert_eq!(
        on_host(1, "readlink /tmp/wl-files/d/l").trim(),
        "/etc/hostname"
    );
    assert_eq!(on_host(1, "cat /tmp/wl-files/d/li.conf"), "x = 1\n");
    assert_eq!(
        on_host(1, "stat -c %a /tmp/wl-files/d/li.conf").trim(),
        "600"
    );
    assert_eq!(
        on_host(1, "cat /tmp/wl-files/d/bl.conf"),
        "# BEGIN ANSIBLE MANAGED BLOCK\none\ntwo\n# END ANSIBLE MANAGED BLOCK\n"
    );
    assert_eq!(on_host(1, "cat /tmp/wl-files/d/i.ini"), "\n[s]\nk = v\n");
    assert_eq!(
        on_host(1, "ls -a /tmp/wl-files/d | grep -c windlass").trim(),
        "0"
    );

    // Owner and mode set by hand survive a content change; --diff shows the change.
    on_host(
        1,
        "chown nobody:nogroup /tmp/wl-files/d/c.conf && chmod 604 /tmp/wl-files/d/c.conf && echo a=0 > /tmp/wl-files/d/c.conf",
    );
    let p2 = project(
        &inv,
        "- hosts: th01\n  gather_facts: false\n  tasks:\n    - copy: {content: \"a=1\\n\", dest: /tmp/wl-files/d/c.conf}\n      register: r\n    - assert: {that: [r.changed, \"r.owner == 'nobody'\", \"r.mode == '0604'\"]}\n",
    );
    let mut d = opts();
    d.diff = true;
    let (ev, rep) = p2.run("site.yml", "hosts.yml", d).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    let diff = ev
        .iter()
        .find_map(|e| match e {
            Event::HostResult { diff, .. } if !diff.is_empty() => Some(diff_text(diff)),
            _ => None,
        })
        .expect("a diff");
    assert!(diff.contains("-a=0\n+a=1"), "{diff}");
    assert_eq!(
        on_host(1, "stat -c '%a %U' /tmp/wl-files/d/c.conf").trim(),
        "604 nobody"
    );
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn validate_rejects_bad_content_and_backup() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/v; mkdir -p /tmp/wl-files/v; printf 'good\\n' > /tmp/wl-files/v/app.conf; chmod 640 /tmp/wl-files/v/app.conf",
    );
    let p = project(
        &inv,
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: bad
      template: {src: bad.j2, dest: /tmp/wl-files/v/app.conf, validate: "grep -q ^good %s"}
      ignore_errors: true
      register: bad
    - assert: {that: ["bad is failed", "'failed to validate' in bad.msg"]}
    - name: good
      template: {src: good.j2, dest: /tmp/wl-files/v/app.conf, validate: "grep -q ^good %s", backup: true}
      register: good
    - assert: {that: ["good.changed", "good.backup_file is defined", "good.mode == '0640'"]}
"#,
    );
    p.file("templates/bad.j2", "bad {{ inventory_hostname }}\n");
    p.file("templates/good.j2", "good {{ inventory_hostname }}\n");
    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(on_host(1, "cat /tmp/wl-files/v/app.conf"), "good th01\n");
    // The backup holds the old content; no temp file stayed behind.
    assert_eq!(on_host(1, "cat /tmp/wl-files/v/app.conf.*~"), "good\n");
    assert_eq!(
        on_host(1, "ls -a /tmp/wl-files/v | grep -c windlass").trim(),
        "0"
    );
}

/// replace, stat, slurp and fetch: a check run predicts the first run's changes exactly and
/// touches neither the host nor the controller; the first run edits and fetches; once
/// converged, check and run change nothing.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn read_only_and_edit_modules() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/r; mkdir -p /tmp/wl-files/r; printf 'a = 1\\nb = 2\\n' > /tmp/wl-files/r/x.conf",
    );
    let p = project(
        &inv,
        r#"
- hosts: th01
  gather_facts: false
  tasks:
    - replace: {path: /tmp/wl-files/r/x.conf, regexp: '^(\w) = (\d)$', replace: '\1=\2'}
      register: rep
    - stat: {path: /tmp/wl-files/r/x.conf, checksum_algorithm: sha256}
      register: st
    - stat: {path: /tmp/wl-files/r/nope}
      register: st2
    - slurp: {src: /tmp/wl-files/r/x.conf}
      register: sl
    - fetch: {src: /tmp/wl-files/r/x.conf, dest: fetched}
      register: fe
    - assert:
        that:
          - rep.msg == '2 replacements made'
          - st.stat.exists and st.stat.isreg and not st.stat.isdir
          - st.stat.mode == '0644'
          - st.stat.checksum | length == 64
          - not st2.stat.exists
          - (sl.content | b64decode) == ('a = 1\nb = 2\n' if ansible_check_mode else 'a=1\nb=2\n')
          - fe.changed
"#,
    );
    // Check mode: the replace and the fetch are predicted, the reads report the file as
    // it is; nothing changes on the host or locally.
    let mut check = opts();
    check.check = true;
    let (ev, rep) = p.run("site.yml", "hosts.yml", check.clone()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    let predicted = changed(&rep, "th01");
    assert_eq!(
        on_host(1, "cat /tmp/wl-files/r/x.conf"),
        "a = 1\nb = 2\n",
        "check mode replaced nothing"
    );
    let fetched = p.path().join("fetched/th01/tmp/wl-files/r/x.conf");
    assert!(!fetched.exists(), "check mode fetched nothing");
    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(changed(&rep, "th01"), predicted, "check predicted the run");
    assert_eq!(predicted, 2);
    assert_eq!(std::fs::read_to_string(&fetched).unwrap(), "a=1\nb=2\n");
    // Converged, check mode predicts no change (the assert on `fe.changed` fails, below).
    let (ev, rep) = p.run("site.yml", "hosts.yml", check).unwrap();
    assert_eq!(changed(&rep, "th01"), 0, "{ev:#?}");
    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    // The assert on `fe.changed` now fails: fetch is idempotent by checksum.
    assert_eq!(changed(&rep, "th01"), 0, "{ev:#?}");
    assert!(
        ev.iter().any(|e| matches!(e, Event::HostResult { status: Status::Failed, task, .. } if task == "assert")),
        "{ev:#?}"
    );
}

/// Run `site.yml` of `p` with the windlass binary and kill it while a write of `total`
/// bytes is in progress on host slot 1: a watcher on the host waits for a non-empty
/// file named like `name` (a `find -name` pattern) under `base` and reports its size; the
/// run is killed the moment it does. Returns the size seen (the write was demonstrably in
/// progress).
fn kill_mid_write(p: &Project, base: &str, name: &str, total: usize) -> u64 {
    // The CLI locks the host: two killed runs at once would refuse each other, and a killed
    // run leaves its lock behind. One at a time, each starting unlocked.
    static KILLS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = KILLS.lock().unwrap_or_else(|e| e.into_inner());
    on_host(1, "rm -rf /run/windlass/lock");
    let mut watcher = common::spawn_on_host(
        1,
        &format!(
            "for i in $(seq 3000); do s=$(find {base} -maxdepth 2 -name '{name}' -size +0c -printf '%s\\n' 2>/dev/null | head -1); \
             [ -n \"$s\" ] && {{ echo \"$s\"; exit 0; }}; sleep 0.01; done; echo none"
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"))
        .arg("run")
        .arg("-i")
        .arg(p.path().join("hosts.yml"))
        .arg(p.path().join("site.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(watcher.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    child.kill().ok();
    let status = child.wait().unwrap();
    watcher.wait().ok();
    let seen: u64 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no temporary file was seen during the write: {line:?}"));
    assert!(
        seen < total as u64,
        "the temporary file was complete ({seen} bytes) before the kill"
    );
    assert!(
        status.code().is_none(),
        "the run ended on its own instead of being killed: {status:?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    seen
}

/// `copy` (fileops::write_step) killed mid-transfer: the old file stays, the temp goes.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn killed_write_never_leaves_a_partial_file() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/atom; mkdir -p /tmp/wl-files/atom; printf 'old\\n' > /tmp/wl-files/atom/big",
    );
    let p = project(
        &inv,
        "- hosts: th01\n  gather_facts: false\n  tasks:\n    - copy: {src: big.bin, dest: /tmp/wl-files/atom/big}\n",
    );
    // 96 MiB of text so the transfer takes a while.
    let line = "0123456789abcdef".repeat(4) + "\n";
    let big = line.repeat(96 * 1024 * 1024 / line.len());
    p.file("files/big.bin", &big);
    let seen = kill_mid_write(&p, "/tmp/wl-files/atom", ".windlass.*", big.len());
    let sum = on_host(1, "sha1sum < /tmp/wl-files/atom/big | cut -c1-40");
    let old = on_host(1, "printf 'old\\n' | sha1sum | cut -c1-40");
    assert_eq!(
        sum.trim(),
        old.trim(),
        "the old file stays after a kill mid-transfer"
    );
    // The interrupted write cleans up its temporary file.
    assert_eq!(
        on_host(1, "ls -a /tmp/wl-files/atom | grep -c windlass").trim(),
        "0"
    );
    eprintln!("killed with {seen} of {} bytes written", big.len());
    // A killed run cannot release its host lock: clear it as a user would (--break-lock),
    // so later tests on th01 are not refused.
    on_host(1, "rm -rf /run/windlass/lock");
}

/// `script`'s streamed upload (`command::scratch_receive` into a scratch directory under
/// `ansible_remote_tmp`) killed mid-transfer: the scratch directory goes, and the
/// half-uploaded script never runs.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn killed_streaming_write_never_lands_or_runs() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/atom2; mkdir -p /tmp/wl-files/atom2",
    );
    let p = project(
        &inv,
        "- hosts: th01\n  gather_facts: false\n  vars: {ansible_remote_tmp: /tmp/wl-files/atom2/rt}\n  tasks:\n    - script: big.sh\n",
    );
    // A 96 MiB shell script: it would leave a marker if it ever ran.
    let mut big = String::from("#!/bin/sh\ntouch /tmp/wl-files/atom2/ran\nexit 0\n");
    let filler = "# ".to_string() + &"x".repeat(62) + "\n";
    big.push_str(&filler.repeat(96 * 1024 * 1024 / filler.len()));
    p.file("files/big.sh", &big);
    let seen = kill_mid_write(&p, "/tmp/wl-files/atom2/rt", "big.sh", big.len());
    assert_eq!(
        on_host(
            1,
            "find /tmp/wl-files/atom2/rt -mindepth 1 | wc -l; test -e /tmp/wl-files/atom2/ran && echo ran"
        )
        .trim(),
        "0",
        "neither the scratch directory nor a partial script is left, and it did not run"
    );
    eprintln!("killed with {seen} of {} bytes written", big.len());
    on_host(1, "rm -rf /run/windlass/lock /tmp/wl-files/atom2");
}

const EDITS: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: template
      template: {src: t.j2, dest: /tmp/wl-files/e/t.conf}
    - name: lineinfile
      lineinfile: {path: /tmp/wl-files/e/li.conf, regexp: '^a =', line: 'a = 10'}
    - name: blockinfile
      blockinfile: {path: /tmp/wl-files/e/bl.conf, block: "z = 26"}
    - name: replace
      replace: {path: /tmp/wl-files/e/re.conf, regexp: '^b = 2$', replace: 'b = 20'}
    - name: ini_file
      ini_file: {path: /tmp/wl-files/e/i.ini, section: s, option: k, value: v}
    - name: hard
      file: {src: /tmp/wl-files/e/src.txt, dest: /tmp/wl-files/e/hard, state: hard}
    - name: absent
      file: {path: /tmp/wl-files/e/gone.txt, state: absent}
    - name: file
      file: {path: /tmp/wl-files/e/src.txt, state: file, mode: "0600"}
    - name: recurse
      file: {path: /tmp/wl-files/e/tree, state: directory, mode: "u=rwX,g=rX,o=", recurse: true}
    - name: copy
      copy: {content: "new\n", dest: /tmp/wl-files/e/c.conf, backup: true, validate: "grep -q ^new %s"}
      register: cp
"#;

/// A result's file diffs as the printer shows them.
fn diff_text(diff: &[windlass::modules::plan::FileDiff]) -> String {
    diff.iter()
        .map(windlass::output::printer::unified_diff)
        .collect()
}

/// Every HostResult's diff on slot 1, by task name.
fn diffs(ev: &[Event]) -> std::collections::HashMap<String, String> {
    ev.iter()
        .filter_map(|e| match e {
            Event::HostResult { task, diff, .. } if !diff.is_empty() => {
                Some((task.clone(), diff_text(diff)))
            }
            _ => None,
        })
        .collect()
}

/// Edits and file states: `--check --diff` predicts the first run's changes exactly, with
/// the diffs the run then shows; the second run changes nothing; the host holds the result.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn edits_and_file_states_check_diff_and_run_twice() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/e; mkdir -p /tmp/wl-files/e/tree/sub && cd /tmp/wl-files/e && \
         printf 'a = 1\\n' > li.conf && printf 'x = 1\\n' > bl.conf && printf 'a = 1\\nb = 2\\n' > re.conf && \
         printf '[s]\\nk = old\\n' > i.ini && printf 'keep\\n' > src.txt && chmod 644 src.txt && touch gone.txt && \
         printf 'old\\n' > c.conf && touch tree/sub/f && chmod 777 tree tree/sub tree/sub/f",
    );
    let p = project(&inv, EDITS);
    let mut check = opts();
    check.check = true;
    check.diff = true;
    let (ev, rep) = p.run("site.yml", "hosts.yml", check).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    let predicted = changed(&rep, "th01");
    let check_diffs = diffs(&ev);
    assert_eq!(
        on_host(
            1,
            "cat /tmp/wl-files/e/li.conf; ls /tmp/wl-files/e | tr '\\n' ' '"
        ),
        "a = 1\nbl.conf c.conf gone.txt i.ini li.conf re.conf src.txt tree ",
        "check mode changed nothing"
    );

    let mut run = opts();
    run.diff = true;
    let (ev, rep) = p.run("site.yml", "hosts.yml", run.clone()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(changed(&rep, "th01"), predicted, "check predicted the run");
    assert_eq!(predicted, 10);
    let run_diffs = diffs(&ev);
    assert_eq!(
        check_diffs, run_diffs,
        "check shows the diffs the run shows"
    );
    for (task, want) in [
        ("template", "+host=th01 dest=/tmp/wl-files/e/t.conf"),
        ("lineinfile", "-a = 1\n+a = 10"),
        (
            "blockinfile",
            "+# BEGIN ANSIBLE MANAGED BLOCK\n+z = 26\n+# END ANSIBLE MANAGED BLOCK",
        ),
        ("replace", "-b = 2\n+b = 20"),
        ("ini_file", "-k = old\n+k = v"),
        ("copy", "-old\n+new"),
    ] {
        let d = run_diffs
            .get(task)
            .unwrap_or_else(|| panic!("no diff for {task}"));
        assert!(d.contains(want), "{task}: {d}");
    }
    for task in ["hard", "absent"] {
        assert!(
            run_diffs.contains_key(task),
            "{task} shows its state change"
        );
    }

    let (ev, rep) = p.run("site.yml", "hosts.yml", run).unwrap();
    assert_eq!(changed(&rep, "th01"), 0, "second run: {ev:#?}");
    assert!(diffs(&ev).is_empty(), "{:?}", diffs(&ev));

    let d = "/tmp/wl-files/e";
    assert_eq!(
        on_host(
            1,
            &format!(
                "cd {d} && cat li.conf re.conf i.ini c.conf && stat -c '%h %i' src.txt && stat -c %i hard && stat -c '%a' src.txt tree tree/sub tree/sub/f && test ! -e gone.txt && echo gone && cat c.conf.*~"
            )
        ),
        {
            let inode = on_host(1, &format!("stat -c %i {d}/src.txt"));
            let inode = inode.trim();
            format!(
                "a = 10\na = 1\nb = 20\n[s]\nk = v\nnew\n2 {inode}\n{inode}\n600\n750\n750\n750\ngone\nold\n"
            )
        }
    );
    assert_eq!(
        on_host(1, &format!("cat {d}/bl.conf")),
        "x = 1\n# BEGIN ANSIBLE MANAGED BLOCK\nz = 26\n# END ANSIBLE MANAGED BLOCK\n"
    );
}

const COMMANDS: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: command creates
      command: touch made
      args: {chdir: /tmp/wl-files/cmd, creates: made}
    - name: shell removes
      shell: rm -f victim && echo removed >> log
      args: {chdir: /tmp/wl-files/cmd, removes: victim}
    - name: command changed_when
      command: cat /tmp/wl-files/cmd/log
      register: log
      changed_when: false
    - name: raw reports
      raw: test -e /tmp/wl-files/cmd/made
      changed_when: false
"#;

/// command/shell/raw: `creates`/`removes` make the check run predict the first exactly and
/// the second run change nothing; `changed_when: false` keeps reads unchanged.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn commands_with_guards_check_and_run_twice() {
    let inv = testhosts();
    on_host(
        1,
        "rm -rf /tmp/wl-files/cmd; mkdir -p /tmp/wl-files/cmd; touch /tmp/wl-files/cmd/victim /tmp/wl-files/cmd/log",
    );
    let p = project(&inv, COMMANDS);
    let mut check = opts();
    check.check = true;
    let (ev, rep) = p.run("site.yml", "hosts.yml", check).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    let predicted = changed(&rep, "th01");
    assert_eq!(
        on_host(1, "ls /tmp/wl-files/cmd | tr '\\n' ' '"),
        "log victim ",
        "check ran nothing"
    );
    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(changed(&rep, "th01"), predicted, "check predicted the run");
    assert_eq!(predicted, 2);
    assert_eq!(
        on_host(
            1,
            "ls /tmp/wl-files/cmd | tr '\\n' ' '; cat /tmp/wl-files/cmd/log"
        ),
        "log made removed\n"
    );
    let (ev, rep) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(failed(&rep, "th01"), 0, "{ev:#?}");
    assert_eq!(changed(&rep, "th01"), 0, "second run: {ev:#?}");
    assert_eq!(on_host(1, "cat /tmp/wl-files/cmd/log"), "removed\n");
}
