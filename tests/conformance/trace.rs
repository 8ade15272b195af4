//! One normalised, line-per-fact trace of a run, built from either tool's events.
//!
//! Why this exists: ansible-playbook (through `oracle/conformance.py`) and windlass (through
//! `--output jsonl`) describe a run in different shapes; both are read into the same
//! [`Rec`]s and printed the same way, so comparing two runs is comparing two strings and a
//! divergence shows as a line diff. What is left out on purpose: timings, command output
//! other than what `debug`/`fail`/`assert` show, warnings, and the order in which hosts of
//! one task finish (parallel in both tools).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

enum Rec {
    Play(String),
    NoHostsMatched,
    Task {
        name: String,
        handler: bool,
    },
    Result {
        host: String,
        status: String,
        ignored: bool,
        delegated: Option<String>,
        shown: Option<String>,
    },
    Item {
        host: String,
        status: String,
        label: Value,
        shown: Option<String>,
    },
    Include {
        file: String,
        hosts: Vec<String>,
    },
    /// An `until` that failed and runs again: Ansible's `FAILED - RETRYING` line.
    Retry {
        host: String,
        task: String,
        left: u64,
    },
    Stats(BTreeMap<String, [u64; 7]>),
}

/// Keys of a result that say how it ran rather than what it showed.
fn volatile(k: &str) -> bool {
    k.starts_with("_ansible")
        || matches!(
            k,
            "changed"
                | "failed"
                | "skipped"
                | "skip_reason"
                | "false_condition"
                | "item"
                | "ansible_loop_var"
                | "ansible_index_var"
                | "ansible_loop"
                | "results"
                | "invocation"
                | "deprecations"
                | "warnings"
        )
}

