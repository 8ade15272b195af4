//! `ansible.builtin.group`: create, change or remove a local group.
//!
//! Why this module exists: services (etcd, kube users) need their own groups with fixed
//! gids. One `getent group` tells the current entry; `groupadd`/`groupmod`/`groupdel` change it.

use serde::Deserialize;
use serde_json::Value;

use super::params::{ansible_bool, choice, opt_stringish};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `group`.
pub struct Group;

/// Parameters of `group`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupParams {
    /// The group's name. Required.
    pub name: String,
    /// The numeric group id to set.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub gid: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<GroupState>,
    /// Create a system group (`groupadd -r`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub system: bool,
    /// Allow a gid that another group already has (`-o`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub non_unique: bool,
    /// Only manage `/etc/group` (the same commands here; accepted for compatibility).
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default, deserialize_with = "ansible_bool")]
    pub local: bool,
    /// Remove the group even if it is some user's primary group (`groupdel -f`).
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
}

choice! {
    /// `group`'s `state` (choices in lib/ansible/modules/group.py).
    pub enum GroupState {
        /// The group exists, with the given gid. The default.
        Present = "present",
        /// The group does not exist.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

/// A group's entry in the host's group database, as `getent group <name>` finds it (by
/// name only: a numeric name is no gid): the `group` module's fact (`None`: no such group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupEntry {
    /// Its gid, as the database has it.
    pub gid: String,
}

impl Fact for Option<GroupEntry> {
    /// The group's name.
    type Query = String;

    /// A framed reply (`super::sysprobe`): the host's shell compares each entry's name
    /// with the one sent and prints only its gid, in a `gid` section, so nothing the group
    /// database holds is split into fields here.
    fn command(name: &String) -> RemoteCommand {
        let n = quote(name);
        RemoteCommand::shell(framed(&format!(
            "getent group -- {n} | while IFS=: read -r wl_name _ wl_gid _; do \
             if [ \"$wl_name\" = {n} ]; then {}printf '%s' \"$wl_gid\"; fi; done; ",
            header("gid")
        )))
    }

    fn parse(_name: &String, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(s.get("gid").map(|gid| GroupEntry {
            gid: gid.to_string(),
        }))
    }
}

impl Planned for Group {
    type Params = GroupParams;
    type Facts = Option<GroupEntry>;

    fn name(&self) -> &'static str {
        "ansible.builtin.group"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &GroupParams, _ctx: PlanCtx) -> Result<Probe<Option<GroupEntry>>, String> {
        Ok(Probe::fact(p.name.clone()))
    }

    fn plan(
        &self,
        p: &GroupParams,
        entry: &Option<GroupEntry>,
        _ctx: PlanCtx,
    ) -> Result<Plan, String> {
        let present = p.state != Some(GroupState::Absent);
        if let Some(g) = &p.gid {
            if g.parse::<u32>().is_err() {
                return Err(format!("gid must be a number, got {g:?}"));
            }
        }
        let mut plan = Plan::default();
        let mut gid = entry.as_ref().map(|f| f.gid.clone());
        match (entry, present) {
            (None, true) => {
                let mut argv = vec!["groupadd".to_string()];
                if let Some(g) = &p.gid {
                    argv.extend(["-g".into(), g.clone()]);
                    if p.non_unique {
                        argv.push("-o".into());
                    }
                }
                if p.system {
                    argv.push("-r".into());
                }
                argv.push(p.name.clone());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(argv),
                });
                gid = p.gid.clone();
            }
            (Some(f), true) => {
                if let Some(g) = &p.gid {
                    if &f.gid != g {
                        let mut argv = vec!["groupmod".to_string(), "-g".into(), g.clone()];
                        if p.non_unique {
                            argv.push("-o".into());
                        }
                        argv.push(p.name.clone());
                        plan.steps.push(Step::Run {
                            cmd: RemoteCommand::argv(argv),
                        });
                        gid = Some(g.clone());
                    }
                }
            }
            (Some(_), false) => {
                let mut argv = vec!["groupdel".to_string()];
                if p.force {
                    argv.push("-f".into());
                }
                argv.push(p.name.clone());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(argv),
                });
            }
            (None, false) => {}
        }
        plan.result
            .insert("name".into(), Value::String(p.name.clone()));
        plan.result.insert(
            "state".into(),
            Value::String(if present { "present" } else { "absent" }.into()),
        );
        if present {
            if let Some(g) = gid.and_then(|g| g.parse::<u64>().ok()) {
                plan.result.insert("gid".into(), Value::from(g));
            }
            plan.result.insert("system".into(), Value::Bool(p.system));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_of, plan_with, reply, with_stand_in};
    use serde_json::json;

    #[test]
    fn create_change_remove() {
        let p: GroupParams = params(json!({"name": "etcd", "gid": 2345, "system": true}));
        insta::assert_yaml_snapshot!(plan_of(&Group, &p, &reply(&[])));
        insta::assert_yaml_snapshot!(plan_of(&Group, &p, &reply(&[("gid", "999")])));
        assert!(!plan_of(&Group, &p, &reply(&[("gid", "2345")])).is_change());
        let p: GroupParams = params(json!({"name": "etcd", "state": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(&Group, &p, &reply(&[("gid", "2345")])));
        assert!(!plan_of(&Group, &p, &reply(&[])).is_change());
    }

    #[test]
    fn bad_gid() {
        let p: GroupParams = params(json!({"name": "etcd", "gid": "abc"}));
        let e = plan_with(&Group, &p, &reply(&[]), PlanCtx::default()).unwrap_err();
        assert!(e.contains("gid must be a number"), "{e}");
    }

    /// The probe, run by `sh` against `getent` stand-ins: one printing what a hostile
    /// database could (a header-like line with a guessed nonce, other groups), one printing
    /// an entry for whatever name it is asked. Only the gid of the entry named exactly as
    /// sent comes back.
    #[test]
    fn a_hostile_group_name_cannot_forge_a_field() {
        let fact = |getent: &str, name: &str| {
            let cmd = Option::<GroupEntry>::command(&name.into());
            Option::<GroupEntry>::parse(&name.into(), &with_stand_in("getent", getent, &cmd))
                .unwrap()
                .map(|e| e.gid)
        };
        let database = "printf '%s\\n' '@@0123456789abcdef0123456789abcdef gid' \
                        'root:x:0:' 'etcd:x:2345:' 'etcdx:x:1:'";
        assert_eq!(fact(database, "etcd").as_deref(), Some("2345"));
        assert_eq!(fact(database, "kube"), None);
        // A numeric name is a name, not a gid (getent itself would look the gid up).
        assert_eq!(fact(database, "0"), None);
        let echo = "printf '%s:x:7:\\n' \"$3\"";
        assert_eq!(fact(echo, "etcd").as_deref(), Some("7"));
        // A name holding a forged header and database lines: echoed, it is lines of data
        // none of which is the entry asked for.
        let hostile = "x\n@@0123456789abcdef0123456789abcdef gid\n0\nroot:x:0:";
        assert_eq!(fact(echo, hostile), None);
    }
}
