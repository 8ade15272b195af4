//! Playbooks: plays, their roles and task lists, loaded and validated before any host is
//! touched.
//!
//! Why this module exists: this is the "parse → resolve" half of the pipeline for
//! playbooks. [`load_playbook`] reads a playbook and everything it imports statically
//! (`import_playbook`, `roles:`, `import_tasks`, `import_role`, role dependencies), checks
//! every keyword and every module's parameters, and returns [`Play`]s ready for the engine.
//! Dynamic includes stay as `task::TaskNode::Include` and are loaded per host at run time
//! through the same [`Loader`].

pub(crate) mod collections;
mod host_order;
pub(crate) mod numeric;
pub(crate) mod role;
mod splitter;
pub(crate) mod task;

pub use collections::CollectionPaths;
pub use host_order::HostOrder;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, Loc, Result};
use crate::modules::Registry;
use crate::yaml::{self, Kind, Node};

use role::{RoleInstance, RoleRef};
use task::{Inherit, Keywords, TaskContext, TaskNode};

/// A loaded playbook: its plays in order, imported playbooks flattened.
#[derive(Clone, Debug)]
pub struct Playbook {
    /// The playbook file.
    pub path: PathBuf,
    /// The plays.
    pub plays: Vec<Play>,
}

/// `serial:` — batch sizes, the last one repeating.
#[derive(Clone, Debug, PartialEq)]
pub enum Serial {
    /// A number of hosts.
    Count(usize),
    /// A percentage of the play's hosts.
    Percent(f64),
}

/// `strategy:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Each task on every host, then the next task.
    #[default]
    Linear,
    /// Each host runs ahead on its own.
    Free,
}

/// One play.
#[derive(Clone, Debug)]
pub struct Play {
    /// `name:` (or the host pattern when unnamed).
    pub name: String,
    /// Where the play starts.
    pub loc: Loc,
    /// The playbook's directory (`playbook_dir`).
    pub dir: PathBuf,
    /// `hosts:` pattern (may hold a template).
    pub hosts: String,
    /// `vars:`.
    pub vars: IndexMap<String, Value>,
    /// `vars_files:` as written (templated at run time); each entry may be a list of
    /// alternatives, the first existing one wins.
    pub vars_files: Vec<(Vec<String>, Loc)>,
    /// `gather_facts:` (default true).
    pub gather_facts: Value,
    /// `gather_subset:` for the play's fact gathering (empty: `all`); checked at load.
    pub gather_subset: Vec<String>,
    /// `gather_timeout:` for the play's fact gathering, as written.
    pub gather_timeout: Option<Value>,
    /// `fact_path:` for the play's fact gathering (local facts), as written.
    pub fact_path: Option<Value>,
    /// Keywords inherited by every task of the play (not `vars`).
    pub(crate) kw: Keywords,
    /// `serial:`.
    pub serial: Vec<Serial>,
    /// `strategy:`.
    pub strategy: Strategy,
    /// `order:`.
    pub order: HostOrder,
    /// `max_fail_percentage:`.
    pub max_fail_percentage: Option<f64>,
    /// `force_handlers:`.
    pub force_handlers: bool,
    /// `pre_tasks:`.
    pub(crate) pre_tasks: Vec<TaskNode>,
    /// `roles:` followed by `tasks:`.
    pub(crate) tasks: Vec<TaskNode>,
    /// `post_tasks:`.
    pub(crate) post_tasks: Vec<TaskNode>,
    /// `handlers:`, roles' handlers first.
    pub(crate) handlers: Vec<TaskNode>,
    /// Roles used by the play, in load order (their defaults and vars are play-wide).
    pub(crate) roles: Vec<Arc<RoleInstance>>,
}

/// Reads playbooks, task files and roles. Holds what it needs to resolve names: the module
/// registry and the role search path. Cheap to share; task files are cached.
pub struct Loader {
    registry: Arc<Registry>,
    roles_path: Vec<PathBuf>,
    cache: std::sync::Mutex<HashMap<PathBuf, Node>>,
    /// Every file read, in order (for the run journal's change check).
    files: std::sync::Mutex<indexmap::IndexSet<PathBuf>>,
    yaml: yaml::Reader,
    /// `-e` variables: with a play's vars, what static names (`import_role: name:`,
    /// `import_tasks:`, `strategy:`) may use.
    extra_vars: IndexMap<String, Value>,
    /// Where collections are (set by [`Loader::with_collections`], else the default paths
    /// and the first playbook's `collections/` directory).
    collections: std::sync::OnceLock<CollectionPaths>,
    /// The default collection: set once a collection's playbook is imported, and from
    /// then on put first in every search list (Ansible's process-wide
    /// `AnsibleCollectionConfig.default_collection`, never reset either).
    default_collection: std::sync::Mutex<Option<String>>,
}

