//! Tasks and blocks: Ansible's task keywords parsed from YAML nodes into typed values.
//!
//! Why this module exists: a task in YAML is a mapping where one key is the module and the
//! rest are keywords. This module tells them apart, rejects unknown keywords and
//! conflicting actions at their line, parses free-form arguments (`command: ls chdir=/tmp`),
//! and pushes block-level keywords (`when`, `tags`, `vars`, `become`, …) down into the
//! tasks they govern, so the engine sees each task with everything that applies to it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{Error, Loc, Result};
use crate::yaml::{Kind, Node};

use super::numeric::{Numeric, check_literal};
use super::role::RoleInstance;

/// Keywords a task, block, or include can carry that are inherited by the tasks inside.
const INHERITED: &[&str] = &[
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "no_log",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "remote_user",
    "connection",
    "module_defaults",
    "collections",
    "debugger",
    "port",
];

/// A loop over items.
#[derive(Clone, Debug, PartialEq)]
pub enum LoopSpec {
    /// `loop:` — the value (templated at run time) must be a list.
    Loop(Value),
    /// `with_<lookup>:` — the lookup's name and its terms.
    With(String, Value),
}

/// `loop_control:`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopControl {
    /// Name of the loop variable (default `item`).
    pub loop_var: Option<String>,
    /// Name of the index variable.
    pub index_var: Option<String>,
    /// Template shown instead of the item.
    pub label: Option<Value>,
    /// Pause between items.
    pub pause: Option<std::time::Duration>,
    /// Expose `ansible_loop`.
    pub extended: bool,
    /// With `extended`, include `ansible_loop.allitems` (`extended_allitems`, default true).
    pub extended_allitems: bool,
}

/// Keywords after inheritance, as they apply to one task.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Keywords {
    /// All conditions, outermost first; each is a Jinja expression.
    pub when: Vec<String>,
    /// Tags, inherited ones included.
    pub tags: BTreeSet<String>,
    /// Block and task vars, outer first.
    pub vars: IndexMap<String, Value>,
    /// `become` (template or bool).
    pub become_: Option<Value>,
    /// `become_user`.
    pub become_user: Option<Value>,
    /// `become_method`.
    pub become_method: Option<Value>,
    /// `become_flags`.
    pub become_flags: Option<Value>,
    /// `environment` maps, outer first (later keys win).
    pub environment: Vec<Value>,
    /// `ignore_errors`.
    pub ignore_errors: Option<Value>,
    /// `ignore_unreachable`.
    pub ignore_unreachable: Option<Value>,
    /// `check_mode`.
    pub check_mode: Option<Value>,
    /// `diff`.
    pub diff: Option<Value>,
    /// `no_log`.
    pub no_log: Option<Value>,
    /// `delegate_to`.
    pub delegate_to: Option<Value>,
    /// `delegate_facts`: facts a delegated task returns go to the delegate.
    pub delegate_facts: Option<Value>,
    /// `run_once`.
    pub run_once: Option<Value>,
    /// `any_errors_fatal`.
    pub any_errors_fatal: Option<Value>,
    /// `throttle`.
    pub throttle: Option<Value>,
    /// `timeout` in seconds.
    pub timeout: Option<Value>,
    /// `remote_user`.
    pub remote_user: Option<Value>,
    /// `connection`.
    pub connection: Option<Value>,
    /// `notify` given on a block: the tasks inside that have none of their own notify
    /// these (a block is `Notifiable` in `lib/ansible/playbook/block.py`).
    pub notify: Option<Vec<String>>,
    /// `collections`: the collections short module and role names are looked up in, as
    /// Ansible keeps it (`ansible.legacy` appended; a role's tasks see the role's list,
    /// not the play's; see `playbook/collections.rs`). `None`: not set anywhere.
    pub collections: Option<Vec<String>>,
}

/// One task.
#[derive(Clone, Debug)]
pub struct Task {
    /// `name:`, if given.
    pub name: Option<String>,
    /// Where the task is defined.
    pub loc: Loc,
    /// The module, as written (`apt`, `ansible.builtin.apt`).
    pub action: String,
    /// Module arguments (free-form text is under `_raw_params`), not yet templated.
    pub args: Map<String, Value>,
    /// Where the arguments are (for errors at run time).
    pub args_loc: Loc,
    /// Keywords, inherited ones included.
    pub kw: Keywords,
    /// `loop` / `with_*`.
    pub loop_: Option<LoopSpec>,
    /// `loop_control`.
    pub loop_control: LoopControl,
    /// `register`.
    pub register: Option<String>,
    /// `notify` handler names or topics.
    pub notify: Vec<String>,
    /// `listen` topics (handlers only).
    pub listen: Vec<String>,
    /// `changed_when` conditions (all must hold).
    pub changed_when: Option<Vec<String>>,
    /// `failed_when` conditions (all must hold).
    pub failed_when: Option<Vec<String>>,
    /// `until` conditions.
    pub until: Option<Vec<String>>,
    /// `retries` (template or int).
    pub retries: Option<Value>,
    /// `delay` seconds.
    pub delay: Option<Value>,
    /// `async`: seconds the task may run as a background job on the host (template or
    /// int; 0 or none: not a job).
    pub async_: Option<Value>,
    /// `poll`: seconds between checks of an `async` job (template or int; 0: do not wait).
    pub poll: Option<Value>,
    /// The role the task belongs to.
    pub role: Option<Arc<RoleInstance>>,
    /// Parameters of the include/import that brought the task in (include params).
    pub include_params: IndexMap<String, Value>,
}

impl Task {
    /// A task made by windlass itself rather than read from a file (the play's implicit
    /// fact gathering, tests): `action` with `args` at `loc`, the given keywords, and
    /// nothing else set.
    pub(crate) fn synthetic(
        name: &str,
        action: &str,
        args: Map<String, Value>,
        loc: Loc,
        kw: Keywords,
    ) -> Task {
        Task {
            name: Some(name.into()),
            args_loc: loc.clone(),
            loc,
            action: action.into(),
            args,
            kw,
            loop_: None,
            loop_control: LoopControl::default(),
            register: None,
            notify: vec![],
            listen: vec![],
            changed_when: None,
            failed_when: None,
            until: None,
            retries: None,
            delay: None,
            async_: None,
            poll: None,
            role: None,
            include_params: IndexMap::new(),
        }
    }

