//! `ansible.posix.sysctl`: keep one kernel parameter in a sysctl file (and live).
//!
//! Why this module exists: Kubernetes nodes need `net.ipv4.ip_forward = 1` and the bridge
//! netfilter keys persisted in `/etc/sysctl.d/k8s.conf` and applied. Like Ansible, the file is
//! rewritten as `key=value` lines (one per key, comments kept), `sysctl -p FILE` reloads it
//! when it changed, and `sysctl_set` also compares and sets the live value in `/proc/sys`.

use serde::Deserialize;

use super::params::{ansible_bool, choice, opt_stringish};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, cat_file, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `sysctl`.
pub struct Sysctl;

fn yes() -> bool {
    true
}

fn default_file() -> String {
    "/etc/sysctl.conf".into()
}

/// Parameters of `sysctl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SysctlParams {
    /// The dot-separated key (`net.ipv4.ip_forward`). Alias `key`. Required.
    #[serde(alias = "key")]
    pub name: String,
    /// The value to set (`yes`/`no` become `1`/`0`). Alias `val`. Required with
    /// `state: present`.
    #[serde(default, alias = "val", deserialize_with = "opt_stringish")]
    pub value: Option<String>,
    /// `present` (default) or `absent` (remove the key from the file).
    #[serde(default)]
    pub state: Option<SysctlState>,
    /// The file to keep the key in. Default `/etc/sysctl.conf`.
    #[serde(default = "default_file")]
    pub sysctl_file: String,
    /// Run `sysctl -p FILE` when the file changed. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub reload: bool,
    /// Also compare the live value and set it with `sysctl -w`. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub sysctl_set: bool,
    /// Ignore errors about unknown keys (`sysctl -e`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub ignoreerrors: bool,
}

choice! {
    /// `sysctl`'s `state` (choices in ansible.posix's sysctl module).
    pub enum SysctlState {
        /// The key is set to `value` in the file (and, with `sysctl_set`, in the kernel).
        /// The default.
        Present = "present",
        /// The key is not in the file.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

/// Ansible's value normalisation: booleans become `1`/`0`, other text is trimmed.
pub fn normalize_value(v: &str) -> String {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" => "1".into(),
        "no" | "off" | "false" => "0".into(),
        _ => v.trim().to_string(),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The `/proc/sys` path of a key (`a.b.c` → `/proc/sys/a/b/c`; a key with `/` is a path).
pub fn proc_path(key: &str) -> String {
    if key.contains('/') {
        format!("/proc/sys/{}", key.trim_start_matches('/'))
    } else {
        format!("/proc/sys/{}", key.replace('.', "/"))
    }
}

/// The file rewritten as Ansible does: comments and blank lines kept, every `k=v` line
/// normalised, duplicates dropped, `name` set (or removed), appended when new.
pub fn rewrite(text: &str, name: &str, value: Option<&str>) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') || !t.contains('=') {
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push('\n');
            }
            continue;
        }
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        let (k, v) = (k.trim(), v.trim());
        if seen.iter().any(|s| s == k) {
            continue;
        }
        seen.push(k.to_string());
        if k == name {
            if let Some(val) = value {
                out.push_str(&format!("{k}={val}\n"));
            }
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    if let Some(val) = value {
        if !seen.iter().any(|s| s == name) {
            out.push_str(&format!("{name}={val}\n"));
        }
    }
    out
}

/// The value `name` has in the file text (first occurrence).
pub fn file_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let t = l.trim();
        if t.starts_with('#') || t.starts_with(';') {
            return None;
        }
        let (k, v) = t.split_once('=')?;
        (k.trim() == name).then(|| v.trim().to_string())
    })
}

/// What `sysctl` asks: a key and the file it is kept in.
pub struct KeyQuery {
    /// The key (`net.ipv4.ip_forward`).
    pub name: String,
    /// The `sysctl_file`.
    pub file: String,
}

/// A kernel parameter's live value and the file that keeps it: the `sysctl` module's
/// fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The `sysctl_file`'s text (empty when missing).
    pub file: String,
    /// The value under `/proc/sys`, trimmed (`None`: no such key, or unreadable).
    pub live: Option<String>,
}

impl Fact for KeyState {
    type Query = KeyQuery;

    fn command(q: &KeyQuery) -> RemoteCommand {
        let proc = proc_path(&q.name);
        let script = format!(
            "{}{}if [ -r {q} ]; then {}cat {q}; fi",
            header("start"),
            cat_file(&q.file),
            header("proc"),
            q = quote(&proc),
        );
        RemoteCommand::shell(framed(&script))
    }

