//! `ansible.builtin.known_hosts`: add, replace or remove a host's key in a known_hosts
//! file.
//!
//! Why this module exists: nodes that pull from each other over SSH (git, rsync, a
//! bastion) need each other's host keys pinned before the first connection. As Ansible's
//! module does, the host's own `ssh-keygen -F` finds the entries for the name (plain,
//! wildcard or hashed), the key is compared field by field with the line it prints, a
//! hashed entry keeps its salt, and the file is rewritten with the entry replaced, removed
//! or appended (`ssh-keygen -R` removes every key of a name when no key is given). The one
//! probe sends back the expanded path, the file and `ssh-keygen`'s output, each in its own
//! framed section, so no line of the file can pass for another field.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::fileops::{self, Attrs, WriteSpec};
use super::params::{ansible_bool, choice};
use super::plan::{FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use super::userpath::shell_word;
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `ansible.builtin.known_hosts`.
pub struct KnownHosts;

/// Prints `"$d"`'s attributes after `ssh-keygen -R` as [`fileops::FINAL_STAT`] does, and
/// its size.
const FINAL_STAT_SIZE: &str = "stat --printf='final_mode=%a\\0final_uid=%u\\0final_gid=%g\\0final_owner=%U\\0final_group=%G\\0final_size=%s\\0' -- \"$d\"";

fn default_path() -> String {
    "~/.ssh/known_hosts".into()
}

/// Parameters of `known_hosts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownHostsParams {
    /// The host to add or remove (alias `host`), as `ssh` names it (`[host]:port` for
    /// another port). Lower-cased, as Ansible does. Required.
    #[serde(alias = "host")]
    pub name: String,
    /// The key line (`host keytype base64`, optionally `@cert-authority`/`@revoked`
    /// first); its host field must match `name`. Required with `state: present`.
    #[serde(default)]
    pub key: Option<String>,
    /// The file (`~` expanded on the host). Default `~/.ssh/known_hosts`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Write the entry with a hashed host name (`|1|salt|hash`). Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub hash_host: bool,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<KnownHostsState>,
    /// The salt of a hashed entry, drawn on the controller when the task runs.
    #[serde(skip)]
    pub salt: Option<[u8; 20]>,
}

choice! {
    /// `known_hosts`' `state` (choices in lib/ansible/modules/known_hosts.py).
    pub enum KnownHostsState {
        /// The key is in the file for the host. The default.
        Present = "present",
        /// The key (or, without `key`, every key of the host) is not in the file.
        Absent = "absent",
    }
    else "value of state must be one of: absent, present, got: {got}"
}

/// What `ssh-keygen -F` printed and returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keygen {
    /// Its standard output: `# Host … found: line N` comments and the matching lines.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its exit code.
    pub rc: i32,
}

/// The known_hosts file as the host sees it: the `known_hosts` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHostsFile {
    /// The path, `~` expanded by the host.
    pub path: String,
    /// Whether something is at the path.
    pub exists: bool,
    /// Its content, when it is a regular file.
    pub content: Option<Vec<u8>>,
    /// `ssh-keygen -F <name>` on it, when it exists.
    pub search: Option<Keygen>,
    /// What `ssh-keygen -F <name>` printed for the key alone (`None`: not asked).
    pub key_match: Option<String>,
    /// Whether the host has `ssh-keygen`.
    pub has_keygen: bool,
    /// What Ansible's `add_path_info` reports of the path, when something is there.
    pub stat: Option<PathInfo>,
}

/// The keys Ansible's `add_path_info` adds to a result that names an existing `path`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// `file`, `directory`, `link` or `hard` (a file with more than one link).
    pub state: String,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Owner name (the uid as text when it has none).
    pub owner: String,
    /// Group name (the gid as text when it has none).
    pub group: String,
    /// `0644`-style permission bits.
    pub mode: String,
    /// Size in bytes.
    pub size: u64,
}

impl PathInfo {
    /// The `stat` format whose NUL-separated fields [`PathInfo::parse`] reads.
    pub(crate) const FORMAT: &str = "%F\\0%h\\0%u\\0%g\\0%U\\0%G\\0%a\\0%s";

