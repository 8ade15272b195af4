//! The Jinja syntax of one template file render: delimiters and block whitespace.
//!
//! Why this exists: the template module lets a task change the delimiters
//! (`variable_start_string`, ...) and `trim_blocks`/`lstrip_blocks` for the one file it
//! renders, as Ansible's action overrides its environment per render
//! (`lib/ansible/plugins/action/template.py` passes `overrides` to `Templar.template`;
//! `lib/ansible/_internal/_templating/_engine.py` `_create_overlay` makes an overlay
//! environment for the top-level template and what it includes; variables templated
//! lazily keep the default syntax). windlass keeps one environment pair per syntax in use,
//! so the common (default) syntax costs nothing extra.

use minijinja::syntax::SyntaxConfig;

/// Jinja syntax options of a template file render, with Ansible's defaults
/// (`TemplateOverrides` in `lib/ansible/_internal/_templating/_jinja_bits.py`:
/// Jinja's delimiters, `trim_blocks` on, `lstrip_blocks` off).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateSyntax {
    /// `{%` and `%}`.
    pub block: (String, String),
    /// `{{` and `}}`.
    pub variable: (String, String),
    /// `{#` and `#}`.
    pub comment: (String, String),
    /// Remove the first newline after a block tag.
    pub trim_blocks: bool,
    /// Strip spaces and tabs from the start of a line to a block tag.
    pub lstrip_blocks: bool,
    /// Line endings of the template's own text in the output: `\n`, `\r\n` or `\r`
    /// (values keep theirs, as Jinja's lexer converts only template data).
    pub newline_sequence: String,
    /// Keep the source's final newline when rendering (Jinja's option; Ansible gives
    /// trailing newlines back anyway, see `super::Templar::render_template_text_with`).
    pub keep_trailing_newline: bool,
    /// Jinja's line statement prefix (a line starting with it is a block), if any.
    pub line_statement_prefix: Option<String>,
    /// Jinja's line comment prefix, if any.
    pub line_comment_prefix: Option<String>,
}

impl Default for TemplateSyntax {
    fn default() -> Self {
        TemplateSyntax {
            block: ("{%".into(), "%}".into()),
            variable: ("{{".into(), "}}".into()),
            comment: ("{#".into(), "#}".into()),
            trim_blocks: true,
            lstrip_blocks: false,
            newline_sequence: "\n".into(),
            keep_trailing_newline: false,
            line_statement_prefix: None,
            line_comment_prefix: None,
        }
    }
}

impl TemplateSyntax {
    /// Whether these are the options every other render uses.
    pub fn is_default(&self) -> bool {
        *self == TemplateSyntax::default()
    }

