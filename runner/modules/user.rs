//! `ansible.builtin.user`: create, change or remove a local user account.
//!
//! Why this module exists: cluster components run as their own users (etcd, kube), and
//! operators add admin accounts. One probe reads the passwd/shadow entries, the user's
//! groups and the groups the task names (`getent`); the plan is one `useradd`, `usermod`
//! or `userdel` with exactly the options that differ.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::params::{ansible_bool, choice, opt_ansible_bool, opt_stringish, string_list};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `user`.
pub struct User;

fn yes() -> bool {
    true
}

fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    string_list(d).map(Some)
}

/// Parameters of `user`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserParams {
    /// The account name. Required.
    pub name: String,
    /// The numeric user id.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub uid: Option<String>,
    /// The primary group (name or gid).
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Supplementary groups (list or comma-separated); `""` removes all unless `append`.
    #[serde(default, deserialize_with = "opt_list")]
    pub groups: Option<Vec<String>>,
    /// Add `groups` to the current ones instead of replacing them. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub append: bool,
    /// The login shell.
    #[serde(default)]
    pub shell: Option<String>,
    /// The home directory.
    #[serde(default)]
    pub home: Option<String>,
    /// Create the home directory for a new user. Alias `createhome`. Default `true`.
    #[serde(
        default = "yes",
        alias = "createhome",
        deserialize_with = "ansible_bool"
    )]
    pub create_home: bool,
    /// Move the home directory's content when `home` changes. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub move_home: bool,
    /// Create a system account (only when the user is created). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub system: bool,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<UserState>,
    /// With `state: absent`, remove the home directory and mail spool. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub remove: bool,
    /// With `state: absent`, remove even when logged in (`userdel -f`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
    /// The password, already hashed (crypt format).
    #[serde(default)]
    pub password: Option<String>,
    /// `always` (default: set the password when it differs) or `on_create`.
    #[serde(default)]
    pub update_password: Option<UpdatePassword>,
    /// Lock (`true`) or unlock (`false`) the password.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub password_lock: Option<bool>,
    /// The GECOS comment (full name).
    #[serde(default)]
    pub comment: Option<String>,
    /// Allow a uid another user already has (`-o`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub non_unique: bool,
}

choice! {
    /// `user`'s `update_password` (choices in lib/ansible/modules/user.py).
    pub enum UpdatePassword {
        /// Set the password whenever it differs from `password`. The default.
        Always = "always",
        /// Set the password only when the account is created.
        OnCreate = "on_create",
    }
    else "update_password must be always or on_create; got {got}"
}