    /// The collections this task's short module names are looked up in, in order (the
    /// `collections:` keyword of the task, its blocks, its role or its play, as Ansible
    /// resolves it); empty when none applies.
    pub fn collection_list(&self) -> &[String] {
        self.kw.collections.as_deref().unwrap_or(&[])
    }

    /// What the printer shows: `role : name` (`ns.col.role : name` for a collection's
    /// role), or the action when unnamed, as ansible-core's `Task.get_name`. An
    /// `include_role` is named as `IncludeRole.get_name` names it
    /// (lib/ansible/playbook/role_include.py): its `name:` alone, without the enclosing
    /// role, else `<action> : <role>`; its header and its results alike.
    pub fn display_name(&self) -> String {
        if INCLUDE_ROLE.contains(&short_name(&self.action)) {
            return self.name.clone().unwrap_or_else(|| {
                let role = self.args.get("name").or_else(|| self.args.get("role"));
                let role = role.and_then(Value::as_str).unwrap_or_default();
                format!("{} : {role}", self.action)
            });
        }
        let base = self.name.clone().unwrap_or_else(|| self.action.clone());
        match &self.role {
            Some(r) => format!("{} : {}", r.fqcn(), base),
            None => base,
        }
    }
}

/// A `block:` with its `rescue:` and `always:` sections.
#[derive(Clone, Debug)]
pub struct Block {
    /// `name:`, if given.
    pub name: Option<String>,
    /// The main section.
    pub block: Vec<TaskNode>,
    /// Runs for hosts that failed in `block`.
    pub rescue: Vec<TaskNode>,
    /// Runs for every host that entered the block.
    pub always: Vec<TaskNode>,
}

/// A dynamic include, resolved per host at run time.
#[derive(Clone, Debug)]
pub struct Include {
    /// The include task itself (its keywords and args: `file`/`name`/`tasks_from`…).
    pub task: Task,
    /// Directory relative paths resolve against.
    pub base_dir: PathBuf,
    /// `include_role` rather than `include_tasks`.
    pub is_role: bool,
    /// How many dynamic includes lead to this one (0 in the playbook itself).
    pub depth: usize,
    /// The keywords the include inherited, without its own: what its tasks inherit.
    /// A dynamic include is not a static parent, so its own keywords (`when`, `tags`,
    /// `become`…) apply to it alone (`Task._get_parent_attribute` in
    /// `lib/ansible/playbook/task.py` skips a parent that is not `statically_loaded`).
    pub parent_kw: Keywords,
    /// `apply:` — keywords given to the included tasks (`TaskInclude.build_parent_block`).
    pub apply: Keywords,
}

/// `meta: end_role` ends the role it is in, so outside a role, or in a handler, it is an
/// error when the playbook loads (`lib/ansible/playbook/helpers.py`,
/// `load_list_of_tasks`).
fn check_end_role(task: &Task, handler: bool) -> Result<()> {
    let short = task.action.rsplit('.').next().unwrap_or(&task.action);
    let meta = task.args.get("_raw_params").and_then(Value::as_str);
    if short != "meta" || meta != Some("end_role") {
        return Ok(());
    }
    if handler {
        return Err(Error::invalid(
            &task.loc,
            "Cannot execute 'end_role' from a handler",
        ));
    }
    if task.role.is_none() {
        return Err(Error::parser(
            &task.loc,
            "Cannot execute 'end_role' from outside of a role",
            None,
        ));
    }
    Ok(())
}

/// One entry of a task list.
#[derive(Clone, Debug)]
pub enum TaskNode {
    /// A task.
    Task(Arc<Task>),
    /// A block.
    Block(Arc<Block>),
    /// `include_tasks` / `include_role`.
    Include(Arc<Include>),
}

/// What is inherited from enclosing blocks, imports and roles.
#[derive(Clone, Debug, Default)]
pub struct Inherit {
    /// Keywords to merge under each task's own.
    pub kw: Keywords,
    /// The role the tasks belong to.
    pub role: Option<Arc<RoleInstance>>,
    /// Include/import parameters.
    pub include_params: IndexMap<String, Value>,
    /// Import chain, for cycle detection.
    pub chain: Vec<PathBuf>,
    /// How many dynamic includes (`include_tasks`, `include_role`) lead here.
    pub include_depth: usize,
}

/// Things the task parser needs from the loader: resolving imports and checking modules.
pub trait TaskContext {
    /// Load the tasks of `file` (relative to `base`) as an `import_tasks`.
    fn import_tasks(
        &self,
        file: &str,
        base: &Path,
        loc: &Loc,
        inherit: &Inherit,
    ) -> Result<Vec<TaskNode>>;
    /// Load a role's tasks as an `import_role`.
    fn import_role(
        &self,
        args: &Map<String, Value>,
        loc: &Loc,
        inherit: &Inherit,
    ) -> Result<Vec<TaskNode>>;
    /// Template a name that is needed at load time (`import_role: name:`, a templated
    /// `loop_var`) with what is known then: the play's vars and `-e` variables.
    fn static_template(&self, text: &str, loc: &Loc) -> Result<String>;
    /// Reject an unknown module name, at `loc`.
    fn check_module_name(&self, action: &str, loc: &Loc) -> Result<()>;
    /// The default collection (set once a collection's playbook is imported), which a
    /// written `collections:` list gets first.
    fn default_collection(&self) -> Option<String> {
        None
    }
    /// Whether the module `action` takes free-form text (see
    /// [`Registry::free_form`](crate::modules::Registry::free_form)).
    fn free_form(&self, action: &str) -> bool;
    /// Reject an unknown module or its unknown parameters, at `loc`.
    fn check_module(
        &self,
        action: &str,
        args: &Map<String, Value>,
        collections: &[String],
        loc: &Loc,
        args_loc: &Loc,
    ) -> Result<()>;
}

