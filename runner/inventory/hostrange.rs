//! Host ranges (`node[01:20]`, `[a:c]`, `[0:10:2]`) and `host:port` in inventory host names.
//!
//! Why this module exists: both inventory formats let one host entry stand for many hosts
//! through bracketed ranges, and let a host name carry an SSH port (`host:2222`,
//! `[::1]:22`). Ansible expands these identically in INI and YAML; this module is the one
//! place that does it, so both formats agree.

/// A host entry split into its name pattern and optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The host name, possibly still containing ranges.
    pub name: String,
    /// The port, when the entry carried one.
    pub port: Option<u16>,
}

/// Split `host:port`, `[v6addr]:port`, `[v6addr]` and bare IPv6 addresses as Ansible's
/// `parse_address` does. Colons inside range brackets (`node[1:3]`) are not ports.
pub fn parse_address(entry: &str) -> Result<Address, String> {
    // `[::1]:22` and `[::1]`
    if let Some(inner_and_rest) = entry.strip_prefix('[')
        && let Some(close) = inner_and_rest.find(']')
    {
        let inner = &inner_and_rest[..close];
        let rest = &inner_and_rest[close + 1..];
        if looks_ipv6(inner) {
            if rest.is_empty() {
                return Ok(Address {
                    name: inner.to_string(),
                    port: None,
                });
            }
            if let Some(p) = rest.strip_prefix(':') {
                return Ok(Address {
                    name: inner.to_string(),
                    port: Some(parse_port(p, entry)?),
                });
            }
        }
    }
    let outside: Vec<usize> = colons_outside_brackets(entry);
    match outside.as_slice() {
        [] => Ok(Address {
            name: entry.to_string(),
            port: None,
        }),
        [i] => {
            let (name, port) = (&entry[..*i], &entry[i + 1..]);
            if name.is_empty() {
                return Err(format!("not a valid host name: `{entry}`"));
            }
            Ok(Address {
                name: name.to_string(),
                port: Some(parse_port(port, entry)?),
            })
        }
        // Several colons: a bare IPv6 address (no port possible without brackets).
        _ if looks_ipv6(entry) => Ok(Address {
            name: entry.to_string(),
            port: None,
        }),
        _ => Err(format!("not a valid host name or address: `{entry}`")),
    }
}

fn parse_port(p: &str, entry: &str) -> Result<u16, String> {
    if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("invalid port in `{entry}`"));
    }
    p.parse::<u16>()
        .map_err(|_| format!("port out of range in `{entry}`"))
}

fn looks_ipv6(s: &str) -> bool {
    s.matches(':').count() >= 2
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '%' | '[' | ']'))
}

fn colons_outside_brackets(s: &str) -> Vec<usize> {
    let mut depth = 0i32;
    let mut out = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => out.push(i),
            _ => {}
        }
    }
    out
}

/// Upper bound on the hosts one entry may expand to.
pub const MAX_EXPANSION: usize = 100_000;

