//! The run journal: what each host finished, so an interrupted or failed run can resume.
//!
//! Why this module exists: a cluster bootstrap that dies halfway must be safe to re-run
//! and quick to finish. After every task the engine records, per host, which tasks
//! completed (keyed by what the task is, see the `key` module), which handlers are still pending
//! (with the task that notified them), and the variables tasks set (`register`,
//! `set_fact`). `windlass run --resume` reads it back: completed tasks are not run again,
//! the variables are restored, and pending handlers are notified again where their task
//! stands in the play, so they run at the next flush point as they would have (Ansible
//! loses them: ansible#10498). The journal also records a digest of every file the run
//! loaded and of the inventory: a resume after either changed says what changed and stops
//! unless told to go on (`--resume-changed`).
//!
//! On disk: the state directory is 0700 (tightened if it exists and is ours) with a
//! `.gitignore` of `*`, the journal is 0600 from its creation (temp file + rename, so a
//! crash never leaves a torn journal). Secrets are masked at any depth ([`mask`]); a
//! variable with anything masked, or set by a `no_log` task, is never restored, and the
//! task that made it runs again on resume. A plain run only replaces the unfinished
//! journal of an earlier run once it has finished more than that run had.

mod key;
mod mask;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

pub use key::task_base;
pub use mask::{MASK, mask, needs_mask};

/// The journal format version. 2: tasks keyed by definition and place, pending handlers
/// with their notifying task, masked variables listed, file and inventory digests.
pub const VERSION: u32 = 2;

/// What the journal file holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JournalData {
    /// Format version.
    pub version: u32,
    /// The playbook (absolute path).
    pub playbook: String,
    /// `running`, `ok`, `failed`, `interrupted`.
    pub status: String,
    /// The id of the run that wrote it (the owner of its host locks).
    #[serde(default)]
    pub run_id: String,
    /// Every file the run loaded (playbook, task files, roles, vars files): path to the
    /// SHA-256 of its content (`missing` when it could not be read).
    #[serde(default)]
    pub files: IndexMap<String, String>,
    /// A digest of the inventory: its hosts, their groups and variables.
    #[serde(default)]
    pub inventory: String,
    /// Per host.
    pub hosts: IndexMap<String, HostEntry>,
}

/// One host's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    /// Keys of tasks that completed (ok, changed or skipped) on the host.
    pub done: IndexSet<String>,
    /// Handlers notified and not yet run.
    pub notified: Vec<Pending>,
    /// Variables set by `register` and `set_fact`, masked.
    pub vars: IndexMap<String, Value>,
    /// Variables of `vars` that had something masked: never restored.
    #[serde(default)]
    pub masked: Vec<String>,
}

/// A handler notified and not yet run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pending {
    /// The handler name or `listen` topic notified.
    pub handler: String,
    /// The key of the task that notified it (empty when unknown).
    pub by: String,
}

/// Whether a variable name looks like it holds a secret (its value is masked on disk).
pub fn secret_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "private_key",
        "privatekey",
        "credential",
        "api_key",
        "apikey",
        "certificate_key",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// Whether variable `name` with value `v` is masked on disk (and so never restored).
pub fn var_masked(name: &str, v: &Value) -> bool {
    (secret_like(name) && !matches!(v, Value::Null | Value::Bool(_))) || needs_mask(v)
}

/// A live journal, written as the run goes.
pub struct Journal {
    path: PathBuf,
    data: Mutex<JournalData>,
    /// What the run being resumed had finished (empty for a fresh run).
    previous: JournalData,
    /// Resuming (`--resume`): the previous journal is continued.
    resuming: bool,
    /// `--resume-changed`: resume even if files or the inventory changed.
    allow_changed: bool,
    /// A fresh run over an unfinished journal: how many tasks (over all hosts) that journal
    /// had finished. The new run writes nothing until it has finished more.
    guard: usize,
    live: Mutex<Live>,
}

/// What the journal tracks during the run besides its data.
#[derive(Default)]
struct Live {
    /// Per host: the blocks sections it is in (`name/rescue`), outermost first.
    places: HashMap<String, Vec<String>>,
    /// Per (host, task base): how many times the host met the task so far.
    seen: HashMap<(String, String), u32>,
    /// Per (host, handler): the key of the task that notified it.
    notifiers: HashMap<(String, String), String>,
    /// Resuming: per (host, task key), handlers it had notified, not yet notified again.
    pending: IndexMap<(String, String), Vec<String>>,
    /// Whether the last save was held back by `guard`.
    deferred: bool,
    /// Per (host, variable): the value last saved, as it was and as written, and whether
    /// anything was masked (a value unchanged since the last save is not masked again).
    saved: HashMap<(String, String), (Value, Value, bool)>,
}

