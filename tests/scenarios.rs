//! `windlass test` for real: the built binary runs the ipv4_forwarding role's scenario on a
//! lab (JSONL on stdout, the summary on stderr, the lab gone afterwards), and a scenario made
//! to be non-idempotent fails its idempotence phase naming the host and each task (a looped
//! one once), skips verify,
//! and keeps its lab only with `--keep` (the next run replaces a kept lab with fresh hosts).
//!
//! Needs root, systemd-container and debootstrap, and the Debian mirror the first time (see
//! tests/lab.rs):
//!
//! ```sh
//! cargo test --test scenarios -- --ignored
//! ```
//!
//! `WINDLASS_LAB_DIR` moves the labs and caches (default /var/tmp/windlass-lab); the labs are
//! named `lt` + a hash of the scenario's path (`WINDLASS_LAB_TEST_PREFIX` replaces `lt`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prefix() -> String {
    std::env::var("WINDLASS_LAB_TEST_PREFIX").unwrap_or_else(|_| "lt".into())
}

fn windlass(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(args)
        .current_dir(repo())
        .env("WINDLASS_TEST_LAB_PREFIX", prefix())
        .output()
        .expect("windlass runs")
}

fn root_dir() -> PathBuf {
    std::env::var_os("WINDLASS_LAB_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/windlass-lab"), PathBuf::from)
}

/// Whether anything of lab `name` is left: its directory or its network namespace.
fn lab_left(name: &str) -> bool {
    root_dir().join("labs").join(name).exists()
        || Path::new("/run/netns")
            .join(format!("windlass-{name}"))
            .exists()
}

/// Takes the lab down when the test ends, passed or not.
struct Lab(String);

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = windlass(&["lab", "down", "--name", &self.0]);
        }
    }
}

/// The JSON objects of `stdout`, each line one (a line that is not JSON fails the test).
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The lab name a scenario in `dir` gets (as `windlass test` derives it).
fn lab_of(dir: &str) -> String {
    windlass::scenario::lab_name(&prefix(), &repo().join(dir))
        .unwrap()
        .as_str()
        .to_string()
}

#[test]
#[ignore = "needs root: boots a windlass lab"]
fn ipv4_forwarding_scenario_passes_with_jsonl_and_summary() {
    let lab = lab_of("roles/ipv4_forwarding/scenarios/default");
    let _guard = Lab(lab.clone());
    let o = windlass(&["test", "ipv4_forwarding/default", "--jsonl"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}\n{stderr}", o.status);
    let lines = json_lines(&o.stdout);
    let phases: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["event"] == "scenario_phase")
        .map(|l| (l["phase"].as_str().unwrap(), l["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        phases,
        vec![
            ("up", "passed"),
            ("prepare", "skipped"),
            ("converge", "passed"),
            ("idempotence", "passed"),
            ("verify", "passed"),
            ("down", "passed"),
        ]
    );
    // the runs' own events are there too, as `windlass run --output jsonl` writes them
    let run_ends = lines.iter().filter(|l| l["event"] == "run_end").count();
    assert_eq!(run_ends, 3, "converge, idempotence, verify");
    let result = lines.last().unwrap();
    assert_eq!(result["event"], "scenario_result");
    assert_eq!(result["scenario"], "ipv4_forwarding/default");
    assert_eq!(result["lab"], lab.as_str());
    assert_eq!(result["verdict"], "passed");
    assert!(result.get("failed_phase").is_none(), "{result}");
    let row = stderr
        .lines()
        .find(|l| l.starts_with("ipv4_forwarding/default "))
        .unwrap_or_else(|| panic!("no summary row:\n{stderr}"));
    assert!(row.ends_with("passed") && !row.contains("FAIL"), "{row}");
    assert!(stderr.contains("1 of 1 scenario(s) passed"), "{stderr}");
    assert!(!lab_left(&lab), "lab {lab} left behind");
}

#[test]
#[ignore = "needs root: boots a windlass lab"]
fn a_non_idempotent_scenario_fails_and_names_the_task() {
    let dir = "tests/fixtures/scenarios/not_idempotent";
    let lab = lab_of(dir);
    let _guard = Lab(lab.clone());
    let o = windlass(&["test", dir]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{dir} ")))
        .unwrap_or_else(|| panic!("no summary row:\n{stdout}"));
    assert!(row.contains("FAIL") && row.ends_with("FAILED"), "{row}");
    assert!(stdout.contains("0 of 1 scenario(s) passed"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{dir} ({lab}): idempotence failed: not idempotent: 2 task result(s) changed"
        )),
        "{stdout}"
    );
    // each task once, a looped one too (not once per item)
    let changed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("  changed: "))
        .collect();
    assert_eq!(
        changed,
        vec![
            "  changed: [node1] Touch the stamp every time",
            "  changed: [node1] Run a command per item every time"
        ],
        "{stdout}"
    );
    assert!(!stdout.contains("verify ran after"), "{stdout}");
    assert!(!lab_left(&lab), "lab {lab} left behind without --keep");

    // with --keep the failed scenario's lab stays up, for a look inside
    let o = windlass(&["test", dir, "--keep", "--jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    let result = json_lines(&o.stdout).pop().unwrap();
    assert_eq!(result["failed_phase"], "idempotence");
    assert_eq!(result["phases"][3]["changed"][0]["host"], "node1");
    assert_eq!(result["phases"][4]["outcome"], "skipped");
    assert_eq!(result["phases"][5]["outcome"], "kept");
    assert!(lab_left(&lab), "--keep removed lab {lab}");

    // the next run starts from fresh hosts (the kept lab goes first): its first converge
    // writes the stamp again
    let o = windlass(&["test", dir, "--jsonl"]);
    assert_eq!(o.status.code(), Some(2));
    let copy: Vec<String> = json_lines(&o.stdout)
        .iter()
        .filter(|l| {
            l["event"] == "host_result" && l["task"] == "Write a file that is already there"
        })
        .map(|l| l["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(copy, vec!["changed", "ok"], "first and second converge");
    assert!(!lab_left(&lab), "lab {lab} left behind without --keep");
}
