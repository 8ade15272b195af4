//! The decisions of `find` (see [`super::find`]) from the host's listing: Python's
//! `os.walk` order and Ansible's filters, counts, `limit` and skipped paths.
//!
//! Why this module exists: `find`'s result is not the host's `find` output. Ansible walks
//! top down, reporting a directory's files before its subdirectories (a link to a
//! directory counts as a directory, but is not entered), counts every listed entry as
//! examined (hidden ones and those beyond `depth` too), still descends into hidden
//! directories, stops at `limit` only within one path, and takes names as Python's
//! `fnmatch`/`re.match` see them. This is that logic, pure, over [`Walk`]'s records.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fileops::{PyRe, apply_symbolic, py_regex};
use super::find::{AgeStamp, Entry, Extra, FileType, FindParams, Root, Walk, statinfo};

/// The compiled filters of one task.
pub struct Filters {
    patterns: Vec<Matcher>,
    excludes: Vec<Matcher>,
    age: Option<i64>,
    size: Option<i64>,
    mode: Option<u32>,
    contains: Option<PyRe>,
}

/// A name pattern: a glob (Python's `fnmatch`) or a Python regex (`re.match`).
enum Matcher {
    Glob(regex::Regex),
    Re(PyRe),
}

impl Matcher {
    fn new(p: &str, use_regex: bool) -> Result<Self, String> {
        if use_regex {
            return py_regex(p, false).map(Matcher::Re);
        }
        let re = format!("(?s){}", crate::inventory::pattern::glob_to_regex(p));
        regex::Regex::new(&re)
            .map(Matcher::Glob)
            .map_err(|e| format!("bad pattern {p:?}: {e}"))
    }

    fn matches(&self, name: &str) -> Result<bool, String> {
        match self {
            Matcher::Glob(r) => Ok(r.is_match(name)),
            // `re.match`: the leftmost match starts at 0 exactly when one does.
            Matcher::Re(r) => Ok(r.find(name)?.is_some_and(|(s, _)| s == 0)),
        }
    }
}

impl Filters {
    /// The filters of `p`, with Ansible's messages for a bad `age`, `size`, `limit`, `mode`.
    pub fn new(p: &FindParams) -> Result<Self, String> {
        let patterns = match p.patterns.as_slice() {
            [] if p.use_regex => vec![".*".to_string()],
            [] => vec!["*".to_string()],
            given => given.to_vec(),
        };
        let compile = |v: &[String]| {
            v.iter()
                .map(|x| Matcher::new(x, p.use_regex))
                .collect::<Result<Vec<_>, _>>()
        };
        if let Some(l) = p.limit.filter(|l| *l <= 0) {
            return Err(format!("limit cannot be {l} (use None for unlimited)"));
        }
        Ok(Filters {
            patterns: compile(&patterns)?,
            excludes: compile(&p.excludes)?,
            age: scaled(
                p.age.as_deref(),
                "age",
                &[
                    ('s', 1),
                    ('m', 60),
                    ('h', 3600),
                    ('d', 86400),
                    ('w', 604800),
                ],
            )?,
            size: scaled(
                p.size.as_deref(),
                "size",
                &[
                    ('b', 1),
                    ('k', 1 << 10),
                    ('m', 1 << 20),
                    ('g', 1 << 30),
                    ('t', 1 << 40),
                ],
            )?,
            mode: mode_bits(p.mode.as_ref())?,
            contains: p
                .contains
                .as_deref()
                .map(|c| py_regex(c, false))
                .transpose()?,
        })
    }

