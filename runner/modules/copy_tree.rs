//! `copy` of a controller directory: the tree walk and its plan.
//!
//! Why this module exists: Ansible's copy action (lib/ansible/plugins/action/copy.py) copies
//! a directory `src` by walking it on the controller (`_walk_dirs`) and running the copy
//! module once per file, then the file module once per subdirectory (`state=directory`,
//! `mode=directory_mode`), then once per symlink it keeps. `src: tree` copies the folder
//! itself (`dest/tree/...`), `src: tree/` only its contents, like rsync. windlass does the
//! same in one probe (every destination path's facts) and one plan. File names from the
//! controller are data: each reaches the host as a quoted shell word, never as syntax.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::fileops::{self, Attrs, FileFacts, Kind, StatOpts, WriteSpec};
use super::params::Mode;
use super::plan::{Plan, Probe, Step};
use super::{ResultMap, reply};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// How deep a tree may nest (a guard against link cycles the walk does not catch).
const MAX_DEPTH: usize = 64;

/// What a directory `src` holds, relative to the destination directory.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// The source as found on the controller (ends in `/` when `src` did).
    pub source: String,
    /// Regular files (or links followed to one): relative path and content.
    pub files: Vec<(String, Vec<u8>)>,
    /// Subdirectories met by the walk (not the top one), relative paths.
    pub dirs: Vec<String>,
    /// Links kept as links: relative path and target.
    pub links: Vec<(String, String)>,
}

/// Walk `top` as `_walk_dirs` does: relative paths start with the top folder's name unless
/// `src` ended in `/`; with `local_follow` links to files are copied as files and links to
/// directories walked (a link back into the tree stays a link), otherwise links stay links.
pub fn walk(top: &Path, trailing_slash: bool, local_follow: bool) -> Result<Tree, String> {
    let mut tree = Tree {
        source: top.display().to_string(),
        ..Tree::default()
    };
    let base = if trailing_slash {
        tree.source.push('/');
        String::new()
    } else {
        format!("{}/", name_of(top)?)
    };
    let mut parents = vec![same_file_key(top)?];
    recurse(top, &base, local_follow, &mut parents, &mut tree)?;
    tree.files.sort_by(|a, b| a.0.cmp(&b.0));
    tree.dirs.sort();
    tree.links.sort();
    Ok(tree)
}

fn name_of(p: &Path) -> Result<String, String> {
    let name = p
        .file_name()
        .ok_or_else(|| format!("{} has no name", p.display()))?;
    name.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} is not a UTF-8 file name", p.display()))
}

fn same_file_key(p: &Path) -> Result<(u64, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).map_err(|e| format!("could not read {}: {e}", p.display()))?;
    Ok((m.dev(), m.ino()))
}

fn recurse(
    dir: &Path,
    rel: &str,
    follow: bool,
    parents: &mut Vec<(u64, u64)>,
    tree: &mut Tree,
) -> Result<(), String> {
    if parents.len() > MAX_DEPTH {
        return Err(format!("{} nests too deeply", dir.display()));
    }
    let read = |e: std::io::Error| format!("could not read {}: {e}", dir.display());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort();
    for path in entries {
        let r = format!("{rel}{}", name_of(&path)?);
        let meta = std::fs::symlink_metadata(&path).map_err(read)?;
        let target = std::fs::metadata(&path).ok();
        if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&path).map_err(read)?;
            let link = link
                .to_str()
                .ok_or_else(|| format!("{} is not a UTF-8 link target", path.display()))?
                .to_string();
            match target {
                Some(t) if follow && t.is_file() => tree.files.push((r, read_file(&path)?)),
                Some(t) if follow && t.is_dir() && !parents.contains(&same_file_key(&path)?) => {
                    tree.dirs.push(r.clone());
                    parents.push(same_file_key(&path)?);
                    recurse(&path, &format!("{r}/"), follow, parents, tree)?;
                    parents.pop();
                }
                _ => tree.links.push((r, link)),
            }
        } else if meta.is_dir() {
            tree.dirs.push(r.clone());
            parents.push(same_file_key(&path)?);
            recurse(&path, &format!("{r}/"), follow, parents, tree)?;
            parents.pop();
        } else {
            tree.files.push((r, read_file(&path)?));
        }
    }
    Ok(())
}

