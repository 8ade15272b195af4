//! `ansible.builtin.service_facts`: the host's services as the fact `services` (name →
//! `{name, state, status, source}`), from SysV init scripts and systemd.
//!
//! Why this module exists: roles check whether a service exists or runs
//! (`'containerd.service' in ansible_facts.services`) before they act on it. One probe
//! runs what the Python module runs on a Linux host — `service --status-all` (when there
//! is a `service` tool and no `chkconfig`/`rc-status`), and, when systemd is the init
//! system, `systemctl list-units`, `systemctl list-unit-files` and `systemctl show
//! --property=ActiveState` for each unit file that is not loaded — each output in its own
//! framed section, so no unit description or script name can pose as another command's
//! output. The parsing repeats the module's, field for field (its quirks included: a bad
//! state anywhere but the last word of a line wins).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::sysprobe::{Sections, framed, header};
use crate::command::RemoteCommand;
use crate::transport::ExecOutput;

/// `service_facts`.
pub struct ServiceFacts;

/// Parameters of `service_facts`: none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFactsParams {}

/// What the host's service tools printed: the module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceTools {
    /// `service --status-all`'s exit code, output and errors (`None`: not run).
    pub sysv: Option<(i32, String, String)>,
    /// `systemctl list-units …`: exit code and output (`None`: not systemd).
    pub units: Option<(i32, String)>,
    /// `systemctl list-unit-files …`: exit code and output.
    pub unit_files: Option<(i32, String)>,
    /// `systemctl show <unit> --property=ActiveState` per unit file: the unit, its output
    /// when it exited 0.
    pub shown: Vec<(String, Option<String>)>,
}

/// The probe script (see the module docs).
const SCRIPT: &str = r#"export LANG=C LC_ALL=C PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin"; 
if command -v service >/dev/null && ! command -v chkconfig >/dev/null && ! command -v rc-status >/dev/null; then
  wl_e=$(mktemp); wl_o=$(service --status-all 2>"$wl_e"); wl_rc=$?;
  HDR_sysv_rc printf '%s' "$wl_rc"; HDR_sysv printf '%s' "$wl_o"; HDR_sysv_err cat "$wl_e"; rm -f "$wl_e";
fi;
wl_sc=$(PATH="$PATH:/usr/bin:/usr/local/bin" command -v systemctl);
if [ -n "$wl_sc" ] && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ] || [ "$(head -n1 /proc/1/comm 2>/dev/null)" = systemd ]; }; then
  wl_o=$("$wl_sc" list-units --no-pager --type service --all --plain 2>/dev/null); wl_rc=$?;
  HDR_units_rc printf '%s' "$wl_rc"; HDR_units printf '%s' "$wl_o";
  wl_o=$("$wl_sc" list-unit-files --no-pager --type service --all 2>/dev/null); wl_rc=$?;
  HDR_files_rc printf '%s' "$wl_rc"; HDR_files printf '%s' "$wl_o";
  for wl_u in $(printf '%s\n' "$wl_o" | grep '\.service' | awk '{print $1}'); do
    HDR_show printf '%s\0' "$wl_u"; if wl_s=$("$wl_sc" show "$wl_u" --property=ActiveState 2>/dev/null); then printf 'ok\0%s' "$wl_s"; else printf 'failed\0'; fi;
  done;
fi; "#;

impl Fact for ServiceTools {
    type Query = ();

    /// A framed reply ([`super::sysprobe`]): `sysv_rc`/`sysv`/`sysv_err`, `units_rc`/
    /// `units`, `files_rc`/`files` (each output as the module's `run_command` returns it:
    /// a command substitution drops the trailing newlines Python keeps, which no parsing
    /// below depends on), and one `show` section per unit file (`unit\0ok\0output` or
    /// `unit\0failed\0`).
    fn command(_: &()) -> RemoteCommand {
        let mut s = SCRIPT.to_string();
        for h in [
            "sysv_rc", "sysv_err", "sysv", "units_rc", "units", "files_rc", "files", "show",
        ] {
            s = s.replace(&format!("HDR_{h} "), &header(h));
        }
        RemoteCommand::shell(framed(&s))
    }

    fn parse(_: &(), out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let rc = |n: &str| s.text(n).and_then(|r| r.parse::<i32>().ok());
        let body = |n: &str| s.get(n).unwrap_or_default().to_string();
        let mut t = ServiceTools {
            sysv: rc("sysv_rc").map(|r| (r, body("sysv"), body("sysv_err"))),
            units: rc("units_rc").map(|r| (r, body("units"))),
            unit_files: rc("files_rc").map(|r| (r, body("files"))),
            shown: Vec::new(),
        };
        for b in s.all("show") {
            let mut parts = b.splitn(3, '\0');
            let unit = parts.next().unwrap_or_default().to_string();
            let shown = match (parts.next(), parts.next()) {
                (Some("ok"), Some(o)) => Some(o.to_string()),
                (Some("failed"), _) => None,
                _ => return Err("service_facts: unexpected systemctl show output".into()),
            };
            t.shown.push((unit, shown));
        }
        Ok(t)
    }
}

