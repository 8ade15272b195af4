//! `community.general.timezone` (what ansible-core 2.19 resolves a bare `timezone` to):
//! set the host's time zone and whether the hardware clock keeps local time, with
//! `timedatectl`, as the collection's module does on a Linux host where `timedatectl`
//! works (its `SystemdTimezone`).
//!
//! Why this module exists: cluster nodes log and rotate certificates by one clock, so
//! their zone is set, once, by the same content. One probe finds `timedatectl`, runs it
//! (a host where it fails takes the module's other code path — editing `/etc/timezone`
//! and linking `/etc/localtime` — which windlass does not model yet, and says so), reads
//! `timedatectl status` and checks that the zone file exists, each in its own framed
//! section; the plan compares the zone and the RTC setting and runs `timedatectl
//! set-local-rtc`/`set-timezone`, then reads the status again to confirm, as the module
//! does.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::TaskResult;
use super::params::choice;
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `timezone`.
pub struct Timezone;

/// Parameters of `timezone`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimezoneParams {
    /// Whether the hardware clock keeps `local` time or `UTC` (also `rtc`).
    #[serde(default, alias = "rtc")]
    pub hwclock: Option<Hwclock>,
    /// The time zone (`Asia/Tokyo`); a file under `/usr/share/zoneinfo` must exist.
    #[serde(default)]
    pub name: Option<String>,
}

choice! {
    /// `timezone`'s `hwclock`.
    pub enum Hwclock {
        /// The RTC keeps local time.
        Local = "local",
        /// The RTC keeps UTC.
        Utc = "UTC",
    }
    else "value of hwclock must be one of: local, UTC, got: {got}"
}

/// What the host said: the module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClockState {
    /// `timedatectl`'s path, when there is one.
    pub timedatectl: Option<String>,
    /// Whether a plain `timedatectl` exited 0.
    pub usable: bool,
    /// `timedatectl status`.
    pub status: String,
    /// Whether `/usr/share/zoneinfo/<name>` is a file (`true` without a name).
    pub zone_file: bool,
}

impl Fact for ClockState {
    /// The zone asked for.
    type Query = Option<String>;

    /// A framed reply ([`super::sysprobe`]): `path`, `usable` (`0` when `timedatectl`
    /// exited 0), `status`, `zonefile`.
    fn command(name: &Option<String>) -> RemoteCommand {
        let zone = match name {
            Some(n) => format!(
                "if [ -f {} ]; then printf yes; else printf no; fi",
                quote(&format!("/usr/share/zoneinfo/{n}"))
            ),
            None => "printf yes".into(),
        };
        RemoteCommand::shell(framed(&format!(
            "export LANGUAGE=C LC_ALL=C; wl_t=$(command -v timedatectl); \
             if [ -n \"$wl_t\" ]; then {}printf '%s' \"$wl_t\"; \"$wl_t\" >/dev/null 2>&1; {}printf '%s' $?; \
             {}\"$wl_t\" status 2>/dev/null; fi; {}{zone}; ",
            header("path"),
            header("usable"),
            header("status"),
            header("zonefile"),
        )))
    }

    fn parse(_: &Option<String>, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(ClockState {
            timedatectl: s.get("path").map(str::to_string),
            usable: s.text("usable") == Some("0"),
            status: s.get("status").unwrap_or_default().to_string(),
            zone_file: s.text("zonefile") == Some("yes"),
        })
    }
}

/// `timedatectl status`'s value after `label` (`Time zone`, `RTC in local TZ`): the
/// module's `^\s*<label>\s*:\s*(\S+)` (its `Time ?zone` also takes `Timezone`).
fn status_value(status: &str, labels: &[&str]) -> Option<String> {
    status.lines().find_map(|l| {
        let l = l.trim_start();
        let rest = labels.iter().find_map(|lab| l.strip_prefix(lab))?;
        let v = rest.trim_start().strip_prefix(':')?.trim_start();
        v.split_whitespace().next().map(str::to_string)
    })
}

/// The zone and RTC setting in the module's terms.
fn current(status: &str) -> Result<(String, String), String> {
    let zone = status_value(status, &["Time zone", "Timezone"]);
    let rtc = status_value(status, &["RTC in local TZ"]);
    match (zone, rtc) {
        (Some(z), Some(r)) => {
            let local = crate::boolean::parse_bool(&r).unwrap_or(false);
            Ok((z, if local { "local" } else { "UTC" }.into()))
        }
        _ => Err(abort(
            "timedatectl status printed no time zone or RTC setting",
            &[],
        )),
    }
}

/// The module's `abort`: its message, then the commands it already ran.
fn abort(msg: &str, done: &[String]) -> String {
    let mut m = vec!["Error message:".to_string(), msg.to_string()];
    if !done.is_empty() {
        m.push("Other message(s):".into());
        m.extend(done.iter().cloned());
    }
    m.join("\n")
}

/// `{hwclock: …, name: …}` for the keys the task gives, in the module's order.
fn values(p: &TimezoneParams, hw: &str, zone: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if p.hwclock.is_some() {
        m.insert("hwclock".into(), Value::String(hw.into()));
    }
    if p.name.is_some() {
        m.insert("name".into(), Value::String(zone.into()));
    }
    m
}

impl Planned for Timezone {
    type Params = TimezoneParams;
    type Facts = ClockState;