fn read_file(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("could not read {}: {e}", p.display()))
}

/// The destination directory, ending in `/` (a recursive copy's `dest` always is one).
pub fn dest_dir(dest: &str) -> String {
    if dest.ends_with('/') {
        dest.to_string()
    } else {
        format!("{dest}/")
    }
}

/// The probe: each destination path's facts in turn, files (with checksums) first, then
/// directories, then links (not followed), each introduced by an `entry=` record.
pub fn probe(tree: &Tree, dest: &str) -> RemoteCommand {
    let d = dest_dir(dest);
    let mut s = String::new();
    let file = StatOpts {
        follow: true,
        checksum: Some("sha1sum"),
        content_limit: None,
    };
    let nofollow = StatOpts::default();
    let all = tree
        .files
        .iter()
        .map(|(r, _)| (r, file))
        .chain(tree.dirs.iter().map(|r| (r, file)))
        .chain(tree.links.iter().map(|(r, _)| (r, nofollow)));
    for (r, opts) in all {
        s.push_str(&format!(
            "printf 'entry=\\0'; p={}; {}",
            quote(&format!("{d}{r}")),
            fileops::stat_snippet(opts)
        ));
    }
    s.push_str("true");
    RemoteCommand::shell(s)
}

/// The probe of a tree copy and its parser: the facts of every path the tree would
/// write, files first, then directories, then links (each one's [`FileFacts`]).
pub fn probe_tree(tree: &Tree, dest: &str) -> Probe<Vec<FileFacts>> {
    let d = dest_dir(dest);
    let paths: Vec<String> = tree
        .files
        .iter()
        .map(|(r, _)| r)
        .chain(tree.dirs.iter())
        .chain(tree.links.iter().map(|(r, _)| r))
        .map(|r| format!("{d}{r}"))
        .collect();
    Probe::ask(probe(tree, dest), move |out| facts_of(&paths, out))
}

/// The probe's reply cut at its `entry=` records, each part parsed as one path's facts.
fn facts_of(paths: &[String], out: &ExecOutput) -> Result<Vec<FileFacts>, String> {
    let r = reply::parse(&out.stdout)?;
    if r.content.is_some() {
        return Err(reply::unexpected("content", &out.stdout));
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (k, v) in &r.records {
        if *k == "entry" {
            parts.push(Vec::new());
            continue;
        }
        let part = parts
            .last_mut()
            .ok_or_else(|| reply::unexpected("a field before the first entry", k.as_bytes()))?;
        part.extend_from_slice(k.as_bytes());
        part.push(b'=');
        part.extend_from_slice(v);
        part.push(0);
    }
    if parts.len() != paths.len() {
        return Err(reply::unexpected("a wrong number of entries", &out.stdout));
    }
    paths
        .iter()
        .zip(parts)
        .map(|(p, stdout)| {
            fileops::parse_facts(
                p,
                &ExecOutput {
                    rc: out.rc,
                    stdout,
                    stderr: out.stderr.clone(),
                },
            )
        })
        .collect()
}

/// What the tree copy is asked: the copy task's parameters that matter here.
pub struct TreeRequest<'a> {
    /// The walked tree.
    pub tree: &'a Tree,
    /// `dest` as given.
    pub dest: &'a str,
    /// `mode`/`owner`/`group` for files.
    pub attrs: Attrs,
    /// `directory_mode`.
    pub directory_mode: Option<&'a Mode>,
    /// `force`.
    pub force: bool,
    /// `backup`.
    pub backup: bool,
    /// `validate`.
    pub validate: Option<&'a str>,
}

