//! Ansible's "role already ran" skip, for the dependencies an `include_role` brings in.
//!
//! Why this file exists: a play's roles are deduplicated when the play loads (a role with
//! the same parameters runs once per play), but an `include_role` loads at run time, so
//! its role's dependencies came back as new copies and ran again. ansible-core keeps one
//! `Role` per play for each role and parameters (`Play.role_cache`), and its linear and free
//! strategies skip, for a host, a task whose role has already run there unless the role
//! allows duplicates (`lib/ansible/plugins/strategy/linear.py`: `role_obj.has_run(host)
//! and task._role._metadata.allow_duplicates is False` → the task is not queued for that
//! host, silently). The included role itself runs again (`IncludeRole.allow_duplicates`
//! defaults to true, `lib/ansible/playbook/role_include.py`; ansible-core 2.19 runs it
//! again even when the include sets it false, checked by the conformance case
//! `roles/include_role_deps_edges`).
//!
//! The model here: per play batch, each copy of a role that ran a task records the hosts
//! it ran on. A task of a copy the include marked as checked is skipped on a host where
//! another copy of the same role (canonical path and parameters) ran. Ansible's `has_run`
//! flips when the role's last task is done; a role's own later tasks are never skipped
//! here because they are the same copy.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::playbook::role::RoleInstance;

/// What ran where, for one play batch.
#[derive(Default)]
pub(crate) struct RolesRan {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each copy that ran a task, by address (kept alive here, so an address is never
    /// reused while the batch runs), with the hosts it ran on. Noting a run is a map
    /// lookup: it happens for every task of every role on every host.
    ran: HashMap<usize, (Arc<RoleInstance>, HashSet<String>)>,
    /// The copies an include marked as checked (its role's dependencies).
    checked: Vec<Arc<RoleInstance>>,
    /// Role identities, computed only when a checked copy's task is about to run.
    keys: HashMap<usize, String>,
}

/// A role's identity for the skip: its canonical directory and its parameters.
fn key(role: &RoleInstance) -> String {
    let path = role
        .path
        .canonicalize()
        .unwrap_or_else(|_| Path::new(&role.path).to_path_buf());
    let params = serde_json::to_string(&role.params).unwrap_or_default();
    format!("{}\0{params}", path.display())
}

fn addr(role: &Arc<RoleInstance>) -> usize {
    Arc::as_ptr(role) as usize
}

impl Inner {
    fn key(&mut self, role: &Arc<RoleInstance>) -> String {
        self.keys
            .entry(addr(role))
            .or_insert_with(|| key(role))
            .clone()
    }
}

impl RolesRan {
    /// `role`'s copy ran a task on `host`.
    pub(crate) fn note(&self, host: &str, role: &Arc<RoleInstance>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let (_, hosts) = inner
            .ran
            .entry(addr(role))
            .or_insert_with(|| (role.clone(), HashSet::new()));
        if !hosts.contains(host) {
            hosts.insert(host.to_string());
        }
    }

    /// The copies whose tasks are skipped on hosts where another copy already ran.
    pub(crate) fn check(&self, roles: impl IntoIterator<Item = Arc<RoleInstance>>) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.checked.extend(roles);
        }
    }

    /// The hosts of `hosts` that run a task of `role`: all, unless `role` is a checked
    /// copy and another copy of the same role already ran on some of them (`None`: all
    /// run).
    pub(crate) fn hosts_left(
        &self,
        role: Option<&Arc<RoleInstance>>,
        hosts: &[String],
    ) -> Option<Vec<String>> {
        let role = role?;
        let mut inner = self.inner.lock().ok()?;
        if !inner.checked.iter().any(|c| Arc::ptr_eq(c, role)) {
            return None;
        }
        let k = inner.key(role);
        let others: Vec<Arc<RoleInstance>> = inner
            .ran
            .values()
            .filter(|(r, _)| !Arc::ptr_eq(r, role))
            .map(|(r, _)| r.clone())
            .collect();
        let mut done: HashSet<&String> = HashSet::new();
        let same: Vec<usize> = others
            .iter()
            .filter(|r| inner.key(r) == k)
            .map(addr)
            .collect();
        for a in &same {
            if let Some((_, hs)) = inner.ran.get(a) {
                done.extend(hs.iter());
            }
        }
        let left: Vec<String> = hosts
            .iter()
            .filter(|h| !done.contains(h))
            .cloned()
            .collect();
        (left.len() != hosts.len()).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn role(name: &str, p: &[(&str, i64)]) -> Arc<RoleInstance> {
        Arc::new(RoleInstance {
            name: name.into(),
            path: format!("/nonexistent/roles/{name}").into(),
            defaults: IndexMap::new(),
            vars: IndexMap::new(),
            params: p
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).into()))
                .collect(),
            collection: None,
        })
    }

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_checked_copy_skips_hosts_where_another_copy_ran() {
        let r = RolesRan::default();
        let (first, again, other_params) =
            (role("dep", &[]), role("dep", &[]), role("dep", &[("x", 1)]));
        r.note("a", &first);
        r.check([again.clone(), other_params.clone()]);
        assert_eq!(
            r.hosts_left(Some(&again), &hosts(&["a", "b"])),
            Some(hosts(&["b"]))
        );
        // other parameters: another role
        assert_eq!(r.hosts_left(Some(&other_params), &hosts(&["a", "b"])), None);
        // the first copy itself, and a copy nobody checks, always run
        assert_eq!(r.hosts_left(Some(&first), &hosts(&["a"])), None);
        assert_eq!(r.hosts_left(None, &hosts(&["a"])), None);
        // a checked copy that ran first on b keeps running its own tasks there
        r.note("b", &again);
        assert_eq!(
            r.hosts_left(Some(&again), &hosts(&["a", "b"])),
            Some(hosts(&["b"]))
        );
    }
}
