//! A test scenario as read from its `scenario.yml`: the lab it needs (hosts, their groups
//! and variables, the Debian suite), the playbooks it runs and its extra variables.
//!
//! Why this file exists: everything `windlass test` needs to know about a scenario is
//! checked here, against the file, before any lab is booted; each mistake (an unknown key,
//! a missing playbook, no hosts, a bad suite) is an error at its file:line:col.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Error, Loc, Result};
use crate::lab::Suite;
use crate::lab::model::MAX_HOSTS;
use crate::yaml::Node;

/// The file that makes a directory a scenario.
pub const FILE: &str = "scenario.yml";

/// The keys a scenario file may have.
const KEYS: &[&str] = &[
    "description",
    "suite",
    "hosts",
    "children",
    "prepare",
    "converge",
    "verify",
    "extra_vars",
];
/// The keys of one host.
const HOST_KEYS: &[&str] = &["name", "groups", "vars"];

/// One scenario, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// How it is named on the command line and in reports: `ROLE/NAME` for a role's
    /// scenario, `playbooks/NAME` for a playbook scenario, else its directory.
    pub id: String,
    /// Its directory (where its playbooks are).
    pub dir: PathBuf,
    /// What it tests, in a sentence (optional).
    pub description: Option<String>,
    /// The Debian release of its hosts.
    pub suite: Suite,
    /// Its hosts, in lab order (the first is the lab's first host).
    pub hosts: Vec<ScenarioHost>,
    /// Groups made of groups: group → its child groups.
    pub children: IndexMap<String, Vec<String>>,
    /// Run once after the lab is up, before converge (optional).
    pub prepare: Option<PathBuf>,
    /// The playbook under test: run, then run again to check idempotence.
    pub converge: PathBuf,
    /// Checks the hosts after converge (optional).
    pub verify: Option<PathBuf>,
    /// Extra variables of every run (`-e`).
    pub extra_vars: IndexMap<String, Value>,
    /// Directories roles are looked for in, besides the playbooks' own (a role's scenario
    /// finds the role it lives in).
    pub roles_path: Vec<PathBuf>,
}

/// One host of a scenario's lab.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioHost {
    /// Its inventory name.
    pub name: String,
    /// The groups it is in.
    pub groups: Vec<String>,
    /// Its host variables.
    pub vars: IndexMap<String, Value>,
}

impl Scenario {
    /// Read and check the scenario in directory `dir` (its `scenario.yml`), named `id`.
    pub fn load(dir: &Path, id: &str, yaml: &crate::yaml::Reader) -> Result<Scenario> {
        let file = dir.join(FILE);
        if !file.is_file() {
            return Err(Error::invalid_help(
                &Loc::file(&file),
                format!("{} has no {FILE}", dir.display()),
                "a scenario is a directory with a scenario.yml (book: Testing roles)",
            ));
        }
        let root = yaml.load(&file)?;
        Self::from_node(&root, dir, id)
    }

    /// The scenario that `root` (the parsed `scenario.yml` of `dir`) describes.
    pub fn from_node(root: &Node, dir: &Path, id: &str) -> Result<Scenario> {
        if root.is_null() {
            return Err(Error::invalid(
                &root.loc,
                "the scenario is empty: it needs `hosts`",
            ));
        }
        let entries = root.expect_map("a scenario")?;
        check_keys(root, KEYS, "scenario")?;
        let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        let hosts = match get("hosts") {
            Some(n) => hosts(n)?,
            None => return Err(Error::invalid(&root.loc, "the scenario has no `hosts`")),
        };
        let children = get("children")
            .map(children)
            .transpose()?
            .unwrap_or_default();
        check_groups(&hosts, &children, get("children"))?;
        Ok(Scenario {
            id: id.to_string(),
            dir: dir.to_path_buf(),
            description: get("description")
                .map(|n| text(n, "description"))
                .transpose()?,
            suite: get("suite")
                .map(suite)
                .transpose()?
                .unwrap_or(Suite::Bookworm),
            hosts,
            children,
            prepare: playbook(dir, get("prepare"), "prepare")?,
            converge: playbook(dir, get("converge"), "converge")?.ok_or_else(|| {
                Error::invalid_help(
                    &root.loc,
                    format!(
                        "the scenario has no converge playbook ({}/converge.yml)",
                        dir.display()
                    ),
                    "write converge.yml beside scenario.yml, or name it with `converge:`",
                )
            })?,
            verify: playbook(dir, get("verify"), "verify")?,
            extra_vars: get("extra_vars").map(vars).transpose()?.unwrap_or_default(),
            roles_path: roles_path(dir),
        })
    }
}

