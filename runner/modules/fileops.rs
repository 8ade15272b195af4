//! Shared parts of the file modules: the probe of one path, owner/group/mode decisions,
//! the safe write script (backup, validate, size check, rename), local `src` search, diffs
//! and Python-regex translation.
//!
//! Why this module exists: `file`, `copy`, `template`, `lineinfile`, `blockinfile`,
//! `replace`, `ini_file`, `stat` and `fetch` all ask the same questions of a path (does it
//! exist, what type, mode, owner, checksum, content) and change files the same way. One
//! probe snippet and one parser keep their answers consistent, and one write script keeps
//! every content change atomic: a file lands complete and validated, or not at all.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ResultMap;
use super::TaskResult;
use super::params::Mode;
use super::plan::{Fact, FileDiff, Probe, Step};
use super::reply;
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// Introduces the file content in a probe's reply (see [`reply`]).
pub const CONTENT_MARK: &str = reply::CONTENT;

/// Largest file whose content is read for `--diff` (Ansible's `max_diff_size`).
pub const MAX_DIFF_SIZE: u64 = 104_448;

/// What kind of thing is at a path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// Nothing.
    #[default]
    Absent,
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (not followed).
    Link,
    /// Something else (device, fifo, socket).
    Other,
}

impl Kind {
    /// The kind a probe's `kind` record names (`None`: not one of the probe's words).
    pub fn from_reply(v: &[u8]) -> Option<Kind> {
        Some(match v {
            b"file" => Kind::File,
            b"directory" => Kind::Directory,
            b"link" => Kind::Link,
            b"other" => Kind::Other,
            b"absent" => Kind::Absent,
            _ => return None,
        })
    }

    /// Ansible's name for the state (`file`, `directory`, `link`, `absent`).
    pub fn state(self) -> &'static str {
        match self {
            Kind::Absent => "absent",
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Link => "link",
            Kind::Other => "file",
        }
    }
}

/// The facts the probe reports about one path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// The path the facts are about: the one the controller sent (never read back).
    pub path: String,
    /// Its type.
    pub kind: Kind,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Owner name (`UNKNOWN` when it has none).
    pub owner: String,
    /// Group name.
    pub group: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Inode number.
    pub inode: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Link target, for links: the bytes the host holds (not necessarily UTF-8).
    pub target: Option<Vec<u8>>,
    /// Checksum of the content, for regular files (when asked).
    pub checksum: Option<String>,
    /// The content, for regular files (when asked): at most the limit asked for plus one
    /// byte, so a longer one shows as longer than the limit.
    pub content: Option<Vec<u8>>,
    /// Other `key=value` records the probe printed (a module's own).
    pub extra: Vec<(String, String)>,
}

impl FileFacts {
    /// Whether something is at the path.
    pub fn exists(&self) -> bool {
        self.kind != Kind::Absent
    }

    /// An extra key the probe printed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The content, when the probe read it whole (no longer than `limit`).
    pub fn content_within(&self, limit: u64) -> Option<&[u8]> {
        self.content.as_deref().filter(|c| c.len() as u64 <= limit)
    }
}

/// Options of [`stat_snippet`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StatOpts<'a> {
    /// Follow a link to its target.
    pub follow: bool,
    /// The checksum program for regular files (`sha1sum`, `sha256sum`).
    pub checksum: Option<&'a str>,
    /// Print the content of a regular file up to this size (after [`CONTENT_MARK`]).
    pub content_limit: Option<u64>,
}

/// The records `stat` prints for a path: every one of them, or none.
const STAT_KEYS: [&str; 9] = [
    "size", "mode", "uid", "gid", "owner", "group", "mtime", "inode", "nlink",
];

/// Shell text that reports on the path in shell variable `$p`, as NUL-terminated records
/// (see [`reply`]), optionally followed by [`CONTENT_MARK`] and the content. Always exits 0.
/// The path itself is not printed: the controller knows it.
pub fn stat_snippet(o: StatOpts<'_>) -> String {
    let l = if o.follow { "-L " } else { "" };
    // The link target goes straight from readlink to the reply (a command substitution
    // would drop its trailing newlines).
    const TARGET: &str = "printf 'target='; readlink -n -- \"$p\"; printf '\\0'";
    let mut s = String::new();
    if o.follow {
        s.push_str(
            "if [ ! -e \"$p\" ]; then printf 'kind=absent\\0'; elif [ -d \"$p\" ]; then printf 'kind=directory\\0'; elif [ -f \"$p\" ]; then printf 'kind=file\\0'; else printf 'kind=other\\0'; fi; ",
        );
        s.push_str(&format!(
            "if [ -L \"$p\" ]; then printf 'islnk=1\\0'; {TARGET}; fi; "
        ));
    } else {
        s.push_str(&format!(
            "if [ -L \"$p\" ]; then printf 'kind=link\\0'; {TARGET}; elif [ -d \"$p\" ]; then printf 'kind=directory\\0'; elif [ -f \"$p\" ]; then printf 'kind=file\\0'; elif [ -e \"$p\" ]; then printf 'kind=other\\0'; else printf 'kind=absent\\0'; fi; "
        ));
    }
    // One stat process prints every field straight into the reply (every process counts:
    // a converged host runs nothing but probes).
    s.push_str(&format!(
        "if [ -e \"$p\" ] || [ -L \"$p\" ]; then stat {l}--printf='size=%s\\0mode=%a\\0uid=%u\\0gid=%g\\0owner=%U\\0group=%G\\0mtime=%Y\\0inode=%i\\0nlink=%h\\0' -- \"$p\"; fi; "
    ));
    if let Some(prog) = o.checksum {
        s.push_str(&format!(
            "if [ -f \"$p\" ] && [ -r \"$p\" ] && c=$({prog} < \"$p\"); then printf 'checksum=%s\\0' \"${{c%% *}}\"; fi; "
        ));
    }
    if let Some(limit) = o.content_limit {
        // One byte more than the limit shows the controller a file too long to use; head
        // replaces the cat (and the stat of a link's target) the size check once needed.
        s.push_str(&format!(
            "if [ -f \"$p\" ]; then printf '%s\\0' {CONTENT_MARK}; head -c {} -- \"$p\"; fi; ",
            limit + 1
        ));
    }
    s
}

