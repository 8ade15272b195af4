//! The ansible-playbook command line windlass accepts: several playbooks, `--list-tags`,
//! `-b`/`--become-*` and ansible.cfg `[privilege_escalation]`, warnings for settings it
//! does not honour, `--flush-cache`, the refusal of `-k`.
//!
//! Listings are compared with the text ansible-core 2.19 printed for the same files
//! (recorded here, so the test runs without it) and, when the conformance venv is there,
//! with a live ansible-playbook run too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Project;

/// The binary in `dir` without the developer's `ANSIBLE_*`/`WINDLASS_*` settings and
/// with an empty `HOME` (no `~/.ansible.cfg`), plus `env`.
fn windlass(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    isolated(
        Command::new(env!("CARGO_BIN_EXE_windlass")),
        dir,
        home.path(),
    )
    .args(args)
    .envs(env.iter().copied())
    .output()
    .expect("runs")
}

fn isolated(mut c: Command, dir: &Path, home: &Path) -> Command {
    common::clear_tool_env(&mut c);
    c.current_dir(dir).env("HOME", home).env("NO_COLOR", "1");
    c
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

/// ansible-playbook of the conformance venv (`$WINDLASS_ANSIBLE_PLAYBOOK` first).
fn ansible_playbook() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook");
    p.is_file().then_some(p)
}

const SITE: &str = r#"- hosts: all
  gather_facts: false
  tags: [p1]
  tasks:
    - name: who
      command: id -un
      tags: [b, a]
    - debug: msg=x
    - block:
        - debug: msg=y
          tags: z
      tags: blk
- name: second
  hosts: web
  tasks:
    - debug: msg=x
      tags: [never, c]
- hosts: db
  gather_facts: false
  tasks:
    - block:
        - command: "true"
          tags: [in]
      rescue:
        - debug: msg=r
          tags: [res]
      always:
        - debug: msg=a
          tags: [alw]
    - include_tasks: inc.yml
      tags: [inc]
"#;

fn listing_project() -> Project {
    let p = Project::new();
    p.file("site.yml", SITE);
    p.file(
        "other.yml",
        "- hosts: h2\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n",
    );
    p.file("inc.yml", "- debug: msg=i\n");
    p.file(
        "hosts",
        "[web]\nh1\n[db]\nh2\n[all:vars]\nansible_connection=local\n",
    );
    p
}

/// What ansible-playbook 2.19.14 printed for `site.yml other.yml` and these options.
const LISTINGS: &[(&[&str], &str)] = &[
    (
        &["--list-tasks", "--list-tags"],
        "\nplaybook: site.yml\n\n  play #1 (all): all\tTAGS: [p1]\n    tasks:\n      who\tTAGS: [a, b, p1]\n      debug\tTAGS: [p1]\n      debug\tTAGS: [blk, p1, z]\n      TASK TAGS: [a, b, blk, p1, z]\n\n  play #2 (web): second\tTAGS: []\n    tasks:\n      debug\tTAGS: [c, never]\n      TASK TAGS: [c, never]\n\n  play #3 (db): db\tTAGS: []\n    tasks:\n      command\tTAGS: [in]\n      include_tasks\tTAGS: [inc]\n      TASK TAGS: [in, inc]\n\nplaybook: other.yml\n\n  play #1 (h2): h2\tTAGS: []\n    tasks:\n      debug\tTAGS: []\n      TASK TAGS: []\n",
    ),
    (
        &["--list-tags", "--skip-tags", "p1"],
        "\nplaybook: site.yml\n\n  play #1 (all): all\tTAGS: [p1]\n      TASK TAGS: [p1]\n\n  play #2 (web): second\tTAGS: []\n      TASK TAGS: []\n\n  play #3 (db): db\tTAGS: []\n      TASK TAGS: [in, inc]\n\nplaybook: other.yml\n\n  play #1 (h2): h2\tTAGS: []\n      TASK TAGS: []\n",
    ),
];

