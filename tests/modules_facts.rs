//! `setup` / fact gathering over real SSH on the test hosts: facts match the host, a
//! second `setup` task is one round trip that honours `gather_subset` and `filter`.

mod common;

use common::{Project, debug_msgs, on_host, opts, stats, testhosts};
use windlass::event::{Event, Status};

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn gathered_facts_match_the_host() {
    let inv = testhosts();
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file(
        "site.yml",
        r#"
- hosts: th01
  gather_facts: true
  tasks:
    - debug:
        msg: "{{ ansible_default_ipv4.address }}|{{ ansible_facts['distribution_release'] }}|{{ ansible_processor_vcpus }}|{{ ansible_hostname }}|{{ ansible_os_family }}|{{ ansible_host0.ipv4.address }}|{{ ansible_service_mgr }}|{{ ansible_pkg_mgr }}|{{ ansible_memtotal_mb }}"
    - name: network only
      setup:
        gather_subset: ["!all", "!min", "network"]
        filter: ansible_all_ipv4_addresses
      register: net
    - debug:
        msg: "{{ net.ansible_facts.keys() | list | join(',') }}|{{ ansible_all_ipv4_addresses | join(',') }}|{{ ansible_distribution }}"
    - assert:
        that:
          - ansible_facts.distribution == 'Debian'
          - ansible_distribution_major_version == '12'
          - ansible_virtualization_type == 'container'
          - ansible_interfaces | length >= 2
"#,
    );
    let t0 = std::time::Instant::now();
    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    let took = t0.elapsed();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let msgs = debug_msgs(&events, "th01");
    let first = msgs[0].as_str().unwrap().to_string();
    let f: Vec<&str> = first.split('|').collect();
    // The host's own view, without windlass.
    let addr = on_host(1, "ip -4 -o addr show host0");
    let want_ip = addr
        .split_whitespace()
        .nth(3)
        .and_then(|c| c.split('/').next())
        .unwrap()
        .to_string();
    assert_eq!(f[0], want_ip);
    let codename = on_host(1, ". /etc/os-release; echo $VERSION_CODENAME");
    assert_eq!(f[1], codename.trim());
    assert_eq!(f[2], on_host(1, "nproc").trim());
    assert_eq!(f[3], on_host(1, "hostname -s").trim());
    assert_eq!(f[4], "Debian");
    assert_eq!(f[5], want_ip);
    assert_eq!(f[6], "systemd");
    assert_eq!(f[7], "apt");
    let mem_kb: u64 = on_host(1, "awk '/^MemTotal/{print $2}' /proc/meminfo")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(f[8], (mem_kb / 1024).to_string());
    // register keeps ansible_facts under Ansible's names (as ansible-playbook does); the
    // filtered facts also updated the host's facts, and the earlier ones stay.
    let second = msgs[1].as_str().unwrap();
    assert_eq!(
        second,
        format!("ansible_all_ipv4_addresses|{want_ip}|Debian")
    );
    // Gathering Facts is ok (never changed).
    let gather = events.iter().find_map(|e| match e {
        Event::HostResult { task, status, .. } if task == "Gathering Facts" => Some(*status),
        _ => None,
    });
    assert_eq!(gather, Some(Status::Ok));
    assert_eq!(stats(&report)["th01"].changed, 0);
    eprintln!("gather + 4 tasks on th01 took {took:?}");
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn facts_on_all_hosts_in_check_mode() {
    let inv = testhosts();
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: yes
  tasks:
    - debug:
        msg: "{{ inventory_hostname }}={{ ansible_default_ipv4.address }}"
"#,
    );
    let mut o = opts();
    o.check = true;
    o.forks = 10;
    let t0 = std::time::Instant::now();
    let (events, report) = p.run("site.yml", "hosts.yml", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    eprintln!(
        "gathering facts on {} hosts took {:?}",
        report.stats.len(),
        t0.elapsed()
    );
    let inv_text = std::fs::read_to_string(&inv).unwrap();
    for (i, (host, _)) in report.stats.iter().enumerate() {
        let msgs = debug_msgs(&events, host);
        let m = msgs[0].as_str().unwrap();
        let ip = m.split('=').nth(1).unwrap();
        assert!(inv_text.contains(&format!("ansible_host: {ip}")), "{m}");
        assert!(i < 10);
    }
}

/// ansible-playbook for the parity test: `$WINDLASS_ANSIBLE_PLAYBOOK`, else the venv
/// `.ci/run` makes for the conformance suite.
fn ansible_playbook() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("WINDLASS_ANSIBLE_PLAYBOOK") {
        return Some(std::path::PathBuf::from(p)).filter(|p| p.is_file());
    }
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/ansible-venv/bin/ansible-playbook");
    p.is_file().then_some(p)
}

/// Facts whose VALUE changes between two gatherings a second apart, or per SSH session;
/// their type (and for maps, their keys) is still compared. Each with its reason.
const VOLATILE: &[(&str, &str)] = &[
    ("date_time", "the clock"),
    ("uptime_seconds", "the clock"),
    ("loadavg", "the host's load"),
    ("memfree_mb", "memory in use changes"),
    ("memory_mb", "memory in use changes"),
    ("swapfree_mb", "memory in use changes"),
    ("mounts[].size_available", "free blocks change"),
    ("mounts[].block_available", "free blocks change"),
    ("mounts[].block_used", "free blocks change"),
    ("mounts[].inode_available", "free inodes change"),
    ("mounts[].inode_used", "free inodes change"),
    ("env.SSH_CLIENT", "the SSH session's source port"),
    ("env.SSH_CONNECTION", "the SSH session's source port"),
    ("env.XDG_SESSION_ID", "one login session per connection"),
];

