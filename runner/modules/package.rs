//! `ansible.builtin.package`: the distribution's package manager, generically.
//!
//! Why this module exists: roles written for several distributions say `package:` instead
//! of `apt:`. windlass targets Debian-family hosts, so `package` is `apt` with the generic
//! parameters (`name`, `state`, `use`); a host without apt-get fails with a clear message
//! from the probe.

use serde::Deserialize;

use super::TaskResult;
use super::apt::{AptFacts, AptParams, AptQuery, AptState, finish_apt, plan_apt};
use super::params::{choice, string_list};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::transport::ExecOutput;

/// `package`.
pub struct Package;

/// Parameters of `package`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageParams {
    /// Package names (list or comma-separated; `pkg=version` pins). Required.
    #[serde(deserialize_with = "string_list")]
    pub name: Vec<String>,
    /// `present`, `absent` or `latest` (`installed` and `removed` are read as `present` and
    /// `absent`). Required, as in Ansible.
    pub state: PackageState,
    /// The package manager: `auto` (default) or `apt`.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
}

choice! {
    /// package's `state`. lib/ansible/modules/package.py passes any word on to the package
    /// manager's module; with apt behind it, these are the ones that mean something.
    pub enum PackageState {
        /// The packages are installed (apt's `present`; `installed` too).
        Present = "present" | "installed",
        /// The packages are not installed (apt's `absent`; `removed` too).
        Absent = "absent" | "removed",
        /// The packages are at the newest version (apt's `latest`).
        Latest = "latest",
    }
    else "state must be one of present, absent, latest; got {got}"
}

fn as_apt(p: &PackageParams) -> Result<AptParams, String> {
    match p.use_.as_deref() {
        None | Some("auto") | Some("apt") => {}
        Some(o) => {
            return Err(format!(
                "use={o} is not supported: windlass manages packages with apt"
            ));
        }
    }
    let state = match p.state {
        PackageState::Present => AptState::Present,
        PackageState::Absent => AptState::Absent,
        PackageState::Latest => AptState::Latest,
    };
    Ok(AptParams {
        name: p.name.clone(),
        state: Some(state),
        dpkg_options: "force-confdef,force-confold".into(),
        ..AptParams::default()
    })
}

impl Planned for Package {
    type Params = PackageParams;
    type Facts = AptFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.package"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name", "state"]
    }

    fn probe(&self, p: &PackageParams, _ctx: PlanCtx) -> Result<Probe<AptFacts>, String> {
        let a = as_apt(p)?;
        Ok(Probe::fact(AptQuery {
            need_policy: a.state == Some(AptState::Latest)
                || a.name.iter().any(|n| n.contains('=')),
            names: a.name,
            deb: None,
        }))
    }

    fn plan(&self, p: &PackageParams, facts: &AptFacts, ctx: PlanCtx) -> Result<Plan, String> {
        plan_apt(&as_apt(p)?, facts, ctx)
    }

    fn finish(&self, _p: &PackageParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        finish_apt(result, outputs, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of};
    use serde_json::json;

    #[test]
    fn package_is_apt_on_debian() {
        let p: PackageParams = params(json!({"name": ["conntrack", "socat"], "state": "present"}));
        let facts = out(
            "@@aptget\n/usr/bin/apt-get\n@@now\n1\n@@stamp\n1\n@@dpkg\nsocat\tinstall ok installed\t1.7\n@@end\n",
        );
        insta::assert_yaml_snapshot!(plan_of(&Package, &p, &facts));
    }

    #[test]
    fn no_apt_no_package() {
        let p: PackageParams = params(json!({"name": "x", "state": "present"}));
        let e = plan_with(&Package, &p, &out("@@aptget\n@@end\n"), PlanCtx::default()).unwrap_err();
        assert!(e.contains("apt-get was not found"), "{e}");
        let p: PackageParams = params(json!({"name": "x", "state": "present", "use": "dnf"}));
        assert!(
            Package
                .probe(&p, PlanCtx::default())
                .unwrap_err()
                .contains("use=dnf")
        );
    }
}