impl Loader {
    /// A loader that checks modules against `registry` and finds roles in `roles_path`
    /// (searched after `<playbook dir>/roles`, and `<playbook dir>/../roles`).
    pub fn new(registry: Arc<Registry>, roles_path: Vec<PathBuf>) -> Self {
        Loader {
            registry,
            roles_path,
            cache: std::sync::Mutex::new(HashMap::new()),
            files: std::sync::Mutex::new(indexmap::IndexSet::new()),
            yaml: yaml::Reader::default(),
            extra_vars: IndexMap::new(),
            collections: std::sync::OnceLock::new(),
            default_collection: std::sync::Mutex::new(None),
        }
    }

    /// The same loader finding collections in `paths`.
    pub fn with_collections(self, paths: CollectionPaths) -> Self {
        let _ = self.collections.set(paths);
        self
    }

    /// The same loader with `collection` as the default collection (a collection's
    /// playbook given on the command line).
    pub(crate) fn with_default_collection(self, collection: Option<String>) -> Self {
        if let Ok(mut d) = self.default_collection.lock() {
            *d = collection;
        }
        self
    }

    /// Where collections are looked for.
    pub(crate) fn collections(&self) -> &CollectionPaths {
        self.collections
            .get_or_init(|| CollectionPaths::new(&[], None))
    }

    fn default_collection(&self) -> Option<String> {
        self.default_collection.lock().ok().and_then(|d| d.clone())
    }

    /// The same loader knowing the run's `-e` variables, for names templated at load time.
    pub fn with_extra_vars(mut self, extra_vars: IndexMap<String, Value>) -> Self {
        self.extra_vars = extra_vars;
        self
    }

    /// Every file read so far: playbooks, task files, roles' files (the run journal
    /// records their digests to notice a changed playbook on `--resume`).
    pub(crate) fn loaded_files(&self) -> Vec<PathBuf> {
        self.files
            .lock()
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn note_file(&self, path: &Path) {
        if let Ok(mut f) = self.files.lock() {
            f.insert(path.to_path_buf());
        }
    }

    /// The same loader reading YAML with `yaml` (its duplicate-key policy and warnings).
    pub(crate) fn with_yaml(mut self, yaml: yaml::Reader) -> Self {
        self.yaml = yaml;
        self
    }

    /// Whether the role at `path` says `allow_duplicates: true` in its meta (an unreadable
    /// meta file, which failed the role's load already, counts as no).
    pub(crate) fn allows_duplicates(&self, path: &Path) -> bool {
        role::allows_duplicates(path, &self.yaml).unwrap_or(false)
    }

    /// The module registry.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The reader of playbooks, task files, roles and vars files: it holds their warnings
    /// until they are taken.
    pub(crate) fn yaml(&self) -> &yaml::Reader {
        &self.yaml
    }

    fn load_yaml(&self, path: &Path) -> Result<Node> {
        if let Some(n) = self.cache.lock().ok().and_then(|c| c.get(path).cloned()) {
            return Ok(n);
        }
        let n = self.yaml.load(path)?;
        self.note_file(path);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(path.to_path_buf(), n.clone());
        }
        Ok(n)
    }

    fn role_search(&self, play_dir: &Path) -> Vec<PathBuf> {
        let mut v = vec![play_dir.join("roles")];
        if let Some(parent) = play_dir.parent() {
            v.push(parent.join("roles"));
        }
        v.extend(self.roles_path.iter().cloned());
        v.push(PathBuf::from("roles"));
        v
    }

    /// Load a task file for a dynamic `include_tasks` at run time.
    pub(crate) fn include_tasks(
        &self,
        file: &Path,
        play_dir: &Path,
        inherit: &Inherit,
        loc: &Loc,
    ) -> Result<Vec<TaskNode>> {
        if !file.is_file() {
            return Err(Error::invalid(
                loc,
                format!("task file {} not found", file.display()),
            ));
        }
        let node = self.load_yaml(file)?;
        let cx = PlayLoad::new(self, play_dir);
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        task::parse_task_list(&node, &base, inherit, &cx, false)
    }

    /// Load a role for a dynamic `include_role` at run time: its tasks and handlers.
    pub(crate) fn include_role(
        &self,
        args: &Map<String, Value>,
        play_dir: &Path,
        inherit: &Inherit,
        loc: &Loc,
    ) -> Result<IncludedRole> {
        let cx = PlayLoad::new(self, play_dir);
        let tasks = cx.import_role(args, loc, inherit)?;
        let st = cx.state.into_inner();
        Ok((tasks, st.handlers, st.roles))
    }
}

/// Keys a play accepts besides the inherited task keywords (for "did you mean").
const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "gather_facts",
    "serial",
    "strategy",
    "max_fail_percentage",
    "force_handlers",
    "pre_tasks",
    "roles",
    "tasks",
    "post_tasks",
    "handlers",
    "become",
    "become_user",
    "environment",
    "tags",
    "any_errors_fatal",
    "ignore_errors",
];

/// What `include_role` brings in: its tasks, its handlers, and the role instances loaded.
pub(crate) type IncludedRole = (Vec<TaskNode>, Vec<TaskNode>, Vec<Arc<RoleInstance>>);

/// Load a playbook file and everything it imports statically.
pub fn load_playbook(path: &Path, loader: &Loader) -> Result<Playbook> {
    load_playbook_inner(path, loader)
}

