//! YAML output as Ansible's `to_yaml` / `to_nice_yaml` (PyYAML's dumper) writes it.
//!
//! Why this module exists: templates write config files with these filters and users diff
//! the result against what Ansible produced, so key order (sorted), indentation (PyYAML's
//! indentless sequences), flow style for leaf collections and scalar quoting follow PyYAML.

use minijinja::Error;
use serde_json::Value as J;

/// How to dump: PyYAML's `indent`, `sort_keys`, `width`, and `flow_leaves` for
/// `default_flow_style=None` (collections of scalars inline; else block style throughout).
#[derive(Clone, Copy)]
pub(crate) struct Opts {
    pub(crate) indent: usize,
    pub(crate) flow_leaves: bool,
    pub(crate) sort_keys: bool,
    pub(crate) width: usize,
}

thread_local! {
    static OPTS: std::cell::Cell<Opts> = const {
        std::cell::Cell::new(Opts { indent: 2, flow_leaves: true, sort_keys: true, width: 80 })
    };
}

/// Dumps `v` as PyYAML's `yaml.dump` with `o`.
pub(crate) fn dump(v: &J, o: Opts) -> Result<String, Error> {
    let prev = OPTS.with(|c| c.replace(o));
    let r = to_yaml(v, o.indent, o.flow_leaves);
    OPTS.with(|c| c.set(prev));
    r
}

fn to_yaml(v: &J, indent: usize, flow_leaves: bool) -> Result<String, Error> {
    let indent = indent.clamp(2, 9);
    let mut out = String::new();
    match v {
        J::Array(a) if block(v, flow_leaves) => seq(a, indent, 0, flow_leaves, &mut out),
        J::Object(m) if block(v, flow_leaves) => map(m, indent, 0, flow_leaves, &mut out),
        J::Array(_) | J::Object(_) => {
            flow(v, &mut out, indent);
            out.push('\n');
        }
        scalar_v => {
            out.push_str(&scalar(scalar_v));
            out.push('\n');
            if !matches!(scalar_v, J::String(s) if s.contains('\n')) {
                out.push_str("...\n");
            }
        }
    }
    Ok(out)
}

/// Whether a value is written in block style (a non-empty collection, unless it is a leaf
/// collection and leaves are flow-styled).
fn block(v: &J, flow_leaves: bool) -> bool {
    let empty = match v {
        J::Array(a) => a.is_empty(),
        J::Object(m) => m.is_empty(),
        _ => true,
    };
    !(empty || (flow_leaves && is_leaf(v)))
}

fn is_leaf(v: &J) -> bool {
    match v {
        J::Array(a) => a.iter().all(|x| !matches!(x, J::Array(_) | J::Object(_))),
        J::Object(m) => m.values().all(|x| !matches!(x, J::Array(_) | J::Object(_))),
        _ => true,
    }
}

fn sorted(m: &serde_json::Map<String, J>) -> Vec<(&String, &J)> {
    let mut e: Vec<_> = m.iter().collect();
    if OPTS.with(|c| c.get().sort_keys) {
        e.sort_by(|a, b| a.0.cmp(b.0));
    }
    e
}

