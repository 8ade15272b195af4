//! `ansible.builtin.template`: render a Jinja2 template on the controller and put the result
//! on the host.
//!
//! Why this module exists: configuration files are templates. Rendering happens in
//! `prepare` (with `template_path`, `template_host`, `template_fullpath`,
//! `template_destpath` set like Ansible does); from there it is `copy` with content: the
//! same probe, checksum comparison, validated atomic write, backup and diff. The task's
//! Jinja syntax options (delimiters, `trim_blocks`, `lstrip_blocks`, `newline_sequence`)
//! apply to this one render, as `lib/ansible/plugins/action/template.py` passes them as
//! overrides; `output_encoding` and `mode: preserve` are the action's too.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::TaskCtx;
use super::TaskResult;
use super::copy::{PutFacts, PutQuery, PutRequest, basename, put_plan};
use super::fileops::{self, Attrs};
use super::params::{Mode, ansible_bool, choice, opt_stringish, parse_mode};
use super::plan::{Plan, PlanCtx, Planned, Probe};
use crate::template::{SearchKind, TemplateSyntax};
use crate::transport::ExecOutput;

/// `ansible_managed` in templates, as Ansible 2.19 sets it without configuration.
const ANSIBLE_MANAGED: &str = "Ansible managed";

fn yes() -> bool {
    true
}

/// Parameters of `template`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateParams {
    /// The template on the controller, searched in the role's `templates/`, then the
    /// playbook directory's `templates/`, then as given. Required.
    pub src: String,
    /// Path on the host; ending in `/` or naming a directory means `dest/<basename of src>`.
    /// Required.
    pub dest: String,
    /// Permission bits or a symbolic mode; `preserve`: the mode of the `src` file on the
    /// controller. Default keeps an existing file's mode, 0644 for a new one.
    #[serde(default, deserialize_with = "opt_template_mode")]
    pub mode: Option<TemplateMode>,
    /// Owner name or uid; default keeps the existing owner.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group name or gid; default keeps the existing group.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Keep a timestamped copy of the old file (result `backup_file`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Command that must succeed on the rendered file (`%s`) before it replaces `dest`.
    #[serde(default)]
    pub validate: Option<String>,
    /// Replace a differing file; `false`: only create a missing one. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Line endings of the template's own text in the result: `\n` (default), `\r\n` or
    /// `\r` (also written escaped, `'\r\n'`). Newlines inside values printed keep theirs.
    #[serde(default)]
    pub newline_sequence: Option<NewlineSequence>,
    /// Encoding of the written file: `utf-8` (default), `latin-1` (`iso-8859-1`),
    /// `ascii`, `utf-16`, `utf-16-le`, `utf-16-be`, with Python's spellings. A character
    /// the encoding cannot represent fails the task. The template itself is UTF-8.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub output_encoding: Option<String>,
    /// Remove the first newline after a block tag (`{% ... %}`). Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub trim_blocks: bool,
    /// Strip spaces and tabs before a block tag at the start of a line. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub lstrip_blocks: bool,
    /// The string starting a print statement. Default `{{`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub variable_start_string: Option<String>,
    /// The string ending a print statement. Default `}}`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub variable_end_string: Option<String>,
    /// The string starting a block. Default `{%`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub block_start_string: Option<String>,
    /// The string ending a block. Default `%}`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub block_end_string: Option<String>,
    /// The string starting a comment. Default `{#`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub comment_start_string: Option<String>,
    /// The string ending a comment. Default `#}`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub comment_end_string: Option<String>,
    /// Follow a symbolic link at `dest` and write its target. Default `false`: a link at
    /// `dest` is replaced by the file, as Ansible's.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub follow: bool,
    #[serde(skip)]
    pub(crate) rendered: Vec<u8>,
    /// `mode` resolved (`preserve` read from the source file).
    #[serde(skip)]
    pub(crate) final_mode: Option<Mode>,
    /// Where the template was found on the controller (the diff's `after` header).
    #[serde(skip)]
    pub(crate) local_path: Option<String>,
}

choice! {
    /// `template`'s `newline_sequence` (the choices of lib/ansible/plugins/action/template.py,
    /// which also reads each written escaped, as `'\r\n'` in YAML single quotes gives it).
    pub enum NewlineSequence {
        /// Unix line ends. The default.
        Lf = "\n" | "\\n",
        /// Windows line ends.
        CrLf = "\r\n" | "\\r\\n",
        /// Old Mac line ends.
        Cr = "\r" | "\\r",
    }
    else "newline_sequence must be one of \\n, \\r\\n, \\r; got {got:?}"
}