/// Shell text that sets `$q` to the directory part of `$p`, as `dirname` prints it, without
/// running `dirname`.
pub const DIRNAME_SNIPPET: &str = "q=${p%\"${p##*[!/]}\"}; case \"$q\" in */*) q=${q%/*}; q=${q%\"${q##*[!/]}\"}; q=${q:-/};; '') q=/;; *) q=.;; esac; ";

/// A probe for one path: `p=<path>` then [`stat_snippet`].
pub fn probe_path(path: &str, o: StatOpts<'_>) -> RemoteCommand {
    RemoteCommand::shell(format!("p={}; {}true", quote(path), stat_snippet(o)))
}

/// A module's own probe `script` of `path` (it sets `p` and prints [`stat_snippet`]'s
/// records, and maybe its own): its reply parses into the path's [`FileFacts`], the
/// module's records among their extras.
pub fn path_probe(path: &str, script: String) -> Probe<FileFacts> {
    let path = path.to_string();
    Probe::ask(RemoteCommand::shell(script), move |out| {
        parse_facts(&path, out)
    })
}

/// A path parameter the host can be given: no NUL byte (no shell, argument or file name
/// can hold one, so it would be cut short on the way). Ansible fails such a task too:
/// its modules hand the path to Python's `os` functions, which raise "embedded null byte"
/// (ansible-core 2.19, `file: path="/x\0y"` on the local connection: "Module failed:
/// embedded null byte"). Any other byte is part of the name, a newline included: the
/// same ansible-core's `copy` to `dest: "/x/a\nb"` writes a file named `a\nb`.
/// `what` names the parameter.
pub fn check_path(what: &str, path: &str) -> Result<(), String> {
    if path.contains('\0') {
        return Err(format!("{what} contains a NUL byte: {:?}", path));
    }
    Ok(())
}

/// Parse a probe's reply about `path` (the path the probe was sent) into facts. Strict:
/// anything but the records [`stat_snippet`] prints (plus a module's own) is an error.
pub fn parse_facts(path: &str, out: &ExecOutput) -> Result<FileFacts, String> {
    if out.rc != 0 {
        return Err(format!(
            "probing the file failed (rc {}): {}",
            out.rc,
            out.stderr_str()
        ));
    }
    let r = reply::parse(&out.stdout)?;
    let kind = match r.one("kind")? {
        Some(v) => Kind::from_reply(v).ok_or_else(|| reply::unexpected("an unknown kind", v))?,
        None => return Err(reply::unexpected("no kind", &out.stdout)),
    };
    let mut f = FileFacts {
        path: path.to_string(),
        kind,
        content: r.content.map(<[u8]>::to_vec),
        target: r.one("target")?.map(<[u8]>::to_vec),
        ..FileFacts::default()
    };
    let mut stat_fields = 0;
    for k in STAT_KEYS {
        stat_fields += usize::from(r.one(k)?.is_some());
    }
    match stat_fields {
        0 if kind == Kind::Absent => {}
        9 => read_stat(&r, &mut f)?,
        _ => return Err(reply::unexpected("incomplete stat output", &out.stdout)),
    }
    if let Some(c) = r.one("checksum")? {
        if c.is_empty() || !c.iter().all(u8::is_ascii_hexdigit) {
            return Err(reply::unexpected("checksum is not hex", c));
        }
        f.checksum = Some(String::from_utf8_lossy(c).into_owned());
    }
    for (k, v) in &r.records {
        if k != &"kind" && k != &"target" && k != &"checksum" && !STAT_KEYS.contains(k) {
            f.extra
                .push((k.to_string(), String::from_utf8_lossy(v).into_owned()));
        }
    }
    Ok(f)
}

/// The fields of [`STAT_KEYS`], each checked.
fn read_stat(r: &reply::Reply<'_>, f: &mut FileFacts) -> Result<(), String> {
    let need = |v: Option<u64>| v.unwrap_or_default();
    f.size = need(r.num("size")?);
    f.mode = octal_mode(r.one("mode")?.unwrap_or_default())?;
    f.uid = r.num("uid")?.unwrap_or_default();
    f.gid = r.num("gid")?.unwrap_or_default();
    f.owner = r.text("owner")?.unwrap_or_default();
    f.group = r.text("group")?.unwrap_or_default();
    f.mtime = r.num("mtime")?.unwrap_or_default();
    f.inode = need(r.num("inode")?);
    f.nlink = need(r.num("nlink")?);
    Ok(())
}

/// Permission bits as stat's `%a` prints them (octal, at most 0o7777).
fn octal_mode(v: &[u8]) -> Result<u32, String> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b)))
        .and_then(|s| u32::from_str_radix(s, 8).ok())
        .ok_or_else(|| reply::unexpected("mode is not octal", v))
}

/// `0644`-style text of permission bits, as Ansible reports `mode`.
pub fn mode_str(bits: u32) -> String {
    format!("{bits:04o}")
}

/// Requested owner, group and mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Permission bits or symbolic mode.
    pub mode: Option<Mode>,
    /// Owner name or uid.
    pub owner: Option<String>,
    /// Group name or gid.
    pub group: Option<String>,
}

impl Attrs {
    /// The mode bits the path should have given its current bits (`None`: leave as is).
    pub fn wanted_mode(&self, current: u32, is_dir: bool) -> Result<Option<u32>, String> {
        match &self.mode {
            None => Ok(None),
            Some(Mode::Octal(b)) => Ok(Some(*b)),
            Some(Mode::Symbolic(s)) => apply_symbolic(current, s, is_dir).map(Some),
        }
    }