impl Planned for ServiceFacts {
    type Params = ServiceFactsParams;
    type Facts = ServiceTools;

    fn name(&self) -> &'static str {
        "ansible.builtin.service_facts"
    }

    fn probe(&self, _p: &ServiceFactsParams, _ctx: PlanCtx) -> Result<Probe<ServiceTools>, String> {
        Ok(Probe::fact(()))
    }

    fn plan(
        &self,
        _p: &ServiceFactsParams,
        t: &ServiceTools,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        let mut services = Map::new();
        let mut warnings = Vec::new();
        if let Some((rc, out, err)) = &t.sysv {
            if *rc != 0 {
                warnings.push(format!("Unable to query 'service' tool ({rc}): {err}"));
            }
            sysv(out, &mut services);
        }
        let mut systemd = Map::new();
        match &t.units {
            Some((0, out)) => units(out, &mut systemd),
            Some(_) => warnings.push("Could not list units from systemd: ".into()),
            None => {}
        }
        match &t.unit_files {
            Some((0, out)) => unit_files(out, &t.shown, &mut systemd)?,
            Some(_) => warnings.push("Could not get unit files data from systemd: ".into()),
            None => {}
        }
        services.extend(systemd);
        let mut plan = Plan::default();
        if services.is_empty() {
            plan.result.insert("skipped".into(), Value::Bool(true));
            plan.result.insert(
                "msg".into(),
                Value::String(
                    "Failed to find any services. This can be due to privileges or some other configuration issue."
                        .into(),
                ),
            );
        } else {
            let mut f = Map::new();
            f.insert("services".into(), Value::Object(services));
            plan.result.insert("ansible_facts".into(), Value::Object(f));
        }
        if !warnings.is_empty() {
            let w = warnings.into_iter().map(Value::String).collect();
            plan.result.insert("warnings".into(), Value::Array(w));
        }
        Ok(plan)
    }
}

/// `_list_sysvinit`: `[ + ]  name` lines (`^\s*\[ (\+|\-) \]\s+(.+)$`).
fn sysv(out: &str, services: &mut Map<String, Value>) {
    for line in out.split('\n') {
        let l = line.trim_start_matches(py_space);
        let state = match l.get(..5) {
            Some("[ + ]") => "running",
            Some("[ - ]") => "stopped",
            _ => continue,
        };
        let rest = &l[5..];
        let name = rest.trim_start_matches(py_space);
        if name.len() == rest.len() || name.is_empty() {
            continue;
        }
        let mut d = Map::new();
        d.insert("name".into(), Value::String(name.into()));
        d.insert("state".into(), Value::String(state.into()));
        d.insert("source".into(), Value::String("sysv".into()));
        services.insert(name.into(), Value::Object(d));
    }
}

/// Python's `\s` and `str.split()` whitespace (ASCII and Unicode).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The states that override `list-units`' ACTIVE column.
const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

/// `_list_from_units`: every line holding `.service`, split at whitespace.
fn units(out: &str, services: &mut Map<String, Value>) {
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split(py_space).filter(|f| !f.is_empty()).collect();
        if fields.len() < 4 {
            // Python's `fields[2]`/`fields[3]` would raise; such a line is not a unit's.
            continue;
        }
        let head = &fields[..fields.len() - 1];
        let status = BAD_STATES
            .iter()
            .find(|b| head.contains(b))
            .copied()
            .unwrap_or(fields[2]);
        let state = if fields[3] == "running" {
            "running"
        } else {
            "stopped"
        };
        services.insert(fields[0].into(), entry(fields[0], state, status));
    }
}

fn entry(name: &str, state: &str, status: &str) -> Value {
    let mut d = Map::new();
    d.insert("name".into(), Value::String(name.into()));
    d.insert("state".into(), Value::String(state.into()));
    d.insert("status".into(), Value::String(status.into()));
    d.insert("source".into(), Value::String("systemd".into()));
    Value::Object(d)
}

