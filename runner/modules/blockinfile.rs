//! `ansible.builtin.blockinfile`: keep a block of lines between two marker lines in a file.
//!
//! Why this module exists: a playbook often owns a few lines of a shared file (hosts
//! entries, a containerd mirror section). The markers make the block findable again, so
//! the content can be replaced or removed on later runs. The probe reads the file; the new
//! content is computed in Rust and written atomically.

use serde::Deserialize;
use serde_json::Value;

use super::ResultMap;
use super::TaskResult;
use super::fileops::{self, Attrs, Edit, FileFacts, PathQuery, py_regex, split_lines, strip_eol};
use super::params::{Mode, ansible_bool, choice, opt_mode, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::transport::ExecOutput;

/// Parameters of `blockinfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockinfileParams {
    /// The file to edit (aliases `dest`, `destfile`, `name`). Required.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// The text between the markers (alias `content`); empty removes the block. Default "".
    #[serde(default, alias = "content", deserialize_with = "opt_stringish")]
    pub block: Option<String>,
    /// Marker line template; `{mark}` becomes `marker_begin`/`marker_end`. Default
    /// `# {mark} ANSIBLE MANAGED BLOCK`.
    #[serde(default)]
    pub marker: Option<String>,
    /// Replaces `{mark}` in the first marker. Default `BEGIN`.
    #[serde(default)]
    pub marker_begin: Option<String>,
    /// Replaces `{mark}` in the last marker. Default `END`.
    #[serde(default)]
    pub marker_end: Option<String>,
    /// A new block goes after the last line matching this regex, or `EOF` (default).
    #[serde(default)]
    pub insertafter: Option<String>,
    /// A new block goes before the last line matching this regex, or `BOF`.
    #[serde(default)]
    pub insertbefore: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<BlockinfileState>,
    /// Create the file when missing. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub create: bool,
    /// Keep a timestamped copy of the old file (result `backup_file`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Permission bits or symbolic mode.
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
    /// Add a blank line after the block unless one (or the end of the file) is there
    /// already. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub append_newline: bool,
    /// Add a blank line before the block unless one (or the start of the file) is there
    /// already. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub prepend_newline: bool,
}

choice! {
    /// `blockinfile`'s `state` (choices in lib/ansible/modules/blockinfile.py).
    pub enum BlockinfileState {
        /// The block is in the file between its markers. The default.
        Present = "present",
        /// The markers and the block between them are removed.
        Absent = "absent",
    }
    else "value of state must be one of: absent, present, got: {got}"
}

/// `ansible.builtin.blockinfile`.
pub struct Blockinfile;

/// The new text and message; `None`: no change.
pub fn edit(p: &BlockinfileParams, text: &str) -> Result<(Option<String>, String), String> {
    let present = p.state != Some(BlockinfileState::Absent);
    if p.insertafter.is_some() && p.insertbefore.is_some() {
        return Err("parameters are mutually exclusive: insertafter, insertbefore".into());
    }
    let marker = p
        .marker
        .as_deref()
        .unwrap_or("# {mark} ANSIBLE MANAGED BLOCK");
    let m0 = marker.replace("{mark}", p.marker_begin.as_deref().unwrap_or("BEGIN"));
    let m1 = marker.replace("{mark}", p.marker_end.as_deref().unwrap_or("END"));
    let block = p.block.clone().unwrap_or_default();
    let blocklines: Vec<String> = if present && !block.is_empty() {
        let mut v = vec![format!("{m0}\n")];
        v.extend(block.lines().map(|l| format!("{l}\n")));
        v.push(format!("{m1}\n"));
        v
    } else {
        Vec::new()
    };
    let mut lines = split_lines(text);
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    let n0 = lines.iter().position(|l| strip_eol(l) == m0);
    let n1 = lines.iter().position(|l| strip_eol(l) == m1);
    let (start, end) = match (n0, n1) {
        (Some(a), Some(b)) if a <= b => (a, b + 1),
        (Some(a), Some(b)) => (b, a + 1),
        _ => {
            // No block yet: where would it go?
            let at = insert_at(p, text, &lines)?;
            (at, at)
        }
    };
    if p.append_newline || p.prepend_newline {
        return Ok(with_blank_lines(
            p,
            present,
            text,
            lines,
            (start, end),
            blocklines,
        ));
    }
    if lines[start..end] == blocklines[..] {
        return Ok((None, String::new()));
    }
    let msg = if blocklines.is_empty() {
        "Block removed"
    } else {
        "Block inserted"
    };
    lines.splice(start..end, blocklines);
    Ok((Some(lines.concat()), msg.to_string()))
}