    /// Whether the owner differs from the facts.
    pub fn owner_differs(&self, f: &FileFacts) -> bool {
        differs(self.owner.as_deref(), &f.owner, f.uid)
    }

    /// Whether the group differs from the facts.
    pub fn group_differs(&self, f: &FileFacts) -> bool {
        differs(self.group.as_deref(), &f.group, f.gid)
    }

    /// Steps that bring an existing path's owner, group and mode to the wanted ones
    /// (empty when they already match). `nofollow`: change a link itself (`chown -h`).
    pub fn steps(&self, path: &str, f: &FileFacts, nofollow: bool) -> Result<Vec<Step>, String> {
        let mut steps = Vec::new();
        let owner = self.owner.as_deref().filter(|_| self.owner_differs(f));
        let group = self.group.as_deref().filter(|_| self.group_differs(f));
        let spec = match (owner, group) {
            (Some(o), Some(g)) => Some(format!("{o}:{g}")),
            (Some(o), None) => Some(o.to_string()),
            (None, Some(g)) => Some(format!(":{g}")),
            (None, None) => None,
        };
        if let Some(spec) = spec {
            let mut argv = vec!["chown".to_string()];
            if nofollow {
                argv.push("-h".into());
            }
            argv.extend(["--".to_string(), spec, path.to_string()]);
            steps.push(Step::Run {
                cmd: RemoteCommand::argv(argv),
            });
        }
        // A link's own mode cannot be changed on Linux; chmod follows it.
        if !(nofollow && f.kind == Kind::Link) {
            let is_dir = f.kind == Kind::Directory;
            if let Some(m) = self.wanted_mode(f.mode, is_dir)?
                && m != f.mode
            {
                steps.push(Step::Run {
                    cmd: RemoteCommand::argv(["chmod", &format!("{m:o}"), "--", path]),
                });
            }
        }
        Ok(steps)
    }

    /// The facts after the attributes are applied (names for uid/gid that change stay as given).
    pub fn applied(&self, f: &FileFacts) -> Result<FileFacts, String> {
        let mut a = f.clone();
        if let Some(m) = self.wanted_mode(f.mode, f.kind == Kind::Directory)? {
            a.mode = m;
        }
        if let Some(o) = &self.owner
            && self.owner_differs(f)
        {
            set_id(o, &mut a.owner, &mut a.uid);
        }
        if let Some(g) = &self.group
            && self.group_differs(f)
        {
            set_id(g, &mut a.group, &mut a.gid);
        }
        Ok(a)
    }
}

fn set_id(given: &str, name: &mut String, id: &mut u32) {
    match given.parse::<u32>() {
        Ok(n) => {
            *id = n;
            name.clear();
        }
        Err(_) => {
            *name = given.to_string();
            *id = u32::MAX;
        }
    }
}

fn differs(wanted: Option<&str>, name: &str, id: u32) -> bool {
    match wanted {
        None => false,
        Some(w) => match w.parse::<u32>() {
            Ok(n) => n != id,
            Err(_) => w != name,
        },
    }
}

/// Apply a symbolic mode (`u=rw,g+r,o-w,a+X`) to `bits`, as chmod does (umask ignored for
/// clauses without `who`, like Ansible).
pub fn apply_symbolic(bits: u32, sym: &str, is_dir: bool) -> Result<u32, String> {
    let mut m = bits;
    for clause in sym.split(',') {
        let opi = clause
            .find(['=', '+', '-'])
            .ok_or_else(|| format!("bad symbolic mode {sym:?}"))?;
        let who = &clause[..opi];
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(format!("bad symbolic mode {sym:?}")),
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        // Several operator groups may follow (`u=rw+x`).
        let mut rest = &clause[opi..];
        while !rest.is_empty() {
            let op = rest.as_bytes()[0];
            let end = rest[1..]
                .find(['=', '+', '-'])
                .map(|i| i + 1)
                .unwrap_or(rest.len());
            let perms = &rest[1..end];
            rest = &rest[end..];
            let mut bits_for = 0u32;
            for c in perms.chars() {
                bits_for |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' if is_dir || m & 0o111 != 0 => 0o111,
                    'X' => 0,
                    's' => 0o6000,
                    't' => 0o1000,
                    'u' => spread((m >> 6) & 7),
                    'g' => spread((m >> 3) & 7),
                    'o' => spread(m & 7),
                    _ => return Err(format!("bad symbolic mode {sym:?}")),
                };
            }
            let eff = bits_for & mask;
            match op {
                b'=' => m = (m & !mask) | eff,
                b'+' => m |= eff,
                _ => m &= !eff,
            }
        }
    }
    Ok(m & 0o7777)
}

fn spread(three: u32) -> u32 {
    three * 0o111
}

/// What [`write_step`] writes and how.
#[derive(Clone, Debug)]
pub struct WriteSpec<'a> {
    /// Destination path.
    pub dest: &'a str,
    /// The new content.
    pub content: &'a [u8],
    /// Attributes to set on the new file (unset ones are kept from an existing file).
    pub attrs: &'a Attrs,
    /// Keep a timestamped copy of the old file; the suffix of its name is printed as a
    /// `backup_suffix` record (the controller adds it to `dest` itself).
    pub backup: bool,
    /// A command with `%s` for the new file, which must succeed before it is moved in place.
    pub validate: Option<&'a str>,
    /// Take the content from this file on the host instead of stdin (`remote_src`).
    pub remote_src: Option<&'a str>,
}

