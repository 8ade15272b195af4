//! Line endings of a rendered template file, as Jinja and Ansible make them.
//!
//! Why this exists: Jinja's lexer makes every line ending of the template text `\n` and
//! then writes the text's own newlines as `newline_sequence` (`_normalize_newlines` in
//! `jinja2/lexer.py`); newlines inside printed values are left alone. Ansible then gives
//! back trailing newlines the render lost (`_post_render_mutation` in
//! `lib/ansible/_internal/_templating/_engine.py`). minijinja has no `newline_sequence`, so
//! printed values have their newlines marked while rendering ([`mark`]) and the output is
//! converted afterwards ([`restore`]).

use std::borrow::Cow;

/// Marks a value's newline (`MARK` `n`) or a value's own `MARK` (`MARK` `e`) in the output.
/// A private-use character; a template whose text holds it gets no marks.
pub(crate) const MARK: char = '\u{E000}';

/// Every line ending (`\r\n`, `\r`, `\n`) as `\n`, as Jinja's lexer reads a template.
pub(crate) fn normalize(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Jinja's `trim_blocks` does not remove the newline after a `{% raw %}` tag (its lexer's
/// `raw_begin` rule has no block suffix, `jinja2/lexer.py`); minijinja's does, unless the
/// tag ends in `+%}`. This writes that `+` into each plain raw tag of `src`, with the
/// syntax's block delimiters `start` and `end`.
pub(crate) fn keep_newline_after_raw<'s>(src: &'s str, start: &str, end: &str) -> Cow<'s, str> {
    if !src.contains("raw") || start.is_empty() || end.is_empty() {
        return Cow::Borrowed(src);
    }
    let mut out = String::new();
    let mut done = 0;
    let mut from = 0;
    while let Some(at) = src[from..].find(start).map(|i| i + from) {
        from = at + start.len();
        let rest = &src[from..];
        let tag = rest.strip_prefix(['-', '+']).unwrap_or(rest).trim_start();
        let Some(after) = tag.strip_prefix("raw") else {
            continue;
        };
        let inner = after.trim_start();
        if !inner.starts_with(end) {
            // `rawx`, or `raw -%}` / `raw +%}` with their own whitespace control
            continue;
        }
        let end_at = src.len() - inner.len();
        out.push_str(&src[done..end_at]);
        out.push('+');
        done = end_at;
        // The block's text is literal up to its `endraw` (a raw tag in it is text).
        from = raw_block_end(src, end_at, start);
    }
    if done == 0 {
        return Cow::Borrowed(src);
    }
    out.push_str(&src[done..]);
    Cow::Owned(out)
}

/// Where the raw block whose opening tag ends at `from` closes: just after the start
/// delimiter of its first `endraw` tag (Jinja's lexer ends a raw block there), or the end.
fn raw_block_end(src: &str, from: usize, start: &str) -> usize {
    let mut at = from;
    while let Some(i) = src[at..].find(start).map(|i| i + at) {
        at = i + start.len();
        let rest = &src[at..];
        let tag = rest.strip_prefix(['-', '+']).unwrap_or(rest).trim_start();
        if tag.starts_with("endraw") {
            return at;
        }
    }
    src.len()
}

/// A printed value with its newlines (and marks) marked.
pub(crate) fn mark(s: &str) -> Cow<'_, str> {
    if !s.contains(['\n', MARK]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => {
                out.push(MARK);
                out.push('n');
            }
            MARK => {
                out.push(MARK);
                out.push('e');
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The output with the template's own newlines as `nl` and the values' unmarked.
pub(crate) fn restore(out: &str, nl: &str) -> String {
    let mut s = String::with_capacity(out.len() + out.len() / 16);
    let mut chars = out.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => s.push_str(nl),
            MARK => match chars.next() {
                Some('n') => s.push('\n'),
                Some('e') => s.push(MARK),
                Some(o) => {
                    s.push(MARK);
                    s.push(o);
                }
                None => s.push(MARK),
            },
            c => s.push(c),
        }
    }
    s
}

/// Ansible's `_post_render_mutation`: when the source ends in more `\n` than the output,
/// the difference is appended as `nl` (the task's `newline_sequence`). Only `\n`s are
/// counted, as `_count_newlines_from_end` does.
pub(crate) fn pad_trailing(source: &str, mut out: String, nl: &str) -> String {
    let count = |s: &str| s.bytes().rev().take_while(|b| *b == b'\n').count();
    let (want, have) = (count(source), count(&out));
    for _ in have..want {
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_newlines() {
        let out = format!("a={}\nb\n", mark("x\ny"));
        assert_eq!(restore(&out, "\r\n"), "a=x\ny\r\nb\r\n");
        assert_eq!(restore(&mark("\u{E000}"), "\r"), "\u{E000}");
        assert_eq!(normalize("a\r\nb\rc\n"), "a\nb\nc\n");
        assert_eq!(pad_trailing("end\n\n", "end\r".into(), "\r"), "end\r\r\r");
        assert_eq!(pad_trailing("x\n", "x\n".into(), "\r\n"), "x\n");
        let raw = |s| keep_newline_after_raw(s, "{%", "%}").into_owned();
        assert_eq!(raw("{% raw %}\nx{% endraw %}"), "{% raw +%}\nx{% endraw %}");
        // a raw tag inside a raw block is text
        assert_eq!(
            raw("{% raw %}{% raw %}x{% endraw %}"),
            "{% raw +%}{% raw %}x{% endraw %}"
        );
        assert_eq!(
            raw("{%- raw%}{%raw -%}{% rawx %}"),
            "{%- raw+%}{%raw -%}{% rawx %}"
        );
    }
}