/// Parse a task list (a YAML sequence of tasks and blocks).
pub fn parse_task_list(
    node: &Node,
    base: &Path,
    inherit: &Inherit,
    cx: &dyn TaskContext,
    handlers: bool,
) -> Result<Vec<TaskNode>> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let items = node.as_seq().ok_or_else(|| {
        Error::invalid(
            &node.loc,
            format!("a task list must be a list, found {}", node.type_name()),
        )
    })?;
    let mut out = Vec::new();
    for item in items {
        out.extend(parse_task_entry(item, base, inherit, cx, handlers)?);
    }
    Ok(out)
}

fn parse_task_entry(
    node: &Node,
    base: &Path,
    inherit: &Inherit,
    cx: &dyn TaskContext,
    handlers: bool,
) -> Result<Vec<TaskNode>> {
    let entries = node.expect_map("a task")?;
    if entries.iter().any(|(k, _)| k == "block") {
        return parse_block(node, &entries, base, inherit, cx, handlers).map(|b| vec![b]);
    }
    parse_task(node, &entries, base, inherit, cx, handlers)
}

fn parse_block(
    node: &Node,
    entries: &[(String, &Node)],
    base: &Path,
    inherit: &Inherit,
    cx: &dyn TaskContext,
    handlers: bool,
) -> Result<TaskNode> {
    let mut name = None;
    let mut own = Keywords::default();
    let mut sections: [Option<&Node>; 3] = [None, None, None];
    for (k, v) in entries {
        match k.as_str() {
            "block" => sections[0] = Some(v),
            "rescue" => sections[1] = Some(v),
            "always" => sections[2] = Some(v),
            "name" => name = Some(scalar_string(v, "name")?),
            "notify" => {
                check_templates(v, false)?;
                own.notify = Some(string_list(v, "notify", false)?)
            }
            kw if INHERITED.contains(&kw) => {
                check_templates(v, EXPRESSION_KEYS.contains(&kw))?;
                set_keyword(&mut own, kw, v)?
            }
            other => {
                return Err(Error::parser(
                    &key_loc(node, other),
                    format!("`{other}` is not a valid keyword for a block"),
                    Some("a block takes block/rescue/always, name and task keywords such as when, become, tags, vars".into()),
                ));
            }
        }
    }
    add_default_collection(&mut own, cx);
    let child = Inherit {
        kw: merge_keywords(&inherit.kw, &own),
        ..inherit.clone()
    };
    let parse = |n: Option<&Node>| -> Result<Vec<TaskNode>> {
        match n {
            Some(n) => parse_task_list(n, base, &child, cx, handlers),
            None => Ok(Vec::new()),
        }
    };
    Ok(TaskNode::Block(Arc::new(Block {
        name,
        block: parse(sections[0])?,
        rescue: parse(sections[1])?,
        always: parse(sections[2])?,
    })))
}

fn key_loc(node: &Node, key: &str) -> Loc {
    node.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.key_str().as_deref() == Some(key)))
        .map(|(k, _)| k.loc.clone())
        .unwrap_or_else(|| node.loc.clone())
}

fn scalar_string(v: &Node, what: &str) -> Result<String> {
    match &v.kind {
        Kind::Str(s) => Ok(s.clone()),
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => Ok(v.key_str().unwrap_or_default()),
        _ => Err(Error::invalid(
            &v.loc,
            format!("`{what}` must be a string, found {}", v.type_name()),
        )),
    }
}

/// `when`-style conditions: a string, a bool, or a list of those.
fn conditions(v: &Node, what: &str) -> Result<Vec<String>> {
    let one = |n: &Node| -> Result<String> {
        match &n.kind {
            Kind::Str(s) => Ok(s.clone()),
            Kind::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
            Kind::Int(i) => Ok(i.to_string()),
            _ => Err(Error::invalid(
                &n.loc,
                format!(
                    "`{what}` must be a condition string or a list of them, found {}",
                    n.type_name()
                ),
            )),
        }
    };
    match &v.kind {
        Kind::Seq(items) => items.iter().map(one).collect(),
        Kind::Null => Ok(Vec::new()),
        _ => Ok(vec![one(v)?]),
    }
}

fn string_list(v: &Node, what: &str, split_commas: bool) -> Result<Vec<String>> {
    let one = |n: &Node| -> Result<Vec<String>> {
        let s = scalar_string(n, what)?;
        Ok(if split_commas {
            s.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        } else {
            vec![s]
        })
    };
    match &v.kind {
        Kind::Seq(items) => Ok(items.iter().map(one).collect::<Result<Vec<_>>>()?.concat()),
        Kind::Null => Ok(Vec::new()),
        _ => one(v),
    }
}

/// Keys whose strings are bare Jinja expressions, not templates.
const EXPRESSION_KEYS: &[&str] = &["when", "changed_when", "failed_when", "until", "that"];

/// Check the syntax of every template in `node` (and of conditions as expressions), so a
/// broken `{{` fails at load time at its own line instead of on the hosts.
pub fn check_templates(node: &Node, expression: bool) -> Result<()> {
    match &node.kind {
        Kind::Str(s) => {
            let templated = s.contains("{{") || s.contains("{%") || s.contains("{#");
            let r = if expression && !templated {
                crate::template::Templar::check_syntax(s, true)
            } else if templated {
                crate::template::Templar::check_syntax(s, false)
            } else {
                Ok(())
            };
            r.map_err(|e| Error::syntax(&node.loc, e.message))
        }
        Kind::Seq(items) => items
            .iter()
            .try_for_each(|n| check_templates(n, expression)),
        Kind::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            let key = k.key_str().unwrap_or_default();
            check_templates(k, false)?;
            check_templates(v, expression || EXPRESSION_KEYS.contains(&key.as_str()))
        }),
        _ => Ok(()),
    }
}

