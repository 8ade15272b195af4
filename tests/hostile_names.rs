//! Hostile file names: every module that takes a path writes, reads and reports the file
//! with exactly the name it was given, whatever the name holds.
//!
//! The names carry newlines, CRs, tabs, `key=value` lines that once forged probe fields
//! (`x\npath=victim` redirected a copy, `x\nkind=file\nchecksum=…` skipped it), `@@section`
//! lines, marker lookalikes (`--windlass-content--`, `WLPROBE…`), a leading `-`, and 255
//! bytes. `unarchive` (a `dest` directory) is covered too; `get_url` is not (the test hosts
//! have no network to download from). Each module works on `<base>/<dir>/<name>`; afterwards the tree under `<base>` must
//! hold exactly the expected entries with the expected contents (no file elsewhere, the
//! victim untouched), the registered facts must be right (asserted in the playbook), and a
//! second run must change nothing. A NUL byte (from a variable) fails the task. Invalid UTF-8 cannot be tested here: playbooks, variables
//! and `-e` are Unicode text, so no path parameter can carry it (link targets on the host
//! can; the fileops unit tests cover those).
//!
//! Runs on the local connection in a temp dir, and with `WINDLASS_TESTHOSTS` on the
//! inventory's first host.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Project, on_host, opts, stats, testhosts};
use windlass::embed::RunOptions;

/// sha1 of "hello\n".
const HELLO_SHA1: &str = "f572d396fae9206628714fb2ce00f72e94f2258f";

