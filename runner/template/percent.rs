//! Python's `%` operator in templates: `'%s-%03d' % (a, n)` formats a string, `7 % 3` is
//! still modulo.
//!
//! Why this module exists: Jinja2 hands `%` to Python, where a string on the left means
//! printf-style formatting (`str.__mod__`); Ansible content relies on it. minijinja's VM does
//! integer/float modulo only and has no operator hook for strings, so before compiling, the
//! source is rewritten: each `L % R` inside `{{ }}`/`{% %}` (or a bare expression) becomes
//! `__windlass_mod(L, R)`, a global that formats when `L` is a string and otherwise runs
//! minijinja's own `%`. The operands are found with Jinja2's precedence
//! (`jinja2/parser.py`: `parse_math2` takes `*`, `/`, `//`, `%` left to right over
//! `parse_pow`/`parse_unary`, whose filters and tests stay with their operand). Regions
//! without a `%` operator are left byte for byte as written.

use std::borrow::Cow;

/// The global the rewrite calls (see [`super::pyformat`]).
pub(crate) const MOD_FN: &str = "__windlass_mod";

/// The global a binary `-` becomes in an expression that makes datetimes (`to_datetime`,
/// `now()`), so that two datetimes subtract to a timedelta (see [`super::datetime`]).
pub(crate) const SUB_FN: &str = "__windlass_sub";

/// Whether an expression makes datetimes, so its `-` is rewritten too.
fn makes_datetimes(src: &str) -> bool {
    src.contains("to_datetime") || src.contains("now(")
}

/// `src` (template text) with every `%` operator inside `{{ }}` and `{% %}` rewritten.
pub(crate) fn rewrite_template(src: &str) -> Cow<'_, str> {
    if !src.contains('%') && !makes_datetimes(src) {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 16);
    let (mut i, mut copied) = (0, 0);
    let mut changed = false;
    while i + 1 < b.len() {
        if b[i] != b'{' || !matches!(b[i + 1], b'{' | b'%' | b'#') {
            i += 1;
            continue;
        }
        let close = match b[i + 1] {
            b'{' => b'}',
            c => c,
        };
        if close == b'#' {
            i = find(b, i + 2, b"#}").map_or(b.len(), |j| j + 2);
            continue;
        }
        let Some(end) = tag_end(b, i + 2, close) else {
            break;
        };
        let (mut s, mut e) = (i + 2, end);
        if s < e && matches!(b[s], b'-' | b'+') {
            s += 1;
        }
        if e > s && matches!(b[e - 1], b'-' | b'+') {
            e -= 1;
        }
        if close == b'%' && is_raw(&src[s..e]) {
            i = raw_end(src, end);
            continue;
        }
        if let Cow::Owned(new) = rewrite_expr(&src[s..e]) {
            out.push_str(&src[copied..s]);
            out.push_str(&new);
            copied = e;
            changed = true;
        }
        i = end + 2;
    }
    if !changed {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
}

/// A bare expression (or the inside of a tag) with its `%` operators rewritten.
pub(crate) fn rewrite_expr(src: &str) -> Cow<'_, str> {
    let sub = makes_datetimes(src);
    if !src.contains('%') && !sub {
        return Cow::Borrowed(src);
    }
    let toks = tokenize(src);
    if !sub
        && !toks
            .iter()
            .any(|t| t.kind == Kind::Op && &src[t.s..t.e] == "%")
    {
        return Cow::Borrowed(src);
    }
    let mut idx = 0;
    let items = parse_level(src, &toks, &mut idx, sub, 0);
    if idx != toks.len() {
        // unbalanced brackets: leave it to minijinja to report
        return Cow::Borrowed(src);
    }
    let (from, to) = (0, src.len());
    match level_text(src, &items, from, to, sub) {
        Some(t) if t != src => Cow::Owned(t),
        _ => Cow::Borrowed(src),
    }
}

fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    (from..b.len().saturating_sub(pat.len() - 1)).find(|&j| &b[j..j + pat.len()] == pat)
}

