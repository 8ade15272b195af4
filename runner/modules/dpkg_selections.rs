//! `ansible.builtin.dpkg_selections`: hold (or release) a package in dpkg's selections.
//!
//! Why this module exists: cluster upgrades must not move kubelet/kubeadm/containerd
//! behind the operator's back, so those packages are put on `hold`. One `dpkg
//! --get-selections` tells the current selection; `dpkg --set-selections` changes it.

use serde::Deserialize;
use serde_json::Value;

use super::params::choice;
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
    pub selection: Selection,
}

choice! {
    /// `dpkg_selections`'s `selection` (choices in lib/ansible/modules/dpkg_selections.py): the
    /// word `dpkg --set-selections` takes.
    pub enum Selection {
        /// The package is selected for installation.
        Install = "install",
        /// The package is held at its version: upgrades leave it alone.
        Hold = "hold",
        /// The package is selected for removal, keeping its configuration files.
        Deinstall = "deinstall",
        /// The package is selected for removal with its configuration files.
        Purge = "purge",
    }
    else "selection must be one of install, hold, deinstall, purge; got {got}"
}

/// A package's selection in dpkg's database (`install`, `hold`, …; `not present` when
/// dpkg has none), as `dpkg --get-selections <name>` prints it: the `dpkg_selections`
/// module's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentSelection(pub String);

impl Fact for CurrentSelection {
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
        Ok(CurrentSelection(current))
    }
}

impl Planned for DpkgSelections {
    type Params = DpkgSelectionsParams;
    type Facts = CurrentSelection;

    fn name(&self) -> &'static str {
        "ansible.builtin.dpkg_selections"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name", "selection"]
    }

    fn probe(
        &self,
        p: &DpkgSelectionsParams,
        _ctx: PlanCtx,
    ) -> Result<Probe<CurrentSelection>, String> {
        Ok(Probe::fact(p.name.clone()))
    }

    fn plan(
        &self,
        p: &DpkgSelectionsParams,
        facts: &CurrentSelection,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        let current = facts.0.clone();
        let mut plan = Plan::default();
        if current != p.selection.as_str() {
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::shell(format!(
                    "printf '%s %s\\n' {} {} | dpkg --set-selections",
                    quote(&p.name),
                    quote(p.selection.as_str())
                )),
            });
        }
        plan.result.insert("before".into(), Value::String(current));
        plan.result
            .insert("after".into(), Value::String(p.selection.as_str().into()));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;
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
        assert_eq!(
            refused::<DpkgSelectionsParams>(json!({"name": "kubelet", "selection": "held"})),
            "selection must be one of install, hold, deinstall, purge; got held"
        );
    }
}
