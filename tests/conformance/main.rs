//! The differential conformance suite: every case runs under ansible-playbook and under
//! windlass, and the two runs must agree.
//!
//! Why this exists: windlass promises to run Ansible content unchanged, and our own reading
//! of Ansible is not evidence of that. Here the real ansible-core (pinned in
//! `requirements.txt`, installed by `.ci/run` into `target/ansible-venv`) is the judge.
//!
//! A case is a folder under `cases/` holding `site.yml`, and as it needs an inventory
//! (`hosts`, else [`DEFAULT_INVENTORY`]), an `args` file (one command-line argument a line,
//! given to both tools), a `playbooks` file (more playbooks to run after `site.yml`, one a
//! line, given right after it: ansible-playbook takes no playbook after an option), roles, templates, vars files. A case writes files only under
//! `{{ playbook_dir }}/out/`. Each tool runs on its own copy of the folder; what is compared
//! is one normalised trace (see `trace.rs`): the exit code, each play and task in order,
//! each host's status (items too) with `debug`/`fail` output, `until` retries (Ansible's
//! `FAILED - RETRYING` lines), include lines, the recap, and the files under `out/` (kind,
//! mode, content).
//!
//! A case listed in `divergences.toml` must differ, and the entry says why: a `[[divergence]]`
//! is kept on purpose (the book's migration page lists them), a `[[pending]]` is a bug not
//! fixed yet (the suite prints each one; the conformance issue stays open while any is
//! listed). When a listed case stops differing the suite fails until the entry is removed.
//!
//! The SSH subset (`ssh/<name>/`, see `ssh.rs`) runs both tools against real test hosts
//! (`$WINDLASS_TESTHOSTS`, the inventory `windlass lab inventory` prints) one case at a time,
//! and also compares the host end state the case's `state` file names.
//!
//! `cargo test --test conformance [-- FILTER…]` runs the cases whose name contains any
//! FILTER. The summary line counts the cases not run and says why: without ansible-core,
//! none runs; without `WINDLASS_TESTHOSTS`, the SSH subset does not. With `CI=true` a case
//! not run fails the suite. Both tools' output and traces land in `target/conformance/<case>/`.

mod ssh;
mod trace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The inventory of a case that brings none: three local hosts in two groups.
const DEFAULT_INVENTORY: &str =
    "[web]\nweb1\nweb2\n\n[db]\ndb1\n\n[all:vars]\nansible_connection=local\n";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut cases = find_cases(&root.join("cases"));
    cases.retain(|c| filters.is_empty() || filters.iter().any(|f| c.contains(f.as_str())));
    let mut ssh_cases: Vec<String> = find_cases(&root.join(ssh::DIR))
        .into_iter()
        .map(|c| format!("{}/{c}", ssh::DIR))
        .collect();
    ssh_cases.retain(|c| filters.is_empty() || filters.iter().any(|f| c.contains(f.as_str())));
    let Some(ansible) = find_ansible() else {
        println!(
            "conformance: ansible-core not found (run `python3 -m venv target/ansible-venv && \
             target/ansible-venv/bin/pip install -r tests/conformance/requirements.txt`, \
             or set WINDLASS_ANSIBLE_PLAYBOOK)"
        );
        let not_run = NotRun {
            count: cases.len() + ssh_cases.len(),
            why: "no ansible-core".into(),
        };
        finish((0, 0, 0), &[], Some(not_run));
    };
    let kept = load_divergences(&root.join("divergences.toml"));
    let unknown: Vec<_> = kept
        .keys()
        .filter(|k| !case_dir(&root, k).join("site.yml").is_file())
        .collect();
    if !unknown.is_empty() && filters.is_empty() {
        eprintln!("divergences.toml names cases that do not exist: {unknown:?}");
        std::process::exit(1);
    }
    let out_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    let _ = std::fs::create_dir_all(&out_root);
    println!(
        "conformance: {} cases, oracle {}",
        cases.len(),
        ansible.display()
    );
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let counts = Mutex::new((0usize, 0usize, 0usize));
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    let verdict = run_case(&root, &out_root, &ansible, case, kept.get(case), None);
                    report(case, verdict, &kept, &counts, &failures);
                }
            });
        }
    });
    // The SSH subset: one case at a time (the cases share the test hosts).
    let hosts = if ssh_cases.is_empty() {
        None
    } else {
        ssh::TestHosts::from_env()
    };
    let mut not_run = None;
    match &hosts {
        Some(h) => {
            println!(
                "conformance: {} ssh cases on {}",
                ssh_cases.len(),
                h.describe()
            );
            for case in &ssh_cases {
                let verdict = run_case(&root, &out_root, &ansible, case, kept.get(case), Some(h));
                report(case, verdict, &kept, &counts, &failures);
            }
        }
        None if !ssh_cases.is_empty() => {
            println!(
                "conformance: {} ssh cases not run, WINDLASS_TESTHOSTS is not set (boot hosts \
                 with `windlass lab up 3` and set it to the file `windlass lab inventory` prints)",
                ssh_cases.len()
            );
            not_run = Some(NotRun {
                count: ssh_cases.len(),
                why: "ssh cases, WINDLASS_TESTHOSTS is not set".into(),
            });
        }
        None => {}
    }
    let failures = failures.into_inner().unwrap();
    finish(counts.into_inner().unwrap(), &failures, not_run);
}

