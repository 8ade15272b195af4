//! Run a playbook from Rust and print a custom summary.
//!
//! `cargo run --example embed`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use windlass::embed::Runner;
use windlass::event::{Event, Status};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let playbook = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: who am I
      command: whoami
      register: me
      changed_when: false
    - name: greet
      debug:
        msg: "{{ greeting }} from {{ inventory_hostname }} as {{ me.stdout }}"
    - name: touch a file
      command: "touch {{ workdir }}/{{ inventory_hostname }}"
      args:
        creates: "{{ workdir }}/{{ inventory_hostname }}"
"#;
    let counts: Arc<Mutex<BTreeMap<String, (u32, u32)>>> = Arc::default();
    let c = counts.clone();
    let report = Runner::new()
        .inventory_str("[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n")?
        .playbook_str(playbook, &dir.path().join("site.yml"))?
        .extra_var("greeting", "hello")
        .extra_var("workdir", dir.path().display().to_string())
        .on_event(move |e| {
            // One result per task and host: a loop's items (with `item`) are followed by
            // the loop's summary (`item: None`), which is the one to count.
            if let Event::HostResult {
                host,
                status,
                item: None,
                ..
            } = e
            {
                let mut m = c.lock().unwrap();
                let entry = m.entry(host.clone()).or_default();
                entry.0 += 1;
                if *status == Status::Changed {
                    entry.1 += 1;
                }
            }
        })
        .run()?;
    println!("custom summary (exit code {}):", report.exit_code);
    for (host, (tasks, changed)) in counts.lock().unwrap().iter() {
        println!("  {host}: {tasks} tasks, {changed} changed");
    }
    assert_eq!(report.exit_code, 0);
    Ok(())
}
