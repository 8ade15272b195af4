//! Which Python a bridged module runs with on a host: `ansible_python_interpreter`, or
//! Ansible's interpreter discovery (executor/interpreter_discovery.py).
//!
//! Why this module exists: Ansible's default (`auto`) probes the host once for the first
//! Python of `INTERPRETER_PYTHON_FALLBACK` (`command -v` each, between `FOUND` and
//! `ENDFOUND` markers), falls back on `/usr/bin/python3`, and keeps the answer as the
//! host's fact `discovered_interpreter_python`; a bridged module must run with the same
//! Python ansible-playbook would use.

use serde_json::Value;

use std::sync::Arc;

use crate::command::{RemoteCommand, quote};
use crate::modules::{ModuleError, TaskCtx};
use crate::template::Vars;

/// Whose Python a task's module runs with: the delegate's under `delegate_to` (its name,
/// its variables), else the host's; and whether a discovery is reported in the result's
/// `ansible_facts` (not for a delegate without `delegate_facts`, as `_configure_module`).
pub(crate) fn target<'a>(ctx: &'a TaskCtx<'_>) -> (&'a str, &'a Arc<dyn Vars>, bool) {
    match &ctx.delegate {
        Some(d) => (d.name.as_str(), &d.vars, d.facts),
        None => (ctx.host, &ctx.vars, true),
    }
}

/// Ansible's `_FALLBACK_INTERPRETER`.
pub(crate) const FALLBACK: &str = "/usr/bin/python3";

/// The discovery modes of `ansible_python_interpreter` (`auto_legacy*` act as `auto` since
/// 2.17).
const AUTO: &[&str] = &["auto", "auto_silent", "auto_legacy", "auto_legacy_silent"];

/// The interpreter `vars` (the target's) name, templated; `None` for discovery.
pub(crate) fn configured(
    ctx: &TaskCtx<'_>,
    vars: &Arc<dyn Vars>,
) -> Result<Option<String>, ModuleError> {
    let Some(raw) = vars.get("ansible_python_interpreter") else {
        return Ok(None);
    };
    let v = match &raw {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            ctx.templar.render_str(s, vars, None).map_err(|e| {
                ModuleError::Failed(format!("ansible_python_interpreter: {}", e.message))
            })?
        }
        other => other.clone(),
    };
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok((!s.is_empty() && !AUTO.contains(&s.as_str())).then_some(s))
}

/// The target's `discovered_interpreter_python` fact, if an earlier task found it.
pub(crate) fn known(vars: &Arc<dyn Vars>) -> Option<String> {
    match vars.get("ansible_facts")? {
        Value::Object(f) => f
            .get("discovered_interpreter_python")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// The probe discovery runs (not escalated, as Ansible's `sudoable=False`).
pub(crate) fn probe(fallback: &[String]) -> RemoteCommand {
    let tries: Vec<String> = fallback
        .iter()
        .map(|py| format!("command -v {}", quote(py)))
        .collect();
    RemoteCommand::shell(format!("echo FOUND; {}; echo ENDFOUND", tries.join("; ")))
}

/// The interpreter the probe's output names: the first absolute path between the markers;
/// none found (or output without the markers) gives [`FALLBACK`].
pub(crate) fn parse(stdout: &str) -> String {
    let Some(body) = stdout
        .strip_prefix("FOUND")
        .and_then(|rest| rest.rfind("ENDFOUND").map(|end| &rest[..end]))
    else {
        return FALLBACK.to_string();
    };
    body.lines()
        .find(|l| l.starts_with('/'))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| FALLBACK.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_python_found_wins_else_the_fallback() {
        assert_eq!(
            parse("FOUND\n/usr/bin/python3.11\n/usr/bin/python3\nENDFOUND\n"),
            "/usr/bin/python3.11"
        );
        assert_eq!(parse("FOUND\nENDFOUND\n"), FALLBACK);
        assert_eq!(parse("junk\nFOUND\n/x\nENDFOUND"), FALLBACK);
    }

    #[test]
    fn the_probe_quotes_each_name() {
        let p = probe(&["python3.12".into(), "/usr/bin/python3".into(), "a b".into()]);
        insta::assert_snapshot!(p.to_shell());
    }
}
