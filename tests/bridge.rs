//! The module bridge (runner/bridge): modules windlass lacks, run through the user's own
//! ansible-core. Load-time behaviour runs on the local connection; what a bridged module
//! does on a host (become, environment, interpreter discovery, check mode, a crash, no_log)
//! runs on the test hosts over SSH. Tests that need the oracle's ansible-core (the venv
//! `.ci/run` makes, or `WINDLASS_ANSIBLE_PYTHON`) or the hosts are ignored unless asked
//! for (`.ci/run` runs them with `--ignored`, as this file names WINDLASS_TESTHOSTS); then a
//! missing venv or host fails them.

mod common;

use std::path::{Path, PathBuf};

use common::{Project, on_host, testhosts};

/// The Python with ansible-core: `WINDLASS_ANSIBLE_PYTHON`, else the conformance venv.
#[track_caller]
fn ansible_python() -> PathBuf {
    if let Some(p) = std::env::var_os("WINDLASS_ANSIBLE_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/python3");
    assert!(
        p.is_file(),
        "{} is missing: run .ci/run's venv step, or set WINDLASS_ANSIBLE_PYTHON",
        p.display()
    );
    p
}

/// Run the windlass binary in `dir` (`run site.yml -i <inventory>` plus `args`), the
/// environment's ANSIBLE_/WINDLASS_ settings removed, plus `env`: exit code, all output.
fn windlass(dir: &Path, inventory: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    common::clear_tool_env(&mut c);
    let out = c
        .args(["run", "site.yml", "-i", inventory, "--state-dir", "state"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("windlass runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), all)
}

/// A local project with `site.yml`; returns it and the inventory name.
fn local(site: &str) -> Project {
    let p = Project::new();
    p.file("hosts", "h1 ansible_connection=local\n");
    p.file("site.yml", site);
    p
}

#[test]
fn without_ansible_core_an_unknown_module_says_how_to_point_windlass_at_one() {
    let p = local(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=before\n    - community.general.wlbr_nosuch: {}\n",
    );
    let (code, out) = windlass(
        p.path(),
        "hosts",
        &[],
        &[("WINDLASS_ANSIBLE_PYTHON", "/nonexistent/python3")],
    );
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("unknown module or keyword `community.general.wlbr_nosuch`"),
        "{out}"
    );
    assert!(out.contains("WINDLASS_ANSIBLE_PYTHON"), "{out}");
    assert!(
        !out.contains("ok: [h1]"),
        "a load error runs nothing: {out}"
    );
    // Every action native: no Python is looked for, the run works.
    let p = local("- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=native\n");
    let (code, out) = windlass(
        p.path(),
        "hosts",
        &[],
        &[("WINDLASS_ANSIBLE_PYTHON", "/nonexistent/python3")],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn load_time_errors_name_what_is_missing_or_refused() {
    let py = ansible_python();
    let py = py.to_str().unwrap();
    let env = [("WINDLASS_ANSIBLE_PYTHON", py)];
    let run = |task: &str, extra: &[(&str, &str)]| {
        let p = local(&format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=before\n    - {task}\n"
        ));
        let mut e = env.to_vec();
        e.extend_from_slice(extra);
        let (code, out) = windlass(p.path(), "hosts", &[], &e);
        // The error's help is wrapped to the terminal's width.
        let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_ne!(code, 0, "{task}: {out}");
        assert!(
            !out.contains("ok: [h1]"),
            "{task}: a load error runs nothing: {out}"
        );
        out
    };
    let out = run("wlbrns.coll.thing: {}", &[]);
    assert!(
        out.contains("ansible-galaxy collection install wlbrns.coll"),
        "{out}"
    );
    let out = run("getentt: {database: passwd}", &[]);
    assert!(out.contains("did you mean `getent`?"), "{out}");
    // A module whose action plugin runs on the controller is refused by name.
    let out = run(
        "template: {src: a.j2, dest: /tmp/x}",
        &[("WINDLASS_BRIDGE_MODULES", "template")],
    );
    assert!(
        out.contains("runs the action plugin `ansible.builtin.template`"),
        "{out}"
    );
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn a_bridged_module_runs_on_the_local_connection() {
    let py = ansible_python();
    // The module runs with the venv's Python (discovery would find whatever the machine's
    // PATH holds first, pyenv shims included, as Ansible's does).
    let p = local(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - getent: {database: passwd, key: root}\n      register: r\n    - debug: msg=\"{{ r.ansible_facts.getent_passwd.root[1] }} {{ getent_passwd.root[1] }} {{ r.invocation | default('none') }}\"\n",
    );
    p.file(
        "hosts",
        &format!(
            "h1 ansible_connection=local ansible_python_interpreter={}\n",
            py.display()
        ),
    );
    let (code, out) = windlass(
        p.path(),
        "hosts",
        &[],
        &[
            ("WINDLASS_ANSIBLE_PYTHON", py.to_str().unwrap()),
            ("WINDLASS_BRIDGE_MODULES", "getent"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    // The registered result has no `invocation`, as Ansible's registered copy.
    assert!(out.contains("\"msg\": \"0 0 none\""), "{out}");
}

/// `-vvv` prints ansible-playbook's own `Using module file <path>` for a bridged module:
/// the file ansible-core imports as that module; a native task gets windlass's line.
#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn vvv_names_the_module_file_the_bridge_packaged() {
    let py = ansible_python();
    let file = std::process::Command::new(&py)
        .args([
            "-c",
            "import ansible.modules.getent as m; print(m.__file__)",
        ])
        .output()
        .expect("the ansible-core python runs");
    let file = String::from_utf8_lossy(&file.stdout).trim().to_string();
    assert!(file.ends_with("/ansible/modules/getent.py"), "{file}");
    let p = local(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - getent: {database: passwd, key: root}\n    - stat: {path: /}\n",
    );
    p.file(
        "hosts",
        &format!(
            "h1 ansible_connection=local ansible_python_interpreter={}\n",
            py.display()
        ),
    );
    let env = [
        ("WINDLASS_ANSIBLE_PYTHON", py.to_str().unwrap()),
        ("WINDLASS_BRIDGE_MODULES", "getent"),
    ];
    let (code, out) = windlass(p.path(), "hosts", &["-vvv"], &env);
    assert_eq!(code, 0, "{out}");
    let using: Vec<&str> = out.lines().filter(|l| l.starts_with("Using ")).collect();
    assert_eq!(
        using,
        [
            format!("Using module file {file}"),
            "Using windlass native module ansible.builtin.stat".to_string()
        ],
        "{out}"
    );
}

/// Run `site` on the test hosts (inventory copied in) with the bridge; exit code, output.
fn on_hosts(site: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let inv = testhosts();
    let py = ansible_python();
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file("site.yml", site);
    let mut e = vec![("WINDLASS_ANSIBLE_PYTHON", py.to_str().unwrap())];
    e.extend_from_slice(env);
    let (code, out) = windlass(p.path(), "hosts.yml", args, &e);
    (code, out)
}

const BECOME_ENV: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: tempfile through the bridge, as nobody, with TMPDIR from environment
      tempfile: {suffix: .wlbr}
      become: true
      become_user: nobody
      environment: {TMPDIR: /var/tmp/wlbr-env}
      register: t
    - debug: msg="{{ t.path | dirname }}"
"#;

/// `become` and `environment` apply to a bridged module as to a native one.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn become_and_environment_apply_to_a_bridged_module() {
    let _g = common::lock();
    on_host(
        1,
        "rm -rf /var/tmp/wlbr-env; mkdir -m 1777 /var/tmp/wlbr-env",
    );
    let (code, out) = on_hosts(BECOME_ENV, &[("WINDLASS_BRIDGE_MODULES", "tempfile")], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"msg\": \"/var/tmp/wlbr-env\""), "{out}");
    let owner = on_host(1, "stat -c %U /var/tmp/wlbr-env/*.wlbr");
    assert_eq!(owner.trim(), "nobody", "{out}");
    on_host(1, "rm -rf /var/tmp/wlbr-env");
}

const DISCOVERY: &str = r#"
- hosts: th01
  gather_facts: false
  vars:
    ansible_python_interpreter: auto_silent
  tasks:
    - getent: {database: passwd, key: root}
      register: first
    - debug: msg="{{ first.ansible_facts.discovered_interpreter_python }}"
    - getent: {database: group, key: root}
      register: second
    - debug: msg="{{ second.ansible_facts.discovered_interpreter_python | default('not again') }} {{ ansible_facts.discovered_interpreter_python }}"
"#;

/// Interpreter discovery as Ansible's: once per host, the first Python of
/// INTERPRETER_PYTHON_FALLBACK (python3.11 on Debian 12), kept as a host fact.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn the_interpreter_is_discovered_once_per_host() {
    // One windlass run on th01 at a time: a second would find the host locked.
    let _g = common::lock();
    let (code, out) = on_hosts(DISCOVERY, &[("WINDLASS_BRIDGE_MODULES", "getent")], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"msg\": \"/usr/bin/python3.11\""), "{out}");
    assert!(
        out.contains("\"msg\": \"not again /usr/bin/python3.11\""),
        "{out}"
    );
}

const FAILURES: &str = r#"
- hosts: th01
  gather_facts: false
  tasks:
    - name: a module without check mode, in check mode
      ansible.builtin.expect: {command: /bin/true, responses: {}}
      check_mode: true
      register: c
    - debug: msg="{{ c.skipped }} {{ c.msg }}"
    - name: an interpreter that is not there
      getent: {database: passwd, key: root}
      vars: {ansible_python_interpreter: /usr/bin/wlbr-nopython}
      ignore_errors: true
      register: gone
    - debug: msg="{{ gone.failed }} {{ gone.msg }} {{ gone.rc }}"
    - name: a secret
      getent: {database: passwd, key: root}
      no_log: true
"#;

/// Check mode unsupported, a missing interpreter and no_log, as Ansible reports them.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn check_mode_a_missing_interpreter_and_no_log_as_ansible_reports_them() {
    // One windlass run on th01 at a time: a second would find the host locked.
    let _g = common::lock();
    let (code, out) = on_hosts(FAILURES, &[("WINDLASS_BRIDGE_MODULES", "getent")], &["-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("True remote module (ansible.builtin.expect) does not support check mode"),
        "{out}"
    );
    assert!(
        out.contains("True The module interpreter '/usr/bin/wlbr-nopython' was not found. 127"),
        "{out}"
    );
    let secret = out.split("TASK [a secret]").nth(1).unwrap_or_default();
    assert!(secret.contains("censored"), "{out}");
    assert!(!secret.contains("/root"), "{out}");
}

/// `windlass modules` lists the native modules, then the installed ones the bridge runs
/// (a forced module moves from the first list to the second).
#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn modules_lists_native_and_bridged_apart() {
    let py = ansible_python();
    let list = |forced: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
        common::clear_tool_env(&mut c);
        let out = c
            .arg("modules")
            .env("WINDLASS_ANSIBLE_PYTHON", &py)
            .env("WINDLASS_BRIDGE_MODULES", forced)
            .output()
            .expect("windlass modules");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (native, bridged) = text
            .split_once("# bridged modules")
            .unwrap_or_else(|| panic!("no bridged list: {text}"));
        (native.to_string(), bridged.to_string())
    };
    let (native, bridged) = list("");
    assert!(native.contains("\nansible.builtin.cron\n"), "{native}");
    assert!(!bridged.contains("\nansible.builtin.cron\n"));
    assert!(bridged.contains("\nansible.builtin.dnf\n"), "{bridged}");
    assert!(bridged.contains("\ncommunity.general.alternatives\n"));
    let (native, bridged) = list("cron");
    assert!(!native.contains("\nansible.builtin.cron\n"));
    assert!(bridged.contains("\nansible.builtin.cron\n"));
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn ad_hoc_runs_a_bridged_module() {
    let py = ansible_python();
    let p = Project::new();
    p.file(
        "hosts",
        &format!(
            "h1 ansible_connection=local ansible_python_interpreter={}\n",
            py.display()
        ),
    );
    let f = p.path().join("blob");
    let args = format!("path={} size=10", f.display());
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_windlass"));
    common::clear_tool_env(&mut c);
    let out = c
        .args([
            "adhoc",
            "all",
            "-i",
            "hosts",
            "-m",
            "community.general.filesize",
        ])
        .args(["-a", &args])
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("WINDLASS_ANSIBLE_PYTHON", &py)
        .output()
        .expect("windlass runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("h1 | CHANGED"), "{all}");
    // The module's own answer and file: ten blocks of 4096 bytes.
    assert!(all.contains("\"size_diff\": 40960"), "{all}");
    assert_eq!(
        std::fs::metadata(&f).map(|m| m.len()).ok(),
        Some(40960),
        "{all}"
    );
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn the_embedding_api_runs_a_bridged_module_when_asked() {
    let py = ansible_python();
    let dir = tempfile::tempdir().unwrap();
    let inventory = format!(
        "h1 ansible_connection=local ansible_python_interpreter={}\n",
        py.display()
    );
    let f = dir.path().join("blob");
    let site = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - community.general.filesize: {{path: {}, size: 10}}\n      register: r\n    - debug: msg=\"{{{{ r.changed }}}} {{{{ r.size_diff }}}}\"\n",
        f.display()
    );
    let runner = || {
        windlass::embed::Runner::new()
            .inventory_str(&inventory)
            .unwrap()
            .playbook_str(&site, &dir.path().join("site.yml"))
            .unwrap()
    };
    // Without the bridge the module is unknown: a load error, nothing runs.
    let err = runner()
        .load()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("community.general.filesize"), "{err}");
    assert!(!f.exists());
    let msgs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = msgs.clone();
    let report = runner()
        .module_bridge(Some(py.clone()), vec![])
        .on_event(move |e: &windlass::event::Event| {
            if let windlass::event::Event::HostResult { result, .. } = e {
                seen.lock().unwrap().push(result.get("msg").cloned());
            }
        })
        .run()
        .unwrap();
    let msgs = msgs.lock().unwrap().clone();
    assert_eq!(report.exit_code, 0, "{msgs:?}");
    let want = serde_json::json!("True 40960");
    assert_eq!(msgs.last(), Some(&Some(want)), "{msgs:?}");
    assert_eq!(std::fs::metadata(&f).map(|m| m.len()).ok(), Some(40960));
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn a_module_diff_prints_in_diff_mode_only_and_registers_either_way() {
    let py = ansible_python();
    // filesize returns its `diff` whether or not the task is in diff mode; Ansible's
    // callback prints it only for a task in diff mode.
    let p = local(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - community.general.filesize: {path: \"{{ playbook_dir }}/blob\", size: 1}\n      register: r\n    - debug: msg=\"{{ r.diff.after.size }}\"\n    - file: {path: \"{{ playbook_dir }}/blob\", state: absent}\n",
    );
    p.file(
        "hosts",
        &format!(
            "h1 ansible_connection=local ansible_python_interpreter={}\n",
            py.display()
        ),
    );
    let env = [("WINDLASS_ANSIBLE_PYTHON", py.to_str().unwrap())];
    let (code, out) = windlass(p.path(), "hosts", &[], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"msg\": 4096"), "{out}");
    assert!(
        !out.contains("+++ after"),
        "no --diff, no diff printed: {out}"
    );
    let (code, out) = windlass(p.path(), "hosts", &["--diff"], &env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"msg\": 4096"), "{out}");
    assert!(out.contains("+++ after"), "{out}");
}

#[test]
#[ignore = "needs the ansible-core venv (.ci/run makes it; or WINDLASS_ANSIBLE_PYTHON)"]
fn collections_pip_installed_on_the_python_sys_path_are_found() {
    let py = ansible_python();
    // The venv's `ansible` package installs its collections into site-packages; with no
    // collections_path holding them, only sys.path (COLLECTIONS_SCAN_SYS_PATH) finds them.
    let p = local(
        "- hosts: all\n  gather_facts: false\n  roles:\n    - community.mongodb.mongodb_linux\n",
    );
    let list = |scan: &str| {
        windlass(
            p.path(),
            "hosts",
            &["--list-tasks"],
            &[
                ("WINDLASS_ANSIBLE_PYTHON", py.to_str().unwrap()),
                ("ANSIBLE_COLLECTIONS_PATH", "/nonexistent"),
                ("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", scan),
            ],
        )
    };
    let (code, out) = list("true");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("community.mongodb.mongodb_linux : Include OS-specific vars"),
        "{out}"
    );
    assert!(!out.contains("not honoured"), "{out}");
    let (code, out) = list("false");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("`community.mongodb` is not installed"),
        "{out}"
    );
}
