//! The run journal: what each host finished, so an interrupted or failed run can resume.
//!
//! Why this module exists: a cluster bootstrap that dies halfway must be safe to re-run
//! and quick to finish. After every task the engine records, per host, which tasks
//! completed, which handlers are still pending, and the variables tasks set (`register`,
//! `set_fact`). `windlass run --resume` reads it back: completed tasks are not run again,
//! the variables are restored, and pending handlers still fire (Ansible loses them:
//! ansible#10498). The file is written atomically (temp file + rename), so a crash never
//! leaves a torn journal. Results of `no_log` tasks and variables named like secrets are
//! never written; the tasks that made them run again on resume.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The journal format version.
pub const VERSION: u32 = 1;

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
    /// Per host.
    pub hosts: IndexMap<String, HostEntry>,
}

/// One host's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostEntry {
    /// Keys of tasks that completed (ok, changed or skipped) on the host.
    pub done: IndexSet<String>,
    /// Handlers notified and not yet run.
    pub notified: Vec<String>,
    /// Variables set by `register` and `set_fact`.
    pub vars: IndexMap<String, Value>,
}

/// Whether a variable name looks like it holds a secret (never written to the journal).
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

/// A live journal, written as the run goes.
pub struct Journal {
    path: PathBuf,
    data: Mutex<JournalData>,
    /// What the run being resumed had finished (empty for a fresh run).
    previous: JournalData,
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

    /// Start a fresh journal at `path` for `playbook`.
    pub fn fresh(path: PathBuf, playbook: &Path) -> Self {
        let data = JournalData {
            version: VERSION,
            playbook: playbook
                .canonicalize()
                .unwrap_or_else(|_| playbook.to_path_buf())
                .display()
                .to_string(),
            status: "running".into(),
            run_id: String::new(),
            hosts: IndexMap::new(),
        };
        Journal {
            path,
            data: Mutex::new(data),
            previous: JournalData::default(),
        }
    }

    /// Continue the journal at `path`: an error if there is none to resume.
    pub fn resume(path: PathBuf, playbook: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Error::Usage(format!(
                "--resume: no journal at {} (nothing to resume for this playbook)",
                path.display()
            ))
        })?;
        let previous: JournalData = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "--resume: the journal {} is unreadable: {e}",
                path.display()
            ))
        })?;
        if previous.version != VERSION {
            return Err(Error::Usage(format!(
                "--resume: journal version {} is not supported",
                previous.version
            )));
        }
        let mut data = previous.clone();
        data.status = "running".into();
        let _ = playbook;
        Ok(Journal {
            path,
            data: Mutex::new(data),
            previous,
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

    /// Whether the resumed run had finished task `key` on `host`.
    pub fn was_done(&self, host: &str, key: &str) -> bool {
        self.previous
            .hosts
            .get(host)
            .is_some_and(|h| h.done.contains(key))
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

    /// Write the journal with the hosts' current pending handlers and variables.
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
            d.status = status.to_string();
            for (host, notified, vars) in snapshot {
                let e = d.hosts.entry(host).or_default();
                e.notified = notified;
                e.vars = vars.into_iter().filter(|(k, _)| !secret_like(k)).collect();
            }
            serde_json::to_string_pretty(&*d).map_err(|e| Error::Other(e.to_string()))?
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_resume_round_trip_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        std::fs::write(&pb, "- hosts: all\n").unwrap();
        let path = Journal::path_for(&dir.path().join("state"), &pb);
        let j = Journal::fresh(path.clone(), &pb);
        j.mark_done("h1", "t1");
        let mut vars = IndexMap::new();
        vars.insert("out".to_string(), Value::from(1));
        vars.insert("db_password".to_string(), Value::from("hunter2"));
        j.save(
            "failed",
            vec![("h1".to_string(), vec!["restart x".to_string()], vars)],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"));
        let r = Journal::resume(path.clone(), &pb).unwrap();
        assert_eq!(r.resumed_run_id(), None, "no run id recorded");
        assert!(r.was_done("h1", "t1"));
        assert!(!r.was_done("h1", "t2"));
        assert_eq!(
            r.previous("h1").unwrap().notified,
            vec!["restart x".to_string()]
        );
        assert_eq!(r.previous("h1").unwrap().vars["out"], 1);
        r.set_run_id("run-1");
        r.save("running", Vec::new()).unwrap();
        let live = Journal::resume(path.clone(), &pb).unwrap();
        assert_eq!(
            live.resumed_run_id(),
            None,
            "a run still running keeps its locks"
        );
        live.save("interrupted", Vec::new()).unwrap();
        let ended = Journal::resume(path, &pb).unwrap();
        assert_eq!(ended.resumed_run_id(), Some("run-1"));
    }
}
