//! Hostile input and secrets: quoting holds for every module parameter that reaches a shell,
//! `no_log` and secret-looking variables stay out of every sink and the journal. (That the
//! become password never reaches a command line is a unit test of
//! `runner/transport/become_password.rs`: the decorator is not public API.)
//!
//! Hostile values (command substitution, backticks, quotes, newlines, `; rm -rf`, globs)
//! travel through variables into the parameters of every built-in module, on the local
//! connection in a temp dir (system modules in check mode, so their probes run but the
//! controller is not changed) and, with `WINDLASS_TESTHOSTS`, over SSH on the inventory's first host. Each value
//! would create `/tmp/pwned-<tag>-…` or remove a canary directory if a shell ever
//! interpreted it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, on_host, testhosts};

/// Hostile values: each would run `touch /tmp/pwned-<tag>-N` (or remove the canary) if a
/// shell interpreted it.
fn hostile(tag: &str, canary: &str) -> Vec<String> {
    vec![
        format!("$(touch /tmp/pwned-{tag}-1)"),
        format!("`touch /tmp/pwned-{tag}-2`"),
        format!("x'; touch /tmp/pwned-{tag}-3; '"),
        format!("x\"; touch /tmp/pwned-{tag}-4; \""),
        format!("x\ntouch /tmp/pwned-{tag}-5\n"),
        format!("x; rm -rf {canary}"),
        format!("x && touch /tmp/pwned-{tag}-6 || touch /tmp/pwned-{tag}-7"),
        format!("x | touch /tmp/pwned-{tag}-8"),
        "*".to_string(),
        format!("-rf {canary}"),
        format!("$(rm -rf {canary})"),
        format!("x'\"`$(touch /tmp/pwned-{tag}-9)`\"'"),
    ]
}