/// The plan of a tree copy. Files first: a missing or different one is written, its
/// missing directories made (`mode=directory_mode`, as lib/ansible/modules/copy.py's
/// `adjust_recursive_directory_permissions` does for the ones it creates); an equal one
/// only gets its attributes. Then every subdirectory of the walk gets the file module's
/// `state=directory mode=directory_mode` (existing ones too: the action plugin's
/// `implicit_directories` never holds one), then every kept link `state=link force=yes`.
/// The result is the one file's when the tree has exactly one, else `dest`, `src` and
/// `changed`, as the action plugin reports.
pub fn plan(req: &TreeRequest<'_>, facts: &[FileFacts]) -> Result<Plan, String> {
    let t = req.tree;
    let (file_facts, rest) = facts.split_at(t.files.len());
    let (dir_facts, link_facts) = rest.split_at(t.dirs.len());
    let dir_attrs = Attrs {
        mode: req.directory_mode.cloned(),
        owner: req.attrs.owner.clone(),
        group: req.attrs.group.clone(),
    };
    let mut steps = Vec::new();
    let mut made = BTreeSet::new();
    let mut last = ResultMap::new();
    for ((_, data), f) in t.files.iter().zip(file_facts) {
        let (mut s, r) = file_steps(req, &dir_attrs, data, f, &mut made)?;
        steps.append(&mut s);
        last = r;
    }
    for f in dir_facts {
        match f.kind {
            Kind::Absent if made.contains(&f.path) => {}
            Kind::Absent => {
                steps.push(mkdir_step(&f.path, &dir_attrs));
                made.insert(f.path.clone());
            }
            Kind::Directory => steps.extend(dir_attrs.steps(&f.path, f, false)?),
            _ => {
                return Err(format!("{} already exists as a {}", f.path, f.kind.state()));
            }
        }
    }
    for ((_, target), f) in t.links.iter().zip(link_facts) {
        if f.kind != Kind::Link || f.target.as_deref() != Some(target.as_bytes()) {
            steps.push(Step::Run {
                cmd: RemoteCommand::argv(["ln", "-sfn", "--", target.as_str(), f.path.as_str()]),
            });
        }
    }
    let result = if t.files.len() == 1 {
        last
    } else {
        let mut r = ResultMap::new();
        r.insert("dest".into(), Value::String(dest_dir(req.dest)));
        r.insert("src".into(), Value::String(t.source.clone()));
        r
    };
    Ok(Plan {
        steps,
        result,
        ..Plan::default()
    })
}

/// One file of the tree: its steps and the result Ansible's copy module reports for it.
fn file_steps(
    req: &TreeRequest<'_>,
    dir_attrs: &Attrs,
    data: &[u8],
    f: &FileFacts,
    made: &mut BTreeSet<String>,
) -> Result<(Vec<Step>, ResultMap), String> {
    if f.kind == Kind::Directory {
        return Err(format!("dest {} is an existing directory", f.path));
    }
    let checksum = fileops::sha1_hex(data);
    let mut result = ResultMap::new();
    let mut steps = Vec::new();
    let after = if f.exists() && !req.force {
        f.clone()
    } else if f.checksum.as_deref() == Some(checksum.as_str()) {
        steps = req.attrs.steps(&f.path, f, false)?;
        req.attrs.applied(f)?
    } else {
        let dir = f.path.rsplit_once('/').map_or(".", |(d, _)| d);
        if !f.exists() && !made.contains(dir) {
            steps.push(mkdir_step(dir, dir_attrs));
            let mut d = dir;
            while !d.is_empty() && made.insert(d.to_string()) {
                d = d.rsplit_once('/').map_or("", |(p, _)| p);
            }
        }
        steps.push(fileops::write_step(&WriteSpec {
            dest: &f.path,
            content: data,
            attrs: &req.attrs,
            backup: req.backup,
            validate: req.validate,
            remote_src: None,
        })?);
        let base = if f.exists() {
            f.clone()
        } else {
            FileFacts {
                path: f.path.clone(),
                mode: 0o644,
                uid: u32::MAX,
                gid: u32::MAX,
                ..FileFacts::default()
            }
        };
        let mut a = req.attrs.applied(&base)?;
        a.kind = Kind::File;
        a.size = data.len() as u64;
        a
    };
    for (k, v) in fileops::path_result("dest", &after) {
        result.insert(k, v);
    }
    result.insert("checksum".into(), Value::String(checksum));
    Ok((steps, result))
}