impl Live {
    /// Variable `name` of `host` as the journal writes it, and whether anything in it
    /// was masked.
    fn masked_var(&mut self, host: &str, name: &str, v: Value) -> (Value, bool) {
        let slot = (host.to_string(), name.to_string());
        if let Some((raw, written, masked)) = self.saved.get(&slot) {
            if *raw == v {
                return (written.clone(), *masked);
            }
        }
        let mut written = v.clone();
        let masked = if secret_like(name) && !matches!(v, Value::Null | Value::Bool(_)) {
            written = Value::String(MASK.into());
            true
        } else {
            needs_mask(&v) && mask(&mut written)
        };
        self.saved.insert(slot, (v, written.clone(), masked));
        (written, masked)
    }
}

impl Journal {
    /// Where the journal of `playbook` lives under `state_dir`.
    pub fn path_for(state_dir: &Path, playbook: &Path) -> PathBuf {
        let abs = playbook
            .canonicalize()
            .unwrap_or_else(|_| playbook.to_path_buf());
        let stem = abs
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "playbook".into());
        let digest = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(abs.display().to_string().as_bytes())[..6])
        };
        state_dir.join(format!("{stem}-{digest}.journal.json"))
    }

    /// Start a fresh journal at `path` for `playbook`. An unfinished journal already there
    /// (an earlier run that failed or was interrupted) stays the resume point until this
    /// run has finished more tasks than it had.
    pub fn fresh(path: PathBuf, playbook: &Path) -> Self {
        let guard = read(&path)
            .ok()
            .filter(|d| d.status != "ok")
            .map_or(0, |d| done_count(&d));
        let data = JournalData {
            version: VERSION,
            playbook: playbook
                .canonicalize()
                .unwrap_or_else(|_| playbook.to_path_buf())
                .display()
                .to_string(),
            status: "running".into(),
            ..JournalData::default()
        };
        Journal {
            path,
            data: Mutex::new(data),
            previous: JournalData::default(),
            resuming: false,
            allow_changed: false,
            guard,
            live: Mutex::default(),
        }
    }

    /// Continue the journal at `path`: an error if there is none to resume. With
    /// `allow_changed`, a change of the playbook's files or inventory is only reported.
    pub fn resume(path: PathBuf, playbook: &Path, allow_changed: bool) -> Result<Self> {
        let _ = playbook;
        let previous = read(&path)?;
        let mut data = previous.clone();
        data.status = "running".into();
        let mut live = Live::default();
        for (host, e) in &previous.hosts {
            for p in &e.notified {
                live.pending
                    .entry((host.clone(), p.by.clone()))
                    .or_default()
                    .push(p.handler.clone());
            }
        }
        Ok(Journal {
            path,
            data: Mutex::new(data),
            previous,
            resuming: true,
            allow_changed,
            guard: 0,
            live: Mutex::new(live),
        })
    }

    /// Record the id of the run writing the journal.
    pub fn set_run_id(&self, run_id: &str) {
        if let Ok(mut d) = self.data.lock() {
            d.run_id = run_id.to_string();
        }
    }

    /// The id of the run being resumed, if that run ended (failed or interrupted): host
    /// locks it could not release (its hosts were unreachable) belong to the resume. A
    /// journal still marked `running` may belong to a live run and gives none.
    pub fn resumed_run_id(&self) -> Option<&str> {
        let p = &self.previous;
        (!p.run_id.is_empty() && p.status != "running").then_some(p.run_id.as_str())
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the resumed run had recorded for `host`.
    pub fn previous(&self, host: &str) -> Option<&HostEntry> {
        self.previous.hosts.get(host)
    }

    /// The variables of the resumed run to restore for `host`: masked ones are left out.
    pub fn restorable_vars(&self, host: &str) -> Vec<(String, Value)> {
        self.previous(host).map_or_else(Vec::new, |e| {
            e.vars
                .iter()
                .filter(|(k, _)| !e.masked.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// The key of task `base` (see [`task_base`]) on `host` at this point of the run: each
    /// call counts one more meeting, so identical tasks get distinct keys in walk order.
    pub fn task_key(&self, host: &str, base: &str) -> String {
        let mut live = self.live.lock().expect("journal lock");
        let place = live.places.get(host).filter(|p| !p.is_empty()).map(|p| {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(p.join("\0").as_bytes())[..4])
        });
        let base = match place {
            Some(p) => format!("{base}@{p}"),
            None => base.to_string(),
        };
        let n = live
            .seen
            .entry((host.to_string(), base.clone()))
            .or_insert(0);
        *n += 1;
        format!("{base}#{n}")
    }

    /// `host` enters a block section (`name/block`, `name/rescue`, `name/always`): the
    /// keys of the tasks in it say so.
    pub fn enter(&self, host: &str, section: &str) {
        let mut live = self.live.lock().expect("journal lock");
        live.places
            .entry(host.to_string())
            .or_default()
            .push(section.to_string());
    }

    /// `host` leaves the block section it entered last.
    pub fn leave(&self, host: &str) {
        let mut live = self.live.lock().expect("journal lock");
        if let Some(p) = live.places.get_mut(host) {
            p.pop();
        }
    }

    /// Whether the resumed run had finished task `key` on `host`.
    pub fn was_done(&self, host: &str, key: &str) -> bool {
        self.previous
            .hosts
            .get(host)
            .is_some_and(|h| h.done.contains(key))
    }

    /// Resuming: the handlers task `key` had notified on `host` and that had not run, now
    /// handed back (once) as the walk reaches that task again.
    pub fn take_pending(&self, host: &str, key: &str) -> Vec<String> {
        let mut live = self.live.lock().expect("journal lock");
        let names = live
            .pending
            .shift_remove(&(host.to_string(), key.to_string()))
            .unwrap_or_default();
        for n in &names {
            live.notifiers
                .insert((host.to_string(), n.clone()), key.to_string());
        }
        names
    }

    /// Pending handlers of the resumed run whose notifying task this run has not met:
    /// (host, handler).
    pub fn unmet_pending(&self) -> Vec<(String, String)> {
        let live = self.live.lock().expect("journal lock");
        live.pending
            .iter()
            .flat_map(|((h, _), names)| names.iter().map(|n| (h.clone(), n.clone())))
            .collect()
    }

    /// Handler `names` (its name, `role : name`, its `listen` topics) ran on `host`: the
    /// task that had notified it, which is also what any handler it notifies in turn
    /// counts as notified by.
    pub fn handler_ran(&self, host: &str, names: &[String]) -> Option<String> {
        let mut live = self.live.lock().expect("journal lock");
        let mut by = None;
        for n in names {
            let k = live.notifiers.remove(&(host.to_string(), n.clone()));
            by = by.or(k);
        }
        by
    }

    /// Record that task `key` notified `handlers` on `host`.
    pub fn note_notifier(&self, host: &str, handlers: &[String], key: &str) {
        let mut live = self.live.lock().expect("journal lock");
        for n in handlers {
            live.notifiers
                .entry((host.to_string(), n.clone()))
                .or_insert_with(|| key.to_string());
        }
    }

    /// Record that `host` finished task `key`.
    pub fn mark_done(&self, host: &str, key: &str) {
        if let Ok(mut d) = self.data.lock() {
            d.hosts
                .entry(host.to_string())
                .or_default()
                .done
                .insert(key.to_string());
        }
    }

    /// Record the digests of `files` (those not recorded yet), by absolute path: a resume
    /// from another directory finds them.
    pub fn note_files(&self, files: &[PathBuf]) {
        if let Ok(mut d) = self.data.lock() {
            for f in files {
                let name = f.canonicalize().unwrap_or_else(|_| f.clone());
                let name = name.display().to_string();
                if !d.files.contains_key(&name) {
                    d.files.insert(name, file_digest(f));
                }
            }
        }
    }

    /// Record the files the run loaded and the inventory's digest. Resuming, compare
    /// them first with what the resumed run recorded: when anything changed, an error
    /// saying what, unless `--resume-changed` allows it (then the changes are returned).
    pub fn fingerprint(&self, files: &[PathBuf], inventory: String) -> Result<Vec<String>> {
        let mut changes = Vec::new();
        if self.resuming {
            for (f, old) in &self.previous.files {
                let now = file_digest(Path::new(f));
                if &now != old {
                    changes.push(match (old.as_str(), now.as_str()) {
                        ("missing", _) => format!("{f} was added"),
                        (_, "missing") => format!("{f} was removed"),
                        _ => format!("{f} changed"),
                    });
                }
            }
            if !self.previous.inventory.is_empty() && self.previous.inventory != inventory {
                changes.push("the inventory changed (its hosts, groups or variables)".into());
            }
            if !changes.is_empty() && !self.allow_changed {
                return Err(Error::Usage(format!(
                    "--resume: the playbook or inventory changed since the journal was written:\n  {}\nfinished tasks are matched by what they are, not by their line, but a changed task runs again and a changed file may mean other work; resume anyway with --resume-changed, or run without --resume",
                    changes.join("\n  ")
                )));
            }
        }
        if let Ok(mut d) = self.data.lock() {
            d.files.clear();
            d.inventory = inventory;
        }
        self.note_files(files);
        Ok(changes)
    }

    /// A fresh run that held back its journal (it finished no more than the earlier run
    /// whose journal stays the resume point): (tasks the earlier run had finished, tasks
    /// this run finished).
    pub fn kept_earlier(&self) -> Option<(usize, usize)> {
        let deferred = self.live.lock().ok()?.deferred;
        let done = self.data.lock().ok().map(|d| done_count(&d))?;
        deferred.then_some((self.guard, done))
    }

    /// Write the journal with the hosts' current pending handlers and variables (the
    /// variables masked; those that had anything masked listed as such).
    pub fn save(
        &self,
        status: &str,
        snapshot: impl IntoIterator<Item = (String, Vec<String>, IndexMap<String, Value>)>,
    ) -> Result<()> {
        let text = {
            let mut d = self
                .data
                .lock()
                .map_err(|_| Error::Other("journal lock poisoned".into()))?;
            let mut live = self.live.lock().expect("journal lock");
            let held_back = !self.resuming && self.guard > 0 && done_count(&d) <= self.guard;
            live.deferred = held_back;
            if held_back {
                return Ok(());
            }
            d.status = status.to_string();
            for (host, notified, vars) in snapshot {
                let e = d.hosts.entry(host.clone()).or_default();
                e.notified = notified
                    .into_iter()
                    .map(|handler| Pending {
                        by: live
                            .notifiers
                            .get(&(host.clone(), handler.clone()))
                            .cloned()
                            .unwrap_or_default(),
                        handler,
                    })
                    .collect();
                // Pending handlers of the resumed run whose task was not met yet.
                for ((h, by), names) in &live.pending {
                    if *h == host {
                        e.notified.extend(names.iter().map(|n| Pending {
                            handler: n.clone(),
                            by: by.clone(),
                        }));
                    }
                }
                e.masked.clear();
                e.vars = vars
                    .into_iter()
                    .map(|(k, v)| {
                        let (v, masked) = live.masked_var(&host, &k, v);
                        if masked {
                            e.masked.push(k.clone());
                        }
                        (k, v)
                    })
                    .collect();
            }
            serde_json::to_string_pretty(&*d).map_err(|e| Error::Other(e.to_string()))?
        };
        write_private(&self.path, &text)
    }
}

/// How many tasks a journal records as finished, over all hosts.
fn done_count(d: &JournalData) -> usize {
    d.hosts.values().map(|h| h.done.len()).sum()
}

/// Read the journal at `path` (for `--resume`: a usage error when there is none, or it
/// is unreadable, or of another format version).
fn read(path: &Path) -> Result<JournalData> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        Error::Usage(format!(
            "--resume: no journal at {} (nothing to resume for this playbook)",
            path.display()
        ))
    })?;
    let unreadable = |e: serde_json::Error| {
        Error::Usage(format!(
            "--resume: the journal {} is unreadable: {e}",
            path.display()
        ))
    };
    let raw: Value = serde_json::from_str(&text).map_err(unreadable)?;
    let version = raw.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(VERSION) {
        return Err(Error::Usage(format!(
            "--resume: the journal {} has format version {version}, this windlass reads version {VERSION} (it was written by {} windlass): it cannot be resumed; run without --resume",
            path.display(),
            if version < u64::from(VERSION) {
                "an older"
            } else {
                "a newer"
            }
        )));
    }
    serde_json::from_value(raw).map_err(unreadable)
}