    /// The fields `stat --printf=FORMAT` printed (names cannot hold a NUL).
    pub(crate) fn parse(body: &str) -> Result<Self, String> {
        let f: Vec<&str> = body.split('\0').collect();
        let bad = || format!("unexpected probe output: stat printed {body:?}");
        let [kind, links, uid, gid, owner, group, mode, size] = f[..] else {
            return Err(bad());
        };
        let num = |v: &str| v.parse::<u64>().map_err(|_| bad());
        let (uid, gid) = (num(uid)? as u32, num(gid)? as u32);
        let bits = u32::from_str_radix(mode, 8).map_err(|_| bad())?;
        let name = |n: &str, id: u32| match n {
            "UNKNOWN" => id.to_string(),
            n => n.to_string(),
        };
        Ok(PathInfo {
            state: match kind {
                "symbolic link" => "link",
                "directory" => "directory",
                _ if num(links)? > 1 => "hard",
                _ => "file",
            }
            .into(),
            uid,
            gid,
            owner: name(owner, uid),
            group: name(group, gid),
            mode: format!("0{bits:03o}"),
            size: num(size)?,
        })
    }

    /// Its keys added to `r`.
    pub(crate) fn add_to(&self, r: &mut super::ResultMap) {
        r.insert("uid".into(), Value::from(self.uid));
        r.insert("gid".into(), Value::from(self.gid));
        r.insert("owner".into(), Value::String(self.owner.clone()));
        r.insert("group".into(), Value::String(self.group.clone()));
        r.insert("mode".into(), Value::String(self.mode.clone()));
        r.insert("state".into(), Value::String(self.state.clone()));
        r.insert("size".into(), Value::from(self.size));
    }
}

/// Whether the sanity check of the key runs: a key that is not hashed by the module
/// (a hashed one names the host by construction).
fn sanity_needed(p: &KnownHostsParams) -> bool {
    p.key.as_deref().is_some_and(|k| !k.is_empty()) && !p.hash_host
}

/// The probe: expanded path, file, `ssh-keygen -F` on the file and on the key.
pub fn probe_command(p: &KnownHostsParams) -> RemoteCommand {
    let host = p.name.to_lowercase();
    let h = quote(&host);
    let mut s = format!(
        "p={}; {}printf '%s' \"$p\"; if command -v ssh-keygen >/dev/null 2>&1; then {}fi; \
         if [ -e \"$p\" ]; then {}{}stat --printf={} -- \"$p\"; if [ -f \"$p\" ]; then {}base64 -w0 -- \"$p\"; fi; \
         {}{{ e=$(ssh-keygen -F {h} -f \"$p\" 2>&1 >&3); }} 3>&1; r=$?; {}printf '%s' \"$r\"; {}printf '%s' \"$e\"; fi; ",
        shell_word(&p.path),
        header("path"),
        header("keygen"),
        header("exists"),
        header("stat"),
        quote(PathInfo::FORMAT),
        header("content"),
        header("search"),
        header("search_rc"),
        header("search_err"),
    );
    if sanity_needed(p) {
        let key = with_newline(p.key.as_deref().unwrap_or_default());
        s.push_str(&format!(
            "{}printf '%s' {} | ssh-keygen -F {h} -f /dev/stdin 2>/dev/null; ",
            header("key_match"),
            quote(&key)
        ));
    }
    RemoteCommand::shell(framed(&s))
}

/// The facts from the probe's reply.
pub fn parse(out: &ExecOutput) -> Result<KnownHostsFile, String> {
    let s = Sections::parse(out)?;
    let path = s
        .get("path")
        .ok_or_else(|| "unexpected probe output: no path".to_string())?;
    let content = match s.get("content") {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|_| "unexpected probe output: the file is not base64".to_string())?,
        ),
        None => None,
    };
    let search = match s.text("search_rc") {
        Some(rc) => Some(Keygen {
            stdout: s.get("search").unwrap_or_default().to_string(),
            stderr: s.get("search_err").unwrap_or_default().to_string(),
            rc: rc
                .parse()
                .map_err(|_| format!("unexpected probe output: exit code {rc:?}"))?,
        }),
        None => None,
    };
    Ok(KnownHostsFile {
        path: path.to_string(),
        exists: s.has("exists"),
        content,
        search,
        key_match: s.get("key_match").map(str::to_string),
        has_keygen: s.has("keygen"),
        stat: s.get("stat").map(PathInfo::parse).transpose()?,
    })
}