/// Selected cases that were not run, and why.
struct NotRun {
    count: usize,
    why: String,
}

/// Prints the failures and the summary line, then exits: non-zero when a case failed, or
/// when one was not run under `CI=true` (CI must run every case).
fn finish(
    (same, kept_n, pending_n): (usize, usize, usize),
    failures: &[(String, String)],
    not_run: Option<NotRun>,
) -> ! {
    for (case, why) in failures {
        println!("\n==== {case}\n{why}");
    }
    let skipped = not_run.as_ref().map_or(0, |n| n.count);
    let why = not_run
        .as_ref()
        .map_or(String::new(), |n| format!(" ({})", n.why));
    let total = same + kept_n + pending_n + failures.len() + skipped;
    println!(
        "\nconformance: {same} identical, {kept_n} kept different, {pending_n} pending a fix \
         (divergences.toml), {} failing, {skipped} not run{why}, of {total}",
        failures.len(),
    );
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if skipped > 0 && ci {
        println!("conformance: CI=true needs every case run");
    }
    std::process::exit(i32::from(!failures.is_empty() || (skipped > 0 && ci)));
}

/// Prints a case's verdict and counts it.
fn report(
    case: &str,
    verdict: Verdict,
    kept: &BTreeMap<String, String>,
    counts: &Mutex<(usize, usize, usize)>,
    failures: &Mutex<Vec<(String, String)>>,
) {
    let mut c = counts.lock().unwrap();
    match verdict {
        Verdict::Same => {
            c.0 += 1;
            println!("same      {case}");
        }
        Verdict::KeptDifferent => {
            if kept[case].starts_with("PENDING FIX") {
                c.2 += 1;
                println!("pending   {case}: {}", kept[case]);
            } else {
                c.1 += 1;
                println!("kept-diff {case}: {}", kept[case]);
            }
        }
        Verdict::Fail(why) => {
            println!("FAIL      {case}");
            failures.lock().unwrap().push((case.to_string(), why));
        }
    }
}

/// The folder of case `case`: `ssh/<name>` under the suite's root, others under `cases/`.
fn case_dir(root: &Path, case: &str) -> PathBuf {
    if case.starts_with(&format!("{}/", ssh::DIR)) {
        root.join(case)
    } else {
        root.join("cases").join(case)
    }
}

enum Verdict {
    Same,
    KeptDifferent,
    Fail(String),
}

/// ansible-playbook: `$WINDLASS_ANSIBLE_PLAYBOOK`, else the venv `.ci/run` makes.
fn find_ansible() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ansible-venv/bin/ansible-playbook");
    p.is_file().then_some(p)
}

fn load_divergences(path: &Path) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        divergence: Vec<Entry>,
        #[serde(default)]
        pending: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        case: String,
        reason: String,
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pending = file.pending.into_iter().map(|e| Entry {
        reason: format!("PENDING FIX: {}", e.reason),
        ..e
    });
    file.divergence
        .into_iter()
        .chain(pending)
        .map(|e| {
            assert!(
                !e.reason.trim().is_empty(),
                "divergence {} has no reason",
                e.case
            );
            (e.case, e.reason)
        })
        .collect()
}

