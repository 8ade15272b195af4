//! A dynamic include that includes itself (directly, or through a role) stops with a
//! failure naming the include once nesting passes windlass's limit, instead of overflowing
//! the stack (which aborted the run and left the hosts locked). Nesting that ends on its
//! own, below the limit, still runs.

use std::path::Path;

mod common;

fn run(dir: &Path) -> (i32, String) {
    common::run_site(dir, &[])
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const PLAY: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n";

#[test]
fn include_tasks_including_itself_fails_at_the_depth_limit() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "site.yml",
        &format!("{PLAY}    - include_tasks: self.yml\n"),
    );
    write(
        d.path(),
        "self.yml",
        "- debug: msg=x\n- include_tasks: self.yml\n",
    );
    let (code, all) = run(d.path());
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("self.yml:2:3: includes nested more than 64 deep"),
        "{all}"
    );
    // 64 debug results and 64 include results (Ansible counts an include as ok).
    assert!(all.contains("ok=128"), "{all}");
}

#[test]
fn include_role_including_itself_fails_at_the_depth_limit() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "site.yml",
        &format!("{PLAY}    - include_role: {{name: r}}\n"),
    );
    write(
        d.path(),
        "roles/r/tasks/main.yml",
        "- debug: msg=x\n- include_role:\n    name: r\n",
    );
    let (code, all) = run(d.path());
    assert_eq!(code, 2, "{all}");
    assert!(all.contains("includes nested more than 64 deep"), "{all}");
    assert!(all.contains("roles/r/tasks/main.yml:2:3"), "{all}");
}

#[test]
fn recursion_that_ends_below_the_limit_runs() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "site.yml",
        &format!("{PLAY}    - set_fact: {{n: 1}}\n    - include_tasks: count.yml\n"),
    );
    write(
        d.path(),
        "count.yml",
        "- debug: msg=\"level {{ n }}\"\n- set_fact: {n: \"{{ n | int + 1 }}\"}\n- include_tasks: count.yml\n  when: n | int <= 60\n",
    );
    let (code, all) = run(d.path());
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("level 60"), "{all}");
    assert!(!all.contains("level 61"), "{all}");
}