/// `mode` of `template`: a mode, or `preserve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateMode {
    /// The source file's permission bits (`lib/ansible/plugins/action/template.py`).
    Preserve,
    /// Octal bits or a symbolic mode.
    Mode(Mode),
}

fn opt_template_mode<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<TemplateMode>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "preserve" => Ok(Some(TemplateMode::Preserve)),
        Some(v) => parse_mode(&v)
            .map(|m| Some(TemplateMode::Mode(m)))
            .map_err(serde::de::Error::custom),
    }
}

impl TemplateParams {
    /// The Jinja syntax the task asks for.
    pub fn syntax(&self) -> TemplateSyntax {
        let d = TemplateSyntax::default();
        let pick = |o: &Option<String>, dflt: &String| o.clone().unwrap_or_else(|| dflt.clone());
        TemplateSyntax {
            block: (
                pick(&self.block_start_string, &d.block.0),
                pick(&self.block_end_string, &d.block.1),
            ),
            variable: (
                pick(&self.variable_start_string, &d.variable.0),
                pick(&self.variable_end_string, &d.variable.1),
            ),
            comment: (
                pick(&self.comment_start_string, &d.comment.0),
                pick(&self.comment_end_string, &d.comment.1),
            ),
            trim_blocks: self.trim_blocks,
            lstrip_blocks: self.lstrip_blocks,
            newline_sequence: self
                .newline_sequence
                .unwrap_or(NewlineSequence::Lf)
                .as_str()
                .into(),
            ..d
        }
    }
}

/// `ansible.builtin.template`.
pub struct Template;

#[async_trait::async_trait]
impl Planned for Template {
    type Params = TemplateParams;
    type Facts = PutFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.template"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["src", "dest"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["src", "dest"]
    }

    async fn prepare(&self, p: &mut TemplateParams, ctx: &TaskCtx<'_>) -> Result<(), String> {
        let encoding = super::encoding::Encoding::named(p.output_encoding.as_deref())?;
        let syntax = p.syntax();
        syntax.validate()?;
        let path = fileops::find_local(&p.src, &ctx.vars.search_dirs(SearchKind::Templates))?;
        p.final_mode = match &p.mode {
            None => None,
            Some(TemplateMode::Mode(m)) => Some(m.clone()),
            Some(TemplateMode::Preserve) => Some(preserved_mode(&path)?),
        };
        let text = String::from_utf8(ctx.vars.vault().read_file(&path)?)
            .map_err(|_| format!("could not read template {}: not UTF-8", path.display()))?;
        let full = std::fs::canonicalize(&path).unwrap_or(path.clone());
        let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
        p.local_path = Some(abs.display().to_string());
        let mut extra = Map::new();
        extra.insert(
            "template_path".into(),
            Value::String(path.display().to_string()),
        );
        extra.insert(
            "template_fullpath".into(),
            Value::String(full.display().to_string()),
        );
        extra.insert("template_host".into(), Value::String(hostname()));
        extra.insert("template_destpath".into(), Value::String(p.dest.clone()));
        extra.insert(
            "template_uid".into(),
            Value::String(std::env::var("USER").unwrap_or_default()),
        );
        if ctx.vars.get("ansible_managed").is_none() {
            // Ansible's default DEFAULT_MANAGED_STR, set only where the user has not
            // (lib/ansible/_internal/_templating/_template_vars.py).
            extra.insert(
                "ansible_managed".into(),
                Value::String(ANSIBLE_MANAGED.into()),
            );
        }
        let out = ctx
            .templar
            .render_template_text_with(&text, &p.src, &ctx.vars, &extra, &syntax)
            .map_err(|e| format!("{}: {e}", p.src))?;
        p.rendered = encoding.encode(&out)?;
        Ok(())
    }

    fn probe(&self, p: &TemplateParams, ctx: PlanCtx) -> Result<Probe<PutFacts>, String> {
        fileops::check_path("dest", &p.dest)?;
        Ok(Probe::fact(PutQuery {
            dest: p.dest.clone(),
            basename: Some(basename(&p.src).to_string()),
            remote_src: None,
            diff: ctx.diff,
        }))
    }

    fn plan(&self, p: &TemplateParams, facts: &PutFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let mut plan = put_plan(
            &PutRequest {
                dest: &p.dest,
                content: &p.rendered,
                attrs: Attrs {
                    mode: p.final_mode.clone(),
                    owner: p.owner.clone(),
                    group: p.group.clone(),
                },
                backup: p.backup,
                validate: p.validate.as_deref(),
                force: p.force,
                remote_src: None,
                // copy's rule (lib/ansible/modules/copy.py): with `follow` a link at dest is
                // written through; without, it is replaced by the file.
                follow: p.follow,
                diff: ctx.diff,
                check: ctx.check,
                // Ansible heads it with the rendered copy's temporary path; the template's
                // own path says more.
                source: p.local_path.as_deref(),
            },
            facts,
        )?;
        // (An empty result is check mode's `changed` alone: action/copy.py adds nothing.)
        if !plan.result.is_empty() {
            plan.result
                .insert("src".into(), Value::String(p.src.clone()));
        }
        Ok(plan)
    }

    fn finish(&self, _p: &TemplateParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        let dest = super::copy::result_dest(result);
        fileops::apply_final(result, outputs, &dest, "backup_file");
    }
}

