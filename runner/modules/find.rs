//! `ansible.builtin.find`: the files (directories, links) under some paths that match
//! name patterns, age, size, content and mode, each reported as a stat dictionary.
//!
//! Why this module exists: roles clean up or collect what a directory holds (old
//! manifests, certificates, backups) without knowing the names. The host only lists: one
//! `find` per path prints every entry's name and `lstat` fields as NUL-terminated records
//! inside a framed section (a file name can hold newlines and header-like text, never a
//! NUL), and, when asked, each regular file's checksum and content. Everything Ansible's
//! module decides — the `os.walk` order (a directory's files, then its directories, top
//! down), `depth`, hidden names, the filters, `limit`, the counts — is decided here, in a
//! pure function, from those records.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::{ansible_bool, choice, opt_ansible_bool, opt_stringish, string_list};
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::stat::ChecksumAlgorithm;
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `find`.
pub struct Find;

/// Parameters of `find`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindParams {
    /// The directories to search (also `name`, `path`). Required.
    #[serde(alias = "name", alias = "path", deserialize_with = "string_list")]
    pub paths: Vec<String>,
    /// Shell patterns (or Python regexes with `use_regex`) the base name must match (also
    /// `pattern`); default: everything.
    #[serde(default, alias = "pattern", deserialize_with = "string_list")]
    pub patterns: Vec<String>,
    /// Patterns a matching base name must not match (also `exclude`).
    #[serde(default, alias = "exclude", deserialize_with = "string_list")]
    pub excludes: Vec<String>,
    /// A Python regex a line of the file must match (from its start); files only.
    #[serde(default)]
    pub contains: Option<String>,
    /// Match `contains` anywhere in the whole file instead of line by line.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub read_whole_file: bool,
    /// `file` (default), `directory`, `link` or `any`.
    #[serde(default)]
    pub file_type: Option<FileType>,
    /// Select by age: `10d`, `-2h` (younger than), in `s`, `m`, `h`, `d`, `w`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub age: Option<String>,
    /// The timestamp `age` compares: `mtime` (default), `atime` or `ctime`.
    #[serde(default)]
    pub age_stamp: Option<AgeStamp>,
    /// Select by size: `1m`, `-10k` (at most), in `b`, `k`, `m`, `g`, `t`.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub size: Option<String>,
    /// Descend into directories.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub recurse: bool,
    /// Also match names starting with a dot.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub hidden: bool,
    /// Follow symbolic links to directories (not supported yet: `true` is refused).
    #[serde(default, deserialize_with = "ansible_bool")]
    pub follow: bool,
    /// Add each regular file's `checksum`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub get_checksum: bool,
    /// The checksum's hash (also `checksum`, `checksum_algo`); default `sha1`.
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// `patterns` and `excludes` are Python regexes (matched from the name's start).
    #[serde(default, deserialize_with = "ansible_bool")]
    pub use_regex: bool,
    /// How deep to descend with `recurse` (1: the path's own entries).
    #[serde(default)]
    pub depth: Option<i64>,
    /// Permission bits to select by, octal or symbolic (a string).
    #[serde(default)]
    pub mode: Option<Value>,
    /// `mode` must equal the bits (default `true`), else share one of them.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub exact_mode: Option<bool>,
    /// The encoding `contains` reads files in (UTF-8 when not given).
    #[serde(default)]
    pub encoding: Option<String>,
    /// Stop after this many matches.
    #[serde(default)]
    pub limit: Option<i64>,
}

choice! {
    /// `find`'s `file_type` (choices in lib/ansible/modules/find.py).
    pub enum FileType {
        /// Every kind of entry.
        Any = "any",
        /// Directories.
        Directory = "directory",
        /// Regular files. The default.
        File = "file",
        /// Symbolic links.
        Link = "link",
    }
    else "value of file_type must be one of: any, directory, file, link, got: {got}"
}

choice! {
    /// `find`'s `age_stamp`.
    pub enum AgeStamp {
        /// Last access.
        Atime = "atime",
        /// Last status change.
        Ctime = "ctime",
        /// Last modification. The default.
        Mtime = "mtime",
    }
    else "value of age_stamp must be one of: atime, ctime, mtime, got: {got}"
}

