//! YAML loading with Ansible's YAML 1.1 semantics and source locations on every node.
//!
//! Why this module exists: Ansible content is YAML 1.1 as PyYAML reads it (`yes/no/on/off`
//! booleans, `0644` octal, merge keys, anchors), and every diagnostic must name the line it
//! comes from. Everything that reads YAML (inventories, playbooks, roles, vars files, `-e`)
//! goes through [`parse`], which yields a [`Node`] tree; typed structures are built from
//! nodes by the modules that own them, so a wrong type is reported at the node's location.
//!
//! A key written twice in one mapping is last-wins, as in PyYAML, but never silently:
//! files read through a [`Reader`] follow Ansible's `duplicate_dict_key` setting (warn by
//! default, naming both places; or error; or ignore). The warnings wait in the reader until
//! the run reports them as events.

use std::path::Path;
use std::sync::{Arc, Mutex};

use std::collections::HashMap;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Tag};

use crate::error::{Error, Loc, Result};
use crate::vault::Vault;

/// Largest YAML input accepted, in bytes (a larger one is refused before parsing).
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;
/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 256;

/// One YAML node with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub loc: Loc,
    /// The node's value.
    pub kind: Kind,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// A boolean, YAML 1.1 spellings included.
    Bool(bool),
    /// An integer (YAML 1.1 octal `0644` included).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order. Merge keys are already expanded.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node with no source (built by code, not read from a file).
    pub fn synthetic(kind: Kind, loc: &Loc) -> Node {
        Node {
            loc: loc.clone(),
            kind,
        }
    }

    /// The string, if this node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping entries, if this node is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this node is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this node is null.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The value under string key `key`, if this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_str().as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// This node as a mapping key: strings as they are, scalars in their YAML spelling.
    pub fn key_str(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            Kind::Null => Some("None".to_string()),
            _ => None,
        }
    }

    /// A short name of the node's type, for messages ("a mapping", "a string", …).
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a float",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// Mapping entries with string keys, or an error at this node naming `what` it should be.
    pub fn expect_map(&self, what: &str) -> Result<Vec<(String, &Node)>> {
        match &self.kind {
            Kind::Map(m) => m
                .iter()
                .map(|(k, v)| match k.key_str() {
                    Some(s) => Ok((s, v)),
                    None => Err(Error::invalid(
                        &k.loc,
                        format!("{what}: keys must be scalars"),
                    )),
                })
                .collect(),
            _ => Err(Error::invalid(
                &self.loc,
                format!("{what} must be a mapping, found {}", self.type_name()),
            )),
        }
    }

    /// The string, or an error at this node naming `what` it should be.
    pub fn expect_str(&self, what: &str) -> Result<&str> {
        self.as_str().ok_or_else(|| {
            Error::invalid(
                &self.loc,
                format!("{what} must be a string, found {}", self.type_name()),
            )
        })
    }

    /// The node as plain data (locations dropped). Map keys become strings.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            // NaN and the infinities have no JSON number: they become the text Python
            // shows for them (`nan`, `inf`, `-inf`), not null, so a check sees the value.
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(python_float(*f))),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_str().unwrap_or_default(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Build a node from plain data, every node at `loc`.
    pub fn from_value(v: &Value, loc: &Loc) -> Node {
        let kind = match v {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Kind::Int(i),
                None => Kind::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => Kind::Str(s.clone()),
            Value::Array(a) => Kind::Seq(a.iter().map(|x| Node::from_value(x, loc)).collect()),
            Value::Object(o) => Kind::Map(
                o.iter()
                    .map(|(k, x)| {
                        (
                            Node::synthetic(Kind::Str(k.clone()), loc),
                            Node::from_value(x, loc),
                        )
                    })
                    .collect(),
            ),
        };
        Node::synthetic(kind, loc)
    }
}

/// What to do with a key written twice in one mapping: Ansible's `duplicate_dict_key`
/// setting (`ANSIBLE_DUPLICATE_YAML_DICT_KEY`). The last value wins unless it is `Error`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// Warn, naming both places (the default, as in Ansible).
    #[default]
    Warn,
    /// Stop with a located error.
    Error,
    /// Say nothing.
    Ignore,
}