fn names() -> Vec<String> {
    vec![
        "nl\nname".into(),
        "cr\rname".into(),
        "tab\tname".into(),
        "trailing-newline\n".into(),
        "key=value\npath=victim".into(),
        format!("fresh\nkind=file\nchecksum={HELLO_SHA1}\nsize=6"),
        "x\nkind=directory\nmode=777\nowner=root".into(),
        "@@section\n@@ other".into(),
        "--windlass-content--".into(),
        "x\n--windlass-content--\ny".into(),
        "WLPROBE0123456789abcdef 0".into(),
        "x\nWLPROBE 0\n".into(),
        "-leading".into(),
        "-rf".into(),
        "n".repeat(255),
        "sp ace 'q' \"dq\" $(x) `y` *".into(),
        "\u{1b}[31mansi".into(),
    ]
}

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: dirs
      file: {path: "{{ base }}/{{ item }}", state: directory}
      loop: [c, d, t, f, dirs, l, e, b, r, i, bk, u]
    - name: copy content
      copy: {content: "hello\n", dest: "{{ base }}/c/{{ item }}"}
      loop: "{{ names }}"
      register: cp
    - assert:
        that:
          - item.dest == base ~ '/c/' ~ item.item
          - item.checksum == sha
          - item.size == 6
          - item.state == 'file'
        quiet: true
      loop: "{{ cp.results }}"
      loop_control: {label: copy}
    - name: copy src into a dest directory
      copy: {src: "{{ srcdir }}/{{ item }}", dest: "{{ base }}/d/"}
      loop: "{{ names }}"
      register: cpd
    - assert:
        that: [item.dest == base ~ '/d/' ~ item.item]
        quiet: true
      loop: "{{ cpd.results }}"
      loop_control: {label: copy dir}
    - name: template
      template: {src: t.j2, dest: "{{ base }}/t/{{ item }}"}
      loop: "{{ names }}"
    - name: file touch
      file: {path: "{{ base }}/f/{{ item }}", state: touch, mode: "0600", modification_time: preserve, access_time: preserve}
      loop: "{{ names }}"
      register: ft
    - assert:
        that: [item.path == base ~ '/f/' ~ item.item, item.mode == '0600']
        quiet: true
      loop: "{{ ft.results }}"
      loop_control: {label: touch}
    - name: file directory
      file: {path: "{{ base }}/dirs/{{ item }}", state: directory}
      loop: "{{ names }}"
    - name: file link to a hostile target
      file: {path: "{{ base }}/l/{{ item }}", src: "{{ base }}/c/{{ item }}", state: link}
      loop: "{{ names }}"
    - name: stat a file
      stat: {path: "{{ base }}/c/{{ item }}"}
      loop: "{{ names }}"
      register: st
    - assert:
        that:
          - item.stat.exists
          - item.stat.isreg
          - item.stat.path == base ~ '/c/' ~ item.item
          - item.stat.size == 6
          - item.stat.checksum == sha
        quiet: true
      loop: "{{ st.results }}"
      loop_control: {label: stat}
    - name: stat a link
      stat: {path: "{{ base }}/l/{{ item }}"}
      loop: "{{ names }}"
      register: sl
    - assert:
        that:
          - item.stat.islnk
          - item.stat.lnk_target == base ~ '/c/' ~ item.item
          - item.stat.lnk_source == base ~ '/c/' ~ item.item
        quiet: true
      loop: "{{ sl.results }}"
      loop_control: {label: stat link}
    - name: stat nothing
      stat: {path: "{{ base }}/nothing/{{ item }}"}
      loop: "{{ names }}"
      register: sn
    - assert:
        that: [not item.stat.exists]
        quiet: true
      loop: "{{ sn.results }}"
      loop_control: {label: stat nothing}
    - name: slurp
      slurp: {src: "{{ base }}/c/{{ item }}"}
      loop: "{{ names }}"
      register: sp
    - assert:
        that: [item.content == 'aGVsbG8K']
        quiet: true
      loop: "{{ sp.results }}"
      loop_control: {label: slurp}
    - name: fetch
      fetch: {src: "{{ base }}/c/{{ item }}", dest: "{{ ldir }}/", flat: true}
      loop: "{{ names }}"
    - name: lineinfile
      lineinfile: {path: "{{ base }}/e/{{ item }}", line: "world", create: true}
      loop: "{{ names }}"
    - name: blockinfile
      blockinfile: {path: "{{ base }}/b/{{ item }}", block: "b", create: true}
      loop: "{{ names }}"
    - name: seed for replace
      copy: {content: "x=1\n", dest: "{{ base }}/r/{{ item }}", force: false}
      loop: "{{ names }}"
    - name: replace
      replace: {path: "{{ base }}/r/{{ item }}", regexp: '^x=1$', replace: 'x=2'}
      loop: "{{ names }}"
    - name: ini_file
      ini_file: {path: "{{ base }}/i/{{ item }}", section: s, option: o, value: v}
      loop: "{{ names }}"
    - name: unarchive dest directories
      file: {path: "{{ base }}/u/{{ item }}", state: directory}
      loop: "{{ names }}"
    - name: unarchive
      unarchive: {src: a.tar, dest: "{{ base }}/u/{{ item }}"}
      loop: "{{ names }}"
    - name: a backup of a hostile name
      copy: {content: "{{ 'v2' if run == 2 else 'v1' }}\n", dest: "{{ base }}/bk/{{ names[4] }}", backup: true}
      register: bk
    - assert:
        that: >-
          (run == 1 and bk.backup_file is not defined) or
          (run == 2 and bk.backup_file.startswith(base ~ '/bk/' ~ names[4] ~ '.')
           and bk.backup_file.endswith('~') and bk.dest == base ~ '/bk/' ~ names[4])
    # copy needs the file's directory, as Ansible's does: make it, odd name and all.
    - name: the forging dest's directory
      file: {path: "{{ base }}/safe\npath={{ base }}", state: directory}
    - name: the forging dest from the issue, with its slash
      copy: {content: "X\n", dest: "{{ base }}/safe\npath={{ base }}/victim"}
    - name: nul
      copy: {content: "X\n", dest: "{{ base }}/nul{{ nul }}victim"}
      register: nulr
      ignore_errors: true
    - assert:
        that: [nulr.failed, "'dest contains a NUL byte' in nulr.msg"]
"#;

