//! Host patterns (`hosts:` and `--limit`), with Ansible's syntax and order of operations.
//!
//! Why this module exists: plays and `--limit` name their targets with patterns —
//! `all`, `*`, hosts, groups, `a:b` or `a,b` (union), `a:&b` (intersection), `a:!b`
//! (exclusion), wildcards `web*`, regexes `~web\d+`, subscripts `group[0]`, `group[1:3]`,
//! `group[-1]`, and `@file` (one pattern per line). Ansible applies all unions first, then
//! intersections, then exclusions, whatever their order in the pattern; hosts come in the
//! pattern's order, as Ansible's. In `--limit` a term that matches nothing known is an
//! error (Ansible only warns), so typos surface early; in a play's `hosts:` it is skipped
//! with a warning, as Ansible does, so a play for an absent group is skipped.

use std::collections::HashSet;

use indexmap::IndexMap;
use regex::Regex;

use super::{Inventory, LOCALHOST_NAMES, PatternError};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Union,
    Intersect,
    Exclude,
}

/// Resolve `pattern` against `inv`: host names in Ansible's order (terms in order, each
/// group's hosts as [`Inventory::group_order`] lists them), deduplicated.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, PatternError> {
    select_with(inv, pattern, None)
}

/// As [`select`], but a name that matches nothing is skipped, as Ansible does for a play's
/// `hosts:` (`lib/ansible/inventory/manager.py`, `_enumerate_matches`: "Could not match
/// supplied host pattern, ignoring"): the unmatched names are returned to warn about.
pub fn select_lenient(
    inv: &Inventory,
    pattern: &str,
) -> Result<(Vec<String>, Vec<String>), PatternError> {
    let unmatched = std::cell::RefCell::new(Vec::new());
    let hosts = select_with(inv, pattern, Some(&unmatched))?;
    Ok((hosts, unmatched.into_inner()))
}

/// The hosts `pattern` names in Ansible's order (`_evaluate_patterns`): each union term
/// adds its hosts not yet selected, in the term's own order (a group's direct hosts, then
/// its children's); intersections and exclusions only filter.
fn select_with(
    inv: &Inventory,
    pattern: &str,
    unmatched: Option<&std::cell::RefCell<Vec<String>>>,
) -> Result<Vec<String>, PatternError> {
    let mut terms: Vec<(Op, String)> = Vec::new();
    for term in split_terms(pattern) {
        if let Some(file) = term.strip_prefix('@') {
            let text = std::fs::read_to_string(file).map_err(|e| {
                PatternError::new(format!("cannot read host pattern file `{file}`: {e}"))
            })?;
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                terms.push(classify(line));
            }
        } else {
            terms.push(classify(&term));
        }
    }
    if terms.is_empty() {
        return Err(PatternError::new("empty host pattern"));
    }
    // Unions first, then intersections, then exclusions; only & and ! means "all" first.
    terms.sort_by_key(|(op, _)| *op);
    if terms[0].0 != Op::Union {
        terms.insert(0, (Op::Union, "all".to_string()));
    }
    let ctx = Ctx {
        inv,
        groups: std::cell::OnceCell::new(),
        unmatched,
    };
    let mut selected: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (op, term) in &terms {
        if term.is_empty() {
            return Err(PatternError::new(format!(
                "empty term in host pattern `{pattern}`"
            )));
        }
        let hosts = ctx.match_term(term)?;
        match op {
            Op::Union => {
                for h in hosts {
                    if seen.insert(h.clone()) {
                        selected.push(h);
                    }
                }
            }
            Op::Intersect => {
                let keep: HashSet<String> = hosts.into_iter().collect();
                selected.retain(|h| keep.contains(h));
                seen.retain(|h| keep.contains(h));
            }
            Op::Exclude => {
                let drop: HashSet<String> = hosts.into_iter().collect();
                selected.retain(|h| !drop.contains(h));
                seen.retain(|h| !drop.contains(h));
            }
        }
    }
    // No sorting: Ansible keeps the order of the terms and of each group's hosts
    // (`InventoryManager._evaluate_patterns`, lib/ansible/inventory/manager.py).
    Ok(selected)
}

fn classify(term: &str) -> (Op, String) {
    if let Some(t) = term.strip_prefix('!') {
        (Op::Exclude, t.trim().to_string())
    } else if let Some(t) = term.strip_prefix('&') {
        (Op::Intersect, t.trim().to_string())
    } else {
        (Op::Union, term.to_string())
    }
}

