//! The printer and the JSONL stream for a fixed playbook, as golden snapshots.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Project, local_inventory, opts};
use windlass::event::EventSink;
use windlass::output::jsonl::JsonlSink;
use windlass::output::printer::Printer;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const PLAYBOOK: &str = r#"
- name: fixed output
  hosts: nodes
  gather_facts: false
  vars:
    pkgs: [a, b]
  tasks:
    - name: greet
      debug:
        msg: "hello {{ inventory_hostname }}"
    - name: loop with a skip
      debug:
        msg: "{{ item }}"
      loop: "{{ pkgs }}"
      when: item != 'b'
    - name: change
      command: "true"
      notify: handler one
    - name: fail on h2
      fail:
        msg: broken
      when: inventory_hostname == 'h2'
    - name: ignored
      command: /bin/false
      ignore_errors: true
    - name: secret
      debug:
        msg: s3cret
      no_log: true
  handlers:
    - name: handler one
      debug:
        msg: handled
"#;

fn events() -> Vec<windlass::event::Event> {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file("site.yml", PLAYBOOK);
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 2);
    events
}

#[test]
fn printer_output_is_stable() {
    let buf = Buf::default();
    let mut printer = Printer::new(buf.clone(), false, 0).without_timings();
    for e in events() {
        printer.event(&e);
    }
    let text = buf.text();
    assert!(!text.contains("s3cret"), "no_log leaked: {text}");
    insta::with_settings!({filters => vec![
        (r#""delta": "[0-9:.]+""#, r#""delta": "[delta]""#),
        (r#""(start|end)": "[0-9: .-]+""#, r#""$1": "[time]""#),
    ]}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn jsonl_stream_is_stable() {
    let buf = Buf::default();
    let mut sink = JsonlSink::new(buf.clone());
    for e in events() {
        sink.event(&e);
    }
    let text = buf.text();
    assert!(!text.contains("s3cret"), "no_log leaked: {text}");
    // Durations vary and locations hold the temp dir: normalise both.
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(o) = v.as_object_mut() {
                if o.contains_key("duration") {
                    o.insert("duration".into(), serde_json::json!(0.0));
                }
                if let Some(serde_json::Value::String(loc)) = o.get("loc") {
                    let short = loc.rsplit('/').next().unwrap_or(loc).to_string();
                    o.insert("loc".into(), serde_json::json!(short));
                }
                if let Some(serde_json::Value::String(pb)) = o.get("playbook") {
                    let short = pb.rsplit('/').next().unwrap_or(pb).to_string();
                    o.insert("playbook".into(), serde_json::json!(short));
                }
                if let Some(r) = o.get_mut("result").and_then(|r| r.as_object_mut()) {
                    for k in ["delta", "start", "end"] {
                        if r.get(k).is_some_and(|v| v.is_string()) {
                            r.insert(k.into(), serde_json::json!("0"));
                        }
                    }
                }
            }
            v
        })
        .collect();
    insta::assert_json_snapshot!(lines);
}

#[test]
fn command_events_are_stable() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - name: run\n      command: echo \"a b\" '$(id)'\n      environment:\n        DB_PASSWORD: hunter2\n    - name: secret\n      command: echo s3cret\n      no_log: true\n    - name: fails\n      command: /bin/false\n      ignore_errors: true\n",
    );
    let mut o = opts();
    o.report_commands = true;
    let (events, _) = p.run("site.yml", "hosts", o).unwrap();
    let mut lines: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| matches!(e, windlass::event::Event::Command { .. }))
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap();
            v["duration"] = serde_json::json!(0.0);
            v
        })
        .collect();
    let text = serde_json::to_string(&lines).unwrap();
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
    // Hosts run concurrently: order by host, then by the order of the tasks.
    lines.sort_by_key(|v| v["host"].as_str().unwrap().to_string());
    insta::assert_json_snapshot!(lines);
    // The printer shows them at -vvv only.
    let buf = Buf::default();
    let mut printer = Printer::new(buf.clone(), false, 3).without_timings();
    let quiet = Buf::default();
    let mut quiet_printer = Printer::new(quiet.clone(), false, 2).without_timings();
    for e in events
        .iter()
        .filter(|e| matches!(e, windlass::event::Event::Command { .. }))
    {
        printer.event(e);
        quiet_printer.event(e);
    }
    let mut shown: Vec<String> = buf.text().lines().map(str::to_string).collect();
    shown.sort();
    insta::assert_snapshot!(shown.join("\n"));
    assert_eq!(quiet.text(), "");
}
