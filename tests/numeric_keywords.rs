//! Every numeric keyword and numeric module parameter, given hostile values (negative,
//! huge, beyond f64, NaN, infinities, -0, fractions, words, lists), written literally and
//! through a template: windlass never panics or hangs. A literal is accepted or is a
//! located error before any task runs; a templated value is accepted or fails the task.
//!
//! A deterministic sweep (every keyword × every value × both ways), so a failure names
//! its case and is reproduced by running the test again.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hostile values, as YAML scalars.
const VALUES: &[&str] = &[
    "-1",
    "-0",
    "0",
    "0.5",
    "1",
    "-0.0",
    "99999999",
    "100000001",
    "99999999999999999999",
    "1e309",
    "-1e309",
    "1.5e19",
    ".nan",
    ".inf",
    "-.inf",
    "'nan'",
    "'inf'",
    "'-5'",
    "' 7 '",
    "'0x10'",
    "'1_000'",
    "'ten'",
    "''",
    "true",
    "~",
    "[1]",
    "{a: 1}",
];

/// Where a value goes: (name, play before the tasks, task text with `@` for the value).
/// The tasks never wait long for an accepted value: `until` holds at once, a loop has one
/// item, `wait_for` finds its path at once.
const PLACES: &[(&str, &str, &str)] = &[
    ("timeout", "", "- command: 'true'\n  timeout: @\n"),
    (
        "retries",
        "",
        "- command: 'true'\n  register: r\n  until: r.rc == 0\n  retries: @\n",
    ),
    (
        "delay",
        "",
        "- command: 'true'\n  register: r\n  until: r.rc == 0\n  delay: @\n",
    ),
    ("throttle", "", "- command: 'true'\n  throttle: @\n"),
    ("async", "", "- command: 'true'\n  async: @\n  poll: 0\n"),
    ("poll", "", "- command: 'true'\n  async: 10\n  poll: @\n"),
    (
        "pause",
        "",
        "- command: 'true'\n  loop: [1]\n  loop_control:\n    pause: @\n",
    ),
    (
        "block timeout",
        "",
        "- block:\n    - command: 'true'\n  timeout: @\n",
    ),
    ("serial", "  serial: @\n", "- command: 'true'\n"),
    (
        "max_fail_percentage",
        "  max_fail_percentage: @\n",
        "- command: 'true'\n",
    ),
    (
        "gather_timeout",
        "  gather_facts: true\n  gather_subset: ['!all']\n  gather_timeout: @\n",
        "- command: 'true'\n",
    ),
    (
        "wait_for timeout",
        "",
        "- wait_for:\n    path: /\n    timeout: @\n",
    ),
    (
        "wait_for connect_timeout",
        "",
        "- wait_for:\n    path: /\n    connect_timeout: @\n",
    ),
    (
        "wait_for sleep",
        "",
        "- wait_for:\n    path: /\n    sleep: @\n",
    ),
];

fn indent(s: &str, by: &str) -> String {
    s.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// The playbook for one case: the value written in place, or through a variable.
fn playbook(play: &str, task: &str, value: &str, templated: bool) -> String {
    let (vars, v) = if templated {
        (
            format!("  vars:\n    hostile: {value}\n"),
            "\"{{ hostile }}\"",
        )
    } else {
        (String::new(), value)
    };
    let play = play.replace('@', v);
    let play = if play.contains("gather_facts") {
        play
    } else {
        format!("  gather_facts: false\n{play}")
    };
    format!(
        "- hosts: all\n{play}{vars}  tasks:\n{}",
        indent(&task.replace('@', v), "    ")
    )
}

/// Run the playbook in `dir`; (exit code, output). Killed after `limit`: a hang is a
/// failure of the case, reported as exit -2.
fn run(dir: &Path, limit: Duration) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts", "--state-dir", "state"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap_or(-1);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break -2;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.stderr.take().unwrap().read_to_string(&mut out);
    (code, out)
}

/// What is wrong with one case's outcome, if anything.
fn judge(code: i32, out: &str, templated: bool) -> Option<String> {
    match code {
        0 => None,
        // A literal fails before any task runs; a templated value may also be a located
        // run-level error (`throttle` is worked out once for all hosts, play keywords
        // take no templates).
        1 => {
            let located = out.contains("site.yml:");
            let early = templated || !out.contains("TASK [");
            (!located || !early).then(|| "a run-level error without a location, or late".into())
        }
        2 if out.contains("FAILED!") => None,
        // A max_fail_percentage below 0 stops the play after its first task and the hosts
        // count as failed, as with ansible-playbook (exit 2; conformance case
        // exec/max_fail_percentage_negative).
        2 if out.contains("NO MORE HOSTS LEFT") => None,
        -2 => Some("did not finish in time (a sleep or deadline from the value?)".into()),
        other => Some(format!("exit {other}")),
    }
}

fn tail(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(1500)..].iter().collect()
}

#[test]
fn hostile_numbers_in_every_numeric_keyword_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hosts"), "h1 ansible_connection=local\n").unwrap();
    let mut wrong = Vec::new();
    let mut cases = 0;
    for (name, play, task) in PLACES {
        for value in VALUES {
            for templated in [false, true] {
                cases += 1;
                let text = playbook(play, task, value, templated);
                std::fs::write(dir.path().join("site.yml"), &text).unwrap();
                let (code, out) = run(dir.path(), Duration::from_secs(60));
                if let Some(why) = judge(code, &out, templated) {
                    let how = if templated { "templated" } else { "literal" };
                    wrong.push(format!(
                        "== {name}: {value} ({how}): {why}\n{text}{}",
                        tail(&out)
                    ));
                }
            }
        }
    }
    assert!(cases > 700, "{cases}");
    assert!(
        wrong.is_empty(),
        "{} of {cases} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