/// Where a new block goes (lib/ansible/modules/blockinfile.py): after the last line
/// matching `insertafter`, before the last matching `insertbefore`; a regex with the
/// MULTILINE flag (`(?m)`) is searched in the whole text instead, and counts the lines
/// before its match's end (after) or start (before).
fn insert_at(p: &BlockinfileParams, text: &str, lines: &[String]) -> Result<usize, String> {
    let (pat, after) = match (p.insertafter.as_deref(), p.insertbefore.as_deref()) {
        (_, Some("BOF")) => return Ok(0),
        (_, Some(r)) => (r, false),
        (Some(r), None) if r != "EOF" => (r, true),
        _ => return Ok(lines.len()),
    };
    let re = py_regex(pat, false)?;
    if multiline_flag(pat) {
        return Ok(match re.find(text)? {
            Some((_, e)) if after => text[..e].matches('\n').count() + 1,
            Some((b, _)) => text[..b].matches('\n').count(),
            None => lines.len(),
        });
    }
    let mut at = None;
    for (i, l) in lines.iter().enumerate() {
        if re.is_match(strip_eol(l))? {
            at = Some(i);
        }
    }
    Ok(at.map(|i| i + usize::from(after)).unwrap_or(lines.len()))
}

/// Whether a Python pattern sets `re.MULTILINE` inline (`(?m)`, `(?im)` at its start).
fn multiline_flag(pat: &str) -> bool {
    pat.strip_prefix("(?")
        .and_then(|r| r.split_once(')'))
        .is_some_and(|(flags, _)| {
            flags.contains('m') && flags.chars().all(|c| "aiLmsux".contains(c))
        })
}

/// The block in place with `append_newline`/`prepend_newline` (blockinfile.py): a blank
/// line before it unless at the start or after a blank line, one after it unless at the
/// end or before a blank line.
fn with_blank_lines(
    p: &BlockinfileParams,
    present: bool,
    text: &str,
    mut lines: Vec<String>,
    (start, end): (usize, usize),
    blocklines: Vec<String>,
) -> (Option<String>, String) {
    lines.drain(start..end);
    let mut n0 = start;
    if p.prepend_newline && present && n0 != 0 && lines[n0 - 1] != "\n" {
        lines.insert(n0, "\n".into());
        n0 += 1;
    }
    let after = n0 + blocklines.len();
    let removed = blocklines.is_empty();
    lines.splice(n0..n0, blocklines);
    if p.append_newline && present && after < lines.len() && lines[after] != "\n" {
        lines.insert(after, "\n".into());
    }
    let new = lines.concat();
    if new == text {
        return (None, String::new());
    }
    let msg = if removed {
        "Block removed"
    } else {
        "Block inserted"
    };
    (Some(new), msg.to_string())
}