#[test]
fn listings_of_several_playbooks_match_ansible_playbook() {
    let p = listing_project();
    let live = ansible_playbook();
    for (opts, want) in LISTINGS {
        let mut args = vec!["run", "site.yml", "other.yml", "-i", "hosts"];
        args.extend(*opts);
        let o = windlass(p.path(), &args, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        assert_eq!(stdout(&o), *want, "{opts:?}");
        let Some(ap) = &live else { continue };
        let home = tempfile::tempdir().unwrap();
        let a = isolated(Command::new(ap), p.path(), home.path())
            .args(&args[1..])
            .output()
            .expect("ansible-playbook runs");
        assert_eq!(stdout(&a), *want, "ansible-playbook {opts:?}: {}", both(&a));
    }
}

#[test]
fn several_playbooks_run_in_order_and_stop_after_a_failure() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    let play = |msg: &str| {
        format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg={msg}\n")
    };
    p.file("a.yml", &play("first"));
    p.file(
        "b.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=stop\n",
    );
    p.file("c.yml", &play("never-reached"));
    let o = windlass(
        p.path(),
        &["run", "a.yml", "b.yml", "c.yml", "-i", "hosts"],
        &[],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("\"msg\": \"first\""), "{out}");
    assert!(!out.contains("never-reached"), "{out}");
    // One recap a playbook, counting from the start of the command (ansible's one _stats).
    let recaps: Vec<&str> = out.lines().filter(|l| l.starts_with("h1 ")).collect();
    assert_eq!(recaps.len(), 2, "{out}");
    assert!(
        recaps[1].contains("ok=1") && recaps[1].contains("failed=1"),
        "{out}"
    );
}

#[test]
fn unhonoured_settings_warn_once_per_command() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file("ansible.cfg", "[defaults]\nforks = 2\nstdout_callback = yaml\nretry_files_enabled = False\n[ssh_connection]\npipelining = True\n");
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n";
    p.file("a.yml", play);
    p.file("b.yml", play);
    let env = [("ANSIBLE_GATHERING", "smart"), ("ANSIBLE_FORKS", "3")];
    let o = windlass(p.path(), &["run", "a.yml", "b.yml", "-i", "hosts"], &env);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for w in [
        "[WARNING]: ansible.cfg:3: `stdout_callback` in [defaults] is not honoured by windlass; it is ignored",
        "[WARNING]: ansible.cfg:6: `pipelining` in [ssh_connection] is not honoured by windlass; it is ignored",
        "[WARNING]: the environment variable ANSIBLE_GATHERING is not honoured by windlass; it is ignored",
    ] {
        assert_eq!(out.matches(w).count(), 1, "{w}\n{out}");
    }
    // Read ones (forks, ANSIBLE_FORKS) and ones windlass already does (no retry files) are quiet.
    assert_eq!(out.matches("[WARNING]").count(), 3, "{out}");
    // Machines get it as an event.
    let o = windlass(
        p.path(),
        &["run", "a.yml", "-i", "hosts", "--output", "jsonl"],
        &env,
    );
    let first: serde_json::Value =
        serde_json::from_str(stdout(&o).lines().next().unwrap_or_default()).unwrap();
    assert_eq!(first["event"], "warning", "{first}");
}

/// The become settings reach the command the host runs: `-vvv` shows each command line.
fn become_line(p: &Project, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec![
        "run", "site.yml", "-i", "hosts", "--output", "jsonl", "-vvv",
    ];
    all.extend(args);
    let o = windlass(p.path(), &all, env);
    stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "command" && e["op"] == "exec")
        .filter_map(|e| e["line"].as_str().map(String::from))
        .find(|l| l.contains("id -un"))
        .unwrap_or_else(|| panic!("no `id -un` command: {}", both(&o)))
}