/// The playbook: every module, every parameter that reaches a shell, fed `{{ item }}`.
/// `{{ base }}` is a scratch dir; `{{ i }}` the item's index (for file names).
const PLAYBOOK: &str = r##"
- hosts: all
  gather_facts: false
  tasks:
    - file: path={{ base }} state=directory
    - name: file module
      file:
        path: "{{ base }}/{{ item }}"
        state: touch
        mode: "0644"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: file owner/group/mode
      file:
        path: "{{ base }}/f"
        state: touch
        owner: "{{ item }}"
        group: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: file mode
      file: path={{ base }}/f state=touch mode={{ item | to_json }}
      loop: "{{ evils }}"
      ignore_errors: true
    - name: command argv
      command:
        argv: [echo, "{{ item }}"]
        chdir: "{{ base }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: command string
      command: "echo {{ item | quote }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: command chdir/creates/removes
      command:
        cmd: "true"
        chdir: "{{ item }}"
        creates: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: command removes
      command:
        cmd: "true"
        removes: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: shell chdir/creates
      shell: "true"
      args:
        chdir: "{{ item }}"
        creates: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: shell with a quoted value
      shell: "echo {{ item | quote }} > {{ base }}/echoed-{{ idx }}"
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: environment values
      command: printenv WL_EVIL
      environment:
        WL_EVIL: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: copy content and dest
      copy:
        content: "{{ item }}"
        dest: "{{ base }}/c-{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: copy owner/mode
      copy:
        content: "x"
        dest: "{{ base }}/c"
        owner: "{{ item }}"
        mode: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: template dest
      template:
        src: t.j2
        dest: "{{ base }}/t-{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: lineinfile
      lineinfile:
        path: "{{ base }}/l-{{ idx }}"
        line: "{{ item }}"
        regexp: "{{ item }}"
        create: true
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: lineinfile path
      lineinfile:
        path: "{{ base }}/{{ item }}"
        line: x
        insertafter: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: blockinfile
      blockinfile:
        path: "{{ base }}/b-{{ idx }}"
        block: "{{ item }}"
        marker: "# {mark} {{ item }}"
        create: true
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: replace
      replace:
        path: "{{ base }}/{{ item }}"
        regexp: "{{ item }}"
        replace: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: ini_file
      ini_file:
        path: "{{ base }}/i-{{ idx }}"
        section: "{{ item }}"
        option: "{{ item }}"
        value: "{{ item }}"
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: stat
      stat: path={{ item | to_json }}
      loop: "{{ evils }}"
      ignore_errors: true
    - name: stat in base
      stat:
        path: "{{ base }}/{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: slurp
      slurp:
        src: "{{ base }}/{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: fetch
      fetch:
        src: "{{ base }}/{{ item }}"
        dest: "{{ base }}/fetched/{{ item }}"
        flat: true
      loop: "{{ evils }}"
      ignore_errors: true
    # System modules: check mode, so the probes (which see the values) run and nothing on
    # this machine changes.
    - name: apt
      apt: name={{ item | to_json }}
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: package
      package:
        name: "{{ item }}"
        state: present
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: systemd
      systemd:
        name: "{{ item }}"
        state: started
        enabled: true
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: service
      service:
        name: "{{ item }}"
        state: restarted
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: sysctl
      sysctl:
        name: "{{ item }}"
        value: "{{ item }}"
        sysctl_file: "{{ base }}/sysctl-{{ idx }}.conf"
      check_mode: true
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: modprobe
      modprobe:
        name: "{{ item }}"
        params: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: user
      user:
        name: "{{ item }}"
        comment: "{{ item }}"
        shell: "{{ item }}"
        home: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: group
      group:
        name: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: hostname
      hostname:
        name: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: dpkg_selections
      dpkg_selections:
        name: "{{ item }}"
        selection: hold
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: apt_repository
      apt_repository:
        repo: "deb http://example.invalid/{{ item }} stable main"
        filename: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: apt_key
      apt_key:
        id: "{{ item }}"
        keyring: "{{ base }}/{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: deb822_repository
      deb822_repository:
        name: "{{ item }}"
        uris: ["http://example.invalid/{{ item }}"]
        suites: ["{{ item }}"]
        components: ["{{ item }}"]
        signed_by: "{{ item }}"
      check_mode: true
      loop: "{{ evils }}"
      ignore_errors: true
    - name: raw with a quoted value
      raw: "echo {{ item | quote }} > {{ base }}/raw-{{ idx }}"
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: script arguments
      script: "s.sh {{ item | quote }} {{ base }}/script-{{ idx }}"
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: script chdir/creates/removes
      script:
        cmd: s.sh x {{ base }}/script-x
        chdir: "{{ item }}"
        creates: "{{ item }}"
        removes: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: script in a hostile remote_tmp
      script: "s.sh x {{ base }}/rt-script-{{ idx }}"
      vars: {ansible_remote_tmp: "{{ base }}/rt/{{ item }}"}
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: uri
      uri:
        url: "http://127.0.0.1:1/{{ item }}"
        method: "{{ item }}"
        body: "{{ item }}"
        headers:
          X-Evil: "{{ item }}"
        url_username: "{{ item }}"
        url_password: "{{ item }}"
        dest: "{{ base }}/{{ item }}"
        timeout: 2
      loop: "{{ evils }}"
      ignore_errors: true
    - name: get_url
      get_url:
        url: "http://127.0.0.1:1/{{ item }}"
        dest: "{{ base }}/g-{{ item }}"
        headers:
          X-Evil: "{{ item }}"
        url_username: "{{ item }}"
        url_password: "{{ item }}"
        owner: "{{ item }}"
        timeout: 2
      loop: "{{ evils }}"
      ignore_errors: true
    - name: an archive to unpack
      shell: "mkdir -p {{ base }}/u && tar -C {{ base }} -cf {{ base }}/a.tar f"
    - name: unarchive
      unarchive:
        src: "{{ base }}/a.tar"
        remote_src: true
        dest: "{{ base }}/u"
        extra_opts: ["{{ item }}"]
        owner: "{{ item }}"
        group: "{{ item }}"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: unarchive src/dest/creates
      unarchive:
        src: "{{ base }}/{{ item }}"
        remote_src: true
        dest: "{{ base }}/{{ item }}"
        creates: "{{ base }}/{{ item }}/x"
      loop: "{{ evils }}"
      ignore_errors: true
    - name: wait_for path and msg
      wait_for:
        path: "{{ base }}/{{ item }}"
        state: absent
        msg: "{{ item }}"
        timeout: 1
      loop: "{{ evils }}"
      ignore_errors: true
    - name: wait_for search_regex
      wait_for:
        path: "{{ base }}/echoed-{{ idx }}"
        search_regex: "{{ item }}"
        timeout: 1
        sleep: 1
      loop: "{{ evils }}"
      loop_control: {index_var: idx}
      ignore_errors: true
    - name: wait_for host
      wait_for:
        host: "{{ item }}"
        port: 1
        state: stopped
        timeout: 1
      loop: "{{ evils }}"
      ignore_errors: true