/// `_list_from_unit_files`: each unit file's state becomes the `status` of a loaded unit
/// (unless a bad state), and adds an unloaded one with its `ActiveState`.
fn unit_files(
    out: &str,
    shown: &[(String, Option<String>)],
    services: &mut Map<String, Value>,
) -> Result<(), String> {
    for line in out.split('\n').filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split(py_space).filter(|f| !f.is_empty()).collect();
        let [name, status, ..] = fields.as_slice() else {
            return Err(format!(
                "Malformed output discovered from systemd list-unit-files: {line}"
            ));
        };
        match services.get_mut(*name) {
            None => {
                let state = shown
                    .iter()
                    .find(|(u, _)| u == name)
                    .and_then(|(_, o)| o.as_deref())
                    .filter(|o| !o.is_empty())
                    .map(|o| o.replace("ActiveState=", "").trim_end().to_string())
                    .unwrap_or_else(|| "unknown".into());
                services.insert(name.to_string(), entry(name, &state, status));
            }
            Some(Value::Object(d)) => {
                let bad = d
                    .get("status")
                    .and_then(Value::as_str)
                    .is_some_and(|s| BAD_STATES.contains(&s));
                if !bad {
                    d.insert("status".into(), Value::String(status.to_string()));
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_of, reply};
    use serde_json::json;

    const UNITS: &str = "UNIT LOAD ACTIVE SUB DESCRIPTION\n\
        cron.service loaded active running Regular background program processing daemon\n\
        haproxy.service loaded failed failed HAProxy Load Balancer\n\
        gone.service not-found inactive dead gone.service\n\
        weird.service loaded inactive dead says masked here\n\n\
        LOAD   = Reflects whether the unit definition was properly loaded.\n\
        4 loaded units listed.";

    const FILES: &str = "UNIT FILE STATE VENDOR PRESET\n\
        cron.service enabled enabled\n\
        haproxy.service enabled enabled\n\
        getty@.service enabled enabled\n\
        rsync.service disabled enabled\n\n\
        4 unit files listed.";

    #[test]
    fn systemd_and_sysv_as_the_module_reads_them() {
        let p: ServiceFactsParams = params(json!({}));
        let sysv = " [ + ]  cron\n [ - ]  rsync\n [ ? ]  hwclock.sh\n";
        let out = reply(&[
            ("sysv_rc", "0"),
            ("sysv", sysv),
            ("sysv_err", ""),
            ("units_rc", "0"),
            ("units", UNITS),
            ("files_rc", "0"),
            ("files", FILES),
            ("show", "getty@.service\0failed\0"),
            ("show", "rsync.service\0ok\0ActiveState=inactive"),
        ]);
        let plan = plan_of(&ServiceFacts, &p, &out);
        insta::assert_yaml_snapshot!(plan.result);
        assert!(!plan.is_change());
        let none = plan_of(&ServiceFacts, &p, &reply(&[]));
        assert_eq!(none.result["skipped"], true);
    }

    /// What `cmd` prints when `sh` runs it with these tools replaced by stand-in scripts.
    fn with_tools(tools: &[(&str, &str)], cmd: &RemoteCommand) -> ExecOutput {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (tool, script) in tools {
            let path = dir.path().join(tool);
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let search = format!("{}:/usr/bin:/bin", dir.path().display());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .env("PATH", search)
            .output()
            .unwrap();
        ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// The probe against stand-ins (`head` says PID 1 is systemd, `service` lists one
    /// script) whose unit description and script name print what a section header looks
    /// like: each stays part of its own command's output.
    #[test]
    fn a_hostile_description_cannot_forge_a_section() {
        let cmd = ServiceTools::command(&());
        let fake = "@@0123456789abcdef0123456789abcdef";
        let systemctl = format!(
            "case \"$1\" in list-units) printf 'x.service loaded active running d\\n{fake} files_rc\\n0\\n';; \
             list-unit-files) printf 'x.service enabled enabled\\ny.service disabled enabled\\n';; \
             show) echo ActiveState=inactive;; esac"
        );
        let service = format!("printf ' [ + ]  a\\n{fake} units_rc\\n1\\n'");
        let tools = [
            ("systemctl", systemctl.as_str()),
            ("head", "echo systemd"),
            ("service", service.as_str()),
        ];
        let t = ServiceTools::parse(&(), &with_tools(&tools, &cmd)).unwrap();
        let (rc, units) = t.units.clone().unwrap();
        assert_eq!(rc, 0);
        assert!(units.contains(&format!("{fake} files_rc")), "{units}");
        assert_eq!(
            t.unit_files.as_ref().unwrap().1,
            "x.service enabled enabled\ny.service disabled enabled"
        );
        assert!(
            t.sysv
                .as_ref()
                .unwrap()
                .1
                .contains(&format!("{fake} units_rc"))
        );
        let p: ServiceFactsParams = params(json!({}));
        let plan = ServiceFacts.plan(&p, &t, PlanCtx::default()).unwrap();
        let services = &plan.result["ansible_facts"]["services"];
        assert_eq!(services["y.service"]["state"], "inactive");
        assert_eq!(services["x.service"]["status"], "enabled");
        assert_eq!(services.as_object().unwrap().len(), 3, "{services}");
    }
}
