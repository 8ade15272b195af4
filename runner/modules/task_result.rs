//! The typed result of one module run: how it ended, whether it changed the host, its
//! message, its file diffs, and the rest of what it reports (`rc`, `stdout`, `path`, …).
//!
//! Why this module exists: the engine decides a task's status, the recap's counts,
//! `changed_when`/`failed_when`/`until` and what `--diff` shows from a module's result.
//! Read back from a JSON map by key, a misspelt key or a forgotten flag would change a run
//! silently; typed, every reader is one the compiler sees, and a diff stays data until a
//! sink formats it. What users template (`result.changed`, `result.diff`, `result.rc`) is
//! still Ansible's dictionary: [`TaskResult::registered`] is the one function that makes
//! it, its keys in the order the module set them (a Python dict keeps insertion order, and
//! so do `to_json` and the JSONL stream).

use serde_json::{Map, Value};

use super::plan::FileDiff;
use crate::event::Status;

/// How a module run ended. Whether it changed the host is apart ([`TaskResult::changed`]):
/// Ansible lets a failed result say `changed: true` (an ignored failure then counts as
/// changed in the recap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ending {
    /// It ran to the end.
    #[default]
    Ran,
    /// It failed (`failed: true`).
    Failed,
    /// It did not run (`skipped: true`): a command in check mode, `debug` above the
    /// verbosity.
    Skipped,
}

/// One key of the registered dictionary, in the order it was first set.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Changed,
    Failed,
    Skipped,
    Msg,
    Diff,
    Data(String),
}

/// What a module reports for one run (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskResult {
    ending: Ending,
    changed: bool,
    msg: Option<Value>,
    diffs: Vec<FileDiff>,
    /// The `diff` as the module gave it (timezone's mapping of mappings, authorized_key's
    /// mapping, a bridged Ansible module's own value), registered instead of `diffs`:
    /// Ansible keeps what the module returned; the typed diffs are what `--diff` prints.
    diff_value: Option<Value>,
    data: Map<String, Value>,
    /// Every key of the registered dictionary in the order it was first set; a typed key
    /// that was never set is not part of it.
    order: Vec<Key>,
}

impl TaskResult {
    /// An empty result: ran, unchanged, no key set yet.
    pub fn new() -> Self {
        TaskResult::default()
    }

    /// A result that says `changed` first, as most modules' results begin.
    pub fn with_changed(changed: bool) -> Self {
        let mut r = TaskResult::new();
        r.set_changed(changed);
        r
    }

    /// A failure with `msg`, unchanged: the engine's and a module's plain failure
    /// (`failed`, `changed`, `msg`, in that order).
    pub fn failure(msg: impl Into<String>) -> Self {
        let mut r = TaskResult::new();
        r.set_failed(true);
        r.set_changed(false);
        r.set_msg(Value::String(msg.into()));
        r
    }

    fn place(&mut self, k: Key) {
        if !self.order.contains(&k) {
            self.order.push(k);
        }
    }

    /// Whether it changed the host (in check mode: would have).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Set `changed`.
    pub fn set_changed(&mut self, changed: bool) {
        self.changed = changed;
        self.place(Key::Changed);
    }

    /// How it ended.
    pub fn ending(&self) -> Ending {
        self.ending
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        self.ending == Ending::Failed
    }

    /// Whether it did not run.
    pub fn skipped(&self) -> bool {
        self.ending == Ending::Skipped
    }

    /// Set `failed` (`false` says so explicitly: ran).
    pub fn set_failed(&mut self, failed: bool) {
        self.ending = if failed { Ending::Failed } else { Ending::Ran };
        self.place(Key::Failed);
    }

    /// Mark it skipped (`skipped: true`).
    pub fn set_skipped(&mut self) {
        self.ending = Ending::Skipped;
        self.place(Key::Skipped);
    }