impl std::str::FromStr for DuplicateKeys {
    type Err = String;

    /// Ansible's spellings: `warn`, `error`, `ignore`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "warn" => Ok(DuplicateKeys::Warn),
            "error" => Ok(DuplicateKeys::Error),
            "ignore" => Ok(DuplicateKeys::Ignore),
            other => Err(format!(
                "invalid value `{other}`; valid values are: error, warn, ignore"
            )),
        }
    }
}

/// Reads YAML files under one [`DuplicateKeys`] policy and keeps its warnings until they
/// are taken ([`Reader::take_warnings`]). Clones share the warnings; each distinct warning
/// is kept once (a file read twice warns once, as Ansible's display does).
///
/// A reader also holds the run's vault secrets ([`crate::vault::Vault`]): a file that is
/// vault text as a whole, and every `!vault` tagged scalar, is decrypted in memory as it is
/// read, as Ansible's DataLoader does.
#[derive(Clone, Debug, Default)]
pub struct Reader {
    duplicates: DuplicateKeys,
    warnings: Arc<Mutex<Warnings>>,
    vault: Arc<Vault>,
}

#[derive(Debug, Default)]
struct Warnings {
    pending: Vec<String>,
    seen: std::collections::HashSet<String>,
}

impl Reader {
    /// A reader with the `duplicates` policy.
    pub fn new(duplicates: DuplicateKeys) -> Reader {
        Reader {
            duplicates,
            warnings: Arc::default(),
            vault: Arc::default(),
        }
    }

    /// The same reader decrypting vault data with `vault`'s secrets; the vault's warnings
    /// wait in the reader with the others.
    pub fn with_vault(mut self, mut vault: Vault) -> Reader {
        if let Ok(mut w) = self.warnings.lock() {
            w.pending.extend(vault.take_warnings());
        }
        self.vault = Arc::new(vault);
        self
    }

    /// The vault secrets (copy/template sources are decrypted with them too).
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// [`parse`], applying the duplicate-key policy (to the duplicates in source order).
    pub fn parse(&self, text: &str, file: &Path) -> Result<Node> {
        let (node, mut duplicates) = parse_inner(text, file, &self.vault)?;
        duplicates.sort_by_key(|d| (d.again.line, d.again.col));
        for d in &duplicates {
            self.duplicate(d)?;
        }
        Ok(node)
    }

    /// [`load`], applying the duplicate-key policy; a vault-encrypted file is decrypted.
    pub fn load(&self, path: &Path) -> Result<Node> {
        let text = read_text(path)?;
        if crate::vault::is_encrypted(text.as_bytes()) {
            let plain = decrypt(&self.vault, &text, &Loc::new(Arc::from(path), 1, 1))?;
            return self.parse(&plain, path);
        }
        self.parse(&text, path)
    }

    /// The warnings not yet taken, oldest first.
    pub fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut w.pending))
            .unwrap_or_default()
    }

    /// Keep warning `msg` (once) with the reader's others, for whoever takes them.
    pub(crate) fn warn(&self, msg: String) {
        if let Ok(mut w) = self.warnings.lock()
            && w.seen.insert(msg.clone())
        {
            w.pending.push(msg);
        }
    }

    fn duplicate(&self, d: &Duplicate) -> Result<()> {
        let Duplicate { key, first, again } = d;
        match self.duplicates {
            DuplicateKeys::Ignore => Ok(()),
            DuplicateKeys::Error => Err(Error::invalid_help(
                again,
                format!("duplicate mapping key `{key}` (first at {first})"),
                "keep one of them; `duplicate_dict_key = warn` in the configuration makes this a warning (the last one wins)",
            )),
            DuplicateKeys::Warn => {
                let msg = format!(
                    "{again}: duplicate mapping key `{key}` (first at {first}): using the last defined value only"
                );
                if let Ok(mut w) = self.warnings.lock()
                    && w.seen.insert(msg.clone())
                {
                    w.pending.push(msg);
                }
                Ok(())
            }
        }
    }
}

