//! What a finished task is called in the journal: its definition and its place, not its line.
//!
//! Why this module exists: `--resume` skips, per host, the tasks an earlier run finished.
//! Keyed by file:line:col, a task added at the top of a playbook shifted every later key,
//! so the resume skipped the wrong tasks without a word. A task's key is a hash of what
//! the task is — its action, arguments and keywords (inherited block keywords included,
//! YAML key order ignored) — and of its place in the play (the play's name and host
//! pattern, its role, its include parameters, and — added by the journal as the walk goes —
//! the block sections it is in: `block`, `rescue` or `always` of which named block),
//! plus how many identical tasks the host met before it there. Inserting, moving or
//! editing one task changes no other task's key.

use serde_json::Value;
use sha2::Digest;

use crate::playbook::task::Task;

/// The key of `t` in its play, before the occurrence count (see [`crate::journal::Journal::task_key`]).
pub fn task_base(play_name: &str, play_hosts: &str, t: &Task) -> String {
    let mut kw = t.kw.clone();
    let vars = Value::Object(std::mem::take(&mut kw.vars).into_iter().collect());
    let action = t
        .action
        .strip_prefix("ansible.builtin.")
        .or_else(|| t.action.strip_prefix("ansible.legacy."))
        .unwrap_or(&t.action);
    let mut text = String::new();
    for part in [
        play_name,
        play_hosts,
        t.role.as_ref().map_or("", |r| r.name.as_str()),
        t.name.as_deref().unwrap_or(""),
        action,
        &canonical(&Value::Object(t.args.clone())),
        &canonical(&Value::Object(
            t.include_params.clone().into_iter().collect(),
        )),
        &canonical(&vars),
        &format!(
            "{kw:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            t.loop_,
            t.loop_control,
            t.register,
            t.notify,
            t.changed_when,
            t.failed_when,
            t.until,
            t.retries,
            t.delay
        ),
    ] {
        text.push_str(part);
        text.push('\0');
    }
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
}

/// `v` as JSON with every mapping's keys sorted: the same value written in another key
/// order gives the same text.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_ignores_key_order() {
        assert_eq!(
            canonical(&json!({"a": 1, "b": {"x": [1, {"d": 2, "c": 3}]}})),
            canonical(&json!({"b": {"x": [1, {"c": 3, "d": 2}]}, "a": 1}))
        );
        assert_ne!(canonical(&json!({"a": 1})), canonical(&json!({"a": "1"})));
    }
}