/// Where the closing `}}`/`%}` of a tag starting at `from` is (strings skipped).
fn tag_end(b: &[u8], from: usize, close: u8) -> Option<usize> {
    let mut j = from;
    while j + 1 < b.len() {
        match b[j] {
            q @ (b'\'' | b'"') => j = string_end(b, j, q),
            c if c == close && b[j + 1] == b'}' => return Some(j),
            _ => j += 1,
        }
    }
    None
}

/// The index just past the string literal opened at `j` by quote `q`.
fn string_end(b: &[u8], j: usize, q: u8) -> usize {
    let mut k = j + 1;
    while k < b.len() && b[k] != q {
        k += if b[k] == b'\\' { 2 } else { 1 };
    }
    (k + 1).min(b.len())
}

fn is_raw(body: &str) -> bool {
    body.trim() == "raw"
}

/// Just past the `{% endraw %}` after `from`.
fn raw_end(src: &str, from: usize) -> usize {
    let b = src.as_bytes();
    let mut j = from;
    while let Some(k) = find(b, j, b"{%") {
        let Some(e) = tag_end(b, k + 2, b'%') else {
            break;
        };
        let body = src[k + 2..e].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if body == "endraw" {
            return e + 2;
        }
        j = e + 2;
    }
    b.len()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Str,
    Num,
    Name,
    Op,
    Open,
    Close,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    s: usize,
    e: usize,
}

fn tokenize(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let (kind, e) = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => (Kind::Str, string_end(b, i, c)),
            b'0'..=b'9' => (Kind::Num, word_end(b, i, true)),
            _ if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                (Kind::Name, word_end(b, i, false))
            }
            b'(' | b'[' | b'{' => (Kind::Open, i + 1),
            b')' | b']' | b'}' => (Kind::Close, i + 1),
            _ => (Kind::Op, op_end(b, i)),
        };
        toks.push(Tok { kind, s: i, e });
        i = e;
    }
    toks
}

fn word_end(b: &[u8], i: usize, num: bool) -> usize {
    let mut j = i + 1;
    while j < b.len()
        && (b[j] == b'_' || b[j].is_ascii_alphanumeric() || b[j] >= 0x80 || (num && b[j] == b'.'))
    {
        j += 1;
    }
    j
}

fn op_end(b: &[u8], i: usize) -> usize {
    const TWO: [&[u8]; 6] = [b"**", b"//", b"==", b"!=", b"<=", b">="];
    if i + 1 < b.len() && TWO.contains(&&b[i..i + 2]) {
        i + 2
    } else {
        // one (possibly multi-byte) character
        let mut j = i + 1;
        while j < b.len() && (b[j] & 0xC0) == 0x80 {
            j += 1;
        }
        j
    }
}

/// A token, or a bracketed group with its inside already rewritten.
#[derive(Debug)]
struct Item {
    tok: Tok,
    /// The group's text (brackets included), rewritten; `None` for a plain token.
    group: Option<String>,
}

impl Item {
    fn text<'a>(&'a self, src: &'a str) -> &'a str {
        self.group
            .as_deref()
            .unwrap_or(&src[self.tok.s..self.tok.e])
    }
}

/// The items up to the next unmatched closing bracket (left at `*idx`).
fn parse_level(src: &str, toks: &[Tok], idx: &mut usize, sub: bool, depth: usize) -> Vec<Item> {
    let mut items = Vec::new();
    if depth > MAX_NESTING {
        // deeper than minijinja parses: report as not fully parsed
        *idx = toks.len() + 1;
        return items;
    }
    while let Some(&t) = toks.get(*idx) {
        match t.kind {
            Kind::Close => break,
            Kind::Open => {
                *idx += 1;
                let inner = parse_level(src, toks, idx, sub, depth + 1);
                let Some(&close) = toks.get(*idx) else {
                    // unbalanced: report as not fully parsed
                    *idx = toks.len() + 1;
                    return items;
                };
                *idx += 1;
                let body = level_text(src, &inner, t.e, close.s, sub)
                    .unwrap_or_else(|| src[t.e..close.s].to_owned());
                let text = format!("{}{body}{}", &src[t.s..t.e], &src[close.s..close.e]);
                let tok = Tok {
                    kind: Kind::Open,
                    s: t.s,
                    e: close.e,
                };
                items.push(Item {
                    tok,
                    group: Some(text),
                });
            }
            _ => {
                *idx += 1;
                items.push(Item {
                    tok: t,
                    group: None,
                });
            }
        }
    }
    items
}

