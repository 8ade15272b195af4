//! What loading tells the user instead of silently doing something else: keys written twice
//! in any YAML file people write (Ansible's `duplicate_dict_key`), a run without an
//! inventory (the implicit localhost is not `all`), and an included file that is not what
//! the include expects (named, with its location).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::Project;

/// The binary in `dir`, with no `ANSIBLE_*`/`WINDLASS_*` variable and a fresh `HOME`, so no
/// setting of the developer's changes what a test sees; `env` is added.
fn windlass(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_windlass"));
    for (k, _) in std::env::vars_os() {
        if let Some(k) = k.to_str()
            && (k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_"))
        {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .args(args)
        .envs(env.iter().copied())
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

/// A project with a key written twice in every kind of YAML file a run reads.
fn project_with_duplicates() -> Project {
    let p = Project::new();
    p.file(
        "hosts.yml",
        "all:\n  hosts:\n    h1:\n      ansible_connection: local\n      port: 1\n      port: 2\n",
    );
    p.file("group_vars/all.yml", "gv: 1\ngv: 2\n");
    p.file("vars.yml", "vf: 1\nvf: 2\n");
    p.file("extra.yml", "ev: 1\nev: 2\n");
    p.file(
        "included.yml",
        "- debug:\n    msg: one\n  debug:\n    msg: two\n",
    );
    p.file("ivars.yml", "iv: 1\niv: 2\n");
    p.file(
        "roles/r/tasks/main.yml",
        "- name: a\n  name: b\n  debug: msg=role\n",
    );
    p.file("roles/r/defaults/main.yml", "rd: 1\nrd: 2\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars_files: [vars.yml]\n  roles: [r]\n  tasks:\n    - debug: msg=dropped\n  tasks:\n    - include_tasks: included.yml\n    - include_vars: ivars.yml\n    - debug:\n        msg: \"{{ port }} {{ gv }} {{ vf }} {{ ev }} {{ iv }} {{ rd }}\"\n",
    );
    p
}

/// `file:line:col` of the second key and of the first, as every warning names them.
const DUPLICATES: [(&str, &str, &str); 9] = [
    ("hosts.yml:6:7", "port", "hosts.yml:5:7"),
    ("all.yml:2:1", "gv", "all.yml:1:1"),
    ("site.yml:7:3", "tasks", "site.yml:5:3"),
    ("main.yml:2:3", "name", "main.yml:1:3"),
    ("main.yml:2:1", "rd", "main.yml:1:1"),
    ("vars.yml:2:1", "vf", "vars.yml:1:1"),
    ("extra.yml:2:1", "ev", "extra.yml:1:1"),
    ("included.yml:3:3", "debug", "included.yml:1:3"),
    ("ivars.yml:2:1", "iv", "ivars.yml:1:1"),
];

fn warned(out: &str, (again, key, first): (&str, &str, &str)) -> bool {
    out.lines().any(|l| {
        l.starts_with("[WARNING]: ")
            && l.contains(&format!(
                "{again}: duplicate mapping key `{key}` (first at "
            ))
            && l.contains(&format!("{first}): using the last defined value only"))
    })
}

#[test]
fn duplicate_keys_warn_with_both_places_in_every_file_by_default() {
    let p = project_with_duplicates();
    let args = ["run", "site.yml", "-i", "hosts.yml", "-e", "@extra.yml"];
    let o = windlass(p.path(), &args, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for d in DUPLICATES {
        assert!(warned(&out, d), "no warning for {d:?}:\n{out}");
    }
    // The last one wins, as in Ansible: the second `tasks:` replaced the first.
    assert!(out.contains("\"msg\": \"2 2 2 2 2 2\""), "{out}");
    assert!(!out.contains("dropped"), "{out}");
    assert!(
        out.contains("r : b]") && out.contains("\"msg\": \"two\""),
        "{out}"
    );
    // A warning is an event like any other.
    let o = windlass(p.path(), &[&args[..], &["--output", "jsonl"]].concat(), &[]);
    let events = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"event\":\"warning\"")
                && l.contains("duplicate mapping key `tasks`")),
        "{events}"
    );
    // --syntax-check reports what it reads (not what only a run loads: vars_files and
    // includes) and still succeeds.
    let o = windlass(p.path(), &[&args[..], &["--syntax-check"]].concat(), &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for d in &DUPLICATES[..5] {
        assert!(
            warned(&out, *d),
            "--syntax-check: no warning for {d:?}:\n{out}"
        );
    }
    assert!(warned(&out, DUPLICATES[6]), "{out}");
}

#[test]
fn duplicate_dict_key_ignore_and_error_as_in_ansible() {
    let p = project_with_duplicates();
    let args = ["run", "site.yml", "-i", "hosts.yml", "-e", "@extra.yml"];
    let o = windlass(
        p.path(),
        &args,
        &[("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "ignore")],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("duplicate mapping key"), "{out}");
    // `error` from ansible.cfg: the first duplicate read (the inventory's) stops the run
    // before anything runs, located at the second key and naming the first.
    p.file("ansible.cfg", "[defaults]\nduplicate_dict_key = error\n");
    let o = windlass(p.path(), &args, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("hosts.yml:6:7") && out.contains("duplicate mapping key `port` (first at"),
        "{out}"
    );
    assert!(!out.contains("TASK ["), "{out}");
    // The environment beats the file, as in Ansible.
    let o = windlass(
        p.path(),
        &args,
        &[("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "warn")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = windlass(
        p.path(),
        &args,
        &[("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "loud")],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("valid values are: error, warn"),
        "{}",
        text(&o)
    );
}

#[test]
fn without_an_inventory_all_is_skipped_with_ansibles_warning_and_localhost_still_runs() {
    let p = Project::new();
    let touched = p.path().join("touched");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: touch {t}\n\
             - hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: msg=on-the-controller\n\
             - hosts: all\n  gather_facts: false\n  tasks:\n    - command: touch {t}\n",
            t = touched.display()
        ),
    );
    let o = windlass(p.path(), &["run", "site.yml"], &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // ansible-playbook's words (lib/ansible/inventory/manager.py, lib/ansible/cli/__init__.py).
    assert!(
        out.contains("[WARNING]: No inventory was parsed, only implicit localhost is available"),
        "{out}"
    );
    assert!(out.contains("[WARNING]: provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'"), "{out}");
    // Neither `all` play ran, not even after the localhost play made the implicit host.
    assert!(
        !touched.exists(),
        "a play for `all` ran on the controller:\n{out}"
    );
    assert!(
        out.contains("ok: [localhost]") && out.contains("on-the-controller"),
        "{out}"
    );
    assert_eq!(
        out.matches("skipping: no hosts matched").count(),
        2,
        "{out}"
    );
    let o = windlass(p.path(), &["run", "site.yml", "--list-hosts"], &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("provided hosts list is empty"), "{out}");
    assert_eq!(out.matches("hosts (0):").count(), 2, "{out}");
    assert!(out.contains("hosts (1):\n      localhost"), "{out}");
    // An inventory that has hosts: no warning.
    p.file("hosts", "h1 ansible_connection=local\n");
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts"], &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(!out.contains("provided hosts list is empty"), "{out}");
    assert!(touched.exists(), "{out}");
}

#[test]
fn an_included_file_that_is_not_what_the_include_expects_is_named_with_its_place() {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    // Like /etc/passwd: a YAML string, not a task list or a mapping.
    p.file(
        "passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n",
    );
    p.file("list.yml", "- a\n- b\n");
    p.file("roles/r/tasks/main.yml", "- debug: msg=r\n");
    for (include, place) in [
        (
            "include_tasks: passwd",
            "passwd:1:1: a task list must be a list",
        ),
        (
            "include_role: {name: r, tasks_from: ../../../passwd}",
            "passwd:1:1: a task list must be a list",
        ),
        (
            "include_vars: passwd",
            "passwd:1:1: a vars file must be a mapping",
        ),
        (
            "include_vars: list.yml",
            "list.yml:1:1: a vars file must be a mapping",
        ),
    ] {
        p.file(
            "site.yml",
            &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - {include}\n"),
        );
        let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts"], &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{include}: {out}");
        assert!(
            out.contains(place),
            "{include}: the file is not named:\n{out}"
        );
    }
}