    /// Apply a template's `#jinja2:` header line (`key: value, ...` with Python literal
    /// values, `_extract_template_overrides` in
    /// `lib/ansible/_internal/_templating/_jinja_bits.py`): the options it sets and the
    /// text after it. Text without the header comes back as it is.
    pub fn with_header<'t>(&self, text: &'t str) -> Result<(TemplateSyntax, &'t str), String> {
        let Some(rest) = text.strip_prefix(HEADER) else {
            return Ok((self.clone(), text));
        };
        let eol = rest
            .find('\n')
            .ok_or_else(|| format!("Missing newline after {HEADER:?} override."))?;
        let mut syntax = self.clone();
        for pair in rest[..eol].split(',') {
            if pair.trim().is_empty() {
                return Err(format!("Empty {HEADER:?} override pair not allowed."));
            }
            let (key, val) = pair.split_once(':').ok_or_else(|| {
                format!("Missing key-value separator `:` in {HEADER:?} override pair {pair:?}.")
            })?;
            syntax.set(key.trim(), &literal(val.trim())?)?;
        }
        Ok((syntax, &rest[eol + 1..]))
    }

    /// Set one option from a header value.
    fn set(&mut self, key: &str, v: &Literal) -> Result<(), String> {
        let text = |v: &Literal| match v {
            Literal::Str(s) => Ok(s.clone()),
            _ => Err(format!("{HEADER:?} override {key} must be a string")),
        };
        let flag = |v: &Literal| match v {
            Literal::Bool(b) => Ok(*b),
            _ => Err(format!("{HEADER:?} override {key} must be True or False")),
        };
        let prefix = |v: &Literal| match v {
            Literal::None => Ok(None),
            v => text(v).map(Some),
        };
        match key {
            "block_start_string" => self.block.0 = text(v)?,
            "block_end_string" => self.block.1 = text(v)?,
            "variable_start_string" => self.variable.0 = text(v)?,
            "variable_end_string" => self.variable.1 = text(v)?,
            "comment_start_string" => self.comment.0 = text(v)?,
            "comment_end_string" => self.comment.1 = text(v)?,
            "line_statement_prefix" => self.line_statement_prefix = prefix(v)?,
            "line_comment_prefix" => self.line_comment_prefix = prefix(v)?,
            "trim_blocks" => self.trim_blocks = flag(v)?,
            "lstrip_blocks" => self.lstrip_blocks = flag(v)?,
            "keep_trailing_newline" => self.keep_trailing_newline = flag(v)?,
            "newline_sequence" => self.newline_sequence = text(v)?,
            _ => return Err(format!("Invalid {HEADER:?} override key {key:?}.")),
        }
        Ok(())
    }

    /// Whether `text` may be a template under this syntax: it has a start string
    /// (`is_possibly_template` in `lib/ansible/_internal/_templating/_jinja_bits.py`).
    pub fn is_possibly_template(&self, text: &str) -> bool {
        [&self.block.0, &self.variable.0, &self.comment.0]
            .iter()
            .any(|m| text.contains(m.as_str()))
    }

    /// Check the options as Ansible does (`TemplateOverrides._post_validate`: the three
    /// start strings differ) and as minijinja can lex them.
    pub fn validate(&self) -> Result<(), String> {
        let (b, v, c) = (&self.block.0, &self.variable.0, &self.comment.0);
        if b == v || v == c || c == b {
            return Err("Block, variable and comment start strings must be different.".into());
        }
        if [b, v, c, &self.block.1, &self.variable.1, &self.comment.1]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err("template delimiters must not be empty".into());
        }
        if !["\n", "\r\n", "\r"].contains(&self.newline_sequence.as_str()) {
            return Err("newline_sequence needs to be one of: \\n, \\r or \\r\\n".into());
        }
        self.config().map(|_| ())
    }

    /// The minijinja syntax (with `keep_trailing_newline`, as every windlass render).
    pub(crate) fn config(&self) -> Result<SyntaxConfig, String> {
        let mut b = SyntaxConfig::builder();
        b.block_delimiters(self.block.0.clone(), self.block.1.clone())
            .variable_delimiters(self.variable.0.clone(), self.variable.1.clone())
            .comment_delimiters(self.comment.0.clone(), self.comment.1.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            .keep_trailing_newline(true);
        if let Some(p) = &self.line_statement_prefix {
            b.line_statement_prefix(p.clone());
        }
        if let Some(p) = &self.line_comment_prefix {
            b.line_comment_prefix(p.clone());
        }
        b.build()
            .map_err(|e| format!("invalid template delimiters: {e}"))
    }
}

/// The prefix of a template's first line that sets syntax options.
pub(crate) const HEADER: &str = "#jinja2:";

/// A Python literal of a header value.
#[derive(Debug, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    None,
}

/// The Python literals a header value can be (`ast.literal_eval`): a quoted string with
/// the common backslash escapes, `True`, `False`, `None`.
fn literal(v: &str) -> Result<Literal, String> {
    match v {
        "True" => return Ok(Literal::Bool(true)),
        "False" => return Ok(Literal::Bool(false)),
        "None" => return Ok(Literal::None),
        _ => {}
    }
    let q = v.chars().next().filter(|c| *c == '\'' || *c == '"');
    let inner = q
        .and_then(|q| v[1..].strip_suffix(q))
        .ok_or_else(|| format!("malformed {HEADER:?} override value {v:?}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(o @ ('\\' | '\'' | '"')) => out.push(o),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    Ok(Literal::Str(out))
}
