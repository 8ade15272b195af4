//! `ansible.builtin.copy`: put a controller file or literal content at a path on the host.
//!
//! Why this module exists: most configuration reaches hosts this way. The probe reports the
//! destination's checksum (sha1, like Ansible's `checksum`), so an unchanged file costs one
//! round trip and no transfer; a changed one is written atomically through
//! [`fileops::write_step`] (validated and backed up first when asked). The same planning
//! serves `template`, which only differs in how the content is made. A directory `src` is
//! copied recursively as Ansible's action plugin does (`copy_tree`): `src: tree` copies the
//! folder, `src: tree/` its contents.

use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::copy_tree;
use super::fileops::{self, Attrs, Kind, StatOpts, WriteSpec};
use super::params::{Mode, ansible_bool, opt_mode, opt_stringish};
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe};
use super::{ResultMap, TaskCtx};
use crate::command::{RemoteCommand, quote};
use crate::template::SearchKind;
use crate::transport::ExecOutput;

fn yes() -> bool {
    true
}

/// Parameters of `copy`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyParams {
    /// Path of the file to copy: on the controller (searched in the role's `files/`, then
    /// the playbook directory's `files/`, then as given), or on the host with `remote_src`.
    /// One of `src` or `content` is required.
    #[serde(default)]
    pub src: Option<String>,
    /// Literal content to write instead of `src` (lists and mappings are written as JSON).
    #[serde(default, deserialize_with = "content_value")]
    pub content: Option<String>,
    /// Absolute path on the host. Ending in `/`, or naming an existing directory, means
    /// `dest/<basename of src>`. Its directory must exist (the task fails otherwise, as in
    /// Ansible), except that a `dest` ending in `/` is created. Required.
    pub dest: String,
    /// Permission bits (`"0644"`, `0644`) or a symbolic mode; default keeps an existing
    /// file's mode, 0644 for a new one.
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner name or uid; default keeps the existing owner.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group name or gid; default keeps the existing group.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// Keep a timestamped copy of the old file before overwriting it (result `backup_file`).
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Replace a file whose content differs; `false`: only create missing files. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Command that must succeed on the new file before it replaces `dest`; `%s` is the
    /// new file's path (e.g. `visudo -cf %s`).
    #[serde(default)]
    pub validate: Option<String>,
    /// `src` is a path on the host, not the controller. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub remote_src: bool,
    /// Decrypt a vault-encrypted `src` on the controller (in memory) before sending it.
    /// Default `true`; `false` copies vault text as it is.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub decrypt: bool,
    /// Mode of the directories a recursive copy (a directory `src`) creates, and of the
    /// subdirectories it copies, existing ones included; default: new ones get the
    /// host's default (0755 under umask 022), existing ones are left alone.
    #[serde(default, deserialize_with = "opt_mode")]
    pub directory_mode: Option<Mode>,
    /// With a directory `src`: copy what a link in the tree points to (a file as a file, a
    /// directory walked) instead of the link itself; a link back into the tree stays a
    /// link. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub local_follow: bool,
    /// When `dest` is a link: write the file it points to. Default `false`: the link is
    /// replaced by a regular file.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub follow: bool,
    #[serde(skip)]
    pub(crate) data: Vec<u8>,
    #[serde(skip)]
    pub(crate) tree: Option<copy_tree::Tree>,
    /// Where `src` was found on the controller (the diff's `after` header).
    #[serde(skip)]
    pub(crate) local_path: Option<String>,
}

/// Content as Ansible takes it: text as is, other values as JSON.
fn content_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(if b { "True" } else { "False" }.into()),
        Some(v) => Some(v.to_string()),
    })
}

/// `ansible.builtin.copy`.
pub struct Copy;

/// What [`put_plan`] needs, shared by `copy` and `template`.
pub struct PutRequest<'a> {
    /// The destination as given.
    pub dest: &'a str,
    /// The content to write (unused with `remote_src`).
    pub content: &'a [u8],
    /// Requested attributes.
    pub attrs: Attrs,
    /// Back up the old file.
    pub backup: bool,
    /// Validation command.
    pub validate: Option<&'a str>,
    /// Replace differing files.
    pub force: bool,
    /// The `src` path on the host (`remote_src`).
    pub remote_src: Option<&'a str>,
    /// Whether diffs were asked for (the probe then reads the old content).
    pub diff: bool,
    /// `follow`: a `dest` that is a link is written through (its target changes);
    /// otherwise the link itself is replaced by the file.
    pub follow: bool,
    /// Check mode: a missing parent directory is not an error then (Ansible's action
    /// plugin reports the change without running the module).
    pub check: bool,
    /// The controller file the content came from (`None`: `content`), which heads the
    /// diff's `after` side as action/__init__.py `_get_diff_data` does (else `dest`).
    pub source: Option<&'a str>,
}

