//! `ansible.builtin.template`: render a Jinja2 template on the controller and put the result
//! on the host.
//!
//! Why this module exists: configuration files are templates. Rendering happens in
//! `prepare` (with `template_path`, `template_host`, `template_fullpath`,
//! `template_destpath` set like Ansible does); from there it is `copy` with content: the
//! same probe, checksum comparison, validated atomic write, backup and diff.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::copy::{PutRequest, basename, put_plan, put_probe};
use super::fileops::{self, Attrs};
use super::params::{Mode, ansible_bool, opt_mode, opt_stringish};
use super::plan::{Plan, PlanCtx, Planned};
use super::{ResultMap, TaskCtx};
use crate::command::RemoteCommand;
use crate::template::SearchKind;
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
    /// Permission bits or a symbolic mode; default keeps an existing file's mode, 0644 new.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
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
    /// Line endings of the result: `\n` (default), `\r\n` or `\r`.
    #[serde(default)]
    pub newline_sequence: Option<String>,
    #[serde(skip)]
    pub(crate) rendered: String,
    #[serde(skip)]
    pub(crate) diff: bool,
}

/// `ansible.builtin.template`.
pub struct Template;

#[async_trait::async_trait]
impl Planned for Template {
    type Params = TemplateParams;

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
        p.diff = ctx.diff;
        let nl = newline(p.newline_sequence.as_deref())?;
        let path = fileops::find_local(&p.src, &ctx.vars.search_dirs(SearchKind::Templates))?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("could not read template {}: {e}", path.display()))?;
        let full = std::fs::canonicalize(&path).unwrap_or(path.clone());
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
            .render_template_text(&text, &p.src, &ctx.vars, &extra)
            .map_err(|e| format!("{}: {e}", p.src))?;
        // lib/ansible/_internal/_templating/_engine.py: text that cannot be a template
        // (`is_possibly_template`: no `{{`, `{%`, `{#`) is returned as it is, so
        // `newline_sequence` does not apply to it.
        let possibly_template = ["{{", "{%", "{#"].iter().any(|m| text.contains(m));
        p.rendered = if nl == "\n" || !possibly_template {
            out
        } else {
            out.replace("\r\n", "\n").replace('\n', nl)
        };
        Ok(())
    }

    fn probe(&self, p: &TemplateParams) -> Result<Option<RemoteCommand>, String> {
        fileops::check_path("dest", &p.dest)?;
        Ok(Some(put_probe(
            &p.dest,
            Some(basename(&p.src)),
            None,
            p.diff,
        )))
    }

    fn plan(
        &self,
        p: &TemplateParams,
        facts: Option<&ExecOutput>,
        ctx: PlanCtx,
    ) -> Result<Plan, String> {
        newline(p.newline_sequence.as_deref())?;
        let out = facts.ok_or("template needs its probe")?;
        let mut plan = put_plan(
            &PutRequest {
                dest: &p.dest,
                basename: Some(basename(&p.src)),
                content: p.rendered.as_bytes(),
                attrs: Attrs {
                    mode: p.mode.clone(),
                    owner: p.owner.clone(),
                    group: p.group.clone(),
                },
                backup: p.backup,
                validate: p.validate.as_deref(),
                force: p.force,
                remote_src: None,
                follow: false,
                diff: p.diff,
                check: ctx.check,
            },
            out,
        )?;
        plan.result
            .insert("src".into(), Value::String(p.src.clone()));
        Ok(plan)
    }

    fn finish(&self, _p: &TemplateParams, result: &mut ResultMap, outputs: &[ExecOutput]) {
        let dest = super::copy::result_dest(result);
        fileops::apply_final(result, outputs, &dest, "backup_file");
    }
}

fn newline(n: Option<&str>) -> Result<&'static str, String> {
    match n {
        None | Some("\n") | Some("\\n") => Ok("\n"),
        Some("\r\n") | Some("\\r\\n") => Ok("\r\n"),
        Some("\r") | Some("\\r") => Ok("\r"),
        Some(o) => Err(format!(
            "newline_sequence must be one of \\n, \\r\\n, \\r; got {o:?}"
        )),
    }
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
    use crate::modules::plan::params;
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
        p.rendered = "port: 10250\n".into();
        p.diff = true;
        insta::assert_yaml_snapshot!("template_probe", Template.probe(&p).unwrap());
        let fresh = Template
            .plan(
                &p,
                Some(&out(
                    "parent=1\npath=/etc/kubernetes/kubelet.conf.j2\nkind=absent\n",
                )),
                PlanCtx::default(),
            )
            .unwrap();
        insta::assert_yaml_snapshot!("template_fresh", fresh);
        // sha1("port: 10250\n")
        let sum = fileops::sha1_hex(b"port: 10250\n");
        let same = Template
            .plan(
                &p,
                Some(&out(&format!("parent=1\npath=/etc/kubernetes/kubelet.conf.j2\nkind=file\nmode=600\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=12\nchecksum={sum}\n"))),
                PlanCtx::default(),
            )
            .unwrap();
        assert!(same.steps.is_empty() && !same.is_change());
        p.newline_sequence = Some("\\t".into());
        insta::assert_snapshot!(
            "template_err_newline",
            Template
                .plan(&p, Some(&out("kind=absent\n")), PlanCtx::default())
                .unwrap_err()
        );
    }
}
