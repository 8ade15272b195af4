//! `ansible.builtin.lineinfile`: make sure one line is in a file (or is not).
//!
//! Why this module exists: small edits to files the playbook does not own (sysctl.conf,
//! /etc/hosts, daemon configs). The probe reads the file; the new content is computed in
//! Rust with Ansible's rules (last match wins unless `firstmatch`, `insertafter`/
//! `insertbefore` regexes or `BOF`/`EOF`, `backrefs`), and written atomically.

use serde::Deserialize;
use serde_json::Value;

use super::ResultMap;
use super::TaskResult;
use super::fileops::{
    self, Attrs, Edit, FileFacts, PathQuery, PyRe, py_regex, split_lines, strip_eol,
};
use super::params::{Mode, ansible_bool, choice, opt_mode, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::transport::ExecOutput;

/// Parameters of `lineinfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineinfileParams {
    /// The file to edit (aliases `dest`, `destfile`, `name`). Required.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// The line to insert or replace (alias `value`). Required with `state: present`.
    #[serde(default, alias = "value", deserialize_with = "opt_stringish")]
    pub line: Option<String>,
    /// Python regular expression searched in every line (alias `regex`); the last match is
    /// replaced with `line`, or with `state: absent` every match is removed.
    #[serde(default, alias = "regex")]
    pub regexp: Option<String>,
    /// A literal string searched in every line, like `regexp`.
    #[serde(default)]
    pub search_string: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<LineinfileState>,
    /// Insert after the last line matching this regex, or `EOF` (default) or `BOF`.
    #[serde(default)]
    pub insertafter: Option<String>,
    /// Insert before the last line matching this regex, or `BOF`.
    #[serde(default)]
    pub insertbefore: Option<String>,
    /// Create the file when it does not exist. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub create: bool,
    /// `line` may use `\1`/`\g<name>` from `regexp`; without a match nothing changes.
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backrefs: bool,
    /// Keep a timestamped copy of the old file (result `backup`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Use the first match of `regexp`/`insertafter`/`insertbefore` instead of the last.
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub firstmatch: bool,
    /// Permission bits or symbolic mode for the file.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Command with `%s` that must accept the new file before it replaces the old one.
    #[serde(default)]
    pub validate: Option<String>,
}

choice! {
    /// `lineinfile`'s `state` (choices in lib/ansible/modules/lineinfile.py).
    pub enum LineinfileState {
        /// The line is in the file (replacing the last match of `regexp`/`search_string`).
        /// The default.
        Present = "present",
        /// No line matching `regexp`, `search_string` or `line` is in the file.
        Absent = "absent",
    }
    else "value of state must be one of: absent, present, got: {got}"
}

/// `ansible.builtin.lineinfile`.
pub struct Lineinfile;

enum Matcher<'a> {
    Re(&'a PyRe),
    Str(String),
    Line(String),
}

impl Matcher<'_> {
    fn find(&self, line: &str) -> Result<bool, String> {
        match self {
            Matcher::Re(r) => r.is_match(line),
            Matcher::Str(s) => Ok(line.contains(s.as_str())),
            Matcher::Line(l) => Ok(line == l),
        }
    }
}

