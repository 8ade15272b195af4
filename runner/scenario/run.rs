//! One scenario's run: up, prepare, converge, idempotence, verify, down, in that order;
//! after a failure the playbook phases are skipped and the lab still goes down (unless it
//! is kept).
//!
//! Why this file exists: the sequence and its rules (what fails a scenario, when the lab is
//! kept) are apart from how a lab is booted and a playbook run ([`Driver`]), so they are
//! tested without root or hosts.

use std::path::Path;
use std::time::Instant;

use super::model::Scenario;
use super::report::{Change, Outcome, Phase, PhaseResult, ScenarioResult};

/// How a playbook run ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlayOutcome {
    /// Its exit code (0: no failed or unreachable host).
    pub exit_code: i32,
    /// The tasks that changed something.
    pub changed: Vec<Change>,
}

/// What runs a scenario's phases: the lab and the engine, or a fake in tests. Errors are
/// the phase's failure message.
pub trait Driver {
    /// Boot the scenario's lab and write its inventory.
    fn up(&mut self, s: &Scenario) -> Result<(), String>;
    /// Run `playbook` on the scenario's lab for `phase`.
    fn play(&mut self, s: &Scenario, phase: Phase, playbook: &Path) -> Result<PlayOutcome, String>;
    /// Tear the scenario's lab down.
    fn down(&mut self, s: &Scenario) -> Result<(), String>;
}

