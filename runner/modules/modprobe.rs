//! `community.general.modprobe`: load or unload a kernel module, and make it persistent.
//!
//! Why this module exists: Kubernetes nodes need `overlay` and `br_netfilter` loaded now and
//! at every boot (`/etc/modules-load.d/<name>.conf`), sometimes with options
//! (`/etc/modprobe.d/<name>.conf`). A module counts as loaded when `/proc/modules` lists it,
//! `/sys/module/<name>` exists, or the kernel has it built in (`modules.builtin`), as Ansible
//! decides.

use serde::Deserialize;
use serde_json::Value;

use super::params::choice;
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, cat_glob, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `modprobe`.
pub struct Modprobe;

/// Parameters of `modprobe`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModprobeParams {
    /// The kernel module's name. Required.
    pub name: String,
    /// `present` (default: loaded) or `absent` (unloaded).
    #[serde(default)]
    pub state: Option<ModprobeState>,
    /// Module parameters (`numdummies=2`), passed to modprobe and persisted as `options`.
    #[serde(default)]
    pub params: String,
    /// `disabled` (default: leave boot configuration alone), `present` (load at boot, write
    /// `/etc/modules-load.d/<name>.conf` and options to `/etc/modprobe.d/<name>.conf`) or
    /// `absent` (comment the module and its options out of those directories).
    #[serde(default)]
    pub persistent: Option<Persistent>,
}

choice! {
    /// `modprobe`'s `state` (choices in community.general's modprobe module).
    pub enum ModprobeState {
        /// The kernel module is loaded. The default.
        Present = "present",
        /// The kernel module is not loaded.
        Absent = "absent",
    }
    else "state must be one of present, absent; got {got}"
}

choice! {
    /// `modprobe`'s `persistent` (choices in community.general's modprobe module).
    pub enum Persistent {
        /// Leave the boot configuration alone. The default.
        Disabled = "disabled",
        /// Load at boot: the module in `/etc/modules-load.d/<name>.conf`, its options in
        /// `/etc/modprobe.d/<name>.conf`.
        Present = "present",
        /// Not at boot: the module and its options commented out of those directories.
        Absent = "absent",
    }
    else "persistent must be one of disabled, present, absent; got {got}"
}

const LOAD_DIR: &str = "/etc/modules-load.d";
const OPTS_DIR: &str = "/etc/modprobe.d";

fn underscored(n: &str) -> String {
    n.replace('-', "_")
}

fn is_module_line(line: &str, name: &str) -> bool {
    let t = line.split(['#', ';']).next().unwrap_or("").trim();
    !t.is_empty() && underscored(t) == underscored(name)
}

fn options_params(line: &str, name: &str) -> Option<Vec<String>> {
    let mut w = line.split_whitespace();
    if w.next()? != "options" || underscored(w.next()?) != underscored(name) {
        return None;
    }
    Some(
        w.take_while(|x| !x.starts_with('#'))
            .map(String::from)
            .collect(),
    )
}

fn valid_name(n: &str) -> Result<&str, String> {
    let n = n.trim();
    if n.is_empty()
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("invalid kernel module name {n:?}"));
    }
    Ok(n)
}

fn write(plan: &mut Plan, path: String, before: String, after: String) {
    plan.steps.push(Step::Write {
        dest: path.clone(),
        content: after.clone().into_bytes(),
        mode: Some(0o644),
        owner: None,
        group: None,
    });
    plan.diffs.push(FileDiff {
        path,
        before,
        after,
        ..Default::default()
    });
}

/// Comment out every `options NAME ...` line in the modprobe.d files.
fn disable_old_params(plan: &mut Plan, opt_files: &[&(String, Vec<u8>)], name: &str) {
    for (f, b) in opt_files {
        let text = String::from_utf8_lossy(b).into_owned();
        if text.lines().any(|l| options_params(l, name).is_some()) {
            let after = comment_out(&text, |l| options_params(l, name).is_none());
            write(plan, f.clone(), text, after);
        }
    }
}

fn comment_out(text: &str, keep: impl Fn(&str) -> bool) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            if keep(l) {
                l.to_string()
            } else {
                format!("#{l}")
            }
        })
        .collect()
}

/// A kernel module's state: loaded (or built in), and the `modules-load.d` and
/// `modprobe.d` files that load it or give it options: the `modprobe` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleState {
    /// Loaded, or built into the kernel.
    pub loaded: bool,
    /// The `*.conf` files of both folders, path and bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// A file modprobe.py reads to decide and cannot open: `/proc/modules` (a kernel
    /// without module support, a container), or `modules.builtin` when it must look there.
    pub unreadable: Option<String>,
}