#[async_trait::async_trait]
impl Planned for Blockinfile {
    type Params = BlockinfileParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.blockinfile"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest", "destfile", "name"]
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[&["insertbefore", "insertafter"]]
    }

    fn probe(&self, p: &BlockinfileParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        fileops::check_path("path", &p.path)?;
        Ok(Probe::fact(PathQuery::text(&p.path)))
    }

    fn plan(&self, p: &BlockinfileParams, f: &FileFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let mut result = ResultMap::new();
        let (new, mut msg) = edit(p, &fileops::text_of(f)?)?;
        if !f.exists() {
            if p.state == Some(BlockinfileState::Absent) || new.is_none() {
                result.insert("msg".into(), Value::String(String::new()));
                return Ok(Plan::unchanged(result));
            }
            if !p.create {
                return Err(format!("Path {} does not exist !", p.path));
            }
            msg = "File created".into();
        }
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

    fn finish(&self, p: &BlockinfileParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        fileops::finish_backup(result, outputs, &p.path, "backup_file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::json;

    fn p(args: Value) -> BlockinfileParams {
        let Value::Object(m) = args else { panic!() };
        params("blockinfile", m).unwrap()
    }

    /// A `(?m)` regex is searched in the whole text (blockinfile.py's MULTILINE branch);
    /// append/prepend_newline add blank lines once.
    #[test]
    fn multiline_anchor_and_blank_lines() {
        let e = edit(
            &p(json!({"path": "/f", "block": "x", "insertafter": "(?m)^a\nb$"})),
            "a\nb\nc\n",
        );
        assert_eq!(
            e.unwrap().0.unwrap(),
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n"
        );
        let args = json!({"path": "/f", "block": "x", "insertbefore": "BOF", "append_newline": true, "prepend_newline": true});
        let once = edit(&p(args.clone()), "a\n").unwrap().0.unwrap();
        assert_eq!(
            once,
            "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\na\n"
        );
        assert_eq!(edit(&p(args), &once).unwrap().0, None);
    }

    #[test]
    fn block_rules() {
        let q = p(json!({"path": "/f", "block": "a\nb"}));
        let (new, msg) = edit(&q, "x\n").unwrap();
        assert_eq!(
            new.as_deref(),
            Some("x\n# BEGIN ANSIBLE MANAGED BLOCK\na\nb\n# END ANSIBLE MANAGED BLOCK\n")
        );
        assert_eq!(msg, "Block inserted");
        assert_eq!(edit(&q, new.as_deref().unwrap()).unwrap().0, None);
        let q2 = p(
            json!({"path": "/f", "content": "c", "marker": "// {mark} m", "insertbefore": "BOF"}),
        );
        assert_eq!(
            edit(&q2, "x\n// BEGIN m\na\n// END m\ny")
                .unwrap()
                .0
                .as_deref(),
            Some("x\n// BEGIN m\nc\n// END m\ny\n")
        );
        let gone = p(json!({"path": "/f", "state": "absent"}));
        assert_eq!(
            edit(
                &gone,
                "x\n# BEGIN ANSIBLE MANAGED BLOCK\na\n# END ANSIBLE MANAGED BLOCK\n"
            )
            .unwrap(),
            (Some("x\n".into()), "Block removed".into())
        );
        let after = p(json!({"path": "/f", "block": "z", "insertafter": "^x"}));
        assert_eq!(
            edit(&after, "x\ny\n").unwrap().0.as_deref(),
            Some("x\n# BEGIN ANSIBLE MANAGED BLOCK\nz\n# END ANSIBLE MANAGED BLOCK\ny\n")
        );
    }

    #[test]
    fn golden_blockinfile() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        };
        let mut q = p(
            json!({"path": "/etc/hosts", "block": "10.0.0.1 a\n10.0.0.2 b\n", "create": true, "mode": "0644"}),
        );
        let ctx = PlanCtx {
            diff: true,
            ..PlanCtx::default()
        };
        insta::assert_yaml_snapshot!(
            "blockinfile_create",
            plan_with(
                &Blockinfile,
                &q,
                &out("path=/etc/hosts\nkind=absent\n"),
                ctx
            )
            .unwrap()
        );
        q.create = false;
        insta::assert_snapshot!(
            "blockinfile_err_missing",
            plan_with(
                &Blockinfile,
                &q,
                &out("path=/etc/hosts\nkind=absent\n"),
                ctx
            )
            .unwrap_err()
        );
        let conv = "path=/etc/hosts\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\n--windlass-content--\n127.0.0.1 localhost\n# BEGIN ANSIBLE MANAGED BLOCK\n10.0.0.1 a\n10.0.0.2 b\n# END ANSIBLE MANAGED BLOCK\n";
        assert!(
            !plan_with(&Blockinfile, &q, &out(conv), ctx)
                .unwrap()
                .is_change()
        );
    }
}