/// One entry as `find -printf` reports it (its `lstat`).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The path below the searched directory (`a/b`).
    pub rel: String,
    /// `find`'s `%y`: `f`, `d`, `l`, `b`, `c`, `p`, `s`.
    pub kind: char,
    /// `%Y`: the kind a link points to (`N`: nothing); the entry's own kind otherwise.
    pub target: char,
    /// Permission bits with set-id and sticky bits.
    pub mode: u32,
    /// Owner and group ids.
    pub uid: u64,
    /// The group id.
    pub gid: u64,
    /// Owner name, empty when the id has none.
    pub user: String,
    /// Group name, empty when the id has none.
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// Inode, device, link count.
    pub inode: u64,
    /// The device.
    pub dev: u64,
    /// The link count.
    pub nlink: u64,
    /// `st_atime`, `st_mtime`, `st_ctime` as Python computes the floats.
    pub times: [f64; 3],
}

/// A regular file's checksum and content, when they were asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// The hex digest.
    pub checksum: String,
    /// The bytes.
    pub content: Option<Vec<u8>>,
}

/// One searched path: not a directory, or its entries in `find`'s order (each directory
/// read in the order the file system lists it).
#[derive(Clone, Debug, PartialEq)]
pub enum Root {
    /// `os.path.isdir` is false.
    NotDir,
    /// The entries, and the extras of regular files by `rel`.
    Entries(Vec<Entry>, std::collections::HashMap<String, Extra>),
}

/// What the host reported: its clock, and each path's listing in the order given.
#[derive(Clone, Debug, PartialEq)]
pub struct Walk {
    /// `time.time()` on the host.
    pub now: f64,
    /// One per path.
    pub roots: Vec<Root>,
}

/// What the probe must read besides the listing.
#[derive(Clone, Debug)]
pub struct WalkQuery {
    /// The paths.
    pub paths: Vec<String>,
    /// `find -maxdepth`.
    pub maxdepth: Option<i64>,
    /// The checksum program's hash, when checksums are wanted.
    pub checksum: Option<ChecksumAlgorithm>,
    /// Whether file contents are wanted.
    pub content: bool,
}

/// The `find -printf` format of one entry: 15 NUL-terminated fields.
const FORMAT: &str =
    "%P\\0%y\\0%Y\\0%m\\0%U\\0%G\\0%u\\0%g\\0%s\\0%i\\0%D\\0%n\\0%A@\\0%T@\\0%C@\\0";

impl Fact for Walk {
    type Query = WalkQuery;

    /// A framed reply ([`super::sysprobe`]): `now`, then per path a `walk` section (`d\0`
    /// and the records, or `n\0`) and, when asked, an `extra` section of `rel\0checksum\0
    /// base64\0` records for its regular files.
    fn command(q: &WalkQuery) -> RemoteCommand {
        let mut s = format!("{}date +%s.%N; ", header("now"));
        let depth = q
            .maxdepth
            .map(|d| format!(" -maxdepth {d}"))
            .unwrap_or_default();
        let sum = q.checksum.map(|a| format!("{}sum", a.as_str()));
        let extra = match (&sum, q.content) {
            (None, false) => String::new(),
            _ => format!(
                "find . -mindepth 1{depth} -type f -print0 | xargs -0 -r sh -c '\
                 for f; do printf \"%s\\0\" \"${{f#./}}\"; {} printf \"\\0\"; {} printf \"\\0\"; done' sh",
                sum.map(|p| format!("set -- $({p} < \"$f\"); printf %s \"$1\";"))
                    .unwrap_or_default(),
                if q.content {
                    "base64 -w0 < \"$f\";"
                } else {
                    ""
                },
            ),
        };
        for p in &q.paths {
            let p = quote(p);
            let extra = match extra.is_empty() {
                true => String::new(),
                false => format!("{}( cd -- {p} && {extra}); ", header("extra")),
            };
            s.push_str(&format!(
                "{}if [ -d {p} ]; then printf 'd\\0'; ( cd -- {p} && find . -mindepth 1{depth} -printf '{FORMAT}' 2>/dev/null ); \
                 {extra}else printf 'n\\0'; fi; ",
                header("walk"),
            ));
        }
        RemoteCommand::shell(framed(&s))
    }

    fn parse(q: &WalkQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let now = s
            .text("now")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| "find: the host did not report its clock".to_string())?;
        let mut roots = Vec::new();
        let mut extras = s.all("extra");
        for body in s.all("walk") {
            roots.push(parse_root(body, q, &mut extras)?);
        }
        if roots.len() != q.paths.len() {
            return Err(format!(
                "find: {} of {} paths reported",
                roots.len(),
                q.paths.len()
            ));
        }
        Ok(Walk { now, roots })
    }
}

