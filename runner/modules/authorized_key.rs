//! `ansible.posix.authorized_key`: add or remove SSH public keys in a user's
//! authorized_keys file.
//!
//! Why this module exists: every fleet hands out operator and automation keys. The one
//! framed probe reads the user's passwd entry (uid, gid, home; by exact name), the key
//! file (the user's `~/.ssh/authorized_keys` or `path`, resolved with `follow`) and, for a
//! `key` that is a URL, the key list fetched on the host with `curl` or `wget` (Ansible fetches it
//! on the host too). The pure plan ports ansible.posix's `enforce_state`: keys are matched
//! by their base64 body, options and comment compared, new keys appended after the old
//! ones, `exclusive` drops every other line; a change rewrites the file (every key line
//! re-serialised as Ansible does, a key without comment gaining its trailing space) after
//! the directory (0700) and file (0600) are made the user's.

use std::collections::BTreeMap;

use base64::Engine as _;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::fileops::{self, Attrs, WriteSpec};
use super::known_hosts::PathInfo;
use super::params::{ansible_bool, choice};
use super::plan::{FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use super::userpath::shell_word;
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `ansible.posix.authorized_key`.
pub struct AuthorizedKey;

fn yes() -> bool {
    true
}

/// Parameters of `authorized_key`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedKeyParams {
    /// The user whose file it is. Required.
    pub user: String,
    /// One or more key lines (blank lines and `#` lines skipped), or an `http(s)` URL the
    /// host fetches them from with `curl` (else `wget`). Required.
    pub key: String,
    /// The key file (`~` expanded on the host). Default `~user/.ssh/authorized_keys`.
    #[serde(default)]
    pub path: Option<String>,
    /// Create the file's directory (0700, owned by the user) when changing it. Default
    /// `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub manage_dir: bool,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<AuthorizedKeyState>,
    /// Options (`no-pty,from="10.0.0.0/8"`) replacing those of every given key.
    #[serde(default)]
    pub key_options: Option<String>,
    /// Remove every other line of the file. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub exclusive: bool,
    /// A comment replacing those of every given key.
    #[serde(default)]
    pub comment: Option<String>,
    /// Check the TLS certificate of a `key` URL (`curl -k` when false). Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub validate_certs: bool,
    /// Follow a symbolic link at the key file's path and edit its target. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub follow: bool,
}

choice! {
    /// `authorized_key`'s `state` (choices in ansible.posix's authorized_key module).
    pub enum AuthorizedKeyState {
        /// The keys are in the file. The default.
        Present = "present",
        /// The keys are not in the file.
        Absent = "absent",
    }
    else "value of state must be one of: absent, present, got: {got}"
}

/// The user's passwd entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserEntry {
    /// Numeric uid.
    pub uid: String,
    /// Numeric primary gid.
    pub gid: String,
    /// Home directory.
    pub home: String,
}

/// What the plan needs of the host: the `authorized_key` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFileFacts {
    /// The user's entry (`None`: no such user).
    pub user: Option<UserEntry>,
    /// The key file's path as the host resolved it (`None`: no user and no `path`).
    pub keyfile: Option<String>,
    /// The file's content (empty when it is missing or not a regular file).
    pub content: String,
    /// The body a `key` URL returned (`None`: not a URL, or the fetch failed).
    pub fetched: Option<String>,
    /// What Ansible's `add_path_info` reports of `path`, when it is given and exists.
    pub path_info: Option<PathInfo>,
}

fn is_url(key: &str) -> bool {
    key.starts_with("http")
}