#[test]
fn become_from_the_config_file_the_environment_and_the_options() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n",
    );
    assert!(!become_line(&p, &[], &[]).contains("su "));
    p.file("ansible.cfg", "[privilege_escalation]\nbecome = True\nbecome_method = su\nbecome_user = nobody\nbecome_flags = -s /bin/sh\n");
    let line = become_line(&p, &[], &[]);
    assert!(line.contains("su -s /bin/sh nobody -c"), "{line}");
    // The environment beats the file, the options beat both.
    let env = [("ANSIBLE_BECOME_USER", "daemon")];
    let line = become_line(&p, &[], &env);
    assert!(line.contains("su -s /bin/sh daemon -c"), "{line}");
    let line = become_line(&p, &["--become-user", "bin"], &env);
    assert!(line.contains("su -s /bin/sh bin -c"), "{line}");
    let env = [("ANSIBLE_BECOME", "false")];
    assert!(!become_line(&p, &[], &env).contains("su "));
    assert!(become_line(&p, &["-b"], &env).contains("su -s /bin/sh nobody -c"));
}

#[test]
fn flush_cache_is_accepted_and_ask_pass_refused_with_the_reason() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    let o = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--flush-cache"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "-k"], &[]);
    assert_eq!(o.status.code(), Some(5), "{}", both(&o));
    assert!(
        both(&o).contains("cannot prompt for the SSH password"),
        "{}",
        both(&o)
    );
}

#[test]
fn diff_is_coloured_as_ansible_when_colour_is_on() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file("f.txt", "a\nx\nc\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        content: \"a\\nb\\nc\\n\"\n        dest: \"{{ playbook_dir }}/f.txt\"\n",
    );
    let f = p.path().join("f.txt").display().to_string();
    // What ansible-playbook 2.19.14 printed with ANSIBLE_FORCE_COLOR=1 (callback `_get_diff`
    // through `stringc`).
    let painted = format!(
        "\x1b[0;31m--- before: {f}\x1b[0m\n\x1b[0;31m\x1b[0m\x1b[0;32m+++ after: {f}\x1b[0m\n\
         \x1b[0;32m\x1b[0m\x1b[0;36m@@ -1,3 +1,3 @@\x1b[0m\n\x1b[0;36m\x1b[0m a\n\
         \x1b[0;31m-x\x1b[0m\n\x1b[0;31m\x1b[0m\x1b[0;32m+b\x1b[0m\n\x1b[0;32m\x1b[0m c\n"
    );
    let args = ["run", "site.yml", "-i", "hosts", "-D", "-C"];
    // FORCE_COLOR wins over NO_COLOR (which the helper sets), as in ansible-core.
    let o = windlass(p.path(), &args, &[("ANSIBLE_FORCE_COLOR", "1")]);
    assert!(stdout(&o).contains(&painted), "{:?}", stdout(&o));
    // Not a terminal and no FORCE_COLOR: plain text.
    let o = windlass(p.path(), &args, &[]);
    let out = stdout(&o);
    assert!(!out.contains('\x1b') && out.contains("-x\n+b\n"), "{out:?}");
    // The same for ad-hoc.
    let adhoc = [
        "adhoc",
        "h1",
        "-i",
        "hosts",
        "-m",
        "copy",
        "-a",
        "content='a\nb\nc\n' dest=f.txt",
        "-D",
        "-C",
    ];
    let o = windlass(p.path(), &adhoc, &[("ANSIBLE_FORCE_COLOR", "1")]);
    assert!(
        stdout(&o).contains("\x1b[0;31m-x\x1b[0m\n\x1b[0;31m\x1b[0m\x1b[0;32m+b\x1b[0m"),
        "{:?}",
        stdout(&o)
    );
}