impl Fact for ModuleState {
    /// The module's name (checked).
    type Query = String;

    fn command(name: &String) -> RemoteCommand {
        let u = underscored(name);
        let d = name.replace('_', "-");
        let script = format!(
            "{h_loaded}if grep -q {proc_pat} /proc/modules 2>/dev/null; then echo proc; fi; \
         if [ -d {sys} ]; then echo sys; fi; \
         b=/lib/modules/$(uname -r)/modules.builtin; \
         if [ -f \"$b\" ] && grep -qE {ko_pat} \"$b\"; then echo builtin; fi; \
         {h_unreadable}if [ ! -r /proc/modules ]; then printf /proc/modules; \
         elif ! grep -q {proc_pat} /proc/modules && [ ! -r \"$b\" ]; then printf '%s' \"$b\"; fi; \
         {h_files}{g1}{g2}{h_end}",
            h_unreadable = header("unreadable"),
            h_loaded = header("loaded"),
            proc_pat = quote(&format!("^{u} ")),
            sys = quote(&format!("/sys/module/{u}")),
            ko_pat = quote(&format!("/({u}|{d})[.]ko$")),
            h_files = header("files"),
            g1 = cat_glob(&format!("{LOAD_DIR}/*.conf")),
            g2 = cat_glob(&format!("{OPTS_DIR}/*.conf")),
            h_end = header("end"),
        );
        RemoteCommand::shell(framed(&script))
    }

    fn parse(_name: &String, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        Ok(ModuleState {
            loaded: s
                .get("loaded")
                .unwrap_or("")
                .lines()
                .any(|l| !l.trim().is_empty()),
            files: s.files(),
            unreadable: s
                .get("unreadable")
                .filter(|p| !p.is_empty())
                .map(String::from),
        })
    }
}

impl Planned for Modprobe {
    type Params = ModprobeParams;
    type Facts = ModuleState;

    fn name(&self) -> &'static str {
        "community.general.modprobe"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn probe(&self, p: &ModprobeParams, _ctx: PlanCtx) -> Result<Probe<ModuleState>, String> {
        let name = valid_name(&p.name)?;
        Ok(Probe::fact(name.to_string()))
    }