fn with_newline(key: &str) -> String {
    match key.ends_with('\n') {
        true => key.to_string(),
        false => format!("{key}\n"),
    }
}

/// A key line's fields as Ansible compares them (`normalize_known_hosts_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    options: Option<String>,
    host: String,
    kind: String,
    key: String,
}

fn entry(line: &str) -> Result<Entry, String> {
    let k: Vec<&str> = line.split_whitespace().collect();
    let marked = k.first().is_some_and(|f| f.starts_with('@'));
    let at = usize::from(marked);
    match k.get(at..at + 3) {
        Some([h, t, key]) => Ok(Entry {
            options: marked.then(|| k[0].to_string()),
            host: h.to_string(),
            kind: t.to_string(),
            key: key.to_string(),
        }),
        _ => Err(format!("not a known_hosts key line: {line:?}")),
    }
}

/// `key` with its host field replaced by `|1|salt|hmac-sha1(salt, host)`.
fn hash_host_key(host: &str, key: &str, salt: &[u8; 20]) -> Result<String, String> {
    use hmac::{KeyInit, Mac};
    let mut mac =
        <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(salt).map_err(|e| e.to_string())?;
    mac.update(host.as_bytes());
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut parts: Vec<String> = key.split_whitespace().map(String::from).collect();
    let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    match parts.get_mut(i) {
        Some(h) => *h = format!("|1|{}|{}", b64(salt), b64(&mac.finalize().into_bytes())),
        None => return Err(format!("not a known_hosts key line: {key:?}")),
    }
    Ok(parts.join(" "))
}

/// Where the host's entries stand: `(found, replace_or_add, found_line)` as Ansible's
/// `search_for_host_key` says.
fn search(f: &KnownHostsFile, key: Option<&str>) -> Result<(bool, bool, Option<usize>), String> {
    let Some(k) = f.search.as_ref().filter(|_| f.exists) else {
        return Ok((false, false, None));
    };
    if k.stdout.is_empty() && k.stderr.is_empty() && (k.rc == 0 || k.rc == 1) {
        return Ok((false, false, None));
    }
    if k.rc != 0 {
        return Err(format!(
            "ssh-keygen failed (rc={}, stdout='{}',stderr='{}')",
            k.rc, k.stdout, k.stderr
        ));
    }
    let Some(key) = key else {
        return Ok((true, false, None));
    };
    let mut new = entry(key)?;
    let mut found_line = None;
    for l in k.stdout.split('\n').filter(|l| !l.is_empty()) {
        if l.starts_with('#') {
            found_line = l
                .split_once("found: line ")
                .and_then(|(_, n)| n.split_whitespace().next())
                .and_then(|n| n.parse().ok());
            continue;
        }
        let found = entry(l)?;
        let marker = found.options.as_deref().unwrap_or("");
        if marker.starts_with("@cert-authority") || marker.starts_with("@revoke") {
            if new == found {
                return Ok((true, false, found_line));
            }
            continue;
        }
        if new.host.starts_with("|1|") && found.host.starts_with("|1|") {
            new.host = found.host.clone();
        }
        if new == found {
            return Ok((true, false, found_line));
        }
        if new.kind == found.kind {
            return Ok((true, true, found_line));
        }
    }
    Ok((true, true, None))
}

/// The file's lines with line `found_line` dropped when it goes, and `key` appended when
/// it is added (Ansible's `compute_diff` and the rewrite).
fn rewrite(before: &str, found_line: Option<usize>, drop: bool, add: Option<&str>) -> String {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    if let Some(n) = found_line.filter(|n| drop && (1..=lines.len()).contains(n)) {
        lines.remove(n - 1);
    }
    let mut after = lines.concat();
    if let Some(k) = add {
        after.push_str(k);
    }
    after
}