/// The Jinja syntax a `template` task's arguments ask for, when known before the run:
/// `None` when an argument is templated or the arguments are not valid (their check
/// reports that).
pub fn literal_syntax(args: &Map<String, Value>) -> Option<TemplateSyntax> {
    const KEYS: [&str; 9] = [
        "trim_blocks",
        "lstrip_blocks",
        "newline_sequence",
        "variable_start_string",
        "variable_end_string",
        "block_start_string",
        "block_end_string",
        "comment_start_string",
        "comment_end_string",
    ];
    let mut syntax_args = Map::new();
    for k in KEYS {
        match args.get(k) {
            None => {}
            Some(Value::String(s)) if s.contains("{{") || s.contains("{%") => return None,
            Some(v) => {
                syntax_args.insert(k.into(), v.clone());
            }
        }
    }
    syntax_args.insert("src".into(), Value::String(String::new()));
    syntax_args.insert("dest".into(), Value::String(String::new()));
    let p: TemplateParams = super::plan::params("template", syntax_args).ok()?;
    Some(p.syntax())
}

/// `mode: preserve`: the source file's permission bits, as the action reads them with
/// `os.stat` (`'0%03o' % stat.S_IMODE(...)`, `lib/ansible/plugins/action/template.py`).
fn preserved_mode(path: &std::path::Path) -> Result<Mode, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("could not stat template {}: {e}", path.display()))?;
    Ok(Mode::Octal(meta.permissions().mode() & 0o7777))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::json;

    fn out(s: &str) -> ExecOutput {
        ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        }
    }

    #[test]
    fn golden_template() {
        let Value::Object(m) = json!({"src": "kubelet.conf.j2", "dest": "/etc/kubernetes/", "mode": "0600", "validate": "test -s %s"})
        else {
            panic!()
        };
        let mut p: TemplateParams = params("template", m).unwrap();
        p.rendered = b"port: 10250\n".to_vec();
        p.final_mode = Some(Mode::Octal(0o600));
        let ctx = PlanCtx {
            diff: true,
            ..PlanCtx::default()
        };
        insta::assert_yaml_snapshot!("template_probe", Template.probe(&p, ctx).unwrap().command());
        let fresh = plan_with(
            &Template,
            &p,
            &out("parent=1\npath=/etc/kubernetes/kubelet.conf.j2\nkind=absent\n"),
            ctx,
        )
        .unwrap();
        insta::assert_yaml_snapshot!("template_fresh", fresh);
        // sha1("port: 10250\n")
        let sum = fileops::sha1_hex(b"port: 10250\n");
        let same = plan_with(&Template, &p, &out(&format!("parent=1\npath=/etc/kubernetes/kubelet.conf.j2\nkind=file\nmode=600\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=12\nchecksum={sum}\n")),
                ctx,
            )
            .unwrap();
        assert!(same.steps.is_empty() && !same.is_change());
        insta::assert_snapshot!(
            "template_err_newline",
            refused::<TemplateParams>(
                json!({"src": "a.j2", "dest": "/etc/a", "newline_sequence": "\\t"})
            )
        );
    }
}
