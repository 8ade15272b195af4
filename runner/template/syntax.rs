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
}

impl Default for TemplateSyntax {
    fn default() -> Self {
        TemplateSyntax {
            block: ("{%".into(), "%}".into()),
            variable: ("{{".into(), "}}".into()),
            comment: ("{#".into(), "#}".into()),
            trim_blocks: true,
            lstrip_blocks: false,
        }
    }
}

impl TemplateSyntax {
    /// Whether these are the options every other render uses.
    pub fn is_default(&self) -> bool {
        *self == TemplateSyntax::default()
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
        self.config().map(|_| ())
    }

    /// The minijinja syntax (with `keep_trailing_newline`, as every windlass render).
    pub(crate) fn config(&self) -> Result<SyntaxConfig, String> {
        SyntaxConfig::builder()
            .block_delimiters(self.block.0.clone(), self.block.1.clone())
            .variable_delimiters(self.variable.0.clone(), self.variable.1.clone())
            .comment_delimiters(self.comment.0.clone(), self.comment.1.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            .keep_trailing_newline(true)
            .build()
            .map_err(|e| format!("invalid template delimiters: {e}"))
    }
}