    /// Whether the module said `failed` itself (true or false).
    pub fn says_failed(&self) -> bool {
        self.order.contains(&Key::Failed)
    }

    /// The message (`msg`): text for most modules, any value for `debug`.
    pub fn msg(&self) -> Option<&Value> {
        self.msg.as_ref()
    }

    /// Set `msg`.
    pub fn set_msg(&mut self, msg: impl Into<Value>) {
        self.msg = Some(msg.into());
        self.place(Key::Msg);
    }

    /// Set `msg` unless there is one.
    pub fn default_msg(&mut self, msg: impl Into<Value>) {
        if self.msg.is_none() {
            self.set_msg(msg);
        }
    }

    /// Drop `msg`.
    pub fn clear_msg(&mut self) {
        self.msg = None;
        self.order.retain(|k| *k != Key::Msg);
    }

    /// The file diffs (diff mode), as Ansible's `diff` list holds them.
    pub fn diffs(&self) -> &[FileDiff] {
        &self.diffs
    }

    /// Set the file diffs `--diff` prints; they register as the `diff` list unless the
    /// module gave its own `diff` ([`TaskResult::insert`]). None and no module value
    /// leave the result without a `diff` key.
    pub fn set_diffs(&mut self, diffs: Vec<FileDiff>) {
        self.diffs = diffs;
        if self.diffs.is_empty() && self.diff_value.is_none() {
            self.order.retain(|k| *k != Key::Diff);
        } else {
            self.place(Key::Diff);
        }
    }

    /// The `diff` the module returned, as it registers (see [`TaskResult::insert`]).
    pub(crate) fn module_diff(&self) -> Option<&Value> {
        self.diff_value.as_ref()
    }

    /// Keep `raw`, the `diff` a module returned, as the value its result registers
    /// whatever its shape: the one path of every module's own `diff`, native or bridged.
    pub(crate) fn set_module_diff(&mut self, raw: Value) {
        self.diff_value = Some(raw);
        self.place(Key::Diff);
    }

