//! Batched probes (runner/transport/probe_cache.rs, runner/engine/prefetch.rs): a converged
//! host answers the probes of many tasks in one round trip, and a change made by one task is
//! always seen by the probes of the tasks after it.
//!
//! The hosts here are "SSH" hosts (no `ansible_connection`) served by a caller-provided
//! connector whose transport runs commands on this machine and counts them, so the engine
//! batches exactly as it does over SSH, without needing test hosts.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::Project;
use windlass::command::RemoteCommand;
use windlass::embed::RunOptions;
use windlass::event::{Event, Status};
use windlass::transport::local::LocalTransport;
use windlass::transport::{ConnectionSpec, Connector, ExecOutput, Transport, TransportError};

/// Runs commands locally and counts them (one count per round trip a real host would see).
#[derive(Default)]
struct Counting {
    execs: AtomicUsize,
    batches: AtomicUsize,
    lines: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Transport for Counting {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        self.execs.fetch_add(1, Ordering::SeqCst);
        let line = cmd.to_shell();
        if line.contains("windlass-probe-batch") {
            self.batches.fetch_add(1, Ordering::SeqCst);
        }
        self.lines.lock().unwrap().push(line);
        LocalTransport::new().exec(cmd).await
    }
}

struct Conn(Arc<Counting>);

impl Connector for Conn {
    fn connect(&self, _spec: &ConnectionSpec) -> Arc<dyn Transport> {
        self.0.clone()
    }
}

/// Run `site.yml` on one "SSH" host `h1`; returns the events and the transport's counts.
fn run(p: &Project, batch: bool) -> (Vec<Event>, Arc<Counting>) {
    p.file("hosts.ini", "h1\n");
    let counting = Arc::new(Counting::default());
    let opts = RunOptions {
        forks: 1,
        batch_probes: batch,
        report_commands: true,
        ..RunOptions::default()
    };
    let (events, _) = p
        .run_with(
            "site.yml",
            "hosts.ini",
            opts,
            Arc::new(Conn(counting.clone())),
        )
        .unwrap();
    (events, counting)
}

fn statuses(events: &[Event]) -> Vec<(String, Status)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                task,
                status,
                loop_summary: false,
                ..
            } => Some((task.clone(), *status)),
            _ => None,
        })
        .collect()
}