/// A collection in flow style, as PyYAML's emitter writes it (`emitter.py`): items after
/// `[`/`{` separated by `, `; when the line has passed the width after the opening bracket
/// or a `,` (`expect_first_flow_sequence_item`, `expect_flow_sequence_item`,
/// `expect_flow_mapping_key`: `if self.column > self.best_width: self.write_indent()`), a
/// line break and `indent` spaces, PyYAML's indent inside this collection; a nested one
/// indents one step more. Plain and single-quoted values fold at a space past the width
/// (`write_plain`, `write_single_quoted`), continuing one step in; keys do not fold.
fn flow(v: &J, out: &mut String, indent: usize) {
    let step = OPTS.with(|c| c.get().indent).clamp(2, 9);
    let width = OPTS.with(|c| c.get().width);
    let (open, close, items): (char, char, Vec<(Option<&String>, &J)>) = match v {
        J::Array(a) => ('[', ']', a.iter().map(|x| (None, x)).collect()),
        J::Object(m) => (
            '{',
            '}',
            sorted(m).into_iter().map(|(k, x)| (Some(k), x)).collect(),
        ),
        other => {
            let written = flow_value(other, out, indent, width);
            out.push_str(&written);
            return;
        }
    };
    out.push(open);
    for (i, (k, x)) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if column(out) > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        } else if i > 0 {
            out.push(' ');
        }
        if let Some(k) = k {
            out.push_str(&str_scalar(k, true));
            out.push_str(": ");
        }
        match x {
            J::Array(_) | J::Object(_) => flow(x, out, indent + step),
            // a scalar is a node of its own: PyYAML's expect_scalar raises the indent
            // for it, so a folded one continues a step further in
            _ => {
                let written = flow_value(x, out, indent + step, width);
                out.push_str(&written);
            }
        }
    }
    out.push(close);
}

/// The column the next character of `out` goes to (PyYAML counts characters).
fn column(out: &str) -> usize {
    out.rsplit('\n').next().map_or(0, |l| l.chars().count())
}

/// A scalar inside a flow collection, written where `out` ends: plain and single-quoted
/// strings fold as in block context, continuing at `indent`.
fn flow_value(v: &J, out: &str, indent: usize, width: usize) -> String {
    let J::String(s) = v else {
        return scalar(v);
    };
    let written = str_scalar(s, true);
    let col = column(out);
    if written.starts_with('\'') {
        let body = s.replace('\'', "''");
        format!("'{}'", fold(&body, col + 1, indent, width, true))
    } else if written.starts_with('"') {
        written
    } else {
        fold(&written, col, indent, width, false)
    }
}

/// Writes a value after "key:" or "- " (the caller wrote that and no newline).
fn nested(v: &J, indent: usize, level: usize, flow_leaves: bool, in_seq: bool, out: &mut String) {
    match v {
        J::Array(a) if block(v, flow_leaves) => {
            out.push('\n');
            // sequences inside mappings are not indented (PyYAML's indentless sequences)
            let l = if in_seq { level + 1 } else { level };
            seq(a, indent, l, flow_leaves, out);
        }
        J::Object(m) if block(v, flow_leaves) => {
            out.push('\n');
            map(m, indent, level + 1, flow_leaves, out);
        }
        J::Array(_) | J::Object(_) => {
            out.push(' ');
            flow(v, out, indent * (level + 1));
            out.push('\n');
        }
        other => {
            out.push(' ');
            let col = out.len() - out.rfind('\n').map_or(0, |i| i + 1);
            out.push_str(&value_scalar(other, col, indent * (level + 1)));
            out.push('\n');
        }
    }
}

/// A block-context scalar starting at column `col`: strings as PyYAML writes them (plain
/// or single-quoted, folded at the width with continuation lines at `cont` spaces).
fn value_scalar(v: &J, col: usize, cont: usize) -> String {
    let J::String(s) = v else {
        return scalar(v);
    };
    let width = OPTS.with(|c| c.get().width);
    let special = s
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\r');
    let multiline = s.contains('\n');
    if special || (multiline && (s.starts_with(' ') || s.contains(" \n") || s.contains("\n "))) {
        return double_quoted(s);
    }
    let quoted = multiline || str_scalar(s, false).starts_with('\'');
    if quoted {
        let body = s.replace('\'', "''");
        return format!("'{}'", fold(&body, col + 1, cont, width, true));
    }
    fold(s, col, cont, width, false)
}

