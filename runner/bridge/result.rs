//! A bridged module's result, as ansible-core parsed it, into a [`TaskResult`].
//!
//! Why this module exists: the helper hands back the dictionary ansible-core's action made
//! of the module's output (non-JSON lines filtered, internal keys removed, a crash turned
//! into its "Module result deserialization failed" failure); the engine wants the typed
//! result: flags, message, the diffs `--diff` prints, and everything else as data in the
//! module's own key order.

use serde_json::{Map, Value};

use crate::modules::TaskResult;
use crate::modules::plan::FileDiff;

/// The task result of a bridged module's parsed `result`; `discovered`: the Python found on
/// the host by this task's interpreter discovery, kept in `ansible_facts` as Ansible keeps
/// it. `warnings` are ansible-core's own about the output (junk around the JSON). `diff`:
/// the task's diff mode; without it a `diff` the module returns is registered, not
/// printed (the callback's `v2_on_file_diff` is only sent for a task in diff mode).
pub(crate) fn task_result(
    mut result: Map<String, Value>,
    warnings: Vec<String>,
    discovered: Option<&str>,
    diff: bool,
) -> TaskResult {
    if let Some(py) = discovered {
        let facts = result
            .entry("ansible_facts")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(f) = facts {
            f.insert(
                "discovered_interpreter_python".into(),
                Value::String(py.into()),
            );
        }
    }
    if !warnings.is_empty() {
        let list = result
            .entry("warnings")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(l) = list {
            l.extend(warnings.into_iter().map(Value::String));
        }
    }
    // How the helper parsed it: an internal key the engine does not read.
    result.remove("_ansible_parsed");
    let mut out = TaskResult::new();
    for (k, v) in result {
        // The module's `diff` registers as given (the one path of a module's own `diff`);
        // what `--diff` prints is the typed reading of it.
        if k != "diff" {
            out.insert(k, v);
            continue;
        }
        let printed = diff.then(|| diffs(&v)).flatten();
        out.set_module_diff(v);
        if let Some(d) = printed {
            out.set_diffs(d);
        }
    }
    out
}

/// A module's `diff` (one mapping or a list of them) as the diffs the callback prints
/// (plugins/callback/__init__.py `_get_diff`): a mapping `before`/`after` serialized as
/// `_serialize_diff` does, `None` as empty. `None` when it is not diff-shaped.
fn diffs(v: &Value) -> Option<Vec<FileDiff>> {
    let list = match v {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => return None,
    };
    let mut out = Vec::new();
    for d in &list {
        let d = d.as_object()?;
        let (Some(before), Some(after)) = (d.get("before"), d.get("after")) else {
            continue;
        };
        let header = |k: &str| d.get(k).map(text);
        let before_header = header("before_header");
        let after_header = header("after_header");
        out.push(FileDiff {
            path: before_header
                .clone()
                .or_else(|| after_header.clone())
                .unwrap_or_default(),
            before: side(before),
            after: side(after),
            before_header,
            after_header,
        });
    }
    Some(out)
}

/// One side of a diff: text as is, a mapping as `json.dumps(sort_keys=True, indent=4)`
/// with a newline, `None` as nothing.
fn side(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Object(_) => {
            let sorted = crate::output::printer::sorted(v);
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            let _ = serde::Serialize::serialize(&sorted, &mut ser);
            format!("{}\n", String::from_utf8_lossy(&buf))
        }
        other => text(other),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn flags_message_and_data_keep_the_module_order() {
        let r = task_result(
            map(
                json!({"changed": true, "envs": [], "jobs": ["a"], "invocation": {"module_args": {"name": "a"}}}),
            ),
            vec![],
            None,
            true,
        );
        assert!(r.changed());
        let reg = r.registered();
        let keys: Vec<&String> = reg.keys().collect();
        assert_eq!(keys, ["changed", "envs", "jobs", "invocation"]);
    }

    #[test]
    fn a_failure_and_a_skip_are_typed() {
        let r = task_result(
            map(json!({"failed": true, "msg": "boom", "rc": 1})),
            vec![],
            None,
            true,
        );
        assert!(r.failed());
        let s = task_result(
            map(
                json!({"skipped": true, "msg": "remote module (x) does not support check mode", "changed": false}),
            ),
            vec![],
            None,
            true,
        );
        assert!(s.skipped());
    }

    #[test]
    fn a_diff_mapping_or_list_becomes_the_printed_diffs() {
        let r = task_result(
            map(
                json!({"changed": true, "diff": {"before": "a\n", "after": "b\n", "before_header": "crontab", "after_header": "crontab"}}),
            ),
            vec![],
            None,
            true,
        );
        assert_eq!(r.diffs().len(), 1);
        assert_eq!(r.diffs()[0].before_header.as_deref(), Some("crontab"));
        // Registered as the module gave it (a mapping), printed from the typed diffs.
        assert_eq!(r.registered()["diff"]["before_header"], json!("crontab"));
        let l = task_result(
            map(json!({"diff": [{"before": {"b": 1, "a": null}, "after": null}]})),
            vec![],
            None,
            true,
        );
        assert_eq!(
            l.diffs()[0].before,
            "{\n    \"a\": null,\n    \"b\": 1\n}\n"
        );
        assert_eq!(l.diffs()[0].after, "");
        let odd = task_result(map(json!({"diff": "text"})), vec![], None, true);
        assert_eq!(odd.registered()["diff"], json!("text"));
        assert!(odd.diffs().is_empty());
        // Not in diff mode: registered as given, nothing to print.
        let quiet = task_result(
            map(json!({"diff": {"before": "a\n", "after": "b\n"}})),
            vec![],
            None,
            false,
        );
        assert!(quiet.diffs().is_empty());
        assert_eq!(quiet.registered()["diff"]["after"], json!("b\n"));
    }

    #[test]
    fn discovery_and_parse_warnings_join_the_result() {
        let r = task_result(
            map(json!({"ansible_facts": {"x": 1}})),
            vec!["Module invocation had junk after the JSON data: x".into()],
            Some("/usr/bin/python3"),
            true,
        );
        let reg = r.registered();
        assert_eq!(
            reg["ansible_facts"],
            json!({"x": 1, "discovered_interpreter_python": "/usr/bin/python3"})
        );
        assert_eq!(reg["warnings"].as_array().map(Vec::len), Some(1));
    }
}