/// The `---`/`+++` lines `--diff` heads each diff with, as the callback's `_get_diff` does:
/// `before: <header>` only when the module gave a `before_header` (copy when the file was
/// there, lineinfile/blockinfile as `<path> (content)`, replace as the path), plain
/// `before`/`after` when it gave none (file).
#[test]
fn diff_headers_are_ansibles() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file("files/a.txt", "new\n");
    p.file("templates/t.j2", "T {{ 1 }}\n");
    let tasks = [
        "copy: {content: \"a\\n\", dest: \"{{ o }}/c1\"}",
        "copy: {content: \"b\\n\", dest: \"{{ o }}/c1\"}",
        "copy: {src: files/a.txt, dest: \"{{ o }}/c2\"}",
        "copy: {src: files/a.txt, dest: \"{{ o }}/c1\"}",
        "lineinfile: {path: \"{{ o }}/c1\", line: x}",
        "blockinfile: {path: \"{{ o }}/c1\", block: y}",
        "replace: {path: \"{{ o }}/c1\", regexp: x, replace: z}",
        "file: {path: \"{{ o }}/c3\", state: touch}",
    ];
    let mut site = String::from(
        "- hosts: all\n  gather_facts: false\n  vars:\n    o: \"{{ playbook_dir }}/out\"\n  \
         tasks:\n    - file: {path: \"{{ o }}\", state: directory}\n      diff: false\n",
    );
    for t in tasks {
        site.push_str(&format!("    - {t}\n"));
    }
    p.file("site.yml", &site);
    let dir = p.path().display().to_string();
    let heads = |o: &Output| -> String {
        stdout(o)
            .lines()
            .filter(|l| l.starts_with("---") || l.starts_with("+++"))
            .map(|l| format!("{}\n", l.replace(&dir, "DIR")))
            .collect()
    };
    // What ansible-playbook 2.19.14 printed.
    let want = "--- before\n+++ after: DIR/out/c1\n\
                --- before: DIR/out/c1\n+++ after: DIR/out/c1\n\
                --- before\n+++ after: DIR/files/a.txt\n\
                --- before: DIR/out/c1\n+++ after: DIR/files/a.txt\n\
                --- before: DIR/out/c1 (content)\n+++ after: DIR/out/c1 (content)\n\
                --- before: DIR/out/c1 (content)\n+++ after: DIR/out/c1 (content)\n\
                --- before: DIR/out/c1\n+++ after: DIR/out/c1\n\
                --- before\n+++ after\n";
    let args = ["run", "site.yml", "-i", "hosts", "--diff"];
    let o = windlass(p.path(), &args, &[]);
    assert_eq!(heads(&o), want, "{}", both(&o));
    // A template's `after` is the template (Ansible names its rendered temporary copy).
    p.file(
        "t.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - template: {src: t.j2, dest: \"{{ playbook_dir }}/out/t1\"}\n",
    );
    let o = windlass(p.path(), &["run", "t.yml", "-i", "hosts", "--diff"], &[]);
    assert_eq!(
        heads(&o),
        "--- before\n+++ after: DIR/templates/t.j2\n",
        "{}",
        both(&o)
    );
    let Some(ansible) = ansible_playbook() else {
        return;
    };
    std::fs::remove_dir_all(p.path().join("out")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let o = isolated(Command::new(&ansible), p.path(), home.path())
        .env(
            "ANSIBLE_PYTHON_INTERPRETER",
            ansible.with_file_name("python3"),
        )
        .args(&args[1..])
        .output()
        .expect("runs");
    assert_eq!(heads(&o), want, "{}", both(&o));
}