/// Split a pattern into terms: on `,` if it has any, else on `:` outside brackets — unless
/// the whole pattern is an IPv6 address.
pub fn split_terms(pattern: &str) -> Vec<String> {
    let pattern = pattern.trim();
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if is_ipv6(pattern) {
        vec![pattern.to_string()]
    } else {
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut depth = 0i32;
        for c in pattern.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                ':' if depth <= 0 => {
                    parts.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        parts.push(cur);
        parts
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn is_ipv6(s: &str) -> bool {
    s.matches(':').count() >= 2
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

struct Ctx<'a> {
    inv: &'a Inventory,
    /// Every group's hosts, worked out on first use (`all` and host names need none).
    groups: std::cell::OnceCell<IndexMap<String, Vec<String>>>,
    /// When set, names matching nothing are noted here instead of being an error.
    unmatched: Option<&'a std::cell::RefCell<Vec<String>>>,
}

impl Ctx<'_> {
    fn groups(&self) -> &IndexMap<String, Vec<String>> {
        self.groups.get_or_init(|| self.inv.groups_var())
    }

    /// The hosts one term (without its `&`/`!`) names.
    fn match_term(&self, term: &str) -> Result<Vec<String>, PatternError> {
        if self.inv.hosts.contains_key(term) {
            return Ok(vec![term.to_string()]);
        }
        let (base, subscript) = split_subscript(term)?;
        let hosts = self.match_base(base)?;
        match subscript {
            None => Ok(hosts),
            Some(s) => apply_subscript(&hosts, s, term),
        }
    }

    fn match_base(&self, base: &str) -> Result<Vec<String>, PatternError> {
        if base == "all" || base == "*" {
            return Ok(self.groups().get("all").cloned().unwrap_or_default());
        }
        let matcher = Matcher::new(base)?;
        let mut out: Vec<String> = Vec::new();
        let mut matched_group = false;
        for (g, hosts) in self.groups() {
            if matcher.matches(g) {
                matched_group = true;
                out.extend(hosts.iter().cloned());
            }
        }
        if !matched_group || !matches!(matcher, Matcher::Exact(_)) || base.contains('.') {
            out.extend(
                self.inv
                    .hosts
                    .keys()
                    .filter(|h| matcher.matches(h))
                    .cloned(),
            );
        }
        if out.is_empty() && !matched_group {
            if LOCALHOST_NAMES.contains(&base) {
                return Ok(vec![base.to_string()]);
            }
            if let Some(list) = self.unmatched {
                list.borrow_mut().push(base.to_string());
                return Ok(Vec::new());
            }
            return Err(PatternError::new(match matcher {
                Matcher::Exact(_) => format!(
                    "could not match supplied host pattern: `{base}` is neither a host nor a group in the inventory"
                ),
                _ => format!(
                    "could not match supplied host pattern: `{base}` matches no host or group in the inventory"
                ),
            }));
        }
        let mut seen = HashSet::new();
        out.retain(|h| seen.insert(h.clone()));
        Ok(out)
    }
}

enum Matcher {
    Exact(String),
    Regex(Regex),
}

impl Matcher {
    fn new(base: &str) -> Result<Matcher, PatternError> {
        if let Some(re) = base.strip_prefix('~') {
            let r = Regex::new(&format!("^(?:{re})")).map_err(|e| {
                PatternError::new(format!(
                    "invalid regular expression in host pattern `{base}`: {e}"
                ))
            })?;
            return Ok(Matcher::Regex(r));
        }
        if base.contains(['*', '?', '[']) {
            let r = Regex::new(&glob_to_regex(base)).map_err(|e| {
                PatternError::new(format!("invalid wildcard in host pattern `{base}`: {e}"))
            })?;
            return Ok(Matcher::Regex(r));
        }
        Ok(Matcher::Exact(base.to_string()))
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == name,
            Matcher::Regex(r) => r.is_match(name),
        }
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, anchored at both ends.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from("^(?:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut class: String = chars[i..j].iter().collect();
                    class = class.replace('\\', "\\\\");
                    if let Some(rest) = class.strip_prefix('!') {
                        class = format!("^{rest}");
                    } else if class.starts_with('^') {
                        class = format!("\\{class}");
                    }
                    out.push('[');
                    out.push_str(&class.replace('[', "\\["));
                    out.push(']');
                    i = j + 1;
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str(")$");
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Subscript {
    Index(i64),
    /// Inclusive range, as Ansible's `group[1:3]` is; `None` end is the last host.
    Range(i64, Option<i64>),
}

/// `name[3]`, `name[-1]`, `name[1:3]`, `name[1-3]`, `name[:3]`, `name[1:]`. Regexes have
/// no subscripts; a bracket that is not a subscript stays (it is a wildcard class).
fn split_subscript(term: &str) -> Result<(&str, Option<Subscript>), PatternError> {
    if term.starts_with('~') || !term.ends_with(']') {
        return Ok((term, None));
    }
    let Some(open) = term.rfind('[') else {
        return Ok((term, None));
    };
    let base = &term[..open];
    let inner = &term[open + 1..term.len() - 1];
    if base.is_empty() {
        return Ok((term, None));
    }
    let int = |s: &str| -> Option<i64> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(i) = int(inner) {
        return Ok((base, Some(Subscript::Index(i))));
    }
    if let Some((a, b)) = inner.split_once([':', '-']) {
        let a_ok = a.is_empty() || int(a).is_some();
        let b_ok = b.is_empty() || int(b).is_some();
        if a_ok && b_ok {
            let start = if a.is_empty() { 0 } else { int(a).unwrap_or(0) };
            let end = if b.is_empty() { None } else { int(b) };
            return Ok((base, Some(Subscript::Range(start, end))));
        }
    }
    Ok((term, None))
}

fn apply_subscript(
    hosts: &[String],
    s: Subscript,
    term: &str,
) -> Result<Vec<String>, PatternError> {
    let n = hosts.len() as i64;
    let norm = |i: i64| if i < 0 { i + n } else { i };
    match s {
        Subscript::Index(i) => {
            let k = norm(i);
            if k < 0 || k >= n {
                return Err(PatternError::new(format!(
                    "host pattern `{term}`: index {i} is out of range ({n} hosts)"
                )));
            }
            Ok(vec![hosts[k as usize].clone()])
        }
        Subscript::Range(a, b) => {
            let start = norm(a).clamp(0, n);
            let end = match b {
                None => n - 1,
                Some(b) => norm(b).min(n - 1),
            };
            if start > end {
                return Ok(Vec::new());
            }
            Ok(hosts[start as usize..=end as usize].to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inv() -> Inventory {
        Inventory::parse_str(
            "[web]\nweb1\nweb2\nweb3\n[db]\ndb1\nweb2\n[lb]\nlb.example.com\n[dc:children]\nweb\nlb\n",
            Path::new("hosts"),
        )
        .unwrap()
    }

    fn sel(p: &str) -> Vec<String> {
        inv().select(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn basics() {
        // Orders as ansible-core 2.19 lists them (`ansible --list-hosts`).
        assert_eq!(
            sel("all"),
            ["db1", "web2", "web1", "web3", "lb.example.com"]
        );
        assert_eq!(sel("*").len(), 5);
        assert_eq!(sel("db"), ["db1", "web2"]);
        assert_eq!(sel("web1"), ["web1"]);
        assert_eq!(sel("dc"), ["web1", "web2", "web3", "lb.example.com"]);
    }

    #[test]
    fn operators_in_ansible_order() {
        assert_eq!(sel("db:web1"), ["db1", "web2", "web1"]);
        assert_eq!(sel("db,web1"), ["db1", "web2", "web1"]);
        assert_eq!(sel("web:&db"), ["web2"]);
        assert_eq!(sel("web:!db"), ["web1", "web3"]);
        // exclusion written first still applies after the union
        assert_eq!(sel("!db:web"), ["web1", "web3"]);
        assert_eq!(sel("!web"), ["db1", "lb.example.com"]);
        assert_eq!(sel("&db"), ["db1", "web2"]);
        assert_eq!(sel("dc:!web:db"), ["lb.example.com", "db1"]);
    }

    #[test]
    fn wildcards_regex_subscripts() {
        assert_eq!(sel("web*"), ["web1", "web2", "web3"]);
        assert_eq!(sel("*.example.com"), ["lb.example.com"]);
        assert_eq!(sel("web[!2]"), ["web1", "web3"]);
        assert_eq!(sel("~(web|db)1"), ["web1", "db1"]);
        assert_eq!(sel("~web[23]"), ["web2", "web3"]);
        assert_eq!(sel("web[0]"), ["web1"]);
        assert_eq!(sel("web[-1]"), ["web3"]);
        assert_eq!(sel("web[1:2]"), ["web2", "web3"]);
        assert_eq!(sel("web[:1]"), ["web1", "web2"]);
        assert_eq!(sel("web[1:]"), ["web2", "web3"]);
        assert!(
            inv()
                .select("web[5]")
                .unwrap_err()
                .message
                .contains("out of range")
        );
    }

    #[test]
    fn errors() {
        assert!(inv().select("").unwrap_err().message.contains("empty"));
        let e = inv().select("web:nosuch").unwrap_err();
        assert!(e.message.contains("`nosuch`"), "{e}");
        assert!(inv().select("zz*").is_err());
        assert!(
            inv()
                .select("~(")
                .unwrap_err()
                .message
                .contains("regular expression")
        );
        assert_eq!(sel("localhost"), ["localhost"]);
    }

    #[test]
    fn term_splitting() {
        assert_eq!(split_terms("a:b:&c:!d"), ["a", "b", "&c", "!d"]);
        assert_eq!(split_terms("g[1:2]:x"), ["g[1:2]", "x"]);
        assert_eq!(split_terms("fe80::1"), ["fe80::1"]);
        assert_eq!(split_terms(" a , b ,"), ["a", "b"]);
    }
}
