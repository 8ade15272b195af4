//! `ansible.builtin.systemd_service` (alias `systemd`) and `ansible.builtin.service`.
//!
//! Why this module exists: every cluster component (containerd, kubelet, haproxy,
//! keepalived) is a systemd unit that must be enabled and running, restarted by handlers,
//! and reloaded after unit files change. One `systemctl show` tells the unit's state; the
//! plan is the `systemctl` commands Ansible's module would run, in its order: daemon-reload,
//! daemon-reexec, mask/unmask, enable/disable, then start/stop/restart/reload.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::{ansible_bool, choice, opt_ansible_bool};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `systemd_service` / `systemd`.
pub struct Systemd;

/// `service` (on systemd hosts, the same as `systemd_service`).
pub struct Service;

/// Parameters of `systemd_service`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdParams {
    /// The unit (`haproxy`, `kubelet.service`). Aliases `service`, `unit`.
    #[serde(default, alias = "service", alias = "unit")]
    pub name: Option<String>,
    /// `started`, `stopped`, `restarted` (always changes) or `reloaded` (always changes).
    #[serde(default)]
    pub state: Option<ServiceState>,
    /// Whether the unit starts at boot.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub enabled: Option<bool>,
    /// Mask (`true`) or unmask (`false`) the unit.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub masked: Option<bool>,
    /// Run `systemctl daemon-reload` first (does not by itself report a change).
    /// Alias `daemon-reload`. Default `false`.
    #[serde(default, alias = "daemon-reload", deserialize_with = "ansible_bool")]
    pub daemon_reload: bool,
    /// Run `systemctl daemon-reexec` first. Alias `daemon-reexec`. Default `false`.
    #[serde(default, alias = "daemon-reexec", deserialize_with = "ansible_bool")]
    pub daemon_reexec: bool,
    /// Only `system` (the default) is supported.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default)]
    pub scope: Option<SystemdScope>,
    /// Pass `--no-block` to start/stop/restart/reload. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub no_block: bool,
    /// Pass `--force` to enable/disable/mask. Default `false`.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub force: Option<bool>,
}

choice! {
    /// The `state` of `systemd_service` and `service` (choices in lib/ansible/modules/systemd_service.py
    /// and service.py). Unset: the unit is neither started nor stopped.
    pub enum ServiceState {
        /// The unit is active (started when it is not).
        Started = "started",
        /// The unit is inactive (stopped when it is not).
        Stopped = "stopped",
        /// The unit is restarted (started when it is not): always a change.
        Restarted = "restarted",
        /// The unit is reloaded (started when it is not): always a change.
        Reloaded = "reloaded",
    }
    else "state must be one of started, stopped, restarted, reloaded; got {got}"
}

choice! {
    /// `systemd_service`'s `scope`: of Ansible's choices `system`, `user` and `global`
    /// (lib/ansible/modules/systemd_service.py), windlass manages system units only.
    pub enum SystemdScope {
        /// The system's service manager (`systemctl` without `--user`). The default.
        System = "system",
    }
    else "scope {got} is not supported (only system)"
}

/// Parameters of `service`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceParams {
    /// The service name. Required.
    pub name: String,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    #[serde(default)]
    pub state: Option<ServiceState>,
    /// Whether the service starts at boot.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub enabled: Option<bool>,
    /// Seconds between stop and start on restart (systemd restarts atomically; accepted
    /// for compatibility).
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default)]
    pub sleep: Option<u64>,
    /// Process pattern for init systems without status (not needed with systemd).
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default)]
    pub pattern: Option<String>,
    /// OpenRC runlevel (not used with systemd).
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default)]
    pub runlevel: Option<String>,
    /// Extra arguments; must be empty with systemd. Alias `args`.
    #[serde(default, alias = "args")]
    pub arguments: Option<String>,
    /// The service manager: `auto` (default) or `systemd`.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
}

