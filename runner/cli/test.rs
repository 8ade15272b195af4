//! `windlass test`: the clap definition, and the [`Driver`] that runs a scenario's phases
//! with the lab library and the engine.
//!
//! Why this file exists: the scenario sequence (runner/scenario/run.rs) knows nothing of
//! labs or of how a playbook is run; here its phases become `lab::up`, one engine run per
//! playbook (the same loading, sinks and exit codes as `windlass run`, its output on
//! stdout) and `lab::down`, and the results become the summary table and JSON lines.

use std::path::{Path, PathBuf};

use clap::{Args, Parser};

use crate::error::{Error, Result};
use crate::lab::{self, LabName, Layout};
use crate::scenario::report::{self, Change, Outcome, Phase, ScenarioResult};
use crate::scenario::run::{Driver, PlayOutcome};
use crate::scenario::{self, Scenario};

use super::several_playbooks::Carry;
use super::{ChangeLog, Cli, Command};

/// `windlass test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The scenarios: a scenario directory (or its scenario.yml), ROLE/NAME, ROLE (each of
    /// its scenarios) or playbooks/NAME; every scenario of the project when none.
    #[arg(value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Leave each scenario's lab up when it ends, passed or failed (look inside with
    /// `windlass lab ssh --name LAB HOST`; `windlass lab down --name LAB` removes it).
    #[arg(long = "keep")]
    pub keep: bool,
    /// JSON lines on stdout: the runs' events (as `windlass run --output jsonl`), one
    /// `scenario_phase` object per phase and one `scenario_result` per scenario; the
    /// summary goes to stderr.
    #[arg(long = "jsonl")]
    pub jsonl: bool,
    /// The project: where `roles/*/scenarios/` and `playbooks/scenarios/` are.
    #[arg(long = "project", default_value = ".", value_name = "DIR")]
    pub project: PathBuf,
    /// Where labs and their caches live (as `windlass lab --dir`).
    #[arg(long = "dir", env = "WINDLASS_LAB_DIR", hide_env_values = true, default_value = lab::model::DEFAULT_ROOT, value_name = "DIR")]
    pub dir: PathBuf,
    /// The start of each scenario's lab name (1 to 6 of a-z, 0-9); the rest is a hash of
    /// the scenario's path.
    #[arg(long = "lab-prefix", env = "WINDLASS_TEST_LAB_PREFIX", hide_env_values = true, default_value = scenario::DEFAULT_PREFIX, value_name = "PREFIX")]
    pub lab_prefix: String,
    /// More output from the runs (as `windlass run -v`).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Run the scenarios; exit code 2 when one failed.
pub(super) fn run(a: TestArgs) -> Result<i32> {
    let scenarios = scenario::load(&a.project, &a.scenarios)?;
    let labs = scenarios
        .iter()
        .map(|s| scenario::lab_name(&a.lab_prefix, &s.dir))
        .collect::<Result<Vec<_>>>()?;
    lab::check_prerequisites()?;
    let mut results = vec![];
    let mut interrupted = false;
    for (s, name) in scenarios.iter().zip(labs) {
        let (r, stop) = one(&a, s, name);
        results.push(r);
        if stop {
            say("interrupted: the scenarios after this one are not run");
            interrupted = true;
            break;
        }
    }
    let summary = report::summary(&results);
    if a.jsonl {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    Ok(if interrupted {
        crate::exit::INTERRUPTED
    } else {
        verdict(&results)
    })
}

/// Scenario `s` on lab `name`: its progress on stderr, its JSON lines with `--jsonl`; and
/// whether a playbook was interrupted (Ctrl-C: the lab still goes down unless kept, no
/// scenario runs after it).
fn one(a: &TestArgs, s: &Scenario, name: LabName) -> (ScenarioResult, bool) {
    say(&format!(
        "{}: lab {} ({} host(s), {}){}",
        s.id,
        name.as_str(),
        s.hosts.len(),
        s.suite.name(),
        s.description
            .as_deref()
            .map_or(String::new(), |d| format!(": {d}"))
    ));
    let mut driver = LabDriver {
        layout: Layout::new(a.dir.clone()),
        lab: name.clone(),
        jsonl: a.jsonl,
        verbose: a.verbose,
        interrupted: false,
    };
    let r = scenario::run::scenario(s, name.as_str(), a.keep, &mut driver, &mut |p| {
        say(&progress(p));
        if a.jsonl {
            println!("{}", report::phase_line(p));
        }
    });
    if a.jsonl {
        println!("{}", report::result_line(&r));
    }
    (r, driver.interrupted)
}

/// 0 when every scenario passed, else 2 (as a run with a failed host).
fn verdict(results: &[ScenarioResult]) -> i32 {
    if results.iter().all(|r| r.verdict == Outcome::Passed) {
        crate::exit::OK
    } else {
        crate::exit::HOST_FAILED
    }
}

fn say(line: &str) {
    eprintln!("test: {line}");
}

/// A phase's line on stderr.
fn progress(p: &report::PhaseResult) -> String {
    let what = match p.outcome {
        Outcome::Passed => format!("passed in {:.1}s", p.seconds),
        Outcome::Failed => format!("FAILED in {:.1}s", p.seconds),
        Outcome::Skipped => "skipped".into(),
        Outcome::Kept => "lab kept".into(),
    };
    let detail = p
        .detail
        .as_deref()
        .map_or(String::new(), |d| format!(": {d}"));
    format!("{}: {} {what}{detail}", p.scenario, p.phase.name())
}

/// The lab library and the engine.
struct LabDriver {
    layout: Layout,
    lab: LabName,
    jsonl: bool,
    verbose: u8,
    /// A playbook run ended by Ctrl-C.
    interrupted: bool,
}

impl LabDriver {
    fn inventory(&self) -> PathBuf {
        self.layout.lab(&self.lab).join("test-inventory.json")
    }

    /// `windlass run` of `playbook` as this scenario runs it: the scenario's inventory,
    /// extra vars and roles path, journals in the lab's directory.
    fn run_args(&self, s: &Scenario, playbook: &Path) -> Result<super::RunArgs> {
        let mut argv: Vec<std::ffi::OsString> = vec!["windlass".into(), "run".into()];
        argv.extend([playbook.into(), "-i".into(), self.inventory().into()]);
        argv.extend([
            "--state-dir".into(),
            self.layout.lab(&self.lab).join("journal").into(),
        ]);
        argv.extend([
            "--output".into(),
            if self.jsonl { "jsonl" } else { "text" }.into(),
        ]);
        if !s.extra_vars.is_empty() {
            let vars =
                serde_json::to_string(&s.extra_vars).map_err(|e| Error::Other(e.to_string()))?;
            argv.extend(["-e".into(), vars.into()]);
        }
        for r in &s.roles_path {
            argv.extend(["--roles-path".into(), r.into()]);
        }
        argv.extend((0..self.verbose).map(|_| "-v".into()));
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::Usage(e.to_string()))?;
        let Command::Run(mut a) = cli.command else {
            return Err(Error::Other(
                "`windlass run` did not parse as itself".into(),
            ));
        };
        a.playbook = playbook.to_path_buf();
        Ok(*a)
    }
}