/// Names that end an operand (Jinja keywords and statement words), except `is`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "if",
    "else",
    "elif",
    "in",
    "for",
    "set",
    "as",
    "import",
    "from",
    "include",
    "extends",
    "with",
    "without",
    "context",
    "recursive",
    "macro",
    "call",
    "filter",
    "block",
    "do",
    "ignore",
    "missing",
];

const MULT: &[&str] = &["*", "/", "//", "%"];

/// Bracket nesting the pass follows (hostile input must not exhaust the stack).
const MAX_NESTING: usize = 200;

/// Whether item `k` separates multiplicative chains (an operator of lower precedence).
fn separates(src: &str, items: &[Item], k: usize) -> bool {
    let it = &items[k];
    let t = it.text(src);
    match it.tok.kind {
        Kind::Name => {
            let after_is = k > 0 && items[k - 1].text(src) == "is";
            KEYWORDS.contains(&t) && !(t == "not" && after_is)
        }
        Kind::Op => match t {
            "-" => k > 0 && ends_operand(src, &items[k - 1]),
            "." | "|" | "**" => false,
            _ => !MULT.contains(&t),
        },
        _ => false,
    }
}

fn ends_operand(src: &str, it: &Item) -> bool {
    match it.tok.kind {
        Kind::Str | Kind::Num | Kind::Open | Kind::Close => true,
        Kind::Name => !KEYWORDS.contains(&it.text(src)) && it.text(src) != "is",
        Kind::Op => false,
    }
}

/// The text between `from` and `to` covered by `items`, each chain with a `%` rewritten
/// (and with `sub`, each binary `-`); `None` when an operator lacks an operand (minijinja
/// then reports the syntax error).
fn level_text(src: &str, items: &[Item], from: usize, to: usize, sub: bool) -> Option<String> {
    let mut out = String::new();
    let mut pos = from;
    let mut k = 0;
    let n = items.len();
    while k < n {
        if separates(src, items, k) {
            push_item(&mut out, src, &mut pos, &items[k]);
            k += 1;
            continue;
        }
        // an additive run: multiplicative chains joined by `+`/`-` (only followed with `sub`)
        let (before, start) = (pos, items[k].tok.s);
        let mut acc = String::new();
        let mut op = "";
        loop {
            let end = (k..n).find(|&j| separates(src, items, j)).unwrap_or(n);
            let mut chain = String::new();
            let mut p = items[k].tok.s;
            chain_text(&mut chain, src, &mut p, &items[k..end])?;
            acc = match op {
                "" => chain,
                "-" => format!("{SUB_FN}({acc}, {chain})"),
                _ => format!("{acc} {op} {chain}"),
            };
            pos = items[end - 1].tok.e;
            k = end;
            let additive = k + 1 < n
                && matches!(items[k].text(src), "+" | "-")
                && items[k].tok.kind == Kind::Op
                && !separates(src, items, k + 1);
            if !(sub && additive) {
                break;
            }
            op = items[k].text(src);
            k += 1;
        }
        out.push_str(&src[before..start]);
        out.push_str(&acc);
    }
    out.push_str(&src[pos..to]);
    Some(out)
}

fn push_item(out: &mut String, src: &str, pos: &mut usize, it: &Item) {
    out.push_str(&src[*pos..it.tok.s]);
    out.push_str(it.text(src));
    *pos = it.tok.e;
}

/// The text of a run of items, as written.
fn run_text(src: &str, items: &[Item]) -> String {
    let mut out = String::new();
    let mut pos = items[0].tok.s;
    for it in items {
        push_item(&mut out, src, &mut pos, it);
    }
    out
}

