//! Python-literal values, as Ansible's INI inventory reads `key=value`.
//!
//! Why this module exists: Ansible's INI plugin passes every value through Python's
//! `ast.literal_eval` and keeps the raw text when that fails, so `ansible_port=2222` is an
//! integer, `x=True` a boolean, `x=[1, 2]` a list and `x=true` or `x=0644` stay strings.
//! [`literal_or_string`] reproduces that: it accepts exactly the Python literal grammar that
//! has a JSON equivalent (numbers, strings, `True`/`False`/`None`, lists, tuples, dicts)
//! and falls back to the text itself for everything else.

use serde_json::{Map, Value};

/// `text` evaluated as a Python literal, or `text` as a string when it is not one.
pub fn literal_or_string(text: &str) -> Value {
    match eval(text) {
        Some(v) => v,
        None => Value::String(text.to_string()),
    }
}

/// `text` as a Python literal (`ast.literal_eval`), if it is one with a JSON equivalent.
pub fn eval(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        depth: 0,
    };
    p.skip_ws();
    let first = p.expr()?;
    p.skip_ws();
    // `1, 2` is a tuple at the top level.
    let v = if p.peek() == Some(b',') {
        let mut items = vec![first];
        while p.eat(b',') {
            p.skip_ws();
            if p.at_end() {
                break;
            }
            items.push(p.expr()?);
            p.skip_ws();
        }
        Value::Array(items)
    } else {
        first
    };
    p.skip_ws();
    if p.at_end() { Some(v) } else { None }
}