    fn plan(&self, p: &ModprobeParams, facts: &ModuleState, _ctx: PlanCtx) -> Result<Plan, String> {
        let name = valid_name(&p.name)?;
        if let Some(path) = &facts.unreadable {
            // modprobe.py's module_loaded fails on the open(), in check mode too.
            return Err(format!("[Errno 2] No such file or directory: '{path}'"));
        }
        let want_loaded = p.state != Some(ModprobeState::Absent);
        let persistent = p.persistent.unwrap_or(Persistent::Disabled);
        let loaded = facts.loaded;
        let files = &facts.files;
        let load_files: Vec<&(String, Vec<u8>)> = files
            .iter()
            .filter(|(f, _)| f.starts_with(&format!("{LOAD_DIR}/")))
            .collect();
        let opt_files: Vec<&(String, Vec<u8>)> = files
            .iter()
            .filter(|(f, _)| f.starts_with(&format!("{OPTS_DIR}/")))
            .collect();
        let listed = load_files.iter().any(|(_, b)| {
            String::from_utf8_lossy(b)
                .lines()
                .any(|l| is_module_line(l, name))
        });
        let mut permanent: Vec<String> = opt_files
            .iter()
            .flat_map(|(_, b)| {
                String::from_utf8_lossy(b)
                    .lines()
                    .filter_map(|l| options_params(l, name))
                    .flatten()
                    .collect::<Vec<_>>()
            })
            .collect();
        permanent.sort();
        permanent.dedup();
        let mut desired: Vec<String> = p.params.split_whitespace().map(String::from).collect();
        desired.sort();
        desired.dedup();

        let mut plan = Plan::default();
        if want_loaded && !loaded {
            let mut argv = vec!["modprobe".to_string(), name.to_string()];
            argv.extend(
                crate::command::split(&p.params)
                    .ok_or_else(|| format!("unbalanced quotes in params {:?}", p.params))?,
            );
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv(argv),
            });
        } else if !want_loaded && loaded {
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv(["modprobe", "-r", name]),
            });
        }
        match persistent {
            Persistent::Present if !(listed && permanent == desired) => {
                if !listed {
                    let path = format!("{LOAD_DIR}/{name}.conf");
                    let before = files
                        .iter()
                        .find(|(f, _)| *f == path)
                        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    let mut after = before.clone();
                    if !after.is_empty() && !after.ends_with('\n') {
                        after.push('\n');
                    }
                    after.push_str(&format!("{name}\n"));
                    write(&mut plan, path, before, after);
                }
                if permanent != desired {
                    let own = format!("{OPTS_DIR}/{name}.conf");
                    if desired.is_empty() {
                        disable_old_params(&mut plan, &opt_files, name);
                    } else {
                        // Old options elsewhere are commented out; ours go to <name>.conf.
                        for (f, b) in &opt_files {
                            if *f == own {
                                continue;
                            }
                            let text = String::from_utf8_lossy(b).into_owned();
                            if text.lines().any(|l| options_params(l, name).is_some()) {
                                let after =
                                    comment_out(&text, |l| options_params(l, name).is_none());
                                write(&mut plan, f.clone(), text, after);
                            }
                        }
                        let before = opt_files
                            .iter()
                            .find(|(f, _)| *f == own)
                            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default();
                        let mut after: String = before
                            .split_inclusive('\n')
                            .filter(|l| options_params(l, name).is_none())
                            .collect();
                        if !after.is_empty() && !after.ends_with('\n') {
                            after.push('\n');
                        }
                        after.push_str(&format!("options {name} {}\n", p.params.trim()));
                        write(&mut plan, own, before, after);
                    }
                }
            }
            Persistent::Absent if listed || !permanent.is_empty() => {
                for (f, b) in &load_files {
                    let text = String::from_utf8_lossy(b).into_owned();
                    if text.lines().any(|l| is_module_line(l, name)) {
                        let after = comment_out(&text, |l| !is_module_line(l, name));
                        write(&mut plan, f.clone(), text, after);
                    }
                }
                disable_old_params(&mut plan, &opt_files, name);
            }
            _ => {}
        }
        plan.result
            .insert("name".into(), Value::String(name.into()));
        plan.result
            .insert("params".into(), Value::String(p.params.clone()));
        plan.result.insert(
            "state".into(),
            Value::String(if want_loaded { "present" } else { "absent" }.into()),
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;
    use crate::modules::sysprobe::testutil::{file_section, out, params, plan_of};
    use crate::transport::ExecOutput;
    use serde_json::json;

    fn probe(loaded: &str, files: &[(&str, &str)]) -> ExecOutput {
        let mut s = format!("@@loaded\n{loaded}@@files\n");
        for (p, c) in files {
            s.push_str(&file_section(p, c));
        }
        s.push_str("@@end\n");
        out(&s)
    }

    #[test]
    fn fresh_host_loads_and_persists() {
        let p: ModprobeParams = params(json!({"name": "br_netfilter", "persistent": "present"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Modprobe,
            &p,
            &probe("", &[("/etc/modules-load.d/modules.conf", "# none\n")])
        ));
    }

    #[test]
    fn builtin_module_is_present_and_persisted_with_options() {
        let p: ModprobeParams = params(json!({"name": "dummy", "params": "numdummies=2",
            "persistent": "present"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Modprobe,
            &p,
            &probe(
                "builtin\n",
                &[
                    ("/etc/modules-load.d/dummy.conf", "dummy\n"),
                    (
                        "/etc/modprobe.d/old.conf",
                        "options dummy numdummies=1\nblacklist x\n"
                    )
                ]
            )
        ));
    }

    #[test]
    fn converged_has_no_steps() {
        let p: ModprobeParams = params(json!({"name": "overlay", "persistent": "present"}));
        let plan = plan_of(
            &Modprobe,
            &p,
            &probe(
                "builtin\n",
                &[("/etc/modules-load.d/k8s.conf", "overlay\nbr_netfilter\n")],
            ),
        );
        assert!(plan.steps.is_empty(), "{plan:?}");
    }

    #[test]
    fn absent_unloads_and_comments_out() {
        let p: ModprobeParams =
            params(json!({"name": "br-netfilter", "state": "absent", "persistent": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(
            &Modprobe,
            &p,
            &probe(
                "proc\nsys\n",
                &[("/etc/modules-load.d/k8s.conf", "overlay\nbr_netfilter\n")]
            )
        ));
    }

    #[test]
    fn bad_parameters() {
        assert_eq!(
            refused::<ModprobeParams>(json!({"name": "x", "persistent": "yes"})),
            "persistent must be one of disabled, present, absent; got yes"
        );
        assert_eq!(
            refused::<ModprobeParams>(json!({"name": "x", "state": "loaded"})),
            "state must be one of present, absent; got loaded"
        );
    }
}