/// The `systemctl show` properties probed and reported under `status`.
pub const PROPS: &[&str] = &[
    "Id",
    "Names",
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "UnitFilePreset",
    "FragmentPath",
    "MainPID",
    "ExecMainStatus",
];

/// A unit name holds no control character (systemd allows none; a newline in one would be
/// data that systemctl's error text repeats).
fn valid_unit_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.chars().any(char::is_control) {
        return Err(format!("invalid unit name {n:?}"));
    }
    Ok(())
}

/// Check the unit name and ask for its [`UnitFacts`].
fn probe_unit(name: Option<&str>) -> Result<Probe<UnitFacts>, String> {
    if let Some(n) = name {
        valid_unit_name(n)?;
        if n.contains(['*', '?', '[']) {
            return Err(format!(
                "this module does not support globs in unit names ({n})"
            ));
        }
    }
    Ok(Probe::fact(name.map(str::to_string)))
}

/// What the host's init and systemd say of a unit (of none: only the init): the
/// `systemd_service` and `service` modules' fact.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnitFacts {
    /// PID 1's name (`systemd`), as `/proc/1/comm` has it.
    pub init: Option<String>,
    /// `systemctl` is on the host.
    pub systemctl: bool,
    /// The unit's properties as `systemctl show` prints them.
    pub status: Map<String, Value>,
    /// `systemctl is-enabled` says enabled (not merely `indirect` or `alias`).
    pub enabled: bool,
}

impl Fact for UnitFacts {
    /// The unit (`None`: only the init and systemctl).
    type Query = Option<String>;

    fn command(name: &Option<String>) -> RemoteCommand {
        let mut script = format!(
            "{}cat /proc/1/comm 2>/dev/null; {}command -v systemctl; ",
            header("init"),
            header("systemctl")
        );
        if let Some(n) = name {
            let q = quote(n);
            script.push_str(&format!(
                "{}systemctl show -p {} -- {q} 2>&1; {}systemctl is-enabled -- {q} 2>/dev/null; echo \"rc=$?\"",
                header("show"),
                PROPS.join(","),
                header("enabled"),
            ));
        }
        RemoteCommand::shell(framed(&script))
    }