/// One multiplicative chain: folded left to right, `%` becoming a call.
fn chain_text(out: &mut String, src: &str, pos: &mut usize, chain: &[Item]) -> Option<()> {
    let is_op = |it: &Item| it.tok.kind == Kind::Op && MULT.contains(&it.text(src));
    let has_mod = chain
        .iter()
        .enumerate()
        .any(|(j, it)| it.text(src) == "%" && j > 0);
    if !has_mod {
        for it in chain {
            push_item(out, src, pos, it);
        }
        return Some(());
    }
    // operands split at the operators (a leading `-`/`+` stays with its operand)
    let mut parts: Vec<(&str, &[Item])> = Vec::new();
    let mut start = 0;
    let mut op = "";
    for (j, it) in chain.iter().enumerate() {
        if j > start && is_op(it) {
            parts.push((op, &chain[start..j]));
            op = it.text(src);
            start = j + 1;
        }
    }
    if start >= chain.len() {
        return None;
    }
    parts.push((op, &chain[start..]));
    out.push_str(&src[*pos..chain[0].tok.s]);
    let mut acc = run_text(src, parts[0].1);
    for (op, operand) in &parts[1..] {
        let rhs = run_text(src, operand);
        acc = if *op == "%" {
            format!("{MOD_FN}({acc}, {rhs})")
        } else {
            format!("{acc} {op} {rhs}")
        };
    }
    out.push_str(&acc);
    *pos = chain[chain.len() - 1].tok.e;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_operands_by_precedence() {
        assert_eq!(rewrite_expr("'%s' % x"), "__windlass_mod('%s', x)");
        assert_eq!(
            rewrite_expr("'%s-%03d' % ('a', n) ~ 'z'"),
            "__windlass_mod('%s-%03d', ('a', n)) ~ 'z'"
        );
        assert_eq!(
            rewrite_expr("a * b % c | int"),
            "__windlass_mod(a * b, c | int)"
        );
        assert_eq!(
            rewrite_expr("x - y % 2 == 0"),
            "x - __windlass_mod(y, 2) == 0"
        );
        assert_eq!(rewrite_expr("-y % 2"), "__windlass_mod(-y, 2)");
        assert_eq!(rewrite_expr("f(a % b, c)"), "f(__windlass_mod(a, b), c)");
        assert_eq!(
            rewrite_expr("a % b % c"),
            "__windlass_mod(__windlass_mod(a, b), c)"
        );
        assert_eq!(rewrite_expr("'100%'"), "'100%'");
        assert_eq!(rewrite_expr("a - b"), "a - b");
        assert_eq!(
            rewrite_expr("(a | to_datetime) - b + c - d * 2 ~ x - y"),
            "__windlass_sub(__windlass_sub((a | to_datetime), b) + c, d * 2) ~ __windlass_sub(x, y)"
        );
        assert_eq!(rewrite_expr("now() - -1"), "__windlass_sub(now(), -1)");
        assert_eq!(
            rewrite_expr("x is not none and 'a%d' % 1"),
            "x is not none and __windlass_mod('a%d', 1)"
        );
    }

    #[test]
    fn rewrites_inside_tags_only() {
        assert_eq!(
            rewrite_template("50% {{- 'v%s' % n -}} {% if i % 2 %}odd{% endif %}"),
            "50% {{- __windlass_mod('v%s', n) -}} {% if __windlass_mod(i, 2) %}odd{% endif %}"
        );
        assert_eq!(
            rewrite_template("{% raw %}{{ a % b }}{% endraw %}{# a % b #}"),
            "{% raw %}{{ a % b }}{% endraw %}{# a % b #}"
        );
        assert!(matches!(rewrite_template("{{ a }} 100%"), Cow::Borrowed(_)));
        let deep = format!(
            "{{{{ {}1 % 2{} }}}}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(matches!(rewrite_template(&deep), Cow::Borrowed(_)));
    }
}
