//! A play's `order:` keyword: the order in which its hosts are run (and batched by
//! `serial`).
//!
//! Why this exists: with `serial`, the order decides which hosts go first; Ansible
//! (`lib/ansible/inventory/manager.py`, `get_hosts(order=...)`) sorts the play's matched
//! hosts by name for `sorted`/`reverse_sorted`, reverses the pattern's order for
//! `reverse_inventory` and shuffles for `shuffle`; `inventory` (the default) keeps the
//! order the host pattern produced.

use crate::error::{Error, Result};
use crate::yaml::Node;

/// `order:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostOrder {
    /// The order the host pattern produced.
    #[default]
    Inventory,
    /// That order reversed.
    ReverseInventory,
    /// By name.
    Sorted,
    /// By name, descending.
    ReverseSorted,
    /// At random.
    Shuffle,
}

impl HostOrder {
    /// Parse the keyword's value; anything else is a located error.
    pub(crate) fn parse(v: &Node) -> Result<HostOrder> {
        Ok(match v.as_str() {
            Some("inventory") => HostOrder::Inventory,
            Some("reverse_inventory") => HostOrder::ReverseInventory,
            Some("sorted") => HostOrder::Sorted,
            Some("reverse_sorted") => HostOrder::ReverseSorted,
            Some("shuffle") => HostOrder::Shuffle,
            _ => {
                return Err(Error::invalid_help(
                    &v.loc,
                    format!(
                        "invalid `order` `{}` for the play's hosts",
                        v.key_str().unwrap_or_default()
                    ),
                    "use inventory, reverse_inventory, sorted, reverse_sorted or shuffle",
                ));
            }
        })
    }

    /// Put `hosts` (in the host pattern's order) in this order.
    pub fn apply(self, hosts: &mut [String]) {
        match self {
            HostOrder::Inventory => {}
            HostOrder::ReverseInventory => hosts.reverse(),
            HostOrder::Sorted => hosts.sort(),
            HostOrder::ReverseSorted => hosts.sort_by(|a, b| b.cmp(a)),
            HostOrder::Shuffle => shuffle(hosts),
        }
    }
}

/// Fisher–Yates with a xorshift generator seeded by the standard library's random hasher
/// keys (no cryptographic quality needed).
fn shuffle(hosts: &mut [String]) {
    use std::hash::{BuildHasher, Hasher};
    let mut seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        | 1;
    for i in (1..hosts.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        hosts.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders() {
        let base: Vec<String> = ["zed", "alpha", "mid"].map(String::from).to_vec();
        let run = |o: HostOrder| {
            let mut h = base.clone();
            o.apply(&mut h);
            h
        };
        assert_eq!(run(HostOrder::Inventory), ["zed", "alpha", "mid"]);
        assert_eq!(run(HostOrder::ReverseInventory), ["mid", "alpha", "zed"]);
        assert_eq!(run(HostOrder::Sorted), ["alpha", "mid", "zed"]);
        assert_eq!(run(HostOrder::ReverseSorted), ["zed", "mid", "alpha"]);
        let mut s = run(HostOrder::Shuffle);
        s.sort();
        assert_eq!(s, ["alpha", "mid", "zed"]);
    }
}