/// PyYAML's folding (`write_plain`/`write_single_quoted`): a single space after a word that
/// ends past `width` becomes a line break and `cont` spaces; in quoted text a line break is
/// written as an empty line.
fn fold(s: &str, mut col: usize, cont: usize, width: usize, quoted: bool) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            let single = chars.get(i + 1) != Some(&' ') && (i == 0 || chars[i - 1] != ' ');
            let inner = i != 0 && i + 1 != chars.len();
            if single && col > width && (inner || !quoted) && i + 1 != chars.len() {
                out.push('\n');
                out.push_str(&" ".repeat(cont));
                col = cont;
                i += 1;
                continue;
            }
            out.push(c);
            col += 1;
        } else if c == '\n' && quoted {
            let mut n = 0;
            while chars.get(i + n) == Some(&'\n') {
                n += 1;
            }
            out.push('\n');
            for _ in 0..n {
                out.push('\n');
            }
            out.push_str(&" ".repeat(cont));
            col = cont;
            i += n;
            continue;
        } else {
            out.push(c);
            col += 1;
        }
        i += 1;
    }
    out
}

fn map(m: &serde_json::Map<String, J>, indent: usize, level: usize, fl: bool, out: &mut String) {
    for (k, v) in sorted(m) {
        out.push_str(&" ".repeat(indent * level));
        out.push_str(&str_scalar(k, false));
        out.push(':');
        nested(v, indent, level, fl, false, out);
    }
}

fn seq(a: &[J], indent: usize, level: usize, fl: bool, out: &mut String) {
    let pad = " ".repeat(indent * level);
    let dash = format!("-{}", " ".repeat(indent - 1));
    for v in a {
        out.push_str(&pad);
        out.push_str(&dash);
        match v {
            J::Object(m) if block(v, fl) => {
                // first key on the dash line, the rest aligned under it
                let mut first = true;
                for (k, x) in sorted(m) {
                    if !first {
                        out.push_str(&" ".repeat(indent * (level + 1)));
                    }
                    first = false;
                    out.push_str(&str_scalar(k, false));
                    out.push(':');
                    nested(x, indent, level + 1, fl, false, out);
                }
            }
            J::Array(inner) if block(v, fl) => {
                out.push('\n');
                seq(inner, indent, level + 1, fl, out);
            }
            // a scalar or flow collection follows the dash after one space (PyYAML pads
            // only block collections to the indent)
            J::Array(_) | J::Object(_) => {
                out.truncate(out.len() - (indent - 1));
                out.push(' ');
                flow(v, out, indent * (level + 1));
                out.push('\n');
            }
            other => {
                out.truncate(out.len() - (indent - 1));
                out.push(' ');
                let col = indent * level + 2;
                out.push_str(&value_scalar(other, col, indent * (level + 1)));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &J) -> String {
    match v {
        J::Null => "null".to_owned(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => str_scalar(s, false),
        J::Array(_) | J::Object(_) => {
            let mut s = String::new();
            flow(v, &mut s, OPTS.with(|c| c.get().indent).clamp(2, 9));
            s
        }
    }
}

/// Whether PyYAML's implicit resolvers (`yaml/resolver.py`: bool, float, int, merge, null,
/// timestamp, value) would read `s` back as something other than a string, so it must be
/// quoted. `10.0.0.1` and `1e5` are strings there; `1.5`, `0x1F`, `1:30` are not.
fn ambiguous(s: &str) -> bool {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(concat!(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
            r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?",
            r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
            r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*",
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
            r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
            r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
            r"|<<|~|null|Null|NULL|=",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
            r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            r")$"
        ))
        .expect("valid regex")
    });
    re.is_match(s)
}

fn str_scalar(s: &str, in_flow: bool) -> String {
    if s.chars()
        .any(|c| c == '\n' || (c.is_control() && c != '\t'))
    {
        return double_quoted(s);
    }
    let first = s.chars().next();
    let needs_quote = s.is_empty()
        || ambiguous(s)
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.contains('\t')
        || matches!(
            first,
            Some(
                '-' | '?'
                    | ':'
                    | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '#'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            )
        ) && !(first == Some('-')
            && s.len() > 1
            && !s[1..].starts_with(' ')
            && !ambiguous(s)
            && s != "---")
        // PyYAML's analyze_scalar: `,?[]{}` and any `:` are flow indicators
        || (in_flow && s.contains([',', '?', '[', ']', '{', '}', ':']));
    if needs_quote {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