/// The step that writes a file safely: the content arrives on stdin into a temporary file
/// beside `dest`; its size is checked (an interrupted transfer never lands); mode and owner
/// are set (kept from the old file unless given); `validate` runs on it; a backup of the old
/// file is made; then it is renamed over `dest`. On any failure the temporary file is removed.
pub fn write_step(w: &WriteSpec<'_>) -> Result<Step, String> {
    let dest = quote(w.dest);
    let len = w.content.len();
    // The directory comes from the shell (no `dirname`) and is made only when missing: on
    // a converged host every process counts.
    let mut s = format!(
        "set -e; d={dest}; p=\"$d\"; {DIRNAME_SNIPPET}[ -d \"$q\" ] || mkdir -p -- \"$q\"; t=$(mktemp \"$q/.windlass.XXXXXXXX\"); trap 'rm -f \"$t\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; "
    );
    match w.remote_src {
        Some(src) => s.push_str(&format!("cat -- {} > \"$t\"; ", quote(src))),
        None => s.push_str(&format!(
            "cat > \"$t\"; n=$(wc -c < \"$t\"); if [ \"$n\" -ne {len} ]; then echo \"short write: $n of {len} bytes arrived\" >&2; exit 1; fi; "
        )),
    }
    match &w.attrs.mode {
        Some(Mode::Octal(b)) => s.push_str(&format!("chmod {b:o} \"$t\"; ")),
        Some(Mode::Symbolic(m)) => {
            s.push_str(&format!(
                "if [ -e \"$d\" ]; then chmod --reference=\"$d\" \"$t\"; else chmod 644 \"$t\"; fi; chmod {} \"$t\"; ",
                quote(m)
            ));
        }
        None => s.push_str(
            "if [ -e \"$d\" ]; then chmod --reference=\"$d\" \"$t\"; else chmod 644 \"$t\"; fi; ",
        ),
    }
    if w.attrs.owner.is_none() || w.attrs.group.is_none() {
        s.push_str(
            "if [ -e \"$d\" ]; then chown --reference=\"$d\" \"$t\" 2>/dev/null || true; fi; ",
        );
    }
    match (&w.attrs.owner, &w.attrs.group) {
        (Some(o), Some(g)) => s.push_str(&format!("chown {} \"$t\"; ", quote(&format!("{o}:{g}")))),
        (Some(o), None) => s.push_str(&format!("chown {} \"$t\"; ", quote(o))),
        (None, Some(g)) => s.push_str(&format!("chgrp {} \"$t\"; ", quote(g))),
        (None, None) => {}
    }
    if let Some(v) = w.validate {
        s.push_str(&validate_text(v)?);
        s.push_str("; ");
    }
    if w.backup {
        s.push_str(
            "if [ -e \"$d\" ]; then b=\".$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$d\" \"$d$b\"; printf 'backup_suffix=%s\\0' \"$b\"; fi; ",
        );
    }
    s.push_str("mv -f -- \"$t\" \"$d\"; trap - EXIT; ");
    s.push_str(FINAL_STAT);
    let cmd = RemoteCommand::shell(s);
    Ok(Step::Run {
        cmd: match w.remote_src {
            Some(_) => cmd,
            None => cmd.with_stdin(w.content.to_vec()),
        },
    })
}

/// Prints the written file's attributes for [`apply_final`], as records (see [`reply`]).
pub const FINAL_STAT: &str = "stat --printf='final_mode=%a\\0final_uid=%u\\0final_gid=%g\\0final_owner=%U\\0final_group=%G\\0' -- \"$d\"";

/// The `--printf` argument of [`FINAL_STAT`], for a `stat` given as argv.
pub const FINAL_STAT_FORMAT: &str =
    "--printf=final_mode=%a\\0final_uid=%u\\0final_gid=%g\\0final_owner=%U\\0final_group=%G\\0";

/// Update `mode`/`owner`/`group`/`uid`/`gid` in a result from what a [`write_step`] (or a
/// [`FINAL_STAT_FORMAT`] stat) printed after the change, and add the backup of `dest` (under
/// `backup_key`) when one was made. An output that is not such a reply is left out: the
/// planned values stay.
pub fn apply_final(result: &mut TaskResult, outputs: &[ExecOutput], dest: &str, backup_key: &str) {
    for o in outputs.iter().filter(|o| !o.stdout.is_empty()) {
        let Ok(r) = reply::parse(&o.stdout) else {
            continue;
        };
        if let Ok(Some(m)) = r.one("final_mode").map(|m| m.map(octal_mode))
            && let Ok(bits) = m
        {
            result.insert("mode", Value::String(mode_str(bits)));
        }
        for k in ["uid", "gid"] {
            if let Ok(Some(n)) = r.num::<u32>(&format!("final_{k}")) {
                result.insert(k, Value::from(n));
            }
        }
        for k in ["owner", "group"] {
            if let Ok(Some(v)) = r.text(&format!("final_{k}")) {
                result.insert(k, Value::String(v));
            }
        }
        if let Ok(Some(suffix)) = r.one("backup_suffix")
            && backup_suffix_ok(suffix)
        {
            let suffix = String::from_utf8_lossy(suffix);
            result.insert(backup_key, Value::String(format!("{dest}{suffix}")));
        }
    }
}

/// Whether `s` is what [`write_step`]'s backup adds to a name: `.<pid>.<date>@<time>~`.
fn backup_suffix_ok(s: &[u8]) -> bool {
    s.len() > 2
        && s.starts_with(b".")
        && s.ends_with(b"~")
        && s[1..s.len() - 1]
            .iter()
            .all(|b| b.is_ascii_digit() || b".-@:".contains(b))
}

/// The shell text running `validate` on `"$t"`: the command is split into words like
/// Ansible does, every word quoted, and `%s` becomes the temporary file.
fn validate_text(v: &str) -> Result<String, String> {
    if !v.contains("%s") {
        return Err(format!("validate must contain %s: {v}"));
    }
    let words =
        crate::command::split(v).ok_or_else(|| format!("validate has unbalanced quotes: {v}"))?;
    let mut out = Vec::new();
    for w in words {
        let parts: Vec<String> = w.split("%s").map(|p| quote(p).into_owned()).collect();
        let parts: Vec<String> = parts
            .into_iter()
            .map(|p| if p == "''" { String::new() } else { p })
            .collect();
        let joined = parts.join("\"$t\"");
        out.push(if joined.is_empty() {
            "''".into()
        } else {
            joined
        });
    }
    Ok(format!(
        "if ! vout=$({} 2>&1); then printf 'failed to validate: %s\\n' \"$vout\" >&2; exit 1; fi",
        out.join(" ")
    ))
}