    fn parse(_name: &Option<String>, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let mut status = Map::new();
        for line in s.get("show").unwrap_or("").lines() {
            if let Some((k, v)) = line.split_once('=') {
                status.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
        let en = s.get("enabled").unwrap_or("");
        let en_rc = en
            .lines()
            .find_map(|l| l.strip_prefix("rc="))
            .and_then(|r| r.trim().parse::<i32>().ok())
            .unwrap_or(1);
        let en_words: Vec<&str> = en.lines().filter(|l| !l.starts_with("rc=")).collect();
        Ok(UnitFacts {
            init: s.text("init").map(str::to_string),
            systemctl: !s.text("systemctl").unwrap_or("").is_empty(),
            status,
            enabled: en_rc == 0 && en_words != ["indirect"] && en_words != ["alias"],
        })
    }
}

fn systemctl(args: &[&str], unit: &str) -> super::plan::Step {
    let mut argv = vec!["systemctl".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv.push("--".into());
    argv.push(unit.into());
    super::plan::Step::Run {
        cmd: RemoteCommand::argv(argv),
    }
}

fn plan_systemd(p: &SystemdParams, facts: &UnitFacts, ctx: PlanCtx) -> Result<Plan, String> {
    let state = p.state;
    let needs_name = state.is_some() || p.enabled.is_some() || p.masked.is_some();
    if needs_name && p.name.is_none() {
        return Err("name is required when state, enabled or masked is given".into());
    }
    if !needs_name && !p.daemon_reload && !p.daemon_reexec {
        return Err(
            "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec"
                .into(),
        );
    }
    if let Some(n) = p.name.as_deref() {
        valid_unit_name(n)?;
    }
    if !facts.systemctl {
        return Err("systemctl was not found on the host: only systemd hosts are supported".into());
    }
    let mut plan = Plan::default();
    let mut changed = false;
    if p.daemon_reload {
        plan.steps.push(super::plan::Step::Run {
            cmd: RemoteCommand::argv(["systemctl", "daemon-reload"]),
        });
    }
    if p.daemon_reexec {
        plan.steps.push(super::plan::Step::Run {
            cmd: RemoteCommand::argv(["systemctl", "daemon-reexec"]),
        });
    }
    let Some(unit) = p.name.as_deref() else {
        plan.changed = Some(false);
        return Ok(plan);
    };
    let status = facts.status.clone();
    let prop = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or("");
    let load = prop("LoadState").to_string();
    let active = prop("ActiveState").to_string();
    let found = !load.is_empty() && load != "not-found";
    let masked = load == "masked";
    let enabled_now = facts.enabled;
    // A unit file written just before a daemon-reload is not loaded yet: trust the reload.
    // Check mode before the first deploy: the package that brings the unit was only
    // planned by an earlier task, so the unit is not there yet. Plan what the real run
    // would do once it is (enable, start) and say why, instead of failing the plan. With
    // nothing changed before on this host the unit is really missing: fail as a real run.
    let pending = !found && ctx.check && ctx.changed_before;
    if !found && (state.is_some() || p.enabled.is_some()) && !p.daemon_reload && !pending {
        return Err(format!("Could not find the requested service {unit}"));
    }
    if pending {
        plan.result.insert(
            "msg".into(),
            Value::String(format!(
                "service {unit} does not exist yet: planned as an earlier task of this \
                 check run would install it"
            )),
        );
    }
    let force = p.force == Some(true);
    if let Some(m) = p.masked {
        if m != masked {
            let verb = if m { "mask" } else { "unmask" };
            let mut args = vec![verb];
            if force {
                args.push("--force");
            }
            plan.steps.push(systemctl(&args, unit));
            changed = true;
        }
    }
    if let Some(e) = p.enabled {
        if e && masked && p.masked != Some(false) {
            return Err(format!("Unable to enable service {unit}: it is masked"));
        }
        if e != enabled_now {
            let mut args = vec![if e { "enable" } else { "disable" }];
            if force {
                args.push("--force");
            }
            plan.steps.push(systemctl(&args, unit));
            changed = true;
        }
    }
    if let Some(st) = state {
        let running = active == "active" || active == "activating";
        let action = match st {
            ServiceState::Started => (!running).then_some("start"),
            ServiceState::Stopped => (running || active == "deactivating").then_some("stop"),
            _ if !running => Some("start"),
            ServiceState::Restarted => Some("restart"),
            ServiceState::Reloaded => Some("reload"),
        };
        if let Some(a) = action {
            let mut args = vec![a];
            if p.no_block {
                args.push("--no-block");
            }
            plan.steps.push(systemctl(&args, unit));
            changed = true;
        }
        plan.result.insert(
            "state".into(),
            Value::String(
                if st == ServiceState::Stopped {
                    "stopped"
                } else {
                    "started"
                }
                .into(),
            ),
        );
    }
    plan.result
        .insert("name".into(), Value::String(unit.into()));
    if let Some(e) = p.enabled {
        plan.result.insert("enabled".into(), Value::Bool(e));
    }
    if let Some(m) = p.masked {
        plan.result.insert("masked".into(), Value::Bool(m));
    }
    plan.result.insert("status".into(), Value::Object(status));
    plan.changed = Some(changed);
    Ok(plan)
}

impl Planned for Systemd {
    type Params = SystemdParams;
    type Facts = UnitFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.systemd_service"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &[
            "systemd",
            "ansible.builtin.systemd",
            "ansible.legacy.systemd",
        ]
    }

    fn probe(&self, p: &SystemdParams, _ctx: PlanCtx) -> Result<Probe<UnitFacts>, String> {
        probe_unit(p.name.as_deref())
    }

    fn plan(&self, p: &SystemdParams, facts: &UnitFacts, ctx: PlanCtx) -> Result<Plan, String> {
        plan_systemd(p, facts, ctx)
    }
}

fn as_systemd(p: &ServiceParams) -> Result<SystemdParams, String> {
    if let Some(u) = p.use_.as_deref() {
        if u != "auto" && u != "systemd" {
            return Err(format!(
                "use={u} is not supported: windlass manages services with systemd"
            ));
        }
    }
    if p.arguments.as_deref().is_some_and(|a| !a.trim().is_empty()) {
        return Err("arguments are not supported for systemd services".into());
    }
    if p.state.is_none() && p.enabled.is_none() {
        return Err("one of the following is required: state, enabled".into());
    }
    Ok(SystemdParams {
        name: Some(p.name.clone()),
        state: p.state,
        enabled: p.enabled,
        ..SystemdParams::default()
    })
}

impl Planned for Service {
    type Params = ServiceParams;
    type Facts = UnitFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.service"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &ServiceParams, _ctx: PlanCtx) -> Result<Probe<UnitFacts>, String> {
        probe_unit(Some(&p.name))
    }