"##;

/// Write the project: playbook, evils, template; `base` is the scratch dir on the target.
fn hostile_project(tag: &str, canary: &str, base: &str, inventory: Option<&Path>) -> Project {
    let p = Project::new();
    let evils = hostile(tag, canary);
    p.file("templates/t.j2", "value={{ item }}\n");
    // The script writes its first argument to the file named by its second.
    p.file("files/s.sh", "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$2\"\n");
    p.file("site.yml", PLAYBOOK);
    match inventory {
        Some(inv) => {
            p.with_testhosts(inv);
        }
        None => {
            p.file(
                "hosts.yml",
                "all:\n  hosts:\n    h1:\n      ansible_connection: local\n",
            );
        }
    }
    p.file(
        "extra.json",
        &serde_json::json!({"base": base, "evils": evils}).to_string(),
    );
    p
}

fn run_cli(p: &Project, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts.yml", "-e", "@extra.json"])
        .args(extra)
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("windlass runs")
}

fn pwned(tag: &str) -> Vec<String> {
    std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("pwned-{tag}")))
        .collect()
}

#[test]
fn hostile_values_never_execute_on_the_local_connection() {
    let tag = format!("wlsec{}", std::process::id());
    let work = tempfile::tempdir().unwrap();
    let canary = work.path().join("wl-sec-canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("keep"), "x").unwrap();
    let base = work.path().join("base");
    let p = hostile_project(
        &tag,
        &canary.display().to_string(),
        &base.display().to_string(),
        None,
    );
    let o = run_cli(&p, &["--output", "jsonl"]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    // Every task ran (ignore_errors keeps the host going): the recap shows it.
    assert!(
        o.status.code() == Some(0),
        "exit {:?}\n{err}\n{}",
        o.status,
        &out[out.len().saturating_sub(3000)..]
    );
    let results = out.matches("\"event\":\"host_result\"").count();
    assert!(results > 30 * 12, "only {results} results");
    let left = pwned(&tag);
    assert!(left.is_empty(), "hostile values executed: {left:?}");
    assert!(canary.join("keep").exists(), "the canary was removed");
    // The values arrived intact where they are data: one echoed back by a quoted shell
    // argument, one written as file content.
    let evils = hostile(&tag, &canary.display().to_string());
    for (i, e) in evils.iter().enumerate() {
        for via in ["echoed", "raw", "script"] {
            let got = std::fs::read_to_string(base.join(format!("{via}-{i}")))
                .unwrap_or_else(|err| panic!("{via}-{i}: {err}"));
            assert_eq!(got, format!("{e}\n"), "{via}");
        }
    }
    // The script ran with each hostile `ansible_remote_tmp`, made literally and left empty.
    for (i, e) in evils.iter().enumerate() {
        let got = std::fs::read_to_string(base.join(format!("rt-script-{i}")))
            .unwrap_or_else(|err| panic!("rt-script-{i}: {err}"));
        assert_eq!(got, "x\n");
        let rt = base.join("rt").join(e);
        assert_eq!(
            std::fs::read_dir(&rt)
                .unwrap_or_else(|err| panic!("{}: {err}", rt.display()))
                .count(),
            0,
            "{}",
            rt.display()
        );
    }
    let star = std::fs::read_to_string(base.join("c-*")).unwrap();
    assert_eq!(star, "*");
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn hostile_values_never_execute_over_ssh() {
    let inv = testhosts();
    let tag = format!("wlsec{}", std::process::id());
    let canary = "/tmp/wl-sec/canary";
    on_host(
        1,
        &format!("rm -rf /tmp/wl-sec /tmp/pwned-*; mkdir -p {canary} && touch {canary}/keep"),
    );
    let p = hostile_project(&tag, canary, "/tmp/wl-sec/base", Some(&inv));
    // The project's inventory names the test hosts by slot (th01 is the inventory's first
    // host, the one on_host(1) reaches).
    let first = common::slot_names(1).remove(0);
    let o = run_cli(&p, &["--limit", &first]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        &text[text.len().saturating_sub(3000)..]
    );
    assert_eq!(
        on_host(1, "ls /tmp | grep -c '^pwned-' || true").trim(),
        "0",
        "hostile values executed on the host"
    );
    assert_eq!(on_host(1, &format!("ls {canary}")).trim(), "keep");
    assert!(pwned(&tag).is_empty(), "executed on the controller");
    on_host(1, "rm -rf /tmp/wl-sec");
}

#[test]
fn no_log_and_secret_variables_stay_out_of_sinks_journal_and_diffs() {
    let p = Project::new();
    p.file(
        "hosts.yml",
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n",
    );
    let dir = p.path().join("out");
    p.file("templates/s.j2", "key={{ secret_value }}\n");
    p.file(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  vars:
    secret_value: "S3CRET-one"
  tasks:
    - file: path={dir} state=directory
    - name: hidden command
      command: echo S3CRET-two
      register: out
      no_log: true
    - name: hidden loop
      debug: msg="{{{{ item }}}}"
      loop: [S3CRET-three]
      no_log: true
    - name: hidden template (diff mode)
      template: src=s.j2 dest={dir}/s.conf
      no_log: true
    - name: hidden template in a loop (diff mode)
      template: src=s.j2 dest={dir}/s-{{{{ item }}}}.conf
      loop: [a]
      no_log: true
    - name: secret fact
      set_fact:
        db_password: S3CRET-four
    - name: secret register
      command: echo S3CRET-five
      register: api_token
    - name: fail after, so the journal stays
      fail: msg=stop
"#,
            dir = dir.display()
        ),
    );
    for output in ["jsonl", "text"] {
        let _ = std::fs::remove_dir_all(p.path().join(".windlass"));
        let _ = std::fs::remove_dir_all(&dir);
        let o = Command::new(env!("CARGO_BIN_EXE_windlass"))
            .args([
                "run",
                "site.yml",
                "-i",
                "hosts.yml",
                "--diff",
                "-vvv",
                "--output",
                output,
            ])
            .current_dir(p.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(text.contains("censored"), "{text}");
        assert!(
            !text.contains("S3CRET"),
            "a secret reached the {output} output:\n{text}"
        );
        let mut journal = String::new();
        for e in std::fs::read_dir(p.path().join(".windlass")).unwrap() {
            journal.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        assert!(journal.contains("\"done\""), "{journal}");
        assert!(
            !journal.contains("S3CRET"),
            "a secret reached the journal:\n{journal}"
        );
        // The secrets did their work.
        let written = std::fs::read_to_string(dir.join("s.conf")).unwrap();
        assert_eq!(written, "key=S3CRET-one\n");
    }
}

#[test]
fn host_keys_are_checked_strictly_by_default() {
    let spec =
        windlass::transport::spec::connection_spec("h", &Default::default(), &Default::default())
            .unwrap();
    assert_eq!(
        spec.host_keys,
        windlass::transport::HostKeyPolicy::Strict,
        "unknown host keys must be refused unless the user relaxes checking"
    );
}