/// Keys only one tool has, each with its reason.
const ONE_SIDED: &[(&str, &str)] = &[
    (
        "env.SSH_TTY",
        "ansible's ssh connection asks for a terminal (-tt); windlass runs without one",
    ),
    (
        "env.TERM",
        "ansible's ssh connection asks for a terminal (-tt); windlass runs without one",
    ),
    (
        "local",
        "windlass keeps the local facts as ansible_facts.local, Ansible as ansible_facts.ansible_local (ansible_local is the same in both)",
    ),
    (
        "ansible_local",
        "windlass keeps the local facts as ansible_facts.local, Ansible as ansible_facts.ansible_local (ansible_local is the same in both)",
    ),
    (
        "_ansible_facts_gathered",
        "Ansible's engine marker, not a fact",
    ),
];

/// Lists whose order is not meaningful in Ansible (a Python set, or directory order).
const UNORDERED: &[&str] = &[
    "interfaces",
    "virtualization_tech_guest",
    "virtualization_tech_host",
];

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(n) if n.is_f64() => "float",
        serde_json::Value::Number(_) => "int",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

/// Every difference between Ansible's fact tree `a` and windlass's `w` under `path`.
fn fact_diffs(path: &str, a: &serde_json::Value, w: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    // `mounts[3].size_total` is listed as `mounts[].size_total`.
    let general = regex::Regex::new(r"\[[0-9]+\]")
        .unwrap()
        .replace_all(path, "[]")
        .into_owned();
    let volatile = VOLATILE.iter().any(|(k, _)| {
        general == *k
            || general.starts_with(&format!("{k}."))
            || general.starts_with(&format!("{k}["))
    });
    if kind(a) != kind(w) && !(volatile && kind(a) == "float" && kind(w) == "float") {
        out.push(format!(
            "{path}: ansible {a} ({}), windlass {w} ({})",
            kind(a),
            kind(w)
        ));
        return;
    }
    match (a, w) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => fact_diffs(&p, u, v, out),
                    _ if ONE_SIDED.iter().any(|(o, _)| *o == p) => {}
                    (Some(u), None) => out.push(format!("{p}: only ansible has it: {u}")),
                    (None, Some(v)) => out.push(format!("{p}: only windlass has it: {v}")),
                    (None, None) => {}
                }
            }
        }
        _ if volatile => {}
        (Value::Array(x), Value::Array(y)) if UNORDERED.contains(&path) => {
            let mut x: Vec<String> = x.iter().map(|v| v.to_string()).collect();
            let mut y: Vec<String> = y.iter().map(|v| v.to_string()).collect();
            x.sort();
            y.sort();
            if x != y {
                out.push(format!("{path}: ansible {x:?}, windlass {y:?}"));
            }
        }
        // Ansible lists the mounts as its threads finish: compare them by mount point.
        (Value::Array(x), Value::Array(y)) if path == "mounts" && x.len() == y.len() => {
            let by_mount = |v: &Vec<Value>| {
                let mut v = v.clone();
                v.sort_by_key(|m| m["mount"].to_string());
                v
            };
            let (x, y) = (by_mount(x), by_mount(y));
            for (i, (u, v)) in x.iter().zip(&y).enumerate() {
                fact_diffs(&format!("{path}[{i}]"), u, v, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                fact_diffs(&format!("{path}[{i}]"), u, v, out);
            }
        }
        _ if a != w => out.push(format!("{path}: ansible {a}, windlass {w}")),
        _ => {}
    }
}

/// The whole fact tree windlass gathers on a test host equals the one ansible-playbook
/// gathers there: the same keys, the same types, and the same values except for the
/// volatile facts listed above.
#[test]
#[ignore = "needs WINDLASS_TESTHOSTS and ansible-core"]
fn facts_match_ansible_on_a_test_host() {
    let inv = testhosts();
    let ansible = ansible_playbook().expect(
        "ansible-core not found: install tests/conformance/requirements.txt into \
         target/ansible-venv or set WINDLASS_ANSIBLE_PLAYBOOK",
    );
    let p = Project::new();
    p.with_testhosts(&inv);
    let dump = |out: &str| {
        format!(
            r#"
- hosts: th01
  gather_facts: true
  tasks:
    - copy:
        content: "{{{{ ansible_facts | to_json }}}}"
        dest: "{}/{out}"
      delegate_to: localhost
"#,
            p.path().display()
        )
    };
    p.file("ansible.yml", &dump("ansible.json"));
    p.file("windlass.yml", &dump("windlass.json"));
    let run = std::process::Command::new(&ansible)
        .args(["ansible.yml", "-i", "hosts.yml"])
        .current_dir(p.path())
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let (events, report) = p.run("windlass.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.path().join(f)).unwrap()).unwrap()
    };
    let (a, w) = (read("ansible.json"), read("windlass.json"));
    let mut diffs = Vec::new();
    fact_diffs("", &a, &w, &mut diffs);
    assert!(
        diffs.is_empty(),
        "windlass's facts differ from Ansible's:\n{}",
        diffs.join("\n")
    );
    // The comparison saw the whole tree, not an empty one.
    assert!(a.as_object().unwrap().len() > 90, "{a}");
}