fn parse_root<'a>(
    body: &'a str,
    q: &WalkQuery,
    extras: &mut impl Iterator<Item = &'a str>,
) -> Result<Root, String> {
    let bad = || "find: unexpected listing from the host".to_string();
    let (kind, rest) = body.split_once('\0').ok_or_else(bad)?;
    match kind {
        "n" => return Ok(Root::NotDir),
        "d" => {}
        _ => return Err(bad()),
    }
    let fields: Vec<&str> = rest.split('\0').collect();
    // Records end with NUL, so the last split piece is empty (or a listing cut short).
    let (last, fields) = fields.split_last().ok_or_else(bad)?;
    if !last.is_empty() || fields.len() % 15 != 0 {
        return Err(bad());
    }
    let entries = fields
        .chunks(15)
        .map(|r| entry(r).ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    let mut extra = std::collections::HashMap::new();
    if q.checksum.is_some() || q.content {
        let body = extras.next().ok_or_else(bad)?;
        let f: Vec<&str> = body.split('\0').collect();
        let (last, f) = f.split_last().ok_or_else(bad)?;
        if !last.is_empty() || f.len() % 3 != 0 {
            return Err(bad());
        }
        for r in f.chunks(3) {
            let content = q.content.then(|| decode(r[2]));
            let e = Extra {
                checksum: r[1].to_string(),
                content,
            };
            extra.insert(r[0].to_string(), e);
        }
    }
    Ok(Root::Entries(entries, extra))
}

fn decode(b64: &str) -> Vec<u8> {
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap_or_default()
}

/// One record of [`FORMAT`].
fn entry(r: &[&str]) -> Option<Entry> {
    let ch = |s: &str| s.chars().next();
    let num = |s: &str| s.parse::<u64>().ok();
    let name = |n: &str, id: &str| {
        if n == id {
            String::new()
        } else {
            n.to_string()
        }
    };
    Some(Entry {
        rel: r[0].to_string(),
        kind: ch(r[1])?,
        target: ch(r[2])?,
        mode: u32::from_str_radix(r[3], 8).ok()?,
        uid: num(r[4])?,
        gid: num(r[5])?,
        user: name(r[6], r[4]),
        group: name(r[7], r[5]),
        size: num(r[8])?,
        inode: num(r[9])?,
        dev: num(r[10])?,
        nlink: num(r[11])?,
        times: [py_time(r[12])?, py_time(r[13])?, py_time(r[14])?],
    })
}

/// `find`'s `%T@` (`secs.fraction`) as Python's `st_mtime`: `sec + nsec * 1e-9`.
fn py_time(s: &str) -> Option<f64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = sec.parse().ok()?;
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nsec: u64 = digits.parse().ok()?;
    Some(sec as f64 + nsec as f64 * 1e-9)
}

impl Planned for Find {
    type Params = FindParams;
    type Facts = Walk;

    fn name(&self) -> &'static str {
        "ansible.builtin.find"
    }

    fn required(&self) -> &'static [&'static str] {
        &["paths|name|path"]
    }

    fn paths(&self) -> &'static [&'static str] {
        &["paths", "name", "path"]
    }

    fn probe(&self, p: &FindParams, _ctx: PlanCtx) -> Result<Probe<Walk>, String> {
        if p.follow {
            return Err("find: `follow: true` is not supported by windlass yet".into());
        }
        let maxdepth = match (p.recurse, p.depth) {
            (false, _) => Some(1),
            (true, Some(d)) if d != 0 => Some(d.max(0) + 1),
            (true, _) => None,
        };
        let file_type = p.file_type.unwrap_or(FileType::File);
        let checksum = (p.get_checksum && matches!(file_type, FileType::File | FileType::Any))
            .then(|| p.checksum_algorithm.unwrap_or(ChecksumAlgorithm::Sha1));
        Ok(Probe::fact(WalkQuery {
            paths: p.paths.clone(),
            maxdepth,
            checksum,
            content: p.contains.is_some() && file_type == FileType::File,
        }))
    }

    fn plan(&self, p: &FindParams, facts: &Walk, _ctx: PlanCtx) -> Result<Plan, String> {
        let filters = super::find_walk::Filters::new(p)?;
        let found = super::find_walk::walk(p, &filters, facts)?;
        let mut plan = Plan::default();
        let r = &mut plan.result;
        r.insert(
            "files".into(),
            Value::Array(found.files.into_iter().map(Value::Object).collect()),
        );
        r.insert("changed".into(), Value::Bool(false));
        r.insert("msg".into(), Value::String(found.msg.into()));
        r.insert("matched".into(), Value::from(found.matched));
        r.insert("examined".into(), Value::from(found.examined));
        r.insert("skipped_paths".into(), Value::Object(found.skipped));
        if !found.warnings.is_empty() {
            let w = found.warnings.into_iter().map(Value::String).collect();
            r.insert("warnings".into(), Value::Array(w));
        }
        Ok(plan)
    }
}

