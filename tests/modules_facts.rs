//! `setup` / fact gathering over real SSH on the test hosts: facts match the host, a
//! second `setup` task is one round trip that honours `gather_subset` and `filter`.

mod common;

use common::{Project, debug_msgs, on_host, opts, stats, testhosts};
use windlass::event::{Event, Status};

#[test]
fn gathered_facts_match_the_host() {
    let Some(inv) = testhosts("gathered_facts_match_the_host") else {
        return;
    };
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
        msg: "{{ net.ansible_facts | default('none') }}|{{ ansible_all_ipv4_addresses | join(',') }}|{{ ansible_distribution }}"
    - assert:
        that:
          - ansible_facts.distribution == 'Debian'
          - ansible_distribution_major_version == '12'
          - ansible_virtualization_type == 'systemd-nspawn'
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
    // register removes ansible_facts (as Ansible's engine does); the filtered facts still
    // updated the host's facts, and the earlier ones stay.
    let second = msgs[1].as_str().unwrap();
    assert_eq!(second, format!("none|{want_ip}|Debian"));
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
fn facts_on_all_hosts_in_check_mode() {
    let Some(inv) = testhosts("facts_on_all_hosts_in_check_mode") else {
        return;
    };
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