/// The tree under a directory, as `relative path -> "d"`, `"l:<target>"` or
/// `"f:<content>"`, printed by python3 (on the host or here).
const LISTER: &str = r#"import os,sys,json
b=sys.argv[1];o={}
for d,ds,fs in os.walk(b):
  for n in ds+fs:
    p=os.path.join(d,n);r=os.path.relpath(p,b)
    if os.path.islink(p): o[r]="l:"+os.readlink(p)
    elif os.path.isdir(p): o[r]="d"
    else: o[r]="f:"+open(p,"rb").read().decode("utf-8","replace")
print(json.dumps(o))"#;

fn tree_local(dir: &Path) -> BTreeMap<String, String> {
    let out = std::process::Command::new("python3")
        .args(["-c", LISTER])
        .arg(dir)
        .output()
        .expect("python3");
    serde_json::from_slice(&out.stdout).expect("lister output")
}

fn tree_on_host(dir: &str) -> BTreeMap<String, String> {
    let out = on_host(1, &format!("python3 -c '{LISTER}' {dir}"));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// What the tree under base must hold after either run (`run` 1 or 2, for the backup).
fn expected(base: &str, run: u8, backup_name: Option<&str>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for d in [
        "c", "d", "t", "f", "dirs", "l", "e", "b", "r", "i", "bk", "u",
    ] {
        m.insert(d.to_string(), "d".to_string());
    }
    for (i, n) in names().iter().enumerate() {
        let mut put = |dir: &str, v: String| m.insert(format!("{dir}/{n}"), v);
        put("c", "f:hello\n".into());
        put("d", format!("f:src {i}\n"));
        // Ansible's template ends the output with the source's trailing newlines (one
        // here), whatever the value printed last ends with (checked with ansible-core 2.19).
        put("t", format!("f:name={}\n", n.trim_end_matches('\n')));
        put("f", "f:".into());
        put("dirs", "d".into());
        put("l", format!("l:{base}/c/{n}"));
        put("e", "f:world\n".into());
        put(
            "b",
            "f:# BEGIN ANSIBLE MANAGED BLOCK\nb\n# END ANSIBLE MANAGED BLOCK\n".into(),
        );
        put("r", "f:x=2\n".into());
        put("i", "f:\n[s]\no = v\n".into()); // a new file starts with a blank line, as community.general.ini_file writes it
        put("u", "d".into());
        m.insert(format!("u/{n}/member"), "f:m\n".into());
    }
    let n4 = &names()[4];
    m.insert(format!("bk/{n4}"), format!("f:v{run}"));
    if let Some(b) = backup_name {
        m.insert(b.to_string(), "f:v1".into());
    }
    m.insert("victim".into(), "f:keep\n".into());
    // `<base>/safe\npath=<base>/victim`: directories down to a file named victim.
    let mut rel = String::from("safe\npath=");
    m.insert(rel.clone(), "d".into());
    for part in base.trim_start_matches('/').split('/') {
        rel.push('/');
        rel.push_str(part);
        m.insert(rel.clone(), "d".into());
    }
    rel.push_str("/victim");
    m.insert(rel, "f:X\n".into());
    m
}

/// The backup file the second run made, if any (its name holds a pid and a time).
fn backup_in(tree: &BTreeMap<String, String>) -> Option<String> {
    let n4 = &names()[4];
    tree.keys()
        .find(|k| k.starts_with(&format!("bk/{n4}.")) && k.ends_with('~'))
        .cloned()
}

/// Write the project: playbook, template, hostile-named local sources, variables.
fn project(base: &str, ldir: &Path, run: u8) -> Project {
    let p = Project::new();
    p.file("site.yml", PLAYBOOK);
    p.file("templates/t.j2", "name={{ item }}\n");
    let member = p.file("tar/member", "m\n");
    std::fs::create_dir_all(p.path().join("files")).unwrap();
    let tar = std::process::Command::new("tar")
        .args(["--mtime=@1700000000", "-cf"])
        .arg(p.path().join("files/a.tar"))
        .arg("-C")
        .arg(member.parent().unwrap())
        .arg("member")
        .status();
    assert!(tar.expect("tar").success());
    let srcdir = p.path().join("src");
    std::fs::create_dir_all(&srcdir).unwrap();
    for (i, n) in names().iter().enumerate() {
        std::fs::write(srcdir.join(n), format!("src {i}\n")).unwrap();
    }
    p.file(
        "vars.json",
        &serde_json::json!({
            "base": base, "names": names(), "srcdir": srcdir, "ldir": ldir,
            "sha": HELLO_SHA1, "run": run, "nul": "\0",
        })
        .to_string(),
    );
    p
}

fn run_opts(p: &Project, limit: Option<String>) -> RunOptions {
    let vars: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("vars.json")).unwrap())
            .unwrap();
    RunOptions {
        extra_vars: vars.into_iter().collect(),
        limit,
        ..opts()
    }
}

