//! What a loop item sees beyond its own item: `ansible_loop`, and what earlier items left.
//!
//! Why this file exists: Ansible runs a loop's items with one shared set of variables that
//! each item updates (`lib/ansible/executor/task_executor.py`, `_run_loop` and `_execute`),
//! so accumulating with `set_fact` or reading an earlier item's `register` in a loop works.
//! windlass keeps the host's variables fixed for the task and carries these over as locals.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::playbook::task::Task;

/// What one loop item leaves for the next ones: its registered result and, from
/// `set_fact`/`include_vars`, its facts (Ansible's `task_executor.py` writes both into the
/// loop's variables after each item: `task_vars[self._task.register] = res` in `_run_loop`,
/// `variables.update(result['ansible_facts'])` for `_ACTION_WITH_CLEAN_FACTS` in
/// `_execute`).
pub(crate) fn carry_item(
    t: &Task,
    result: &Map<String, Value>,
    carried: &mut IndexMap<String, Value>,
) {
    if let Some(name) = &t.register {
        carried.insert(name.clone(), Value::Object(result.clone()));
    }
    let short = t.action.rsplit('.').next().unwrap_or(&t.action);
    if matches!(short, "set_fact" | "include_vars") {
        if let Some(Value::Object(f)) = result.get("ansible_facts") {
            carried.extend(f.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
}

/// `ansible_loop` of item `i` (`loop_control.extended`), as `task_executor.py` builds it:
/// `previtem`/`nextitem` only where they exist, `allitems` unless `extended_allitems: false`.
pub(crate) fn extended_loop(items: &[Value], i: usize, allitems: bool) -> Value {
    let n = items.len();
    let mut m = Map::new();
    m.insert("index".into(), Value::from(i + 1));
    m.insert("index0".into(), Value::from(i));
    m.insert("first".into(), Value::Bool(i == 0));
    m.insert("last".into(), Value::Bool(i + 1 == n));
    m.insert("length".into(), Value::from(n));
    m.insert("revindex".into(), Value::from(n - i));
    m.insert("revindex0".into(), Value::from(n - i - 1));
    if allitems {
        m.insert("allitems".into(), Value::Array(items.to_vec()));
    }
    if let Some(next) = items.get(i + 1) {
        m.insert("nextitem".into(), next.clone());
    }
    if let Some(prev) = i.checked_sub(1).and_then(|p| items.get(p)) {
        m.insert("previtem".into(), prev.clone());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extended_loop_fields() {
        let items = [json!("a"), json!("b"), json!("c")];
        let first = extended_loop(&items, 0, true);
        assert_eq!(first["index"], 1);
        assert_eq!(first["revindex0"], 2);
        assert_eq!(first["first"], true);
        assert_eq!(first["nextitem"], "b");
        assert!(first.get("previtem").is_none());
        let last = extended_loop(&items, 2, false);
        assert_eq!(last["last"], true);
        assert_eq!(last["previtem"], "b");
        assert!(last.get("nextitem").is_none());
        assert!(last.get("allitems").is_none());
    }
}
