//! Collections as content: where installed collections are, and the roles and playbooks
//! inside them.
//!
//! Why this module exists: a collection `ns.col` is a directory
//! `<root>/ansible_collections/ns/col` holding `roles/` and `playbooks/` (plain YAML, no
//! Python needed to load them). Which roots are searched, and in which order, is one
//! resolved value ([`CollectionPaths`]) built in one place, as Ansible's collection finder
//! (`utils/collection_loader/_collection_finder.py`) builds it: the `collections/`
//! directory beside each playbook given on the command line first, then the configured
//! `collections_path` (`ANSIBLE_COLLECTIONS_PATH`, default
//! `~/.ansible/collections:/usr/share/ansible/collections`); a root named
//! `…/ansible_collections` stands for its parent; a configured root without an
//! `ansible_collections/` directory is skipped; when several roots hold `ns.col`, the
//! first wins. Then, as ansible-core's `COLLECTIONS_SCAN_SYS_PATH` (default true;
//! `collections_scan_sys_path`, `ANSIBLE_COLLECTIONS_SCAN_SYS_PATH`), every entry of the user's ansible Python's
//! `sys.path` that holds `ansible_collections/` (collections `pip` installed into
//! site-packages, the `ansible` package's): asked of that Python once per process, and
//! only when a collection is not found in the roots before (a run that names none
//! starts no Python).
//!
//! The `collections:` keyword's search list is computed here too ([`search_list`],
//! [`role_search_list`]): Ansible appends `ansible.legacy` to a non-empty list, puts a
//! collection role's own collection first, and does not pass a play's list into its roles.

use std::path::{Path, PathBuf};

use crate::error::{Error, Loc, Result};

/// The collection roots of a command line's `playbooks`, and `playbook` (one of them)
/// resolved: a collection's playbook by its full name (`ns.col.name`, tried first, as
/// ansible-playbook does, in the configured paths only: the playbooks' `collections/`
/// directories are not known yet when it checks them), else a path; with the default
/// collection it sets (its collection, also for a path inside an installed collection;
/// Ansible's `PlaybookExecutor.run`). Only path playbooks add their `collections/`
/// directory.
pub fn command_line(
    playbook: &mut PathBuf,
    playbooks: &[PathBuf],
    configured: Option<&[PathBuf]>,
) -> (CollectionPaths, Option<String>) {
    let only_configured = CollectionPaths::new(&[], configured);
    let by_name = |p: &Path| p.to_str().and_then(|s| only_configured.find_playbook(s));
    let files: Vec<PathBuf> = playbooks
        .iter()
        .filter(|p| by_name(p).is_none())
        .cloned()
        .collect();
    let paths = CollectionPaths::new(&files, configured);
    let found = match by_name(playbook) {
        Some(_) => playbook.to_str().and_then(|s| paths.find_playbook(s)),
        None => None,
    };
    let collection = match found {
        Some((c, p)) => {
            *playbook = p;
            Some(c)
        }
        None => paths.collection_of(playbook),
    };
    (paths, collection)
}

/// The synthetic collections: `ansible.builtin` (ansible-core itself) and `ansible.legacy`
/// (the non-collection search paths). They hold no roles or playbooks.
const SYNTHETIC: &[&str] = &["ansible.builtin", "ansible.legacy"];

/// The collection roots of a run, in search order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionPaths {
    /// Every root considered, in order (messages name them all).
    searched: Vec<PathBuf>,
    /// The roots that hold an `ansible_collections/` directory, each once.
    roots: Vec<PathBuf>,
    /// Whether the ansible Python's `sys.path` is searched after `roots`.
    scan_sys_path: bool,
}

/// The `sys.path` entries of the user's ansible Python (`WINDLASS_ANSIBLE_PYTHON`, else
/// the one the module bridge finds) that hold `ansible_collections/`, in order; asked
/// once per process. No Python: none.
fn sys_path_roots() -> &'static [PathBuf] {
    static ROOTS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let configured = std::env::var_os("WINDLASS_ANSIBLE_PYTHON").map(PathBuf::from);
        let Ok(py) = crate::bridge::python::Source::new(configured).find() else {
            return Vec::new();
        };
        let out = std::process::Command::new(py)
            .args(["-c", "import sys, json; print(json.dumps(sys.path))"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        let entries: Vec<PathBuf> = out
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default();
        collection_roots(&entries)
    })
}