/// The warnings of a run without inventory, as ansible-core gives them: "No inventory was
/// parsed" unless `inventory_unparsed_warning` is off, "provided hosts list is empty"
/// unless `localhost_warning` is off or the ad-hoc pattern names the implicit localhost;
/// both settings from the environment or ansible.cfg; ad-hoc adds no "No hosts matched".
#[test]
fn localhost_warnings_follow_the_settings() {
    let p = Project::new();
    p.file(
        "site.yml",
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    let unparsed = "[WARNING]: No inventory was parsed, only implicit localhost is available\n";
    let empty = "[WARNING]: provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'\n";
    // (Both write their warnings to stderr.)
    let warnings = |o: &Output| -> String {
        both(o)
            .lines()
            .filter(|l| l.starts_with("[WARNING]"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let run = ["run", "site.yml"];
    let adhoc_local = ["adhoc", "localhost", "-m", "debug", "-a", "msg=hi"];
    let adhoc_all = ["adhoc", "all", "-m", "debug", "-a", "msg=hi"];
    // (ansible.cfg, environment, command, the warnings ansible-core 2.19.14 gave)
    let both_on = format!("{unparsed}{empty}");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [&'a str], String);
    let cases: Vec<Case> = vec![
        ("", vec![], &run, both_on.clone()),
        ("", vec![], &adhoc_local, unparsed.to_string()),
        ("", vec![], &adhoc_all, both_on.clone()),
        (
            "",
            vec![("ANSIBLE_LOCALHOST_WARNING", "false")],
            &run,
            unparsed.to_string(),
        ),
        (
            "",
            vec![("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")],
            &adhoc_all,
            empty.to_string(),
        ),
        (
            "[defaults]\nlocalhost_warning = no\n[inventory]\ninventory_unparsed_warning = False\n",
            vec![],
            &run,
            String::new(),
        ),
    ];
    let live = ansible_playbook();
    for (cfg, env, args, want) in cases {
        if cfg.is_empty() {
            let _ = std::fs::remove_file(p.path().join("ansible.cfg"));
        } else {
            p.file("ansible.cfg", cfg);
        }
        let o = windlass(p.path(), args, &env);
        assert_eq!(warnings(&o), want, "{args:?} {env:?} {cfg}: {}", both(&o));
        let Some(ap) = &live else { continue };
        let (program, rest) = match args[0] {
            "run" => (ap.clone(), &args[1..]),
            _ => (ap.with_file_name("ansible"), &args[1..]),
        };
        let home = tempfile::tempdir().unwrap();
        let a = isolated(Command::new(program), p.path(), home.path())
            .args(rest)
            .envs(env.iter().copied())
            .output()
            .expect("runs");
        assert_eq!(
            warnings(&a),
            want,
            "ansible {args:?} {env:?} {cfg}: {}",
            both(&a)
        );
    }
}

/// `--step`: before each task the question on stdout, the answer from stdin (`n` skips the
/// task for every host, `y` runs it, `c` runs it and stops asking), then the question as a
/// banner, as ansible-playbook 2.19 prints it (compared up to the recap). `-f 1`: with more
/// forks both tools print each host's result as it finishes, so the order of h1 and h2 within
/// a task is a race (CI saw ansible-playbook print h2 first).
#[test]
fn step_asks_before_each_task_until_continue() {
    use std::io::Write as _;
    let p = Project::new();
    p.file("hosts", "h1\nh2\n\n[all:vars]\nansible_connection=local\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=one\n    - name: second\n      debug: msg=two\n    - debug: msg=three\n    - debug: msg=four\n",
    );
    let shown = |mut c: Command| -> String {
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().expect("runs");
        child.stdin.take().unwrap().write_all(b"n\ny\nc\n").unwrap();
        let o = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        text.split("PLAY RECAP").next().unwrap().to_string()
    };
    let ask = |t: &str, stars: usize| {
        format!(
            "Perform task: TASK: {t} (N)o/(y)es/(c)ontinue: \nPerform task: TASK: {t} (N)o/(y)es/(c)ontinue: {}\n",
            "*".repeat(stars)
        )
    };
    let ok = |msg: &str| {
        format!(
            "ok: [h1] => {{\n    \"msg\": \"{msg}\"\n}}\nok: [h2] => {{\n    \"msg\": \"{msg}\"\n}}\n"
        )
    };
    let want = format!(
        "\nPLAY [all] {}\n{}{}\nTASK [second] {}\n{}{}\nTASK [debug] {}\n{}\nTASK [debug] {}\n{}\n",
        "*".repeat(69),
        ask("debug", 31),
        ask("second", 30),
        "*".repeat(66),
        ok("two"),
        ask("debug", 31),
        "*".repeat(67),
        ok("three"),
        "*".repeat(67),
        ok("four"),
    );
    let home = tempfile::tempdir().unwrap();
    let mut c = isolated(
        Command::new(env!("CARGO_BIN_EXE_windlass")),
        p.path(),
        home.path(),
    );
    c.args(["run", "site.yml", "-i", "hosts", "-f", "1", "--step"]);
    assert_eq!(shown(c), want);
    let Some(ap) = ansible_playbook() else {
        return;
    };
    let mut c = isolated(Command::new(ap), p.path(), home.path());
    c.args(["site.yml", "-i", "hosts", "-f", "1", "--step"]);
    assert_eq!(shown(c), want);
}