/// Run scenario `s` on lab `lab` with `driver`; `keep`: leave the lab up. `emit` sees each
/// phase's result as it ends.
pub fn scenario(
    s: &Scenario,
    lab: &str,
    keep: bool,
    driver: &mut dyn Driver,
    emit: &mut dyn FnMut(&PhaseResult),
) -> ScenarioResult {
    let t0 = Instant::now();
    let mut phases: Vec<PhaseResult> = vec![];
    let mut record = |r: PhaseResult, phases: &mut Vec<PhaseResult>| {
        emit(&r);
        phases.push(r);
    };
    let failed = |phases: &[PhaseResult]| phases.iter().any(|p| p.outcome == Outcome::Failed);
    let up = timed(s, Phase::Up, || {
        driver.up(s).map(|()| PlayOutcome::default())
    });
    record(up, &mut phases);
    for (phase, playbook) in [
        (Phase::Prepare, s.prepare.as_deref()),
        (Phase::Converge, Some(s.converge.as_path())),
        (Phase::Idempotence, Some(s.converge.as_path())),
        (Phase::Verify, s.verify.as_deref()),
    ] {
        let r = match playbook {
            _ if failed(&phases) => skipped(s, phase, "an earlier phase failed"),
            None => skipped(s, phase, &format!("no {} playbook", phase.name())),
            Some(p) => timed(s, phase, || driver.play(s, phase, p)),
        };
        record(r, &mut phases);
    }
    let down = if keep {
        PhaseResult {
            outcome: Outcome::Kept,
            detail: Some(format!("lab {lab} kept (--keep)")),
            ..skipped(s, Phase::Down, "")
        }
    } else {
        timed(s, Phase::Down, || {
            driver.down(s).map(|()| PlayOutcome::default())
        })
    };
    record(down, &mut phases);
    let failed_phase = phases
        .iter()
        .find(|p| p.outcome == Outcome::Failed)
        .map(|p| p.phase);
    ScenarioResult {
        scenario: s.id.clone(),
        lab: lab.to_string(),
        verdict: if failed_phase.is_some() {
            Outcome::Failed
        } else {
            Outcome::Passed
        },
        failed_phase,
        phases,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

fn skipped(s: &Scenario, phase: Phase, why: &str) -> PhaseResult {
    PhaseResult {
        scenario: s.id.clone(),
        phase,
        outcome: Outcome::Skipped,
        seconds: 0.0,
        detail: (!why.is_empty()).then(|| why.to_string()),
        changed: vec![],
    }
}

/// Run `f` as `phase` and judge it: an error or a non-zero exit fails it, and so does any
/// change in the idempotence phase.
fn timed(
    s: &Scenario,
    phase: Phase,
    f: impl FnOnce() -> Result<PlayOutcome, String>,
) -> PhaseResult {
    let t0 = Instant::now();
    let got = f();
    let seconds = t0.elapsed().as_secs_f64();
    let (outcome, detail, changed) = match got {
        Err(e) => (Outcome::Failed, Some(e), vec![]),
        Ok(o) if o.exit_code != 0 => (
            Outcome::Failed,
            Some(format!("the playbook ended with exit code {}", o.exit_code)),
            vec![],
        ),
        Ok(o) if phase == Phase::Idempotence && !o.changed.is_empty() => (
            Outcome::Failed,
            Some(format!(
                "not idempotent: {} task result(s) changed on the second converge",
                o.changed.len()
            )),
            o.changed,
        ),
        Ok(_) => (Outcome::Passed, None, vec![]),
    };
    PhaseResult {
        scenario: s.id.clone(),
        phase,
        outcome,
        seconds,
        detail,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Plays from a script: each phase's outcome, and what it was asked to do.
    #[derive(Default)]
    struct Fake {
        up_fails: bool,
        outcomes: Vec<(Phase, PlayOutcome)>,
        calls: Vec<String>,
    }

    impl Driver for Fake {
        fn up(&mut self, _: &Scenario) -> Result<(), String> {
            self.calls.push("up".into());
            if self.up_fails {
                Err("no root".into())
            } else {
                Ok(())
            }
        }
        fn play(&mut self, _: &Scenario, phase: Phase, p: &Path) -> Result<PlayOutcome, String> {
            self.calls.push(format!("{} {}", phase.name(), p.display()));
            Ok(self
                .outcomes
                .iter()
                .find(|(ph, _)| *ph == phase)
                .map(|(_, o)| o.clone())
                .unwrap_or_default())
        }
        fn down(&mut self, _: &Scenario) -> Result<(), String> {
            self.calls.push("down".into());
            Ok(())
        }
    }

    fn scenario_with(verify: bool) -> Scenario {
        Scenario {
            id: "r/default".into(),
            dir: PathBuf::from("/s"),
            description: None,
            suite: crate::lab::Suite::Bookworm,
            hosts: vec![],
            children: Default::default(),
            prepare: None,
            converge: PathBuf::from("/s/converge.yml"),
            verify: verify.then(|| PathBuf::from("/s/verify.yml")),
            extra_vars: Default::default(),
            roles_path: vec![],
        }
    }

    fn outcomes(r: &ScenarioResult) -> Vec<(&'static str, Outcome)> {
        r.phases
            .iter()
            .map(|p| (p.phase.name(), p.outcome))
            .collect()
    }

    #[test]
    fn all_phases_pass_in_order() {
        let mut fake = Fake::default();
        let mut seen = vec![];
        let r = scenario(&scenario_with(true), "s14x", false, &mut fake, &mut |p| {
            seen.push(p.phase)
        });
        assert_eq!(r.verdict, Outcome::Passed);
        assert_eq!(
            fake.calls,
            vec![
                "up",
                "converge /s/converge.yml",
                "idempotence /s/converge.yml",
                "verify /s/verify.yml",
                "down"
            ]
        );
        assert_eq!(seen, Phase::ALL.to_vec());
        assert_eq!(outcomes(&r)[1], ("prepare", Outcome::Skipped));
    }

    #[test]
    fn a_change_on_the_second_converge_fails_and_is_named() {
        let change = Change {
            host: "node1".into(),
            task: "Touch".into(),
        };
        let mut fake = Fake {
            outcomes: vec![(
                Phase::Idempotence,
                PlayOutcome {
                    exit_code: 0,
                    changed: vec![change.clone()],
                },
            )],
            ..Fake::default()
        };
        let r = scenario(&scenario_with(true), "s14x", false, &mut fake, &mut |_| {});
        assert_eq!(r.verdict, Outcome::Failed);
        assert_eq!(r.failed_phase, Some(Phase::Idempotence));
        assert_eq!(r.phases[3].changed, vec![change]);
        // verify does not run after a failure; the lab still goes down
        assert_eq!(outcomes(&r)[4], ("verify", Outcome::Skipped));
        assert_eq!(fake.calls.last().map(String::as_str), Some("down"));
    }

    #[test]
    fn keep_leaves_the_lab_and_a_failed_up_skips_the_playbooks() {
        let mut fake = Fake {
            up_fails: true,
            ..Fake::default()
        };
        let r = scenario(&scenario_with(false), "s14x", true, &mut fake, &mut |_| {});
        assert_eq!(fake.calls, vec!["up"]);
        assert_eq!(r.failed_phase, Some(Phase::Up));
        assert_eq!(r.phases[0].detail.as_deref(), Some("no root"));
        assert_eq!(outcomes(&r)[5], ("down", Outcome::Kept));
    }

    #[test]
    fn a_failed_converge_fails_the_scenario() {
        let mut fake = Fake {
            outcomes: vec![(
                Phase::Converge,
                PlayOutcome {
                    exit_code: 2,
                    changed: vec![],
                },
            )],
            ..Fake::default()
        };
        let r = scenario(&scenario_with(false), "s14x", false, &mut fake, &mut |_| {});
        assert_eq!(r.failed_phase, Some(Phase::Converge));
        assert_eq!(outcomes(&r)[3], ("idempotence", Outcome::Skipped));
        assert_eq!(fake.calls, vec!["up", "converge /s/converge.yml", "down"]);
    }
}