/// The result keys Ansible returns (its parameters, `path` expanded).
fn result_of(p: &KnownHostsParams, path: &str, state: &str) -> super::ResultMap {
    let mut r = super::ResultMap::new();
    r.insert("name".into(), Value::String(p.name.clone()));
    r.insert(
        "key".into(),
        p.key.clone().map(Value::String).unwrap_or(Value::Null),
    );
    r.insert("path".into(), Value::String(path.to_string()));
    r.insert("hash_host".into(), Value::Bool(p.hash_host));
    r.insert("state".into(), Value::String(state.into()));
    r
}

#[async_trait::async_trait]
impl Planned for KnownHosts {
    type Params = KnownHostsParams;
    type Facts = KnownHostsFile;

    fn name(&self) -> &'static str {
        "ansible.builtin.known_hosts"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path"]
    }

    async fn prepare(
        &self,
        p: &mut KnownHostsParams,
        _ctx: &super::TaskCtx<'_>,
    ) -> Result<(), String> {
        if p.hash_host {
            let mut salt = [0u8; 20];
            getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
            p.salt = Some(salt);
        }
        Ok(())
    }

    fn probe(&self, p: &KnownHostsParams, _ctx: PlanCtx) -> Result<Probe<KnownHostsFile>, String> {
        fileops::check_path("path", &p.path)?;
        Ok(Probe::ask(probe_command(p), parse))
    }

    fn plan(&self, p: &KnownHostsParams, f: &KnownHostsFile, ctx: PlanCtx) -> Result<Plan, String> {
        let present = p.state != Some(KnownHostsState::Absent);
        let state = if present { "present" } else { "absent" };
        let host = p.name.to_lowercase();
        if !f.has_keygen {
            return Err("Failed to find required executable \"ssh-keygen\"".into());
        }
        let mut key = p.key.clone().filter(|k| !k.is_empty());
        if key.is_none() && present {
            return Err("No key specified when adding a host".into());
        }
        if let (Some(k), true) = (&key, p.hash_host) {
            let salt = p.salt.ok_or("hash_host: no salt was drawn")?;
            key = Some(hash_host_key(&host, k, &salt)?);
        }
        let key = key.map(|k| with_newline(&k));
        if key.is_some() {
            sanity_check(&host, f, sanity_needed(p))?;
        }
        let (found, replace, found_line) = search(f, key.as_deref())?;
        // `path` as the host expanded it when it starts with `~`, else as sent.
        let path = if p.path.starts_with('~') {
            &f.path
        } else {
            &p.path
        };
        // Ansible's check mode returns only `changed` (and `diff`), not the parameters.
        let mut plan = Plan::unchanged(match ctx.check {
            true => super::ResultMap::new(),
            false => result_of(p, path, state),
        });
        if !present && found_line.is_none() && key.is_some() {
            if let Some(st) = f.stat.as_ref().filter(|_| !ctx.check) {
                st.add_to(&mut plan.result);
            }
            return Ok(plan);
        }
        let before = String::from_utf8_lossy(f.content.as_deref().unwrap_or_default()).into_owned();
        let rewrites = replace || found != present;
        let add = (present && (replace || found_line.is_none()))
            .then_some(key.as_deref())
            .flatten();
        let after = rewrite(&before, found_line, replace || !present, add);
        if ctx.diff {
            // known_hosts.py compute_diff: both headers the path, `/dev/null` before
            // when the file is not there yet.
            let before_header = if f.exists {
                path.clone()
            } else {
                "/dev/null".into()
            };
            plan.diffs.push(
                FileDiff {
                    path: path.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    ..Default::default()
                }
                .headed(before_header, path.clone()),
            );
        }
        if let Some(st) = f.stat.as_ref().filter(|_| !ctx.check) {
            st.add_to(&mut plan.result);
        }
        if found && key.is_none() && !present {
            // `ssh-keygen -R` rewrites the file (keeping `<path>.old`, as Ansible's run
            // does); its own output goes to stderr, the file's new attributes to stdout.
            let w = shell_word(&p.path);
            plan.steps.push(Step::Run {
                cmd: RemoteCommand::shell(format!(
                    "ssh-keygen -R {} -f {w} >&2 && d={w} && {FINAL_STAT_SIZE}",
                    quote(&host),
                )),
            });
        } else if rewrites {
            plan.steps.push(fileops::write_step(&WriteSpec {
                dest: path,
                content: after.as_bytes(),
                attrs: &Attrs::default(),
                backup: false,
                validate: None,
                remote_src: None,
            })?);
            if !ctx.check {
                plan.result
                    .insert("state".into(), Value::String("file".into()));
                plan.result.insert("size".into(), Value::from(after.len()));
            }
        }
        Ok(plan)
    }

    fn finish(&self, _p: &KnownHostsParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        let path = result
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        fileops::apply_final(result, outputs, &path, "backup");
        for o in outputs {
            if let Ok(r) = super::reply::parse(&o.stdout)
                && let Ok(Some(n)) = r.num::<u64>("final_size")
            {
                result.insert("size", Value::from(n));
            }
        }
    }
}

