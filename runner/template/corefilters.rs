//! Filters, globals and list methods of ansible-core that the rest of `template` lacks:
//! `random`, `shuffle`, `realpath`, `relpath`, `urlsplit`, `zip_longest`, `subelements`,
//! `strftime`, the `now()` global and Python's `list.index()`.
//!
//! Why this module exists: playbooks written for ansible-core use them (their Python lives
//! in `lib/ansible/plugins/filter/core.py`, `lib/ansible/plugins/filter/urlsplit.py`,
//! `lib/ansible/template/__init__.py` for `now`), and a missing one fails a run.

use std::hash::{BuildHasher, Hasher};
use std::path::{Component, PathBuf};

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, State};

use super::filters::err;

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("random", random);
    env.add_filter("shuffle", shuffle);
    env.add_filter("realpath", |p: String| realpath(&p));
    env.add_filter("fileglob", |p: String| fileglob(&p));
    env.add_filter("relpath", |p: String, start: Option<String>| {
        relpath(&p, start.as_deref().unwrap_or("."))
    });
    env.add_filter("urlsplit", urlsplit);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("subelements", subelements);
    env.add_filter("strftime", strftime_filter);
    env.add_function("now", now);
    env.set_unknown_method_callback(methods);
}

/// Python methods pycompat lacks (`list.index`), then pycompat's own.
fn methods(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if value.kind() == ValueKind::Seq && method == "index" {
        let what = args
            .first()
            .ok_or_else(|| err("index() takes one argument"))?;
        for (i, item) in value.try_iter()?.enumerate() {
            if item == *what {
                return Ok(Value::from(i));
            }
        }
        return Err(err(format!("{what} is not in list")));
    }
    if let Some(s) = value.as_str() {
        if let Some(r) = str_method(s, method, args)? {
            return Ok(r);
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Python `str` methods pycompat lacks: `rsplit`, `zfill`, `ljust`, `rjust`, `center`.
fn str_method(s: &str, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let int_arg = |i: usize| -> Result<usize, Error> {
        args.get(i)
            .and_then(Value::as_i64)
            .map(|n| n.max(0) as usize)
            .ok_or_else(|| err(format!("{method}() needs an integer argument")))
    };
    let fill = |i: usize| -> char {
        args.get(i)
            .and_then(|v| v.as_str().and_then(|f| f.chars().next()))
            .unwrap_or(' ')
    };
    let len = s.chars().count();
    let pad = |n: usize, c: char| c.to_string().repeat(n);
    Ok(Some(match method {
        "rsplit" => {
            let sep = args.first().and_then(|v| v.as_str());
            let max = args.get(1).and_then(Value::as_i64).unwrap_or(-1);
            let mut parts: Vec<String> = match (sep, max) {
                (Some(sep), m) if m >= 0 => {
                    s.rsplitn(m as usize + 1, sep).map(str::to_owned).collect()
                }
                (Some(sep), _) => s.rsplit(sep).map(str::to_owned).collect(),
                (None, m) if m >= 0 => {
                    let t = s.trim_end();
                    let mut out = Vec::new();
                    let mut rest = t;
                    while out.len() < m as usize {
                        match rest.rfind(char::is_whitespace) {
                            Some(i) => {
                                out.push(rest[i + 1..].to_owned());
                                rest = rest[..i].trim_end();
                            }
                            None => break,
                        }
                    }
                    if !rest.is_empty() {
                        out.push(rest.to_owned());
                    }
                    out
                }
                (None, _) => s.split_whitespace().rev().map(str::to_owned).collect(),
            };
            parts.reverse();
            Value::from(parts)
        }
        "zfill" => {
            let w = int_arg(0)?;
            if len >= w {
                Value::from(s)
            } else {
                let (sign, digits) = match s.strip_prefix(['-', '+']) {
                    Some(d) => (&s[..1], d),
                    None => ("", s),
                };
                Value::from(format!("{sign}{}{digits}", pad(w - len, '0')))
            }
        }
        "ljust" => Value::from(format!(
            "{s}{}",
            pad(int_arg(0)?.saturating_sub(len), fill(1))
        )),
        "rjust" => Value::from(format!(
            "{}{s}",
            pad(int_arg(0)?.saturating_sub(len), fill(1))
        )),
        "center" => {
            // CPython: left = pad/2 + (pad & width & 1)
            let w = int_arg(0)?;
            let total = w.saturating_sub(len);
            let left = total / 2 + (total & w & 1);
            let c = fill(1);
            Value::from(format!("{}{s}{}", pad(left, c), pad(total - left, c)))
        }
        _ => return Ok(None),
    }))
}

/// A random u64 from the process's hash seed generator (no RNG dependency needed for
/// `random`/`shuffle`, which promise no particular sequence).
pub(crate) fn rand_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

/// `random`: a random element of a sequence, or a number in `range(start, end, step)`.
fn random(v: &Value, start: Option<i64>, step: Option<i64>, kw: Kwargs) -> Result<Value, Error> {
    let start = match start {
        Some(s) => s,
        None => kw.get::<Option<i64>>("start")?.unwrap_or(0),
    };
    let step = match step {
        Some(s) => s,
        None => kw.get::<Option<i64>>("step")?.unwrap_or(1),
    };
    let _seed: Option<Value> = kw.get("seed")?;
    kw.assert_all_used()?;
    if let Some(end) = v.as_i64() {
        if step <= 0 || end <= start {
            return Err(err("random: empty range for randrange()"));
        }
        let n = ((end - start) + step - 1) / step;
        return Ok(Value::from(start + (rand_u64() % n as u64) as i64 * step));
    }
    pick_random(v)
}

/// A random element of a sequence.
pub(crate) fn pick_random(v: &Value) -> Result<Value, Error> {
    let items: Vec<Value> = v.try_iter()?.collect();
    if items.is_empty() {
        return Err(err("random: cannot choose from an empty sequence"));
    }
    Ok(items[(rand_u64() % items.len() as u64) as usize].clone())
}

/// `shuffle`: the items in a random order (Fisher-Yates).
fn shuffle(v: &Value, kw: Kwargs) -> Result<Value, Error> {
    let _seed: Option<Value> = kw.get("seed")?;
    kw.assert_all_used()?;
    let mut items: Vec<Value> = v.try_iter()?.collect();
    for i in (1..items.len()).rev() {
        let j = (rand_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    Ok(Value::from(items))
}

/// `os.path.abspath` lexically: joined to the working directory, `.` and `..` folded.
fn abspath(p: &str) -> PathBuf {
    let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut out = PathBuf::from("/");
    for c in base.join(p).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(x) => out.push(x),
            _ => {}
        }
    }
    out
}

/// The `fileglob` filter (`plugins/filter/core.py`): the regular files `glob.glob` matches
/// on the controller, as it spells them (a relative pattern is relative to the working
/// folder, unlike the `fileglob` lookup); `*` skips dotfiles as Python's glob does. Python
/// lists matches in directory order; here they are sorted.
fn fileglob(pattern: &str) -> Vec<String> {
    let opts = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    let Ok(paths) = glob::glob_with(pattern, opts) else {
        return Vec::new();
    };
    paths
        .flatten()
        .filter(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// `os.path.realpath`: symlinks resolved where the path exists, else folded lexically.
fn realpath(p: &str) -> String {
    let abs = abspath(p);
    std::fs::canonicalize(&abs)
        .unwrap_or(abs)
        .to_string_lossy()
        .into_owned()
}

/// `os.path.relpath(path, start)`.
fn relpath(p: &str, start: &str) -> String {
    let to = abspath(p);
    let from = abspath(start);
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    let s = out.to_string_lossy().into_owned();
    if s.is_empty() { ".".into() } else { s }
}

/// `urlsplit`: Python's `urllib.parse.urlsplit` as a dict, or one of its fields.
fn urlsplit(url: String, query: Option<String>) -> Result<Value, Error> {
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), url.as_str()),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, q) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((a, b)) => (Value::from(a), Value::from(b)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, Some(p)),
        _ => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_ascii_lowercase())
    };
    let port = match port {
        Some(p) if !p.is_empty() => Value::from(
            p.parse::<u16>()
                .map_err(|_| err(format!("Port could not be cast to integer value as '{p}'")))?,
        ),
        _ => Value::from(()),
    };
    let fields = [
        ("fragment", Value::from(fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(netloc)),
        ("password", password),
        ("path", Value::from(path)),
        ("port", port),
        ("query", Value::from(q)),
        ("scheme", Value::from(scheme)),
        ("username", username),
    ];
    match query {
        None => Ok(Value::from(
            fields
                .into_iter()
                .collect::<std::collections::BTreeMap<&str, Value>>(),
        )),
        Some(name) => fields
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .ok_or_else(|| err(format!("urlsplit: unknown URL component: {name}"))),
    }
}

/// `zip_longest(*others, fillvalue=None)`.
fn zip_longest(v: &Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let fill: Value = kw
        .get::<Option<Value>>("fillvalue")?
        .unwrap_or(Value::from(()));
    kw.assert_all_used()?;
    let mut lists = vec![v.try_iter()?.collect::<Vec<_>>()];
    for o in others.iter() {
        lists.push(o.try_iter()?.collect());
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

/// `subelements(path, skip_missing=False)`: `[item, sub]` for each sub in `item[path]`.
fn subelements(v: &Value, path: String, skip: Option<bool>, kw: Kwargs) -> Result<Value, Error> {
    let skip = match skip {
        Some(s) => s,
        None => kw.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    kw.assert_all_used()?;
    subelements_of(v, &path, skip)
}

/// `[item, sub]` for each sub in `item[path]` of each item.
pub(crate) fn subelements_of(v: &Value, path: &str, skip: bool) -> Result<Value, Error> {
    if matches!(v.kind(), ValueKind::Map | ValueKind::String) || v.try_iter().is_err() {
        return Err(err("obj must be a list of dicts or a nested dict"));
    }
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let mut cur = item.clone();
        let mut missing = false;
        for key in path.split('.') {
            let next = cur.get_attr(key).unwrap_or(Value::UNDEFINED);
            if next.is_undefined() {
                missing = true;
                break;
            }
            cur = next;
        }
        if missing {
            if skip {
                continue;
            }
            return Err(err(format!(
                "could not find '{path}' key in iterated item '{}'",
                super::convert::py_str(&item)
            )));
        }
        if cur.kind() != ValueKind::Seq {
            return Err(err("the key {path} should point to a list"));
        }
        for sub in cur.try_iter()? {
            out.push(Value::from(vec![item.clone(), sub]));
        }
    }
    Ok(Value::from(out))
}

/// Seconds since the epoch, now.
fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `strftime(second=None, utc=False)`: `time.strftime` of a timestamp (local time is UTC
/// on the controller as windlass reads it).
fn strftime_filter(fmt: String, second: Option<Value>, kw: Kwargs) -> Result<String, Error> {
    let _utc: Option<bool> = kw.get("utc")?;
    let second = match second {
        Some(s) => Some(s),
        None => kw.get::<Option<Value>>("second")?,
    };
    kw.assert_all_used()?;
    let t = match second {
        Some(s) if !s.is_none() => s
            .as_i64()
            .map(|i| i as f64)
            .or_else(|| f64::try_from(s.clone()).ok())
            .or_else(|| s.as_str().and_then(|x| x.trim().parse().ok()))
            .ok_or_else(|| err(format!("Invalid value for epoch value ({s})")))?,
        _ => epoch_now(),
    };
    Ok(format_time(&fmt, t))
}

/// `now(utc=False, fmt=None)`: the current time; a `datetime` without `fmt`.
fn now(kw: Kwargs) -> Result<Value, Error> {
    let _utc: Option<bool> = kw.get("utc")?;
    let fmt: Option<String> = kw.get("fmt")?;
    kw.assert_all_used()?;
    let t = epoch_now();
    if let Some(f) = fmt {
        return Ok(Value::from(format_time(&f, t)));
    }
    Ok(super::datetime::DateTime::from_epoch(t))
}

/// A UTC calendar time.
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    micro: u32,
    yday: u32,
    pub(crate) wday: u32,
}

impl Civil {
    /// Howard Hinnant's days-to-civil algorithm.
    pub(crate) fn from_epoch(t: f64) -> Civil {
        let secs = t.floor() as i64;
        let micro = ((t - t.floor()) * 1e6) as u32;
        let days = secs.div_euclid(86400);
        let sod = secs.rem_euclid(86400) as u32;
        let (year, month, day) = crate::modules::py_time::civil_from_days(days);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = CUM[month as usize - 1] + day + u32::from(leap && month > 2);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            micro,
            yday,
            wday: (days + 4).rem_euclid(7) as u32,
        }
    }
}

/// `time.strftime` for the common directives; others are kept as written.
pub(crate) fn format_time(fmt: &str, t: f64) -> String {
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let c = Civil::from_epoch(t);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let month = MONTHS[c.month as usize - 1];
        let day = DAYS[c.wday as usize];
        match chars.next() {
            Some('Y') => out.push_str(&c.year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{:02}", c.month)),
            Some('d') => out.push_str(&format!("{:02}", c.day)),
            Some('H') => out.push_str(&format!("{:02}", c.hour)),
            Some('I') => out.push_str(&format!("{:02}", (c.hour + 11) % 12 + 1)),
            Some('p') => out.push_str(if c.hour < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{:02}", c.minute)),
            Some('S') => out.push_str(&format!("{:02}", c.second)),
            Some('f') => out.push_str(&format!("{:06}", c.micro)),
            Some('j') => out.push_str(&format!("{:03}", c.yday)),
            Some('s') => out.push_str(&(t.floor() as i64).to_string()),
            Some('a') => out.push_str(&day[..3]),
            Some('A') => out.push_str(day),
            Some('b') => out.push_str(&month[..3]),
            Some('B') => out.push_str(month),
            Some('w') => out.push_str(&c.wday.to_string()),
            Some('z') => out.push_str("+0000"),
            Some('Z') => out.push_str("UTC"),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}
