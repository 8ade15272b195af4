//! Executable inventories (run with `--list`, then `--host NAME` without `_meta`) and saved
//! `ansible-inventory --list` JSON, read by `windlass inventory` as ansible-inventory reads
//! the script: the expected `--list`, `--graph` and `--host` output is what ansible-core
//! 2.19.14 printed for these scripts (so the test runs without it), and with the
//! conformance venv present a live ansible-inventory must print it too.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Project;
use serde_json::{Value, json};

const WITH_META: &str = r#"#!/bin/sh
case "$1" in
  --list) cat <<'J'
{"web": {"hosts": ["w1", "w2"], "vars": {"tier": "front"}, "children": ["edge"]},
 "edge": ["e1"],
 "db": {"hosts": ["d1"]},
 "solo": {"port": 1},
 "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1", "n": 1}, "d1": {"x": [1, 2]}}}}
J
;;
  --host) echo "{}" ;;
esac
"#;

const WITHOUT_META: &str = r#"#!/bin/sh
case "$1" in
  --list) echo '{"web": {"hosts": ["w1", "w2"], "vars": {"tier": "front"}}, "edge": ["e1"]}' ;;
  --host) echo "{\"who\": \"$2\"}" ;;
esac
"#;

fn script(p: &Project, name: &str, body: &str) {
    let path = p.file(name, body);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn isolated(program: &Path, dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::new(program);
    common::clear_tool_env(&mut c);
    c.current_dir(dir)
        .env("HOME", home.path())
        .args(args)
        .output()
        .expect("runs")
}

/// ansible-inventory of the conformance venv (next to `$WINDLASS_ANSIBLE_PLAYBOOK` first).
fn ansible_inventory() -> Option<PathBuf> {
    let playbook = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook")
        });
    Some(playbook.with_file_name("ansible-inventory")).filter(|p| p.is_file())
}

/// `windlass inventory ARGS` and, when there, `ansible-inventory ARGS`: both stdouts.
fn both(dir: &Path, args: &[&str]) -> Vec<(String, String)> {
    let mut w = vec!["inventory"];
    w.extend(args);
    let o = isolated(Path::new(env!("CARGO_BIN_EXE_windlass")), dir, &w);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "windlass {args:?}: {err}");
    let mut out = vec![(
        "windlass".into(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )];
    if let Some(a) = ansible_inventory() {
        let o = isolated(&a, dir, args);
        out.push((
            "ansible-inventory".into(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ));
    }
    out
}

fn json_of(who: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{who}: {e}: {text}"))
}

#[test]
fn a_script_with_meta_lists_graphs_and_shows_hosts_as_ansible() {
    let p = Project::new();
    script(&p, "dyn.sh", WITH_META);
    let list = json!({
        "_meta": {"hostvars": {
            "d1": {"x": [1, 2]}, "e1": {"tier": "front"}, "solo": {"port": 1},
            "w1": {"ansible_host": "10.0.0.1", "n": 1, "tier": "front"}, "w2": {"tier": "front"}},
            "profile": "inventory_legacy"},
        "all": {"children": ["ungrouped", "web", "db", "solo"]},
        "db": {"hosts": ["d1"]}, "edge": {"hosts": ["e1"]}, "solo": {"hosts": ["solo"]},
        "web": {"children": ["edge"], "hosts": ["w1", "w2"]}
    });
    for (who, out) in both(p.path(), &["-i", "dyn.sh", "--list"]) {
        assert_eq!(json_of(&who, &out), list, "{who}");
    }
    let graph = "@all:\n  |--@ungrouped:\n  |--@web:\n  |  |--@edge:\n  |  |  |--e1\n  |  |--w1\n  |  |--w2\n  |--@db:\n  |  |--d1\n  |--@solo:\n  |  |--solo\n";
    for (who, out) in both(p.path(), &["-i", "dyn.sh", "--graph"]) {
        assert_eq!(out, graph, "{who}");
    }
    let host = json!({"ansible_host": "10.0.0.1", "n": 1, "tier": "front"});
    for (who, out) in both(p.path(), &["-i", "dyn.sh", "--host", "w1"]) {
        assert_eq!(json_of(&who, &out), host, "{who}");
    }
}

#[test]
fn a_script_without_meta_is_asked_for_each_host() {
    let p = Project::new();
    script(&p, "nometa.sh", WITHOUT_META);
    let list = json!({
        "_meta": {"hostvars": {
            "e1": {"who": "e1"}, "w1": {"tier": "front", "who": "w1"},
            "w2": {"tier": "front", "who": "w2"}}, "profile": "inventory_legacy"},
        "all": {"children": ["ungrouped", "web", "edge"]},
        "edge": {"hosts": ["e1"]}, "web": {"hosts": ["w1", "w2"]}
    });
    for (who, out) in both(p.path(), &["-i", "nometa.sh", "--list"]) {
        assert_eq!(json_of(&who, &out), list, "{who}");
    }
}

/// ansible-inventory cannot read its own `--list` output back (its yaml plugin wants
/// mappings); windlass reads it, so a snapshot of a dynamic inventory is an inventory.
#[test]
fn a_saved_listing_reads_back_the_same() {
    let p = Project::new();
    script(&p, "dyn.sh", WITH_META);
    let w = Path::new(env!("CARGO_BIN_EXE_windlass"));
    let saved = isolated(w, p.path(), &["inventory", "-i", "dyn.sh", "--list"]);
    p.file("saved.json", &String::from_utf8_lossy(&saved.stdout));
    let again = isolated(w, p.path(), &["inventory", "-i", "saved.json", "--list"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        json_of("saved", &String::from_utf8_lossy(&again.stdout)),
        json_of("script", &String::from_utf8_lossy(&saved.stdout))
    );
    // A run uses it like any inventory.
    p.file(
        "site.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - debug: msg={{ tier }}\n",
    );
    let run = isolated(
        w,
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "saved.json",
            "-c",
            "local",
            "--list-hosts",
        ],
    );
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("hosts (3):"), "{out}");
}

#[test]
fn a_failing_script_stops_the_run_with_its_stderr() {
    let p = Project::new();
    script(&p, "bad.sh", "#!/bin/sh\necho nocreds >&2\nexit 1\n");
    let o = isolated(
        Path::new(env!("CARGO_BIN_EXE_windlass")),
        p.path(),
        &["inventory", "-i", "bad.sh", "--list"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nocreds"), "{err}");
}