/// Compute the new text and the message. `None`: no change.
pub fn edit(p: &LineinfileParams, text: &str) -> Result<(Option<String>, String), String> {
    let absent = p.state == Some(LineinfileState::Absent);
    if p.regexp.is_some() && p.search_string.is_some() {
        return Err("parameters are mutually exclusive: regexp, search_string".into());
    }
    if p.insertafter.is_some() && p.insertbefore.is_some() {
        return Err("parameters are mutually exclusive: insertafter, insertbefore".into());
    }
    if p.backrefs && p.regexp.is_none() {
        return Err("regexp is required with backrefs=true".into());
    }
    let re = match &p.regexp {
        Some(r) => Some(py_regex(r, false)?),
        None => None,
    };
    let mut lines = split_lines(text);
    let matcher = match (&re, &p.search_string, &p.line) {
        (Some(r), _, _) => Matcher::Re(r),
        (None, Some(s), _) => Matcher::Str(s.clone()),
        (None, None, Some(l)) => Matcher::Line(l.clone()),
        (None, None, None) => {
            return Err(if absent {
                "one of line, regexp or search_string is required with state=absent".into()
            } else {
                "line is required with state=present".into()
            });
        }
    };
    if absent {
        let before = lines.len();
        let mut keep = Vec::with_capacity(lines.len());
        for l in lines {
            if !matcher.find(strip_eol(&l))? {
                keep.push(l);
            }
        }
        lines = keep;
        let n = before - lines.len();
        return Ok((
            (n > 0).then(|| lines.concat()),
            format!("{n} line(s) removed"),
        ));
    }
    let line = p
        .line
        .clone()
        .ok_or("line is required with state=present")?;
    let ins_re = match (p.insertafter.as_deref(), p.insertbefore.as_deref()) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(py_regex(a, false)?),
        (None, Some(b)) if b != "BOF" => Some(py_regex(b, false)?),
        _ => None,
    };
    let mut found: Option<usize> = None;
    let mut ins: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        let cur = strip_eol(l);
        if matcher.find(cur)? {
            found = Some(i);
            if p.firstmatch {
                break;
            }
        }
        if let Some(r) = &ins_re
            && r.is_match(cur)?
        {
            ins = Some(if p.insertafter.is_some() { i + 1 } else { i });
            if p.firstmatch {
                break;
            }
        }
    }
    if let Some(i) = found {
        let new_line = if p.backrefs {
            let r = re.as_ref().ok_or("regexp is required with backrefs=true")?;
            let cur = strip_eol(&lines[i]).to_string();
            r.expand(&line, &cur)?.ok_or("regexp did not match")?
        } else {
            line.clone()
        };
        if strip_eol(&lines[i]) != new_line {
            let eol = &lines[i][strip_eol(&lines[i]).len()..];
            let eol = if eol.is_empty() { "\n" } else { eol };
            lines[i] = format!("{new_line}{eol}");
            return Ok((Some(lines.concat()), "line replaced".into()));
        }
        return Ok((None, String::new()));
    }
    if p.backrefs {
        return Ok((None, String::new()));
    }
    let new_line = format!("{line}\n");
    let bof = p.insertbefore.as_deref() == Some("BOF") || p.insertafter.as_deref() == Some("BOF");
    if bof {
        lines.insert(0, new_line);
    } else if p.insertafter.as_deref() == Some("EOF") || ins.is_none() {
        if let Some(last) = lines.last_mut()
            && !last.ends_with('\n')
        {
            last.push('\n');
        }
        lines.push(new_line);
    } else if let Some(i) = ins {
        if p.insertafter.is_some() {
            if i < lines.len() && strip_eol(&lines[i]) == line {
                return Ok((None, String::new()));
            }
            if i > 0 && !lines[i - 1].ends_with('\n') {
                lines[i - 1].push('\n');
            }
        } else if i > 0 && strip_eol(&lines[i - 1]) == line {
            return Ok((None, String::new()));
        }
        lines.insert(i, new_line);
    }
    Ok((Some(lines.concat()), "line added".into()))
}