/// Whether a string holds template syntax (its value is known only at run time).
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A keyword that must be a boolean (or a template that renders to one).
fn bool_keyword(v: &Node, what: &str) -> Result<Value> {
    match &v.kind {
        Kind::Bool(b) => Ok(Value::Bool(*b)),
        Kind::Str(s) if is_templated(s) => Ok(Value::String(s.clone())),
        Kind::Str(s) => match crate::boolean::parse_bool(s) {
            Some(b) => Ok(Value::Bool(b)),
            None => Err(Error::invalid_help(
                &v.loc,
                format!("`{what}` must be a boolean, found the string {s:?}"),
                "use true or false (yes/no also work)",
            )),
        },
        Kind::Int(i) if *i == 0 || *i == 1 => Ok(Value::Bool(*i == 1)),
        _ => Err(Error::invalid(
            &v.loc,
            format!("`{what}` must be a boolean, found {}", v.type_name()),
        )),
    }
}

/// A keyword that must be a string (a user name, a host).
fn string_keyword(v: &Node, what: &str) -> Result<Value> {
    match &v.kind {
        Kind::Str(s) => Ok(Value::String(s.clone())),
        Kind::Int(_) => Ok(Value::String(v.key_str().unwrap_or_default())),
        _ => Err(Error::invalid(
            &v.loc,
            format!("`{what}` must be a string, found {}", v.type_name()),
        )),
    }
}

fn vars_map(v: &Node, what: &str) -> Result<IndexMap<String, Value>> {
    if v.is_null() {
        return Ok(IndexMap::new());
    }
    // `vars:` may also be a list of mappings (old style).
    if let Some(items) = v.as_seq() {
        let mut out = IndexMap::new();
        for item in items {
            out.extend(vars_map(item, what)?);
        }
        return Ok(out);
    }
    let mut out = IndexMap::new();
    for (k, val) in v.expect_map(what)? {
        check_var_name(&k, &key_loc(v, &k))?;
        out.insert(k, val.to_value());
    }
    check_var_cycles(&out, |k| key_loc(v, k))?;
    Ok(out)
}

/// Reject variables of one mapping that are defined through each other in a cycle
/// (`a: "{{ b }}"`, `b: "{{ a }}"`): using any of them can only fail (Ansible: "recursive
/// loop detected"), so it fails at load time, at the first one's line. Only plain references
/// count; a template with a condition or a default may never follow the edge.
pub fn check_var_cycles(
    vars: &IndexMap<String, Value>,
    loc_of: impl Fn(&str) -> Loc,
) -> Result<()> {
    let edges: IndexMap<&str, Vec<String>> = vars
        .iter()
        .filter_map(|(k, v)| {
            let s = v.as_str().filter(|s| is_templated(s))?;
            let refs = crate::template::Templar::unconditional_references(s)?;
            let mut refs: Vec<String> = refs.into_iter().filter(|r| vars.contains_key(r)).collect();
            refs.sort();
            Some((k.as_str(), refs))
        })
        .collect();
    // Depth-first search from each variable, in file order.
    fn visit<'a>(
        n: &'a str,
        edges: &'a IndexMap<&'a str, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if !done.insert(n) {
            return None;
        }
        path.push(n);
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::HashSet::new();
    for k in edges.keys() {
        if let Some(cycle) = visit(k, &edges, &mut Vec::new(), &mut done) {
            return Err(Error::invalid_help(
                &loc_of(&cycle[0]),
                format!(
                    "variables defined through each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
                "one of them must get its value without referring back to the others",
            ));
        }
    }
    Ok(())
}

/// A `template` task's literal `src`, when it exists where the run will look first (the
/// role's `templates/` and directory, the task file's `templates/` and directory), is
/// compiled now: a broken template fails at load time naming its own file and line.
fn check_template_src(task: &Task, base: &Path) -> Result<()> {
    let Some(Value::String(src)) = task.args.get("src") else {
        return Ok(());
    };
    if is_templated(src) || src.is_empty() {
        return Ok(());
    }
    let mut dirs = Vec::new();
    if let Some(r) = &task.role {
        dirs.push(r.path.join("templates"));
        dirs.push(r.path.clone());
    }
    dirs.push(base.join("templates"));
    dirs.push(base.to_path_buf());
    let Some(path) = dirs.iter().map(|d| d.join(src)).find(|p| p.is_file()) else {
        return Ok(());
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let Some(syntax) = crate::modules::template::literal_syntax(&task.args) else {
        return Ok(());
    };
    crate::template::Templar::check_file_syntax_with(&text, &syntax).map_err(|(msg, line)| {
        Error::syntax(
            &Loc::new(
                std::sync::Arc::from(path.as_path()),
                line.unwrap_or(0) as u32,
                1,
            ),
            format!(
                "template syntax error in {src} (used at {}): {msg}",
                task.loc
            ),
        )
    })
}

/// Variable names must be identifiers, as in Ansible.
pub fn check_var_name(name: &str, loc: &Loc) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            loc,
            format!("`{name}` is not a valid variable name"),
        ))
    }
}

