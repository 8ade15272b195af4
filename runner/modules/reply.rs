//! The framing of the file modules' probe replies: NUL-terminated `key=value` records,
//! optionally followed by an introducer record and raw content.
//!
//! Why this module exists: a probe reports on paths, link targets, owner names and file
//! contents, all of which a host (or a variable) controls. Newline-separated `key=value`
//! lines let a newline in any of them forge a field: a `dest` of `x\npath=/etc/victim` once
//! redirected a write. No path, name or shell value can hold a NUL byte, so a record ends at
//! the first NUL and nothing a value contains can start another one. Content (any bytes)
//! comes last, after the [`CONTENT`] record, and is never split. The parser accepts exactly
//! this shape and nothing else: a record without `=`, a key outside `[a-z_]`, or bytes after
//! the last NUL are an "unexpected probe output" error, never a guess.
//!
//! The shell side writes records with `printf 'key=%s\0' "$value"` (a shell value cannot
//! hold a NUL), `stat --printf='key=%x\0'`, or `printf 'key='; readlink -n -- "$p";
//! printf '\0'` for tool output that a command substitution would alter.

/// The record after which the rest of the reply is raw content.
pub const CONTENT: &str = "--windlass-content--";

/// A parsed reply: its records in order, and the content after [`CONTENT`], if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reply<'a> {
    /// `(key, value)` records, in the order the host printed them.
    pub records: Vec<(&'a str, &'a [u8])>,
    /// The bytes after the [`CONTENT`] record.
    pub content: Option<&'a [u8]>,
}

/// Split a reply into records (see the module docs).
pub fn parse(out: &[u8]) -> Result<Reply<'_>, String> {
    let mut reply = Reply::default();
    let mut rest = out;
    while !rest.is_empty() {
        let Some(end) = memchr::memchr(0, rest) else {
            return Err(unexpected("a field without its terminator", rest));
        };
        let record = &rest[..end];
        rest = &rest[end + 1..];
        if record == CONTENT.as_bytes() {
            reply.content = Some(rest);
            return Ok(reply);
        }
        let Some(eq) = memchr::memchr(b'=', record) else {
            return Err(unexpected("a field without `=`", record));
        };
        let key = &record[..eq];
        if key.is_empty() || !key.iter().all(|b| b.is_ascii_lowercase() || *b == b'_') {
            return Err(unexpected("a bad field name", record));
        }
        // Checked ASCII above.
        let key = std::str::from_utf8(key).map_err(|_| unexpected("a bad field name", record))?;
        reply.records.push((key, &record[eq + 1..]));
    }
    Ok(reply)
}

/// The "unexpected probe output" error, with a short escaped excerpt of what was found.
pub fn unexpected(what: &str, found: &[u8]) -> String {
    let excerpt: String = found
        .iter()
        .take(80)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    format!("unexpected probe output: {what}: \"{excerpt}\"")
}

impl Reply<'_> {
    /// The value of the one record named `key`; an error when it appears more than once.
    pub fn one(&self, key: &str) -> Result<Option<&[u8]>, String> {
        let mut found = self.records.iter().filter(|(k, _)| *k == key);
        let first = found.next().map(|(_, v)| *v);
        if found.next().is_some() {
            return Err(unexpected("a repeated field", key.as_bytes()));
        }
        Ok(first)
    }

    /// [`Reply::one`] as text (invalid UTF-8 replaced, for names and messages).
    pub fn text(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self
            .one(key)?
            .map(|v| String::from_utf8_lossy(v).into_owned()))
    }

    /// [`Reply::one`] as a number of type `T`; an error when it is not one.
    pub fn num<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.one(key)? {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| unexpected(&format!("{key} is not a number"), v)),
        }
    }

    /// Whether the flag record `key=1` is present (any other value is an error).
    pub fn flag(&self, key: &str) -> Result<bool, String> {
        match self.one(key)? {
            None => Ok(false),
            Some(b"1") => Ok(true),
            Some(v) => Err(unexpected(&format!("{key} is not a flag"), v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_at_nul_and_content_comes_last() {
        let r = parse(b"a=x\ny=1\0b_c=\0--windlass-content--\0raw\0a=2\n").unwrap();
        assert_eq!(r.records, vec![("a", &b"x\ny=1"[..]), ("b_c", &b""[..])]);
        assert_eq!(r.content, Some(&b"raw\0a=2\n"[..]));
        assert_eq!(r.one("a").unwrap(), Some(&b"x\ny=1"[..]));
        assert_eq!(r.one("y").unwrap(), None);
        // A value holding the introducer is a value.
        let r = parse(b"p=--windlass-content--\0").unwrap();
        assert_eq!(r.content, None);
        assert_eq!(parse(b"").unwrap(), Reply::default());
    }

    #[test]
    fn anything_else_is_unexpected() {
        for bad in [
            &b"a=1"[..],
            b"a=1\0trailing",
            b"noequals\0",
            b"=v\0",
            b"Key=v\0",
            b"k-y=v\0",
            b"path=/x\nkind=file\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with("unexpected probe output"), "{bad:?}: {e}");
        }
        let r = parse(b"a=1\0a=2\0n=x1\0f=2\0").unwrap();
        assert!(r.one("a").unwrap_err().contains("repeated"));
        assert!(r.num::<u64>("n").unwrap_err().contains("not a number"));
        assert!(r.flag("f").unwrap_err().contains("not a flag"));
    }
}