#[async_trait::async_trait]
impl Planned for Lineinfile {
    type Params = LineinfileParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.lineinfile"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest", "destfile", "name"]
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[
            &["insertbefore", "insertafter"],
            &["regexp", "search_string"],
        ]
    }

    fn probe(&self, p: &LineinfileParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        fileops::check_path("path", &p.path)?;
        Ok(Probe::fact(PathQuery::text(&p.path)))
    }

    fn plan(&self, p: &LineinfileParams, f: &FileFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let absent = p.state == Some(LineinfileState::Absent);
        let mut result = ResultMap::new();
        result.insert("backup".into(), Value::String(String::new()));
        if !f.exists() {
            // Check the parameters even when there is nothing to edit.
            edit(p, "")?;
            if absent {
                result.insert("msg".into(), Value::String("file not present".into()));
                return Ok(Plan::unchanged(result));
            }
            if !p.create {
                return Err(format!("Destination {} does not exist !", p.path));
            }
        }
        let text = fileops::text_of(f)?;
        let (new, msg) = edit(p, &text)?;
        let attrs = Attrs {
            mode: p.mode.clone(),
            owner: p.owner.clone(),
            group: p.group.clone(),
        };
        fileops::edit_plan(
            &Edit {
                path: &p.path,
                new,
                attrs: &attrs,
                backup: p.backup,
                validate: p.validate.as_deref(),
                diff: ctx.diff,
                header: format!("{} (content)", p.path),
            },
            f,
            |_| msg,
            result,
        )
    }

    fn finish(&self, p: &LineinfileParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        fileops::finish_backup(result, outputs, &p.path, "backup");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::json;

    fn p(args: Value) -> LineinfileParams {
        let Value::Object(m) = args else { panic!() };
        params("lineinfile", m).unwrap()
    }

    fn ed(args: Value, text: &str) -> (Option<String>, String) {
        edit(&p(args), text).unwrap()
    }

    #[test]
    fn ansible_rules() {
        let t = "a=1\n#b=2\nc=3\n";
        assert_eq!(
            ed(json!({"path": "/f", "regexp": "^#?b=", "line": "b=5"}), t)
                .0
                .unwrap(),
            "a=1\nb=5\nc=3\n"
        );
        assert_eq!(
            ed(json!({"path": "/f", "line": "c=3"}), t),
            (None, String::new())
        );
        assert_eq!(
            ed(json!({"path": "/f", "line": "d"}), "x").0.unwrap(),
            "x\nd\n"
        );
        assert_eq!(
            ed(json!({"path": "/f", "line": "z", "insertbefore": "BOF"}), t)
                .0
                .unwrap(),
            "z\na=1\n#b=2\nc=3\n"
        );
        assert_eq!(
            ed(json!({"path": "/f", "line": "z", "insertafter": "^a="}), t)
                .0
                .unwrap(),
            "a=1\nz\n#b=2\nc=3\n"
        );
        assert_eq!(
            ed(json!({"path": "/f", "line": "z", "insertbefore": "^c="}), t)
                .0
                .unwrap(),
            "a=1\n#b=2\nz\nc=3\n"
        );
        assert_eq!(
            ed(
                json!({"path": "/f", "line": "z", "insertafter": "^nomatch"}),
                t
            )
            .0
            .unwrap(),
            format!("{t}z\n")
        );
        assert_eq!(
            ed(json!({"path": "/f", "regexp": "^(\\w)=(\\d)$", "line": "\\1 is \\2", "backrefs": true, "firstmatch": true}), t).0.unwrap(),
            "a is 1\n#b=2\nc=3\n"
        );
        assert_eq!(
            ed(
                json!({"path": "/f", "regexp": "^q", "line": "x", "backrefs": true}),
                t
            ),
            (None, String::new())
        );
        assert_eq!(
            ed(json!({"path": "/f", "regexp": "=", "state": "absent"}), t),
            (Some(String::new()), "3 line(s) removed".into())
        );
        assert_eq!(
            ed(
                json!({"path": "/f", "search_string": "#b", "state": "absent"}),
                t
            )
            .0
            .unwrap(),
            "a=1\nc=3\n"
        );
    }

    fn out(s: &str) -> ExecOutput {
        ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        }
    }

    #[test]
    fn golden_lineinfile() {
        let mut q = p(
            json!({"path": "/etc/sysctl.conf", "regexp": "^net.ipv4.ip_forward", "line": "net.ipv4.ip_forward = 1", "mode": "0644", "backup": true}),
        );
        let mut ctx = PlanCtx {
            diff: true,
            ..PlanCtx::default()
        };
        let probe = "path=/etc/sysctl.conf\nkind=file\nmode=600\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=25\n--windlass-content--\n# x\nnet.ipv4.ip_forward = 0\n";
        insta::assert_yaml_snapshot!(
            "lineinfile_replace",
            plan_with(&Lineinfile, &q, &out(probe), ctx).unwrap()
        );
        let conv = "path=/etc/sysctl.conf\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=25\n--windlass-content--\nnet.ipv4.ip_forward = 1\n";
        let plan = plan_with(&Lineinfile, &q, &out(conv), ctx).unwrap();
        assert!(plan.steps.is_empty() && !plan.is_change());
        let missing = "path=/etc/sysctl.conf\nkind=absent\n";
        insta::assert_snapshot!(
            "lineinfile_err_missing",
            plan_with(&Lineinfile, &q, &out(missing), ctx).unwrap_err()
        );
        q.create = true;
        ctx.diff = false;
        insta::assert_yaml_snapshot!(
            "lineinfile_create",
            plan_with(&Lineinfile, &q, &out(missing), ctx).unwrap()
        );
        let bad = p(json!({"path": "/f", "regexp": "(", "line": "x"}));
        insta::assert_snapshot!(
            "lineinfile_err_regex",
            plan_with(&Lineinfile, &bad, &out(conv), ctx).unwrap_err()
        );
    }
}