const MAX_DEPTH: usize = 100;

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Whitespace, newlines and `#` comments, as Python's tokenizer skips them.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.i += 1,
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn expr(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = self.unary();
        self.depth -= 1;
        v
    }

    fn unary(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            b'-' => {
                self.i += 1;
                negate(self.operand_number()?)
            }
            b'+' => {
                self.i += 1;
                self.operand_number()
            }
            _ => self.atom(),
        }
    }

    /// The operand of a unary sign: a number, possibly parenthesised or signed again.
    fn operand_number(&mut self) -> Option<Value> {
        let v = self.unary()?;
        v.is_number().then_some(v)
    }

    fn atom(&mut self) -> Option<Value> {
        self.skip_ws();
        let c = self.peek()?;
        match c {
            b'[' => {
                self.i += 1;
                Some(Value::Array(self.items(b']')?.0))
            }
            b'(' => {
                self.i += 1;
                let (items, trailing_comma) = self.items(b')')?;
                if items.len() == 1 && !trailing_comma {
                    items.into_iter().next()
                } else {
                    Some(Value::Array(items))
                }
            }
            b'{' => {
                self.i += 1;
                self.dict()
            }
            b'0'..=b'9' | b'.' => self.number(),
            b'\'' | b'"' => self.strings(),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
                    self.i += 1;
                }
                let word = &self.src[start..self.i];
                if matches!(self.peek(), Some(b'\'' | b'"')) && word.len() <= 2 {
                    self.i = start;
                    return self.strings();
                }
                match word {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated expressions up to `close`; whether a trailing comma was seen.
    fn items(&mut self, close: u8) -> Option<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Some((items, trailing));
            }
            items.push(self.expr()?);
            self.skip_ws();
            trailing = self.eat(b',');
            if !trailing {
                self.skip_ws();
                return self.eat(close).then_some((items, false));
            }
        }
    }

    fn dict(&mut self) -> Option<Value> {
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                return Some(Value::Object(map));
            }
            let key = match self.expr()? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "True" } else { "False" }.to_string(),
                Value::Null => "None".to_string(),
                // Lists are unhashable; a set literal `{1, 2}` has no JSON form either.
                _ => return None,
            };
            self.skip_ws();
            if !self.eat(b':') {
                return None;
            }
            let value = self.expr()?;
            map.insert(key, value);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                return self.eat(b'}').then_some(Value::Object(map));
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
            || (matches!(self.peek(), Some(b'+' | b'-'))
                && matches!(self.s.get(self.i.wrapping_sub(1)), Some(b'e' | b'E'))
                && !self.src[start..self.i].starts_with("0x")
                && !self.src[start..self.i].starts_with("0X"))
        {
            self.i += 1;
        }
        parse_number(&self.src[start..self.i])
    }

    /// One or more adjacent string literals (Python concatenates them).
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        let mut any = false;
        loop {
            self.skip_ws();
            let start = self.i;
            while matches!(self.peek(), Some(c) if c.is_ascii_alphabetic()) {
                self.i += 1;
            }
            let prefix = self.src[start..self.i].to_ascii_lowercase();
            if !matches!(self.peek(), Some(b'\'' | b'"')) {
                self.i = start;
                break;
            }
            // Bytes and f-strings have no plain-string value.
            let raw = match prefix.as_str() {
                "" | "u" => false,
                "r" => true,
                _ => return None,
            };
            out.push_str(&self.string_body(raw)?);
            any = true;
        }
        any.then_some(Value::String(out))
    }

    fn string_body(&mut self, raw: bool) -> Option<String> {
        let q = self.peek()?;
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let rest = &self.src[self.i..];
            let c = rest.chars().next()?;
            if triple {
                if rest.as_bytes().starts_with(&[q, q, q]) {
                    self.i += 3;
                    return Some(out);
                }
            } else if c as u32 == q as u32 {
                self.i += 1;
                return Some(out);
            } else if c == '\n' {
                return None;
            }
            if c == '\\' {
                let next = rest[1..].chars().next()?;
                if raw {
                    out.push('\\');
                    out.push(next);
                    self.i += 1 + next.len_utf8();
                    continue;
                }
                self.i += 1;
                self.escape(&mut out)?;
                continue;
            }
            out.push(c);
            self.i += c.len_utf8();
        }
    }

    /// The escape after a backslash (already consumed), as Python's string literals read it.
    fn escape(&mut self, out: &mut String) -> Option<()> {
        let rest = &self.src[self.i..];
        let c = rest.chars().next()?;
        self.i += c.len_utf8();
        let simple = match c {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(ch) = simple {
            out.extend(ch);
            return Some(());
        }
        let hex = |p: &mut Self, n: usize| -> Option<char> {
            let digits = p.src.get(p.i..p.i + n)?;
            if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            p.i += n;
            char::from_u32(u32::from_str_radix(digits, 16).ok()?)
        };
        match c {
            'x' => out.push(hex(self, 2)?),
            'u' => out.push(hex(self, 4)?),
            'U' => out.push(hex(self, 8)?),
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            self.i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v)?);
            }
            // `\N{NAME}` needs the Unicode name table; not worth it for inventories.
            'N' => return None,
            other => {
                out.push('\\');
                out.push(other);
            }
        }
        Some(())
    }
}

fn negate(v: Value) -> Option<Value> {
    if let Some(i) = v.as_i64() {
        return Some(Value::from(i.checked_neg()?));
    }
    if let Some(u) = v.as_u64() {
        // -(2**63) fits although 2**63 does not fit an i64.
        if u == 1 << 63 {
            return Some(Value::from(i64::MIN));
        }
        return None;
    }
    serde_json::Number::from_f64(-v.as_f64()?).map(Value::Number)
}