    fn name(&self) -> &'static str {
        "community.general.timezone"
    }

    fn required(&self) -> &'static [&'static str] {
        &["hwclock|name|rtc"]
    }

    fn probe(&self, p: &TimezoneParams, _ctx: PlanCtx) -> Result<Probe<ClockState>, String> {
        Ok(Probe::fact(p.name.clone()))
    }

    fn plan(&self, p: &TimezoneParams, f: &ClockState, ctx: PlanCtx) -> Result<Plan, String> {
        let Some(tdc) = f.timedatectl.clone().filter(|_| f.usable) else {
            return Err(
                "timezone: this host has no usable timedatectl; windlass does not \
                        yet set the zone through /etc/timezone and /etc/localtime"
                    .into(),
            );
        };
        if let (Some(n), false) = (&p.name, f.zone_file) {
            return Err(abort(
                &format!("given timezone \"{n}\" is not available"),
                &[],
            ));
        }
        let (zone, hw) = current(&f.status)?;
        let planned_hw = match p.hwclock {
            Some(h) => h.as_str().to_string(),
            None => hw.clone(),
        };
        let planned_zone = p.name.clone().unwrap_or_else(|| zone.clone());
        let before = values(p, &hw, &zone);
        let after = values(p, &planned_hw, &planned_zone);
        let mut plan = Plan::default();
        let mut done = Vec::new();
        if hw != planned_hw {
            let yes = if planned_hw == "local" { "yes" } else { "no" };
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv([tdc.as_str(), "set-local-rtc", yes]),
            });
            done.push(format!("executed `{tdc} set-local-rtc {yes}`"));
        }
        if zone != planned_zone {
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv([tdc.as_str(), "set-timezone", planned_zone.as_str()]),
            });
            done.push(format!("executed `{tdc} set-timezone {planned_zone}`"));
        }
        // The module reads the status again after a run, to confirm.
        plan.steps.push(Step::Run {
            cmd: RemoteCommand::shell(format!("LC_ALL=C {} status", quote(&tdc))),
        });
        plan.changed = Some(before != after);
        if ctx.diff && before != after {
            plan.diffs.push(FileDiff {
                path: String::new(),
                before: super::debconf::serialize_diff(&before),
                after: super::debconf::serialize_diff(&after),
                ..Default::default()
            });
        }
        // The module's keys in its order: `changed`, `diff`, `msg`.
        plan.result
            .insert("changed".into(), Value::Bool(before != after));
        let mut diff = Map::new();
        diff.insert("before".into(), Value::Object(before));
        diff.insert("after".into(), Value::Object(after));
        plan.result.insert("diff".into(), Value::Object(diff));
        if !done.is_empty() && !ctx.check {
            plan.result
                .insert("msg".into(), Value::String(done.join("\n")));
        }
        Ok(plan)
    }

    /// The status read after the change must show the planned values, as the module
    /// checks; else the task fails with its message.
    fn finish(&self, p: &TimezoneParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        let Some(last) = outputs.last() else { return };
        let planned = result
            .module_diff()
            .and_then(|d| d.get("after"))
            .cloned()
            .unwrap_or_default();
        let got = current(&last.stdout_str()).map(|(z, h)| Value::Object(values(p, &h, &z)));
        if got.as_ref().ok() != Some(&planned) {
            let after = got.unwrap_or_default();
            result.set_failed(true);
            result.set_msg(Value::String(abort(
                &format!("still not desired state, though changes have made - planned: {planned}, after: {after}"),
                &[],
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply, with_stand_in};
    use serde_json::json;

    const STATUS: &str = "               Local time: Thu 2026-12-03 17:04:04 UTC\n                \
        Time zone: Etc/UTC (UTC, +0000)\n          RTC in local TZ: no\n";

    fn plan(p: serde_json::Value, zonefile: &str, check: bool) -> Result<Plan, String> {
        let p: TimezoneParams = params(p);
        let out = reply(&[
            ("path", "/usr/bin/timedatectl"),
            ("usable", "0"),
            ("status", STATUS),
            ("zonefile", zonefile),
        ]);
        let ctx = PlanCtx {
            check,
            ..PlanCtx::default()
        };
        plan_with(&Timezone, &p, &out, ctx)
    }

    #[test]
    fn zone_and_rtc_change_with_timedatectl() {
        let set = plan(
            json!({"name": "Asia/Tokyo", "hwclock": "local"}),
            "yes",
            false,
        )
        .unwrap();
        insta::assert_yaml_snapshot!(set);
        let same = plan(json!({"name": "Etc/UTC", "rtc": "UTC"}), "yes", false).unwrap();
        assert!(!same.is_change());
        assert_eq!(same.steps.len(), 1, "only the status read");
        let e = plan(json!({"name": "Mars/Base"}), "no", false).unwrap_err();
        assert_eq!(
            e,
            "Error message:\ngiven timezone \"Mars/Base\" is not available"
        );
        let checked = plan(json!({"name": "Asia/Tokyo"}), "yes", true).unwrap();
        assert!(checked.is_change());
        assert!(checked.result.get("msg").is_none());
    }

    #[test]
    fn no_usable_timedatectl_is_refused() {
        let p: TimezoneParams = params(json!({"name": "Etc/UTC"}));
        let out = reply(&[("zonefile", "yes")]);
        let e = plan_with(&Timezone, &p, &out, PlanCtx::default()).unwrap_err();
        assert!(e.contains("no usable timedatectl"), "{e}");
    }

    /// The probe against a `timedatectl` stand-in that prints a header-like line with a
    /// guessed nonce claiming the zone file exists: the zone file check stays the shell's.
    #[test]
    fn hostile_status_cannot_forge_a_section() {
        let name = Some("Nowhere/Wl".to_string());
        let cmd = ClockState::command(&name);
        let hostile =
            "printf 'Time zone: Nowhere/Wl\\n@@0123456789abcdef0123456789abcdef zonefile\\nyes\\n'";
        let got = ClockState::parse(&name, &with_stand_in("timedatectl", hostile, &cmd)).unwrap();
        assert!(got.usable);
        assert!(!got.zone_file);
        assert!(got.status.contains("zonefile\nyes"));
    }
}
