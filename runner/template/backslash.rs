//! Ansible's backslash rule for templates that come from YAML: inside `{{ }}`, a string
//! constant keeps its backslashes (`'\1'` stays a backslash and a 1, not `\x01`).
//!
//! Why this module exists: Ansible's `AnsibleLexer`
//! (`lib/ansible/_internal/_templating/_jinja_bits.py`) doubles every backslash in the string
//! tokens of `{{ }}` expressions before Jinja unescapes them, so backslashes are processed
//! once, by YAML. It does not apply to `{% %}` statements, to conditionals (`when:`,
//! `that:`, evaluated with `escape_backslashes=False` in `_engine.py`), nor to template
//! files (the template module and lookup pass `escape_backslashes=False`). minijinja
//! unescapes string constants as Jinja does, so the source is rewritten to the same effect.

use std::borrow::Cow;

/// `src` with each string constant inside `{{ }}` written so minijinja reads its backslashes
/// literally.
pub(crate) fn escape(src: &str) -> Cow<'_, str> {
    if !src.contains('\\') {
        return Cow::Borrowed(src);
    }
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 8);
    let mut i = 0;
    let mut in_var = false;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if !in_var {
            if c == '{' && next == Some('{') {
                in_var = true;
                out.push_str("{{");
                i += 2;
                continue;
            }
            if c == '{' && matches!(next, Some('%') | Some('#')) {
                // copy a statement or comment through as is
                let close = if next == Some('%') { '%' } else { '#' };
                let end = (i + 2..b.len().saturating_sub(1))
                    .find(|&j| b[j] == close && b[j + 1] == '}')
                    .map_or(b.len(), |j| j + 2);
                out.extend(&b[i..end]);
                i = end;
                continue;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '}' && next == Some('}') {
            in_var = false;
            out.push_str("}}");
            i += 2;
            continue;
        }
        if c == '\'' || c == '"' {
            i = copy_string(&b, i, &mut out);
            continue;
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

/// Copies the string constant opening at `b[start]`, each backslash doubled (a backslash
/// before the closing quote stays an escape of it, as Jinja's lexer tokenizes it); returns
/// the index after the constant.
fn copy_string(b: &[char], start: usize, out: &mut String) -> usize {
    let quote = b[start];
    out.push(quote);
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == quote {
            out.push(c);
            return i + 1;
        }
        if c == '\\' && i + 1 < b.len() {
            let n = b[i + 1];
            out.push_str("\\\\");
            if n == '\\' {
                out.push_str("\\\\");
            } else if n == quote {
                out.push('\\');
                out.push(n);
            } else {
                out.push(n);
            }
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn doubles_backslashes_in_expression_strings_only() {
        assert_eq!(escape(r"{{ x | f('\1') }}"), r"{{ x | f('\\1') }}");
        assert_eq!(escape(r"a\1 {{ 'it\'s' }}"), r"a\1 {{ 'it\\\'s' }}");
        assert_eq!(
            escape(r"{% set a = '\n' %}{{ a }}"),
            r"{% set a = '\n' %}{{ a }}"
        );
        assert_eq!(escape(r"{{ '\\' }}"), r"{{ '\\\\' }}");
    }
}