/// The entries of `paths` that hold an `ansible_collections/` directory, each once.
fn collection_roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !p.as_os_str().is_empty() && !roots.contains(p) && p.join("ansible_collections").is_dir()
        {
            roots.push(p.clone());
        }
    }
    roots
}

/// Ansible's default `collections_path`: `~/.ansible/collections` and
/// `/usr/share/ansible/collections`.
pub fn default_paths() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        v.push(Path::new(&home).join(".ansible/collections"));
    }
    v.push(PathBuf::from("/usr/share/ansible/collections"));
    v
}

impl CollectionPaths {
    /// The roots for a run of `playbooks` (their `collections/` directories, first
    /// playbook first) with `configured` (`collections_path`; `None`: the default).
    pub fn new(playbooks: &[PathBuf], configured: Option<&[PathBuf]>) -> Self {
        let mut searched: Vec<PathBuf> = Vec::new();
        for p in playbooks {
            let dir = std::path::absolute(p)
                .ok()
                .and_then(|a| a.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("."));
            let adjacent = dir.join("collections");
            if !searched.contains(&adjacent) {
                searched.push(adjacent);
            }
        }
        let defaults;
        let configured = match configured {
            Some(c) => c,
            None => {
                defaults = default_paths();
                &defaults
            }
        };
        searched.extend(configured.iter().cloned());
        let mut roots: Vec<PathBuf> = Vec::new();
        for p in &searched {
            let p = if p.file_name().is_some_and(|n| n == "ansible_collections") {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            } else {
                p.clone()
            };
            if !roots.contains(&p) && p.join("ansible_collections").is_dir() {
                roots.push(p);
            }
        }
        CollectionPaths {
            searched,
            roots,
            scan_sys_path: true,
        }
    }

    /// These roots, then the ansible Python's `sys.path` or not (`collections_scan_sys_path`,
    /// true unless configured off).
    pub fn scan_sys_path(mut self, on: bool) -> Self {
        self.scan_sys_path = on;
        self
    }

    /// Every root considered, in order.
    pub fn searched(&self) -> &[PathBuf] {
        &self.searched
    }

    /// The directory of collection `name` (`ns.col`): the first root that has it.
    pub fn collection(&self, name: &str) -> Option<PathBuf> {
        let (ns, col) = split_collection(name)?;
        let in_root = |r: &PathBuf| {
            let p = r.join("ansible_collections").join(ns).join(col);
            p.is_dir().then_some(p)
        };
        if let Some(p) = self.roots.iter().find_map(in_root) {
            return Some(p);
        }
        if !self.scan_sys_path {
            return None;
        }
        sys_path_roots()
            .iter()
            .filter(|r| !self.roots.contains(r))
            .find_map(in_root)
    }

    /// The directory of role `resource` (`role` or `sub.role`) of collection `name`.
    fn role_in(&self, name: &str, resource: &str) -> Option<PathBuf> {
        let mut p = self.collection(name)?.join("roles");
        for part in resource.split('.') {
            p.push(part);
        }
        p.is_dir().then_some(p)
    }

    /// Resolve a role name as Ansible does before its role paths: an FQCN
    /// (`ns.col.role`) in its collection, else a short name in each collection of
    /// `list` in order. `Some((collection, directory))` when found.
    pub fn find_role(&self, name: &str, list: &[String]) -> Option<(String, PathBuf)> {
        if let Some((col, resource)) = split_fqcr(name) {
            return self.role_in(&col, &resource).map(|p| (col.to_string(), p));
        }
        if !is_word(name) {
            return None;
        }
        list.iter()
            .filter(|c| !SYNTHETIC.contains(&c.as_str()))
            .find_map(|c| self.role_in(c, name).map(|p| (c.clone(), p)))
    }