/// Ansible's `sanity_check`: one name, and a key whose host field names it.
fn sanity_check(host: &str, f: &KnownHostsFile, asked: bool) -> Result<(), String> {
    let comma = regex::Regex::new(r"\S+(\s+)?,(\s+)?").map_err(|e| e.to_string())?;
    if comma.is_match(host) {
        return Err("Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.".into());
    }
    if asked && f.key_match.as_deref().unwrap_or_default().is_empty() {
        return Err("Host parameter does not match hashed host field in supplied key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_of, plan_with, reply};
    use serde_json::json;

    const KEY: &str = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const OTHER: &str = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    fn p(v: serde_json::Value) -> KnownHostsParams {
        params(v)
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// A reply for a file holding `content` (`None`: no file) in which `ssh-keygen -F`
    /// printed `search`, and the key check printed `key_match`.
    fn facts(content: Option<&str>, search: &str, key_match: Option<&str>) -> ExecOutput {
        let enc = content.map(b64);
        let mut v: Vec<(&str, &str)> = vec![("path", "/root/.ssh/known_hosts"), ("keygen", "")];
        if let Some(c) = &enc {
            let rc = if search.is_empty() { "1" } else { "0" };
            v.extend([("exists", ""), ("content", c.as_str()), ("search", search)]);
            v.extend([("search_rc", rc), ("search_err", "")]);
        }
        if let Some(k) = key_match {
            v.push(("key_match", k));
        }
        reply(&v)
    }

    fn ctx() -> PlanCtx {
        PlanCtx {
            diff: true,
            ..PlanCtx::default()
        }
    }

    #[test]
    fn add_replace_remove() {
        let matched = format!("# Host example.com found: line 1 \n{KEY}\n");
        let add = p(json!({"name": "Example.com", "key": KEY}));
        let plan = plan_with(&KnownHosts, &add, &facts(None, "", Some(&matched)), ctx()).unwrap();
        insta::assert_yaml_snapshot!(plan);
        let present = format!("a.org ssh-rsa AAAA\n{KEY}\n");
        let found = format!("# Host example.com found: line 2 \n{KEY}\n");
        let same = plan_of(
            &KnownHosts,
            &add,
            &facts(Some(&present), &found, Some(&matched)),
        );
        assert!(!same.is_change(), "{same:?}");
        let replace = p(json!({"name": "example.com", "key": OTHER}));
        let m = format!("# Host example.com found: line 1 \n{OTHER}\n");
        let plan = plan_with(
            &KnownHosts,
            &replace,
            &facts(Some(&present), &found, Some(&m)),
            ctx(),
        );
        insta::assert_yaml_snapshot!(plan.unwrap());
        let gone = p(json!({"name": "example.com", "state": "absent"}));
        insta::assert_yaml_snapshot!(plan_of(
            &KnownHosts,
            &gone,
            &facts(Some(&present), &found, None)
        ));
        let gone_key = p(json!({"name": "example.com", "key": OTHER, "state": "absent"}));
        let plan = plan_of(
            &KnownHosts,
            &gone_key,
            &facts(Some(&present), &found, Some(&m)),
        );
        // As Ansible's: absent with another key of the same type still drops the line
        // ssh-keygen found for the host (search_for_host_key says "replace").
        let Step::Run { cmd } = &plan.steps[0] else {
            panic!("{plan:?}")
        };
        assert_eq!(cmd.stdin.as_deref(), Some(&b"a.org ssh-rsa AAAA\n"[..]));
    }

    #[test]
    fn a_hashed_entry_keeps_its_salt_and_a_new_one_is_hashed() {
        let hashed = "|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let found = format!("# Host example.com found: line 1 \n{hashed}\n");
        let mut q = p(json!({"name": "example.com", "key": KEY, "hash_host": true}));
        q.salt = Some([7; 20]);
        let plan = plan_of(
            &KnownHosts,
            &q,
            &facts(Some(&format!("{hashed}\n")), &found, None),
        );
        assert!(!plan.is_change(), "{plan:?}");
        let plan = plan_with(&KnownHosts, &q, &facts(None, "", None), ctx()).unwrap();
        // Python's hmac of the same salt and name gives this entry.
        assert_eq!(
            plan.diffs[0].after,
            "|1|BwcHBwcHBwcHBwcHBwcHBwcHBwc=|ZWjLYZwlwAPs+eLV9RGWMCSBPXI= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
        );
    }

    #[test]
    fn refusals() {
        let e = |q: KnownHostsParams, out: ExecOutput| {
            plan_with(&KnownHosts, &q, &out, PlanCtx::default()).unwrap_err()
        };
        assert_eq!(
            e(p(json!({"name": "example.com"})), facts(None, "", None)),
            "No key specified when adding a host"
        );
        assert_eq!(
            e(
                p(json!({"name": "other.org", "key": KEY})),
                facts(None, "", Some(""))
            ),
            "Host parameter does not match hashed host field in supplied key"
        );
        assert!(
            e(
                p(json!({"name": "a, b", "key": KEY})),
                facts(None, "", Some("x"))
            )
            .starts_with("Comma separated list")
        );
        let bad = reply(&[
            ("path", "/k"),
            ("keygen", ""),
            ("exists", ""),
            ("content", ""),
            ("search", ""),
            ("search_rc", "255"),
            ("search_err", "bad line"),
            ("key_match", "x"),
        ]);
        assert_eq!(
            e(p(json!({"name": "x", "key": "x ssh-rsa A"})), bad),
            "ssh-keygen failed (rc=255, stdout='',stderr='bad line')"
        );
    }

    /// The probe, run by `sh` against a real file whose lines and name hold header-like
    /// text: the sections come back whole, and `ssh-keygen -F` (when the machine has it)
    /// finds the line.
    #[test]
    fn the_probe_frames_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("k\n@@0123456789abcdef0123456789abcdef path\nx");
        let text = format!("# @@0123456789abcdef0123456789abcdef search\n{KEY}\n");
        std::fs::write(&path, &text).unwrap();
        let q = p(json!({"name": "example.com", "key": KEY, "path": path.display().to_string()}));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe_command(&q).to_shell())
            .output()
            .unwrap();
        let f = parse(&ExecOutput {
            rc: 0,
            stdout: out.stdout,
            stderr: out.stderr,
        })
        .unwrap();
        assert_eq!(f.path, path.display().to_string());
        assert!(f.exists);
        assert_eq!(f.content.as_deref(), Some(text.as_bytes()));
        if f.has_keygen {
            let s = f.search.unwrap();
            assert_eq!(s.rc, 0, "{s:?}");
            assert!(s.stdout.contains("found: line 2"), "{s:?}");
            assert!(f.key_match.unwrap().contains(KEY));
        }
    }
}
