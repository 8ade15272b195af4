//! `windlass adhoc` (and the binary invoked as `ansible`) against what the `ansible`
//! command prints: each case's expected text is what ansible-core 2.19.14 printed for the
//! same arguments on local hosts (so the test runs without it), and when the conformance
//! venv is there, a live `ansible` run must print it too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Project;

fn isolated(mut c: Command, dir: &Path, home: &Path) -> Command {
    common::clear_tool_env(&mut c);
    c.current_dir(dir).env("HOME", home).env("NO_COLOR", "1");
    c
}

fn run(program: &Path, dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = isolated(Command::new(program), dir, home.path());
    if program.file_name().is_some_and(|n| n == "ansible") {
        // Its modules run with the venv's python on the local hosts.
        c.env(
            "ANSIBLE_PYTHON_INTERPRETER",
            program.with_file_name("python3"),
        );
    }
    c.args(args).output().expect("runs")
}

/// stdout with what changes between runs (timestamps, the project's path) replaced.
fn normal(o: &Output, dir: &Path) -> String {
    let text = String::from_utf8_lossy(&o.stdout).replace(&dir.display().to_string(), "DIR");
    let times = regex::Regex::new(r#""(start|end|delta)": "[^"]*""#).unwrap();
    times.replace_all(&text, "\"$1\": \"T\"").into_owned()
}

/// `ansible` of the conformance venv (next to `$WINDLASS_ANSIBLE_PLAYBOOK` first).
fn ansible() -> Option<PathBuf> {
    let playbook = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook")
        });
    Some(playbook.with_file_name("ansible")).filter(|p| p.is_file())
}

const HOSTS: &str = "[web]\nh1\n[db]\nh2\n[all:vars]\nansible_connection=local\n";

/// (arguments after the pattern's `-i hosts`, stdout, exit code), as `ansible` printed them.
const CASES: &[(&[&str], &str, i32)] = &[
    (
        &[
            "all",
            "-m",
            "command",
            "-a",
            "echo {{ inventory_hostname }}",
            "-f",
            "1",
        ],
        "h1 | CHANGED | rc=0 >>\nh1\nh2 | CHANGED | rc=0 >>\nh2\n",
        0,
    ),
    (
        &["web", "-m", "command", "-a", "echo a b", "-o"],
        "h1 | CHANGED | rc=0 | (stdout) a b\n",
        0,
    ),
    (
        &["h1", "-m", "shell", "-a", "echo out; echo err >&2"],
        "h1 | CHANGED | rc=0 >>\nouterr\n",
        0,
    ),
    (
        &["h1", "-m", "shell", "-a", "echo out; echo err >&2", "-o"],
        "h1 | CHANGED | rc=0 | (stdout) out (stderr) err\n",
        0,
    ),
    (
        &["h1", "-m", "ping"],
        "h1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n",
        0,
    ),
    (
        &["h1", "-m", "ping", "-o"],
        "h1 | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}\n",
        0,
    ),
    (
        &["h1", "-m", "debug", "-a", "msg=yo"],
        "h1 | SUCCESS => {\n    \"msg\": \"yo\"\n}\n",
        0,
    ),
    (
        &["h1", "-m", "debug", "-a", "msg=yo", "-o"],
        "h1 | SUCCESS => {    \"changed\": false,    \"msg\": \"yo\"}\n",
        0,
    ),
    (
        &["h1", "-m", "debug", "-a", "var=inventory_hostname"],
        "h1 | SUCCESS => {\n    \"inventory_hostname\": \"h1\"\n}\n",
        0,
    ),
    (
        &[
            "all",
            "-m",
            "debug",
            "-a",
            "{\"msg\": \"json {{ inventory_hostname }} {{ x }}\"}",
            "-l",
            "db",
            "-e",
            "x=1",
        ],
        "h2 | SUCCESS => {\n    \"msg\": \"json h2 1\"\n}\n",
        0,
    ),
    (
        &["h1", "-m", "stat", "-a", "path=/nonexistent"],
        "h1 | SUCCESS => {\n    \"changed\": false,\n    \"stat\": {\n        \"exists\": false\n    }\n}\n",
        0,
    ),
    (
        &[
            "h1",
            "-m",
            "setup",
            "-a",
            "filter=ansible_system gather_subset=!all",
        ],
        "h1 | SUCCESS => {\n    \"ansible_facts\": {\n        \"ansible_system\": \"Linux\"\n    },\n    \"changed\": false\n}\n",
        0,
    ),
    (&["h1", "-a", "touch DIR/new", "-C"], "h1 | SKIPPED\n", 0),
    (
        &["h1", "-m", "command", "-a", "false", "-o"],
        "h1 | FAILED | rc=1 | (stdout) \nh1 | FAILED! => {\"changed\": true,\"cmd\": [\"false\"],\"delta\": \"T\",\"end\": \"T\",\"msg\": \"non-zero return code\",\"rc\": 1,\"start\": \"T\",\"stderr\": \"\",\"stderr_lines\": [],\"stdout\": \"\",\"stdout_lines\": []}\n",
        2,
    ),
    (
        &["h1", "-m", "fail", "-a", "msg=boom", "-o"],
        "An exception occurred during task execution. To see the full traceback, use -vvv. The error was: (traceback unavailable)\nh1 | FAILED! => {\"changed\": false,\"msg\": \"boom\"}\n",
        2,
    ),
    (
        &["h1", "-m", "command", "-a", "false"],
        "[ERROR]: Task failed: Module failed: non-zero return code\nOrigin: <adhoc 'command' task>\n\n\
         {'action': 'command', 'args': {'_raw_params': 'false'}, 'timeout': 0, 'async_val': 0, 'poll': 15}\n\n\
         h1 | FAILED | rc=1 >>\nnon-zero return code\n",
        2,
    ),
    (
        &["h1", "-m", "fail", "-a", "msg=boom"],
        "[ERROR]: Task failed: Action failed: boom\nOrigin: <adhoc 'fail' task>\n\n\
         {'action': 'fail', 'args': {'msg': 'boom'}, 'timeout': 0, 'async_val': 0, 'poll': 15}\n\n\
         h1 | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"boom\"\n}\n",
        2,
    ),
    (&["nomatch", "-m", "ping"], "", 0),
    (&["h1", "-m", "command"], "", 5),
    (
        &["all", "--list-hosts"],
        "  hosts (2):\n    h1\n    h2\n",
        0,
    ),
];