/// Expand every range in `name`, left to right: `db[01:03]` → `db01`, `db02`, `db03`;
/// `[a:c]x` → `ax`, `bx`, `cx`; `n[0:10:5]` → `n0`, `n5`, `n10`. Names without a
/// range come back as they are.
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let Some(close_rel) = name[open..].find(']') else {
        return Err(format!("unclosed `[` in host range `{name}`"));
    };
    let close = open + close_rel;
    let (head, body, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    if !body.contains(':') {
        return Err(format!(
            "host range `[{body}]` in `{name}` needs the form [start:end] or [start:end:step]"
        ));
    }
    let parts: Vec<&str> = body.split(':').collect();
    let (beg, end, step) = match parts.as_slice() {
        [b, e] => (*b, *e, "1"),
        [b, e, s] => (*b, *e, *s),
        _ => {
            return Err(format!(
                "host range `[{body}]` in `{name}` has too many `:` (expected [start:end:step])"
            ));
        }
    };
    if end.is_empty() {
        return Err(format!(
            "host range `[{body}]` in `{name}` must specify an end value"
        ));
    }
    let beg = if beg.is_empty() { "0" } else { beg };
    let step: usize = match step.parse() {
        Ok(s) if s > 0 => s,
        _ => {
            return Err(format!(
                "host range `[{body}]` in `{name}`: step must be a positive integer"
            ));
        }
    };
    let items: Vec<String> = if is_letter(beg) && is_letter(end) {
        let (b, e) = (letter_index(beg), letter_index(end));
        if b > e {
            return Err(format!(
                "host range `[{body}]` in `{name}` must have begin <= end"
            ));
        }
        (b..=e)
            .step_by(step)
            .map(|i| LETTERS[i..=i].to_string())
            .collect()
    } else {
        let width = if beg.len() > 1 && beg.starts_with('0') {
            if beg.len() != end.len() {
                return Err(format!(
                    "host range `[{body}]` in `{name}` must have begin and end of equal length when zero-padded"
                ));
            }
            beg.len()
        } else {
            0
        };
        let (b, e): (u64, u64) = match (beg.parse(), end.parse()) {
            (Ok(b), Ok(e)) => (b, e),
            _ => {
                return Err(format!(
                    "host range `[{body}]` in `{name}` must be numeric or single letters"
                ));
            }
        };
        if b > e {
            return Err(format!(
                "host range `[{body}]` in `{name}` must have begin <= end"
            ));
        }
        if (e - b) / step as u64 >= MAX_EXPANSION as u64 {
            return Err(format!(
                "host range `[{body}]` in `{name}` expands to more than {MAX_EXPANSION} hosts"
            ));
        }
        (b..=e)
            .step_by(step)
            .map(|i| format!("{i:0width$}"))
            .collect()
    };
    let rests = expand(tail)?;
    if items.len().saturating_mul(rests.len()) > MAX_EXPANSION {
        return Err(format!(
            "host range in `{name}` expands to more than {MAX_EXPANSION} hosts"
        ));
    }
    let mut out = Vec::with_capacity(items.len() * rests.len());
    for item in &items {
        for rest in &rests {
            out.push(format!("{head}{item}{rest}"));
        }
    }
    Ok(out)
}

const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn is_letter(s: &str) -> bool {
    s.len() == 1 && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn letter_index(s: &str) -> usize {
    LETTERS.find(s).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_alpha_and_step_ranges() {
        assert_eq!(expand("db[01:03]").unwrap(), ["db01", "db02", "db03"]);
        assert_eq!(expand("[a:c]x").unwrap(), ["ax", "bx", "cx"]);
        assert_eq!(expand("n[0:10:5]").unwrap(), ["n0", "n5", "n10"]);
        assert_eq!(expand("n[:2]").unwrap(), ["n0", "n1", "n2"]);
        assert_eq!(
            expand("r[1:2]c[a:b]").unwrap(),
            ["r1ca", "r1cb", "r2ca", "r2cb"]
        );
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        assert_eq!(expand("n[8:10]").unwrap(), ["n8", "n9", "n10"]);
    }

    #[test]
    fn bad_ranges() {
        assert!(expand("n[3:1]").unwrap_err().contains("begin <= end"));
        assert!(expand("n[1:]").unwrap_err().contains("end value"));
        assert!(expand("n[01:100]").unwrap_err().contains("equal length"));
        assert!(expand("n[1:x]").unwrap_err().contains("numeric"));
        assert!(expand("n[1:3").unwrap_err().contains("unclosed"));
        assert!(expand("n[1:3:0]").unwrap_err().contains("step"));
        assert!(expand("n[0:999999999]").unwrap_err().contains("more than"));
    }

    #[test]
    fn ports() {
        let a = |s| parse_address(s).unwrap();
        assert_eq!(a("host:2222").port, Some(2222));
        assert_eq!(a("host:2222").name, "host");
        assert_eq!(a("[::1]:22").name, "::1");
        assert_eq!(a("[::1]:22").port, Some(22));
        assert_eq!(a("[::1]").name, "::1");
        assert_eq!(a("fe80::1").port, None);
        assert_eq!(a("node[1:3]").port, None);
        assert_eq!(a("node[1:3]").name, "node[1:3]");
        assert_eq!(a("node[1:3]:22").port, Some(22));
        assert!(parse_address("host:abc").is_err());
        assert!(parse_address("host:99999").is_err());
    }
}
