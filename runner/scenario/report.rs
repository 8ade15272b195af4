//! What `windlass test` reports: each phase of a scenario (up, prepare, converge,
//! idempotence, verify, down) with its outcome and wall time, each scenario's verdict, as
//! JSON lines and as the summary table.
//!
//! Why this file exists: the terminal summary and the JSONL for CI are two views of the
//! same records, so they cannot disagree.

use serde::Serialize;

/// A phase of a scenario, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Boot the lab and write the scenario's inventory.
    Up,
    /// The prepare playbook, once.
    Prepare,
    /// The converge playbook.
    Converge,
    /// The converge playbook again: nothing may change.
    Idempotence,
    /// The verify playbook.
    Verify,
    /// Tear the lab down.
    Down,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 6] = [
        Phase::Up,
        Phase::Prepare,
        Phase::Converge,
        Phase::Idempotence,
        Phase::Verify,
        Phase::Down,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Up => "up",
            Phase::Prepare => "prepare",
            Phase::Converge => "converge",
            Phase::Idempotence => "idempotence",
            Phase::Verify => "verify",
            Phase::Down => "down",
        }
    }
}

/// How a phase, or a scenario, ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It ran and did what it should.
    Passed,
    /// It ran and did not.
    Failed,
    /// It did not run (nothing to run, or an earlier phase failed).
    Skipped,
    /// Down only: the lab was kept (`--keep`).
    Kept,
}

/// A task that changed something on a host (in the idempotence phase: what should not have).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The host.
    pub host: String,
    /// The task's name.
    pub task: String,
}

/// One phase of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseResult {
    /// The scenario's id.
    pub scenario: String,
    /// The phase.
    pub phase: Phase,
    /// How it ended.
    pub outcome: Outcome,
    /// Its wall time in seconds (0 when it did not run).
    pub seconds: f64,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The idempotence phase's changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Change>,
}

/// One scenario's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// The scenario's id.
    pub scenario: String,
    /// Its lab's name.
    pub lab: String,
    /// Passed only when no phase failed.
    pub verdict: Outcome,
    /// The first phase that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_phase: Option<Phase>,
    /// Every phase's result, in order.
    pub phases: Vec<PhaseResult>,
    /// The scenario's wall time in seconds.
    pub seconds: f64,
}

/// A JSONL record.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Record<'a> {
    ScenarioPhase(&'a PhaseResult),
    ScenarioResult(&'a ScenarioResult),
}

/// `phase` as one JSON line (`"event": "scenario_phase"`).
pub fn phase_line(phase: &PhaseResult) -> String {
    serde_json::to_string(&Record::ScenarioPhase(phase)).unwrap_or_default()
}

/// `result` as one JSON line (`"event": "scenario_result"`).
pub fn result_line(result: &ScenarioResult) -> String {
    serde_json::to_string(&Record::ScenarioResult(result)).unwrap_or_default()
}

/// The summary: a row per scenario with each phase's wall time (`FAIL` before a failed
/// one's, `-` for one that did not run), then why each failed scenario failed.
pub fn summary(results: &[ScenarioResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.scenario.len())
        .chain(["SCENARIO".len()])
        .max()
        .unwrap_or(8);
    let mut out = format!("{:<width$}", "SCENARIO");
    for p in Phase::ALL {
        out.push_str(&format!("  {:>12}", p.name().to_uppercase()));
    }
    out.push_str("  RESULT\n");
    for r in results {
        out.push_str(&format!("{:<width$}", r.scenario));
        for p in Phase::ALL {
            let cell = r
                .phases
                .iter()
                .find(|x| x.phase == p)
                .map_or("-".into(), cell);
            out.push_str(&format!("  {cell:>12}"));
        }
        out.push_str(&format!("  {}\n", verdict(r.verdict)));
    }
    let passed = results
        .iter()
        .filter(|r| r.verdict == Outcome::Passed)
        .count();
    out.push_str(&format!(
        "{passed} of {} scenario(s) passed\n",
        results.len()
    ));
    for r in results.iter().filter(|r| r.verdict == Outcome::Failed) {
        for p in r.phases.iter().filter(|p| p.outcome == Outcome::Failed) {
            out.push_str(&format!(
                "{} ({}): {} failed: {}\n",
                r.scenario,
                r.lab,
                p.phase.name(),
                p.detail.as_deref().unwrap_or("")
            ));
            for c in &p.changed {
                out.push_str(&format!("  changed: [{}] {}\n", c.host, c.task));
            }
        }
    }
    out
}

fn cell(p: &PhaseResult) -> String {
    match p.outcome {
        Outcome::Passed => format!("{:.1}s", p.seconds),
        Outcome::Failed => format!("FAIL {:.1}s", p.seconds),
        Outcome::Skipped => "-".into(),
        Outcome::Kept => "kept".into(),
    }
}

fn verdict(o: Outcome) -> &'static str {
    match o {
        Outcome::Failed => "FAILED",
        _ => "passed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(phase: Phase, outcome: Outcome, seconds: f64) -> PhaseResult {
        PhaseResult {
            scenario: "r/default".into(),
            phase,
            outcome,
            seconds,
            detail: None,
            changed: vec![],
        }
    }

    fn failed_idempotence() -> ScenarioResult {
        let mut idem = phase(Phase::Idempotence, Outcome::Failed, 1.25);
        idem.detail = Some("1 task(s) changed on the second run".into());
        idem.changed = vec![Change {
            host: "node1".into(),
            task: "Run it".into(),
        }];
        ScenarioResult {
            scenario: "r/default".into(),
            lab: "s14abc".into(),
            verdict: Outcome::Failed,
            failed_phase: Some(Phase::Idempotence),
            phases: vec![
                phase(Phase::Up, Outcome::Passed, 2.0),
                phase(Phase::Prepare, Outcome::Skipped, 0.0),
                phase(Phase::Converge, Outcome::Passed, 3.5),
                idem,
                phase(Phase::Verify, Outcome::Skipped, 0.0),
                phase(Phase::Down, Outcome::Kept, 0.0),
            ],
            seconds: 6.75,
        }
    }

    #[test]
    fn summary_table_and_failures() {
        insta::assert_snapshot!("summary", summary(&[failed_idempotence()]));
    }

    #[test]
    fn jsonl_records() {
        let r = failed_idempotence();
        let line: serde_json::Value = serde_json::from_str(&result_line(&r)).unwrap();
        assert_eq!(line["event"], "scenario_result");
        assert_eq!(line["verdict"], "failed");
        assert_eq!(line["failed_phase"], "idempotence");
        assert_eq!(line["phases"][3]["changed"][0]["task"], "Run it");
        let p: serde_json::Value = serde_json::from_str(&phase_line(&r.phases[2])).unwrap();
        assert_eq!(
            p,
            serde_json::json!({"event": "scenario_phase", "scenario": "r/default",
                "phase": "converge", "outcome": "passed", "seconds": 3.5})
        );
    }
}