#[test]
fn adhoc_prints_what_ansible_prints() {
    let p = Project::new();
    p.file("hosts", HOSTS);
    let dir = p.path().display().to_string();
    let windlass = PathBuf::from(env!("CARGO_BIN_EXE_windlass"));
    let live = ansible();
    for (args, want, code) in CASES {
        let args: Vec<String> = args.iter().map(|a| a.replace("DIR", &dir)).collect();
        let mut all = vec!["adhoc".to_string(), "-i".into(), "hosts".into()];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = run(&windlass, p.path(), &all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(normal(&o, p.path()), *want, "windlass {args:?}: {err}");
        assert_eq!(o.status.code(), Some(*code), "windlass {args:?}: {err}");
        let Some(ansible) = &live else { continue };
        let a = run(ansible, p.path(), &all[1..]);
        assert_eq!(normal(&a, p.path()), *want, "ansible {args:?}");
        assert_eq!(a.status.code(), Some(*code), "ansible {args:?}");
    }
    assert!(
        !p.path().join("new").exists(),
        "check mode created the directory"
    );
}

#[test]
fn invoked_as_ansible_it_is_adhoc() {
    let p = Project::new();
    p.file("hosts", HOSTS);
    let link = p.path().join("ansible");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_windlass"), &link).unwrap();
    let o = run(&link, p.path(), &["h2", "-i", "hosts", "-m", "ping", "-o"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "h2 | SUCCESS => {\"changed\": false,\"ping\": \"pong\"}\n"
    );
    let o = run(&link, p.path(), &["h1", "-i", "hosts", "-m", "command"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No argument passed to command module"));
}

#[test]
fn adhoc_becomes_as_configured() {
    let p = Project::new();
    p.file("hosts", HOSTS);
    p.file(
        "ansible.cfg",
        "[privilege_escalation]\nbecome_method = su\nbecome_flags = -s /bin/sh\n",
    );
    let windlass = PathBuf::from(env!("CARGO_BIN_EXE_windlass"));
    let args = [
        "adhoc",
        "h1",
        "-i",
        "hosts",
        "-a",
        "id -un",
        "-b",
        "--become-user",
        "nobody",
        "-vvv",
    ];
    let o = run(&windlass, p.path(), &args);
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("<h1> EXEC ") && out.contains("su -s /bin/sh nobody -c"),
        "{out}{err}"
    );
}

/// An unreachable host (a closed port) gets `ansible`'s `[ERROR]: Task failed: <why>`
/// block, its origin and the task's dictionary before the `UNREACHABLE!` result, exit 4
/// (the connection's own wording of why differs between the tools).
#[test]
fn an_unreachable_host_gets_the_error_block() {
    let p = Project::new();
    p.file(
        "hosts",
        "u1 ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh\n",
    );
    let args = ["u1", "-i", "hosts", "-m", "ping"];
    let block = "Origin: <adhoc 'ping' task>\n\n\
                 {'action': 'ping', 'args': {}, 'timeout': 0, 'async_val': 0, 'poll': 15}\n\n\
                 u1 | UNREACHABLE! => {\n";
    let check = |o: &Output, who: &str| {
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.starts_with("[ERROR]: Task failed: "), "{who}: {out}");
        assert!(out.contains(block), "{who}: {out}");
        assert_eq!(o.status.code(), Some(4), "{who}: {out}");
    };
    let windlass = PathBuf::from(env!("CARGO_BIN_EXE_windlass"));
    let mut all = vec!["adhoc"];
    all.extend(args);
    check(&run(&windlass, p.path(), &all), "windlass");
    if let Some(ansible) = ansible() {
        check(&run(&ansible, p.path(), &args), "ansible");
    }
}
