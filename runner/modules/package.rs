//! `ansible.builtin.package`: the distribution's package manager, generically.
//!
//! Why this module exists: roles written for several distributions say `package:` instead
//! of `apt:`. windlass targets Debian-family hosts, so `package` is `apt` with the generic
//! parameters (`name`, `state`, `use`) and, as ansible-core's `plugins/action/package.py`
//! passes every other argument on to the package manager's module, apt's own options
//! (`update_cache`, `allow_downgrade`, `install_recommends`, …); a host without apt-get
//! fails with a clear message from the probe.

use serde::Deserialize;

use super::TaskResult;
use super::apt::default_dpkg_options;
use super::apt::{AptFacts, AptParams, AptQuery, AptState, finish_apt, plan_apt};
use super::params::{ansible_bool, choice, opt_ansible_bool, string_list};
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
    /// Passed on to apt: run `apt-get update` first. Alias `update-cache`.
    #[serde(default, alias = "update-cache", deserialize_with = "opt_ansible_bool")]
    pub update_cache: Option<bool>,
    /// Passed on to apt: skip the update when the lists are younger than this many seconds.
    #[serde(default)]
    pub cache_valid_time: Option<u64>,
    /// Passed on to apt: allow installing a lower version than the installed one. Aliases
    /// `allow-downgrade`, `allow_downgrades`, `allow-downgrades`.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "ansible_bool"
    )]
    pub allow_downgrade: bool,
    /// Passed on to apt: install recommended packages. Alias `install-recommends`.
    #[serde(
        default,
        alias = "install-recommends",
        deserialize_with = "opt_ansible_bool"
    )]
    pub install_recommends: Option<bool>,
    /// Passed on to apt: with `state: absent`, also remove configuration files.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub purge: bool,
    /// Passed on to apt: remove packages nobody depends on any more.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub autoremove: bool,
    /// Passed on to apt: `--force-yes`'s old meaning.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Passed on to apt: install from unauthenticated sources. Alias
    /// `allow-unauthenticated`.
    #[serde(
        default,
        alias = "allow-unauthenticated",
        deserialize_with = "ansible_bool"
    )]
    pub allow_unauthenticated: bool,
    /// Passed on to apt: allow changing held packages.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub allow_change_held_packages: bool,
    /// Passed on to apt: only upgrade packages that are already installed.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub only_upgrade: bool,
    /// Passed on to apt: the release to install from (`-t`). Alias `default-release`.
    #[serde(default, alias = "default-release")]
    pub default_release: Option<String>,
    /// Passed on to apt: options for dpkg. Default `force-confdef,force-confold`.
    #[serde(default = "default_dpkg_options")]
    pub dpkg_options: String,
    /// Passed on to apt: seconds to wait for the dpkg lock.
    #[serde(default)]
    pub lock_timeout: Option<u64>,
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
        update_cache: p.update_cache,
        cache_valid_time: p.cache_valid_time,
        deb: None,
        allow_downgrade: p.allow_downgrade,
        install_recommends: p.install_recommends,
        purge: p.purge,
        autoremove: p.autoremove,
        force: p.force,
        allow_unauthenticated: p.allow_unauthenticated,
        allow_change_held_packages: p.allow_change_held_packages,
        only_upgrade: p.only_upgrade,
        default_release: p.default_release.clone(),
        dpkg_options: p.dpkg_options.clone(),
        lock_timeout: p.lock_timeout,
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

    #[test]
    fn apt_options_pass_through() {
        let p: PackageParams = params(json!({
            "name": "x", "state": "present", "allow_downgrade": true,
            "install_recommends": "no", "update_cache": true, "cache_valid_time": 60,
            "default_release": "bookworm-backports", "lock_timeout": 30,
        }));
        let a = as_apt(&p).unwrap();
        assert!(a.allow_downgrade);
        assert_eq!(a.install_recommends, Some(false));
        assert_eq!(a.update_cache, Some(true));
        assert_eq!(a.cache_valid_time, Some(60));
        assert_eq!(a.default_release.as_deref(), Some("bookworm-backports"));
        assert_eq!(a.lock_timeout, Some(30));
        assert_eq!(a.dpkg_options, "force-confdef,force-confold");
        let bad = serde_json::from_value::<PackageParams>(
            json!({"name": "x", "state": "present", "colour": 1}),
        );
        assert!(bad.is_err());
    }
}