/// The probe for a put: resolves `dest/` to `dest/<basename>` as [`put_path`] does, and
/// reports whether `dest` is a directory, then the destination's facts (and, with
/// `remote_src`, the source's checksum and size). The path is never printed back: the
/// controller composes the same one from what it sent.
pub fn put_probe(
    dest: &str,
    basename: Option<&str>,
    remote_src: Option<&str>,
    diff: bool,
) -> RemoteCommand {
    let mut s = format!("d={}; p=\"$d\"; ", quote(dest));
    match basename {
        Some(b) => s.push_str(&format!(
            "case \"$d\" in */) p=\"$d\"{b};; *) if [ -d \"$d\" ]; then p=\"$d/\"{b}; printf 'into_dir=1\\0'; fi;; esac; ",
            b = quote(b)
        )),
        None => s.push_str("if [ -d \"$d\" ]; then printf 'destdir=1\\0'; fi; "),
    }
    // Whether the file's directory exists: Ansible's copy fails when it does not (unless
    // `dest` ends in `/`).
    s.push_str("case \"$p\" in */*) q=\"${p%/*}\";; *) q=.;; esac; if [ -d \"${q:-/}\" ]; then printf 'parent=1\\0'; else printf 'parent=0\\0'; fi; ");
    if let Some(src) = remote_src {
        s.push_str(&format!(
            "if [ -f {src} ]; then printf 'src_checksum=%s\\0src_size=%s\\0' \"$(sha1sum < {src} | cut -d' ' -f1)\" \"$(stat -L -c %s -- {src})\"; else printf 'src_missing=1\\0'; fi; ",
            src = quote(src)
        ));
    }
    // A link's final target, for `follow` (lib/ansible/modules/copy.py: os.path.realpath).
    s.push_str("if [ -L \"$p\" ]; then printf 'real='; readlink -fn -- \"$p\"; printf '\\0'; fi; ");
    s.push_str(&fileops::stat_snippet(StatOpts {
        follow: true,
        checksum: Some("sha1sum"),
        content_limit: diff.then_some(fileops::MAX_DIFF_SIZE),
    }));
    s.push_str("true");
    RemoteCommand::shell(s)
}

/// The path a put writes, composed as [`put_probe`]'s shell does: `dest<basename>` for a
/// `dest` ending in `/`, `dest/<basename>` when the probe found `dest` to be a directory,
/// else `dest`.
pub fn put_path(dest: &str, basename: Option<&str>, into_dir: bool) -> String {
    match basename {
        Some(b) if dest.ends_with('/') => format!("{dest}{b}"),
        Some(b) if into_dir => format!("{dest}/{b}"),
        _ => dest.to_string(),
    }
}

/// What a put asks of its destination: [`put_probe`]'s inputs.
#[derive(Clone, Debug)]
pub struct PutQuery {
    /// The destination as given.
    pub dest: String,
    /// The basename a `dest` directory gets the file under (`src`'s), if any.
    pub basename: Option<String>,
    /// The `src` path on the host (`remote_src`).
    pub remote_src: Option<String>,
    /// Read the old content too (for `--diff`).
    pub diff: bool,
}

/// The source of a `remote_src` put, as the probe found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteSrc {
    /// No regular file there.
    Missing,
    /// Its SHA-1 and size.
    Found {
        /// SHA-1, hex.
        checksum: String,
        /// Size in bytes.
        size: u64,
    },
    /// The reply held no usable checksum and size (the error to report).
    Unreadable(String),
}

/// What a put (`copy`, `template`) knows of the host: the facts of the file it would
/// write (at `dest`, or `dest/<basename>` when `dest` is a directory), and of a
/// `remote_src` source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutFacts {
    /// The destination file's facts (`path`: the file the put writes).
    pub dest: fileops::FileFacts,
    /// The `remote_src` source (`None` without one).
    pub src: Option<RemoteSrc>,
}

impl Fact for PutFacts {
    type Query = PutQuery;

    fn command(q: &PutQuery) -> RemoteCommand {
        put_probe(
            &q.dest,
            q.basename.as_deref(),
            q.remote_src.as_deref(),
            q.diff,
        )
    }