/// A Python number token (no sign): ints in any base with `_` separators, floats.
fn parse_number(tok: &str) -> Option<Value> {
    let valid_underscores = |d: &str| !d.starts_with('_') && !d.ends_with('_') && !d.contains("__");
    let lower = tok.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(d) = lower.strip_prefix(prefix) {
            let d = d.strip_prefix('_').unwrap_or(d);
            if d.is_empty() || !valid_underscores(d) {
                return None;
            }
            let clean: String = d.chars().filter(|c| *c != '_').collect();
            return u64::from_str_radix(&clean, radix).ok().map(Value::from);
        }
    }
    if lower.ends_with('j') {
        return None; // complex
    }
    let is_float = lower.contains(['.', 'e']);
    if !lower
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '_' | '.' | 'e' | '+' | '-'))
    {
        return None;
    }
    if is_float {
        let (mant, exp) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        let (int_part, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if int_part.is_empty() && frac.is_empty() {
            return None;
        }
        for part in [int_part, frac] {
            if !part.is_empty() && (!valid_underscores(part) || part.contains(['+', '-'])) {
                return None;
            }
        }
        if let Some(e) = exp {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty()
                || !valid_underscores(digits)
                || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
            {
                return None;
            }
        }
        let clean: String = lower.chars().filter(|c| *c != '_').collect();
        let f: f64 = clean.parse().ok()?;
        return serde_json::Number::from_f64(f).map(Value::Number);
    }
    if !valid_underscores(&lower) || lower.contains(['+', '-']) {
        return None;
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    // Python 3 refuses leading zeros on non-zero decimals (`0644`).
    if clean.len() > 1 && clean.starts_with('0') && clean.chars().any(|c| c != '0') {
        return None;
    }
    clean.parse::<u64>().ok().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars() {
        assert_eq!(literal_or_string("2222"), json!(2222));
        assert_eq!(literal_or_string("-5"), json!(-5));
        assert_eq!(literal_or_string("1_000"), json!(1000));
        assert_eq!(literal_or_string("0x1F"), json!(31));
        assert_eq!(literal_or_string("0o17"), json!(15));
        assert_eq!(literal_or_string("1.5"), json!(1.5));
        assert_eq!(literal_or_string("1e3"), json!(1000.0));
        assert_eq!(literal_or_string("True"), json!(true));
        assert_eq!(literal_or_string("False"), json!(false));
        assert_eq!(literal_or_string("None"), Value::Null);
        assert_eq!(literal_or_string("true"), json!("true"));
        assert_eq!(literal_or_string("yes"), json!("yes"));
        assert_eq!(literal_or_string("0644"), json!("0644"));
        assert_eq!(literal_or_string("1.2.3.4"), json!("1.2.3.4"));
        assert_eq!(literal_or_string("10.0.0.1/24"), json!("10.0.0.1/24"));
        assert_eq!(literal_or_string("1j"), json!("1j"));
        assert_eq!(literal_or_string("inf"), json!("inf"));
        assert_eq!(literal_or_string(""), json!(""));
    }

    #[test]
    fn strings() {
        assert_eq!(literal_or_string("'5'"), json!("5"));
        assert_eq!(literal_or_string("\"a b\""), json!("a b"));
        assert_eq!(literal_or_string("'a' \"b\""), json!("ab"));
        assert_eq!(literal_or_string(r"'a\nb'"), json!("a\nb"));
        assert_eq!(literal_or_string(r"r'a\nb'"), json!("a\\nb"));
        assert_eq!(literal_or_string(r"'\d'"), json!("\\d"));
        assert_eq!(literal_or_string(r"'\x41\u00e9'"), json!("Aé"));
        assert_eq!(literal_or_string("b'x'"), json!("b'x'"));
        assert_eq!(literal_or_string("f'x'"), json!("f'x'"));
        assert_eq!(literal_or_string("'unterminated"), json!("'unterminated"));
    }

    #[test]
    fn containers_and_comments() {
        assert_eq!(literal_or_string("[1, 'a', None]"), json!([1, "a", null]));
        assert_eq!(literal_or_string("(1,)"), json!([1]));
        assert_eq!(literal_or_string("(1)"), json!(1));
        assert_eq!(literal_or_string("1, 2"), json!([1, 2]));
        assert_eq!(
            literal_or_string("{'a': 1, 2: [True]}"),
            json!({"a": 1, "2": [true]})
        );
        assert_eq!(literal_or_string("{1, 2}"), json!("{1, 2}"));
        assert_eq!(literal_or_string("5 # port"), json!(5));
        assert_eq!(literal_or_string("abc # x"), json!("abc # x"));
        assert_eq!(literal_or_string("[1, 2"), json!("[1, 2"));
    }
}
