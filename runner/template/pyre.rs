//! Regular expressions with Python `re` semantics, for the regex filters and tests.
//!
//! Why this module exists: Ansible's `regex_replace`, `regex_search`, `regex_findall` and the
//! `match`/`search`/`regex` tests hand the pattern to Python's `re` (see
//! `lib/ansible/plugins/filter/core.py` and `lib/ansible/plugins/test/core.py`), so playbooks
//! use backreferences (`(\w)\1`) and look-around (`(?<=x)`), which the `regex` crate refuses.
//! `fancy-regex` accepts them and still hands patterns that need no backtracking to the
//! linear-time `regex` engine. Replacement templates follow `re.sub` (`\1`, `\g<1>`,
//! `\g<name>`, `\n`), expanded here rather than with the crate's `$` syntax.

use fancy_regex::{Captures, Regex, RegexBuilder};
use minijinja::Error;

use super::filters::err;

/// Compiles `pattern` with Python's `re.IGNORECASE`/`re.MULTILINE` flags.
pub(crate) fn compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, Error> {
    RegexBuilder::new(&py_pattern(pattern))
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| err(format!("invalid regular expression '{pattern}': {e}")))
}

/// Python spellings the Rust engines write differently: `\Z` (end of text) is `\z`.
fn py_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => out.push_str("\\z"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A matching error (backtrack limit exceeded) as a template error.
pub(crate) fn run_err(e: fancy_regex::Error) -> Error {
    err(format!("regular expression failed: {e}"))
}

/// `re.sub(pattern, repl, s, count)`: `count` 0 replaces every match.
pub(crate) fn sub(re: &Regex, repl: &str, s: &str, count: usize) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (n, caps) in re.captures_iter(s).enumerate() {
        if count != 0 && n >= count {
            break;
        }
        let caps = caps.map_err(run_err)?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        expand(re, repl, &caps, &mut out)?;
        last = m.end();
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// Expands a `re.sub` replacement template for one match.
pub(crate) fn expand(
    re: &Regex,
    repl: &str,
    caps: &Captures<'_, str>,
    out: &mut String,
) -> Result<(), Error> {
    let b: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c != '\\' || i + 1 >= b.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = b[i + 1];
        i += 2;
        match n {
            '0'..='9' => {
                let mut num = n.to_digit(10).unwrap_or(0) as usize;
                if i < b.len() && b[i].is_ascii_digit() {
                    num = num * 10 + b[i].to_digit(10).unwrap_or(0) as usize;
                    i += 1;
                }
                push_group(re, caps, &num.to_string(), out)?;
            }
            'g' if b.get(i) == Some(&'<') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == '>')
                    .ok_or_else(|| err("missing >, unterminated name in replacement"))?;
                let name: String = b[i + 1..i + end].iter().collect();
                push_group(re, caps, &name, out)?;
                i += end + 1;
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            '\\' => out.push('\\'),
            other if other.is_ascii_alphabetic() => {
                return Err(err(format!("bad escape \\{other} in replacement")));
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(())
}

/// A group by number or name; an unmatched group is empty (Python 3.5+).
fn push_group(
    re: &Regex,
    caps: &Captures<'_, str>,
    name: &str,
    out: &mut String,
) -> Result<(), Error> {
    let m = match name.parse::<usize>() {
        Ok(i) if i < caps.len() => caps.get(i),
        Ok(i) => return Err(err(format!("invalid group reference {i}"))),
        Err(_) => {
            if !re.capture_names().flatten().any(|n| n == name) {
                return Err(err(format!("unknown group name '{name}'")));
            }
            caps.name(name)
        }
    };
    if let Some(m) = m {
        out.push_str(m.as_str());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{compile, sub};

    #[test]
    fn python_re_sub_semantics() {
        let re = compile(r"(?P<w>\w)\1", false, false).unwrap();
        assert_eq!(
            sub(&re, r"<\g<w>\g<1>\1>", "aa-bc-dd", 0).unwrap(),
            "<aaa>-bc-<ddd>"
        );
        assert_eq!(sub(&re, "x", "aa-dd", 1).unwrap(), "x-dd");
        let look = compile(r"(?<=a)b(?!c)", false, false).unwrap();
        assert_eq!(sub(&look, "B", "ab abc", 0).unwrap(), "aB abc");
        assert!(sub(&re, r"\q", "aa", 0).is_err());
        let end = compile(r"x\Z", false, false).unwrap();
        assert_eq!(sub(&end, "y", "xx", 0).unwrap(), "xy");
    }
}