/// A text diff of a file, when both sides are UTF-8 (binary files get no diff).
pub fn text_diff(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> Option<FileDiff> {
    let before = std::str::from_utf8(before.unwrap_or_default()).ok()?;
    let after = std::str::from_utf8(after.unwrap_or_default()).ok()?;
    Some(FileDiff {
        path: path.to_string(),
        before: before.to_string(),
        after: after.to_string(),
        ..Default::default()
    })
}

/// SHA-1 hex of `data` (Ansible's `checksum`).
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(data))
}

/// MD5 hex of `data` (`md5sum`).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

/// Find a controller-side `src` the way Ansible does: an absolute path as is; a relative
/// one in `dirs` (role `files/`/`templates/`, the role, the playbook dir's `files/`…, the
/// playbook dir), then relative to the working directory.
pub fn find_local(src: &str, dirs: &[PathBuf]) -> Result<PathBuf, String> {
    let p = Path::new(src);
    if p.is_absolute() {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "Could not find or access '{src}' on the controller"
            ))
        };
    }
    for d in dirs {
        let c = d.join(p);
        if c.exists() {
            return Ok(c);
        }
    }
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let searched: Vec<String> = dirs
        .iter()
        .map(|d| d.join(p).display().to_string())
        .collect();
    Err(format!(
        "Could not find or access '{src}'\nSearched in:\n\t{}",
        searched.join("\n\t")
    ))
}

/// The result keys Ansible reports for a path: `path`/`dest`, `state`, `mode`, `owner`,
/// `group`, `uid`, `gid`, `size`.
pub fn path_result(key: &str, f: &FileFacts) -> ResultMap {
    let mut r = ResultMap::new();
    r.insert(key.into(), Value::String(f.path.clone()));
    r.insert("state".into(), Value::String(f.kind.state().into()));
    if f.exists() {
        r.insert("mode".into(), Value::String(mode_str(f.mode)));
        if !f.owner.is_empty() {
            r.insert("owner".into(), Value::String(f.owner.clone()));
        }
        if !f.group.is_empty() {
            r.insert("group".into(), Value::String(f.group.clone()));
        }
        if f.uid != u32::MAX {
            r.insert("uid".into(), Value::from(f.uid));
        }
        if f.gid != u32::MAX {
            r.insert("gid".into(), Value::from(f.gid));
        }
        r.insert("size".into(), Value::from(f.size));
    }
    r
}

/// A Python `re` pattern for the line and text editing modules (`lineinfile`, `replace`,
/// `blockinfile`): compiled by `template::pyre`, the same engine as the regex
/// filters, so backreferences (`(\w)\1`), look-around (`(?<=x)`, `(?!y)`) and `re.sub`
/// replacements (`\1`, `\g<name>`) mean what they mean in Python (the modules call
/// `re.search`/`re.sub`/`m.expand`: lib/ansible/modules/lineinfile.py, replace.py).
#[derive(Debug)]
pub struct PyRe(fancy_regex::Regex);

/// A matching error (backtracking limit) as a task error.
fn re_err(e: fancy_regex::Error) -> String {
    format!("regular expression failed: {e}")
}

impl PyRe {
    /// Whether it matches anywhere in `s` (`re.search`).
    pub fn is_match(&self, s: &str) -> Result<bool, String> {
        self.0.is_match(s).map_err(re_err)
    }

    /// The first match's start and end in `s`.
    pub fn find(&self, s: &str) -> Result<Option<(usize, usize)>, String> {
        Ok(self
            .0
            .find(s)
            .map_err(re_err)?
            .map(|m| (m.start(), m.end())))
    }

    /// `re.subn(pattern, repl, s)`: the new text and the number of matches replaced.
    pub fn subn(&self, repl: &str, s: &str) -> Result<(String, usize), String> {
        let mut n = 0;
        for m in self.0.find_iter(s) {
            m.map_err(re_err)?;
            n += 1;
        }
        let out = crate::template::pyre::sub(&self.0, repl, s, 0).map_err(|e| e.to_string())?;
        Ok((out, n))
    }

    /// `re.search(pattern, s).expand(template)`; `None` when it does not match.
    pub fn expand(&self, template: &str, s: &str) -> Result<Option<String>, String> {
        let Some(caps) = self.0.captures(s).map_err(re_err)? else {
            return Ok(None);
        };
        let mut out = String::new();
        crate::template::pyre::expand(&self.0, template, &caps, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(Some(out))
    }
}

/// Compile a Python pattern; `multiline`: `re.MULTILINE`.
pub fn py_regex(pat: &str, multiline: bool) -> Result<PyRe, String> {
    crate::template::pyre::compile(pat, false, multiline)
        .map(PyRe)
        .map_err(|e| e.detail().unwrap_or_default().to_string())
}

/// Split text into lines keeping their endings (Python's `readlines`).
pub fn split_lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// A line without its `\r\n`/`\n` ending.
pub fn strip_eol(l: &str) -> &str {
    l.trim_end_matches(['\n', '\r'])
}

/// Largest file the line-editing modules read (they need the whole content).
pub const MAX_EDIT_SIZE: u64 = 64 * 1024 * 1024;

/// What to ask of one path: the query of its [`FileFacts`] as [`probe_path`] reads them.
#[derive(Clone, Debug)]
pub struct PathQuery {
    /// The path.
    pub path: String,
    /// What to read of it.
    pub opts: StatOpts<'static>,
}

impl PathQuery {
    /// The query of the line-editing modules: facts and the whole content of `path`.
    pub fn text(path: &str) -> Self {
        PathQuery {
            path: path.to_string(),
            opts: StatOpts {
                follow: true,
                checksum: None,
                content_limit: Some(MAX_EDIT_SIZE),
            },
        }
    }
}

impl Fact for FileFacts {
    type Query = PathQuery;

