//! `community.general.ini_file` (also `ini_file`): set or remove one option, or a whole
//! section, in an INI-style file.
//!
//! Why this module exists: many daemons read INI files (containerd's older configs,
//! systemd drop-ins, pip.conf). The probe reads the file; the option line is found within
//! its section, replaced, inserted after the section's last non-blank line, or removed; the
//! new content is written atomically.

use serde::Deserialize;
use serde_json::Value;

use super::ResultMap;
use super::TaskResult;
use super::fileops::{self, Attrs, Edit, FileFacts, PathQuery, split_lines, strip_eol};
use super::params::{Mode, ansible_bool, choice, opt_mode, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned, Probe, Step};
use crate::command::RemoteCommand;
use crate::transport::ExecOutput;

fn yes() -> bool {
    true
}

/// Parameters of `ini_file`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IniFileParams {
    /// The INI file (alias `dest`). Required.
    #[serde(alias = "dest")]
    pub path: String,
    /// Section name; empty or null means the options before the first section.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub section: Option<String>,
    /// Option name; without it, `state: absent` removes the whole section and
    /// `state: present` only makes sure the section exists.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub option: Option<String>,
    /// The value to set.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub value: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<IniFileState>,
    /// Write `option=value` instead of `option = value`. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub no_extra_spaces: bool,
    /// Create the file when missing. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub create: bool,
    /// Keep a timestamped copy of the old file (result `backup_file`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Allow an option without a value (written as the bare name). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub allow_no_value: bool,
    /// Permission bits or symbolic mode.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
}

choice! {
    /// `ini_file`'s `state` (choices in community.general's ini_file module).
    pub enum IniFileState {
        /// The option (or, without `option`, the section) is in the file. The default.
        Present = "present",
        /// The option (or, without `option`, the whole section) is removed.
        Absent = "absent",
    }
    else "value of state must be one of: absent, present, got: {got}"
}

/// `community.general.ini_file`.
pub struct IniFile;