/// Load a playbook from text. `path` names it in diagnostics and anchors relative paths
/// (roles, task files, `vars_files`): it need not exist.
pub fn load_playbook_str(text: &str, path: &Path, loader: &Loader) -> Result<Playbook> {
    let node = loader.yaml.parse(text, path)?;
    if let Ok(mut c) = loader.cache.lock() {
        c.insert(path.to_path_buf(), node);
    }
    load_playbook_inner(path, loader)
}

fn load_playbook_inner(path: &Path, loader: &Loader) -> Result<Playbook> {
    loader
        .collections
        .get_or_init(|| CollectionPaths::new(&[path.to_path_buf()], None));
    let mut plays = Vec::new();
    load_into(path, loader, &mut plays, &mut Vec::new())?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

fn load_into(
    path: &Path,
    loader: &Loader,
    plays: &mut Vec<Play>,
    chain: &mut Vec<PathBuf>,
) -> Result<()> {
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if chain.contains(&canon) {
        return Err(Error::invalid(
            &Loc::file(path),
            "import_playbook cycle: this playbook imports itself",
        ));
    }
    let node = loader.load_yaml(path)?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let items = match &node.kind {
        Kind::Seq(items) => items,
        Kind::Null => return Err(Error::invalid(&node.loc, "the playbook is empty")),
        _ => {
            return Err(Error::invalid_help(
                &node.loc,
                format!(
                    "a playbook must be a list of plays, found {}",
                    node.type_name()
                ),
                "start each play with `- hosts: …`",
            ));
        }
    };
    chain.push(canon);
    for item in items {
        let entries = item.expect_map("a play")?;
        if let Some((_, target)) = entries
            .iter()
            .find(|(k, _)| k == "import_playbook" || k == "ansible.builtin.import_playbook")
        {
            let file = target.expect_str("import_playbook")?;
            let p = import_playbook_path(file, &dir, &target.loc, loader)?;
            load_into(&p, loader, plays, chain)?;
            continue;
        }
        plays.push(parse_play(item, &entries, &dir, loader)?);
    }
    chain.pop();
    Ok(())
}

/// The file `import_playbook: <file>` names: a collection's playbook (`ns.col.name`,
/// Ansible's `_get_collection_playbook_path`) first, else a path relative to the importing
/// playbook. A collection's playbook makes its collection the default one.
fn import_playbook_path(file: &str, dir: &Path, loc: &Loc, loader: &Loader) -> Result<PathBuf> {
    let colls = loader.collections();
    let (p, collection) = match colls.find_playbook(file) {
        Some((c, p)) => (p, Some(c)),
        None => {
            let p = dir.join(file);
            if !p.is_file() {
                colls.playbook_not_found(file, loc)?;
                return Err(Error::invalid(
                    loc,
                    format!("playbook {} not found", p.display()),
                ));
            }
            let c = colls.collection_of(&p);
            (p, c)
        }
    };
    if let (Some(c), Ok(mut d)) = (collection, loader.default_collection.lock()) {
        *d = Some(c);
    }
    Ok(p)
}

fn parse_play(
    node: &Node,
    entries: &[(String, &Node)],
    dir: &Path,
    loader: &Loader,
) -> Result<Play> {
    let mut kw_entries: Vec<(String, &Node)> = Vec::new();
    let mut name = None;
    let mut hosts = None;
    let mut vars = IndexMap::new();
    let mut vars_files = Vec::new();
    let mut gather_facts = Value::Bool(true);
    let mut gather_subset = Vec::new();
    let mut gather_timeout = None;
    let mut fact_path = None;
    let mut serial = Vec::new();
    let mut strategy = Strategy::Linear;
    let mut strategy_expr: Option<(String, Loc)> = None;
    let mut serial_expr: Option<&Node> = None;
    let mut order = HostOrder::default();
    let mut hosts_name = None;
    let mut max_fail_percentage = None;
    let mut force_handlers = false;
    let mut sections: HashMap<&str, &Node> = HashMap::new();
    for (k, v) in entries {
        match k.as_str() {
            "name" => name = Some(v.key_str().unwrap_or_default()),
            "hosts" => {
                hosts = Some(match &v.kind {
                    Kind::Str(s) => s.clone(),
                    Kind::Seq(items) => {
                        let list = items
                            .iter()
                            .map(|i| i.expect_str("hosts").map(str::to_string))
                            .collect::<Result<Vec<_>>>()?;
                        // An unnamed play is called by its hosts joined with commas
                        // (Ansible's `Play.get_name`).
                        hosts_name = Some(list.join(","));
                        list.join(":")
                    }
                    _ => {
                        return Err(Error::invalid(
                            &v.loc,
                            "`hosts` must be a pattern string or a list of them",
                        ));
                    }
                })
            }
            "vars" => {
                if !v.is_null() {
                    for (vk, vv) in v.expect_map("play vars")? {
                        task::check_var_name(&vk, &vv.loc)?;
                        vars.insert(vk, vv.to_value());
                    }
                    let locs: IndexMap<String, Loc> = v
                        .as_map()
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, _)| Some((k.key_str()?, k.loc.clone())))
                        .collect();
                    task::check_var_cycles(&vars, |k| {
                        locs.get(k).cloned().unwrap_or_else(|| v.loc.clone())
                    })?;
                }
            }
            "vars_files" => {
                let items = v
                    .as_seq()
                    .ok_or_else(|| Error::invalid(&v.loc, "`vars_files` must be a list"))?;
                for it in items {
                    let alts = match &it.kind {
                        Kind::Str(s) => vec![s.clone()],
                        Kind::Seq(a) => a
                            .iter()
                            .map(|x| x.expect_str("vars_files entry").map(str::to_string))
                            .collect::<Result<_>>()?,
                        _ => {
                            return Err(Error::invalid(
                                &it.loc,
                                "a vars_files entry must be a file name",
                            ));
                        }
                    };
                    vars_files.push((alts, it.loc.clone()));
                }
            }
            "vars_prompt" => {
                return Err(Error::invalid_help(
                    &v.loc,
                    "`vars_prompt` is not supported (windlass never prompts)",
                    "pass the value with -e name=value",
                ));
            }
            "gather_facts" => gather_facts = bool_value(v, "gather_facts")?,
            "serial" if serial_is_templated(v) => serial_expr = Some(*v),
            "serial" => serial = parse_serial(v)?,
            "strategy" => match v.as_str() {
                Some(s) if task::is_templated(s) => {
                    strategy_expr = Some((s.to_string(), v.loc.clone()))
                }
                _ => strategy = parse_strategy(&v.key_str().unwrap_or_default(), &v.loc)?,
            },
            "max_fail_percentage" => {
                max_fail_percentage =
                    Some(numeric::percent(&v.to_value()).map_err(|e| Error::invalid(&v.loc, e))?)
            }
            "force_handlers" => {
                force_handlers = matches!(bool_value(v, "force_handlers")?, Value::Bool(true))
            }
            "pre_tasks" | "roles" | "tasks" | "post_tasks" | "handlers" => {
                sections.insert(
                    if k == "pre_tasks" {
                        "pre_tasks"
                    } else if k == "roles" {
                        "roles"
                    } else if k == "tasks" {
                        "tasks"
                    } else if k == "post_tasks" {
                        "post_tasks"
                    } else {
                        "handlers"
                    },
                    v,
                );
            }
            "gather_subset" => {
                gather_subset = match &v.kind {
                    Kind::Str(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
                    Kind::Seq(items) => items
                        .iter()
                        .map(|i| i.expect_str("gather_subset").map(str::to_string))
                        .collect::<Result<Vec<_>>>()?,
                    _ => {
                        return Err(Error::invalid(
                            &v.loc,
                            "`gather_subset` must be a list of subset names",
                        ));
                    }
                };
                crate::modules::setup::resolve_subsets(&gather_subset)
                    .map_err(|e| Error::invalid(&v.loc, e))?;
            }
            "gather_timeout" => {
                gather_timeout = Some(numeric::check_literal(v, numeric::Numeric::GatherTimeout)?)
            }
            "order" => order = HostOrder::parse(v)?,
            "fact_path" => fact_path = Some(v.to_value()),
            other if task::is_inherited_keyword(other) && other != "vars" => {
                kw_entries.push((other.to_string(), *v))
            }
            other => {
                let key_loc = node
                    .as_map()
                    .and_then(|m| {
                        m.iter()
                            .find(|(kn, _)| kn.key_str().as_deref() == Some(other))
                    })
                    .map(|(kn, _)| kn.loc.clone())
                    .unwrap_or_else(|| v.loc.clone());
                let hint = match crate::modules::closest(other, PLAY_KEYWORDS.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "see the book's Playbooks page for the play keywords".to_string(),
                };
                return Err(Error::parser(
                    &key_loc,
                    format!("`{other}` is not a valid play keyword"),
                    Some(hint),
                ));
            }
        }
    }
    let hosts = hosts.ok_or_else(|| {
        Error::invalid_help(
            &node.loc,
            "this play has no `hosts:`",
            "every play needs `hosts:` (a host pattern such as `all`)",
        )
    })?;
    let mut kw = task::parse_keywords(&kw_entries, "play")?;
    if let Some(d) = loader.default_collection() {
        let written = kw.collections.take().unwrap_or_default();
        kw.collections = Some(collections::search_list(&written, Some(&d)));
    }
    let mut cx = PlayLoad::new(loader, dir);
    cx.static_vars = vars.clone();
    cx.static_vars.extend(
        loader
            .extra_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    if let Some((expr, loc)) = &strategy_expr {
        strategy = parse_strategy(&cx.static_template(expr, loc)?, loc)?;
    }
    if let Some(v) = serial_expr {
        serial = render_serial(v, &cx)?;
    }
    let inherit = Inherit {
        kw,
        ..Inherit::default()
    };
    let pre_tasks = match sections.get("pre_tasks") {
        Some(n) => task::parse_task_list(n, dir, &inherit, &cx, false)?,
        None => Vec::new(),
    };
    let mut tasks = Vec::new();
    if let Some(roles) = sections.get("roles") {
        if !roles.is_null() {
            let items = roles
                .as_seq()
                .ok_or_else(|| Error::invalid(&roles.loc, "`roles` must be a list"))?;
            let list = inherit.kw.collections.clone().unwrap_or_default();
            for item in items {
                let r = RoleRef::parse(item)?;
                tasks.extend(cx.load_role(
                    &r,
                    (&list, None),
                    &inherit,
                    &RoleFiles::main(),
                    &r.loc,
                )?);
            }
        }
    }
    if let Some(n) = sections.get("tasks") {
        tasks.extend(task::parse_task_list(n, dir, &inherit, &cx, false)?);
    }
    let post_tasks = match sections.get("post_tasks") {
        Some(n) => task::parse_task_list(n, dir, &inherit, &cx, false)?,
        None => Vec::new(),
    };
    let mut handlers = std::mem::take(&mut cx.state.borrow_mut().handlers);
    if let Some(n) = sections.get("handlers") {
        handlers.extend(task::parse_task_list(n, dir, &inherit, &cx, true)?);
    }
    let roles = std::mem::take(&mut cx.state.borrow_mut().roles);
    check_notify(&[&pre_tasks, &tasks, &post_tasks, &handlers], &handlers)?;
    Ok(Play {
        name: name.or(hosts_name).unwrap_or_else(|| hosts.clone()),
        loc: node.loc.clone(),
        dir: dir.to_path_buf(),
        hosts,
        vars,
        vars_files,
        gather_facts,
        gather_subset,
        gather_timeout,
        fact_path,
        kw: inherit.kw,
        serial,
        strategy,
        order,
        max_fail_percentage,
        force_handlers,
        pre_tasks,
        tasks,
        post_tasks,
        handlers,
        roles,
    })
}

/// Every `notify` must name a handler of the play (by name, `role : name`, or a `listen`
/// topic) — unless the play includes roles or task files dynamically, which may bring
/// handlers only known at run time.
fn check_notify(sections: &[&Vec<TaskNode>], handlers: &[TaskNode]) -> Result<()> {
    fn walk<'a>(nodes: &'a [TaskNode], out: &mut Vec<&'a task::Task>, dynamic: &mut bool) {
        for n in nodes {
            match n {
                TaskNode::Task(t) => out.push(t),
                TaskNode::Block(b) => {
                    walk(&b.block, out, dynamic);
                    walk(&b.rescue, out, dynamic);
                    walk(&b.always, out, dynamic);
                }
                TaskNode::Include(_) => *dynamic = true,
            }
        }
    }
    let mut tasks = Vec::new();
    let mut dynamic = false;
    for s in sections {
        walk(s, &mut tasks, &mut dynamic);
    }
    if dynamic {
        return Ok(());
    }
    let mut known: Vec<String> = Vec::new();
    // Handlers that are includes count by their own name and topics too.
    fn handler_tasks<'a>(nodes: &'a [TaskNode], out: &mut Vec<&'a task::Task>) {
        for n in nodes {
            match n {
                TaskNode::Task(t) => out.push(t),
                TaskNode::Include(i) => out.push(&i.task),
                TaskNode::Block(b) => handler_tasks(&b.block, out),
            }
        }
    }
    let mut hs = Vec::new();
    handler_tasks(handlers, &mut hs);
    // A templated handler name is known at run time only.
    if hs
        .iter()
        .any(|h| h.name.as_deref().is_some_and(task::is_templated))
    {
        return Ok(());
    }
    for h in hs {
        if let Some(n) = &h.name {
            known.push(n.clone());
            if let Some(r) = &h.role {
                known.push(format!("{} : {n}", r.name));
                if r.collection.is_some() {
                    known.push(format!("{} : {n}", r.fqcn()));
                }
            }
        }
        known.extend(h.listen.iter().cloned());
    }
    for t in tasks {
        for n in &t.notify {
            // A templated notification is known at run time only.
            if !task::is_templated(n) && !known.iter().any(|k| k == n) {
                let hint = match crate::modules::closest(n, known.iter().map(String::as_str)) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None if known.is_empty() => "this play has no handlers".to_string(),
                    None => format!("handlers of this play: {}", known.join(", ")),
                };
                return Err(Error::invalid_help(
                    &t.loc,
                    format!("`notify` names a handler that does not exist: `{n}`"),
                    hint,
                ));
            }
        }
    }
    Ok(())
}

