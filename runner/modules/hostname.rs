//! `ansible.builtin.hostname`: set the host's name, now and across reboots.
//!
//! Why this module exists: Kubernetes node names come from host names, so they must match
//! the inventory. One probe reads `/etc/hostname`, the running name and whether systemd is
//! PID 1; the plan writes `/etc/hostname` and sets the running name (`hostnamectl` under
//! systemd, `hostname NAME` otherwise).

use serde::Deserialize;
use serde_json::{Value, json};

use super::params::choice;
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{PRELUDE, Sections, header};
use crate::command::RemoteCommand;
use crate::transport::ExecOutput;

/// `hostname`.
pub struct Hostname;

/// Parameters of `hostname`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostnameParams {
    /// The host name. Required.
    pub name: String,
    /// The strategy: `systemd` or `debian` (default: `systemd` when systemd is PID 1, else
    /// `debian`).
    #[serde(default, rename = "use")]
    pub use_: Option<Strategy>,
}

choice! {
    /// `hostname`'s `use`: of Ansible's strategies (STRATS in lib/ansible/modules/hostname.py),
    /// the two of Debian-family hosts.
    pub enum Strategy {
        /// `hostnamectl` sets the name (and `/etc/hostname`).
        Systemd = "systemd",
        /// `/etc/hostname` is written and `hostname` sets the running name.
        Debian = "debian",
    }
    else "use={got} is not supported (systemd, debian)"
}

/// The host's names and how to change them: the `hostname` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostNames {
    /// `/etc/hostname` as it is (empty when missing).
    pub etc_hostname: String,
    /// The running host name (`hostname`).
    pub current: String,
    /// PID 1's name (`systemd`).
    pub init: Option<String>,
    /// `hostnamectl` is on the host.
    pub hostnamectl: bool,
}

impl Fact for HostNames {
    type Query = ();

    fn command(_: &()) -> RemoteCommand {
        RemoteCommand::shell(format!(
            "{PRELUDE}{}cat /etc/hostname 2>/dev/null; {}hostname; {}cat /proc/1/comm 2>/dev/null; {}command -v hostnamectl; {}",
            header("etc"),
            header("current"),
            header("init"),
            header("hostnamectl"),
            header("end"),
        ))
    }

    fn parse(_: &(), out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(HostNames {
            etc_hostname: s.get("etc").unwrap_or("").to_string(),
            current: s.text("current").unwrap_or("").to_string(),
            init: s.text("init").map(str::to_string),
            hostnamectl: !s.text("hostnamectl").unwrap_or("").is_empty(),
        })
    }
}

impl Planned for Hostname {
    type Params = HostnameParams;
    type Facts = HostNames;

    fn name(&self) -> &'static str {
        "ansible.builtin.hostname"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, _p: &HostnameParams, _ctx: PlanCtx) -> Result<Probe<HostNames>, String> {
        Ok(Probe::fact(()))
    }

    fn plan(&self, p: &HostnameParams, facts: &HostNames, _ctx: PlanCtx) -> Result<Plan, String> {
        let name = p.name.trim();
        if name.is_empty()
            || name.len() > 253
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!("invalid host name {name:?}"));
        }
        let systemd = facts.init.as_deref() == Some("systemd") && facts.hostnamectl;
        let strategy = match p.use_ {
            None if systemd => Strategy::Systemd,
            None => Strategy::Debian,
            Some(u) => u,
        };
        let before = facts.etc_hostname.clone();
        let permanent = before
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let current = facts.current.as_str();
        let mut plan = Plan::default();
        if strategy == Strategy::Systemd {
            if permanent != name {
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(["hostnamectl", "--static", "set-hostname", name]),
                });
                plan.diffs.push(FileDiff {
                    path: "/etc/hostname".into(),
                    before,
                    after: format!("{name}\n"),
                    ..Default::default()
                });
            }
            if current != name {
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(["hostnamectl", "--transient", "set-hostname", name]),
                });
            }
        } else {
            if permanent != name {
                plan.steps.push(Step::Write {
                    dest: "/etc/hostname".into(),
                    content: format!("{name}\n").into_bytes(),
                    mode: Some(0o644),
                    owner: None,
                    group: None,
                });
                plan.diffs.push(FileDiff {
                    path: "/etc/hostname".into(),
                    before,
                    after: format!("{name}\n"),
                    ..Default::default()
                });
            }
            if current != name {
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(["hostname", name]),
                });
            }
        }
        let short = name.split('.').next().unwrap_or(name);
        let domain = name.split_once('.').map(|(_, d)| d).unwrap_or("");
        plan.result
            .insert("name".into(), Value::String(name.into()));
        plan.result.insert(
            "ansible_facts".into(),
            json!({"ansible_hostname": short, "ansible_nodename": name,
                   "ansible_fqdn": name, "ansible_domain": domain}),
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of, reply};
    use crate::transport::ExecOutput;
    use serde_json::json;

    fn probe(etc: &str, cur: &str, init: &str) -> ExecOutput {
        out(&format!(
            "@@etc\n{etc}@@current\n{cur}\n@@init\n{init}\n@@hostnamectl\n/usr/bin/hostnamectl\n@@end\n"
        ))
    }

    #[test]
    fn systemd_and_debian_strategies() {
        let p: HostnameParams = params(json!({"name": "node1.k8s.local"}));
        insta::assert_yaml_snapshot!(plan_of(&Hostname, &p, &probe("old\n", "old", "systemd")));
        insta::assert_yaml_snapshot!(plan_of(
            &Hostname,
            &p,
            &probe("old\n", "node1.k8s.local", "init")
        ));
        assert!(
            !plan_of(
                &Hostname,
                &p,
                &probe("node1.k8s.local\n", "node1.k8s.local", "systemd")
            )
            .is_change()
        );
    }

    #[test]
    fn bad_name() {
        let p: HostnameParams = params(json!({"name": "bad name"}));
        let e = plan_with(&Hostname, &p, &probe("", "", ""), PlanCtx::default()).unwrap_err();
        assert!(e.contains("invalid host name"), "{e}");
    }

    /// /etc/hostname's text cannot fake the running host name the next section reports.
    #[test]
    fn etc_hostname_text_cannot_fake_the_current_name() {
        let p: HostnameParams = params(json!({"name": "node1"}));
        let facts = reply(&[
            ("etc", "node1\n@@current\nnode1\n"),
            ("current", "old\n"),
            ("init", "systemd\n"),
            ("hostnamectl", "/usr/bin/hostnamectl\n"),
            ("end", ""),
        ]);
        let plan = plan_of(&Hostname, &p, &facts);
        assert!(
            plan.steps
                .iter()
                .any(|s| matches!(s, Step::Run { cmd } if cmd.to_shell().contains("--transient"))),
            "{plan:?}"
        );
    }
}