/// Make `dir` and its missing parents, giving each one made `attrs` (an existing one is
/// left alone, as `os.makedirs` plus `adjust_recursive_directory_permissions` do).
pub fn mkdir_step(dir: &str, attrs: &Attrs) -> Step {
    let dir = dir.trim_end_matches('/');
    let mut s = format!(
        "set -e; d={}; set --; while [ -n \"$d\" ] && [ ! -d \"$d\" ]; do set -- \"$d\" \"$@\"; case \"$d\" in */*) d=${{d%/*}};; *) d=;; esac; done; for x do mkdir -- \"$x\"; ",
        quote(if dir.is_empty() { "/" } else { dir })
    );
    match &attrs.mode {
        Some(Mode::Octal(b)) => s.push_str(&format!("chmod {b:o} -- \"$x\"; ")),
        Some(Mode::Symbolic(m)) => s.push_str(&format!("chmod {} -- \"$x\"; ", quote(m))),
        None => {}
    }
    match (&attrs.owner, &attrs.group) {
        (Some(o), Some(g)) => {
            s.push_str(&format!("chown {} -- \"$x\"; ", quote(&format!("{o}:{g}"))))
        }
        (Some(o), None) => s.push_str(&format!("chown {} -- \"$x\"; ", quote(o))),
        (None, Some(g)) => s.push_str(&format!("chgrp {} -- \"$x\"; ", quote(g))),
        (None, None) => {}
    }
    s.push_str("done");
    Step::Run {
        cmd: RemoteCommand::shell(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_names_and_trailing_slash() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("tree");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        std::fs::create_dir_all(top.join("empty")).unwrap();
        std::fs::write(top.join("a"), "A").unwrap();
        std::fs::write(top.join("sub/b;rm -rf x"), "B").unwrap();
        std::os::unix::fs::symlink("a", top.join("l")).unwrap();
        let t = walk(&top, false, true).unwrap();
        let files: Vec<&str> = t.files.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(files, ["tree/a", "tree/l", "tree/sub/b;rm -rf x"]);
        assert_eq!(t.dirs, ["tree/empty", "tree/sub"]);
        let t = walk(&top, true, false).unwrap();
        assert_eq!(t.links, [("l".to_string(), "a".to_string())]);
        assert!(t.source.ends_with("tree/"));
    }

    #[test]
    fn a_tree_copy_lands_and_converges() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("tree");
        std::fs::create_dir_all(top.join("s p/deep")).unwrap();
        std::fs::write(top.join("s p/deep/x\ny"), "X").unwrap();
        std::fs::write(top.join("a"), "A").unwrap();
        let tree = walk(&top, false, true).unwrap();
        let dest = format!("{}/out/new", dir.path().display());
        let req = TreeRequest {
            tree: &tree,
            dest: &dest,
            attrs: Attrs::default(),
            directory_mode: Some(&Mode::Octal(0o700)),
            force: true,
            backup: false,
            validate: None,
        };
        let run = |c: &RemoteCommand| crate::transport::local::LocalTransport::exec_blocking(c);
        let facts = |t: &Tree| {
            probe_tree(t, &dest)
                .resolve(&run(&probe(t, &dest)))
                .unwrap()
        };
        let p = plan(&req, &facts(&tree)).unwrap();
        assert!(p.is_change());
        for s in &p.steps {
            let Step::Run { cmd } = s else { panic!() };
            assert_eq!(run(cmd).rc, 0);
        }
        let x = dir.path().join("out/new/tree/s p/deep/x\ny");
        assert_eq!(std::fs::read(x).unwrap(), b"X");
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(dir.path().join("out/new/tree/s p"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o700);
        let again = plan(&req, &facts(&tree)).unwrap();
        assert!(!again.is_change(), "{:?}", again.steps);
    }
}