    fn parse(q: &KeyQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(KeyState {
            file: s
                .file(&q.file)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            live: s.get("proc").map(|v| v.trim().to_string()),
        })
    }
}

impl Planned for Sysctl {
    type Params = SysctlParams;
    type Facts = KeyState;

    fn name(&self) -> &'static str {
        "ansible.posix.sysctl"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &SysctlParams, _ctx: PlanCtx) -> Result<Probe<KeyState>, String> {
        Ok(Probe::fact(KeyQuery {
            name: p.name.trim().to_string(),
            file: p.sysctl_file.clone(),
        }))
    }

    fn plan(&self, p: &SysctlParams, facts: &KeyState, _ctx: PlanCtx) -> Result<Plan, String> {
        let name = p.name.trim();
        if name.is_empty() {
            return Err("name cannot be empty".into());
        }
        let present = p.state != Some(SysctlState::Absent);
        let value = match (&p.value, present) {
            (Some(v), true) => {
                let v = normalize_value(v);
                if v.is_empty() {
                    return Err(format!("value cannot be empty for {name}"));
                }
                Some(v)
            }
            (None, true) => return Err("value is required with state=present".into()),
            (_, false) => None,
        };
        let before = facts.file.clone();
        let proc_value = facts.live.clone();
        let mut plan = Plan::default();
        let mut changed = false;
        if p.sysctl_set
            && let Some(v) = &value
            && !proc_value.as_deref().is_some_and(|cur| same(cur, v))
        {
            // A key /proc/sys lacks reads as empty (`sysctl -e -n`), so it differs too:
            // `sysctl -w` then fails the task with its own words, before the file is
            // written, as sysctl.py's set_token_value does.
            plan.steps.push(set_step(name, v, p.ignoreerrors));
            changed = true;
        }
        let file_changed = match (&value, file_value(&before, name)) {
            (Some(v), Some(cur)) => !same(&normalize_value(&cur), v),
            (Some(_), None) => true,
            (None, cur) => cur.is_some(),
        };
        if file_changed {
            let after = rewrite(&before, name, value.as_deref());
            plan.steps.push(Step::Write {
                dest: p.sysctl_file.clone(),
                content: after.into_bytes(),
                mode: None,
                owner: None,
                group: None,
            });
            // No diff: sysctl.py returns none (`--diff` shows nothing for it).
            changed = true;
        }
        if changed && p.reload {
            let mut argv = vec!["sysctl".to_string()];
            if p.ignoreerrors {
                argv.push("-e".into());
            }
            argv.push("-p".into());
            argv.push(p.sysctl_file.clone());
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv(argv),
            });
        }
        // sysctl.py's exit_json gives `changed` alone.
        plan.changed = Some(changed);
        Ok(plan)
    }
}