/// The probe script (see the module docs).
pub fn probe_command(p: &AuthorizedKeyParams) -> RemoteCommand {
    let u = quote(&p.user);
    let mut s = format!(
        "while IFS=: read -r n _ u g _ h _; do if [ \"$n\" = {u} ]; then wl_u=$u; wl_g=$g; wl_h=$h; fi; \
         done <<WL_EOF\n$(getent passwd -- {u})\nWL_EOF\n\
         if [ -n \"${{wl_u+x}}\" ]; then {}printf '%s\\0%s\\0%s' \"$wl_u\" \"$wl_g\" \"$wl_h\"; k=\"$wl_h/.ssh/authorized_keys\"; fi; ",
        header("user")
    );
    if let Some(path) = &p.path {
        s.push_str(&format!(
            "k={}; if [ -e \"$k\" ] || [ -L \"$k\" ]; then {}stat --printf={} -- \"$k\"; fi; ",
            shell_word(path),
            header("path_info"),
            quote(PathInfo::FORMAT)
        ));
    }
    if p.follow {
        s.push_str("if [ -n \"${k+x}\" ] && r=$(readlink -f -- \"$k\"); then k=$r; fi; ");
    }
    s.push_str(&format!(
        "if [ -n \"${{k+x}}\" ]; then {}printf '%s' \"$k\"; if [ -f \"$k\" ]; then {}base64 -w0 -- \"$k\"; fi; fi; ",
        header("keyfile"),
        header("content")
    ));
    if is_url(&p.key) {
        let (k, nocheck) = match p.validate_certs {
            true => ("", ""),
            false => ("-k ", "--no-check-certificate "),
        };
        let url = quote(&p.key);
        s.push_str(&format!(
            "if command -v curl >/dev/null 2>&1; then wl_get() {{ curl -fsSL {k}--max-time 30 -- {url}; }}; \
             else wl_get() {{ wget -qO- {nocheck}--timeout=30 -- {url}; }}; fi; \
             if b=$(wl_get | base64 -w0) && [ -n \"$b\" ]; then {}printf '%s' \"$b\"; fi; ",
            header("fetched")
        ));
    }
    RemoteCommand::shell(framed(&s))
}