    /// One of the module's other keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// The module's other keys (no `changed`, `failed`, `skipped`, `msg`, `diff`).
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// Set one of the module's other keys. The names of the typed keys set them instead:
    /// `changed`, `failed` and `skipped` by Ansible's truthiness, `msg` as given, and
    /// `diff` when it holds windlass's diffs (a module passing data through, such as
    /// `debug`'s `var`, may name them); any other `diff` value is the module's own, kept
    /// to register as given.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        let yes = || crate::boolean::truthy(&value);
        match key.as_str() {
            "changed" => self.set_changed(yes()),
            "failed" => self.set_failed(yes()),
            "skipped" if yes() => self.set_skipped(),
            "skipped" => {
                if self.skipped() {
                    self.ending = Ending::Ran;
                }
                self.place(Key::Skipped);
            }
            "msg" => self.set_msg(value),
            "diff" if serde_json::from_value::<Vec<FileDiff>>(value.clone()).is_ok() => {
                self.set_diffs(serde_json::from_value(value).unwrap_or_default());
            }
            "diff" => self.set_module_diff(value),
            _ => {
                if !self.data.contains_key(&key) {
                    self.order.push(Key::Data(key.clone()));
                }
                self.data.insert(key, value);
            }
        }
    }

    /// Each of `map`'s entries in order, as [`TaskResult::insert`] sets them.
    pub fn extend(&mut self, map: Map<String, Value>) {
        for (k, v) in map {
            self.insert(k, v);
        }
    }

    /// A command's output as Ansible's command-like modules (`command`, `shell`, `script`)
    /// report it, in the order they set its keys: `rc`, `stdout_lines`, `stderr_lines`,
    /// `stdout`, `stderr`.
    pub(crate) fn insert_output(&mut self, rc: i32, stdout: String, stderr: String) {
        let lines =
            |s: &str| Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect());
        self.insert("rc", Value::from(rc));
        self.insert("stdout_lines", lines(&stdout));
        self.insert("stderr_lines", lines(&stderr));
        self.insert("stdout", Value::String(stdout));
        self.insert("stderr", Value::String(stderr));
    }

    /// The output keys of a command check mode knows would run but does not run: `rc` 0
    /// and empty streams (`rc`, `stdout`, `stderr`, `stdout_lines`, `stderr_lines`).
    pub(crate) fn insert_no_output(&mut self) {
        self.insert("rc", Value::from(0));
        self.insert("stdout", Value::String(String::new()));
        self.insert("stderr", Value::String(String::new()));
        self.insert("stdout_lines", Value::Array(vec![]));
        self.insert("stderr_lines", Value::Array(vec![]));
    }

    /// A result holding `map`'s entries (see [`TaskResult::insert`]).
    pub fn from_map(map: Map<String, Value>) -> Self {
        let mut r = TaskResult::new();
        r.extend(map);
        r
    }

    /// The task's status: a failure over a skip over a change.
    pub fn status(&self) -> Status {
        match self.ending {
            Ending::Failed => Status::Failed,
            Ending::Skipped => Status::Skipped,
            Ending::Ran if self.changed => Status::Changed,
            Ending::Ran => Status::Ok,
        }
    }

    /// Complete a module's result as Ansible's task_executor.py does: `changed` defaults
    /// to false, and `failed` comes from `rc` (non-zero) when the module did not say.
    pub fn complete(&mut self) {
        if !self.order.contains(&Key::Changed) {
            self.set_changed(false);
        }
        if !self.says_failed() {
            let rc_failed = self
                .data
                .get("rc")
                .is_some_and(|rc| !rc.is_null() && rc != &Value::from(0) && rc != "0");
            let skipped = self.skipped();
            self.set_failed(rc_failed);
            if skipped && !rc_failed {
                self.ending = Ending::Skipped;
            }
        }
    }

    /// The dictionary `register` stores (and events carry): Ansible's keys, in the order
    /// they were set. The one conversion from the typed result.
    pub fn registered(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for k in &self.order {
            match k {
                Key::Changed => {
                    out.insert("changed".into(), Value::Bool(self.changed));
                }
                Key::Failed => {
                    out.insert("failed".into(), Value::Bool(self.failed()));
                }
                Key::Skipped => {
                    out.insert("skipped".into(), Value::Bool(self.skipped()));
                }
                Key::Msg => {
                    out.insert("msg".into(), self.msg.clone().unwrap_or(Value::Null));
                }
                // A module that gives its own `diff` is registered with it, as Ansible
                // keeps what the module returned; the typed diffs are then only what
                // `--diff` prints.
                Key::Diff if self.diff_value.is_some() => {
                    out.insert("diff".into(), self.diff_value.clone().unwrap_or_default());
                }
                Key::Diff => {
                    let diffs = serde_json::to_value(&self.diffs).unwrap_or(Value::Null);
                    out.insert("diff".into(), diffs);
                }
                Key::Data(name) => {
                    if let Some(v) = self.data.get(name) {
                        out.insert(name.clone(), v.clone());
                    }
                }
            }
        }
        out
    }
}

