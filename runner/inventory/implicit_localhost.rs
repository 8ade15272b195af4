//! The implicit localhost, as Ansible has it.
//!
//! Why this file exists: with no inventory (or one without `localhost`), Ansible still runs
//! a play whose pattern is exactly `localhost` or `127.0.0.1`, on the controller with the
//! local connection, but that host is never part of `all`, `*` or any other pattern. So a
//! playbook for `all` run without `-i` does nothing, with a warning, instead of running on
//! the controller as the current user. Modelled on ansible-core's
//! `InventoryManager.list_hosts` (lib/ansible/inventory/manager.py: "allow implicit
//! localhost if pattern matches and no other results"), `InventoryData.get_host` (created
//! on demand, not added to any group) and `CLI.get_host_list` (lib/ansible/cli/__init__.py:
//! the warning for an inventory without hosts).

use serde_json::Value;

use super::{Inventory, LOCALHOST_NAMES, Vars};

/// Ansible's warning when no inventory source was given (lib/ansible/inventory/manager.py).
pub const NO_INVENTORY_WARNING: &str =
    "No inventory was parsed, only implicit localhost is available";

/// Ansible's warning when the inventory has no hosts (lib/ansible/cli/__init__.py).
pub const NO_HOSTS_WARNING: &str = "provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'";

/// Which of the two warnings about an inventory without hosts are on: ansible.cfg
/// `localhost_warning` / `ANSIBLE_LOCALHOST_WARNING` (the empty hosts list; `ansible` also
/// leaves it out for a pattern naming the implicit localhost) and `[inventory]`
/// `inventory_unparsed_warning` / `ANSIBLE_INVENTORY_UNPARSED_WARNING` (no source given),
/// as lib/ansible/config/base.yml has them. Both on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmptyWarnings {
    /// "provided hosts list is empty, …".
    pub localhost: bool,
    /// "No inventory was parsed, …".
    pub unparsed: bool,
}

impl Default for EmptyWarnings {
    fn default() -> Self {
        EmptyWarnings {
            localhost: true,
            unparsed: true,
        }
    }
}

impl Inventory {
    /// Turn the warnings of [`Inventory::empty_warnings`] on or off.
    pub fn set_empty_warnings(&mut self, w: EmptyWarnings) {
        self.empty_warnings = w;
    }

    /// Whether the inventory has no hosts at all.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// What ansible-playbook warns about an inventory without hosts: that only the implicit
    /// localhost is left, which `all` does not match (and, when no source was given at all,
    /// that no inventory was parsed).
    pub fn empty_warnings(&self) -> Vec<String> {
        if !self.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.sources.is_empty() && self.empty_warnings.unparsed {
            out.push(NO_INVENTORY_WARNING.to_string());
        }
        if self.empty_warnings.localhost {
            out.push(NO_HOSTS_WARNING.to_string());
        }
        out
    }

    /// When `pattern` is exactly a name of the implicit localhost that the inventory does not
    /// have, add that host with the local connection, remembered as implicit (see
    /// [`Inventory::is_implicit`]). Returns whether it was added.
    pub fn add_implicit_localhost(&mut self, pattern: &str) -> bool {
        // `::1` is left out: `:` separates the terms of a pattern here.
        if !LOCALHOST_NAMES[..2].contains(&pattern) || self.hosts.contains_key(pattern) {
            return false;
        }
        let mut vars = Vars::new();
        vars.insert("ansible_connection".into(), Value::from("local"));
        self.add_host(pattern, &[], vars);
        self.implicit.push(pattern.to_string());
        true
    }

    /// Whether `host` is an implicit localhost: only a pattern that is exactly its name
    /// selects it, never `all`, `*`, a group or a wildcard.
    pub fn is_implicit(&self, host: &str) -> bool {
        self.implicit.iter().any(|h| h == host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_implicit_localhost_is_selected_by_its_name_only() {
        let mut inv = Inventory::new();
        assert_eq!(
            inv.empty_warnings(),
            vec![NO_INVENTORY_WARNING, NO_HOSTS_WARNING]
        );
        assert!(inv.select("all").unwrap().is_empty());
        assert!(inv.add_implicit_localhost("localhost"));
        assert!(!inv.add_implicit_localhost("localhost"));
        assert!(!inv.add_implicit_localhost("all"));
        assert!(inv.is_implicit("localhost"));
        assert_eq!(inv.host_vars("localhost")["ansible_connection"], "local");
        let real =
            Inventory::parse_str("localhost ansible_connection=local\n", "h".as_ref()).unwrap();
        assert!(!real.is_implicit("localhost"));
        assert!(real.empty_warnings().is_empty());
        let mut quiet = Inventory::new();
        quiet.set_empty_warnings(EmptyWarnings {
            localhost: false,
            unparsed: true,
        });
        assert_eq!(quiet.empty_warnings(), vec![NO_INVENTORY_WARNING]);
        quiet.set_empty_warnings(EmptyWarnings {
            localhost: true,
            unparsed: false,
        });
        assert_eq!(quiet.empty_warnings(), vec![NO_HOSTS_WARNING]);
    }
}