/// Every folder under `dir` holding a `site.yml`, as a path relative to `dir`, sorted.
fn find_cases(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        if d.join("site.yml").is_file() {
            let rel = d.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            out.push(rel);
            continue;
        }
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn run_case(
    root: &Path,
    out_root: &Path,
    ansible: &Path,
    case: &str,
    kept: Option<&String>,
    hosts: Option<&ssh::TestHosts>,
) -> Verdict {
    let src = case_dir(root, case);
    let work = out_root.join(case);
    let _ = std::fs::remove_dir_all(&work);
    let args = read_args(&src);
    let playbooks = read_lines(&src.join("playbooks"));
    let args = (playbooks, args);
    let run = |tool: Tool, name: &str| -> Result<String, String> {
        let Some(h) = hosts else {
            return run_tool(tool, root, &src, &work.join(name), &args, None);
        };
        // The hosts start each run from the same state, whatever the last run left.
        let remote = h.reset(case, &src)?;
        let mut t = run_tool(
            tool,
            root,
            &src,
            &work.join(name),
            &args,
            Some((h, &remote)),
        )?;
        t.push_str(&h.state(&src, &remote)?);
        Ok(t)
    };
    let a = match run(Tool::Ansible(ansible), "ansible") {
        Ok(t) => t,
        Err(e) => return Verdict::Fail(format!("ansible-playbook could not run: {e}")),
    };
    let w = match run(Tool::Windlass, "windlass") {
        Ok(t) => t,
        Err(e) => return Verdict::Fail(format!("windlass could not run: {e}")),
    };
    if let Some(h) = hosts {
        let _ = h.reset(case, &src);
    }
    let _ = std::fs::write(work.join("ansible.trace"), &a);
    let _ = std::fs::write(work.join("windlass.trace"), &w);
    match (a == w, kept) {
        (true, None) => Verdict::Same,
        (false, Some(_)) => Verdict::KeptDifferent,
        (true, Some(reason)) => Verdict::Fail(format!(
            "listed in divergences.toml ({reason}) but now identical: remove the entry"
        )),
        (false, None) => Verdict::Fail(format!(
            "{}\n(outputs: {})",
            trace::diff(&a, &w),
            work.display()
        )),
    }
}

fn read_args(case: &Path) -> Vec<String> {
    read_lines(&case.join("args"))
}

/// The lines of `file` that are neither blank nor `#` comments (none when it is absent).
fn read_lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

enum Tool<'a> {
    Ansible(&'a Path),
    Windlass,
}

/// Runs one tool on a fresh copy of the case; returns the normalised trace.
fn run_tool(
    tool: Tool,
    root: &Path,
    src: &Path,
    dir: &Path,
    (playbooks, args): &(Vec<String>, Vec<String>),
    ssh: Option<(&ssh::TestHosts, &str)>,
) -> Result<String, String> {
    copy_tree(src, dir).map_err(|e| format!("copying the case: {e}"))?;
    let inventory = match ssh {
        Some((h, _)) => {
            std::fs::write(dir.join("hosts.yml"), h.inventory()).map_err(|e| e.to_string())?;
            "hosts.yml"
        }
        None => "hosts",
    };
    if ssh.is_none() && !dir.join("hosts").exists() {
        std::fs::write(dir.join("hosts"), DEFAULT_INVENTORY).map_err(|e| e.to_string())?;
    }
    let trace_file = dir.with_extension("events.jsonl");
    let _ = std::fs::remove_file(&trace_file);
    let program = match &tool {
        Tool::Ansible(p) => p.to_path_buf(),
        Tool::Windlass => PathBuf::from(env!("CARGO_BIN_EXE_windlass")),
    };
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("ANSIBLE_") || k.starts_with("WINDLASS_") || k == "CONFORMANCE_TRACE" {
            cmd.env_remove(&*k);
        }
    }
    match &tool {
        Tool::Ansible(p) => {
            cmd.env("CONFORMANCE_TRACE", &trace_file)
                .env("ANSIBLE_CALLBACK_PLUGINS", root.join("oracle"))
                .env("ANSIBLE_CALLBACKS_ENABLED", "conformance")
                .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-local"))
                .arg("site.yml")
                .args(playbooks)
                .args(["-i", inventory]);
            if ssh.is_none() {
                // Local hosts run modules with the venv's python, their temp files in the copy.
                cmd.env("ANSIBLE_PYTHON_INTERPRETER", p.with_file_name("python3"))
                    .env("ANSIBLE_REMOTE_TEMP", dir.join(".ansible-remote"));
            } else {
                cmd.env("ANSIBLE_HOST_KEY_CHECKING", "False");
            }
        }
        Tool::Windlass => {
            // The module bridge builds modules with the oracle's own ansible-core.
            if let Some(py) = find_ansible().map(|p| p.with_file_name("python3")) {
                cmd.env("WINDLASS_ANSIBLE_PYTHON", py);
            }
            cmd.args(["run", "site.yml"])
                .args(playbooks)
                .args(["-i", inventory, "--output", "jsonl"]);
        }
    }
    if let Some((_, remote)) = ssh {
        cmd.args(["-e", &format!("conf_dir={remote}")]);
    }
    cmd.env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .current_dir(dir)
        .args(args);
    let out = cmd.output().map_err(|e| e.to_string())?;
    let name = if matches!(tool, Tool::Windlass) {
        "windlass"
    } else {
        "ansible"
    };
    let _ = std::fs::write(dir.with_extension("stdout"), &out.stdout);
    let _ = std::fs::write(dir.with_extension("stderr"), &out.stderr);
    let code = out.status.code().unwrap_or(-1);
    let events = match tool {
        Tool::Ansible(_) => std::fs::read_to_string(&trace_file).unwrap_or_default(),
        Tool::Windlass => String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    let mut t = match tool {
        Tool::Ansible(_) => trace::from_ansible(&events),
        Tool::Windlass => trace::from_windlass(&events),
    }
    .map_err(|e| format!("{name}: unreadable events: {e}"))?;
    t.push_str(&format!("exit {code}\n"));
    t.push_str(&trace::files(&dir.join("out")));
    Ok(t)
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let t = e.file_type()?;
        let to = dst.join(e.file_name());
        if t.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}