fn parse_strategy(name: &str, loc: &Loc) -> Result<Strategy> {
    match name {
        "linear" => Ok(Strategy::Linear),
        "free" => Ok(Strategy::Free),
        _ => Err(Error::invalid_help(
            loc,
            format!("unknown strategy `{name}`"),
            "use linear or free",
        )),
    }
}

fn bool_value(v: &Node, what: &str) -> Result<Value> {
    match &v.kind {
        Kind::Bool(b) => Ok(Value::Bool(*b)),
        Kind::Str(s) if task::is_templated(s) => Ok(Value::String(s.clone())),
        Kind::Str(s) => crate::boolean::parse_bool(s)
            .map(Value::Bool)
            .ok_or_else(|| {
                Error::invalid(&v.loc, format!("`{what}` must be a boolean, found {s:?}"))
            }),
        _ => Err(Error::invalid(
            &v.loc,
            format!("`{what}` must be a boolean, found {}", v.type_name()),
        )),
    }
}

fn parse_serial(v: &Node) -> Result<Vec<Serial>> {
    match &v.kind {
        Kind::Seq(items) => items
            .iter()
            .map(|n| serial_one(&n.to_value(), &n.loc))
            .collect(),
        _ => serial_list(&v.to_value(), &v.loc),
    }
}