    fn parse(q: &PutQuery, out: &ExecOutput) -> Result<Self, String> {
        let into_dir = crate::modules::reply::parse(&out.stdout)
            .ok()
            .and_then(|r| r.flag("into_dir").ok())
            .unwrap_or(false);
        let path = put_path(&q.dest, q.basename.as_deref(), into_dir);
        let f = fileops::parse_facts(&path, out)?;
        let src = q.remote_src.as_ref().map(|_| {
            if f.get("src_missing") == Some("1") {
                return RemoteSrc::Missing;
            }
            let sum = f.get("src_checksum").unwrap_or_default();
            let size = f.get("src_size").and_then(|s| s.parse::<u64>().ok());
            match size {
                Some(size) if !sum.is_empty() && sum.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    RemoteSrc::Found {
                        checksum: sum.to_string(),
                        size,
                    }
                }
                _ => RemoteSrc::Unreadable(crate::modules::reply::unexpected(
                    "no checksum and size of the source",
                    &out.stdout,
                )),
            }
        });
        Ok(PutFacts { dest: f, src })
    }
}

/// Decide a put from the probe: nothing, attributes only, or a (validated) write.
pub fn put_plan(req: &PutRequest<'_>, facts: &PutFacts) -> Result<Plan, String> {
    fileops::check_path("dest", req.dest)?;
    let mut f = facts.dest.clone();
    let link = f.get("islnk") == Some("1");
    if link && req.follow {
        f.path = f.get("real").unwrap_or(&facts.dest.path).to_string();
    }
    if f.get("destdir") == Some("1") {
        return Err(format!(
            "can not use content with a dir as dest: {}",
            req.dest
        ));
    }
    if f.kind == Kind::Directory {
        return Err(format!("dest {} is an existing directory", f.path));
    }
    // lib/ansible/modules/copy.py: only a `dest` ending in `/` gets its directories made;
    // otherwise a missing parent fails the task.
    if !f.exists() && f.get("parent") == Some("0") && !req.dest.ends_with('/') && !req.check {
        let dir = f.path.rsplit_once('/').map_or(".", |(d, _)| d);
        return Err(format!("Destination directory {dir} does not exist"));
    }
    let (checksum, size) = match (req.remote_src, &facts.src) {
        (Some(src), Some(RemoteSrc::Missing) | None) => {
            return Err(format!("Source {src} not found"));
        }
        (Some(_), Some(RemoteSrc::Found { checksum, size })) => (checksum.clone(), *size),
        (Some(_), Some(RemoteSrc::Unreadable(e))) => return Err(e.clone()),
        (None, _) => (fileops::sha1_hex(req.content), req.content.len() as u64),
    };
    let mut result = ResultMap::new();
    // `copied`: copy.py's own keys (md5sum); otherwise the action ran the file module,
    // which reports `path` instead.
    let finish = |mut r: ResultMap, after: &fileops::FileFacts, copied: bool| {
        for (k, v) in fileops::path_result("dest", after) {
            r.insert(k, v);
        }
        if !copied {
            r.insert("path".into(), Value::String(after.path.clone()));
        }
        r.insert("checksum".into(), Value::String(checksum.clone()));
        if req.remote_src.is_none() && copied {
            r.insert(
                "md5sum".into(),
                Value::String(fileops::md5_hex(req.content)),
            );
        }
        r.insert("size".into(), Value::from(size));
        r
    };
    if f.exists() && !req.force {
        result.insert(
            "msg".into(),
            Value::String("file already exists, force is off".into()),
        );
        return Ok(Plan::unchanged(finish(result, &f, true)));
    }
    // lib/ansible/modules/copy.py: without `follow` a link is replaced even when the
    // content it points to is equal (`checksum_src != checksum_dest or islink`).
    if f.checksum.as_deref() == Some(checksum.as_str()) && (req.follow || !link) {
        let steps = req.attrs.steps(&f.path, &f, false)?;
        let after = req.attrs.applied(&f)?;
        return Ok(Plan {
            steps,
            result: finish(result, &after, false),
            ..Plan::default()
        });
    }
    let step = fileops::write_step(&WriteSpec {
        dest: &f.path,
        content: req.content,
        attrs: &req.attrs,
        backup: req.backup,
        validate: req.validate,
        remote_src: req.remote_src,
    })?;
    let base = if f.exists() {
        f.clone()
    } else {
        fileops::FileFacts {
            path: f.path.clone(),
            mode: 0o644,
            uid: u32::MAX,
            gid: u32::MAX,
            ..Default::default()
        }
    };
    let mut after = req.attrs.applied(&base)?;
    after.kind = Kind::File;
    after.size = size;
    let mut diffs = Vec::new();
    if req.diff && req.remote_src.is_none() {
        let before = if f.exists() {
            f.content_within(fileops::MAX_DIFF_SIZE)
        } else {
            Some(&b""[..])
        };
        if before.is_some()
            && let Some(d) = fileops::text_diff(&f.path, before, Some(req.content))
        {
            // `before: <dest>` only when there was a file to read.
            diffs.push(FileDiff {
                before_header: f.exists().then(|| f.path.clone()),
                after_header: Some(req.source.unwrap_or(&f.path).to_string()),
                ..d
            });
        }
    }
    // action/copy.py in check mode returns before the module runs: `changed` (and the
    // diff) is all it reports of a file it would write.
    let result = if req.check {
        ResultMap::new()
    } else {
        finish(result, &after, true)
    };
    Ok(Plan {
        steps: vec![step],
        diffs,
        result,
        changed: None,
    })
}