fn set_keyword(kw: &mut Keywords, key: &str, v: &Node) -> Result<()> {
    match key {
        "when" => kw.when = conditions(v, "when")?,
        "tags" => kw.tags = string_list(v, "tags", true)?.into_iter().collect(),
        "vars" => kw.vars = vars_map(v, "vars")?,
        "become" => kw.become_ = Some(bool_keyword(v, key)?),
        "become_user" => kw.become_user = Some(string_keyword(v, key)?),
        "become_method" => kw.become_method = Some(string_keyword(v, key)?),
        "become_flags" => kw.become_flags = Some(string_keyword(v, key)?),
        "environment" => {
            match &v.kind {
                Kind::Map(_) | Kind::Null => {}
                Kind::Str(s) if is_templated(s) => {}
                Kind::Seq(items) if items.iter().all(|i| matches!(i.kind, Kind::Map(_))) => {}
                _ => {
                    return Err(Error::invalid(
                        &v.loc,
                        format!(
                            "`environment` must be a mapping of variable names to values, found {}",
                            v.type_name()
                        ),
                    ));
                }
            }
            kw.environment = vec![v.to_value()]
        }
        "ignore_errors" => kw.ignore_errors = Some(bool_keyword(v, key)?),
        "ignore_unreachable" => kw.ignore_unreachable = Some(bool_keyword(v, key)?),
        "check_mode" => kw.check_mode = Some(bool_keyword(v, key)?),
        "diff" => kw.diff = Some(bool_keyword(v, key)?),
        "no_log" => kw.no_log = Some(bool_keyword(v, key)?),
        "delegate_to" => kw.delegate_to = Some(string_keyword(v, key)?),
        "delegate_facts" => kw.delegate_facts = Some(bool_keyword(v, key)?),
        "run_once" => kw.run_once = Some(bool_keyword(v, key)?),
        "any_errors_fatal" => kw.any_errors_fatal = Some(bool_keyword(v, key)?),
        "throttle" => kw.throttle = Some(check_literal(v, Numeric::Throttle)?),
        "timeout" => kw.timeout = Some(check_literal(v, Numeric::Timeout)?),
        "remote_user" => kw.remote_user = Some(string_keyword(v, key)?),
        "connection" => kw.connection = Some(string_keyword(v, key)?),
        "collections" => {
            kw.collections = super::collections::parse_keyword(v)?
                .map(|l| super::collections::search_list(&l, None))
        }
        // Accepted for compatibility; they change nothing in windlass.
        "module_defaults" | "debugger" | "port" => {}
        _ => {
            return Err(Error::parser(
                &v.loc,
                format!("`{key}` is not a keyword"),
                None,
            ));
        }
    }
    Ok(())
}

/// A written `collections:` list with the default collection first, if one is set.
fn add_default_collection(own: &mut Keywords, cx: &dyn TaskContext) {
    if let (Some(list), Some(d)) = (&own.collections, cx.default_collection()) {
        own.collections = Some(super::collections::search_list(list, Some(&d)));
    }
}

/// Whether `k` is a keyword blocks, plays and roles pass down to their tasks.
pub fn is_inherited_keyword(k: &str) -> bool {
    INHERITED.contains(&k)
}

/// Parse inherited keywords (`when`, `tags`, `become`, …) given on a play or a role entry;
/// any other key is an error naming `what`.
pub fn parse_keywords(entries: &[(String, &Node)], what: &str) -> Result<Keywords> {
    let mut kw = Keywords::default();
    for (k, v) in entries {
        if INHERITED.contains(&k.as_str()) && k != "vars" {
            set_keyword(&mut kw, k, v)?;
        } else {
            return Err(Error::invalid(
                &v.loc,
                format!("`{k}` is not a valid {what} keyword"),
            ));
        }
    }
    Ok(kw)
}

