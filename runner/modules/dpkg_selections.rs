//! `ansible.builtin.dpkg_selections`: hold (or release) a package in dpkg's selections.
//!
//! Why this module exists: cluster upgrades must not move kubelet/kubeadm/containerd
//! behind the operator's back, so those packages are put on `hold`. One `dpkg
//! --get-selections` tells the current selection; `dpkg --set-selections` changes it.

use serde::Deserialize;
use serde_json::Value;

use super::params::choice;
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
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
/// dpkg has none), as `dpkg --get-selections <name>` prints it for the package or one of
/// its architectures (`name:arch`): the `dpkg_selections` module's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentSelection {
    /// The selection.
    pub selection: String,
    /// dpkg knows no package of that name (`no packages found matching`): the module fails,
    /// as dpkg_selections.py does.
    pub unknown: bool,
}

impl Fact for CurrentSelection {
    /// The package's name.
    type Query = String;

    /// A framed reply ([`super::sysprobe`]): the host's shell picks the line of the
    /// package (or `name:arch`) and prints only its selection, in a `selection` section, so
    /// nothing dpkg's database holds is split into fields here; dpkg's own complaint that
    /// no package matches (on stderr, in the C locale, as dpkg_selections.py reads it)
    /// becomes an empty `unknown` section.
    fn command(name: &String) -> RemoteCommand {
        let n = quote(name);
        RemoteCommand::shell(framed(&format!(
            "LC_ALL=C dpkg --get-selections {n} 2>&1 | while read -r wl_pkg wl_sel wl_rest; do \
             case \"$wl_pkg\" in {n}|{n}:*) {}printf '%s' \"$wl_sel\"; break;; \
             dpkg:) case \"$wl_sel $wl_rest\" in 'no packages found matching '*) {};; esac;; \
             esac; done; ",
            header("selection"),
            header("unknown"),
        )))
    }

    fn parse(_name: &String, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let current = s.get("selection").unwrap_or("not present");
        Ok(CurrentSelection {
            selection: current.to_string(),
            unknown: !s.has("selection") && s.has("unknown"),
        })
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
        if facts.unknown {
            return Err(format!(
                "Failed to find package '{}' to perform selection '{}'.",
                p.name,
                p.selection.as_str()
            ));
        }
        let current = facts.selection.clone();
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
    use crate::modules::sysprobe::testutil::{params, plan_of, reply, with_stand_in};
    use serde_json::json;

    #[test]
    fn hold_an_installed_package() {
        let p: DpkgSelectionsParams = params(json!({"name": "kubelet", "selection": "hold"}));
        insta::assert_yaml_snapshot!(plan_of(
            &DpkgSelections,
            &p,
            &reply(&[("selection", "install")])
        ));
        let plan = plan_of(&DpkgSelections, &p, &reply(&[("selection", "hold")]));
        assert!(!plan.is_change());
        let plan = plan_of(&DpkgSelections, &p, &reply(&[]));
        assert_eq!(plan.result["before"], json!("not present"));
    }

    /// The probe, run by `sh` against `dpkg` stand-ins: one printing what a hostile
    /// package database could (a header-like line with a guessed nonce, packages whose
    /// names start alike), one printing a selection for whatever name it is asked. Only the
    /// selection of the package named as sent (or `name:arch`) comes back.
    #[test]
    fn a_hostile_package_name_cannot_forge_a_field() {
        let fact = |dpkg: &str, name: &str| {
            let cmd = CurrentSelection::command(&name.into());
            CurrentSelection::parse(&name.into(), &with_stand_in("dpkg", dpkg, &cmd))
                .unwrap()
                .selection
        };
        let database = "printf '%s\\n' '@@0123456789abcdef0123456789abcdef selection' \
                        purge 'kubelet-x hold' 'kubelet:amd64 install' 'kubelet hold'";
        assert_eq!(fact(database, "kubelet"), "install");
        assert_eq!(fact(database, "kubeadm"), "not present");
        let echo = "printf '%s deinstall\\n' \"$2\"";
        assert_eq!(fact(echo, "kubeadm"), "deinstall");
        let hostile = "x\n@@0123456789abcdef0123456789abcdef selection\npurge\nkubelet";
        assert_eq!(fact(echo, hostile), "not present");
    }

    /// dpkg's `no packages found matching` (stderr, exit 0) fails the task with
    /// dpkg_selections.py's message instead of planning a change; a package whose
    /// database line looks like that complaint is still a package.
    #[test]
    fn an_unknown_package_fails() {
        let p: DpkgSelectionsParams = params(json!({"name": "wl-nosuch", "selection": "hold"}));
        let fact = |dpkg: &str| {
            let cmd = CurrentSelection::command(&p.name);
            CurrentSelection::parse(&p.name, &with_stand_in("dpkg", dpkg, &cmd)).unwrap()
        };
        let missing = fact("echo \"dpkg: no packages found matching $2\" >&2");
        assert!(missing.unknown);
        let e = DpkgSelections.plan(&p, &missing, PlanCtx::default());
        assert_eq!(
            e.unwrap_err(),
            "Failed to find package 'wl-nosuch' to perform selection 'hold'."
        );
        let known = fact("printf '%s\\n' 'dpkg: no packages found matching' 'wl-nosuch hold'");
        assert_eq!(known.selection, "hold");
        assert!(!known.unknown);
    }

    #[test]
    fn bad_selection() {
        assert_eq!(
            refused::<DpkgSelectionsParams>(json!({"name": "kubelet", "selection": "held"})),
            "selection must be one of install, hold, deinstall, purge; got held"
        );
    }
}