    /// Resolve `import_playbook: ns.col.name` (with or without `.yml`/`.yaml`): the file
    /// under the collection's `playbooks/`, and the collection. `None` when `name` is no
    /// FQCN or nothing is there.
    pub fn find_playbook(&self, name: &str) -> Option<(String, PathBuf)> {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if e == "yml" || e == "yaml" => (s, Some(e)),
            _ => (name, None),
        };
        let (col, resource) = split_fqcr(stem)?;
        let mut dir = self.collection(&col)?.join("playbooks");
        let mut parts: Vec<&str> = resource.split('.').collect();
        let file = parts.pop()?;
        for p in parts {
            dir.push(p);
        }
        let candidates: Vec<String> = match ext {
            Some(e) => vec![format!("{file}.{e}")],
            None => vec![
                file.to_string(),
                format!("{file}.yml"),
                format!("{file}.yaml"),
            ],
        };
        candidates
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.exists())
            .map(|p| (col, p))
    }

    /// The collection a path lies in (`…/ansible_collections/ns/col/…`), when that
    /// collection resolves to that very directory (Ansible's
    /// `_get_collection_name_from_path`).
    pub fn collection_of(&self, path: &Path) -> Option<String> {
        let abs = std::path::absolute(path).ok()?;
        let parts: Vec<_> = abs.components().collect();
        let pos = parts
            .iter()
            .position(|c| c.as_os_str() == "ansible_collections")?;
        if parts
            .iter()
            .filter(|c| c.as_os_str() == "ansible_collections")
            .count()
            != 1
        {
            return None;
        }
        let ns = parts.get(pos + 1)?.as_os_str().to_str()?;
        let col = parts.get(pos + 2)?.as_os_str().to_str()?;
        let name = format!("{ns}.{col}");
        let prefix: PathBuf = parts[..pos + 3].iter().collect();
        (self.collection(&name)? == prefix).then_some(name)
    }

    /// The error for a role that was found nowhere: which collections and which role
    /// directories were searched, and how to install a missing collection.
    pub fn role_not_found(
        &self,
        name: &str,
        list: &[String],
        role_dirs: &[PathBuf],
        loc: &Loc,
    ) -> Error {
        let dirs: Vec<String> = role_dirs.iter().map(|p| p.display().to_string()).collect();
        if let Some((col, resource)) = split_fqcr(name) {
            return match self.collection(&col) {
                None => Error::invalid_help(
                    loc,
                    format!("role `{name}` not found: collection `{col}` is not installed"),
                    format!(
                        "looked for ansible_collections/{} in: {}; install it with \
                         `ansible-galaxy collection install {col}`, or set collections_path \
                         (ANSIBLE_COLLECTIONS_PATH); roles named `{name}` were looked for in: {}",
                        col.replace('.', "/"),
                        self.searched_text(),
                        dirs.join(", ")
                    ),
                ),
                Some(dir) => Error::invalid_help(
                    loc,
                    format!("role `{name}` not found: collection `{col}` has no role `{resource}`"),
                    format!(
                        "looked in {}; its roles: {}",
                        dir.join("roles").display(),
                        list_roles(&dir).join(", ")
                    ),
                ),
            };
        }
        let cols: Vec<&str> = list
            .iter()
            .map(String::as_str)
            .filter(|c| !SYNTHETIC.contains(c))
            .collect();
        let mut help = format!("looked in: {}", dirs.join(", "));
        if !cols.is_empty() {
            help = format!(
                "looked in the collections {} (collections_path: {}), then in: {}",
                cols.join(", "),
                self.searched_text(),
                dirs.join(", ")
            );
        }
        Error::invalid_help(loc, format!("role `{name}` not found"), help)
    }

    /// The error for `import_playbook: ns.col.name` that names nothing.
    pub fn playbook_not_found(&self, name: &str, loc: &Loc) -> Result<()> {
        let stem = name
            .strip_suffix(".yml")
            .or_else(|| name.strip_suffix(".yaml"))
            .unwrap_or(name);
        let Some((col, _)) = split_fqcr(stem) else {
            return Ok(());
        };
        Err(match self.collection(&col) {
            None => Error::invalid_help(
                loc,
                format!("playbook `{name}` not found: collection `{col}` is not installed"),
                format!(
                    "looked for ansible_collections/{} in: {}; install it with \
                     `ansible-galaxy collection install {col}`, or set collections_path \
                     (ANSIBLE_COLLECTIONS_PATH)",
                    col.replace('.', "/"),
                    self.searched_text()
                ),
            ),
            Some(dir) => Error::invalid_help(
                loc,
                format!("playbook `{name}` not found in collection `{col}`"),
                format!(
                    "looked in {} for it (also with .yml and .yaml)",
                    dir.join("playbooks").display()
                ),
            ),
        })
    }

    fn searched_text(&self) -> String {
        let v: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let v = if v.is_empty() {
            "(no path)".to_string()
        } else {
            v.join(", ")
        };
        match self.scan_sys_path {
            true => format!("{v}, then the ansible Python's sys.path"),
            false => v,
        }
    }
}