fn header_name(line: &str) -> Option<&str> {
    let t = strip_eol(line).trim();
    t.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

fn is_option(line: &str, option: &str) -> bool {
    let t = strip_eol(line).trim_start_matches([' ', '\t']);
    match t.strip_prefix(option) {
        Some(rest) => {
            let rest = rest.trim_start_matches([' ', '\t']);
            rest.is_empty() || rest.starts_with('=') || rest.starts_with(':')
        }
        None => false,
    }
}

/// The new text and the message; `None`: no change.
pub fn edit(p: &IniFileParams, text: &str) -> Result<(Option<String>, String), String> {
    let present = p.state != Some(IniFileState::Absent);
    if present && p.option.is_some() && p.value.is_none() && !p.allow_no_value {
        return Err("value is required with state=present unless allow_no_value is true".into());
    }
    let section = p.section.as_deref().filter(|s| !s.is_empty());
    let mut lines = split_lines(text);
    if lines.is_empty() {
        // ini_file.py: "ini file could be empty" — it starts from one blank line.
        lines.push("\n".to_string());
    }
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    let first_header = lines.iter().position(|l| header_name(l).is_some());
    // (header index, body start, body end)
    let range = match section {
        None => Some((None, 0, first_header.unwrap_or(lines.len()))),
        Some(s) => lines
            .iter()
            .position(|l| header_name(l) == Some(s))
            .map(|h| {
                let end = lines[h + 1..]
                    .iter()
                    .position(|l| header_name(l).is_some())
                    .map(|i| h + 1 + i)
                    .unwrap_or(lines.len());
                (Some(h), h + 1, end)
            }),
    };
    let opt_line = |o: &str| match &p.value {
        None => format!("{o}\n"),
        Some(v) if p.no_extra_spaces => format!("{o}={v}\n"),
        Some(v) => format!("{o} = {v}\n"),
    };
    let changed = |lines: Vec<String>, msg: &str| Ok((Some(lines.concat()), msg.to_string()));
    match (present, range, p.option.as_deref()) {
        (true, None, opt) => {
            let s = section.unwrap_or_default();
            lines.push(format!("[{s}]\n"));
            if let Some(o) = opt {
                lines.push(opt_line(o));
            }
            changed(
                lines,
                if opt.is_some() {
                    "section and option added"
                } else {
                    "section added"
                },
            )
        }
        (true, Some(_), None) => Ok((None, "OK".into())),
        (true, Some((_, start, end)), Some(o)) => {
            let new = opt_line(o);
            if let Some(i) = (start..end).find(|i| is_option(&lines[*i], o)) {
                if lines[i] == new {
                    return Ok((None, "OK".into()));
                }
                lines[i] = new;
                return changed(lines, "option changed");
            }
            let mut at = end;
            while at > start && strip_eol(&lines[at - 1]).trim().is_empty() {
                at -= 1;
            }
            lines.insert(at, new);
            changed(lines, "option added")
        }
        (false, None, _) => Ok((None, "OK".into())),
        (false, Some((h, _, end)), None) => match h {
            Some(h) => {
                lines.drain(h..end);
                changed(lines, "section removed")
            }
            // Without a section name there is no section to remove.
            None => Ok((None, "OK".into())),
        },
        (false, Some((_, start, end)), Some(o)) => {
            let before = lines.len();
            let mut i = start;
            let mut end = end;
            while i < end {
                if is_option(&lines[i], o) {
                    lines.remove(i);
                    end -= 1;
                } else {
                    i += 1;
                }
            }
            if lines.len() == before {
                Ok((None, "OK".into()))
            } else {
                changed(lines, "option changed")
            }
        }
    }
}

#[async_trait::async_trait]
impl Planned for IniFile {
    type Params = IniFileParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "community.general.ini_file"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest"]
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["ansible.builtin.ini_file"]
    }

    fn probe(&self, p: &IniFileParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        fileops::check_path("path", &p.path)?;
        Ok(Probe::fact(PathQuery::text(&p.path)))
    }

    fn plan(&self, p: &IniFileParams, f: &FileFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let (new, msg) = edit(p, &fileops::text_of(f)?)?;
        if !f.exists() && new.is_some() && !p.create {
            return Err(format!("Destination {} does not exist!", p.path));
        }
        let attrs = Attrs {
            mode: p.mode.clone(),
            owner: p.owner.clone(),
            group: p.group.clone(),
        };
        let mut result = ResultMap::new();
        result.insert("path".into(), Value::String(p.path.clone()));
        let size = new.as_ref().map(|n| n.len() as u64);
        let mut plan = fileops::edit_plan(
            &Edit {
                path: &p.path,
                new,
                attrs: &attrs,
                backup: p.backup,
                validate: None,
                diff: ctx.diff,
                header: format!("{} (content)", p.path),
            },
            f,
            // ini_file.py's message is do_ini's alone: attributes set after it
            // (`set_fs_attributes_if_different`) leave it as it is.
            |_| String::new(),
            result,
        )?;
        plan.result.insert("msg".into(), Value::String(msg));
        path_info(&mut plan.result, f, size.filter(|_| !ctx.check));
        if !ctx.check && !plan.steps.is_empty() && size.is_none() {
            // The attributes `add_path_info` reports after an attributes-only change, read
            // in `finish` (a write prints them itself).
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::argv(["stat", fileops::FINAL_STAT_FORMAT, "--", &p.path]),
            });
        }
        Ok(plan)
    }

    fn finish(&self, p: &IniFileParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        fileops::apply_final(result, outputs, &p.path, "backup_file");
    }
}