/// An error as one line with its place and hint.
fn describe(e: &Error) -> String {
    match e.help() {
        Some(h) => format!("{} ({h})", e.located()),
        None => e.located(),
    }
}

impl Driver for LabDriver {
    fn up(&mut self, s: &Scenario) -> Result<(), String> {
        let go = || -> Result<()> {
            // fresh hosts: a lab left by --keep or an interrupted run goes first, as
            // Molecule's test sequence destroys before it creates
            if lab::names(&self.layout)?.contains(&self.lab) {
                lab::down(&self.layout, &self.lab)?;
            }
            lab::up(&self.layout, &self.lab, s.suite, s.hosts.len())?;
            let (hosts, reach) = lab::reach(&self.layout, &self.lab)?;
            let text = scenario::inventory::render(s, &hosts, &reach)?;
            let path = self.inventory();
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        go().map_err(|e| describe(&e))
    }

    fn play(&mut self, s: &Scenario, phase: Phase, playbook: &Path) -> Result<PlayOutcome, String> {
        say(&format!(
            "{}: {} ({})",
            s.id,
            phase.name(),
            playbook.display()
        ));
        let mut a = self.run_args(s, playbook).map_err(|e| describe(&e))?;
        let changes = ChangeLog::default();
        a.changes = Some(changes.clone());
        let exit_code = match super::run_playbook(a, false, &Carry::default()) {
            Err(Error::Interrupted) => {
                self.interrupted = true;
                return Err("interrupted (Ctrl-C)".into());
            }
            r => r.map_err(|e| describe(&e))?,
        };
        let changed = changes
            .lock()
            .map(|c| {
                c.iter()
                    .map(|(host, task)| Change {
                        host: host.clone(),
                        task: task.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PlayOutcome { exit_code, changed })
    }

    fn down(&mut self, _: &Scenario) -> Result<(), String> {
        lab::down(&self.layout, &self.lab).map_err(|e| describe(&e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario's playbook runs as `windlass run` with its inventory, extra vars, roles
    /// path and output, and journals in its lab's directory.
    #[test]
    fn a_phase_runs_as_windlass_run_of_the_scenario() {
        let d = tempfile::tempdir().unwrap();
        let text = "hosts:\n  - name: node1\nextra_vars: {containerd_source: distro}\n";
        std::fs::write(d.path().join("scenario.yml"), text).unwrap();
        std::fs::write(d.path().join("converge.yml"), "- hosts: all\n").unwrap();
        let mut s = Scenario::load(d.path(), "x/default", &Default::default()).unwrap();
        s.roles_path = vec![PathBuf::from("/p/roles")];
        let driver = LabDriver {
            layout: Layout::new("/r"),
            lab: LabName::parse("s14abc").unwrap(),
            jsonl: true,
            verbose: 2,
            interrupted: false,
        };
        let a = driver.run_args(&s, &s.converge).unwrap();
        assert_eq!(a.playbook, s.converge);
        assert_eq!(
            a.connect.inventory,
            vec![PathBuf::from("/r/labs/s14abc/test-inventory.json")]
        );
        assert_eq!(a.extra_vars, vec![r#"{"containerd_source":"distro"}"#]);
        assert_eq!(a.roles_path, vec![PathBuf::from("/p/roles")]);
        assert_eq!(a.state_dir, PathBuf::from("/r/labs/s14abc/journal"));
        assert_eq!(
            (a.output, a.verbose),
            (super::super::OutputFormat::Jsonl, 2)
        );
        assert!(a.changes.is_none(), "play() adds the change log");
    }

    #[test]
    fn the_verdict_is_2_when_a_scenario_failed() {
        let r = |verdict| ScenarioResult {
            scenario: "x".into(),
            lab: "l".into(),
            verdict,
            failed_phase: None,
            phases: vec![],
            seconds: 0.0,
        };
        assert_eq!(verdict(&[r(Outcome::Passed)]), 0);
        assert_eq!(verdict(&[r(Outcome::Passed), r(Outcome::Failed)]), 2);
    }
}