/// `inner` over `outer`: conditions and environments accumulate, tags union, vars overlay,
/// scalar keywords: the inner one wins.
pub fn merge_keywords(outer: &Keywords, inner: &Keywords) -> Keywords {
    let pick = |o: &Option<Value>, i: &Option<Value>| i.clone().or_else(|| o.clone());
    let mut vars = outer.vars.clone();
    vars.extend(inner.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    Keywords {
        when: outer.when.iter().chain(&inner.when).cloned().collect(),
        tags: outer.tags.union(&inner.tags).cloned().collect(),
        vars,
        become_: pick(&outer.become_, &inner.become_),
        become_user: pick(&outer.become_user, &inner.become_user),
        become_method: pick(&outer.become_method, &inner.become_method),
        become_flags: pick(&outer.become_flags, &inner.become_flags),
        environment: outer
            .environment
            .iter()
            .chain(&inner.environment)
            .cloned()
            .collect(),
        ignore_errors: pick(&outer.ignore_errors, &inner.ignore_errors),
        ignore_unreachable: pick(&outer.ignore_unreachable, &inner.ignore_unreachable),
        check_mode: pick(&outer.check_mode, &inner.check_mode),
        diff: pick(&outer.diff, &inner.diff),
        no_log: pick(&outer.no_log, &inner.no_log),
        delegate_to: pick(&outer.delegate_to, &inner.delegate_to),
        delegate_facts: pick(&outer.delegate_facts, &inner.delegate_facts),
        run_once: pick(&outer.run_once, &inner.run_once),
        any_errors_fatal: pick(&outer.any_errors_fatal, &inner.any_errors_fatal),
        throttle: pick(&outer.throttle, &inner.throttle),
        timeout: pick(&outer.timeout, &inner.timeout),
        remote_user: pick(&outer.remote_user, &inner.remote_user),
        connection: pick(&outer.connection, &inner.connection),
        notify: inner.notify.clone().or_else(|| outer.notify.clone()),
        collections: inner
            .collections
            .clone()
            .or_else(|| outer.collections.clone()),
    }
}

/// Actions that load other task files or roles.
const IMPORT_TASKS: &[&str] = &["import_tasks", "ansible.builtin.import_tasks"];
const INCLUDE_TASKS: &[&str] = &[
    "include_tasks",
    "ansible.builtin.include_tasks",
    "include",
    "ansible.builtin.include",
];
const IMPORT_ROLE: &[&str] = &["import_role", "ansible.builtin.import_role"];
const INCLUDE_ROLE: &[&str] = &["include_role", "ansible.builtin.include_role"];

fn short_name(action: &str) -> &str {
    action
        .strip_prefix("ansible.builtin.")
        .or_else(|| action.strip_prefix("ansible.legacy."))
        .unwrap_or(action)
}

fn parse_task(
    node: &Node,
    entries: &[(String, &Node)],
    base: &Path,
    inherit: &Inherit,
    cx: &dyn TaskContext,
    handlers: bool,
) -> Result<Vec<TaskNode>> {
    check_templates(node, false)?;
    let mut own = Keywords::default();
    let mut name = None;
    let mut action: Option<(String, &Node, Loc)> = None;
    let mut extra_args: Option<&Node> = None;
    let mut loop_ = None;
    let mut loop_control = LoopControl::default();
    let mut register = None;
    let mut notify = None;
    let mut listen = Vec::new();
    let mut changed_when = None;
    let mut failed_when = None;
    let mut until = None;
    let mut retries = None;
    let mut delay = None;
    let mut async_ = None;
    let mut poll = None;
    let mut local_action = false;
    for (k, v) in entries {
        let kloc = key_loc(node, k);
        match k.as_str() {
            "name" => name = Some(scalar_string(v, "name")?),
            "args" => extra_args = Some(v),
            "loop" => {
                match &v.kind {
                    Kind::Seq(_) => {}
                    Kind::Str(s) if is_templated(s) => {}
                    _ => {
                        return Err(Error::invalid_help(
                            &v.loc,
                            format!("`loop` needs a list, found {}", v.type_name()),
                            "give a YAML list, or a template that makes one: loop: \"{{ my_list }}\"",
                        ));
                    }
                }
                if loop_.is_some() {
                    return Err(Error::invalid(
                        &kloc,
                        "a task can have only one of `loop` and `with_*`",
                    ));
                }
                loop_ = Some(LoopSpec::Loop(v.to_value()))
            }
            "loop_control" => loop_control = parse_loop_control(v, cx)?,
            "register" => {
                let r = scalar_string(v, "register")?;
                check_var_name(&r, &v.loc)?;
                register = Some(r);
            }
            "notify" => notify = Some(string_list(v, "notify", false)?),
            "listen" => {
                if !handlers {
                    return Err(Error::invalid(&kloc, "`listen` is only valid on handlers"));
                }
                listen = string_list(v, "listen", false)?
            }
            "changed_when" => changed_when = Some(conditions(v, "changed_when")?),
            "failed_when" => failed_when = Some(conditions(v, "failed_when")?),
            "until" => until = Some(conditions(v, "until")?),
            "retries" => retries = Some(check_literal(v, Numeric::Retries)?),
            "delay" => delay = Some(check_literal(v, Numeric::Delay)?),
            "async" => async_ = Some(check_literal(v, Numeric::Async)?),
            "poll" => poll = Some(check_literal(v, Numeric::Poll)?),
            "action" | "local_action" => {
                let (a, args) = parse_action_string(v)?;
                if let Some((prev, _, _)) = &action {
                    return Err(conflict(&kloc, prev, &a));
                }
                local_action = k == "local_action";
                action = Some((a, args, kloc));
            }
            kw if INHERITED.contains(&kw) => set_keyword(&mut own, kw, v)?,
            kw if kw.starts_with("with_") => {
                if loop_.is_some() {
                    return Err(Error::invalid(
                        &kloc,
                        "a task can have only one of `loop` and `with_*`",
                    ));
                }
                loop_ = Some(LoopSpec::With(
                    kw["with_".len()..].to_string(),
                    v.to_value(),
                ))
            }
            other => {
                if let Some((prev, _, _)) = &action {
                    return Err(conflict(&kloc, prev, other));
                }
                action = Some((other.to_string(), v, kloc));
            }
        }
    }
    let Some((action, raw_args, action_loc)) = action else {
        return Err(Error::invalid_help(
            &node.loc,
            "no module or action in this task",
            "a task needs exactly one module key, e.g. `command: …` or `ansible.builtin.copy: …`",
        ));
    };
    let short = short_name(&action).to_string();
    let structural = IMPORT_TASKS.contains(&short.as_str())
        || IMPORT_ROLE.contains(&short.as_str())
        || INCLUDE_TASKS.contains(&short.as_str())
        || INCLUDE_ROLE.contains(&short.as_str());
    if !structural {
        cx.check_module_name(&action, &action_loc)?;
    }
    // The task-file includes take their file as free-form text; a module says so in its
    // spec (the registry's answer), so an embedder's module can take it too.
    let free_form = IMPORT_TASKS.contains(&short.as_str())
        || INCLUDE_TASKS.contains(&short.as_str())
        || cx.free_form(&action);
    let mut args = parse_args(&short, raw_args, free_form)?;
    if let Some(extra) = extra_args {
        for (k, v) in extra.expect_map("args")? {
            args.insert(k, v.to_value());
        }
    }
    if local_action {
        own.delegate_to = Some(Value::String("localhost".into()));
    }
    // Ansible's `Task.preprocess_data`: not for a role's tasks.
    if inherit.role.is_none() {
        add_default_collection(&mut own, cx);
    }
    let kw = merge_keywords(&inherit.kw, &own);
    let notify = notify
        .or_else(|| inherit.kw.notify.clone())
        .unwrap_or_default();
    let task = Task {
        name,
        loc: node.loc.clone(),
        action: action.clone(),
        args_loc: raw_args.loc.clone(),
        args,
        kw,
        loop_,
        loop_control,
        register,
        notify,
        listen,
        changed_when,
        failed_when,
        until,
        retries,
        delay,
        async_,
        poll,
        role: inherit.role.clone(),
        include_params: include_params(inherit, &short, &own),
    };
    check_end_role(&task, handlers)?;
    let short = short.as_str();
    if IMPORT_TASKS.contains(&action.as_str()) || IMPORT_TASKS.contains(&short) {
        let file = import_file(&task, &action_loc)?;
        if task.loop_.is_some() {
            return Err(Error::invalid_help(
                &task.loc,
                "import_tasks cannot loop",
                "use include_tasks to loop over a task file",
            ));
        }
        let child = Inherit {
            kw: task.kw.clone(),
            include_params: params_of(&task.args, &["file", "_raw_params"]),
            ..inherit.clone()
        };
        return cx.import_tasks(&file, base, &task.loc, &child);
    }
    if IMPORT_ROLE.contains(&action.as_str()) || IMPORT_ROLE.contains(&short) {
        let child = Inherit {
            kw: task.kw.clone(),
            ..inherit.clone()
        };
        return cx.import_role(&task.args, &task.loc, &child);
    }
    let is_role = INCLUDE_ROLE.contains(&short);
    if INCLUDE_TASKS.contains(&short) || is_role {
        if is_role && !task.args.contains_key("name") {
            return Err(Error::invalid(&task.args_loc, "include_role needs `name`"));
        }
        if !is_role && !task.args.contains_key("file") && !task.args.contains_key("_raw_params") {
            return Err(Error::invalid(
                &task.args_loc,
                "include_tasks needs a file name",
            ));
        }
        let apply = match raw_args.get("apply") {
            Some(a) if !a.is_null() => {
                check_templates(a, false)?;
                let entries = a.expect_map("apply")?;
                let entries: Vec<(String, &Node)> =
                    entries.iter().map(|(k, v)| (k.clone(), *v)).collect();
                parse_keywords(&entries, "apply")?
            }
            _ => Keywords::default(),
        };
        return Ok(vec![TaskNode::Include(Arc::new(Include {
            task,
            base_dir: base.to_path_buf(),
            is_role,
            depth: inherit.include_depth,
            parent_kw: inherit.kw.clone(),
            apply,
        }))]);
    }
    cx.check_module(
        &action,
        &task.args,
        task.collection_list(),
        &action_loc,
        &task.args_loc,
    )?;
    if short == "template" {
        check_template_src(&task, base)?;
    }
    Ok(vec![TaskNode::Task(Arc::new(task))])
}

fn conflict(loc: &Loc, a: &str, b: &str) -> Error {
    Error::parser(
        loc,
        format!("conflicting action statements: `{a}` and `{b}`"),
        Some(format!(
            "a task runs one module; if `{b}` is meant as a keyword, check its spelling"
        )),
    )
}

fn import_file(task: &Task, loc: &Loc) -> Result<String> {
    let f = task
        .args
        .get("file")
        .or_else(|| task.args.get("_raw_params"));
    match f {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Error::invalid(loc, "import_tasks needs a file name")),
    }
}