#[async_trait::async_trait]
impl Planned for Copy {
    type Params = CopyParams;
    type Facts = CopyFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.copy"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["src", "dest"]
    }

    fn required(&self) -> &'static [&'static str] {
        &["dest"]
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[&["src", "content"]]
    }

    async fn prepare(&self, p: &mut CopyParams, ctx: &TaskCtx<'_>) -> Result<(), String> {
        if p.remote_src {
            return Ok(());
        }
        if let Some(src) = &p.src {
            let path = fileops::find_local(src, &ctx.vars.search_dirs(SearchKind::Files))?;
            if path.is_dir() {
                // lib/ansible/plugins/action/copy.py: a directory is walked on the controller.
                let mut tree = copy_tree::walk(&path, src.ends_with('/'), p.local_follow)?;
                if p.decrypt {
                    let vault = ctx.vars.vault();
                    for (rel, data) in &mut tree.files {
                        *data = vault.open_bytes(std::mem::take(data), &path.join(&*rel))?;
                    }
                }
                p.tree = Some(tree);
                return Ok(());
            }
            let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
            p.local_path = Some(abs.display().to_string());
            p.data = if p.decrypt {
                ctx.vars.vault().read_file(&path)?
            } else {
                std::fs::read(&path)
                    .map_err(|e| format!("could not read {}: {e}", path.display()))?
            };
        }
        Ok(())
    }

    fn probe(&self, p: &CopyParams, ctx: PlanCtx) -> Result<Probe<CopyFacts>, String> {
        check_params(p)?;
        fileops::check_path("dest", &p.dest)?;
        if let Some(src) = p.src.as_deref().filter(|_| p.remote_src) {
            fileops::check_path("src", src)?;
        }
        if let Some(tree) = &p.tree {
            return Ok(copy_tree::probe_tree(tree, &p.dest).map(CopyFacts::Tree));
        }
        let put = Probe::fact(PutQuery {
            dest: p.dest.clone(),
            basename: p.src.as_deref().map(|s| basename(s).to_string()),
            remote_src: p.src.clone().filter(|_| p.remote_src),
            diff: ctx.diff,
        });
        Ok(put.map(|f| CopyFacts::Put(Box::new(f))))
    }

    fn plan(&self, p: &CopyParams, facts: &CopyFacts, ctx: PlanCtx) -> Result<Plan, String> {
        check_params(p)?;
        let attrs = Attrs {
            mode: p.mode.clone(),
            owner: p.owner.clone(),
            group: p.group.clone(),
        };
        let put = match (facts, &p.tree) {
            (CopyFacts::Put(put), None) => put,
            (CopyFacts::Tree(facts), Some(tree)) => return plan_tree(p, tree, attrs, facts),
            _ => return Err("copy: the probe's facts do not match the source".into()),
        };
        let content: &[u8] = match (&p.content, p.src.is_some()) {
            (Some(c), _) => c.as_bytes(),
            (None, _) => &p.data,
        };
        let mut plan = put_plan(
            &PutRequest {
                dest: &p.dest,
                content,
                attrs,
                backup: p.backup,
                validate: p.validate.as_deref(),
                force: p.force,
                remote_src: p.src.as_deref().filter(|_| p.remote_src),
                follow: p.follow,
                diff: ctx.diff,
                check: ctx.check,
                source: p.local_path.as_deref(),
            },
            put,
        )?;
        // lib/ansible/modules/copy.py: a `dest` ending in `/` gets its missing directories
        // made, with `directory_mode` (and owner/group) on each one made.
        let parent_missing = put.dest.get("parent") == Some("0");
        if p.dest.ends_with('/') && parent_missing && !plan.steps.is_empty() {
            let dir = Attrs {
                mode: p.directory_mode.clone(),
                owner: p.owner.clone(),
                group: p.group.clone(),
            };
            plan.steps.insert(0, copy_tree::mkdir_step(&p.dest, &dir));
        }
        // (An empty result is check mode's `changed` alone: action/copy.py adds nothing.)
        if let Some(src) = p.src.as_ref().filter(|_| !plan.result.is_empty()) {
            plan.result.insert("src".into(), Value::String(src.clone()));
        }
        Ok(plan)
    }

    fn finish(&self, p: &CopyParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        if p.tree.is_some() {
            return;
        }
        let dest = result_dest(result);
        fileops::apply_final(result, outputs, &dest, "backup_file");
    }
}

