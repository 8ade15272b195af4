//! `windlass run --resume` and the run journal: keying by what a task is, the changed
//! playbook check, pending handlers, the journal a failed re-run keeps, secrets on disk.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Project, local_inventory};

fn windlass(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str() {
            if k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_") {
                c.env_remove(k);
            }
        }
    }
    c.current_dir(dir)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(p: &Project, extra: &[&str]) -> Output {
    let mut args = vec!["run", "site.yml", "-i", "hosts"];
    args.extend_from_slice(extra);
    windlass(p.path(), &args)
}

/// The lines of file `name` in the project (empty when it does not exist).
fn lines(p: &Project, name: &str) -> Vec<String> {
    std::fs::read_to_string(p.path().join(name))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A task that appends `word` to the file `log`.
fn log_task(d: &Path, word: &str) -> String {
    format!(
        "    - name: log {word}\n      shell: echo {word} >> {}/log\n",
        d.display()
    )
}

/// A task that fails until the file `fixed` exists.
fn gate(d: &Path) -> String {
    format!(
        "    - name: gate\n      command: test -e {}/fixed\n",
        d.display()
    )
}

fn journal_files(p: &Project) -> Vec<PathBuf> {
    std::fs::read_dir(p.path().join(".windlass"))
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|f| f.to_string_lossy().ends_with(".journal.json"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_task_inserted_before_finished_work_runs_and_moves_nothing() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    let head = "- hosts: all\n  gather_facts: false\n  tasks:\n";
    let body = [
        log_task(&d, "a"),
        log_task(&d, "b"),
        gate(&d),
        log_task(&d, "c"),
    ]
    .concat();
    p.file("site.yml", &format!("{head}{body}"));
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["a", "b"]);
    // A task added at the top: every later task's line moves.
    p.file("site.yml", &format!("{head}{}{body}", log_task(&d, "new")));
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume", "--resume-changed"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("site.yml changed"),
        "the change is reported: {t}"
    );
    assert_eq!(
        lines(&p, "log"),
        ["a", "b", "new", "c"],
        "the new task runs, finished ones do not, the rest once: {t}"
    );
}

#[test]
fn identical_tasks_are_told_apart_by_their_order() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    let same = log_task(&d, "same");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n{same}{}{same}{}",
            gate(&d),
            log_task(&d, "end")
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["same", "same", "end"]);
}

#[test]
fn a_changed_playbook_include_or_inventory_stops_a_resume() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "inc.yml",
        &log_task(&d, "inc")
            .replacen("    ", "", 1)
            .replace("\n      ", "\n  "),
    );
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n{}    - include_tasks: inc.yml\n{}",
            log_task(&d, "a"),
            gate(&d)
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["a", "inc"]);
    std::fs::write(d.join("fixed"), "").unwrap();
    // The included task file changed.
    p.file("inc.yml", "- debug: msg=changed\n");
    let o = run(&p, &["--resume"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(
        t.contains("inc.yml changed") && t.contains("--resume-changed"),
        "{t}"
    );
    assert_eq!(lines(&p, "log"), ["a", "inc"], "nothing ran");
    // So did the inventory (a host variable).
    p.file("hosts", "[nodes]\nh1 ansible_connection=local x=1\n");
    let o = run(&p, &["--resume"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(5), "{t}");
    assert!(t.contains("inventory changed"), "{t}");
    let o = run(&p, &["--resume", "--resume-changed"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        lines(&p, "log"),
        ["a", "inc"],
        "finished tasks stay finished"
    );
}

#[test]
fn pending_handlers_run_at_the_end_of_their_section_on_resume() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  pre_tasks:\n{}  tasks:\n{}      notify: bounce\n{}{}  handlers:\n    - name: bounce\n      shell: echo handler >> {}/log\n",
            log_task(&d, "pre"),
            log_task(&d, "notifier"),
            gate(&d),
            log_task(&d, "after"),
            d.display()
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["pre", "notifier"]);
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        lines(&p, "log"),
        ["pre", "notifier", "after", "handler"],
        "the handler runs where the tasks section flushes, not before its remaining tasks"
    );
}

#[test]
fn a_failed_plain_rerun_keeps_the_journal_resume_needs() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    let first = format!(
        "    - name: blocked\n      command: test ! -e {}/blocked\n",
        d.display()
    );
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n{first}{}{}{}",
            log_task(&d, "a"),
            log_task(&d, "b"),
            gate(&d)
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A plain re-run that fails at its first task.
    std::fs::write(d.join("blocked"), "").unwrap();
    let o = run(&p, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("stays the resume point"), "{t}");
    std::fs::remove_file(d.join("blocked")).unwrap();
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        lines(&p, "log"),
        ["a", "b"],
        "the first run's work is not redone"
    );
}