/// The SHA-256 of a file's content, hex; `missing` when it cannot be read.
fn file_digest(path: &Path) -> String {
    use sha2::Digest;
    std::fs::read(path).map_or_else(
        |_| "missing".to_string(),
        |b| hex::encode(sha2::Sha256::digest(&b)),
    )
}

/// Write `text` to `path` readable by its owner only, atomically: the state directory is
/// made (or tightened to) 0700 with a `.gitignore`, the text goes to a 0600 temp file in
/// it, which is renamed over `path`.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    private_dir(dir)?;
    // tempfile creates its files with mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".journal")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Make `dir` (and missing parents) 0700. An existing `dir` that is ours — owned by us and
/// holding nothing but journals — is tightened to 0700 and gets a `.gitignore` of `*`
/// that keeps journals out of version control. A folder that also holds other things
/// (`--state-dir .`, `--state-dir /tmp`) is left as it is: the journal itself is 0600.
fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))?;
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if meta.uid() != rustix::process::geteuid().as_raw() || !only_journals(dir) {
        return Ok(());
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(dir, e))?;
    }
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n").map_err(|e| Error::io(&ignore, e))?;
    }
    Ok(())
}

/// Whether `dir` holds nothing but what windlass keeps there: journals, their temp
/// files (also those of older versions), the `.gitignore`.
fn only_journals(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.into_iter().all(|e| {
        e.ok().is_some_and(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == ".gitignore"
                || name.ends_with(".journal.json")
                || name.ends_with(".journal.tmp")
                || (name.starts_with(".journal") && name.ends_with(".tmp"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_and_resume_round_trip_with_secrets_masked() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        std::fs::write(&pb, "- hosts: all\n").unwrap();
        let path = Journal::path_for(&dir.path().join("state"), &pb);
        let j = Journal::fresh(path.clone(), &pb);
        j.mark_done("h1", "t1");
        j.note_notifier("h1", &["restart x".to_string()], "t1");
        let mut vars = IndexMap::new();
        vars.insert("out".to_string(), Value::from(1));
        vars.insert("db_password".to_string(), Value::from("hunter2"));
        vars.insert(
            "joined".to_string(),
            serde_json::json!({"cmd": "kubeadm join x --token abcdef.0123456789abcdef", "rc": 0}),
        );
        vars.insert(
            "api".to_string(),
            serde_json::json!({"json": {"creds": [{"secret_access_key": "AKIAsecret"}]}}),
        );
        vars.insert("db".to_string(), Value::from("mysql://app:pa55@db/app"));
        j.save(
            "failed",
            vec![("h1".to_string(), vec!["restart x".to_string()], vars)],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["hunter2", "abcdef.0123456789abcdef", "AKIAsecret", "pa55"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let r = Journal::resume(path.clone(), &pb, false).unwrap();
        assert_eq!(r.resumed_run_id(), None, "no run id recorded");
        assert!(r.was_done("h1", "t1"));
        assert!(!r.was_done("h1", "t2"));
        assert_eq!(
            r.previous("h1").unwrap().notified,
            vec![Pending {
                handler: "restart x".into(),
                by: "t1".into()
            }]
        );
        let restored: Vec<String> = r
            .restorable_vars("h1")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            restored,
            vec!["out".to_string()],
            "masked values are not restored"
        );
        assert_eq!(r.take_pending("h1", "t1"), vec!["restart x".to_string()]);
        assert!(r.take_pending("h1", "t1").is_empty(), "handed back once");
        r.set_run_id("run-1");
        r.save("running", Vec::new()).unwrap();
        let live = Journal::resume(path.clone(), &pb, false).unwrap();
        assert_eq!(
            live.resumed_run_id(),
            None,
            "a run still running keeps its locks"
        );
        live.save("interrupted", Vec::new()).unwrap();
        let ended = Journal::resume(path, &pb, false).unwrap();
        assert_eq!(ended.resumed_run_id(), Some("run-1"));
    }

    #[test]
    fn a_handler_passes_its_notifier_on() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::fresh(dir.path().join("j.json"), &dir.path().join("site.yml"));
        j.note_notifier("h", &["a".to_string()], "t1");
        j.note_notifier("h", &["a".to_string()], "t2");
        let names = ["a".to_string(), "r : a".to_string()];
        assert_eq!(j.handler_ran("h", &names).as_deref(), Some("t1"));
        assert_eq!(j.handler_ran("h", &names), None, "forgotten once it ran");
        assert_eq!(j.handler_ran("other", &names), None);
    }

    #[test]
    fn state_dir_is_private_and_ignored_by_git() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        std::fs::write(&pb, "- hosts: all\n").unwrap();
        let state = dir.path().join("state");
        // An existing folder of ours that is too open is tightened.
        std::fs::create_dir(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = Journal::path_for(&state, &pb);
        let j = Journal::fresh(path.clone(), &pb);
        j.save("failed", Vec::new()).unwrap();
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(state.join(".gitignore")).unwrap(),
            "*\n"
        );
        let fresh = dir.path().join("new").join("deeper");
        let path = Journal::path_for(&fresh, &pb);
        Journal::fresh(path.clone(), &pb)
            .save("failed", Vec::new())
            .unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&path), 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(&fresh)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_state_dir_shared_with_other_files_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        std::fs::write(&pb, "- hosts: all\n").unwrap();
        // `--state-dir .`: the project itself.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = Journal::path_for(dir.path(), &pb);
        Journal::fresh(path.clone(), &pb)
            .save("failed", Vec::new())
            .unwrap();
        assert_eq!(mode(dir.path()), 0o755, "not tightened");
        assert!(
            !dir.path().join(".gitignore").exists(),
            "no .gitignore of `*`"
        );
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_old_journal_gives_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        let path = dir.path().join("j.json");
        std::fs::write(
            &path,
            r#"{"version":1,"playbook":"x","status":"failed","hosts":{"h":{"done":["a|b"],"notified":["x"],"vars":{}}}}"#,
        )
        .unwrap();
        let Err(Error::Usage(m)) = Journal::resume(path.clone(), &pb, false) else {
            panic!("an old journal resumed");
        };
        assert!(m.contains("format version 1") && m.contains("older"), "{m}");
        // A plain run replaces it at once (it cannot be resumed anyway).
        let j = Journal::fresh(path.clone(), &pb);
        j.save("failed", Vec::new()).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("\"version\": 2")
        );
    }

    #[test]
    fn a_fresh_run_keeps_an_unfinished_journal_until_it_gets_further() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        let path = dir.path().join("j.json");
        let first = Journal::fresh(path.clone(), &pb);
        for k in ["a", "b"] {
            first.mark_done("h", k);
        }
        first.save("failed", Vec::new()).unwrap();
        let second = Journal::fresh(path.clone(), &pb);
        second.mark_done("h", "a");
        second.save("failed", Vec::new()).unwrap();
        assert_eq!(second.kept_earlier(), Some((2, 1)));
        assert!(
            Journal::resume(path.clone(), &pb, false)
                .unwrap()
                .was_done("h", "b")
        );
        let third = Journal::fresh(path.clone(), &pb);
        for k in ["a", "x", "y"] {
            third.mark_done("h", k);
        }
        third.save("failed", Vec::new()).unwrap();
        assert_eq!(third.kept_earlier(), None);
        let r = Journal::resume(path, &pb, false).unwrap();
        assert!(r.was_done("h", "y") && !r.was_done("h", "b"));
    }

    #[test]
    fn a_changed_file_stops_a_resume_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        let inc = dir.path().join("inc.yml");
        std::fs::write(&pb, "one").unwrap();
        std::fs::write(&inc, "two").unwrap();
        let path = dir.path().join("j.json");
        let j = Journal::fresh(path.clone(), &pb);
        assert!(
            j.fingerprint(std::slice::from_ref(&pb), "inv1".into())
                .unwrap()
                .is_empty()
        );
        j.note_files(std::slice::from_ref(&inc));
        j.save("failed", Vec::new()).unwrap();
        let same = Journal::resume(path.clone(), &pb, false).unwrap();
        assert!(
            same.fingerprint(std::slice::from_ref(&pb), "inv1".into())
                .unwrap()
                .is_empty()
        );
        std::fs::write(&inc, "three").unwrap();
        let Err(Error::Usage(m)) = Journal::resume(path.clone(), &pb, false)
            .unwrap()
            .fingerprint(std::slice::from_ref(&pb), "inv2".into())
        else {
            panic!("a changed include resumed");
        };
        assert!(
            m.contains("inc.yml changed") && m.contains("inventory changed"),
            "{m}"
        );
        assert!(m.contains("--resume-changed"), "{m}");
        let allowed = Journal::resume(path, &pb, true).unwrap();
        assert_eq!(allowed.fingerprint(&[pb], "inv1".into()).unwrap().len(), 1);
    }
}