/// What `copy` knows of the host: a put's facts, or (for a directory `src`) the facts of
/// every path of the tree, in [`copy_tree::probe_tree`]'s order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyFacts {
    /// One file.
    Put(Box<PutFacts>),
    /// A tree.
    Tree(Vec<fileops::FileFacts>),
}

/// The plan of a tree copy (a directory `src`).
fn plan_tree(
    p: &CopyParams,
    tree: &copy_tree::Tree,
    attrs: Attrs,
    facts: &[fileops::FileFacts],
) -> Result<Plan, String> {
    let mut plan = copy_tree::plan(
        &copy_tree::TreeRequest {
            tree,
            dest: &p.dest,
            attrs,
            directory_mode: p.directory_mode.as_ref(),
            force: p.force,
            backup: p.backup,
            validate: p.validate.as_deref(),
        },
        facts,
    )?;
    if let Some(src) = p.src.as_ref().filter(|_| tree.files.len() == 1) {
        plan.result.insert("src".into(), Value::String(src.clone()));
    }
    Ok(plan)
}

fn check_params(p: &CopyParams) -> Result<(), String> {
    if p.src.is_none() && p.content.is_none() {
        return Err("src (or content) is required".into());
    }
    if p.src.is_some() && p.content.is_some() {
        return Err("parameters are mutually exclusive: src, content".into());
    }
    if p.remote_src && p.src.is_none() {
        return Err("remote_src needs src".into());
    }
    Ok(())
}