/// Run twice against `base` (through `inventory`), checking the tree after each run with
/// `tree`, the fetched files in a local dir, and that the second run changed nothing.
fn two_runs(
    base: &str,
    inventory: impl Fn(&Project) -> String,
    limit: Option<String>,
    tree: impl Fn() -> BTreeMap<String, String>,
) {
    let ldir = tempfile::tempdir().unwrap();
    for run in [1u8, 2] {
        let p = project(base, ldir.path(), run);
        let inv = inventory(&p);
        let (events, report) = p
            .run("site.yml", &inv, run_opts(&p, limit.clone()))
            .expect("run");
        let st = stats(&report);
        let failures: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                windlass::event::Event::HostResult {
                    task,
                    status: windlass::event::Status::Failed,
                    result,
                    ..
                } if task != "nul" => Some(format!(
                    "{task}: {}",
                    serde_json::Value::Object(result.clone())
                )),
                _ => None,
            })
            .collect();
        assert!(failures.is_empty(), "run {run}: {failures:#?}");
        let got = tree();
        let backup = backup_in(&got);
        assert_eq!(
            backup.is_some(),
            run == 2,
            "a backup only on the second run"
        );
        let want = expected(base, run, backup.as_deref());
        let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "run {run}: unexpected {extra:?}, missing {missing:?}"
        );
        for (k, v) in &want {
            assert_eq!(&got[k], v, "run {run}: {k:?}");
        }
        for n in names() {
            let f = std::fs::read_to_string(ldir.path().join(&n))
                .unwrap_or_else(|e| panic!("fetched {n:?}: {e}"));
            assert_eq!(f, "hello\n");
        }
        let changed_tasks: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                windlass::event::Event::HostResult {
                    task,
                    status: windlass::event::Status::Changed,
                    result,
                    ..
                } => Some(format!(
                    "{task}: {}",
                    serde_json::Value::Object(result.clone())
                )),
                _ => None,
            })
            .collect();
        let changed: u32 = st.values().map(|s| s.changed).sum();
        if run == 2 {
            // Only the backup task (new content on purpose) changes.
            assert_eq!(
                changed, 1,
                "the second run changed more than the backup: {changed_tasks:#?}"
            );
        }
    }
}

#[test]
fn hostile_names_on_the_local_connection() {
    let work = tempfile::tempdir().unwrap();
    let base = work.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("victim"), "keep\n").unwrap();
    let base_s = base.display().to_string();
    two_runs(
        &base_s,
        |p| {
            p.file(
                "hosts.yml",
                "all:\n  hosts:\n    h1:\n      ansible_connection: local\n",
            );
            "hosts.yml".into()
        },
        None,
        || tree_local(&base),
    );
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn hostile_names_over_ssh() {
    let inv = testhosts();
    let base = "/tmp/wl-hostile-names";
    on_host(
        1,
        &format!("rm -rf {base}; mkdir -p {base} && printf 'keep\\n' > {base}/victim"),
    );
    let first = common::slot_names(1).remove(0);
    two_runs(
        base,
        |p| {
            p.with_testhosts(&inv);
            "hosts.yml".into()
        },
        Some(first),
        || tree_on_host(base),
    );
    on_host(1, &format!("rm -rf {base}"));
}
