//! `ansible.builtin.replace`: replace every match of a regular expression in a file.
//!
//! Why this module exists: edits that are not line-shaped (a value inside a line, a
//! multi-line section). Patterns and replacements are Python's `re` (backreferences,
//! look-around, `\1`, `\g<name>`), run by the regex filters' engine (`fileops::PyRe`);
//! the pattern runs in MULTILINE mode like Ansible's,
//! optionally only between the first match of `after` and the first match of `before`.

use serde::Deserialize;

use super::ResultMap;
use super::TaskResult;
use super::fileops::{self, Attrs, Edit, FileFacts, PathQuery, py_regex};
use super::params::{Mode, ansible_bool, opt_mode, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::transport::ExecOutput;

/// Parameters of `replace`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceParams {
    /// The file to edit (aliases `dest`, `destfile`, `name`). Required.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// Python regular expression (MULTILINE) to search for. Required.
    pub regexp: String,
    /// Replacement text; may use `\1` and `\g<name>`. Default "" (delete the matches).
    #[serde(default, deserialize_with = "opt_stringish")]
    pub replace: Option<String>,
    /// Only replace after the first match of this regex (DOTALL).
    #[serde(default)]
    pub after: Option<String>,
    /// Only replace before the first match of this regex (DOTALL).
    #[serde(default)]
    pub before: Option<String>,
    /// Keep a timestamped copy of the old file (result `backup_file`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Command with `%s` that must accept the new file before it replaces the old one.
    #[serde(default)]
    pub validate: Option<String>,
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

/// `ansible.builtin.replace`.
pub struct Replace;

/// The new text and the number of replacements.
pub fn edit(p: &ReplaceParams, text: &str) -> Result<(String, usize), String> {
    let re = py_regex(&p.regexp, true)?;
    let dotall = |r: &str| py_regex(&format!("(?s:{r})"), true);
    let mut start = 0;
    let mut end = text.len();
    if let Some(a) = &p.after {
        if let Some((_, e)) = dotall(a)?.find(text)? {
            start = e;
        }
    }
    if let Some(b) = &p.before {
        if let Some((b, _)) = dotall(b)?.find(&text[start..])? {
            end = start + b;
        }
    }
    let section = &text[start..end];
    let (replaced, n) = re.subn(p.replace.as_deref().unwrap_or(""), section)?;
    Ok((format!("{}{}{}", &text[..start], replaced, &text[end..]), n))
}

#[async_trait::async_trait]
impl Planned for Replace {
    type Params = ReplaceParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.replace"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest", "destfile", "name"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["regexp"]
    }

    fn probe(&self, p: &ReplaceParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        fileops::check_path("path", &p.path)?;
        Ok(Probe::fact(PathQuery::text(&p.path)))
    }

    fn plan(&self, p: &ReplaceParams, f: &FileFacts, ctx: PlanCtx) -> Result<Plan, String> {
        if !f.exists() {
            py_regex(&p.regexp, true)?;
            return Err(format!("Path {} does not exist !", p.path));
        }
        let text = fileops::text_of(f)?;
        let (new, n) = edit(p, &text)?;
        let msg = if new != text {
            format!("{n} replacements made")
        } else {
            String::new()
        };
        let attrs = Attrs {
            mode: p.mode.clone(),
            owner: p.owner.clone(),
            group: p.group.clone(),
        };
        let result = ResultMap::new();
        fileops::edit_plan(
            &Edit {
                path: &p.path,
                new: (new != text).then_some(new),
                attrs: &attrs,
                backup: p.backup,
                validate: p.validate.as_deref(),
                diff: ctx.diff,
                header: p.path.clone(),
            },
            f,
            |_| msg,
            result,
        )
    }

    fn finish(&self, p: &ReplaceParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        fileops::finish_backup(result, outputs, &p.path, "backup_file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::Value;
    use serde_json::json;

    fn p(args: Value) -> ReplaceParams {
        let Value::Object(m) = args else { panic!() };
        params("replace", m).unwrap()
    }

    #[test]
    fn python_semantics() {
        let q =
            p(json!({"path": "/f", "regexp": "^(?P<k>\\w+) = (\\d+)$", "replace": "\\g<k>=\\2$"}));
        assert_eq!(
            edit(&q, "a = 1\nb = 2\n").unwrap(),
            ("a=1$\nb=2$\n".into(), 2)
        );
        let q = p(
            json!({"path": "/f", "regexp": "x", "replace": "y", "after": "\\[s\\]", "before": "\\[t\\]"}),
        );
        assert_eq!(
            edit(&q, "x\n[s]\nx\n[t]\nx\n").unwrap(),
            ("x\n[s]\ny\n[t]\nx\n".into(), 1)
        );
    }

    #[test]
    fn golden_replace() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        };
        let q = p(
            json!({"path": "/etc/fstab", "regexp": "^([^#].*\\sswap\\s.*)$", "replace": "# \\1", "backup": true}),
        );
        let ctx = PlanCtx {
            diff: true,
            ..PlanCtx::default()
        };
        let probe = "path=/etc/fstab\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\n--windlass-content--\n/dev/sda1 / ext4 defaults 0 1\n/swap.img none swap sw 0 0\n";
        insta::assert_yaml_snapshot!(
            "replace_swap",
            plan_with(&Replace, &q, &out(probe), ctx).unwrap()
        );
        let done = "path=/etc/fstab\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\n--windlass-content--\n/dev/sda1 / ext4 defaults 0 1\n# /swap.img none swap sw 0 0\n";
        assert!(
            !plan_with(&Replace, &q, &out(done), ctx)
                .unwrap()
                .is_change()
        );
        insta::assert_snapshot!(
            "replace_err_missing",
            plan_with(&Replace, &q, &out("path=/etc/fstab\nkind=absent\n"), ctx).unwrap_err()
        );
        // Python's re: look-behind works; an unbalanced group is an error.
        let look = p(json!({"path": "/f", "regexp": "(?<=a)b", "replace": "B"}));
        assert_eq!(edit(&look, "ab b\n").unwrap(), ("aB b\n".to_string(), 1));
        let bad = p(json!({"path": "/f", "regexp": "(a"}));
        insta::assert_snapshot!(
            "replace_err_regex",
            plan_with(&Replace, &bad, &out(done), ctx).unwrap_err()
        );
    }
}