/// Every key of mapping `node` is one of `allowed`.
fn check_keys(node: &Node, allowed: &[&str], what: &str) -> Result<()> {
    for (k, _) in node.as_map().unwrap_or_default() {
        let name = k.key_str().unwrap_or_default();
        if !allowed.contains(&name.as_str()) {
            return Err(Error::invalid_help(
                &k.loc,
                format!("unknown {what} key `{name}`"),
                format!("the {what} keys are: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn text(n: &Node, what: &str) -> Result<String> {
    n.expect_str(what).map(str::to_string)
}

fn suite(n: &Node) -> Result<Suite> {
    match n.as_str() {
        Some("bookworm") => Ok(Suite::Bookworm),
        Some("trixie") => Ok(Suite::Trixie),
        _ => Err(Error::invalid_help(
            &n.loc,
            format!("unknown suite {}", shown(n)),
            "the lab runs bookworm (Debian 12) or trixie (Debian 13)",
        )),
    }
}

/// A node as the user wrote it, for messages.
fn shown(n: &Node) -> String {
    match n.as_str() {
        Some(s) => format!("`{s}`"),
        None => n.type_name().to_string(),
    }
}

fn hosts(n: &Node) -> Result<Vec<ScenarioHost>> {
    let items = n.as_seq().ok_or_else(|| {
        Error::invalid(
            &n.loc,
            format!("`hosts` must be a list, found {}", n.type_name()),
        )
    })?;
    if items.is_empty() || items.len() > MAX_HOSTS {
        return Err(Error::invalid(
            &n.loc,
            format!(
                "a scenario has 1 to {MAX_HOSTS} hosts, found {}",
                items.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    items
        .iter()
        .map(|item| {
            let h = host(item)?;
            if !seen.insert(h.name.clone()) {
                return Err(Error::invalid(
                    &item.loc,
                    format!("host `{}` is listed twice", h.name),
                ));
            }
            Ok(h)
        })
        .collect()
}

fn host(n: &Node) -> Result<ScenarioHost> {
    let entries = n.expect_map("a host")?;
    check_keys(n, HOST_KEYS, "host")?;
    let get = |k: &str| entries.iter().find(|(e, _)| e == k).map(|(_, v)| *v);
    let name_node = get("name").ok_or_else(|| Error::invalid(&n.loc, "the host has no `name`"))?;
    let name = text(name_node, "a host name")?;
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(Error::invalid(
            &name_node.loc,
            format!("`{name}` is not a host name (use letters, digits, '-', '_', '.')"),
        ));
    }
    Ok(ScenarioHost {
        name,
        groups: get("groups")
            .map(group_list)
            .transpose()?
            .unwrap_or_default(),
        vars: get("vars").map(vars).transpose()?.unwrap_or_default(),
    })
}

/// A list of group names.
fn group_list(n: &Node) -> Result<Vec<String>> {
    let items = n.as_seq().ok_or_else(|| {
        Error::invalid(
            &n.loc,
            format!("groups must be a list, found {}", n.type_name()),
        )
    })?;
    items.iter().map(group_name).collect()
}

fn group_name(n: &Node) -> Result<String> {
    let g = text(n, "a group name")?;
    crate::playbook::task::check_var_name(&g, &n.loc)
        .map_err(|_| Error::invalid(&n.loc, format!("`{g}` is not a group name")))?;
    if g == "all" || g == "ungrouped" {
        return Err(Error::invalid(
            &n.loc,
            format!("`{g}` is implicit: leave it out"),
        ));
    }
    Ok(g)
}

fn children(n: &Node) -> Result<IndexMap<String, Vec<String>>> {
    n.as_map()
        .ok_or_else(|| {
            Error::invalid(
                &n.loc,
                format!("`children` must be a mapping, found {}", n.type_name()),
            )
        })?
        .iter()
        .map(|(k, v)| Ok((group_name(k)?, group_list(v)?)))
        .collect()
}

/// Each child group names a group some host or other child group is in, and no group is
/// its own ancestor.
fn check_groups(
    hosts: &[ScenarioHost],
    children: &IndexMap<String, Vec<String>>,
    node: Option<&Node>,
) -> Result<()> {
    let loc = node.map_or_else(|| Loc::file("<scenario>"), |n| n.loc.clone());
    let known: HashSet<&str> = hosts
        .iter()
        .flat_map(|h| h.groups.iter().map(String::as_str))
        .chain(children.keys().map(String::as_str))
        .collect();
    for (parent, kids) in children {
        for k in kids {
            if !known.contains(k.as_str()) {
                return Err(Error::invalid(
                    &loc,
                    format!("group `{parent}` has child `{k}`, which no host or group is in"),
                ));
            }
            if reaches(children, k, parent, 0) {
                return Err(Error::invalid(
                    &loc,
                    format!("group `{parent}` is its own descendant"),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `target` is `from` or one of its descendants.
fn reaches(
    children: &IndexMap<String, Vec<String>>,
    from: &str,
    target: &str,
    depth: usize,
) -> bool {
    from == target
        || (depth < children.len()
            && children
                .get(from)
                .is_some_and(|ks| ks.iter().any(|k| reaches(children, k, target, depth + 1))))
}

/// Variables: a mapping whose keys are variable names (an error at the bad key).
fn vars(n: &Node) -> Result<IndexMap<String, Value>> {
    n.expect_map("variables")?;
    n.as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| {
            let name = k.key_str().unwrap_or_default();
            crate::playbook::task::check_var_name(&name, &k.loc)?;
            Ok((name, v.to_value()))
        })
        .collect()
}

/// The playbook `key` names (relative to `dir`), else `dir/KEY.yml` when it exists; a named
/// file that does not exist is an error at its name.
fn playbook(dir: &Path, node: Option<&Node>, key: &str) -> Result<Option<PathBuf>> {
    let Some(n) = node else {
        let default = dir.join(format!("{key}.yml"));
        return Ok(default.is_file().then_some(default));
    };
    let name = text(n, key)?;
    let path = dir.join(&name);
    if path.is_file() {
        Ok(Some(path))
    } else {
        Err(Error::invalid(
            &n.loc,
            format!("the {key} playbook {} does not exist", path.display()),
        ))
    }
}

/// A role's scenario (`ROLES/ROLE/scenarios/NAME`, ROLE with a `tasks/`) finds roles in
/// `ROLES`, as Molecule puts the role's parent on the roles path.
fn roles_path(dir: &Path) -> Vec<PathBuf> {
    let scenarios = dir
        .parent()
        .filter(|s| s.file_name().is_some_and(|n| n == "scenarios"));
    let role = scenarios.and_then(Path::parent);
    match (role, role.and_then(Path::parent)) {
        (Some(role), Some(roles)) if role.join("tasks").is_dir() => vec![roles.to_path_buf()],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario directory with `scenario.yml` = `text` and the playbooks in `files`.
    fn dir_with(text: &str, files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE), text).unwrap();
        for f in files {
            std::fs::write(d.path().join(f), "- hosts: all\n").unwrap();
        }
        d
    }

    fn load(text: &str, files: &[&str]) -> (tempfile::TempDir, Result<Scenario>) {
        let d = dir_with(text, files);
        let r = Scenario::load(d.path(), "r/default", &crate::yaml::Reader::default());
        (d, r)
    }

    /// The error's `line:col` and message.
    fn error(text: &str, files: &[&str]) -> (u32, u32, String) {
        let (_d, r) = load(text, files);
        let e = r.unwrap_err();
        let loc = e.loc().cloned().unwrap_or_else(|| Loc::file("?"));
        assert!(loc.file.ends_with(FILE), "{loc}");
        (loc.line, loc.col, e.to_string())
    }

    #[test]
    fn a_full_scenario() {
        let (d, r) = load(
            "description: two load balancers\nsuite: trixie\nhosts:\n  - name: lb1\n    groups: [loadbalancer]\n    vars: {node_ip: 10.0.0.1}\n  - name: cp1\n    groups: [kube_control_plane]\nchildren:\n  k8s_cluster: [kube_control_plane]\nconverge: site.yml\nextra_vars: {keepalived_vip: 192.0.2.10}\n",
            &["site.yml", "verify.yml", "prepare.yml"],
        );
        let s = r.unwrap();
        assert_eq!(s.suite, Suite::Trixie);
        assert_eq!(s.description.as_deref(), Some("two load balancers"));
        assert_eq!(s.hosts[0].groups, vec!["loadbalancer"]);
        assert_eq!(s.hosts[0].vars["node_ip"], "10.0.0.1");
        assert_eq!(s.children["k8s_cluster"], vec!["kube_control_plane"]);
        assert_eq!(s.converge, d.path().join("site.yml"));
        assert_eq!(s.verify, Some(d.path().join("verify.yml")));
        assert_eq!(s.prepare, Some(d.path().join("prepare.yml")));
        assert_eq!(s.extra_vars["keepalived_vip"], "192.0.2.10");
    }

    #[test]
    fn defaults_bookworm_and_no_verify() {
        let (_d, r) = load("hosts:\n  - name: node1\n", &["converge.yml"]);
        let s = r.unwrap();
        assert_eq!(
            (s.suite, s.verify, s.prepare),
            (Suite::Bookworm, None, None)
        );
    }

    #[test]
    fn bad_input_is_located() {
        let conv = &["converge.yml"][..];
        let cases: Vec<(&str, &[&str], u32, u32, &str)> = vec![
            (
                "hosts:\n  - name: a\nplatforms: []\n",
                conv,
                3,
                1,
                "unknown scenario key `platforms`",
            ),
            ("hosts:\n  - name: a\n", &[], 1, 1, "no converge playbook"),
            ("hosts: []\n", conv, 1, 8, "1 to 200 hosts, found 0"),
            (
                "suite: buster\nhosts:\n  - name: a\n",
                conv,
                1,
                8,
                "unknown suite `buster`",
            ),
            (
                "hosts:\n  - name: a\n  - name: a\n",
                conv,
                3,
                5,
                "listed twice",
            ),
            (
                "hosts:\n  - name: a\n    group: [x]\n",
                conv,
                3,
                5,
                "unknown host key `group`",
            ),
            ("hosts:\n  - name: 'a b'\n", conv, 2, 11, "not a host name"),
            (
                "hosts:\n  - name: a\n    groups: [all]\n",
                conv,
                3,
                14,
                "implicit",
            ),
            (
                "hosts:\n  - name: a\n    groups: [x-y]\n",
                conv,
                3,
                14,
                "not a group name",
            ),
            (
                "hosts:\n  - name: a\n    vars: {1x: 2}\n",
                conv,
                3,
                12,
                "not a valid variable name",
            ),
            (
                "hosts:\n  - name: a\nverify: check.yml\n",
                conv,
                3,
                9,
                "verify playbook",
            ),
            (
                "hosts:\n  - name: a\nchildren:\n  k: [nothere]\n",
                conv,
                4,
                3,
                "no host or group is in",
            ),
            ("hosts: 3\n", conv, 1, 8, "must be a list"),
            ("converge: converge.yml\n", conv, 1, 1, "no `hosts`"),
        ];
        for (text, files, line, col, msg) in cases {
            let (l, c, m) = error(text, files);
            assert!(m.contains(msg), "{text}: {m}");
            assert_eq!((l, c), (line, col), "{text}: {m}");
        }
    }

    #[test]
    fn a_directory_without_scenario_yml() {
        let d = tempfile::tempdir().unwrap();
        let e = Scenario::load(d.path(), "x", &crate::yaml::Reader::default()).unwrap_err();
        assert!(e.to_string().contains("has no scenario.yml"), "{e}");
    }

    #[test]
    fn a_group_of_groups_cannot_contain_itself() {
        let text = "hosts:\n  - name: a\n    groups: [x]\nchildren:\n  p: [q]\n  q: [p]\n";
        let (_, _, m) = error(text, &["converge.yml"]);
        assert!(m.contains("its own descendant"), "{m}");
    }
}

#[cfg(test)]
mod book_sample {
    /// The book's `scenario.yml` with every key (book/src/testing-roles.md) is a valid
    /// scenario.
    #[test]
    fn the_books_full_sample_loads() {
        let page = include_str!("../../book/src/testing-roles.md");
        let after = page.split("`scenario.yml`, every key:").nth(1).unwrap();
        let sample = after
            .split("```")
            .nth(1)
            .unwrap()
            .trim_start_matches("text\n");
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(super::FILE), sample).unwrap();
        for f in ["converge.yml", "verify.yml", "prepare.yml"] {
            std::fs::write(d.path().join(f), "- hosts: all\n").unwrap();
        }
        let s = super::Scenario::load(d.path(), "keepalived/default", &Default::default()).unwrap();
        assert_eq!(s.hosts.len(), 3);
        assert_eq!(s.extra_vars["keepalived_vip"], "192.0.2.10");
        assert!(s.prepare.is_some() && s.verify.is_some());
    }
}