/// The keys Ansible's `exit_json` adds for the result's `path` (`add_path_info`): the
/// file's ids, names, mode, kind and size; nothing when it does not exist. `written`: the size
/// of the content a run writes (the ids and mode then come from the final stat).
fn path_info(r: &mut ResultMap, f: &FileFacts, written: Option<u64>) {
    if !f.exists() {
        // A new file: its ids and mode come from the write's final stat.
        if let Some(n) = written {
            r.insert("state".into(), Value::String("file".into()));
            r.insert("size".into(), Value::from(n));
        }
        return;
    }
    let name = |n: &str, id: u32| match n {
        "UNKNOWN" | "" => id.to_string(),
        n => n.to_string(),
    };
    r.insert("uid".into(), Value::from(f.uid));
    r.insert("gid".into(), Value::from(f.gid));
    r.insert("owner".into(), Value::String(name(&f.owner, f.uid)));
    r.insert("group".into(), Value::String(name(&f.group, f.gid)));
    r.insert(
        "mode".into(),
        Value::String(format!("0{:03o}", f.mode & 0o7777)),
    );
    let state = match f.nlink {
        n if n > 1 && written.is_none() => "hard",
        _ => "file",
    };
    r.insert("state".into(), Value::String(state.into()));
    r.insert("size".into(), Value::from(written.unwrap_or(f.size)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::json;

    fn p(args: Value) -> IniFileParams {
        let Value::Object(m) = args else { panic!() };
        params("ini_file", m).unwrap()
    }

    #[test]
    fn ini_rules() {
        let t = "top=1\n[a]\nx = 1\n\n[b]\ny=2\n";
        let e = |args: Value| edit(&p(args), t).unwrap();
        assert_eq!(
            e(json!({"path": "/f", "section": "a", "option": "x", "value": 1})),
            (None, "OK".into())
        );
        assert_eq!(
            e(json!({"path": "/f", "section": "a", "option": "x", "value": 2}))
                .0
                .unwrap(),
            "top=1\n[a]\nx = 2\n\n[b]\ny=2\n"
        );
        assert_eq!(e(json!({"path": "/f", "section": "a", "option": "z", "value": "q", "no_extra_spaces": true})).0.unwrap(), "top=1\n[a]\nx = 1\nz=q\n\n[b]\ny=2\n");
        assert_eq!(
            e(json!({"path": "/f", "section": "c", "option": "k", "value": "v"}))
                .0
                .unwrap(),
            format!("{t}[c]\nk = v\n")
        );
        assert_eq!(
            e(json!({"path": "/f", "section": "b", "state": "absent"}))
                .0
                .unwrap(),
            "top=1\n[a]\nx = 1\n\n"
        );
        assert_eq!(
            e(json!({"path": "/f", "section": "b", "option": "y", "state": "absent"}))
                .0
                .unwrap(),
            "top=1\n[a]\nx = 1\n\n[b]\n"
        );
        assert_eq!(
            e(json!({"path": "/f", "section": null, "option": "top", "value": "2"}))
                .0
                .unwrap(),
            "top = 2\n[a]\nx = 1\n\n[b]\ny=2\n"
        );
    }

    #[test]
    fn golden_ini_file() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        };
        let q = p(
            json!({"path": "/etc/pip.conf", "section": "global", "option": "timeout", "value": 60, "mode": "0644"}),
        );
        let ctx = PlanCtx {
            diff: true,
            ..PlanCtx::default()
        };
        insta::assert_yaml_snapshot!(
            "ini_file_create",
            plan_with(&IniFile, &q, &out("path=/etc/pip.conf\nkind=absent\n"), ctx).unwrap()
        );
        let conv = "path=/etc/pip.conf\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\n--windlass-content--\n[global]\ntimeout = 60\n";
        assert!(
            !plan_with(&IniFile, &q, &out(conv), ctx)
                .unwrap()
                .is_change()
        );
        let bad = p(json!({"path": "/f", "section": "s", "option": "o"}));
        insta::assert_snapshot!(
            "ini_file_err_value",
            plan_with(&IniFile, &bad, &out(conv), ctx).unwrap_err()
        );
    }
}