/// What a result shows that the suite compares: debug's message or variable, fail's and
/// assert's message.
fn shown(action: &str, status: &str, result: &Map<String, Value>) -> Option<String> {
    let action = action
        .trim_start_matches("ansible.builtin.")
        .trim_start_matches("ansible.legacy.");
    if status == "skipped" || result.contains_key("results") {
        return None;
    }
    let kept: Map<String, Value> = match action {
        "debug" => result
            .iter()
            .filter(|(k, _)| !volatile(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        "fail" | "assert" => result
            .iter()
            .filter(|(k, _)| *k == "msg")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => return None,
    };
    Some(sorted_json(&Value::Object(kept)))
}

fn sorted_json(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let b: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                Value::Object(b.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            v => v.clone(),
        }
    }
    serde_json::to_string(&sort(v)).unwrap_or_default()
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn obj(v: &Value, k: &str) -> Map<String, Value> {
    v.get(k)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// An include line, as both tools' events give it (`file`, `hosts`).
fn include_rec(v: &Value) -> Rec {
    Rec::Include {
        file: s(v, "file"),
        // Sorted: the two tools list an include's hosts in different orders.
        hosts: {
            let mut h: Vec<String> = v["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(String::from))
                .collect();
            h.sort();
            h
        },
    }
}

/// A recap row in PLAY RECAP's column order; the tools name the failed count differently
/// (`failures` in Ansible's stats, `failed` in windlass's).
fn stats_row(st: &Value, failed: &str) -> [u64; 7] {
    let n = |k: &str| st.get(k).and_then(Value::as_u64).unwrap_or(0);
    [
        n("ok"),
        n("changed"),
        n("unreachable"),
        n(failed),
        n("skipped"),
        n("rescued"),
        n("ignored"),
    ]
}

fn lines(events: &str) -> Result<Vec<Value>, String> {
    events
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

/// The trace of an ansible-playbook run, from `oracle/conformance.py`'s lines.
pub fn from_ansible(events: &str) -> Result<String, String> {
    let mut recs = Vec::new();
    for v in lines(events)? {
        let status = s(&v, "status");
        let result = obj(&v, "result");
        recs.push(match s(&v, "e").as_str() {
            "play" => Rec::Play(s(&v, "name")),
            "no_hosts_matched" => Rec::NoHostsMatched,
            "task" => Rec::Task {
                name: s(&v, "name"),
                handler: v["handler"].as_bool().unwrap_or(false),
            },
            "result" => Rec::Result {
                host: s(&v, "host"),
                shown: if v["looped"].as_bool() == Some(true) {
                    None
                } else {
                    shown(&s(&v, "action"), &status, &result)
                },
                ignored: v["ignored"].as_bool().unwrap_or(false) && status == "failed",
                delegated: v.get("delegated").and_then(Value::as_str).map(String::from),
                status,
            },
            "item" => Rec::Item {
                host: s(&v, "host"),
                label: v.get("label").cloned().unwrap_or(Value::Null),
                shown: shown(&s(&v, "action"), &status, &result),
                status,
            },
            "include" => include_rec(&v),
            "retry" => Rec::Retry {
                host: s(&v, "host"),
                task: s(&v, "task"),
                left: v["left"].as_u64().unwrap_or(0),
            },
            "stats" => Rec::Stats(
                obj(&v, "hosts")
                    .iter()
                    .map(|(h, st)| (h.clone(), stats_row(st, "failures")))
                    .collect(),
            ),
            other => return Err(format!("unknown oracle event {other:?}")),
        });
    }
    Ok(render(&recs))
}

/// The trace of a windlass run, from its `--output jsonl` lines.
pub fn from_windlass(events: &str) -> Result<String, String> {
    let mut recs = Vec::new();
    let mut action = String::new();
    for v in lines(events)? {
        match s(&v, "event").as_str() {
            "play_start" => {
                recs.push(Rec::Play(s(&v, "name")));
                if v["hosts"].as_array().is_some_and(|h| h.is_empty()) {
                    recs.push(Rec::NoHostsMatched);
                }
            }
            "task_start" => {
                action = s(&v, "action");
                recs.push(Rec::Task {
                    name: s(&v, "name"),
                    handler: v["handler"].as_bool().unwrap_or(false),
                });
            }
            "host_result" => {
                let status = s(&v, "status");
                let result = obj(&v, "result");
                let shown = shown(&action, &status, &result);
                recs.push(match v.get("item") {
                    Some(label) => Rec::Item {
                        host: s(&v, "host"),
                        status,
                        label: label.clone(),
                        shown,
                    },
                    None => Rec::Result {
                        host: s(&v, "host"),
                        ignored: v["ignored"].as_bool().unwrap_or(false) && status == "failed",
                        delegated: v
                            .get("delegated_to")
                            .and_then(Value::as_str)
                            .map(String::from),
                        status,
                        shown,
                    },
                });
            }
            "include" => recs.push(include_rec(&v)),
            "retry" => recs.push(Rec::Retry {
                host: s(&v, "host"),
                task: s(&v, "task"),
                left: v["retries_left"].as_u64().unwrap_or(0),
            }),
            "run_end" => {
                let mut stats = BTreeMap::new();
                for pair in v["stats"].as_array().into_iter().flatten() {
                    let (Some(h), Some(st)) = (pair.get(0).and_then(Value::as_str), pair.get(1))
                    else {
                        continue;
                    };
                    stats.insert(h.to_string(), stats_row(st, "failed"));
                }
                recs.push(Rec::Stats(stats));
            }
            _ => {}
        }
    }
    Ok(render(&recs))
}

/// Prints records; within one task, host lines are sorted by host (a host's items keep
/// their order) and include lines follow them.
fn render(recs: &[Rec]) -> String {
    let mut out = String::new();
    let mut block: Vec<(String, String)> = Vec::new();
    let flush = |block: &mut Vec<(String, String)>, out: &mut String| {
        block.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, l) in block.drain(..) {
            out.push_str(&l);
        }
    };
    for r in recs {
        match r {
            Rec::Play(n) => {
                flush(&mut block, &mut out);
                let _ = writeln!(out, "play {n:?}");
            }
            Rec::NoHostsMatched => {
                flush(&mut block, &mut out);
                out.push_str("  no hosts matched\n");
            }
            Rec::Task { name, handler } => {
                flush(&mut block, &mut out);
                let _ = writeln!(
                    out,
                    "{} {name:?}",
                    if *handler { "handler" } else { "task" }
                );
            }
            Rec::Result {
                host,
                status,
                ignored,
                delegated,
                shown,
            } => {
                let mut l = format!("  {host} {status}");
                if *ignored {
                    l.push_str(" (ignored)");
                }
                if let Some(d) = delegated {
                    let _ = write!(l, " -> {d}");
                }
                if let Some(sh) = shown {
                    let _ = write!(l, " {sh}");
                }
                l.push('\n');
                block.push((host.clone(), l));
            }
            Rec::Item {
                host,
                status,
                label,
                shown,
            } => {
                let mut l = format!("  {host} item {status} {}", sorted_json(label));
                if let Some(sh) = shown {
                    let _ = write!(l, " {sh}");
                }
                l.push('\n');
                block.push((host.clone(), l));
            }
            Rec::Retry { host, task, left } => {
                let l = format!("  {host} retrying {task:?} ({left} retries left)\n");
                block.push((host.clone(), l));
            }
            Rec::Include { file, hosts } => {
                block.push((
                    "\u{10FFFF}".into(),
                    format!("  included {file} for {}\n", hosts.join(", ")),
                ));
            }
            Rec::Stats(stats) => {
                flush(&mut block, &mut out);
                for (h, st) in stats {
                    if st.iter().all(|n| *n == 0) {
                        continue;
                    }
                    let [ok, ch, un, fa, sk, re, ig] = st;
                    let _ = writeln!(
                        out,
                        "recap {h} ok={ok} changed={ch} unreachable={un} failed={fa} skipped={sk} rescued={re} ignored={ig}"
                    );
                }
            }
        }
    }
    flush(&mut block, &mut out);
    out
}

/// The files a case wrote under `out/`: kind, mode, content (or its digest when long or
/// not UTF-8).
pub fn files(dir: &Path) -> String {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            entries.push(p);
        }
    }
    entries.sort();
    for p in entries {
        let rel = p
            .strip_prefix(dir.parent().unwrap_or(dir))
            .unwrap_or(&p)
            .display()
            .to_string();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            let _ = writeln!(out, "link {rel:?} -> {target:?}");
        } else if meta.is_dir() {
            let _ = writeln!(out, "dir {rel:?} {mode:04o}");
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            let content = match std::str::from_utf8(&bytes) {
                Ok(t) if t.len() <= 4000 => format!("{t:?}"),
                _ => format!(
                    "sha256:{} ({} bytes)",
                    hex::encode(sha2::Sha256::digest(&bytes)),
                    bytes.len()
                ),
            };
            let _ = writeln!(out, "file {rel:?} {mode:04o} {content}");
        }
    }
    out
}

/// A unified diff of two traces, ansible's first.
pub fn diff(ansible: &str, windlass: &str) -> String {
    similar::TextDiff::from_lines(ansible, windlass)
        .unified_diff()
        .context_radius(4)
        .header("ansible-playbook", "windlass")
        .to_string()
}