/// `serial:` as a value (a templated one once rendered): a list of sizes, or one size; `0`
/// means no batching.
fn serial_list(v: &Value, loc: &Loc) -> Result<Vec<Serial>> {
    match v {
        Value::Array(items) => items.iter().map(|i| serial_one(i, loc)).collect(),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(Vec::new()),
        _ => Ok(vec![serial_one(v, loc)?]),
    }
}

/// One `serial` size: a positive count, or a percentage of the play's hosts.
fn serial_one(v: &Value, loc: &Loc) -> Result<Serial> {
    match v {
        Value::Number(n) if n.as_u64().is_some_and(|i| i > 0) => {
            Ok(Serial::Count(n.as_u64().unwrap_or(1) as usize))
        }
        Value::String(s) if s.ends_with('%') => s[..s.len() - 1]
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p > 0.0)
            .map(Serial::Percent)
            .ok_or_else(|| Error::invalid(loc, format!("bad serial percentage {s:?}"))),
        Value::String(s) => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|c| *c > 0)
            .map(Serial::Count)
            .ok_or_else(|| Error::invalid(loc, format!("bad serial value {s:?}"))),
        _ => Err(Error::invalid(
            loc,
            "`serial` must be a positive number, a percentage, or a list of them",
        )),
    }
}