/// The path a put wrote, as its plan reported it (`dest`).
pub fn result_dest(result: &TaskResult) -> String {
    result
        .get("dest")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The last component of a path.
pub fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::{Step, params};
    use crate::modules::sysprobe::testutil::{plan_with, probe_of};
    use serde_json::json;

    fn p(args: Value) -> CopyParams {
        let Value::Object(m) = args else { panic!() };
        params("copy", m).unwrap()
    }

    fn out(s: &str) -> ExecOutput {
        ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(s),
            stderr: vec![],
        }
    }

    const ABSENT: &str = "parent=1\npath=/etc/x.conf\nkind=absent\n";
    // sha1("hello\n")
    const SAME: &str = "parent=1\npath=/etc/x.conf\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=6\nmtime=1\ninode=2\nnlink=1\nchecksum=f572d396fae9206628714fb2ce00f72e94f2258f\n";
    const OTHER: &str = "parent=1\npath=/etc/x.conf\nkind=file\nmode=600\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=4\nmtime=1\ninode=2\nnlink=1\nchecksum=0000\n--windlass-content--\nold\n";

    fn plan_of(args: Value, probe: &str, diff: bool) -> Result<Plan, String> {
        let params = p(args);
        plan_with(
            &Copy,
            &params,
            &out(probe),
            PlanCtx {
                check: false,
                diff,
                ..PlanCtx::default()
            },
        )
    }

    #[test]
    fn golden_copy() {
        let fresh = plan_of(
            json!({"content": "hello\n", "dest": "/etc/x.conf", "mode": "0640"}),
            ABSENT,
            false,
        );
        insta::assert_yaml_snapshot!("copy_fresh", fresh.unwrap());
        let same = plan_of(
            json!({"content": "hello\n", "dest": "/etc/x.conf"}),
            SAME,
            false,
        )
        .unwrap();
        assert!(same.steps.is_empty());
        insta::assert_yaml_snapshot!("copy_converged", same);
        let attrs = plan_of(
            json!({"content": "hello\n", "dest": "/etc/x.conf", "mode": "u=rw,g=,o=", "owner": "nobody"}),
            SAME,
            false,
        );
        insta::assert_yaml_snapshot!("copy_attrs_only", attrs.unwrap());
        let changed = plan_of(
            json!({"content": "hello\n", "dest": "/etc/x.conf", "backup": true, "validate": "grep -q hello %s"}),
            OTHER,
            true,
        );
        insta::assert_yaml_snapshot!("copy_changed_diff_backup_validate", changed.unwrap());
        let noforce = plan_of(
            json!({"content": "hello\n", "dest": "/etc/x.conf", "force": "no"}),
            OTHER,
            false,
        )
        .unwrap();
        assert!(noforce.steps.is_empty());
    }

    #[test]
    fn copy_errors() {
        let e = plan_of(
            json!({"content": "x", "dest": "/nope/x"}),
            "parent=0\nparent_dir=/nope\npath=/nope/x\nkind=absent\n",
            false,
        );
        // A missing directory fails the task, as Ansible's copy does.
        assert!(
            e.unwrap_err()
                .contains("Destination directory /nope does not exist")
        );
        let e = plan_of(json!({"dest": "/x"}), ABSENT, false);
        assert_eq!(e.unwrap_err(), "src (or content) is required");
        let e = plan_of(
            json!({"content": "x", "dest": "/tmp"}),
            "destdir=1\nparent=1\npath=/tmp\nkind=directory\n",
            false,
        );
        assert!(e.unwrap_err().contains("can not use content with a dir"));
        let e = plan_of(
            json!({"content": "x", "dest": "/x", "validate": "true"}),
            ABSENT,
            false,
        );
        assert_eq!(e.unwrap_err(), "validate must contain %s: true");
        let Value::Object(m) = json!({"content": "x", "dest": "/x", "mdoe": "0644"}) else {
            panic!()
        };
        let e = params::<CopyParams>("copy", m).err().unwrap();
        insta::assert_snapshot!("copy_err_unknown", e.to_string());
    }

    #[test]
    fn the_path_written_is_the_one_sent() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_str().unwrap();
        let victim = format!("{base}/victim");
        std::fs::write(&victim, "keep").unwrap();
        for (dest, src, want) in [
            (
                format!("{base}/safe\npath={victim}"),
                None,
                format!("{base}/safe\npath={victim}"),
            ),
            (
                format!(
                    "{base}/fresh\nkind=file\nchecksum=f572d396fae9206628714fb2ce00f72e94f2258f\nsize=6"
                ),
                None,
                format!(
                    "{base}/fresh\nkind=file\nchecksum=f572d396fae9206628714fb2ce00f72e94f2258f\nsize=6"
                ),
            ),
            (
                format!("{base}/"),
                Some("s\npath=victim"),
                format!("{base}/s\npath=victim"),
            ),
            (
                base.to_string(),
                Some("--windlass-content--"),
                format!("{base}/--windlass-content--"),
            ),
        ] {
            let mut args = json!({"dest": dest});
            match src {
                Some(s) => {
                    args["src"] = json!(s);
                }
                None => args["content"] = json!("hello\n"),
            }
            let mut params = p(args);
            params.data = b"hello\n".to_vec();
            // Copy fails without the file's directory (as Ansible): make it, however odd.
            let dir = std::path::Path::new(&want).parent().unwrap();
            std::fs::create_dir_all(dir).unwrap();
            let probe = probe_of(&Copy, &params).unwrap();
            let out = crate::transport::local::LocalTransport::exec_blocking(&probe);
            let plan = plan_with(&Copy, &params, &out, PlanCtx::default()).unwrap();
            assert_eq!(plan.result["dest"], want.as_str(), "{dest:?}");
            let [Step::Run { cmd }] = plan.steps.as_slice() else {
                panic!("{dest:?}: one write expected, got {:?}", plan.steps)
            };
            let out = crate::transport::local::LocalTransport::exec_blocking(cmd);
            assert_eq!(out.rc, 0, "{}", out.stderr_str());
            assert_eq!(std::fs::read(&want).unwrap(), b"hello\n");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let e = Copy
            .probe(
                &p(json!({"content": "x", "dest": "/a\0b"})),
                PlanCtx::default(),
            )
            .unwrap_err();
        assert!(e.contains("NUL"), "{e}");
    }

    #[test]
    fn probe_resolves_directory_dest() {
        let c = put_probe("/etc/", Some("a b.conf"), None, false);
        insta::assert_yaml_snapshot!("copy_probe", c);
    }
}