    fn command(q: &PathQuery) -> RemoteCommand {
        probe_path(&q.path, q.opts)
    }

    fn parse(q: &PathQuery, out: &ExecOutput) -> Result<Self, String> {
        parse_facts(&q.path, out)
    }
}

/// The current text of a file the probe read (empty when absent).
pub fn text_of(f: &FileFacts) -> Result<String, String> {
    if f.exists() && f.content_within(MAX_EDIT_SIZE).is_none() {
        return Err(format!(
            "{} is not a regular file or is larger than {MAX_EDIT_SIZE} bytes",
            f.path
        ));
    }
    String::from_utf8(f.content.clone().unwrap_or_default())
        .map_err(|_| format!("{} is not UTF-8 text", f.path))
}

/// What a line-editing module wants done to a text file.
pub struct Edit<'a> {
    /// The path.
    pub path: &'a str,
    /// The new content, when it differs from the old.
    pub new: Option<String>,
    /// Requested attributes.
    pub attrs: &'a Attrs,
    /// Keep a backup of the old file.
    pub backup: bool,
    /// Validation command for the new content.
    pub validate: Option<&'a str>,
    /// Whether to report a diff.
    pub diff: bool,
    /// The diff's `before_header`/`after_header`, as the module's Ansible counterpart
    /// names the file (`<path> (content)` for lineinfile, blockinfile and ini_file).
    pub header: String,
}

/// The plan of a text edit (lineinfile, blockinfile, replace, ini_file): the steps of
/// [`edit_steps`], `msg(attributes_changed)` as the result's `msg` (Ansible's wording for
/// attribute changes added), on top of `result`.
pub fn edit_plan(
    e: &Edit<'_>,
    f: &FileFacts,
    msg: impl FnOnce(bool) -> String,
    mut result: ResultMap,
) -> Result<crate::modules::plan::Plan, String> {
    let (steps, diffs, attrs_changed) = edit_steps(e, f)?;
    result.insert(
        "msg".into(),
        Value::String(attrs_msg(msg(attrs_changed), attrs_changed)),
    );
    Ok(crate::modules::plan::Plan {
        steps,
        diffs,
        result,
        changed: None,
    })
}

/// Ansible's message when attributes changed too.
pub fn attrs_msg(msg: String, attrs_changed: bool) -> String {
    match (msg.is_empty(), attrs_changed) {
        (_, false) => msg,
        (true, true) => "ownership, perms or SE linux context changed".into(),
        (false, true) => format!("{msg} and ownership, perms or SE linux context changed"),
    }
}

/// After an edit of `dest` ran: report the backup file under `key` (`backup` or
/// `backup_file`).
pub fn finish_backup(result: &mut TaskResult, outputs: &[ExecOutput], dest: &str, key: &str) {
    let mut extra = TaskResult::new();
    apply_final(&mut extra, outputs, dest, key);
    if let Some(b) = extra.get(key) {
        result.insert(key, b.clone());
    }
}

/// Steps and diffs for an [`Edit`] of the file described by `f`: a safe write when the
/// content changes (attributes applied to the new file), else attribute fixes only.
/// Returns also whether attributes alone change.
pub fn edit_steps(e: &Edit<'_>, f: &FileFacts) -> Result<(Vec<Step>, Vec<FileDiff>, bool), String> {
    let mut diffs = Vec::new();
    if let Some(new) = &e.new {
        let step = write_step(&WriteSpec {
            dest: e.path,
            content: new.as_bytes(),
            attrs: e.attrs,
            backup: e.backup && f.exists(),
            validate: e.validate,
            remote_src: None,
        })?;
        if e.diff {
            let old = if f.exists() {
                f.content.as_deref()
            } else {
                Some(&b""[..])
            };
            if let Some(d) = text_diff(e.path, old, Some(new.as_bytes())) {
                diffs.push(d.headed(&e.header, &e.header));
            }
        }
        let attrs_change = f.exists() && !e.attrs.steps(e.path, f, false)?.is_empty();
        return Ok((vec![step], diffs, attrs_change));
    }
    if !f.exists() {
        return Ok((Vec::new(), diffs, false));
    }
    let steps = e.attrs.steps(e.path, f, false)?;
    let changed = !steps.is_empty();
    Ok((steps, diffs, changed))
}