fn registered(events: &[Event], task: &str) -> serde_json::Map<String, serde_json::Value> {
    events
        .iter()
        .find_map(|e| match e {
            Event::HostResult {
                task: t, result, ..
            } if t == task => Some(result.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no result for {task}"))
}

fn playbook(dir: &str) -> String {
    format!(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: d1
      file: {{path: "{dir}/a", state: directory, mode: "0755"}}
    - name: d2
      file: {{path: "{dir}/b", state: directory}}
    - name: f1
      copy: {{dest: "{dir}/a/f", content: "one\ntwo\n", mode: "0644"}}
    - name: l1
      lineinfile: {{path: "{dir}/a/f", line: "two"}}
    - name: note
      debug: {{msg: "between"}}
    - name: l2
      lineinfile: {{path: "{dir}/a/f", line: "one"}}
    - name: skipped
      file: {{path: "{dir}/never", state: directory}}
      when: false
    - name: s1
      stat: {{path: "{dir}/a/f"}}
      register: st
    - name: f2
      copy: {{dest: "{dir}/b/g", content: "{{{{ st.stat.checksum }}}}\n"}}
    - name: link
      file: {{src: "{dir}/a/f", dest: "{dir}/b/l", state: link}}
    - name: d3
      file: {{path: "{dir}/c", state: directory}}
      register: r3
    - name: maybe
      file: {{path: "{dir}/c/m", state: directory}}
      when: r3 is changed
    - name: dirs
      file: {{path: "{dir}/c/{{{{ item }}}}", state: directory}}
      loop: [x, y, z]
"#
    )
}

#[test]
fn changes_are_seen_by_later_probes_and_reruns_are_batched() {
    let p = Project::new();
    let work = p.path().join("work");
    p.file("site.yml", &playbook(work.to_str().unwrap()));

    // First run on a fresh "host": l1 and l2 find their lines in the file f1 has just
    // written — a probe answered from before f1 ran would see no file and fail.
    let (first, _) = run(&p, true);
    let changed = |events: &[Event]| -> Vec<String> {
        statuses(events)
            .into_iter()
            .filter(|(_, s)| *s == Status::Changed)
            .map(|(t, _)| t)
            .collect()
    };
    assert_eq!(
        changed(&first),
        [
            "d1", "d2", "f1", "f2", "link", "d3", "maybe", "dirs", "dirs", "dirs"
        ],
        "{first:#?}"
    );
    let sum = registered(&first, "s1")["stat"]["checksum"]
        .as_str()
        .unwrap()
        .to_string();
    // sha1("one\ntwo\n")
    assert_eq!(sum, "c708d7ef841f7e1748436b8ef5670d0b2de1a227");
    assert_eq!(std::fs::read_to_string(work.join("b/g")).unwrap(), sum);

    // Re-run, unbatched: one round trip per probe.
    let (plain, plain_t) = run(&p, false);
    assert!(changed(&plain).is_empty(), "{plain:#?}");
    assert_eq!(plain_t.batches.load(Ordering::SeqCst), 0);
    let plain_execs = plain_t.execs.load(Ordering::SeqCst);
    assert_eq!(plain_execs, 12, "{:#?}", plain_t.lines.lock().unwrap());

    // Re-run, batched: same results, the twelve probes (three for the loop's items) in two
    // round trips — f2's content needs s1's registered result, so the first batch stops
    // before it; `maybe`'s `when` needs d3's result, so the second batch passes over it as
    // if skipped (which it is: d3 changes nothing).
    let (batched, batched_t) = run(&p, true);
    assert_eq!(statuses(&batched), statuses(&plain));
    assert_eq!(
        registered(&batched, "s1")["stat"],
        registered(&plain, "s1")["stat"]
    );
    assert_eq!(batched_t.batches.load(Ordering::SeqCst), 2);
    assert_eq!(
        batched_t.execs.load(Ordering::SeqCst),
        2,
        "{:#?}",
        batched_t.lines.lock().unwrap()
    );
    // Reported commands are what reached the host: the two batches, not twelve probes.
    let reported: Vec<String> = batched
        .iter()
        .filter_map(|e| match e {
            Event::Command { line: Some(l), .. } => Some(l.clone()),
            _ => None,
        })
        .collect();
    // A batch is reported with its script (the probes' lines), which travels on stdin.
    let heads: Vec<&str> = reported
        .iter()
        .map(|l| l.split(" <<'WINDLASS_BATCH'\n").next().unwrap())
        .collect();
    assert_eq!(heads, *batched_t.lines.lock().unwrap());
    assert!(
        reported.iter().all(|l| l.contains("WLPROBE")),
        "{reported:#?}"
    );
    assert!(reported[1].contains(&format!("{}/c/z", work.display())));

    // A change in the middle: f1 rewrites the file, so the answers prefetched for l1 and l2
    // (which saw "one" only) are dropped and asked again: they find "two" and change nothing.
    std::fs::write(work.join("a/f"), "one\n").unwrap();
    let (mid, mid_t) = run(&p, true);
    assert_eq!(changed(&mid), ["f1"], "{mid:#?}");
    assert_eq!(
        std::fs::read_to_string(work.join("a/f")).unwrap(),
        "one\ntwo\n"
    );
    assert_eq!(registered(&mid, "s1")["stat"]["checksum"], sum.as_str());
    assert!(mid_t.batches.load(Ordering::SeqCst) >= 1);
}

/// The steps of one change go to the host as one script (runner/transport/sequence.rs),
/// and a failing step stops the ones after it, with its own error.
#[test]
fn the_steps_of_a_change_are_one_round_trip_and_stop_at_a_failure() {
    let p = Project::new();
    let work = p.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("plain"), "a file\n").unwrap();
    let dir = work.to_str().unwrap();
    p.file(
        "site.yml",
        &format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: made
      file: {{path: "{dir}/d", state: directory, mode: "0700"}}
    - name: under a file
      file: {{path: "{dir}/plain/sub", state: directory, mode: "0700"}}
"#
        ),
    );
    let (events, t) = run(&p, false);
    let st = statuses(&events);
    assert_eq!(st[0], ("made".to_string(), Status::Changed), "{events:#?}");
    assert_eq!(st[1].1, Status::Failed, "{events:#?}");
    let lines = t.lines.lock().unwrap().clone();
    // Each task: its probe, then its steps (mkdir, chmod, stat) in one script.
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[1].contains("windlass-steps"), "{lines:#?}");
    assert!(lines[3].contains("windlass-steps"), "{lines:#?}");
    let m = std::fs::metadata(work.join("d")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(m.permissions().mode() & 0o7777, 0o700);
    // The failing step's own error (the steps after it do not run: see the unit tests of
    // transport::sequence).
    let failed = registered(&events, "under a file");
    let msg = failed["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("mkdir: ") && msg.contains("Not a directory"),
        "{msg}"
    );
    assert_ne!(failed["rc"], 0);
    assert_eq!(
        std::fs::read_to_string(work.join("plain")).unwrap(),
        "a file\n"
    );
}