#[test]
fn secrets_are_masked_on_disk_and_their_task_runs_again() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        &format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: join command
      shell: echo x >> {d}/made; echo "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef"
      register: join
    - name: nested
      set_fact:
        cloud: {{"creds": [{{"secret_access_key": "AKIAwlsecret"}}], "region": "eu"}}
        db_url: "postgres://app:pw0rd99@db/app"
        plain: kept
{gate}    - name: use them
      shell: echo "{{{{ join.stdout }}}} {{{{ cloud.creds[0].secret_access_key }}}} {{{{ db_url }}}} {{{{ plain }}}}" > {d}/seen
"#,
            d = d.display(),
            gate = gate(&d)
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let state = p.path().join(".windlass");
    let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&state), 0o700);
    assert_eq!(
        std::fs::read_to_string(state.join(".gitignore")).unwrap(),
        "*\n"
    );
    let files = journal_files(&p);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600);
    let journal = std::fs::read_to_string(&files[0]).unwrap();
    for secret in ["abcdef.0123456789abcdef", "AKIAwlsecret", "pw0rd99"] {
        assert!(!journal.contains(secret), "{secret} on disk: {journal}");
    }
    assert!(journal.contains("kept"), "{journal}");
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("seen")).unwrap().trim(),
        "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef AKIAwlsecret postgres://app:pw0rd99@db/app kept",
        "masked values are never restored as if real"
    );
    assert_eq!(
        lines(&p, "made"),
        ["x", "x"],
        "the registering task ran again"
    );
}

#[test]
fn a_rescue_that_ran_before_does_not_hide_an_identical_task_after_its_block() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    let x = log_task(&d, "x").replace("\n    ", "\n        ");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - block:\n        - command: test ! -e {d}/broken\n      rescue:\n    {x}{gate}{x_after}",
            d = d.display(),
            x = x.trim_end_matches('\n').to_string() + "\n",
            x_after = log_task(&d, "x"),
            gate = gate(&d),
        ),
    );
    std::fs::write(d.join("broken"), "").unwrap();
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["x"], "the rescue ran");
    std::fs::remove_file(d.join("broken")).unwrap();
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        lines(&p, "log"),
        ["x", "x"],
        "the task after the block never ran: the rescue's identical task does not count for it"
    );
}

#[test]
fn a_changed_role_file_or_vars_file_stops_a_resume() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file("roles/r/tasks/main.yml", "- debug: msg={{ greeting }}\n");
    p.file("roles/r/defaults/main.yml", "greeting: hi\n");
    p.file("vars.yml", "other: 1\n");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  vars_files: [vars.yml]\n  roles: [r]\n  tasks:\n{}",
            gate(&d)
        ),
    );
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    for (file, changed) in [
        ("roles/r/defaults/main.yml", "greeting: hello\n"),
        ("vars.yml", "other: 2\n"),
    ] {
        let before = std::fs::read_to_string(p.path().join(file)).unwrap();
        p.file(file, changed);
        let o = run(&p, &["--resume"]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(5), "{file}: {t}");
        assert!(t.contains(&format!("{file} changed")), "{file}: {t}");
        p.file(file, &before);
    }
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "unchanged again: {}", text(&o));
}

#[test]
fn a_check_run_leaves_the_journal_and_resume_point_alone() {
    let p = Project::new();
    let d = p.path().to_path_buf();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n{}{}{}",
            log_task(&d, "a"),
            gate(&d),
            log_task(&d, "b")
        ),
    );
    // A check run predicts every task (the gate fails in check mode too: command runs
    // nothing and reports skipped, so the run goes through) and writes no journal.
    let o = run(&p, &["--check"]);
    assert!(journal_files(&p).is_empty(), "{}", text(&o));
    let o = run(&p, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(journal_files(&p).len(), 1);
    let before = std::fs::read(&journal_files(&p)[0]).unwrap();
    let o = run(&p, &["--check"]);
    assert_eq!(
        std::fs::read(&journal_files(&p)[0]).unwrap(),
        before,
        "a check run left the failed run's journal as it was: {}",
        text(&o)
    );
    let o = run(&p, &["--check", "--resume"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--check with --resume is refused (a usage error, as argparse): {}",
        text(&o)
    );
    std::fs::write(d.join("fixed"), "").unwrap();
    let o = run(&p, &["--resume"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(lines(&p, "log"), ["a", "b"]);
}