/// Tests: the reply a probe prints, written as the old `key=value` lines for readability
/// (`path=` lines dropped: the probe no longer prints the path). Stat fields a line-based
/// sample leaves out get the values the line parser defaulted them to, so a sample keeps
/// meaning what it meant.
#[cfg(test)]
pub(crate) fn reply_of(text: &str) -> Vec<u8> {
    let mark = format!("{CONTENT_MARK}\n");
    let (head, content) = match text.find(&mark) {
        Some(i) => (&text[..i], Some(&text[i + mark.len()..])),
        None => (text, None),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = head.lines().filter(|l| !l.starts_with("path=")).collect();
    let has = |k: &str| lines.iter().any(|l| l.starts_with(&format!("{k}=")));
    let exists = lines
        .iter()
        .any(|l| l.starts_with("kind=") && *l != "kind=absent");
    let any_stat = STAT_KEYS.iter().any(|k| has(k));
    for l in &lines {
        out.extend_from_slice(l.as_bytes());
        out.push(0);
    }
    if exists || any_stat {
        for k in STAT_KEYS.iter().filter(|k| !has(k)) {
            let v = if matches!(*k, "owner" | "group") {
                ""
            } else {
                "0"
            };
            out.extend_from_slice(format!("{k}={v}\0").as_bytes());
        }
    }
    if let Some(c) = content {
        out.extend_from_slice(CONTENT_MARK.as_bytes());
        out.push(0);
        out.extend_from_slice(c.as_bytes());
    }
    out
}

/// Tests: [`reply_of`] as a successful command's output.
#[cfg(test)]
pub(crate) fn out_of(text: &str) -> ExecOutput {
    ExecOutput {
        rc: 0,
        stdout: reply_of(text),
        stderr: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbolic_modes() {
        assert_eq!(apply_symbolic(0o644, "u+x", false).unwrap(), 0o744);
        assert_eq!(apply_symbolic(0o777, "go-w", false).unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o000, "u=rw,g=r,o=", false).unwrap(), 0o640);
        assert_eq!(apply_symbolic(0o644, "a+X", false).unwrap(), 0o644);
        assert_eq!(apply_symbolic(0o644, "a+X", true).unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o755, "o=u", false).unwrap(), 0o757);
        assert!(apply_symbolic(0o644, "q+x", false).is_err());
    }

    #[test]
    fn python_regex() {
        let r = py_regex(r"^(?P<k>\w+)=.*\Z", false).unwrap();
        assert!(r.is_match("abc=1").unwrap());
        let look = py_regex(r"(?<=a)(b)(?!c)", false).unwrap();
        assert_eq!(
            look.subn(r"[\1\g<1>]", "ab abc").unwrap(),
            ("a[bb] abc".into(), 1)
        );
        assert_eq!(look.expand(r"<\1>", "xab").unwrap().as_deref(), Some("<b>"));
        assert!(py_regex("(", false).unwrap_err().contains("'('"));
    }

    #[test]
    fn validate_quotes_words_and_substitutes_temp() {
        let t = validate_text("visudo -cf %s").unwrap();
        assert!(t.contains("visudo -cf \"$t\""), "{t}");
        let t = validate_text("sh -c 'test -s %s; $(id)'").unwrap();
        assert!(t.contains("'test -s '\"$t\"'; $(id)'"), "{t}");
        assert!(validate_text("true").is_err());
    }

    #[test]
    fn facts_parse_with_content() {
        let out = out_of(
            "kind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=3\nchecksum=abc\n--windlass-content--\nhi\n",
        );
        let f = parse_facts("/x", &out).unwrap();
        assert_eq!(f.path, "/x");
        assert_eq!(f.kind, Kind::File);
        assert_eq!(f.mode, 0o644);
        assert_eq!(f.content.as_deref(), Some(&b"hi\n"[..]));
        assert_eq!(f.checksum.as_deref(), Some("abc"));
    }

    fn sh(script: &str, arg: &str) -> ExecOutput {
        let o = std::process::Command::new("/bin/sh")
            .args(["-c", script, "sh", arg])
            .output()
            .unwrap();
        ExecOutput {
            rc: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }

    fn sh_bytes(script: &str, arg: &std::ffi::OsStr) -> ExecOutput {
        let o = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(arg)
            .output()
            .unwrap();
        ExecOutput {
            rc: o.status.code().unwrap_or(-1),
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }

    #[test]
    fn hostile_names_and_link_targets_are_data() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let sum = sha1_hex(b"hello\n");
        let names = [
            "x\npath=victim".to_string(),
            format!("fresh\nkind=file\nchecksum={sum}\nsize=6"),
            "y\n--windlass-content--\nz".to_string(),
            "mode=777\nuid=0\n".to_string(),
        ];
        let opts = StatOpts {
            follow: false,
            checksum: Some("sha1sum"),
            content_limit: Some(100),
        };
        let script = format!("p=$1; {}true", stat_snippet(opts));
        for n in &names {
            // Absent: nothing but `kind=absent`, whatever the name says.
            let path = dir.path().join(n);
            let f = parse_facts(n, &sh_bytes(&script, path.as_os_str())).unwrap();
            assert_eq!(
                (f.kind, f.checksum.as_deref(), f.size),
                (Kind::Absent, None, 0),
                "{n:?}"
            );
            assert_eq!(f.path, *n);
            std::fs::write(&path, "kind=directory\n--windlass-content--\nmode=777\n").unwrap();
            let f = parse_facts(n, &sh_bytes(&script, path.as_os_str())).unwrap();
            assert_eq!(f.kind, Kind::File, "{n:?}");
            assert_eq!(f.size, 45);
            assert_eq!(
                f.checksum.unwrap(),
                sha1_hex(b"kind=directory\n--windlass-content--\nmode=777\n")
            );
            assert_eq!(
                f.content.as_deref(),
                Some(&b"kind=directory\n--windlass-content--\nmode=777\n"[..])
            );
            assert!(f.extra.is_empty(), "{:?}", f.extra);
        }
        // A link whose target holds newlines, a marker, a trailing newline and bytes that
        // are not UTF-8 (readlink output is not cut by a command substitution).
        let target: &[u8] = b"t\nkind=file\n--windlass-content--\n\xff\xfe\n";
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &link).unwrap();
        let f = parse_facts("l", &sh_bytes(&script, link.as_os_str())).unwrap();
        assert_eq!((f.kind, f.target.as_deref()), (Kind::Link, Some(target)));
        assert_eq!(f.content, None);
        let follow = format!(
            "p=$1; {}true",
            stat_snippet(StatOpts {
                follow: true,
                ..opts
            })
        );
        let f = parse_facts("l", &sh_bytes(&follow, link.as_os_str())).unwrap();
        assert_eq!((f.kind, f.target.as_deref()), (Kind::Absent, Some(target)));
        assert_eq!(f.get("islnk"), Some("1"));
    }

    #[test]
    fn forged_or_malformed_replies_are_unexpected() {
        let stat =
            "size=1\0mode=644\0uid=0\0gid=0\0owner=root\0group=root\0mtime=1\0inode=2\0nlink=1\0";
        let bad = [
            // The old line format, whatever it says.
            "path=/x\nkind=file\nsize=6\n".to_string(),
            "kind=absent\0kind=file\0".into(),
            "kind=nothing\0".into(),
            "kind=file\0size=1\0mode=644\0".into(),
            format!("kind=file\0{}", stat.replace("mode=644", "mode=8")),
            format!("kind=file\0{}", stat.replace("mode=644", "mode=17777")),
            format!("kind=file\0{}", stat.replace("uid=0", "uid=x")),
            format!("kind=file\0{}", stat.replace("size=1", "size=-1")),
            format!("kind=file\0{}size=2\0", stat),
            format!("kind=file\0{stat}checksum=zz\0"),
            format!("kind=file\0{stat}checksum=\0"),
            format!("kind=file\0{stat}target=a\0target=b\0"),
            format!("kind=file\0{stat}trailing"),
            "".into(),
        ];
        for b in &bad {
            let out = ExecOutput {
                rc: 0,
                stdout: b.as_bytes().to_vec(),
                stderr: vec![],
            };
            let e = parse_facts("/x", &out).unwrap_err();
            assert!(e.starts_with("unexpected probe output"), "{b:?}: {e}");
        }
        // Owner and group names are data too.
        let names = stat
            .replace("owner=root", "owner=a\nkind=directory\nuid=7")
            .replace("group=root", "group=--windlass-content--");
        let out = ExecOutput {
            rc: 0,
            stdout: format!("kind=file\0{names}").into_bytes(),
            stderr: vec![],
        };
        let f = parse_facts("/x", &out).unwrap();
        assert_eq!(
            (f.kind, f.uid, f.owner.as_str()),
            (Kind::File, 0, "a\nkind=directory\nuid=7")
        );
        assert_eq!(
            (f.group.as_str(), f.content.as_deref()),
            ("--windlass-content--", None)
        );
    }

    #[test]
    fn final_stat_and_backup_cannot_be_forged() {
        let out = |s: &str| ExecOutput {
            rc: 0,
            stdout: s.as_bytes().to_vec(),
            stderr: vec![],
        };
        let mut r = TaskResult::new();
        apply_final(
            &mut r,
            &[out(
                "backup_suffix=.12.2024-01-02@03:04:05~\0final_mode=640\0final_uid=0\0final_gid=0\0final_owner=a\nfinal_mode=777\0final_group=g\0",
            )],
            "/d/x\nbackup_file=/etc/passwd",
            "backup_file",
        );
        assert_eq!(r.registered()["mode"], "0640");
        assert_eq!(r.registered()["owner"], "a\nfinal_mode=777");
        assert_eq!(
            r.registered()["backup_file"],
            "/d/x\nbackup_file=/etc/passwd.12.2024-01-02@03:04:05~"
        );
        // A suffix that is not one, or lines in the old format: nothing taken.
        let mut r = TaskResult::new();
        apply_final(
            &mut r,
            &[
                out("backup_suffix=/../../etc/passwd\0"),
                out("final_mode=777\nbackup_file=/etc/passwd\n"),
            ],
            "/d/x",
            "backup_file",
        );
        assert!(r.registered().is_empty(), "{r:?}");
    }

    #[test]
    fn write_step_backup_and_final_stat_run_on_a_hostile_name() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("b\nbackup_file=x\nfinal_mode=777");
        std::fs::write(&dest, "old").unwrap();
        let dest = dest.to_str().unwrap();
        let attrs = Attrs::default();
        let Step::Run { cmd } = write_step(&WriteSpec {
            dest,
            content: b"new",
            attrs: &attrs,
            backup: true,
            validate: None,
            remote_src: None,
        })
        .unwrap() else {
            panic!()
        };
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        assert_eq!(out.rc, 0, "{}", out.stderr_str());
        let mut r = TaskResult::new();
        apply_final(&mut r, &[out], dest, "backup_file");
        let r = r.registered();
        let backup = r["backup_file"].as_str().unwrap();
        assert!(
            backup.starts_with(dest) && backup.ends_with('~'),
            "{backup}"
        );
        assert_eq!(std::fs::read(backup).unwrap(), b"old");
        assert_eq!(std::fs::read(dest).unwrap(), b"new");
        assert_eq!(r["mode"], "0644");
    }

    #[test]
    fn dirname_snippet_matches_dirname() {
        for p in [
            "/a/b",
            "/a/b/",
            "/a",
            "/",
            "//",
            "a",
            "a/",
            "a/b",
            "./x",
            "/a//b",
            "/x y/z",
            "///a//b//",
        ] {
            let ours = sh(&format!("p=$1; {DIRNAME_SNIPPET}printf %s \"$q\""), p).stdout;
            let theirs = sh("dirname -- \"$1\" | tr -d '\\n'", p).stdout;
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{p}"
            );
        }
    }

    #[test]
    fn stat_snippet_reports_size_checksum_and_bounded_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "hello\n").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let probe = |path: &std::path::Path, follow: bool, limit: u64| {
            let o = StatOpts {
                follow,
                checksum: Some("sha1sum"),
                content_limit: Some(limit),
            };
            let out = sh(
                &format!("p=$1; {}true", stat_snippet(o)),
                path.to_str().unwrap(),
            );
            parse_facts(path.to_str().unwrap(), &out).unwrap()
        };
        let hello_sha1 = "f572d396fae9206628714fb2ce00f72e94f2258f";
        for (path, follow) in [(&f, true), (&f, false), (&link, true), (&link, false)] {
            let facts = probe(path, follow, 6);
            assert_eq!(
                facts.content.as_deref(),
                Some(&b"hello\n"[..]),
                "{path:?} {follow}"
            );
            assert_eq!(facts.checksum.as_deref(), Some(hello_sha1));
            // One byte over the limit: no content, whether the size comes from `$st` or
            // from the link's target.
            let over = probe(path, follow, 5);
            assert_eq!(over.content_within(5), None, "{path:?} {follow}");
        }
        assert_eq!(probe(&f, true, 6).size, 6);
        let absent = probe(&dir.path().join("nope"), true, 6);
        assert!(!absent.exists());
        assert_eq!((absent.content, absent.checksum), (None, None));
    }
}