    /// `pfilter`: a pattern matches and, then, no exclude does.
    fn name(&self, name: &str) -> Result<bool, String> {
        for p in &self.patterns {
            if p.matches(name)? {
                for e in &self.excludes {
                    if e.matches(name)? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// `age`/`size`: `-?\d+` and an optional unit; "failed to process age" otherwise.
fn scaled(v: Option<&str>, what: &str, units: &[(char, i64)]) -> Result<Option<i64>, String> {
    let Some(v) = v else { return Ok(None) };
    let low = v.to_lowercase();
    let (num, mult) = match low
        .chars()
        .last()
        .and_then(|c| units.iter().find(|(u, _)| *u == c))
    {
        Some((_, m)) => (&low[..low.len() - 1], *m),
        None => (low.as_str(), 1),
    };
    let digits = num.strip_prefix('-').unwrap_or(num);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("failed to process {what}"));
    }
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(Some)
        .ok_or_else(|| format!("failed to process {what}"))
}

/// `mode`: a string, octal or symbolic (applied to no bits); any other type is refused.
fn mode_bits(v: Option<&Value>) -> Result<Option<u32>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => match u32::from_str_radix(s, 8) {
            Ok(n) => Ok(Some(n & 0o7777)),
            Err(_) => apply_symbolic(0, s, false).map(|m| Some(m & 0o7777)),
        },
        Some(other) => Err(format!(
            "argument 'mode' is not a string and conversion is not allowed, value is of type {}",
            match other {
                Value::Number(n) if n.is_f64() => "float",
                Value::Number(_) => "int",
                Value::Bool(_) => "bool",
                Value::Array(_) => "list",
                _ => "dict",
            }
        )),
    }
}

/// What `find` reports.
pub struct Found {
    /// The stat dictionaries.
    pub files: Vec<Map<String, Value>>,
    /// `All paths examined`, `Limit of matches reached`, or `Not all paths examined…`.
    pub msg: &'static str,
    /// `len(files)`.
    pub matched: usize,
    /// Entries listed.
    pub examined: usize,
    /// Path → why it was skipped.
    pub skipped: Map<String, Value>,
    /// The warnings Ansible prints for skipped paths.
    pub warnings: Vec<String>,
}

/// Ansible's main loop over `p.paths` and each path's walk.
pub fn walk(p: &FindParams, f: &Filters, w: &Walk) -> Result<Found, String> {
    let mut found = Found {
        files: Vec::new(),
        msg: "All paths examined",
        matched: 0,
        examined: 0,
        skipped: Map::new(),
        warnings: Vec::new(),
    };
    for (npath, root) in p.paths.iter().zip(&w.roots) {
        let outcome = match root {
            Root::NotDir => Err(format!("'{npath}' is not a directory")),
            Root::Entries(entries, extra) => {
                let mut st = PathWalk {
                    p,
                    f,
                    now: w.now,
                    npath,
                    extra,
                    found: &mut found,
                };
                st.run(entries)
            }
        };
        if let Err(e) = outcome {
            found.warnings.push(format!(
                "Skipped '{npath}' path due to this access issue: {e}\n"
            ));
            found.skipped.insert(npath.clone(), Value::String(e));
        }
    }
    if !found.warnings.is_empty() {
        found.msg = "Not all paths examined, check warnings for details";
    }
    found.matched = found.files.len();
    Ok(found)
}

/// The walk of one path.
struct PathWalk<'a> {
    p: &'a FindParams,
    f: &'a Filters,
    now: f64,
    npath: &'a str,
    extra: &'a HashMap<String, Extra>,
    found: &'a mut Found,
}