/// Whether `serial:` (a string or a list of them) holds a template, to render once the
/// play's vars and `-e` variables are known.
fn serial_is_templated(v: &Node) -> bool {
    match &v.kind {
        Kind::Str(s) => task::is_templated(s),
        Kind::Seq(items) => items.iter().any(serial_is_templated),
        _ => false,
    }
}

/// A templated `serial:` rendered with the play's vars and `-e` variables, as
/// ansible-core's `Play.post_validate` does before `_get_serialized_batches`.
fn render_serial(v: &Node, cx: &PlayLoad) -> Result<Vec<Serial>> {
    let render = |n: &Node| -> Result<Value> {
        match &n.kind {
            Kind::Str(s) => cx.static_value(s, &n.loc, "serial"),
            _ => Ok(n.to_value()),
        }
    };
    match &v.kind {
        Kind::Seq(items) => items
            .iter()
            .map(|n| serial_one(&render(n)?, &n.loc))
            .collect(),
        _ => serial_list(&render(v)?, &v.loc),
    }
}

/// What a play's load collects besides tasks.
#[derive(Default)]
struct PlayState {
    handlers: Vec<TaskNode>,
    roles: Vec<Arc<RoleInstance>>,
    /// Roles already loaded in this play, by (path, params) — a role runs once per play.
    seen: Vec<(PathBuf, IndexMap<String, Value>)>,
}

/// Which files of a role one use of it loads: `main`, or what `tasks_from`, `vars_from`,
/// `defaults_from` and `handlers_from` of `import_role`/`include_role` name.
struct RoleFiles {
    tasks: String,
    vars: String,
    defaults: String,
    handlers: String,
}

impl RoleFiles {
    fn main() -> Self {
        RoleFiles {
            tasks: "main".into(),
            vars: "main".into(),
            defaults: "main".into(),
            handlers: "main".into(),
        }
    }
}

/// The loading of one play (or one dynamic include): resolves imports and roles.
struct PlayLoad<'a> {
    loader: &'a Loader,
    dir: PathBuf,
    state: RefCell<PlayState>,
    /// The play's vars and the `-e` variables: what names templated at load time see
    /// (Ansible templates `import_role`/`import_tasks` names with the play's variables,
    /// `lib/ansible/playbook/helpers.py`).
    static_vars: IndexMap<String, Value>,
}

impl<'a> PlayLoad<'a> {
    fn new(loader: &'a Loader, dir: &Path) -> Self {
        PlayLoad {
            loader,
            dir: dir.to_path_buf(),
            state: RefCell::new(PlayState::default()),
            static_vars: loader.extra_vars.clone(),
        }
    }

