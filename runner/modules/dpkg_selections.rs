//! `ansible.builtin.dpkg_selections`: hold (or release) a package in dpkg's selections.
//!
//! Why this module exists: cluster upgrades must not move kubelet/kubeadm/containerd
//! behind the operator's back, so those packages are put on `hold`. One `dpkg
//! --get-selections` tells the current selection; `dpkg --set-selections` changes it.

use serde::Deserialize;
use serde_json::Value;

use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `dpkg_selections`.
pub struct DpkgSelections;

/// Parameters of `dpkg_selections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpkgSelectionsParams {
    /// The package. Required.
    pub name: String,
    /// `install`, `hold`, `deinstall` or `purge`. Required.
    pub selection: String,
}

/// A package's selection in dpkg's database (`install`, `hold`, …; `not present` when
/// dpkg has none), as `dpkg --get-selections <name>` prints it: the `dpkg_selections`
/// module's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection(pub String);

impl Fact for Selection {
    /// The package's name.
    type Query = String;

    fn command(name: &String) -> RemoteCommand {
        RemoteCommand::argv(["dpkg", "--get-selections", name.as_str()])
    }

    fn parse(name: &String, out: &ExecOutput) -> Result<Self, String> {
        let current = out
            .stdout_str()
            .lines()
            .find_map(|l| {
                let mut w = l.split_whitespace();
                let n = w.next()?;
                (n == name || n.split(':').next() == Some(name.as_str()))
                    .then(|| w.next().unwrap_or("").to_string())
            })
            .unwrap_or_else(|| "not present".to_string());
        Ok(Selection(current))
    }
}

impl Planned for DpkgSelections {
    type Params = DpkgSelectionsParams;
    type Facts = Selection;

    fn name(&self) -> &'static str {
        "ansible.builtin.dpkg_selections"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name", "selection"]
    }

    fn probe(&self, p: &DpkgSelectionsParams, _ctx: PlanCtx) -> Result<Probe<Selection>, String> {
        Ok(Probe::fact(p.name.clone()))
    }

    fn plan(
        &self,
        p: &DpkgSelectionsParams,
        facts: &Selection,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        if !["install", "hold", "deinstall", "purge"].contains(&p.selection.as_str()) {
            return Err(format!(
                "selection must be one of install, hold, deinstall, purge; got {}",
                p.selection
            ));
        }
        let current = facts.0.clone();
        let mut plan = Plan::default();
        if current != p.selection {
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::shell(format!(
                    "printf '%s %s\\n' {} {} | dpkg --set-selections",
                    quote(&p.name),
                    quote(&p.selection)
                )),
            });
        }
        plan.result.insert("before".into(), Value::String(current));
        plan.result
            .insert("after".into(), Value::String(p.selection.clone()));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of};
    use serde_json::json;

    #[test]
    fn hold_an_installed_package() {
        let p: DpkgSelectionsParams = params(json!({"name": "kubelet", "selection": "hold"}));
        insta::assert_yaml_snapshot!(plan_of(
            &DpkgSelections,
            &p,
            &out("kubelet\t\t\t\t\tinstall\n")
        ));
        let plan = plan_of(&DpkgSelections, &p, &out("kubelet\t\t\t\t\thold\n"));
        assert!(!plan.is_change());
    }

    #[test]
    fn bad_selection() {
        let p: DpkgSelectionsParams = params(json!({"name": "kubelet", "selection": "held"}));
        let e = plan_with(&DpkgSelections, &p, &out(""), PlanCtx::default()).unwrap_err();
        assert!(e.starts_with("selection must be one of"), "{e}");
    }
}
