//! The corpus of bad inputs under tests/bad_input/: each case must fail with exit ≠ 0,
//! a message naming the problem and the file:line it is at, and run no task.
//!
//! A case is a directory with `site.yml`, optionally `hosts` (else a local inventory is
//! used), optionally `args` (extra CLI arguments, one per line), and `expect`: the first
//! line is `file:line` (or `-` when the error has no location), the second a substring of
//! the message.

use std::path::Path;
use std::process::Command;

fn run_case(dir: &Path) -> Result<(), String> {
    let expect = std::fs::read_to_string(dir.join("expect")).map_err(|e| e.to_string())?;
    let mut lines = expect.lines();
    let loc = lines.next().unwrap_or("-").trim().to_string();
    let needle = lines.next().unwrap_or("").trim().to_string();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inventory = if dir.join("hosts").exists() {
        "hosts".to_string()
    } else {
        let p = tmp.path().join("hosts");
        std::fs::write(&p, "h1 ansible_connection=local\n").map_err(|e| e.to_string())?;
        p.display().to_string()
    };
    // Journals go to the temp dir, not into the case directory.
    let state = tmp.path().join("state").display().to_string();
    let mut args: Vec<String> = vec![
        "run".into(),
        "site.yml".into(),
        "-i".into(),
        inventory,
        "--state-dir".into(),
        state,
    ];
    if let Ok(extra) = std::fs::read_to_string(dir.join("args")) {
        args.extend(extra.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(&args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}{stderr}");
    let code = out.status.code().unwrap_or(-1);
    if code == 0 {
        return Err(format!("exit 0\n{all}"));
    }
    if stdout.contains("TASK [") {
        return Err(format!("a task ran before the error:\n{all}"));
    }
    if !all.contains(&needle) {
        return Err(format!("message lacks {needle:?}:\n{all}"));
    }
    if loc != "-"
        && !all.contains(&format!("{loc}:"))
        && !all.contains(&format!("{loc}\n"))
        && !all.ends_with(&loc)
    {
        return Err(format!("location {loc} not named:\n{all}"));
    }
    Ok(())
}

/// Run `windlass run site.yml` in `dir` on the local connection; (exit code, output, time).
fn run_in(dir: &Path) -> (i32, String, std::time::Duration) {
    std::fs::write(dir.join("hosts"), "h1 ansible_connection=local\n").unwrap();
    let t0 = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), all, t0.elapsed())
}

#[test]
fn a_huge_yaml_file_is_handled_within_bounds() {
    // A 100 000-element list (about 5 MB of YAML) in a vars file: loaded and used in
    // reasonable time; the same file cut off mid-way is a located error, also quickly.
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::from("big:\n");
    for i in 0..100_000 {
        big.push_str(&format!(
            "  - {{name: item-{i:06}, value: {i}, tag: padding-padding-padding}}\n"
        ));
    }
    assert!(big.len() > 5_000_000, "{}", big.len());
    std::fs::write(dir.path().join("big.yml"), &big).unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  vars_files: [big.yml]\n  tasks:\n    - debug:\n        msg: \"n={{ big | length }} last={{ (big | last).name }}\"\n",
    )
    .unwrap();
    let (code, all, took) = run_in(dir.path());
    assert_eq!(code, 0, "{all}");
    assert!(all.contains("n=100000 last=item-099999"), "{all}");
    assert!(took.as_secs() < 60, "took {took:?}");
    let cut = format!("{}  - {{name: broken, value: [1,\n", &big[..big.len() / 2]);
    let cut_line = cut.lines().count();
    std::fs::write(dir.path().join("big.yml"), &cut).unwrap();
    let (code, all, took) = run_in(dir.path());
    assert_ne!(code, 0, "{all}");
    assert!(!all.contains("TASK ["), "{all}");
    assert!(
        all.contains(&format!("big.yml:{cut_line}:"))
            || all.contains(&format!("big.yml:{}:", cut_line + 1)),
        "no location near line {cut_line}: {}",
        &all[..all.len().min(2000)]
    );
    assert!(took.as_secs() < 60, "took {took:?}");
}

#[test]
fn every_bad_input_gives_a_located_error_and_runs_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "corpus too small: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(e) = run_case(case) {
            failures.push(format!(
                "== {}\n{e}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