    fn plan(&self, p: &ServiceParams, facts: &UnitFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let sp = as_systemd(p)?;
        let init = facts.init.as_deref();
        if init != Some("systemd") && p.use_.as_deref() != Some("systemd") {
            return Err(format!(
                "the host's init is {:?}; windlass's service module supports systemd only",
                init.unwrap_or("unknown")
            ));
        }
        plan_systemd(&sp, facts, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of, reply};
    use serde_json::json;

    fn probe(active: &str, load: &str, enabled: &str, rc: i32) -> ExecOutput {
        out(&format!(
            "@@init\nsystemd\n@@systemctl\n/usr/bin/systemctl\n@@show\nId=haproxy.service\n\
             LoadState={load}\nActiveState={active}\nSubState=dead\nUnitFileState={enabled}\n\
             @@enabled\n{enabled}\nrc={rc}\n"
        ))
    }

    #[test]
    fn start_and_enable_a_stopped_unit() {
        let p: SystemdParams =
            params(json!({"name": "haproxy", "state": "started", "enabled": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &Systemd,
            &p,
            &probe("inactive", "loaded", "disabled", 1)
        ));
    }

    #[test]
    fn running_enabled_unit_is_unchanged() {
        let p: SystemdParams =
            params(json!({"name": "haproxy", "state": "started", "enabled": "yes"}));
        let plan = plan_of(&Systemd, &p, &probe("active", "loaded", "enabled", 0));
        assert!(plan.steps.is_empty());
        assert!(!plan.is_change());
        // static units count as enabled
        let plan = plan_of(&Systemd, &p, &probe("active", "loaded", "static", 0));
        assert!(!plan.is_change());
    }

    #[test]
    fn restarted_always_changes_and_daemon_reload_first() {
        let p: SystemdParams =
            params(json!({"name": "kubelet", "state": "restarted", "daemon_reload": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &Systemd,
            &p,
            &probe("active", "loaded", "enabled", 0)
        ));
    }

    #[test]
    fn daemon_reload_alone_is_not_a_change() {
        let p: SystemdParams = params(json!({"daemon_reload": true}));
        let plan = plan_of(
            &Systemd,
            &p,
            &out("@@init\nsystemd\n@@systemctl\n/bin/systemctl\n"),
        );
        assert_eq!(plan.steps.len(), 1);
        assert!(!plan.is_change());
    }

    #[test]
    fn service_stops_and_masks_via_systemd() {
        let p: ServiceParams =
            params(json!({"name": "haproxy", "state": "stopped", "enabled": false}));
        insta::assert_yaml_snapshot!(plan_of(
            &Service,
            &p,
            &probe("active", "loaded", "enabled", 0)
        ));
        let p: SystemdParams = params(json!({"name": "haproxy", "masked": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &Systemd,
            &p,
            &probe("inactive", "loaded", "disabled", 1)
        ));
    }

    #[test]
    fn missing_unit_in_check_mode() {
        let p: SystemdParams =
            params(json!({"name": "containerd", "state": "started", "enabled": true}));
        let missing = probe("inactive", "not-found", "", 4);
        // Nothing planned before on this host: the unit is really missing.
        for ctx in [
            PlanCtx {
                check: true,
                ..PlanCtx::default()
            },
            PlanCtx {
                changed_before: true,
                ..PlanCtx::default()
            },
        ] {
            let e = plan_with(&Systemd, &p, &missing, ctx).unwrap_err();
            assert_eq!(e, "Could not find the requested service containerd");
        }
        // An earlier task of the check run would install it: plan enable + start.
        let plan = plan_with(
            &Systemd,
            &p,
            &missing,
            PlanCtx {
                check: true,
                changed_before: true,
                ..PlanCtx::default()
            },
        )
        .unwrap();
        assert!(plan.is_change());
        let cmds: Vec<String> = plan
            .steps
            .iter()
            .map(|s| match s {
                crate::modules::plan::Step::Run { cmd } => cmd.to_shell(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            cmds,
            [
                "systemctl enable -- containerd",
                "systemctl start -- containerd"
            ]
        );
        assert!(
            plan.result["msg"]
                .as_str()
                .unwrap()
                .contains("does not exist yet"),
            "{:?}",
            plan.result
        );
    }

    #[test]
    fn bad_parameters_and_missing_unit() {
        let p: SystemdParams = params(json!({"name": "nosuch", "state": "started"}));
        let e = plan_with(
            &Systemd,
            &p,
            &probe("inactive", "not-found", "", 4),
            PlanCtx::default(),
        )
        .unwrap_err();
        assert_eq!(e, "Could not find the requested service nosuch");
        assert_eq!(
            refused::<SystemdParams>(json!({"name": "x", "state": "running"})),
            "state must be one of started, stopped, restarted, reloaded; got running"
        );
        assert_eq!(
            refused::<ServiceParams>(json!({"name": "x", "state": "running"})),
            "state must be one of started, stopped, restarted, reloaded; got running"
        );
        assert_eq!(
            refused::<SystemdParams>(json!({"name": "x", "scope": "user"})),
            "scope user is not supported (only system)"
        );
        let p: SystemdParams = params(json!({"state": "started"}));
        assert!(plan_with(&Systemd, &p, &out(""), PlanCtx::default()).is_err());
    }

    /// What `systemctl show` prints (its error text repeats the unit name) cannot fake
    /// the is-enabled answer after it; a unit name with a control character is refused
    /// (systemd allows none) before anything runs.
    #[test]
    fn show_text_cannot_fake_is_enabled() {
        let p: SystemdParams = params(json!({"name": "haproxy", "enabled": true}));
        let facts = reply(&[
            ("init", "systemd\n"),
            ("systemctl", "/usr/bin/systemctl\n"),
            (
                "show",
                "Id=haproxy.service\nLoadState=loaded\nActiveState=active\n@@enabled\nenabled\nrc=0\n",
            ),
            ("enabled", "disabled\nrc=1\n"),
        ]);
        let plan = plan_of(&Systemd, &p, &facts);
        assert!(plan.is_change(), "{plan:?}");
        let bad: SystemdParams =
            params(json!({"name": "x\nLoadState=loaded\nActiveState=active", "state": "started"}));
        let e = Systemd.probe(&bad, PlanCtx::default()).unwrap_err();
        assert!(e.contains("invalid unit name"), "{e}");
        let e = plan_with(&Systemd, &bad, &facts, PlanCtx::default()).unwrap_err();
        assert!(e.contains("invalid unit name"), "{e}");
    }
}