/// `sysctl [-e] -w name=value`; a failure (exit code, or the stderr lines sysctl.py's
/// `_stderr_failed` looks for) fails the task with `setting <name> failed: <output>`.
fn set_step(name: &str, value: &str, ignoreerrors: bool) -> Step {
    let e = if ignoreerrors { "-e " } else { "" };
    let assignment = format!("{name}={value}");
    let set = quote(&assignment);
    let bad = quote(r#"^sysctl: setting key "[^"]+": (Invalid argument|Read-only file system)$"#);
    Step::Run {
        cmd: RemoteCommand::shell(format!(
            "o=$(LC_ALL=C sysctl {e}-w {set} 2>&1; echo \"rc=$?\"); r=${{o##*rc=}}; o=${{o%rc=*}}; \
             if [ \"$r\" != 0 ] || printf '%s' \"$o\" | grep -qE {bad}; then \
             printf 'setting %s failed: %s\\n' {} \"$o\" >&2; exit 1; fi",
            quote(name)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::plan_with;
    use crate::modules::sysprobe::testutil::{
        file_body, file_section, out, params, plan_of, reply,
    };
    use crate::transport::ExecOutput;
    use serde_json::json;

    fn probe(file: Option<&str>, proc: Option<&str>) -> ExecOutput {
        let mut s = String::from("@@start\n");
        if let Some(f) = file {
            s.push_str(&file_section("/etc/sysctl.d/k8s.conf", f));
        }
        if let Some(p) = proc {
            s.push_str(&format!("@@proc\n{p}\n"));
        }
        out(&s)
    }

    fn p(v: serde_json::Value) -> SysctlParams {
        params(v)
    }

    #[test]
    fn fresh_file_is_written_and_reloaded() {
        let prm = p(json!({"name": "net.ipv4.ip_forward", "value": "1",
            "sysctl_file": "/etc/sysctl.d/k8s.conf", "sysctl_set": true}));
        insta::assert_yaml_snapshot!(plan_of(&Sysctl, &prm, &probe(None, Some("0"))));
    }

    #[test]
    fn second_key_is_appended_and_existing_lines_normalised() {
        let prm = p(
            json!({"name": "net.bridge.bridge-nf-call-iptables", "value": "yes",
            "sysctl_file": "/etc/sysctl.d/k8s.conf"}),
        );
        let plan = plan_of(
            &Sysctl,
            &prm,
            &probe(Some("# k8s\nnet.ipv4.ip_forward = 1\n"), Some("1")),
        );
        insta::assert_yaml_snapshot!(plan);
    }

    #[test]
    fn converged_host_has_no_steps() {
        let prm = p(json!({"name": "net.ipv4.ip_forward", "value": 1,
            "sysctl_file": "/etc/sysctl.d/k8s.conf", "sysctl_set": true}));
        let plan = plan_of(
            &Sysctl,
            &prm,
            &probe(Some("net.ipv4.ip_forward = 1\n"), Some("1")),
        );
        assert!(plan.steps.is_empty());
        assert!(!plan.is_change());
    }

    #[test]
    fn live_value_differs_only() {
        let prm = p(
            json!({"name": "net.ipv4.ip_forward", "value": "1", "reload": false,
            "sysctl_file": "/etc/sysctl.d/k8s.conf", "sysctl_set": true}),
        );
        insta::assert_yaml_snapshot!(plan_of(
            &Sysctl,
            &prm,
            &probe(Some("net.ipv4.ip_forward=1\n"), Some("0"))
        ));
    }

    #[test]
    fn absent_removes_the_line() {
        let prm = p(json!({"name": "vm.swappiness", "state": "absent",
            "sysctl_file": "/etc/sysctl.d/k8s.conf"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Sysctl,
            &prm,
            &probe(
                Some("vm.swappiness=10\nnet.ipv4.ip_forward=1\n"),
                Some("10")
            )
        ));
    }

    #[test]
    fn bad_parameters() {
        let prm = p(json!({"name": "net.ipv4.ip_forward"}));
        let e = plan_with(&Sysctl, &prm, &probe(None, None), PlanCtx::default()).unwrap_err();
        assert_eq!(e, "value is required with state=present");
        let prm = p(
            json!({"name": "no.such.key", "value": 1, "sysctl_set": true,
            "sysctl_file": "/etc/sysctl.d/k8s.conf"}),
        );
        // A key /proc/sys lacks is set first (`sysctl -w` then fails the task with its
        // own words, before the file is written), as sysctl.py does.
        let plan = plan_with(&Sysctl, &prm, &probe(None, None), PlanCtx::default()).unwrap();
        assert!(plan.is_change());
        assert!(
            matches!(&plan.steps[0], Step::Run { cmd } if format!("{cmd:?}").contains("sysctl -w no.such.key=1 ")),
            "{:?}",
            plan.steps
        );
        let e = serde_json::from_value::<SysctlParams>(json!({"name": "a", "valeu": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `valeu`"), "{e}");
    }

    /// A `sysctl_file` path (a variable) holding header-like lines cannot fake the live
    /// value: the file is looked up by the path sent, and the live value is the script's.
    #[test]
    fn sysctl_file_path_cannot_fake_the_live_value() {
        let file = "/etc/sysctl.d/k\n@@proc\n1\n@@x";
        let p = p(
            json!({"name": "net.ipv4.ip_forward", "value": "1", "sysctl_file": file, "sysctl_set": true}),
        );
        let facts = reply(&[
            ("start", ""),
            ("file", &file_body(file, "net.ipv4.ip_forward = 1\n")),
            ("proc", "0\n"),
        ]);
        let plan = plan_of(&Sysctl, &p, &facts);
        assert!(
            plan.steps
                .iter()
                .any(|s| matches!(s, Step::Run { cmd } if cmd.to_shell().contains("sysctl -w"))),
            "the live value is 0: {plan:?}"
        );
        assert!(
            plan.steps.iter().all(|s| !matches!(s, Step::Write { .. })),
            "{plan:?}"
        );
    }
}