impl PathWalk<'_> {
    /// `os.walk(npath, topdown=True)`: each directory's entries (files, then directories),
    /// then its subdirectories in turn. A task error (a bad regex, an undecodable file)
    /// skips the whole path, as Ansible's `except Exception` does.
    fn run(&mut self, entries: &[Entry]) -> Result<(), String> {
        let mut by_dir: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for e in entries {
            let parent = e.rel.rsplit_once('/').map_or("", |(d, _)| d);
            by_dir.entry(parent).or_default().push(e);
        }
        let mut stack = vec![String::new()];
        let limit = self.p.limit.map(|l| l as usize);
        while let Some(dir) = stack.pop() {
            let listed = by_dir.get(dir.as_str()).cloned().unwrap_or_default();
            let is_dir = |e: &&Entry| e.kind == 'd' || (e.kind == 'l' && e.target == 'd');
            let (dirs, files): (Vec<&Entry>, Vec<&Entry>) =
                listed.iter().copied().partition(is_dir);
            self.found.examined += listed.len();
            let mut descend = true;
            for e in files.iter().chain(&dirs) {
                if !self.visit(e, &mut descend)? {
                    continue;
                }
                if Some(self.found.files.len()) == limit {
                    self.found.msg = "Limit of matches reached";
                    break;
                }
            }
            if !self.p.recurse || Some(self.found.files.len()) == limit {
                break;
            }
            if descend {
                // Popped in order: push the subdirectories reversed. Links are not entered.
                stack.extend(
                    dirs.iter()
                        .rev()
                        .filter(|e| e.kind == 'd')
                        .map(|e| e.rel.clone()),
                );
            }
        }
        Ok(())
    }

    /// One entry: `false` when the loop `continue`s before the limit check (beyond
    /// `depth`, which also stops the descent, or hidden).
    fn visit(&mut self, e: &Entry, descend: &mut bool) -> Result<bool, String> {
        let fsname = normpath(&format!("{}/{}", self.npath, e.rel));
        if let Some(depth) = self.p.depth.filter(|d| *d != 0) {
            let wpath = format!("{}/", self.npath.trim_end_matches('/'));
            let d = fsname.matches('/').count() as i64 - wpath.matches('/').count() as i64 + 1;
            if d > depth {
                *descend = false;
                return Ok(false);
            }
        }
        let name = e.rel.rsplit('/').next().unwrap_or(&e.rel);
        if fsname.rsplit('/').next().unwrap_or("").starts_with('.') && !self.p.hidden {
            return Ok(false);
        }
        if let Some(r) = self.matched(e, name, &fsname)? {
            self.found.files.push(r);
        }
        Ok(true)
    }

    /// The stat dictionary of `e` when it matches the task's `file_type` and filters.
    fn matched(
        &self,
        e: &Entry,
        name: &str,
        fsname: &str,
    ) -> Result<Option<Map<String, Value>>, String> {
        let ft = self.p.file_type.unwrap_or(FileType::File);
        let kind_ok = match ft {
            FileType::Any => true,
            FileType::Directory => e.kind == 'd',
            FileType::File => e.kind == 'f',
            FileType::Link => e.kind == 'l',
        };
        if !kind_ok || !self.f.name(name)? || !self.age(e) {
            return Ok(None);
        }
        if ft == FileType::File && (!self.size(e) || !self.content(e, fsname)?) {
            return Ok(None);
        }
        if !self.mode(e) {
            return Ok(None);
        }
        let mut r = statinfo(fsname, e);
        if e.kind == 'f' && self.p.get_checksum && matches!(ft, FileType::File | FileType::Any) {
            let sum = self
                .extra
                .get(&e.rel)
                .map(|x| x.checksum.clone())
                .unwrap_or_default();
            r.insert("checksum".into(), Value::String(sum));
        }
        if ft == FileType::Any && e.kind == 'f' && !self.size(e) {
            return Ok(None);
        }
        Ok(Some(r))
    }

    fn age(&self, e: &Entry) -> bool {
        let Some(age) = self.f.age else { return true };
        let i = match self.p.age_stamp.unwrap_or(AgeStamp::Mtime) {
            AgeStamp::Atime => 0,
            AgeStamp::Mtime => 1,
            AgeStamp::Ctime => 2,
        };
        let diff = self.now - e.times[i];
        if age >= 0 {
            diff >= age as f64
        } else {
            diff <= age.unsigned_abs() as f64
        }
    }

    fn size(&self, e: &Entry) -> bool {
        match self.f.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s as u64,
            Some(s) => e.size <= s.unsigned_abs(),
        }
    }

    fn mode(&self, e: &Entry) -> bool {
        match self.f.mode {
            None => true,
            Some(m) if self.p.exact_mode.unwrap_or(true) => e.mode & 0o7777 == m,
            Some(m) => e.mode & m != 0,
        }
    }

    /// `contentfilter`: a line matching from its start (or the whole text searched), the
    /// file read as text in `encoding` with universal newlines.
    fn content(&self, e: &Entry, fsname: &str) -> Result<bool, String> {
        let Some(re) = &self.f.contains else {
            return Ok(true);
        };
        let Some(bytes) = self.extra.get(&e.rel).and_then(|x| x.content.as_ref()) else {
            // Python's `except Exception: pass`: an unreadable file does not match.
            return Ok(false);
        };
        let text = decode_text(bytes, self.p.encoding.as_deref()).ok_or_else(|| {
            let enc = self.p.encoding.clone().unwrap_or_else(|| {
                "None (default determined by the Python built-in function \"open\")".into()
            });
            format!(
                "Failed to read the file {fsname} due to an encoding error. current encoding: {enc}"
            )
        })?;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if self.p.read_whole_file {
            return re.is_match(&text);
        }
        for line in text.split_inclusive('\n') {
            if re.find(line)?.is_some_and(|(s, _)| s == 0) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The file's text in `encoding` (UTF-8 when none; Latin-1 and ASCII besides).
fn decode_text(b: &[u8], encoding: Option<&str>) -> Option<String> {
    let enc = encoding.unwrap_or("utf-8").to_lowercase().replace('_', "-");
    match enc.as_str() {
        "utf-8" | "utf8" => String::from_utf8(b.to_vec()).ok(),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => {
            Some(b.iter().map(|c| char::from(*c)).collect())
        }
        "ascii" | "us-ascii" => b
            .is_ascii()
            .then(|| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Python's `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = match path {
        p if p.starts_with("//") && !p.starts_with("///") => "//",
        p if p.starts_with('/') => "/",
        _ => "",
    };
    let mut comps: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." if initial.is_empty() && comps.last().is_none_or(|l| *l == "..") => comps.push(c),
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    let out = format!("{initial}{}", comps.join("/"));
    if out.is_empty() { ".".into() } else { out }
}