fn unbase64(b: &str, what: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .map_err(|_| format!("unexpected probe output: {what} is not base64"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The facts from the probe's reply.
pub fn parse(out: &ExecOutput) -> Result<KeyFileFacts, String> {
    let s = Sections::parse(out)?;
    let user = match s.get("user") {
        Some(b) => match b.split('\0').collect::<Vec<_>>()[..] {
            [uid, gid, home] => Some(UserEntry {
                uid: uid.into(),
                gid: gid.into(),
                home: home.into(),
            }),
            _ => return Err(format!("unexpected probe output: passwd entry {b:?}")),
        },
        None => None,
    };
    Ok(KeyFileFacts {
        user,
        keyfile: s.get("keyfile").map(str::to_string),
        content: match s.get("content") {
            Some(b) => unbase64(b, "the key file")?,
            None => String::new(),
        },
        fetched: s
            .get("fetched")
            .map(|b| unbase64(b, "the fetched key"))
            .transpose()?,
        path_info: s.get("path_info").map(PathInfo::parse).transpose()?,
    })
}

/// A key's options in order, a name possibly repeated (ansible.posix's `keydict`).
#[derive(Clone, Debug, Default)]
struct Options(Vec<(String, Option<String>)>);

impl PartialEq for Options {
    /// As Python compares two `keydict`s: by name, each name's values in order.
    fn eq(&self, other: &Self) -> bool {
        fn by_name(o: &Options) -> BTreeMap<&str, Vec<&Option<String>>> {
            let mut m: BTreeMap<&str, Vec<&Option<String>>> = BTreeMap::new();
            for (k, v) in &o.0 {
                m.entry(k.as_str()).or_default().push(v);
            }
            m
        }
        by_name(self) == by_name(other)
    }
}

/// ansible.posix's `parseoptions`: comma-separated, commas inside quotes kept.
fn parse_options(text: Option<&str>) -> Options {
    let mut out = Vec::new();
    let Some(text) = text else {
        return Options(out);
    };
    let mut cur = String::new();
    let mut chars = text.char_indices().peekable();
    let flush = |cur: &mut String, out: &mut Vec<(String, Option<String>)>| {
        if !cur.is_empty() {
            let part = std::mem::take(cur);
            match part.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
                None => out.push((part, None)),
            }
        }
    };
    while let Some((i, c)) = chars.next() {
        match c {
            ',' => flush(&mut cur, &mut out),
            '"' | '\'' => match text[i + 1..].find(c) {
                Some(j) => {
                    cur.push_str(&text[i..i + j + 2]);
                    while chars.peek().is_some_and(|(k, _)| *k <= i + j + 1) {
                        chars.next();
                    }
                }
                None => {
                    flush(&mut cur, &mut out);
                    out.push((c.to_string(), None));
                }
            },
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    Options(out)
}

/// One line of the file (or one given key), as ansible.posix's `parsekey` reads it.
#[derive(Clone, Debug)]
enum Line {
    /// A key: base64 body, type, options, comment.
    Key {
        body: String,
        kind: String,
        options: Options,
        comment: String,
    },
    /// A comment or unparsable line, written back as it is.
    Kept(String),
}

impl Line {
    fn same(&self, other: &Line) -> bool {
        match (self, other) {
            (
                Line::Key {
                    body,
                    kind,
                    options,
                    comment,
                },
                Line::Key {
                    body: b2,
                    kind: k2,
                    options: o2,
                    comment: c2,
                },
            ) => body == b2 && kind == k2 && options == o2 && comment == c2,
            _ => false,
        }
    }

    /// The line as `serialize` writes it.
    fn text(&self) -> String {
        match self {
            Line::Kept(l) => l.clone(),
            Line::Key {
                body,
                kind,
                options,
                comment,
            } => {
                let opts: Vec<String> = options
                    .0
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    })
                    .collect();
                let opts = match opts.is_empty() {
                    true => String::new(),
                    false => format!("{} ", opts.join(",")),
                };
                format!("{opts}{kind} {body} {comment}\n")
            }
        }
    }
}

const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "ssh-ed25519",
    "ssh-dss",
    "ssh-rsa",
];

/// `parsekey`: `None` for a line with no known key type; an error for a type without a
/// body (Python's IndexError there).
fn parse_key(raw: &str) -> Result<Option<Line>, String> {
    let raw = raw.replace("\\#", "#");
    let parts: Vec<&str> = raw
        .split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
        .collect();
    if parts.first() == Some(&"#") {
        return Ok(Some(Line::Kept(raw)));
    }
    let Some(t) = parts.iter().position(|w| KEY_TYPES.contains(w)) else {
        return Ok(None);
    };
    let options = (t > 0).then(|| parts[..t].join(" "));
    let body = parts
        .get(t + 1)
        .ok_or_else(|| format!("invalid key specified: {}", raw.trim_end()))?;
    Ok(Some(Line::Key {
        body: body.to_string(),
        kind: parts[t].to_string(),
        options: parse_options(options.as_deref()),
        comment: parts.get(t + 2..).unwrap_or_default().join(" "),
    }))
}

/// Python's `str.splitlines(True)` for the line endings a file has.
fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let end = match b[i] {
            b'\r' if b.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' | b'\n' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(&text[start..end]);
        start = end;
        i = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// The file's lines by identity (`parsekeys`): a key by its body, any other line by its
/// text; a later line with the same identity replaces the earlier one's value in place.
fn parse_keys(text: &str) -> Result<IndexMap<String, (Line, usize)>, String> {
    let mut keys = IndexMap::new();
    for (rank, line) in split_lines(text).into_iter().enumerate() {
        match parse_key(line)? {
            Some(l @ Line::Key { .. }) => {
                let Line::Key { body, .. } = &l else {
                    unreachable!()
                };
                keys.insert(body.clone(), (l, rank));
            }
            Some(Line::Kept(raw)) => {
                keys.insert(raw.clone(), (Line::Kept(raw), rank));
            }
            None => {
                keys.insert(line.to_string(), (Line::Kept(line.to_string()), rank));
            }
        }
    }
    Ok(keys)
}

/// The new file text, when it changes (`enforce_state`).
pub fn new_content(
    p: &AuthorizedKeyParams,
    key: &str,
    existing: &str,
) -> Result<Option<String>, String> {
    let present = p.state != Some(AuthorizedKeyState::Absent);
    let new_keys: Vec<&str> = key
        .lines()
        .filter(|s| !s.is_empty() && !s.starts_with('#'))
        .collect();
    let mut keys = parse_keys(existing)?;
    let base = keys.len();
    let mut keep = Vec::new();
    let mut write = false;
    for (rank, raw) in new_keys.iter().enumerate() {
        let Some(Line::Key {
            body,
            kind,
            mut options,
            mut comment,
        }) = parse_key(raw)?
        else {
            return Err(format!("invalid key specified: {raw}"));
        };
        if p.key_options.is_some() {
            options = parse_options(p.key_options.as_deref());
        }
        if let Some(c) = &p.comment {
            comment = c.clone();
        }
        let new = Line::Key {
            body: body.clone(),
            kind,
            options,
            comment,
        };
        let matched = keys
            .get(&body)
            .is_some_and(|(old, _)| !present || old.same(&new));
        if present {
            keep.push(body.clone());
            if !matched {
                keys.shift_remove(&body);
                keys.insert(body, (new, base + rank));
                write = true;
            }
        } else if matched {
            keys.shift_remove(&body);
            write = true;
        }
    }
    if present && p.exclusive {
        let before = keys.len();
        keys.retain(|k, _| keep.contains(k));
        write |= keys.len() != before;
    }
    if !write {
        return Ok(None);
    }
    let mut lines: Vec<&(Line, usize)> = keys.values().collect();
    lines.sort_by_key(|(_, rank)| *rank);
    Ok(Some(lines.iter().map(|(l, _)| l.text()).collect()))
}

fn result_of(p: &AuthorizedKeyParams, keyfile: &str) -> super::ResultMap {
    let opt = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    let state = match p.state {
        Some(AuthorizedKeyState::Absent) => "absent",
        _ => "present",
    };
    let mut r = super::ResultMap::new();
    r.insert("user".into(), Value::String(p.user.clone()));
    r.insert("key".into(), Value::String(p.key.clone()));
    r.insert("path".into(), opt(&p.path));
    r.insert("manage_dir".into(), Value::Bool(p.manage_dir));
    r.insert("state".into(), Value::String(state.into()));
    r.insert("key_options".into(), opt(&p.key_options));
    r.insert("exclusive".into(), Value::Bool(p.exclusive));
    r.insert("comment".into(), opt(&p.comment));
    r.insert("validate_certs".into(), Value::Bool(p.validate_certs));
    r.insert("follow".into(), Value::Bool(p.follow));
    r.insert("keyfile".into(), Value::String(keyfile.into()));
    r
}

/// The step that makes the directory (with `manage_dir`) and the file the user's, as
/// ansible.posix's `keyfile(write=True)` does before the write.
fn ownership_step(p: &AuthorizedKeyParams, u: &UserEntry, keyfile: &str) -> Step {
    let owner = quote(&format!("{}:{}", u.uid, u.gid)).into_owned();
    let mut s = format!("set -e; k={}; ", quote(keyfile));
    if p.manage_dir {
        let dir = match &p.path {
            None => format!("{}/.ssh", u.home),
            Some(_) => keyfile.rsplit_once('/').map_or(".", |(d, _)| d).to_string(),
        };
        s.push_str(&format!(
            "s={}; [ -e \"$s\" ] || mkdir -m 0700 -- \"$s\"; chown {owner} \"$s\"; chmod 0700 \"$s\"; ",
            quote(if dir.is_empty() { "/" } else { &dir })
        ));
    }
    s.push_str(&format!(
        "if [ ! -e \"$k\" ]; then mkdir -p -- \"$(dirname -- \"$k\")\"; : > \"$k\"; fi; \
         chown {owner} \"$k\" 2>/dev/null || true; chmod 0600 \"$k\" 2>/dev/null || true"
    ));
    Step::Run {
        cmd: RemoteCommand::shell(s),
    }
}

#[async_trait::async_trait]
impl Planned for AuthorizedKey {
    type Params = AuthorizedKeyParams;
    type Facts = KeyFileFacts;

    fn name(&self) -> &'static str {
        "ansible.posix.authorized_key"
    }

    fn required(&self) -> &'static [&'static str] {
        &["user", "key"]
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path"]
    }

    fn probe(&self, p: &AuthorizedKeyParams, _ctx: PlanCtx) -> Result<Probe<KeyFileFacts>, String> {
        if let Some(path) = &p.path {
            fileops::check_path("path", path)?;
        }
        Ok(Probe::ask(probe_command(p), parse))
    }

    fn plan(
        &self,
        p: &AuthorizedKeyParams,
        f: &KeyFileFacts,
        ctx: PlanCtx,
    ) -> Result<Plan, String> {
        let key = match (is_url(&p.key), &f.fetched) {
            (false, _) => p.key.clone(),
            (true, Some(body)) => body.clone(),
            (true, None) => return Err(format!("Error getting key from: {}", p.key)),
        };
        let user = match (&f.user, &p.path, ctx.check) {
            (Some(u), _, _) => Some(u),
            (None, Some(_), true) => None,
            (None, None, true) => {
                return Err("Either user must exist or you must provide full path to key file in check mode".into());
            }
            (None, _, false) => {
                return Err(format!(
                    "Failed to lookup user {}: \"getpwnam(): name not found: '{}'\"",
                    p.user, p.user
                ));
            }
        };
        let keyfile = f.keyfile.clone().ok_or("the key file's path is unknown")?;
        let new = new_content(p, &key, &f.content)?;
        // Ansible returns its parameters, and `add_path_info`'s keys when `path` exists.
        let mut plan = Plan::unchanged(result_of(p, &keyfile));
        if let Some(info) = &f.path_info {
            info.add_to(&mut plan.result);
        }
        let Some(after) = new else {
            return Ok(plan);
        };
        if ctx.diff {
            // authorized_key.py: both headers the key file.
            plan.diffs.push(
                FileDiff {
                    path: keyfile.clone(),
                    before: f.content.clone(),
                    after: after.clone(),
                    ..Default::default()
                }
                .headed(keyfile.clone(), keyfile.clone()),
            );
            // What the module returns, and so registers: one mapping, not a list.
            let diff = serde_json::json!({
                "before_header": keyfile, "after_header": keyfile,
                "before": f.content, "after": after,
            });
            plan.result.insert("diff".into(), diff);
        }
        if let Some(u) = user {
            plan.steps.push(ownership_step(p, u, &keyfile));
        }
        plan.steps.push(fileops::write_step(&WriteSpec {
            dest: &keyfile,
            content: after.as_bytes(),
            attrs: &Attrs::default(),
            backup: false,
            validate: None,
            remote_src: None,
        })?);
        let written_is_path = f.path_info.as_ref().is_none_or(|i| i.state != "link");
        if !ctx.check && p.path.is_some() && written_is_path {
            // The rest (mode, owner, ids) from the write's final stat, in `finish`.
            plan.result
                .insert("state".into(), Value::String("file".into()));
            plan.result.insert("size".into(), Value::from(after.len()));
        }
        Ok(plan)
    }

    fn finish(&self, p: &AuthorizedKeyParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        if p.path.is_some() && result.get("size").is_some() {
            fileops::apply_final(result, outputs, "", "backup");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply};
    use serde_json::json;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 deploy";

    fn p(v: serde_json::Value) -> AuthorizedKeyParams {
        params(v)
    }

    fn facts(content: Option<&str>) -> ExecOutput {
        let b64 = content.map(|c| base64::engine::general_purpose::STANDARD.encode(c));
        let mut v = vec![
            ("user", "1000\u{0}1000\u{0}/home/ops"),
            ("keyfile", "/home/ops/.ssh/authorized_keys"),
        ];
        if let Some(b) = &b64 {
            v.push(("content", b.as_str()));
        }
        reply(&v)
    }

    fn diff() -> PlanCtx {
        PlanCtx {
            diff: true,
            ..PlanCtx::default()
        }
    }

    #[test]
    fn add_to_a_new_file_then_nothing() {
        let q = p(json!({"user": "ops", "key": K1}));
        let plan = plan_with(&AuthorizedKey, &q, &facts(None), diff()).unwrap();
        insta::assert_yaml_snapshot!(plan);
        let again = plan_with(&AuthorizedKey, &q, &facts(Some(&format!("{K1}\n"))), diff());
        assert!(!again.unwrap().is_change());
    }

    #[test]
    fn enforce_state_as_ansible() {
        let file = format!("# keys\n{K2}\nssh-dss AAAAold\n");
        let add = |v| new_content(&p(v), K1, &file).unwrap();
        // Appended after the existing lines; a key without comment gets a trailing space.
        assert_eq!(
            add(json!({"user": "u", "key": K1})).unwrap(),
            format!("# keys\n{K2}\nssh-dss AAAAold \n{K1}\n")
        );
        // Options and comment replaced: the changed key moves to the end.
        let opts = new_content(
            &p(
                json!({"user": "u", "key": K2, "key_options": "no-pty,from=\"a,b\"", "comment": "x"}),
            ),
            K2,
            &file,
        );
        assert_eq!(
            opts.unwrap().unwrap(),
            "# keys\nssh-dss AAAAold \nno-pty,from=\"a,b\" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x\n"
        );
        // exclusive drops comments and other keys.
        assert_eq!(
            add(json!({"user": "u", "key": K1, "exclusive": true})).unwrap(),
            format!("{K1}\n")
        );
        // absent removes only a key with the same body, whatever its comment.
        let gone = new_content(
            &p(
                json!({"user": "u", "key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7", "state": "absent"}),
            ),
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
            &file,
        );
        assert_eq!(gone.unwrap().unwrap(), "# keys\nssh-dss AAAAold \n");
        assert_eq!(
            add(json!({"user": "u", "key": K1, "state": "absent"})),
            None
        );
        assert!(
            new_content(&p(json!({"user": "u", "key": "nokey"})), "nokey", "")
                .unwrap_err()
                .contains("invalid key")
        );
    }

    #[test]
    fn users_urls_and_check_mode() {
        let e = |q, out: &ExecOutput, check| {
            plan_with(
                &AuthorizedKey,
                &q,
                out,
                PlanCtx {
                    check,
                    ..PlanCtx::default()
                },
            )
        };
        let nouser = reply(&[]);
        assert_eq!(
            e(p(json!({"user": "nobody2", "key": K1})), &nouser, false).unwrap_err(),
            "Failed to lookup user nobody2: \"getpwnam(): name not found: 'nobody2'\""
        );
        assert!(
            e(p(json!({"user": "nobody2", "key": K1})), &nouser, true)
                .unwrap_err()
                .starts_with("Either user must exist")
        );
        let url = p(json!({"user": "ops", "key": "https://example.com/ops.keys"}));
        assert_eq!(
            e(url, &facts(None), false).unwrap_err(),
            "Error getting key from: https://example.com/ops.keys"
        );
        let url = p(json!({"user": "ops", "key": "https://example.com/ops.keys"}));
        let fetched = base64::engine::general_purpose::STANDARD.encode(format!("{K1}\n{K2}\n"));
        let out = reply(&[
            ("user", "1000\u{0}1000\u{0}/home/ops"),
            ("keyfile", "/home/ops/.ssh/authorized_keys"),
            ("fetched", &fetched),
        ]);
        let plan = e(url, &out, true).unwrap();
        assert!(
            plan.is_change() && plan.result["keyfile"] == "/home/ops/.ssh/authorized_keys",
            "{plan:?}"
        );
    }

    /// The probe, run by `sh` with a stand-in `getent` printing hostile entries: only the
    /// entry named exactly as sent counts, and the file's lines stay data.
    #[test]
    fn the_probe_reads_the_entry_named() {
        use crate::modules::sysprobe::testutil::with_stand_in;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::write(
            dir.path().join(".ssh/authorized_keys"),
            "@@0123456789abcdef0123456789abcdef user\nx\n",
        )
        .unwrap();
        let getent = format!(
            "printf '%s\\n' 'opsx:x:1:1::/tmp:/bin/sh' 'ops:x:1000:1001::{home}:/bin/sh' '@@0123456789abcdef0123456789abcdef user'"
        );
        let q = p(json!({"user": "ops", "key": K1}));
        let f = parse(&with_stand_in("getent", &getent, &probe_command(&q))).unwrap();
        assert_eq!(
            f.user,
            Some(UserEntry {
                uid: "1000".into(),
                gid: "1001".into(),
                home: home.clone()
            })
        );
        assert_eq!(f.keyfile, Some(format!("{home}/.ssh/authorized_keys")));
        assert_eq!(f.content, "@@0123456789abcdef0123456789abcdef user\nx\n");
        let q = p(json!({"user": "root\nops", "key": K1}));
        let f = parse(&with_stand_in("getent", &getent, &probe_command(&q))).unwrap();
        assert_eq!(f.user, None);
    }
}