    /// A play keyword templated when the play loads (`serial:`), with the play's vars and
    /// the `-e` variables, as ansible-core's `Play.post_validate` does; a failure is the
    /// keyword's located error ("Error processing keyword 'serial': …").
    fn static_value(&self, text: &str, loc: &Loc, keyword: &str) -> Result<Value> {
        let vars: Arc<dyn crate::template::Vars> =
            Arc::new(crate::template::MapVars::new(Value::Object(
                self.static_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )));
        crate::template::Templar::new()
            .render_str(text, &vars, Some(loc))
            .map_err(|e| {
                Error::parser(
                    loc,
                    format!("Error processing keyword '{keyword}': {}", e.message),
                    None,
                )
            })
    }

    /// Find a role: in the collections first (an FQCN, or a short name in each of
    /// `list`), then in the role paths, as Ansible's `RoleDefinition._load_role_path`;
    /// a dependency also in `basedir`, the directory holding the role that depends on it
    /// (Ansible's `role_basedir`, searched after the configured roles path).
    fn find_role(
        &self,
        name: &str,
        list: &[String],
        basedir: Option<&Path>,
        loc: &Loc,
    ) -> Result<(PathBuf, Option<String>)> {
        let colls = self.loader.collections();
        if let Some((c, p)) = colls.find_role(name, list) {
            return Ok((p, Some(c)));
        }
        let mut search = self.loader.role_search(&self.dir);
        if let Some(b) = basedir {
            search.insert(search.len().saturating_sub(1), b.to_path_buf());
        }
        match role::find_role(name, &search, loc) {
            Ok(p) => Ok((p, None)),
            Err(e) => {
                let named_collections = collections::split_fqcr(name).is_some()
                    || list
                        .iter()
                        .any(|c| c != "ansible.legacy" && c != "ansible.builtin");
                if named_collections {
                    Err(colls.role_not_found(name, list, &search, loc))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Load one use of a role; `list` is the collection search list its name resolves
    /// through, `basedir` the depending role's directory for a dependency.
    fn load_role(
        &self,
        r: &RoleRef,
        (list, basedir): (&[String], Option<&Path>),
        inherit: &Inherit,
        from: &RoleFiles,
        loc: &Loc,
    ) -> Result<Vec<TaskNode>> {
        let tasks_from = from.tasks.as_str();
        let (path, collection) = self.find_role(&r.name, list, basedir, loc)?;
        let default = self.loader.default_collection();
        let canon = path.canonicalize().unwrap_or_else(|_| path.clone());
        if inherit.chain.contains(&canon) {
            return Err(Error::invalid(
                loc,
                format!("role dependency cycle through `{}`", r.name),
            ));
        }
        // Keywords on the role entry apply to all its tasks.
        let mut kw = inherit.kw.clone();
        if !r.keywords.is_empty() {
            let entries: Vec<(String, &Node)> =
                r.keywords.iter().map(|(k, v)| (k.clone(), v)).collect();
            let own = task::parse_keywords(&entries, "role entry")?;
            kw = task::merge_keywords(&inherit.kw, &own);
        }
        for (sub, name) in [
            ("defaults", from.defaults.as_str()),
            ("vars", from.vars.as_str()),
            ("meta", "main"),
        ] {
            for f in role::role_vars_files(&path, sub, name) {
                self.loader.note_file(&f);
            }
        }
        let mut out = Vec::new();
        let mut chain = inherit.chain.clone();
        chain.push(canon.clone());
        let dep_list =
            collections::dependency_search_list(collection.as_deref(), default.as_deref());
        for dep in role::role_dependencies(&path, &self.loader.yaml)? {
            let dep_inherit = Inherit {
                kw: kw.clone(),
                role: None,
                include_params: IndexMap::new(),
                chain: chain.clone(),
                include_depth: inherit.include_depth,
            };
            out.extend(self.load_role(
                &dep,
                (&dep_list, path.parent()),
                &dep_inherit,
                &RoleFiles::main(),
                &dep.loc,
            )?);
        }
        // A role's tasks see the role's own search list, never the play's.
        let meta = role::role_meta_collections(&path, &self.loader.yaml)?;
        kw.collections = Some(collections::role_search_list(
            collection.as_deref(),
            &meta,
            default.as_deref(),
        ));
        if tasks_from == "main"
            && !role::allows_duplicates(&path, &self.loader.yaml)?
            && self
                .state
                .borrow()
                .seen
                .iter()
                .any(|(p, params)| *p == canon && *params == r.params)
        {
            return Ok(out); // a role runs once per play with the same parameters
        }
        // A role named by a relative path keeps that name, as Ansible names a role found
        // in its search paths; an absolute path is named by its last part.
        let by_relative_path =
            collection.is_none() && r.name.contains('/') && Path::new(&r.name).is_relative();
        let name = match path.file_name() {
            Some(f) if !by_relative_path => f.to_string_lossy().into_owned(),
            _ => r.name.clone(),
        };
        let inst = Arc::new(RoleInstance {
            name,
            path: path.clone(),
            defaults: role::role_vars(&path, "defaults", &from.defaults, &self.loader.yaml)?,
            vars: role::role_vars(&path, "vars", &from.vars, &self.loader.yaml)?,
            params: r.params.clone(),
            collection,
        });
        self.state.borrow_mut().seen.push((canon, r.params.clone()));
        self.state.borrow_mut().roles.push(inst.clone());
        let child = Inherit {
            kw,
            role: Some(inst.clone()),
            include_params: inherit.include_params.clone(),
            chain,
            include_depth: inherit.include_depth,
        };
        let tasks_dir = path.join("tasks");
        if let Some(f) = role::role_file(&path, "tasks", tasks_from) {
            let node = self.loader.load_yaml(&f)?;
            out.extend(task::parse_task_list(
                &node, &tasks_dir, &child, self, false,
            )?);
        } else if tasks_from != "main" {
            return Err(Error::invalid(
                loc,
                format!("role `{}` has no tasks/{tasks_from}.yml", r.name),
            ));
        }
        if let Some(f) = role::role_file(&path, "handlers", &from.handlers) {
            let node = self.loader.load_yaml(&f)?;
            let handler_inherit = Inherit {
                kw: Keywords {
                    collections: child.kw.collections.clone(),
                    ..Keywords::default()
                },
                ..child.clone()
            };
            let hs =
                task::parse_task_list(&node, &path.join("handlers"), &handler_inherit, self, true)?;
            self.state.borrow_mut().handlers.extend(hs);
        }
        Ok(out)
    }
}

impl TaskContext for PlayLoad<'_> {
    fn import_tasks(
        &self,
        file: &str,
        base: &Path,
        loc: &Loc,
        inherit: &Inherit,
    ) -> Result<Vec<TaskNode>> {
        let file = &self.static_template(file, loc)?;
        let candidates = [base.join(file), self.dir.join(file)];
        let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
            Error::invalid(
                loc,
                format!(
                    "task file `{file}` not found (looked in {} and {})",
                    base.display(),
                    self.dir.display()
                ),
            )
        })?;
        let canon = path.canonicalize().unwrap_or_else(|_| path.clone());
        if inherit.chain.contains(&canon) {
            return Err(Error::invalid(
                loc,
                format!("import_tasks cycle through `{file}`"),
            ));
        }
        let mut child = inherit.clone();
        child.chain.push(canon);
        let node = self.loader.load_yaml(path)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        task::parse_task_list(&node, &dir, &child, self, false)
    }

    fn import_role(
        &self,
        args: &Map<String, Value>,
        loc: &Loc,
        inherit: &Inherit,
    ) -> Result<Vec<TaskNode>> {
        let name = match args.get("name") {
            Some(Value::String(s)) => self.static_template(s, loc)?,
            _ => return Err(Error::invalid(loc, "import_role needs `name`")),
        };
        let mut from = RoleFiles::main();
        for (key, slot) in [
            ("tasks_from", &mut from.tasks),
            ("vars_from", &mut from.vars),
            ("defaults_from", &mut from.defaults),
            ("handlers_from", &mut from.handlers),
        ] {
            match args.get(key) {
                Some(Value::String(s)) => *slot = s.clone(),
                None => {}
                _ => return Err(Error::invalid(loc, format!("`{key}` must be a file name"))),
            }
        }
        for k in args.keys() {
            if ![
                "name",
                "tasks_from",
                "vars_from",
                "defaults_from",
                "handlers_from",
                "allow_duplicates",
                "public",
                "apply",
                "rolespec_validate",
            ]
            .contains(&k.as_str())
            {
                return Err(Error::invalid(
                    loc,
                    format!("`{k}` is not a parameter of import_role/include_role"),
                ));
            }
        }
        let r = RoleRef {
            name,
            params: inherit.include_params.clone(),
            keywords: Vec::new(),
            loc: loc.clone(),
        };
        let list = inherit.kw.collections.clone().unwrap_or_default();
        self.load_role(&r, (&list, None), inherit, &from, loc)
    }

    fn check_module(
        &self,
        action: &str,
        args: &Map<String, Value>,
        collections: &[String],
        loc: &Loc,
        args_loc: &Loc,
    ) -> Result<()> {
        self.loader
            .registry
            .check_in(action, args, collections, loc, args_loc)
    }

    fn static_template(&self, text: &str, loc: &Loc) -> Result<String> {
        if !task::is_templated(text) {
            return Ok(text.to_string());
        }
        let vars: Arc<dyn crate::template::Vars> =
            Arc::new(crate::template::MapVars::new(Value::Object(
                self.static_vars
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )));
        match crate::template::Templar::new().render_str(text, &vars, Some(loc)) {
            Ok(Value::String(s)) => Ok(s),
            Ok(other) => Ok(other.to_string()),
            Err(e) => Err(Error::invalid_help(
                loc,
                format!(
                    "`{text}` is needed when the playbook is loaded: {}",
                    e.message
                ),
                "a static name may use play vars and -e variables only; use include_* for host variables",
            )),
        }
    }

    fn check_module_name(&self, action: &str, loc: &Loc) -> Result<()> {
        self.loader.registry.check_name(action, loc)
    }

    fn default_collection(&self) -> Option<String> {
        self.loader.default_collection()
    }

    fn free_form(&self, action: &str) -> bool {
        self.loader.registry.free_form(action)
    }
}