/// Ansible's `statinfo(st)` of an entry, after `path` (the keys in the module's order).
pub fn statinfo(path: &str, e: &Entry) -> Map<String, Value> {
    let t = |c: char| Value::Bool(e.kind == c);
    let bit = |b: u32| Value::Bool(e.mode & b != 0);
    let mut m = Map::new();
    m.insert("path".into(), Value::String(path.into()));
    m.insert(
        "mode".into(),
        Value::String(format!("{:04o}", e.mode & 0o7777)),
    );
    for (k, c) in [
        ("isdir", 'd'),
        ("ischr", 'c'),
        ("isblk", 'b'),
        ("isreg", 'f'),
        ("isfifo", 'p'),
        ("islnk", 'l'),
        ("issock", 's'),
    ] {
        m.insert(k.into(), t(c));
    }
    for (k, v) in [
        ("uid", e.uid),
        ("gid", e.gid),
        ("size", e.size),
        ("inode", e.inode),
        ("dev", e.dev),
        ("nlink", e.nlink),
    ] {
        m.insert(k.into(), Value::from(v));
    }
    for (k, v) in ["atime", "mtime", "ctime"].iter().zip(e.times) {
        m.insert((*k).into(), Value::from(v));
    }
    m.insert("gr_name".into(), Value::String(e.group.clone()));
    m.insert("pw_name".into(), Value::String(e.user.clone()));
    for (k, b) in [
        ("wusr", 0o200),
        ("rusr", 0o400),
        ("xusr", 0o100),
        ("wgrp", 0o020),
        ("rgrp", 0o040),
        ("xgrp", 0o010),
        ("woth", 0o002),
        ("roth", 0o004),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        m.insert(k.into(), bit(b));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply};
    use serde_json::json;

    /// One `find -printf` record (15 fields) for a fixture.
    fn rec(rel: &str, kind: char, mode: &str, size: u64, mtime: &str) -> String {
        let target = if kind == 'l' { 'd' } else { kind };
        format!(
            "{rel}\0{kind}\0{target}\0{mode}\x000\x000\0root\0root\0{size}\x0012\x002049\x001\0{mtime}\0{mtime}\0{mtime}\0"
        )
    }

    fn plan(p: serde_json::Value, sections: &[(&str, &str)]) -> Result<Plan, String> {
        let p: FindParams = params(p);
        plan_with(&Find, &p, &reply(sections), PlanCtx::default())
    }

    /// A listing in `find`'s (depth-first) order comes out in `os.walk`'s: the top
    /// directory's files, then its directories, then each subdirectory's; a link to a
    /// directory is a directory but not entered; hidden directories are still entered.
    #[test]
    fn walk_order_and_stat_keys_are_ansibles() {
        let listing = [
            rec("sub", 'd', "755", 4096, "900.25"),
            rec("sub/c.txt", 'f', "644", 3, "100.5"),
            rec("a.txt", 'f', "4755", 5, "990"),
            rec(".hid", 'd', "700", 4096, "900"),
            rec(".hid/d.txt", 'f', "600", 1, "900"),
            rec("ln", 'l', "777", 3, "900"),
            rec("b.log", 'f', "644", 2048, "100"),
        ]
        .concat();
        let walk = format!("d\0{listing}");
        let sections = [("now", "1000.0\n"), ("walk", walk.as_str())];
        let p = json!({"paths": "/srv/x/", "recurse": true, "file_type": "any"});
        let got = plan(p, &sections).unwrap();
        let paths: Vec<&str> = got.result["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "/srv/x/a.txt",
                "/srv/x/b.log",
                "/srv/x/sub",
                "/srv/x/ln",
                "/srv/x/sub/c.txt",
                "/srv/x/.hid/d.txt"
            ]
        );
        assert_eq!(got.result["examined"], 7);
        assert!(!got.is_change());
        let p = json!({"paths": ["/srv/x", "/srv/none"], "patterns": ["*.txt", "*.log"],
                       "excludes": "b*", "age": "5m", "size": "-4k", "recurse": true});
        let sections = [
            ("now", "1000.0\n"),
            ("walk", walk.as_str()),
            ("walk", "n\0"),
        ];
        insta::assert_yaml_snapshot!(plan(p, &sections).unwrap().result);
    }

    #[test]
    fn depth_limit_and_mode_as_ansible() {
        let listing = [
            rec("d1", 'd', "755", 0, "1"),
            rec("d1/d2", 'd', "755", 0, "1"),
            rec("d1/d2/f3", 'f', "644", 0, "1"),
            rec("d1/f2", 'f', "600", 0, "1"),
            rec("f1", 'f', "644", 0, "1"),
            rec("g1", 'f', "644", 0, "1"),
        ]
        .concat();
        let walk = format!("d\0{listing}");
        let s = [("now", "5\n"), ("walk", walk.as_str())];
        let names = |p| -> Vec<String> {
            plan(p, &s).unwrap().result["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect()
        };
        // depth 2: d1/d2's entries are listed (examined) but not matched.
        assert_eq!(
            names(json!({"paths": "/t", "recurse": true, "depth": 2})),
            ["/t/f1", "/t/g1", "/t/d1/f2"]
        );
        assert_eq!(
            names(json!({"paths": "/t", "recurse": false})),
            ["/t/f1", "/t/g1"]
        );
        assert_eq!(
            names(json!({"paths": "/t", "recurse": true, "mode": "0600"})),
            ["/t/d1/f2"]
        );
        assert_eq!(
            names(json!({"paths": "/t", "recurse": true, "mode": "u=rw,g=r,o=r"})),
            ["/t/f1", "/t/g1", "/t/d1/d2/f3"]
        );
        let limited = plan(json!({"paths": "/t", "recurse": true, "limit": 1}), &s).unwrap();
        assert_eq!(limited.result["msg"], "Limit of matches reached");
        assert_eq!(limited.result["matched"], 1);
        assert_eq!(limited.result["examined"], 3);
        let e = plan(json!({"paths": "/t", "limit": 0}), &s).unwrap_err();
        assert_eq!(e, "limit cannot be 0 (use None for unlimited)");
        let e = plan(json!({"paths": "/t", "age": "3y"}), &s).unwrap_err();
        assert_eq!(e, "failed to process age");
        let e = plan(json!({"paths": "/t", "mode": 420}), &s).unwrap_err();
        assert!(e.contains("value is of type int"), "{e}");
        let re = names(json!({"paths": "/t", "patterns": ["f"], "use_regex": true}));
        assert_eq!(re, ["/t/f1"]);
    }

    fn run(cmd: &RemoteCommand) -> ExecOutput {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .output()
            .unwrap();
        ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// The probe against a real tree whose names hold newlines and what a section header
    /// looks like: every name comes back whole, no entry or section is forged, and the
    /// checksums and `contains` use the files' own bytes.
    #[test]
    fn hostile_names_stay_names() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().display().to_string();
        let nonce = crate::modules::sysprobe::testutil::NONCE;
        let evil = format!("x\n@@{nonce} walk\nn\0");
        let evil = evil.trim_end_matches('\0');
        std::fs::write(dir.path().join(evil), "needle\n").unwrap();
        std::fs::write(dir.path().join("plain.conf"), "a=1\nneedle=2\n").unwrap();
        std::fs::create_dir(dir.path().join("sub\nd")).unwrap();
        std::fs::write(dir.path().join("sub\nd/in.conf"), "no\n").unwrap();
        let p: FindParams = params(json!({"paths": [top, "/nonexistent/wl"], "recurse": true,
                                          "get_checksum": true, "contains": "need"}));
        let cmd = Find
            .probe(&p, PlanCtx::default())
            .unwrap()
            .command()
            .unwrap()
            .clone();
        let got = plan_with(&Find, &p, &run(&cmd), PlanCtx::default()).unwrap();
        let files = got.result["files"].as_array().unwrap();
        let mut paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [format!("{top}/plain.conf"), format!("{top}/{evil}")]
        );
        assert_eq!(got.result["examined"], 4);
        assert_eq!(
            got.result["skipped_paths"],
            json!({"/nonexistent/wl": "'/nonexistent/wl' is not a directory"})
        );
        let plain = files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with("plain.conf"))
            .unwrap();
        // sha1 of "a=1\nneedle=2\n".
        use sha1::Digest;
        let want = hex::encode(sha1::Sha1::digest(b"a=1\nneedle=2\n"));
        assert_eq!(plain["checksum"], json!(want));
        assert_eq!(plain["size"], 13);
        assert_eq!(plain["isreg"], true);
    }
}