/// Parse one YAML document from `text`, attributing locations to `file`. An empty document
/// is `Null`. Scalars resolve as PyYAML (YAML 1.1) resolves them, as Ansible sees them. A
/// key written twice in one mapping is last-wins without a word: read files that people
/// write through a [`Reader`], which reports it.
pub fn parse(text: &str, file: &Path) -> Result<Node> {
    parse_with(text, file, &Vault::new())
}

/// [`parse`], decrypting `!vault` scalars with `vault`.
pub fn parse_with(text: &str, file: &Path, vault: &Vault) -> Result<Node> {
    parse_inner(text, file, vault).map(|(node, _)| node)
}

/// A key written twice in one mapping.
struct Duplicate {
    key: String,
    first: Loc,
    again: Loc,
}

/// The document and the duplicate keys found in it.
fn parse_inner(text: &str, file: &Path, vault: &Vault) -> Result<(Node, Vec<Duplicate>)> {
    let mut duplicates = Vec::new();
    let file: Arc<Path> = Arc::from(file);
    if text.len() > MAX_INPUT_BYTES {
        return Err(Error::syntax(
            &Loc::new(file, 0, 0),
            format!("YAML input is larger than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    let mut b = Builder {
        anchors: HashMap::new(),
        budget: MAX_NODES,
    };
    let mut parser = Parser::new_from_str(text);
    let mut doc: Option<Node> = None;
    let mut stack: Vec<Frame> = Vec::new();
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            Error::syntax(
                &Loc::new(file.clone(), m.line() as u32, m.col() as u32 + 1),
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        let loc = Loc::new(
            file.clone(),
            span.start.line() as u32,
            span.start.col() as u32 + 1,
        );
        let done: Option<Node> = match ev {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
            Event::DocumentStart(..) => {
                if doc.is_some() {
                    return Err(Error::syntax(
                        &loc,
                        "more than one YAML document in this file (expected one)",
                    ));
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let kind = resolve_scalar(&value, style, tag.as_deref(), &loc, vault)?;
                let node = Node { loc, kind };
                b.anchor(anchor, &node)?;
                Some(node)
            }
            Event::Alias(id) => Some(b.alias(id, &loc)?),
            Event::SequenceStart(_, anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::syntax(
                        &loc,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(Frame::Seq(loc, anchor, Vec::new()));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::syntax(
                        &loc,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(Frame::Map(loc, anchor, Vec::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(loc, anchor, items)) => {
                    let node = Node {
                        loc,
                        kind: Kind::Seq(items),
                    };
                    b.anchor(anchor, &node)?;
                    Some(node)
                }
                _ => return Err(Error::syntax(&loc, "unbalanced YAML sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(loc, anchor, entries, _)) => {
                    duplicates.extend(duplicate_keys(&entries).into_iter().map(
                        |(first, again)| Duplicate {
                            key: again.key_str().unwrap_or_default(),
                            first: first.loc.clone(),
                            again: again.loc.clone(),
                        },
                    ));
                    let node = Node {
                        loc,
                        kind: Kind::Map(merge_keys(entries)?),
                    };
                    b.anchor(anchor, &node)?;
                    Some(node)
                }
                _ => return Err(Error::syntax(&loc, "unbalanced YAML mapping")),
            },
            _ => None, // comments, anchor metadata
        };
        if let Some(node) = done {
            b.spend(1, &node.loc)?;
            match stack.last_mut() {
                None => doc = Some(node),
                Some(Frame::Seq(_, _, items)) => items.push(node),
                Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
    let doc = doc.unwrap_or_else(|| Node::synthetic(Kind::Null, &Loc::new(file, 1, 1)));
    Ok((doc, duplicates))
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() as u32 + 1;
        let col = good.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
        Error::syntax(
            &Loc::new(Arc::from(path), line, col),
            "file is not valid UTF-8",
        )
    })
}

/// The UTF-8 plain text of vault text `text` found at `loc`.
fn decrypt(vault: &Vault, text: &str, loc: &Loc) -> Result<String> {
    use crate::vault::VaultError as E;
    let (plain, _) = vault.decrypt(text).map_err(|e| match e {
        E::NoSecrets | E::Decrypt { .. } | E::UnknownId(_) => Error::invalid_help(
            loc,
            e.to_string(),
            "give the vault password with --vault-password-file, --vault-id or --ask-vault-pass",
        ),
        _ => Error::invalid(loc, e.to_string()),
    })?;
    String::from_utf8(plain)
        .map_err(|_| Error::invalid(loc, "the decrypted vault data is not valid UTF-8"))
}

/// An inline `!vault` value's plain text, or a locked value when no given secret opens it
/// (malformed vault text stays a load-time error).
fn decrypt_inline(vault: &Vault, text: &str, loc: &Loc) -> Result<String> {
    use crate::vault::VaultError as E;
    match vault.decrypt(text) {
        Ok((plain, _)) => String::from_utf8(plain)
            .map_err(|_| Error::invalid(loc, "the decrypted vault data is not valid UTF-8")),
        Err(e @ (E::NoSecrets | E::Decrypt { .. } | E::UnknownId(_))) => {
            Ok(crate::vault::locked::locked(&e, loc))
        }
        Err(_) => decrypt(vault, text, loc),
    }
}

/// The keys written twice in one mapping, as (first, again) pairs in source order. Keys
/// brought in by a `<<` merge do not count: overriding them is what a merge key is for
/// (Ansible warns about those too, as it checks after merging).
fn duplicate_keys(entries: &[(Node, Node)]) -> Vec<(&Node, &Node)> {
    let mut seen: HashMap<(u8, String), &Node> = HashMap::new();
    let mut out = Vec::new();
    for (k, _) in entries {
        let id = match &k.kind {
            Kind::Str(s) if s == "<<" => continue,
            Kind::Str(s) => (0, s.clone()),
            Kind::Int(i) => (1, i.to_string()),
            Kind::Float(f) => (2, f.to_bits().to_string()),
            Kind::Bool(b) => (3, b.to_string()),
            Kind::Null => (4, String::new()),
            Kind::Seq(_) | Kind::Map(_) => continue,
        };
        match seen.get(&id) {
            Some(first) => out.push((*first, k)),
            None => {
                seen.insert(id, k);
            }
        }
    }
    out
}

/// The most nodes one document may expand to (aliases included): an alias bomb stops here.
pub const MAX_NODES: usize = 2_000_000;

enum Frame {
    Seq(Loc, usize, Vec<Node>),
    Map(Loc, usize, Vec<(Node, Node)>, Option<Node>),
}

struct Builder {
    anchors: HashMap<usize, (Node, usize)>,
    budget: usize,
}

impl Builder {
    fn spend(&mut self, n: usize, loc: &Loc) -> Result<()> {
        if n > self.budget {
            return Err(Error::syntax(
                loc,
                format!("YAML expands to more than {MAX_NODES} nodes (alias bomb?)"),
            ));
        }
        self.budget -= n;
        Ok(())
    }

    fn anchor(&mut self, id: usize, node: &Node) -> Result<()> {
        if id != 0 {
            self.anchors.insert(id, (node.clone(), node.count()));
        }
        Ok(())
    }

    fn alias(&mut self, id: usize, loc: &Loc) -> Result<Node> {
        let (node, count) = match self.anchors.get(&id) {
            Some(x) => x.clone(),
            None => return Err(Error::syntax(loc, "alias to an unknown anchor")),
        };
        // The node itself is counted by the caller.
        self.spend(count.saturating_sub(1), loc)?;
        Ok(node)
    }
}

impl Node {
    fn count(&self) -> usize {
        1 + match &self.kind {
            Kind::Seq(items) => items.iter().map(Node::count).sum(),
            Kind::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
            _ => 0,
        }
    }
}

/// Expand `<<` merge keys as PyYAML does: explicit keys win over merged ones, and among
/// merged mappings the earlier one wins. Later duplicate explicit keys replace earlier ones.
fn merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>> {
    let is_merge = |k: &Node| matches!(&k.kind, Kind::Str(s) if s == "<<");
    let has_merge = entries.iter().any(|(k, _)| is_merge(k));
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let push = |out: &mut Vec<(Node, Node)>, k: Node, v: Node, replace: bool| match out
        .iter()
        .position(|(ek, _)| ek.kind == k.kind)
    {
        Some(i) if replace => out[i] = (k, v),
        Some(_) => {}
        None => out.push((k, v)),
    };
    if has_merge {
        for (k, v) in &entries {
            if !is_merge(k) {
                continue;
            }
            let sources: Vec<&Node> = match &v.kind {
                Kind::Map(_) => vec![v],
                Kind::Seq(items) => items.iter().collect(),
                _ => {
                    return Err(Error::syntax(
                        &v.loc,
                        "a merge key `<<` needs a mapping or a list of mappings",
                    ));
                }
            };
            for src in sources {
                let Kind::Map(m) = &src.kind else {
                    return Err(Error::syntax(
                        &src.loc,
                        "a merge key `<<` needs a mapping or a list of mappings",
                    ));
                };
                for (mk, mv) in m {
                    push(&mut out, mk.clone(), mv.clone(), false);
                }
            }
        }
    }
    for (k, v) in entries {
        if !is_merge(&k) {
            push(&mut out, k, v, true);
        }
    }
    Ok(out)
}

/// An `!unsafe` string as a template that renders to exactly that string, so that no
/// later templating evaluates it (Ansible's `AnsibleUnsafe`, lib/ansible/parsing/yaml/
/// constructor.py): Jinja markers go inside `{% raw %}` blocks. A string without markers
/// stays as it is.
fn unsafe_literal(value: &str) -> String {
    if !["{{", "{%", "{#"].iter().any(|m| value.contains(m)) {
        return value.to_string();
    }
    const END: &str = "{% endraw %}";
    let parts: Vec<String> = value
        .split(END)
        .map(|p| format!("{{% raw %}}{p}{END}"))
        .collect();
    parts.join("{{ '{% endraw %}' }}")
}

fn resolve_scalar(
    value: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    loc: &Loc,
    vault: &Vault,
) -> Result<Kind> {
    if let Some(tag) = tag {
        let suffix = tag.suffix();
        if tag.is_yaml_core_schema() {
            return match suffix {
                "str" => Ok(Kind::Str(value.to_string())),
                "null" => Ok(Kind::Null),
                "bool" | "int" | "float" => match plain_scalar(value) {
                    k @ (Kind::Bool(_) | Kind::Int(_) | Kind::Float(_))
                        if k.type_matches(suffix) =>
                    {
                        Ok(k)
                    }
                    _ => Err(Error::syntax(
                        loc,
                        format!("`{value}` is not a valid !!{suffix}"),
                    )),
                },
                _ => Ok(Kind::Str(value.to_string())),
            };
        }
        // Ansible's `!unsafe` marks a string that must never be templated; `!vault` is
        // vault text, decrypted here, or locked when no secret opens it (see
        // `vault::locked`: using it fails, as in ansible-core 2.19).
        return match suffix {
            "unsafe" => Ok(Kind::Str(unsafe_literal(value))),
            "vault" => decrypt_inline(vault, value, loc).map(Kind::Str),
            other => Err(Error::syntax(loc, format!("unknown YAML tag `!{other}`"))),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Kind::Str(value.to_string()));
    }
    Ok(plain_scalar(value))
}

impl Kind {
    fn type_matches(&self, suffix: &str) -> bool {
        matches!(
            (self, suffix),
            (Kind::Bool(_), "bool")
                | (Kind::Int(_), "int")
                | (Kind::Float(_), "float")
                | (Kind::Int(_), "float")
        )
    }
}

/// PyYAML's implicit resolvers (YAML 1.1), in its order.
fn plain_scalar(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Kind::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Kind::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Kind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Kind::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = yaml11_int(s) {
        return Kind::Int(i);
    }
    if let Some(f) = yaml11_float(s) {
        return Kind::Float(f);
    }
    Kind::Str(s.to_string())
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn yaml11_int(s: &str) -> Option<i64> {
    let (neg, body) = split_sign(s);
    if body.is_empty() {
        return None;
    }
    let digits = |d: &str, ok: fn(char) -> bool| -> Option<String> {
        if d.is_empty() || !d.chars().all(|c| ok(c) || c == '_') {
            return None;
        }
        let d: String = d.chars().filter(|c| *c != '_').collect();
        if d.is_empty() { None } else { Some(d) }
    };
    let magnitude: i64 = if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(&digits(b, |c| c == '0' || c == '1')?, 2).ok()?
    } else if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(&digits(h, |c| c.is_ascii_hexdigit())?, 16).ok()?
    } else if body == "0" {
        0
    } else if let Some(o) = body.strip_prefix('0') {
        i64::from_str_radix(&digits(o, |c| ('0'..='7').contains(&c))?, 8).ok()?
    } else if body.contains(':') {
        // sexagesimal: 190:20:30
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !first.starts_with(|c: char| ('1'..='9').contains(&c)) {
            return None;
        }
        let mut acc: i64 = digits(first, |c| c.is_ascii_digit())?.parse().ok()?;
        for p in parts {
            if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: i64 = p.parse().ok()?;
            if v > 59 {
                return None;
            }
            acc = acc.checked_mul(60)?.checked_add(v)?;
        }
        acc
    } else {
        if !body.starts_with(|c: char| ('1'..='9').contains(&c)) {
            return None;
        }
        digits(body, |c| c.is_ascii_digit())?.parse().ok()?
    };
    Some(if neg { -magnitude } else { magnitude })
}

fn yaml11_float(s: &str) -> Option<f64> {
    let (neg, body) = split_sign(s);
    // PyYAML needs a dot: `1e3` is a string, `1.0e+3` a float.
    if !body.contains('.') || body.contains(':') {
        return None;
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = mantissa.split_once('.')?;
    if !int_part.chars().all(|c| c.is_ascii_digit() || c == '_')
        || !frac.chars().all(|c| c.is_ascii_digit() || c == '_')
        || (int_part.is_empty() && frac.is_empty())
        || int_part.starts_with('_')
    {
        return None;
    }
    if let Some(e) = exp {
        let (_, ed) = split_sign(e);
        if !(e.starts_with('+') || e.starts_with('-'))
            || ed.is_empty()
            || !ed.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let v: f64 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// How Python's `str(float)` spells a float JSON cannot hold.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s, Path::new("t.yml")).unwrap()
    }

    #[test]
    fn yaml_1_1_scalars() {
        let n = p("a: yes\nb: no\nc: on\nd: off\ne: 0644\nf: 'yes'\ng: ~\nh: 1.5\n");
        let v = n.to_value();
        assert_eq!(v["a"], true);
        assert_eq!(v["b"], false);
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], false);
        assert_eq!(v["e"], 420);
        assert_eq!(v["f"], "yes");
        assert_eq!(v["g"], Value::Null);
        assert_eq!(v["h"], 1.5);
    }

    #[test]
    fn locations_and_merge_keys() {
        let n = p("base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2\nlist:\n  - one\n  - two\n");
        assert_eq!(n.to_value()["other"], serde_json::json!({"x": 1, "y": 2}));
        let two = &n.get("list").unwrap().as_seq().unwrap()[1];
        assert_eq!((two.loc.line, two.loc.col), (8, 5));
        assert_eq!(&*two.loc.file, Path::new("t.yml"));
        let y = n.get("other").unwrap().get("y").unwrap();
        assert_eq!(y.loc.line, 5);
    }

    #[test]
    fn errors_are_located() {
        let e = parse("a: 1\nb: [1, 2\nc: 3\n", Path::new("bad.yml")).unwrap_err();
        let loc = e.loc().unwrap();
        assert_eq!(&*loc.file, Path::new("bad.yml"));
        assert!(loc.line >= 2, "{e} at {loc}");
    }

    #[test]
    fn pyyaml_resolution() {
        let v = p("a: y\nb: n\nc: 1e3\nd: 1.0e+3\ne: 0x1F\nf: 190:20:30\ng: YeS\nh: 1_000\ni: !!str 12\nj: \"0644\"\nk: 010\nl: 09\n").to_value();
        assert_eq!(v["a"], "y");
        assert_eq!(v["b"], "n");
        assert_eq!(v["c"], "1e3");
        assert_eq!(v["d"], 1000.0);
        assert_eq!(v["e"], 31);
        assert_eq!(v["f"], 685230);
        assert_eq!(v["g"], "YeS");
        assert_eq!(v["h"], 1000);
        assert_eq!(v["i"], "12");
        assert_eq!(v["j"], "0644");
        assert_eq!(v["k"], 8);
        assert_eq!(v["l"], "09");
    }

    #[test]
    fn several_documents_are_refused() {
        assert!(parse("a: 1\n---\nb: 2\n", Path::new("m.yml")).is_err());
        assert!(parse("", Path::new("e.yml")).unwrap().is_null());
    }

    #[test]
    fn duplicate_keys_warn_with_both_places_by_default() {
        let r = Reader::default();
        let text = "- hosts: all\n  tasks:\n    - debug: msg=one\n  tasks:\n    - debug: msg=two\n      name: a\n      name: b\n";
        let n = r.parse(text, Path::new("pb.yml")).unwrap();
        // Last wins, as in PyYAML.
        assert_eq!(n.to_value()[0]["tasks"][0]["debug"], "msg=two");
        assert_eq!(n.to_value()[0]["tasks"][0]["name"], "b");
        let w = r.take_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[1].starts_with("pb.yml:7:7: duplicate mapping key `name` (first at pb.yml:6:7)"),
            "{w:?}"
        );
        assert!(
            w[0].starts_with("pb.yml:4:3: duplicate mapping key `tasks` (first at pb.yml:2:3)"),
            "{w:?}"
        );
        assert!(r.take_warnings().is_empty(), "taken once");
        // The same file read again does not warn again.
        r.parse(text, Path::new("pb.yml")).unwrap();
        assert!(r.take_warnings().is_empty());
        // Keys that resolve alike are the same key; different types are not.
        r.parse("a: 1\nyes: x\ntrue: y\n1: x\n'1': y\n", Path::new("v.yml"))
            .unwrap();
        let w = r.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("v.yml:3:1: duplicate mapping key `True`"),
            "{w:?}"
        );
    }

    #[test]
    fn duplicate_keys_error_or_ignore() {
        let e = Reader::new(DuplicateKeys::Error)
            .parse("a: 1\nb: 2\na: 3\n", Path::new("v.yml"))
            .unwrap_err();
        let loc = e.loc().unwrap();
        assert_eq!((loc.line, loc.col), (3, 1));
        assert!(e.to_string().contains("`a` (first at v.yml:1:1)"), "{e}");
        // The first in source order, though the inner mapping ends first.
        let e = Reader::new(DuplicateKeys::Error)
            .parse("a:\n  x: 1\n  x: 2\na: 3\n", Path::new("v.yml"))
            .unwrap_err();
        assert_eq!(e.loc().unwrap().line, 3, "{e}");
        let e = Reader::new(DuplicateKeys::Error)
            .parse("a: 1\na:\n  x: 1\n  x: 2\n", Path::new("v.yml"))
            .unwrap_err();
        assert_eq!(e.loc().unwrap().line, 2, "{e}");
        let r = Reader::new(DuplicateKeys::Ignore);
        assert_eq!(
            r.parse("a: 1\na: 3\n", Path::new("v.yml"))
                .unwrap()
                .to_value()["a"],
            3
        );
        assert!(r.take_warnings().is_empty());
        // Plain `parse` stays last-wins and quiet (data, not files people write).
        assert_eq!(
            parse("a: 1\na: 3\n", Path::new("v.yml"))
                .unwrap()
                .to_value()["a"],
            3
        );
        assert!("warn".parse::<DuplicateKeys>().is_ok());
        assert!("Warn".parse::<DuplicateKeys>().is_err());
    }

    #[test]
    fn overriding_a_merged_key_is_not_a_duplicate() {
        let r = Reader::new(DuplicateKeys::Error);
        let n = r
            .parse(
                "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  <<: {z: 0}\n  x: 3\n",
                Path::new("m.yml"),
            )
            .unwrap();
        assert_eq!(
            n.to_value()["other"],
            serde_json::json!({"x": 3, "y": 2, "z": 0})
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        assert!(parse(bomb, Path::new("bomb.yml")).is_err());
    }
}
