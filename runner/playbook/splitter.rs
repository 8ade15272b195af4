//! Ansible's splitting of a module's string arguments into words, and their joining back
//! into a free-form command: a model of `split_args` and `join_args` in ansible-core's
//! `lib/ansible/parsing/splitter.py` (2.19).
//!
//! Why this file exists: `shell: |` with a multi-line script is everyday Ansible, and the
//! script that runs must be the one the user wrote. Ansible splits on single spaces and on
//! newlines only (a tab stays inside its word), glues words back together while inside
//! quotes or a Jinja block (counted per word, as Ansible counts them), keeps runs of spaces
//! and every newline on the word before them, and drops a lone `\` before a newline (a line
//! continuation). [`join_args`] then rebuilds the command text exactly. A simpler
//! whitespace split turned a script's newlines into spaces (`set -e\ncd /var\npwd` ran as
//! `set -e cd /var pwd`).

/// Ansible's `split_args`: the words of `args`; `None` when a quote or a Jinja block is
/// left open (Ansible: "failed at splitting arguments, either an unbalanced jinja2 block or
/// quotes").
pub(crate) fn split_args(args: &str) -> Option<Vec<String>> {
    let mut params: Vec<String> = Vec::new();
    if args.is_empty() {
        return Some(params);
    }
    let items: Vec<&str> = args.split('\n').collect();
    let mut quote: Option<char> = None;
    let (mut print, mut block, mut comment) = (0usize, 0usize, 0usize);
    for (item_idx, item) in items.iter().enumerate() {
        let mut continuation = false;
        for (idx, token) in item.split(' ').enumerate() {
            if token.is_empty() && idx != 0 {
                // a run of spaces: kept on the word before it
                last(&mut params).push(' ');
                continue;
            }
            if token == "\\" && quote.is_none() {
                continuation = true;
                continue;
            }
            let was_quoted = quote.is_some();
            quote = quote_state(token, quote);
            let quoted = quote.is_some();
            let in_jinja = print + block + comment > 0;
            let mut appended = false;
            if quoted && !was_quoted && !in_jinja {
                params.push(token.to_string());
                appended = true;
            } else if in_jinja || quoted || was_quoted {
                let p = last(&mut params);
                if idx > 0 {
                    p.push(' ');
                }
                p.push_str(token);
                appended = true;
            }
            for (depth, open, close) in [
                (&mut print, "{{", "}}"),
                (&mut block, "{%", "%}"),
                (&mut comment, "{#", "#}"),
            ] {
                let before = *depth;
                *depth = jinja_depth(token, before, open, close);
                if *depth != before && !appended {
                    params.push(token.to_string());
                    appended = true;
                }
            }
            if print + block + comment == 0 && !quoted && !appended && !token.is_empty() {
                params.push(token.to_string());
            }
        }
        if items.len() > 1 && item_idx != items.len() - 1 && !continuation {
            last(&mut params).push('\n');
        }
    }
    if print + block + comment > 0 || quote.is_some() {
        return None;
    }
    Some(params)
}

/// Ansible's `join_args`: the words joined by a space, except after a word that ends a line.
pub(crate) fn join_args<S: AsRef<str>>(words: &[S]) -> String {
    let mut out = String::new();
    for w in words {
        if !(out.is_empty() || out.ends_with('\n')) {
            out.push(' ');
        }
        out.push_str(w.as_ref());
    }
    out
}

/// The last word, made when there is none yet (as Ansible appends `''` first).
fn last(params: &mut Vec<String>) -> &mut String {
    if params.is_empty() {
        params.push(String::new());
    }
    params.last_mut().expect("pushed")
}

/// Ansible's `_get_quote_state`: the open quote after `token`, given the one open before
/// it (a quote character after a backslash does not count).
fn quote_state(token: &str, mut quote: Option<char>) -> Option<char> {
    let mut prev: Option<char> = None;
    for c in token.chars() {
        if (c == '"' || c == '\'') && prev != Some('\\') {
            match quote {
                Some(q) if q == c => quote = None,
                Some(_) => {}
                None => quote = Some(c),
            }
        }
        prev = Some(c);
    }
    quote
}

/// Ansible's `_count_jinja2_blocks`: the depth after `token` (never below zero).
fn jinja_depth(token: &str, depth: usize, open: &str, close: &str) -> usize {
    let (o, c) = (token.matches(open).count(), token.matches(close).count());
    if o == c {
        depth
    } else {
        (depth + o).saturating_sub(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_args(s).expect("balanced")
    }

    #[test]
    // Every expectation here is what ansible-core 2.19's split_args/join_args return for the
    // same input (checked with the conformance venv's Python).
    fn words_quotes_and_jinja_as_ansible_splits_them() {
        assert_eq!(split(r#"a=b c="foo bar""#), ["a=b", r#"c="foo bar""#]);
        assert_eq!(split("a='b c' d"), ["a='b c'", "d"]);
        assert_eq!(
            split("msg={{ a b }} x=\"{{ c }}\""),
            ["msg={{ a b }}", "x=\"{{ c }}\""]
        );
        assert_eq!(split("a=\"x\\\"y z\" b"), ["a=\"x\\\"y z\"", "b"]);
        assert_eq!(
            split("{% if x %}a{% endif %} b"),
            ["{% if x %}a{% endif %}", "b"]
        );
        assert_eq!(split(""), Vec::<String>::new());
        assert!(split_args("a='b").is_none());
        assert!(split_args("{{ a").is_none());
    }

    #[test]
    fn newlines_spaces_and_tabs_survive_the_round_trip() {
        for script in [
            "set -e\ncd /var\npwd\n",
            "echo a  b",
            "printf 'a\\tb'\tc",
            "echo 'one\ntwo' three\n\nfour",
            "x\n  indented\n",
        ] {
            assert_eq!(join_args(&split(script)), script, "{script:?}");
        }
        assert_eq!(split("set -e\ncd /var"), ["set", "-e\n", "cd", "/var"]);
        assert_eq!(split("a\tb c"), ["a\tb", "c"]);
    }

    #[test]
    fn a_lone_backslash_continues_the_line() {
        assert_eq!(
            join_args(&split("openssl req \\\n  -x509 -nodes")),
            "openssl req  -x509 -nodes"
        );
        assert_eq!(split(" lead"), ["lead"]);
        assert_eq!(split("a 'b\n c' d"), ["a", "'b\n c'", "d"]);
        assert_eq!(split("'a b'c d"), ["'a b'c", "d"]);
        assert_eq!(split("x\n  indented\n"), ["x\n ", "indented\n"]);
    }
}