choice! {
    /// `user`'s `state` (choices in lib/ansible/modules/user.py).
    pub enum UserState {
        /// The account exists, with the given properties. The default.
        Present = "present",
        /// The account does not exist.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

/// A `getent passwd` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Passwd {
    /// uid.
    pub uid: String,
    /// Primary gid.
    pub gid: String,
    /// GECOS comment.
    pub comment: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// What `user` asks: the account, and the groups the task names (their entries).
pub struct AccountQuery {
    /// The user's name.
    pub name: String,
    /// `group` and `groups`, as given.
    pub groups: Vec<String>,
}

/// A local account as the host's databases have it: the `user` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Its passwd entry (`None`: no such user).
    pub passwd: Option<Passwd>,
    /// Its password hash (empty when shadow is unreadable or the user is missing).
    pub shadow: String,
    /// The names of its groups (`id -Gn`).
    pub groups: Vec<String>,
    /// The group entries of its primary group and of the groups asked for, each split at
    /// `:` (at least three fields).
    pub group_db: Vec<Vec<String>>,
}

impl Fact for Account {
    type Query = AccountQuery;

    fn command(q: &AccountQuery) -> RemoteCommand {
        let n = quote(&q.name);
        let wanted: Vec<String> = q.groups.iter().map(|g| quote(g).into_owned()).collect();
        let mut script = format!(
            "{}getent passwd -- {n}; {}getent shadow -- {n} 2>/dev/null | cut -d: -f2; \
             {}id -Gn -- {n} 2>/dev/null; {}getent group -- $(id -g -- {n} 2>/dev/null) ",
            header("passwd"),
            header("shadow"),
            header("groups"),
            header("groupdb"),
        );
        script.push_str(&wanted.join(" "));
        script.push_str("; ");
        script.push_str(&header("end"));
        RemoteCommand::shell(framed(&script))
    }

    fn parse(q: &AccountQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let passwd = s.text("passwd").and_then(|t| {
            let f: Vec<&str> = t.lines().next()?.split(':').collect();
            (f.len() >= 7 && f[0] == q.name).then(|| Passwd {
                uid: f[2].into(),
                gid: f[3].into(),
                comment: f[4].into(),
                home: f[5].into(),
                shell: f[6].into(),
            })
        });
        let group_db = s
            .get("groupdb")
            .unwrap_or("")
            .lines()
            .map(|l| l.split(':').map(String::from).collect::<Vec<_>>())
            .filter(|f| f.len() >= 3)
            .collect();
        Ok(Account {
            passwd,
            shadow: s.text("shadow").unwrap_or("").to_string(),
            groups: s
                .text("groups")
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect(),
            group_db,
        })
    }
}

fn resolve_gid(groups_db: &[Vec<String>], g: &str) -> Option<String> {
    groups_db
        .iter()
        .find(|f| f[0] == g || f[2] == g)
        .map(|f| f[2].clone())
}

impl Planned for User {
    type Params = UserParams;
    type Facts = Account;

    fn name(&self) -> &'static str {
        "ansible.builtin.user"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &UserParams, _ctx: PlanCtx) -> Result<Probe<Account>, String> {
        Ok(Probe::fact(AccountQuery {
            name: p.name.clone(),
            groups: p
                .group
                .iter()
                .chain(p.groups.iter().flatten())
                .cloned()
                .collect(),
        }))
    }

    fn plan(&self, p: &UserParams, facts: &Account, ctx: PlanCtx) -> Result<Plan, String> {
        let present = p.state != Some(UserState::Absent);
        let update_always = p.update_password != Some(UpdatePassword::OnCreate);
        if let Some(u) = &p.uid {
            if u.parse::<u32>().is_err() {
                return Err(format!("uid must be a number, got {u:?}"));
            }
        }
        let cur = facts.passwd.as_ref();
        let groups_db = &facts.group_db;
        let mut plan = Plan::default();
        plan.result
            .insert("name".into(), Value::String(p.name.clone()));
        plan.result.insert(
            "state".into(),
            Value::String(if present { "present" } else { "absent" }.into()),
        );
        // user.py in check mode exits with `changed` alone when it would create or remove
        // the account, before it looks at the groups (an earlier task may create them).
        let check_exit = ctx.check && present == cur.is_none();
        if check_exit {
            plan.result.clear();
        }
        if !present {
            if cur.is_some() {
                let mut argv = vec!["userdel".to_string()];
                if p.force {
                    argv.push("-f".into());
                }
                if p.remove {
                    argv.push("-r".into());
                }
                argv.push(p.name.clone());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(argv),
                });
                if !check_exit {
                    plan.result.insert("remove".into(), Value::Bool(p.remove));
                }
            }
            return Ok(plan);
        }
        // Groups the task names must exist.
        let gid = match &p.group {
            Some(g) => Some(
                resolve_gid(groups_db, g)
                    .or_else(|| check_exit.then(|| g.clone()))
                    .ok_or_else(|| format!("Group {g} does not exist"))?,
            ),
            None => None,
        };
        let wanted_groups: Vec<String> = p
            .groups
            .iter()
            .flatten()
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect();
        for g in &wanted_groups {
            if resolve_gid(groups_db, g).is_none() && !check_exit {
                return Err(format!("Group {g} does not exist"));
            }
        }
        // Group names, whether given by name or gid.
        let wanted_names: Vec<String> = wanted_groups
            .iter()
            .map(|g| {
                groups_db
                    .iter()
                    .find(|f| f[0] == *g || f[2] == *g)
                    .map(|f| f[0].clone())
                    .unwrap_or_else(|| g.clone())
            })
            .collect();
        let mut argv: Vec<String>;
        match &cur {
            None => {
                argv = vec!["useradd".into()];
                if let Some(u) = &p.uid {
                    argv.extend(["-u".into(), u.clone()]);
                    if p.non_unique {
                        argv.push("-o".into());
                    }
                }
                if let Some(g) = &gid {
                    argv.extend(["-g".into(), g.clone()]);
                }
                if !wanted_names.is_empty() {
                    argv.extend(["-G".into(), wanted_names.join(",")]);
                }
                if let Some(c) = &p.comment {
                    argv.extend(["-c".into(), c.clone()]);
                }
                if let Some(h) = &p.home {
                    argv.extend(["-d".into(), h.clone()]);
                }
                if let Some(sh) = &p.shell {
                    argv.extend(["-s".into(), sh.clone()]);
                }
                if let Some(pw) = &p.password {
                    argv.extend(["-p".into(), pw.clone()]);
                }
                if p.system {
                    argv.push("-r".into());
                }
                argv.push(if p.create_home { "-m" } else { "-M" }.into());
                argv.push(p.name.clone());
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::argv(argv),
                });
                if p.password_lock == Some(true) {
                    plan.steps.push(Step::Run {
                        cmd: RemoteCommand::argv(["usermod", "-L", p.name.as_str()]),
                    });
                }
            }
            Some(c) => {
                argv = vec!["usermod".into()];
                if let Some(u) = &p.uid {
                    if *u != c.uid {
                        argv.extend(["-u".into(), u.clone()]);
                        if p.non_unique {
                            argv.push("-o".into());
                        }
                    }
                }
                if let Some(g) = &gid {
                    if *g != c.gid {
                        argv.extend(["-g".into(), g.clone()]);
                    }
                }
                if p.groups.is_some() {
                    let primary = groups_db
                        .iter()
                        .find(|f| f[2] == c.gid)
                        .map(|f| f[0].clone());
                    let current: Vec<String> = facts
                        .groups
                        .iter()
                        .filter(|g| Some(g.to_string()) != primary)
                        .cloned()
                        .collect();
                    let missing = wanted_names.iter().any(|g| !current.contains(g));
                    let extra = current.iter().any(|g| !wanted_names.contains(g));
                    if missing || (!p.append && extra) {
                        if p.append {
                            argv.push("-a".into());
                        }
                        argv.extend(["-G".into(), wanted_names.join(",")]);
                    }
                }
                if let Some(cm) = &p.comment {
                    if *cm != c.comment {
                        argv.extend(["-c".into(), cm.clone()]);
                    }
                }
                if let Some(h) = &p.home {
                    if *h != c.home {
                        argv.extend(["-d".into(), h.clone()]);
                        if p.move_home {
                            argv.push("-m".into());
                        }
                    }
                }
                if let Some(sh) = &p.shell {
                    if *sh != c.shell {
                        argv.extend(["-s".into(), sh.clone()]);
                    }
                }
                let hash = facts.shadow.as_str();
                if let Some(pw) = &p.password {
                    if update_always && pw != hash.trim_start_matches('!') {
                        argv.extend(["-p".into(), pw.clone()]);
                    }
                }
                match p.password_lock {
                    Some(true) if !hash.starts_with('!') => argv.push("-L".into()),
                    Some(false) if hash.starts_with('!') => argv.push("-U".into()),
                    _ => {}
                }
                if argv.len() > 1 {
                    argv.push(p.name.clone());
                    plan.steps.push(Step::Run {
                        cmd: RemoteCommand::argv(argv),
                    });
                }
            }
        }
        if check_exit {
            return Ok(plan);
        }
        let r = &mut plan.result;
        let uid = p
            .uid
            .clone()
            .or_else(|| cur.as_ref().map(|c| c.uid.clone()));
        if let Some(u) = uid.and_then(|u| u.parse::<u64>().ok()) {
            r.insert("uid".into(), Value::from(u));
        }
        let g = gid.or_else(|| cur.as_ref().map(|c| c.gid.clone()));
        if let Some(g) = g.and_then(|g| g.parse::<u64>().ok()) {
            r.insert("group".into(), Value::from(g));
        }
        if p.groups.is_some() {
            r.insert("groups".into(), Value::String(wanted_names.join(",")));
            r.insert("append".into(), Value::Bool(p.append));
        }
        let home = p
            .home
            .clone()
            .or_else(|| cur.as_ref().map(|c| c.home.clone()));
        if let Some(h) = home {
            r.insert("home".into(), Value::String(h));
        }
        let shell = p
            .shell
            .clone()
            .or_else(|| cur.as_ref().map(|c| c.shell.clone()));
        if let Some(sh) = shell {
            r.insert("shell".into(), Value::String(sh));
        }
        let comment = p
            .comment
            .clone()
            .or_else(|| cur.as_ref().map(|c| c.comment.clone()));
        if let Some(c) = comment {
            r.insert("comment".into(), Value::String(c));
        }
        r.insert("system".into(), Value::Bool(p.system));
        r.insert("create_home".into(), Value::Bool(p.create_home));
        if p.password.is_some() {
            r.insert(
                "password".into(),
                Value::String("NOT_LOGGING_PASSWORD".into()),
            );
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{out, params, plan_of, reply};
    use serde_json::json;

    const GROUPS: &str = "@@groupdb\nwl:x:2345:\ndocker:x:998:\nadm:x:4:\n";

    #[test]
    fn create_a_user() {
        let p: UserParams = params(json!({"name": "wl", "uid": 2345, "group": "wl",
            "groups": "docker,adm", "shell": "/bin/sh", "system": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &User,
            &p,
            &out(&format!("@@passwd\n@@shadow\n@@groups\n{GROUPS}@@end\n"))
        ));
    }

    #[test]
    fn converged_and_partial() {
        let p: UserParams = params(json!({"name": "wl", "uid": 2345, "group": "wl",
            "groups": ["docker"], "append": true, "shell": "/bin/sh"}));
        let facts = |shell: &str, groups: &str| {
            out(&format!(
                "@@passwd\nwl:x:2345:2345::/home/wl:{shell}\n@@shadow\n!\n@@groups\n{groups}\n{GROUPS}@@end\n"
            ))
        };
        assert!(!plan_of(&User, &p, &facts("/bin/sh", "wl docker adm")).is_change());
        insta::assert_yaml_snapshot!(plan_of(&User, &p, &facts("/bin/bash", "wl adm")));
        // Without append, extra groups go.
        let p: UserParams = params(json!({"name": "wl", "groups": ["docker"]}));
        insta::assert_yaml_snapshot!(plan_of(&User, &p, &facts("/bin/sh", "wl docker adm")));
    }

    #[test]
    fn remove_and_errors() {
        let p: UserParams = params(json!({"name": "wl", "state": "absent", "remove": true}));
        insta::assert_yaml_snapshot!(plan_of(
            &User,
            &p,
            &out("@@passwd\nwl:x:2345:2345::/home/wl:/bin/sh\n@@end\n")
        ));
        let p: UserParams = params(json!({"name": "wl", "groups": ["nosuch"]}));
        let e = plan_with(
            &User,
            &p,
            &out("@@passwd\n@@groupdb\n@@end\n"),
            PlanCtx::default(),
        )
        .unwrap_err();
        assert_eq!(e, "Group nosuch does not exist");
    }

    /// In check mode a user to create may name groups an earlier task would create: the
    /// plan is `changed` with no other key (user.py's check-mode exit); an existing user's
    /// missing group is an error in check mode too.
    #[test]
    fn check_mode_create_with_groups_not_there_yet() {
        let check = PlanCtx {
            check: true,
            ..PlanCtx::default()
        };
        let p: UserParams = params(json!({"name": "wl", "group": "wl", "groups": ["nosuch"]}));
        let plan = plan_with(&User, &p, &out("@@passwd\n@@groupdb\n@@end\n"), check).unwrap();
        insta::assert_yaml_snapshot!(plan);
        let p: UserParams = params(json!({"name": "wl", "group": "nosuch"}));
        let e = plan_with(
            &User,
            &p,
            &out("@@passwd\nwl:x:2345:2345::/home/wl:/bin/sh\n@@groupdb\n@@end\n"),
            check,
        )
        .unwrap_err();
        assert_eq!(e, "Group nosuch does not exist");
    }

    /// A passwd entry (from NSS: LDAP or sssd may hand out any GECOS) whose text prints a
    /// `@@shadow` section cannot fake the password the host has.
    #[test]
    fn passwd_text_cannot_fake_the_shadow_section() {
        let hash = "$6$salt$hash";
        let p: UserParams = params(json!({"name": "wl", "password": hash}));
        let facts = reply(&[
            (
                "passwd",
                &format!("wl:x:2345:2345:W L:/home/wl:/bin/sh\n@@shadow\n{hash}\n"),
            ),
            ("shadow", "!\n"),
            ("groups", "wl\n"),
            ("groupdb", "wl:x:2345:\n"),
            ("end", ""),
        ]);
        let plan = plan_of(&User, &p, &facts);
        assert!(
            plan.is_change(),
            "the password differs from the host's: {plan:?}"
        );
    }
}