/// The role directory names of a collection, sorted.
fn list_roles(collection: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(collection.join("roles"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    if v.is_empty() {
        v.push("(none)".to_string());
    }
    v
}

/// A word of a collection reference: Python identifier characters (`\w+`).
fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `ns.col` → `(ns, col)` when both are identifiers.
fn split_collection(name: &str) -> Option<(&str, &str)> {
    let (ns, col) = name.split_once('.')?;
    let ident = |s: &str| is_word(s) && !s.starts_with(|c: char| c.is_ascii_digit());
    (ident(ns) && ident(col)).then_some((ns, col))
}

/// A fully qualified reference `ns.col.[sub.]resource` → (`ns.col`, `[sub.]resource`), as
/// Ansible's `AnsibleCollectionRef.try_parse_fqcr`.
pub fn split_fqcr(name: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 3 || !parts.iter().all(|p| is_word(p)) {
        return None;
    }
    let col = format!("{}.{}", parts[0], parts[1]);
    split_collection(&col)?;
    Some((col, parts[2..].join(".")))
}

/// The `collections:` keyword as Ansible keeps it (`playbook/collectionsearch.py`
/// `_ensure_default_collection`): the default collection (of a collection playbook) first,
/// and `ansible.legacy` appended to a non-empty list that names neither synthetic
/// collection.
pub fn search_list(written: &[String], default: Option<&str>) -> Vec<String> {
    let mut v = written.to_vec();
    if let Some(d) = default {
        if !v.iter().any(|c| c == d) {
            v.insert(0, d.to_string());
        }
    }
    if !v.is_empty() && !v.iter().any(|c| SYNTHETIC.contains(&c.as_str())) {
        v.push("ansible.legacy".to_string());
    }
    v
}

/// The search list of a role's tasks (`playbook/role/__init__.py` `_load_role_data`): the
/// role's own collection (or the default collection for a role outside collections),
/// then its `meta/main.yml` `collections:`, then `ansible.builtin` (collection role) or
/// `ansible.legacy`. Not the play's list: roles do not inherit it.
pub fn role_search_list(own: Option<&str>, meta: &[String], default: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = own.or(default).map(str::to_string).into_iter().collect();
    for c in search_list(meta, default) {
        if !v.contains(&c) {
            v.push(c);
        }
    }
    if !v.is_empty() && !v.iter().any(|c| SYNTHETIC.contains(&c.as_str())) {
        v.push(
            if own.is_some() {
                "ansible.builtin"
            } else {
                "ansible.legacy"
            }
            .to_string(),
        );
    }
    v
}

/// The search list for a role's `dependencies:` (`playbook/role/metadata.py`): the
/// owning role's collection first, then the default collection (of a collection
/// playbook), then `ansible.legacy`. The role's `meta/main.yml` `collections:` is not
/// consulted: Ansible reads the dependencies before it sets the role's list.
pub fn dependency_search_list(own: Option<&str>, default: Option<&str>) -> Vec<String> {
    let mut v: Vec<String> = default.map(str::to_string).into_iter().collect();
    if let Some(o) = own {
        v.retain(|c| c != o);
        v.insert(0, o.to_string());
    }
    v.push("ansible.legacy".to_string());
    v.dedup();
    v
}

/// Parse a `collections:` value: a list of collection names (a single string is a list
/// of one, as Ansible's `isa='list'` field). Empty means "not set".
pub fn parse_keyword(node: &crate::yaml::Node) -> Result<Option<Vec<String>>> {
    use crate::yaml::Kind;
    let v: Vec<String> = match &node.kind {
        Kind::Null => Vec::new(),
        Kind::Str(s) => vec![s.clone()],
        Kind::Seq(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    Error::invalid(&i.loc, "`collections` must be a list of collection names")
                })
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(Error::invalid(
                &node.loc,
                format!(
                    "`collections` must be a list of collection names, found {}",
                    node.type_name()
                ),
            ));
        }
    };
    Ok((!v.is_empty()).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdir(p: &Path) -> PathBuf {
        std::fs::create_dir_all(p).unwrap();
        p.to_path_buf()
    }

    /// Two roots holding the same collection: the playbook's `collections/` wins over the
    /// configured one, a root written as `…/ansible_collections` counts, a root without
    /// `ansible_collections/` is skipped (but still named in messages).
    #[test]
    fn first_root_wins_and_roots_are_normalised() {
        let t = tempfile::tempdir().unwrap();
        let pb = t.path().join("site.yml");
        let adj = mkdir(
            &t.path()
                .join("collections/ansible_collections/ns/col/roles/r"),
        );
        let conf = mkdir(&t.path().join("conf/ansible_collections/ns/col/roles/r"));
        mkdir(
            &t.path()
                .join("conf/ansible_collections/ns/other/roles/o/tasks"),
        );
        let empty = mkdir(&t.path().join("empty"));
        let configured = [empty.clone(), t.path().join("conf/ansible_collections")];
        let c = CollectionPaths::new(&[pb], Some(&configured));
        assert_eq!(c.searched().len(), 3);
        assert_eq!(c.roots.len(), 2, "{:?}", c.roots);
        assert_eq!(c.find_role("ns.col.r", &[]).unwrap().1, adj);
        let (col, p) = c
            .find_role("o", &["ns.col".into(), "ns.other".into()])
            .unwrap();
        assert_eq!(
            (col.as_str(), p),
            (
                "ns.other",
                t.path().join("conf/ansible_collections/ns/other/roles/o")
            )
        );
        assert!(conf.is_dir());
        // A short name with no list, an unknown collection, synthetic collections: nothing.
        assert!(c.find_role("r", &[]).is_none());
        assert!(c.find_role("no.such.r", &[]).is_none());
        assert!(c.find_role("r", &["ansible.legacy".into()]).is_none());
        assert_eq!(
            c.collection_of(&adj.join("tasks/main.yml")).as_deref(),
            Some("ns.col")
        );
        // The shadowed copy is not the collection Ansible would load.
        assert_eq!(c.collection_of(&conf), None);
    }

    #[test]
    fn playbooks_with_and_without_extension() {
        let t = tempfile::tempdir().unwrap();
        let pbs = mkdir(&t.path().join("c/ansible_collections/ns/col/playbooks/sub"));
        std::fs::write(pbs.join("../site.yml"), "[]").unwrap();
        std::fs::write(pbs.join("deep.yaml"), "[]").unwrap();
        let c = CollectionPaths::new(&[], Some(&[t.path().join("c")]));
        assert!(
            c.find_playbook("ns.col.site")
                .unwrap()
                .1
                .ends_with("site.yml")
        );
        assert!(c.find_playbook("ns.col.site.yml").is_some());
        assert!(c.find_playbook("ns.col.site.yaml").is_none());
        assert!(
            c.find_playbook("ns.col.sub.deep")
                .unwrap()
                .1
                .ends_with("sub/deep.yaml")
        );
        assert!(c.find_playbook("site.yml").is_none());
        let loc = Loc::file("site.yml");
        let e = c
            .playbook_not_found("no.pe.x", &loc)
            .unwrap_err()
            .to_string();
        assert!(e.contains("collection `no.pe` is not installed"), "{e}");
        assert!(c.playbook_not_found("other.yml", &loc).is_ok());
    }

    /// On the command line a collection's playbook is looked up in the configured paths
    /// only (not beside the other playbooks), and sets the default collection.
    #[test]
    fn command_line_playbooks() {
        let t = tempfile::tempdir().unwrap();
        let conf = mkdir(&t.path().join("conf/ansible_collections/ns/col/playbooks"));
        std::fs::write(conf.join("pb.yml"), "[]").unwrap();
        let adj = mkdir(
            &t.path()
                .join("collections/ansible_collections/ns/adj/playbooks"),
        );
        std::fs::write(adj.join("pb.yml"), "[]").unwrap();
        let site = t.path().join("site.yml");
        let configured = [t.path().join("conf")];
        let all = [site.clone(), "ns.col.pb".into()];
        let mut p = PathBuf::from("ns.col.pb");
        let (paths, default) = command_line(&mut p, &all, Some(&configured));
        assert_eq!(
            (p, default.as_deref()),
            (conf.join("pb.yml"), Some("ns.col"))
        );
        assert_eq!(paths.searched().len(), 2, "{:?}", paths.searched());
        // Only beside site.yml: not a collection's playbook on the command line.
        let mut p = PathBuf::from("ns.adj.pb");
        let with_adj = [site.clone(), p.clone()];
        let (_, default) = command_line(&mut p, &with_adj, Some(&configured));
        assert_eq!((p, default), (PathBuf::from("ns.adj.pb"), None));
        let mut p = site.clone();
        assert_eq!(command_line(&mut p, &all, Some(&configured)).1, None);
    }

    #[test]
    fn references_and_search_lists() {
        assert_eq!(split_fqcr("ns.col.r"), Some(("ns.col".into(), "r".into())));
        assert_eq!(
            split_fqcr("ns.col.sub.r"),
            Some(("ns.col".into(), "sub.r".into()))
        );
        assert_eq!(split_fqcr("ns.r"), None);
        assert_eq!(split_fqcr("ns.col.my-role"), None);
        assert_eq!(split_fqcr("1ns.col.r"), None);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            search_list(&s(&["a.b"]), None),
            s(&["a.b", "ansible.legacy"])
        );
        assert_eq!(
            search_list(&s(&["a.b", "ansible.builtin"]), None),
            s(&["a.b", "ansible.builtin"])
        );
        assert_eq!(search_list(&[], Some("d.c")), s(&["d.c", "ansible.legacy"]));
        assert!(search_list(&[], None).is_empty());
        assert_eq!(
            role_search_list(Some("o.c"), &[], None),
            s(&["o.c", "ansible.builtin"])
        );
        assert_eq!(
            role_search_list(Some("o.c"), &s(&["m.c"]), None),
            s(&["o.c", "m.c", "ansible.legacy"])
        );
        assert!(role_search_list(None, &[], None).is_empty());
        assert_eq!(
            role_search_list(None, &[], Some("d.c")),
            s(&["d.c", "ansible.legacy"])
        );
        assert_eq!(
            dependency_search_list(Some("o.c"), Some("d.c")),
            s(&["o.c", "d.c", "ansible.legacy"])
        );
        assert_eq!(dependency_search_list(None, None), s(&["ansible.legacy"]));
    }

    #[test]
    fn keyword_values() {
        let r = crate::yaml::Reader::default();
        let p = Path::new("k.yml");
        let one = r.parse("a.b", p).unwrap();
        assert_eq!(parse_keyword(&one).unwrap(), Some(vec!["a.b".to_string()]));
        let empty = r.parse("[]", p).unwrap();
        assert_eq!(parse_keyword(&empty).unwrap(), None);
        let bad = r.parse("{a: 1}", p).unwrap();
        assert!(parse_keyword(&bad).is_err());
    }
}