/// Serialized as what it registers ([`TaskResult::registered`]), for plan snapshots.
impl serde::Serialize for TaskResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.registered().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(r: &TaskResult) -> Vec<String> {
        r.registered().keys().cloned().collect()
    }

    #[test]
    fn status_precedence_failed_over_skipped_over_changed() {
        let mut r = TaskResult::with_changed(true);
        assert_eq!(r.status(), Status::Changed);
        r.set_skipped();
        assert_eq!(r.status(), Status::Skipped);
        r.set_failed(true);
        assert_eq!(r.status(), Status::Failed);
        // A failed result may still say it changed the host.
        assert!(r.changed());
        assert_eq!(TaskResult::new().status(), Status::Ok);
        assert_eq!(TaskResult::failure("x").status(), Status::Failed);
    }

    #[test]
    fn registered_keeps_the_order_keys_were_set() {
        let mut r = TaskResult::new();
        r.insert("cmd", json!(["true"]));
        r.set_changed(true);
        r.insert("rc", json!(0));
        r.set_msg("");
        r.complete();
        assert_eq!(keys(&r), ["cmd", "changed", "rc", "msg", "failed"]);
        assert_eq!(
            Value::Object(r.registered()),
            json!({"cmd": ["true"], "changed": true, "rc": 0, "msg": "", "failed": false})
        );
        // Setting a key again keeps its place, as a dict does.
        r.set_changed(false);
        assert_eq!(keys(&r)[1], "changed");
        assert_eq!(
            keys(&TaskResult::failure("boom")),
            ["failed", "changed", "msg"]
        );
    }

    #[test]
    fn complete_defaults_changed_and_takes_failed_from_rc() {
        let mut r = TaskResult::new();
        r.insert("rc", json!(2));
        r.complete();
        assert!(r.failed() && !r.changed());
        assert_eq!(keys(&r), ["rc", "changed", "failed"]);
        // A module that said `failed: false` keeps it whatever `rc` says.
        let mut r = TaskResult::new();
        r.set_failed(false);
        r.insert("rc", json!(1));
        r.complete();
        assert!(!r.failed());
        // A skipped result stays skipped, and says `failed: false`.
        let mut r = TaskResult::with_changed(false);
        r.set_skipped();
        r.complete();
        assert_eq!(r.status(), Status::Skipped);
        assert_eq!(r.registered()["failed"], json!(false));
        assert_eq!(r.registered()["skipped"], json!(true));
    }

    #[test]
    fn typed_names_given_as_data_set_the_typed_fields() {
        let r = TaskResult::from_map(
            json!({"changed": "yes", "msg": [1, 2], "path": "/x", "skipped": false})
                .as_object()
                .cloned()
                .unwrap(),
        );
        assert!(r.changed() && !r.skipped() && !r.failed());
        assert_eq!(r.msg(), Some(&json!([1, 2])));
        assert_eq!(r.data().len(), 1);
        assert_eq!(keys(&r), ["changed", "msg", "path", "skipped"]);
    }

    #[test]
    fn diffs_are_typed_and_registered_as_ansible_lists_them() {
        let d = FileDiff {
            path: "/etc/x".into(),
            before: "a\n".into(),
            after: "b\n".into(),
            ..Default::default()
        };
        let mut r = TaskResult::with_changed(true);
        r.set_diffs(vec![d.clone()]);
        assert_eq!(r.diffs(), std::slice::from_ref(&d));
        assert_eq!(
            r.registered()["diff"],
            json!([{"path": "/etc/x", "before": "a\n", "after": "b\n"}])
        );
        // A module's own `diff` data is what registers; the typed diffs stay for printing.
        r.insert(
            "diff",
            json!({"before": {"name": "a"}, "after": {"name": "b"}}),
        );
        assert_eq!(r.registered()["diff"]["after"], json!({"name": "b"}));
        assert_eq!(r.diffs(), [d]);
        // Printed diffs set after the module's value leave what registers alone.
        r.set_diffs(vec![]);
        assert_eq!(r.registered()["diff"]["before"], json!({"name": "a"}));
        assert_eq!(r.module_diff(), Some(&r.registered()["diff"]));
        assert!(!r.data().contains_key("diff"));
        let mut r = TaskResult::with_changed(true);
        r.set_diffs(vec![]);
        assert!(!r.registered().contains_key("diff"));
        // Under `diff`, a value that is no diff list is the module's, registered as given.
        let mut r = TaskResult::new();
        r.insert("diff", json!("text"));
        assert!(r.diffs().is_empty());
        assert_eq!(r.registered()["diff"], json!("text"));
    }
}