/// The include parameters a task sees: its includer's, and for `include_tasks`/
/// `include_role` its own `vars:` (Ansible's `Task.get_include_params` in
/// `lib/ansible/playbook/task.py` adds the vars of `_ACTION_ALL_INCLUDES`; they rank above
/// `set_fact`, while block vars around the include stay task vars).
fn include_params(inherit: &Inherit, short: &str, own: &Keywords) -> IndexMap<String, Value> {
    let mut params = inherit.include_params.clone();
    if INCLUDE_TASKS.contains(&short) || INCLUDE_ROLE.contains(&short) {
        params.extend(own.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    params
}

fn params_of(args: &Map<String, Value>, skip: &[&str]) -> IndexMap<String, Value> {
    args.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn parse_loop_control(v: &Node, cx: &dyn TaskContext) -> Result<LoopControl> {
    let mut lc = LoopControl {
        extended_allitems: true,
        ..LoopControl::default()
    };
    for (k, val) in v.expect_map("loop_control")? {
        match k.as_str() {
            "loop_var" => {
                let name = cx.static_template(&scalar_string(val, "loop_var")?, &val.loc)?;
                check_var_name(&name, &val.loc)?;
                lc.loop_var = Some(name)
            }
            "index_var" => {
                let name = scalar_string(val, "index_var")?;
                check_var_name(&name, &val.loc)?;
                lc.index_var = Some(name)
            }
            "label" => lc.label = Some(val.to_value()),
            "pause" => {
                lc.pause = match &val.kind {
                    Kind::Int(_) | Kind::Float(_) => Some(
                        super::numeric::pause(&val.to_value())
                            .map_err(|e| Error::invalid(&val.loc, e))?,
                    ),
                    _ => {
                        return Err(Error::invalid(
                            &val.loc,
                            "`pause` must be a number of seconds",
                        ));
                    }
                }
            }
            "extended" => lc.extended = matches!(bool_keyword(val, "extended")?, Value::Bool(true)),
            "extended_allitems" => {
                lc.extended_allitems =
                    matches!(bool_keyword(val, "extended_allitems")?, Value::Bool(true))
            }
            "break_when" => {}
            other => {
                return Err(Error::invalid(
                    &key_loc(v, other),
                    format!("`{other}` is not a valid loop_control option"),
                ));
            }
        }
    }
    Ok(lc)
}

/// `action: module k=v` / `local_action: module k=v` or the mapping form with `module:`.
fn parse_action_string(v: &Node) -> Result<(String, &Node)> {
    match &v.kind {
        Kind::Str(s) => {
            let name = s.split_whitespace().next().unwrap_or_default().to_string();
            if name.is_empty() {
                return Err(Error::invalid(&v.loc, "`action` names no module"));
            }
            Ok((name, v))
        }
        Kind::Map(_) => match v.get("module") {
            Some(m) => Ok((m.expect_str("module")?.to_string(), v)),
            None => Err(Error::invalid(&v.loc, "`action` mapping needs `module`")),
        },
        _ => Err(Error::invalid(
            &v.loc,
            "`action` must be a string or a mapping",
        )),
    }
}

/// Module arguments from the module key's value: a mapping, free-form text (when the action
/// takes it, `free_form`), or nothing.
fn parse_args(action: &str, v: &Node, free_form: bool) -> Result<Map<String, Value>> {
    let mut args = Map::new();
    match &v.kind {
        Kind::Null => {}
        Kind::Map(_) => {
            for (k, val) in v.expect_map("module arguments")? {
                if k == "module" {
                    continue; // `action: {module: x, ...}`
                }
                args.insert(k, val.to_value());
            }
        }
        Kind::Str(s) => {
            // `action: copy src=a dest=b`: drop the module name.
            let text = if v.get("module").is_none()
                && (s.starts_with(action) && s[action.len()..].starts_with(char::is_whitespace)
                    || s == action)
                && s.split_whitespace().next() == Some(action)
            {
                s[action.len()..].trim_start()
            } else {
                s.as_str()
            };
            parse_kv(text, free_form, &v.loc, &mut args)?;
        }
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
            args.insert(
                "_raw_params".into(),
                Value::String(v.key_str().unwrap_or_default()),
            );
        }
        Kind::Seq(_) => {
            return Err(Error::invalid(
                &v.loc,
                format!("arguments of `{action}` must be a mapping or a string, found a list"),
            ));
        }
    }
    Ok(args)
}

/// Ansible's `parse_kv`: `k=v` pairs; with `free_form`, the rest is `_raw_params`.
fn parse_kv(text: &str, free_form: bool, loc: &Loc, args: &mut Map<String, Value>) -> Result<()> {
    let words = super::splitter::split_args(text).ok_or_else(|| {
        Error::invalid(loc, "unbalanced quotes or Jinja block in module arguments")
    })?;
    let mut raw = Vec::new();
    for w in words {
        // Ansible decodes escapes of the word before splitting it (`parse_kv`); a templated
        // key (`set_fact: "{{ k }}={{ v }}"`) is a key too: Ansible's `parse_kv`
        // (lib/ansible/parsing/splitter.py) takes whatever is before the `=`.
        // (a word keeps the spaces and newline that followed it: Ansible strips key and
        // value, and keeps them in a free-form command)
        let decoded = decode_escapes(&w);
        let kv = decoded.trim().split_once('=').filter(|(k, _)| {
            !k.is_empty()
                && (k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || (k.starts_with("{{") && k.ends_with("}}")))
        });
        match kv {
            Some((k, v)) if !free_form || FREE_FORM_KEYS.contains(&k) => {
                args.insert(k.to_string(), Value::String(unquote(v.trim())));
            }
            _ if free_form => raw.push(w),
            _ => {
                return Err(Error::invalid_help(
                    loc,
                    format!("`{}` is not a key=value argument", w.trim()),
                    "this module takes key=value arguments or a mapping",
                ));
            }
        }
    }
    if !raw.is_empty() {
        let text = super::splitter::join_args(&raw);
        args.insert("_raw_params".into(), Value::String(text));
    }
    Ok(())
}

/// The `k=v` words that free-form modules still take as arguments.
const FREE_FORM_KEYS: &[&str] = &[
    "chdir",
    "creates",
    "removes",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "argv",
    "msg",
    "var",
    "verbosity",
    "file",
    "apply",
    "name",
    "groups",
    "cmd",
];

/// Python's `unicode-escape` of the sequences `parse_kv` decodes in a `k=v` word
/// (`lib/ansible/parsing/splitter.py`, `_decode_escapes`): `\\n`, `\\t`, `\\\\`, `\\'`,
/// `\\"`, `\\a\\b\\f\\r\\v`, `\\xHH`, `\\uHHHH`, `\\UHHHHHHHH`. Others stay as written.
fn decode_escapes(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut rest = w;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let hex = |n: usize| {
            tail.get(1..1 + n)
                .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .map(|c| (c, 1 + n))
        };
        let simple = |c: char| Some((c, 1));
        let decoded = match tail.chars().next() {
            Some(c @ ('\\' | '\'' | '"')) => simple(c),
            Some('a') => simple('\u{7}'),
            Some('b') => simple('\u{8}'),
            Some('f') => simple('\u{c}'),
            Some('n') => simple('\n'),
            Some('r') => simple('\r'),
            Some('t') => simple('\t'),
            Some('v') => simple('\u{b}'),
            Some('x') => hex(2),
            Some('u') => hex(4),
            Some('U') => hex(8),
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('\\');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `meta: end_role` needs a role, and no handler may end one.
    #[test]
    fn end_role_only_in_a_role_task() {
        let args = Map::from_iter([("_raw_params".to_string(), Value::from("end_role"))]);
        let mut t = Task::synthetic("t", "meta", args, Loc::file("t"), Keywords::default());
        let outside = check_end_role(&t, false).unwrap_err().to_string();
        assert!(outside.contains("from outside of a role"), "{outside}");
        t.role = Some(Arc::new(crate::playbook::role::RoleInstance {
            name: "r".into(),
            path: "roles/r".into(),
            defaults: IndexMap::new(),
            vars: IndexMap::new(),
            params: IndexMap::new(),
            collection: None,
        }));
        assert!(check_end_role(&t, false).is_ok());
        let handler = check_end_role(&t, true).unwrap_err().to_string();
        assert!(handler.contains("from a handler"), "{handler}");
        t.args.insert("_raw_params".into(), Value::from("end_host"));
        t.role = None;
        assert!(check_end_role(&t, true).is_ok());
    }

    /// `copy: content="a\nb"` writes a newline, as Ansible's `parse_kv` decodes escapes.
    #[test]
    fn kv_values_decode_escapes() {
        assert_eq!(
            decode_escapes(r"a\nb\tc\\d\x41\u00e9\q"),
            "a\nb\tc\\dA\u{e9}\\q"
        );
        let mut a = Map::new();
        parse_kv(r#"content="x\ny" dest=/f"#, false, &Loc::file("t"), &mut a).unwrap();
        assert_eq!(a["content"], "x\ny");
    }

    /// `set_fact: a=1 b=two` sets two variables (Ansible parses its string as `k=v`
    /// pairs); a word that is no pair is refused at load.
    #[test]
    fn set_fact_string_is_kv_pairs() {
        let mut a = Map::new();
        parse_kv(
            "a=1 b='two words'",
            crate::modules::Registry::builtin().free_form("set_fact"),
            &Loc::file("t"),
            &mut a,
        )
        .unwrap();
        assert_eq!(a["a"], "1");
        assert_eq!(a["b"], "two words");
        assert!(!a.contains_key("_raw_params"));
        let mut b = Map::new();
        assert!(
            parse_kv(
                "oops",
                crate::modules::Registry::builtin().free_form("set_fact"),
                &Loc::file("t"),
                &mut b
            )
            .is_err()
        );
    }

    #[test]
    fn free_form_and_kv() {
        let mut a = Map::new();
        parse_kv(
            "echo 'a b' chdir=/tmp creates=\"/x y\"",
            true,
            &Loc::file("t"),
            &mut a,
        )
        .unwrap();
        assert_eq!(a["_raw_params"], "echo 'a b'");
        assert_eq!(a["chdir"], "/tmp");
        assert_eq!(a["creates"], "/x y");
        let mut b = Map::new();
        parse_kv(
            "name=nginx state=present msg='{{ a b }}'",
            false,
            &Loc::file("t"),
            &mut b,
        )
        .unwrap();
        assert_eq!(b["state"], "present");
        assert_eq!(b["msg"], "{{ a b }}");
    }
}
