//! The engine on the local connection: precedence, handlers, blocks, loops, serial,
//! failure isolation and exit codes.

mod common;

use std::sync::{Arc, Mutex};

use common::{Project, debug_msgs, local_inventory, opts, results, task_starts};
use serde_json::json;
use windlass::command::RemoteCommand;
use windlass::embed::RunOptions;
use windlass::event::{Event, Status};
use windlass::transport::{ConnectionSpec, Connector, ExecOutput, Transport, TransportError};

#[test]
fn variable_precedence_follows_ansible() {
    let p = Project::new();
    // pN is defined at the first N levels; each level sets it to its own name.
    let levels = [
        "role_defaults",
        "inv_group_all",
        "inv_group",
        "inv_host",
        "play_vars",
        "vars_files",
        "role_vars",
        "block_vars",
        "task_vars",
        "set_fact",
        "extra_vars",
    ];
    let defs = |upto: usize| -> String {
        (1..=levels.len())
            .filter(|n| *n >= upto)
            .map(|n| format!("p{n}: {}\n", levels[upto - 1]))
            .collect()
    };
    p.file("roles/r/defaults/main.yml", &defs(1));
    p.file("group_vars/all.yml", &defs(2));
    p.file("group_vars/nodes.yml", &defs(3));
    p.file("host_vars/h1.yml", &defs(4));
    p.file("vf.yml", &defs(6));
    p.file("roles/r/vars/main.yml", &defs(7));
    let fact_vars: String = (10..=11)
        .map(|n| format!("          p{n}: set_fact\n"))
        .collect();
    let msg: Vec<String> = (1..=11).map(|n| format!("{{{{ p{n} }}}}")).collect();
    p.file(
        "roles/r/tasks/main.yml",
        &format!(
            "- block:\n    - set_fact:\n{fact_vars}    - debug:\n        msg: \"{}\"\n      vars:\n{}  vars:\n{}",
            msg.join(","),
            (9..=11).map(|n| format!("        p{n}: task_vars\n")).collect::<String>(),
            (8..=11).map(|n| format!("    p{n}: block_vars\n")).collect::<String>(),
        ),
    );
    p.file(
        "site.yml",
        &format!(
            "- hosts: nodes\n  gather_facts: false\n  vars_files: [vf.yml]\n  vars:\n{}  roles: [r]\n",
            (5..=11).map(|n| format!("    p{n}: play_vars\n")).collect::<String>()
        ),
    );
    p.file("hosts", &local_inventory(&["h1"]));
    let mut o = opts();
    o.extra_vars.insert("p11".into(), json!("extra_vars"));
    let (events, report) = p.run("site.yml", "hosts", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let msgs = debug_msgs(&events, "h1");
    let got: Vec<&str> = msgs.last().unwrap().as_str().unwrap().split(',').collect();
    assert_eq!(got, levels.to_vec());
}

#[test]
fn handlers_run_in_definition_order_once_and_on_flush() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: no
  tasks:
    - name: change b
      command: "true"
      notify: [hb, ha]
    - name: change a again
      command: "true"
      notify: ha
    - name: only h2
      command: "true"
      notify: topic
      when: inventory_hostname == 'h2'
    - meta: flush_handlers
    - name: after flush
      debug: msg=after
  handlers:
    - name: ha
      debug: msg=ha
    - name: hb
      debug: msg=hb
    - name: listener
      debug: msg=listened
      listen: topic
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0);
    let starts = task_starts(&events);
    // `meta: flush_handlers` starts once per host, as in Ansible's linear strategy.
    assert_eq!(
        starts,
        vec![
            "change b",
            "change a again",
            "only h2",
            // ansible-playbook shows an explicit flush_handlers once per host.
            "meta",
            "meta",
            "ha",
            "hb",
            "listener",
            "after flush"
        ]
    );
    assert_eq!(
        debug_msgs(&events, "h1"),
        vec![json!("ha"), json!("hb"), json!("after")]
    );
    assert_eq!(
        debug_msgs(&events, "h2"),
        vec![json!("ha"), json!("hb"), json!("listened"), json!("after")]
    );
}

#[test]
fn block_rescue_always() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - block:
        - command: "false"
          when: inventory_hostname == 'h1'
        - debug: msg=block-end
      rescue:
        - debug: msg=rescued
      always:
        - debug: msg=always
    - block:
        - fail: msg=boom
          when: inventory_hostname == 'h2'
      always:
        - debug: msg=always2
    - debug: msg=after
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(
        debug_msgs(&events, "h1"),
        vec![
            json!("rescued"),
            json!("always"),
            json!("always2"),
            json!("after")
        ]
    );
    assert_eq!(
        debug_msgs(&events, "h2"),
        vec![
            json!("block-end"),
            json!("always"),
            json!("boom"),
            json!("always2")
        ]
    );
    let stats: std::collections::HashMap<_, _> = report.stats.iter().cloned().collect();
    assert_eq!(stats["h1"].rescued, 1);
    assert_eq!(stats["h1"].failed, 0);
    assert_eq!(stats["h2"].failed, 1);
    assert_eq!(report.exit_code, 2);
}

#[test]
fn loop_register_has_results_list() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - command: "echo {{ item }}"
      loop: [a, b]
      register: out
    - debug:
        msg: "{{ out.results | map(attribute='stdout') | list }}"
    - debug:
        msg: "{{ out.changed }} {{ out.results | length }} {{ out.results[0].item }}"
    - debug: msg="{{ idx }}={{ x }}"
      loop: "{{ ['p', 'q'] }}"
      loop_control: {loop_var: x, index_var: idx}
    - debug: msg="{{ item.key }}:{{ item.value }}"
      with_dict: {k: v}
    - debug: msg="{{ item }}"
      with_sequence: start=1 end=2 format=n%02d
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let msgs = debug_msgs(&events, "h1");
    assert_eq!(
        msgs,
        vec![
            json!(["a", "b"]),
            json!("True 2 a"),
            json!("0=p"),
            json!("1=q"),
            json!("k:v"),
            json!("n01"),
            json!("n02")
        ]
    );
}

#[test]
fn serial_runs_batches_through_the_whole_play() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2", "h3", "h4", "h5"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  serial: [1, '50%']\n  tasks:\n    - debug: msg=one\n    - debug: msg=two\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0);
    let order: Vec<(String, String)> = results(&events)
        .into_iter()
        .map(|(t, h, _)| (h, t))
        .collect();
    let hosts_in_order: Vec<&str> = order.iter().map(|(h, _)| h.as_str()).collect();
    // batch sizes 1, 2, 2: each batch finishes both tasks before the next starts
    assert_eq!(
        hosts_in_order,
        vec!["h1", "h1", "h2", "h3", "h2", "h3", "h4", "h5", "h4", "h5"]
    );
}

#[test]
fn a_failed_host_drops_out_and_the_others_go_on() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2", "h3"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n      when: inventory_hostname == 'h2'\n    - debug: msg=next\n- hosts: nodes\n  gather_facts: false\n  tasks:\n    - debug: msg=second-play\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 2);
    assert_eq!(
        debug_msgs(&events, "h1"),
        vec![json!("next"), json!("second-play")]
    );
    assert!(debug_msgs(&events, "h2").is_empty());
    let stats: std::collections::HashMap<_, _> = report.stats.iter().cloned().collect();
    assert_eq!(stats["h2"].failed, 1);
    assert_eq!(stats["h3"].ok, 2);
}

#[test]
fn ignore_errors_and_failed_when_and_changed_when() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - command: /bin/false
      ignore_errors: yes
    - command: echo hello
      register: r
      changed_when: false
      failed_when: "'hello' not in r.stdout"
    - shell: exit 3
      register: r3
      failed_when: r3.rc not in [0, 3]
      changed_when: r3.rc == 3
    - debug: msg="{{ r.changed }} {{ r3.rc }}"
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let r = results(&events);
    assert_eq!(r[0].2, Status::Failed);
    assert_eq!(r[1].2, Status::Ok);
    assert_eq!(r[2].2, Status::Changed);
    assert_eq!(debug_msgs(&events, "h1").last().unwrap(), &json!("False 3"));
    let stats = &report.stats[0].1;
    // The ignored /bin/false reported changed (command always does), and Ansible counts
    // an ignored failure's change in the recap (conformance case modules/command_rc_fails).
    assert_eq!((stats.ignored, stats.failed, stats.changed), (1, 0, 2));
}

#[test]
fn tags_select_tasks() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - {debug: {msg: a}, tags: [a]}\n    - {debug: {msg: b}, tags: b}\n    - {debug: {msg: always}, tags: always}\n    - {debug: {msg: never}, tags: [never, n]}\n    - debug: msg=untagged\n",
    );
    let run = |tags: &[&str], skip: &[&str]| {
        let o = RunOptions {
            tags: tags.iter().map(|s| s.to_string()).collect(),
            skip_tags: skip.iter().map(|s| s.to_string()).collect(),
            ..opts()
        };
        let (events, _) = p.run("site.yml", "hosts", o).unwrap();
        debug_msgs(&events, "h1")
            .into_iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[], &[]), vec!["a", "b", "always", "untagged"]);
    assert_eq!(run(&["a"], &[]), vec!["a", "always"]);
    assert_eq!(run(&["n"], &[]), vec!["always", "never"]);
    assert_eq!(run(&[], &["b", "always"]), vec!["a", "untagged"]);
    assert_eq!(run(&["untagged"], &[]), vec!["always", "untagged"]);
}

#[test]
fn includes_imports_and_role_dependencies() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "roles/base/tasks/main.yml",
        "- debug: msg=\"base {{ base_x }}\"\n",
    );
    p.file("roles/base/defaults/main.yml", "base_x: 1\n");
    p.file(
        "roles/app/meta/main.yml",
        "dependencies:\n  - role: base\n    base_x: 2\n",
    );
    p.file(
        "roles/app/tasks/main.yml",
        "- debug: msg=\"app {{ role_name }}\"\n- include_tasks: extra.yml\n  loop: [x, y]\n",
    );
    p.file(
        "roles/app/tasks/extra.yml",
        "- debug: msg=\"extra {{ item }}\"\n",
    );
    p.file("more.yml", "- debug: msg=\"imported {{ who }}\"\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  roles: [app]\n  tasks:\n    - import_tasks: more.yml\n      vars: {who: me}\n    - include_role: {name: base}\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let msgs: Vec<String> = debug_msgs(&events, "h1")
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        msgs,
        vec![
            "base 2",
            "app app",
            "extra x",
            "extra y",
            "imported me",
            "base 1"
        ]
    );
}

/// A host's result carries the name of the task header it belongs to: an `include_role`
/// inside a role is named by its `name:` alone (ansible-core's `IncludeRole.get_name`),
/// header and results alike, whether it runs, is skipped or is unnamed.
#[test]
fn include_role_results_carry_their_headers_name() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file("roles/inner/tasks/main.yml", "- debug: msg=inner\n");
    p.file(
        "roles/outer/tasks/main.yml",
        "- name: Bring inner in\n  include_role: {name: inner}\n  when: inventory_hostname == 'h1'\n\
         - include_role: {name: inner}\n  when: false\n- name: Some {{ 'templated' }} include\n  include_role: {name: inner}\n",
    );
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  roles: [outer]\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let mut header = None;
    let mut seen = Vec::new();
    for e in &events {
        match e {
            Event::TaskStart { name, .. } => header = Some(name.clone()),
            Event::HostResult { task, host, .. } => {
                assert_eq!(Some(task), header.as_ref(), "{host}: {events:#?}");
                seen.push(format!("{host} {task}"));
            }
            _ => {}
        }
    }
    for want in [
        "h1 Bring inner in",
        "h2 Bring inner in",
        "h1 include_role : inner",
        "h1 Some templated include",
    ] {
        assert!(seen.iter().any(|s| s == want), "{want:?} not in {seen:#?}");
    }
}

#[test]
fn check_mode_runs_no_commands() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let marker = p.path().join("marker");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: touch {}\n",
            marker.display()
        ),
    );
    let (events, _) = p
        .run(
            "site.yml",
            "hosts",
            RunOptions {
                check: true,
                ..opts()
            },
        )
        .unwrap();
    assert!(!marker.exists());
    assert!(matches!(
        results(&events)[0].2,
        Status::Skipped | Status::Changed
    ));
    let (_, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0);
    assert!(marker.exists());
}

/// Check mode before the first deploy: what an earlier task would create is not there, and
/// the plan says so instead of failing; with nothing changed before, a missing thing is an
/// error as in a real run. A command skipped in check mode has no output for changed_when.
#[test]
fn check_mode_plans_what_earlier_changes_would_create() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let d = p.path().join("remote");
    let play = |first: &str| {
        format!(
            "- hosts: all
  gather_facts: false
  tasks:
{first}
    - name: make it
      command: touch {d}/made
      register: made
      changed_when: made.stdout is search('x')
    - name: link it
      file: {{src: '{d}/made', dest: '{d}/link', state: link}}
    - name: fetch it
      fetch: {{src: '{d}/made', dest: '{out}/', flat: true}}
",
            d = d.display(),
            out = p.path().join("out").display()
        )
    };
    let check = || RunOptions {
        check: true,
        ..opts()
    };
    p.file(
        "site.yml",
        &play(&format!(
            "    - copy: {{content: x, dest: '{}/conf'}}",
            d.display()
        )),
    );
    let (events, report) = p.run("site.yml", "hosts", check()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let r = results(&events);
    let status = |task: &str| r.iter().find(|x| x.0 == task).map(|x| x.2);
    assert_eq!(status("make it"), Some(Status::Skipped), "{r:?}");
    assert_eq!(status("link it"), Some(Status::Changed), "{r:?}");
    assert_eq!(status("fetch it"), Some(Status::Changed), "{r:?}");
    assert!(!d.exists(), "check mode wrote on the host");
    // Nothing would change before the link: its missing source is an error.
    p.file("site.yml", &play("    - debug: {msg: first}"));
    std::fs::create_dir_all(&d).unwrap();
    let (events, report) = p.run("site.yml", "hosts", check()).unwrap();
    assert_eq!(report.exit_code, 2, "{events:#?}");
    let r = results(&events);
    assert_eq!(
        r.iter().find(|x| x.0 == "link it").map(|x| x.2),
        Some(Status::Failed),
        "{r:?}"
    );
}

#[test]
fn unreachable_host_gives_exit_4_and_others_continue() {
    let p = Project::new();
    p.file(
        "hosts",
        "[nodes]\nh1 ansible_connection=local\ndown ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_timeout=2 ansible_host_key_checking=false\n",
    );
    p.file("site.yml", "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - command: echo hi\n    - debug: msg=after\n");
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 4, "{events:#?}");
    let stats: std::collections::HashMap<_, _> = report.stats.iter().cloned().collect();
    assert_eq!(stats["down"].unreachable, 1);
    assert_eq!(debug_msgs(&events, "h1"), vec![json!("after")]);
    assert!(events.iter().any(|e| matches!(e, Event::HostResult { host, status: Status::Unreachable, .. } if host == "down")));
}

#[test]
fn until_retries_and_run_once_and_delegate() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    let counter = p.path().join("count");
    p.file(
        "site.yml",
        &format!(
            r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - shell: "echo x >> {c}; wc -l < {c}"
      register: n
      until: n.stdout | int >= 3
      retries: 5
      delay: 0
      run_once: true
    - debug: msg="{{{{ n.attempts }}}}"
    - command: echo delegated
      delegate_to: localhost
      register: d
    - debug: msg="{{{{ d.stdout }}}}"
"#,
            c = counter.display()
        ),
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(
        debug_msgs(&events, "h2"),
        vec![json!(3), json!("delegated")]
    );
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        3
    );
}

#[test]
fn free_strategy_lets_hosts_run_ahead() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  strategy: free\n  tasks:\n    - shell: \"{{ 'sleep 0.3' if inventory_hostname == 'h1' else 'true' }}\"\n    - debug: msg=done\n",
    );
    let (events, report) = p
        .run("site.yml", "hosts", RunOptions { forks: 5, ..opts() })
        .unwrap();
    assert_eq!(report.exit_code, 0);
    let order: Vec<(String, String)> = results(&events)
        .into_iter()
        .map(|(t, h, _)| (h, t))
        .collect();
    // h2 finishes both tasks before the slow h1 finishes its first.
    let h2_done = order
        .iter()
        .position(|(h, t)| h == "h2" && t == "debug")
        .unwrap();
    let h1_first = order.iter().position(|(h, _)| h == "h1").unwrap();
    assert!(h2_done < h1_first, "{order:?}");
}

#[test]
fn any_errors_fatal_and_max_fail_percentage_stop_the_play() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2", "h3", "h4"]));
    p.file(
        "fatal.yml",
        "- hosts: nodes\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'h1'\n    - debug: msg=after\n",
    );
    let (events, report) = p.run("fatal.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 2);
    assert!(debug_msgs(&events, "h2").is_empty(), "{events:#?}");
    p.file(
        "pct.yml",
        "- hosts: nodes\n  gather_facts: false\n  serial: 2\n  max_fail_percentage: 49\n  tasks:\n    - fail: msg=x\n      when: inventory_hostname == 'h1'\n    - debug: msg=after\n",
    );
    let (events, report) = p.run("pct.yml", "hosts", opts()).unwrap();
    // 1 of 2 failed at the first task of the first batch (50% > 49%): as Ansible's linear
    // strategy, the play stops right there — h2 does not run the next task, and the second
    // batch never runs.
    assert_eq!(report.exit_code, 2);
    assert!(debug_msgs(&events, "h3").is_empty(), "{events:#?}");
    assert!(debug_msgs(&events, "h2").is_empty(), "{events:#?}");
    assert!(events.iter().any(|e| matches!(e, Event::NoHostsRemaining)));
    // Exactly at the limit (50% is not above 50) the play goes on, and a failure a
    // `rescue` handles does not count.
    p.file(
        "pct50.yml",
        "- hosts: nodes\n  gather_facts: false\n  serial: 2\n  max_fail_percentage: 50\n  tasks:\n    - block:\n        - fail: msg=rescued\n      rescue:\n        - debug: msg=in-rescue\n    - fail: msg=x\n      when: inventory_hostname in ['h1', 'h3']\n    - debug: msg=after\n",
    );
    let (events, _) = p.run("pct50.yml", "hosts", opts()).unwrap();
    for h in ["h2", "h4"] {
        assert_eq!(
            debug_msgs(&events, h),
            vec![
                json!("rescued"),
                json!("in-rescue"),
                json!("x"),
                json!("after")
            ]
            .into_iter()
            .filter(|m| m != "x")
            .collect::<Vec<_>>(),
            "{h}: {events:#?}"
        );
    }
}

#[test]
fn hostvars_environment_limit_start_at_and_end_host() {
    let p = Project::new();
    p.file(
        "hosts",
        &format!(
            "{}\n[nodes:vars]\ncolor=blue\n",
            local_inventory(&["h1", "h2", "h3"])
        ),
    );
    p.file("host_vars/h2.yml", "color: red\n");
    p.file(
        "site.yml",
        r#"
- import_playbook: first.yml
- hosts: nodes
  gather_facts: false
  tasks:
    - name: skipped by start-at
      debug: msg=early
    - name: begin
      debug: msg="{{ hostvars['h2'].color }} {{ groups['nodes'] | length }} {{ ansible_play_hosts | length }}"
    - shell: echo $WL_X
      environment: {WL_X: "from-env"}
      register: envout
    - debug: msg="{{ envout.stdout }}"
    - meta: end_host
      when: inventory_hostname == 'h1'
    - debug: msg=last
"#,
    );
    p.file("first.yml", "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - name: in first\n      debug: msg=first\n");
    let o = RunOptions {
        limit: Some("h1:h2".into()),
        start_at_task: Some("begin".into()),
        ..opts()
    };
    let (events, report) = p.run("site.yml", "hosts", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(
        debug_msgs(&events, "h1"),
        vec![json!("red 3 2"), json!("from-env")]
    );
    assert_eq!(
        debug_msgs(&events, "h2"),
        vec![json!("red 3 2"), json!("from-env"), json!("last")]
    );
    assert!(debug_msgs(&events, "h3").is_empty());
}

#[test]
fn multi_line_templates_that_render_a_list_become_a_list() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars:\n    names: [a, b]\n    built: >-\n      {% if true %}[{% for n in names %}'{{ n }}1', {% endfor %}]{% endif %}\n  tasks:\n    - debug: msg=\"{{ built | length }} {{ built[1] }}\"\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(debug_msgs(&events, "h1"), vec![json!("2 b1")]);
}

#[test]
fn a_failed_run_once_task_fails_the_batch() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: /bin/false\n      run_once: true\n    - debug: msg=after\n");
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 2);
    assert!(debug_msgs(&events, "h2").is_empty());
}

/// What a [`Recording`] saw: (host, command line, stdin).
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// Records every command line (and its stdin) per host instead of running it; `sudo -n`
/// probes fail, so a become password is asked for.
#[derive(Default)]
struct Recording {
    seen: Seen,
}

struct RecordingTransport {
    host: String,
    seen: Seen,
}

#[async_trait::async_trait]
impl Transport for RecordingTransport {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let line = cmd.to_shell();
        let rc = if line.starts_with("sudo -n") { 1 } else { 0 };
        self.seen.lock().unwrap().push((
            self.host.clone(),
            line,
            cmd.stdin.clone().unwrap_or_default(),
        ));
        Ok(ExecOutput {
            rc,
            stdout: Vec::new(),
            stderr: Vec::new(),
        })
    }
}

impl Connector for Recording {
    fn connect(&self, spec: &ConnectionSpec) -> Arc<dyn Transport> {
        Arc::new(RecordingTransport {
            host: spec.inventory_hostname.clone(),
            seen: self.seen.clone(),
        })
    }
}

#[test]
fn become_connection_variables_beat_become_keywords() {
    let p = Project::new();
    p.file(
        "hosts",
        "[nodes]\n\
         h1 ansible_connection=local ansible_become=true ansible_become_user=app ansible_become_flags='-E'\n\
         h2 ansible_connection=local ansible_become_user=var_user\n\
         h3 ansible_connection=local ansible_become=false\n\
         h4 ansible_connection=local ansible_become_method=su\n\
         h5 ansible_connection=local ansible_become_password=S3CRET-pw\n\
         h6 ansible_connection=local\n",
    );
    // The play asks for become as `kw_user`; h1..h5 override parts of it by variable.
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  become: true\n  become_user: kw_user\n  tasks:\n    - command: id -un\n    - command: id -un\n      become: false\n      when: inventory_hostname == 'h6'\n",
    );
    let rec = Arc::new(Recording::default());
    let (events, report) = p
        .run_with("site.yml", "hosts", opts(), rec.clone())
        .unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let seen = rec.seen.lock().unwrap().clone();
    let lines = |h: &str| -> Vec<String> {
        seen.iter()
            .filter(|(host, line, _)| host == h && line.contains("id -un"))
            .map(|(_, l, _)| l.clone())
            .collect()
    };
    assert!(
        lines("h1")[0].starts_with("sudo -H -n -E -u app -- "),
        "{:?}",
        lines("h1")
    );
    assert!(
        lines("h2")[0].starts_with("sudo -H -n -u var_user -- "),
        "{:?}",
        lines("h2")
    );
    assert_eq!(lines("h3"), vec!["id -un".to_string()]);
    assert!(
        lines("h4")[0].starts_with("su kw_user -c "),
        "{:?}",
        lines("h4")
    );
    assert!(
        lines("h5")[0].starts_with("sudo -H -S -p "),
        "{:?}",
        lines("h5")
    );
    assert!(lines("h6")[0].starts_with("sudo -H -n -u kw_user -- "));
    assert_eq!(lines("h6")[1], "id -un", "the task keyword turns it off");
    // The password went to sudo's stdin only: never on a command line, never in events.
    let (_, _, stdin) = seen
        .iter()
        .find(|(h, l, _)| h == "h5" && l.contains("id -un"))
        .unwrap();
    assert_eq!(stdin, b"S3CRET-pw\n");
    assert!(
        seen.iter().all(|(_, l, _)| !l.contains("S3CRET")),
        "{seen:?}"
    );
    assert!(!format!("{events:?}").contains("S3CRET"));
}

/// A shell task that records how many hosts run it at the same moment: each host creates
/// `dir/run.<host>`, counts the entries, waits, and removes its own.
fn concurrency_task(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "    - shell: \"mkdir {d}/run.{{{{ inventory_hostname }}}} && ls {d} | grep -c '^run' >> {d}/counts.{{{{ inventory_hostname }}}}; sleep 0.2; rmdir {d}/run.{{{{ inventory_hostname }}}}\"\n{extra}",
        d = dir.display()
    )
}

fn max_concurrency(dir: &std::path::Path) -> usize {
    let mut max = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("counts.") {
            for l in std::fs::read_to_string(e.path()).unwrap().lines() {
                max = max.max(l.trim().parse::<usize>().unwrap());
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    max
}

/// `--forks` bounds how many hosts run a task at once, and `throttle` (literal or
/// templated) lowers it for its task.
fn check_forks_and_throttle(strategy: &str) {
    let p = Project::new();
    let dir = p.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    p.file("hosts", &local_inventory(&["h1", "h2", "h3"]));
    p.file(
        "site.yml",
        &format!(
            "- hosts: nodes\n  gather_facts: false\n  strategy: {strategy}\n  tasks:\n{}",
            concurrency_task(&dir, ""),
        ),
    );
    for (forks, want) in [(1, 1), (2, 2), (10, 3)] {
        let (events, report) = p
            .run("site.yml", "hosts", RunOptions { forks, ..opts() })
            .unwrap();
        assert_eq!(report.exit_code, 0, "{events:#?}");
        assert_eq!(
            max_concurrency(&dir),
            want,
            "{strategy} with --forks {forks}"
        );
    }
    for throttle in ["1", "\"{{ one }}\""] {
        p.file(
            "site.yml",
            &format!(
                "- hosts: nodes\n  gather_facts: false\n  strategy: {strategy}\n  vars:\n    one: 1\n  tasks:\n{}",
                concurrency_task(&dir, &format!("      throttle: {throttle}\n")),
            ),
        );
        let (events, report) = p
            .run(
                "site.yml",
                "hosts",
                RunOptions {
                    forks: 10,
                    ..opts()
                },
            )
            .unwrap();
        assert_eq!(report.exit_code, 0, "{events:#?}");
        assert_eq!(max_concurrency(&dir), 1, "{strategy} throttle {throttle}");
    }
}

#[test]
fn forks_and_throttle_bound_the_linear_strategy() {
    check_forks_and_throttle("linear");
}

#[test]
fn forks_and_throttle_bound_the_free_strategy() {
    check_forks_and_throttle("free");
}

#[test]
fn throttle_must_be_a_whole_number() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "bad.yml",
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n      throttle: lots\n",
    );
    let err = p.run("bad.yml", "hosts", opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("`throttle` must be a whole number"),
        "{err}"
    );
    let loc = err.loc().unwrap();
    assert!(loc.file.ends_with("bad.yml") && loc.line == 5, "{loc:?}");
    p.file(
        "tmpl.yml",
        "- hosts: nodes\n  gather_facts: false\n  vars:\n    n: many\n  tasks:\n    - debug: msg=x\n      throttle: \"{{ n }}\"\n",
    );
    let err = p.run("tmpl.yml", "hosts", opts()).unwrap_err().to_string();
    assert!(
        err.contains("`throttle` must be a whole number, found \"many\""),
        "{err}"
    );
}

#[test]
fn debug_verbosity_hides_messages_below_the_run_verbosity() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - debug: msg=always\n    - debug:\n        msg: at-v\n        verbosity: 1\n    - debug:\n        msg: at-vv\n        verbosity: \"2\"\n",
    );
    for (v, want) in [
        (0, vec!["always"]),
        (1, vec!["always", "at-v"]),
        (2, vec!["always", "at-v", "at-vv"]),
    ] {
        let (events, report) = p
            .run(
                "site.yml",
                "hosts",
                RunOptions {
                    verbosity: v,
                    ..opts()
                },
            )
            .unwrap();
        assert_eq!(report.exit_code, 0);
        assert_eq!(debug_msgs(&events, "h1"), want, "-v x{v}");
        let skipped = results(&events)
            .iter()
            .filter(|(_, _, s)| *s == Status::Skipped)
            .count();
        assert_eq!(skipped, 3 - want.len());
    }
}

#[test]
fn with_items_flattens_one_level_and_with_together_zips() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  vars:
    nested: [[a, b], c, [[d]]]
  tasks:
    - debug: msg="{{ item }}"
      with_items: "{{ nested }}"
    - debug: msg="{{ item.0 }}={{ item.1 }}"
      with_together:
        - [x, y, z]
        - [1, 2]
    - debug: msg="{{ item.name }}"
      loop: [{name: one, secret: s1}, {name: two, secret: s2}]
      loop_control:
        label: "{{ item.name }}"
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(
        debug_msgs(&events, "h1"),
        vec![
            json!("a"),
            json!("b"),
            json!("c"),
            json!(["d"]),
            json!("x=1"),
            json!("y=2"),
            json!("z="),
            json!("one"),
            json!("two"),
        ]
    );
    // loop_control.label is what the output shows for an item.
    let labels: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                item: Some(i),
                task,
                ..
            } if task == "debug" => Some(i.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(&labels[labels.len() - 2..], &[json!("one"), json!("two")]);
}

#[test]
fn magic_variables_and_play_batches() {
    let p = Project::new();
    p.file(
        "hosts",
        "[nodes]\nweb1.example.com ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\n",
    );
    p.file(
        "pb/site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  serial: 2
  roles: [r]
  tasks:
    - debug: msg="{{ inventory_hostname_short }}"
    - fail: msg=down
      when: inventory_hostname == 'h2'
    - debug: msg="{{ ansible_play_batch | join(',') }}|{{ play_hosts | join(',') }}|{{ ansible_play_hosts | join(',') }}|{{ ansible_play_hosts_all | length }}"
    - debug: msg="{{ playbook_dir }}"
"#,
    );
    p.file(
        "pb/roles/r/tasks/main.yml",
        "- debug: msg=\"{{ role_path | basename }}\"\n",
    );
    let (events, report) = p.run("pb/site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 2, "{events:#?}");
    let pb_dir = json!(p.path().join("pb").display().to_string());
    assert_eq!(
        debug_msgs(&events, "web1.example.com"),
        vec![
            json!("r"),
            json!("web1"),
            json!("web1.example.com|web1.example.com|web1.example.com,h3|3"),
            pb_dir.clone(),
        ]
    );
    assert_eq!(
        debug_msgs(&events, "h3"),
        vec![
            json!("r"),
            json!("h3"),
            json!("h3|h3|web1.example.com,h3|3"),
            pb_dir
        ]
    );
}

#[test]
fn omit_is_removed_from_arguments_and_nested_mappings_only() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - debug:
        msg:
          kept: 1
          dropped: "{{ omit }}"
          deeper: [{gone: "{{ omit }}", here: 2}]
    - debug:
        msg: "{{ undefined_thing | default(omit) }}"
    - debug:
        msg: ["{{ omit }}"]
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let msgs = debug_msgs(&events, "h1");
    assert_eq!(msgs[0], json!({"kept": 1, "deeper": [{"here": 2}]}));
    // An omitted `msg` is as if it was not given.
    assert_eq!(msgs[1], json!("Hello world!"));
    // A list item that is `omit` stays (Ansible removes mapping entries only).
    assert!(
        msgs[2][0]
            .as_str()
            .unwrap()
            .starts_with("__omit_place_holder__"),
        "{msgs:?}"
    );
}

#[test]
fn ignore_unreachable_keeps_the_host_in_the_play_for_the_next_task_only() {
    // `ghost` refuses connections at once (nothing listens on port 1), so it is unreachable.
    let p = Project::new();
    p.file(
        "hosts",
        "[nodes]\nh1 ansible_connection=local\nghost ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_retries=0 ansible_ssh_timeout=2\n",
    );
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - name: first
      command: 'true'
      ignore_unreachable: true
    - name: second
      command: 'true'
    - name: third
      command: 'true'
"#,
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    let on = |host: &str| -> Vec<(String, Status)> {
        results(&events)
            .into_iter()
            .filter(|(_, h, _)| h == host)
            .map(|(t, _, s)| (t, s))
            .collect()
    };
    // As Ansible: the ignored unreachable result keeps ghost in the play, so `second` is
    // attempted there too; its unreachable result is not ignored and ends the play for it.
    assert_eq!(
        on("ghost"),
        vec![
            ("first".to_string(), Status::Unreachable),
            ("second".to_string(), Status::Unreachable),
        ],
        "{events:#?}"
    );
    assert_eq!(on("h1").len(), 3, "{events:#?}");
    assert_eq!(
        report.exit_code,
        windlass::exit::HOST_UNREACHABLE,
        "{events:#?}"
    );
}

/// Facts are gathered once per host per run: a later play reuses them unless it asks for
/// a subset not gathered yet; an explicit `setup` task gathers again.
#[test]
fn facts_are_gathered_once_per_run_unless_a_new_subset_is_asked_for() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_subset: [min]\n  tasks:\n    - debug: msg=\"{{ ansible_facts.gather_subset | join(',') }}\"\n\
         - hosts: nodes\n  tasks:\n    - debug: msg=\"{{ ansible_memtotal_mb > 0 }}\"\n\
         - hosts: nodes\n  tasks:\n    - debug: msg=third\n\
         - hosts: nodes\n  gather_subset: '!all,network'\n  tasks:\n    - setup: {gather_subset: [min]}\n    - meta: clear_facts\n\
         - hosts: nodes\n  tasks:\n    - debug: msg=\"{{ ansible_distribution is defined }}\"\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    // Which play gathered on which host: play 1 (min), play 2 (all: hardware is new),
    // play 4's explicit setup, play 5 (after clear_facts). Plays 3 and 4 reuse the cache.
    let mut play = 0;
    let mut gathered = Vec::new();
    let mut task = (String::new(), String::new());
    for e in &events {
        match e {
            Event::PlayStart { .. } => play += 1,
            Event::TaskStart { name, action, .. } => task = (name.clone(), action.clone()),
            // the play's gathering is the gather_facts action, an explicit task `setup`
            Event::HostResult { host, .. }
                if task.1.ends_with("setup") || task.1.ends_with("gather_facts") =>
            {
                gathered.push((play, host.clone(), task.0.clone()));
            }
            _ => {}
        }
    }
    let want: Vec<(i32, String, String)> = [
        (1, "Gathering Facts"),
        (2, "Gathering Facts"),
        (4, "setup"),
        (5, "Gathering Facts"),
    ]
    .iter()
    .flat_map(|(p, t)| ["h1", "h2"].map(|h| (*p, h.to_string(), t.to_string())))
    .collect();
    let mut got: Vec<(i32, String, String)> = gathered
        .into_iter()
        .map(|(p, h, t)| {
            (
                p,
                h,
                if t == "Gathering Facts" {
                    t
                } else {
                    "setup".into()
                },
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want, "{events:#?}");
    let msgs = debug_msgs(&events, "h1");
    assert_eq!(
        msgs,
        vec![json!("min"), json!(true), json!("third"), json!(true)]
    );
}

#[test]
fn a_bad_play_gather_subset_is_a_located_error() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_subset: [hardwear]\n  tasks:\n    - debug: msg=x\n",
    );
    let err = p.run("site.yml", "hosts", opts()).unwrap_err();
    let loc = err.loc().expect("a located error").clone();
    assert!(err.to_string().contains("hardwear"), "{err}");
    assert_eq!(
        (loc.file.ends_with("site.yml"), loc.line),
        (true, 2),
        "{err}"
    );
}

/// The result of `task` on `host`.
fn result_of<'a>(
    events: &'a [Event],
    task: &str,
) -> (&'a serde_json::Map<String, serde_json::Value>, Status) {
    events
        .iter()
        .find_map(|e| match e {
            Event::HostResult {
                task: t,
                result,
                status,
                ..
            } if t == task => Some((result, *status)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no result for {task}: {events:#?}"))
}

fn mode_and_entries(dir: &std::path::Path) -> (u32, usize) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .permissions()
        .mode()
        & 0o777;
    (mode, std::fs::read_dir(dir).unwrap().count())
}

#[test]
fn scratch_files_live_under_remote_tmp_and_go_away() {
    let p = Project::new();
    let base = p.path().join("remote");
    std::fs::create_dir_all(base.join("dest")).unwrap();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "files/where.sh",
        "#!/bin/sh\nprintf '%s|%s' \"$1\" \"$(dirname \"$0\")\"\n",
    );
    p.file("files/fail.sh", "#!/bin/sh\necho no >&2\nexit 3\n");
    std::fs::create_dir_all(p.path().join("stage/tool")).unwrap();
    std::fs::write(p.path().join("stage/tool/a.txt"), "a\n").unwrap();
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(p.path().join("stage"))
        .arg("-czf")
        .arg(p.path().join("files/tool.tgz"))
        .arg("tool")
        .status()
        .unwrap();
    assert!(st.success());
    // The host's `ansible_remote_tmp` (templated) wins over the configuration's remote_tmp.
    p.file(
        "site.yml",
        r#"
- hosts: nodes
  gather_facts: false
  vars:
    ansible_remote_tmp: "{{ rt_base }}/it's tmp"
  tasks:
    - name: where
      script: where.sh "two words"
    - name: fails
      script: fail.sh
      ignore_errors: true
    - name: unpack
      unarchive: {src: tool.tgz, dest: "{{ rt_base }}/dest"}
"#,
    );
    let rt = base.join("it's tmp");
    let cfg_rt = base.join("from config");
    let mut o = opts();
    o.extra_vars
        .insert("rt_base".into(), json!(base.to_str().unwrap()));
    o.remote_tmp = Some(cfg_rt.to_str().unwrap().to_string());
    let (events, report) = p.run("site.yml", "hosts", o.clone()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let (r, status) = result_of(&events, "where");
    assert_eq!(status, Status::Changed, "{r:?}");
    let out = r["stdout"].as_str().unwrap();
    let prefix = format!("two words|{}/windlass.", rt.display());
    assert!(
        out.starts_with(&prefix),
        "{out:?} should start with {prefix:?}"
    );
    let (r, status) = result_of(&events, "fails");
    assert_eq!(
        (status, r["rc"].clone()),
        (Status::Failed, json!(3)),
        "{r:?}"
    );
    assert_eq!(result_of(&events, "unpack").1, Status::Changed);
    assert_eq!(
        std::fs::read_to_string(base.join("dest/tool/a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        mode_and_entries(&rt),
        (0o700, 0),
        "the base is private and empty after the run, also after a failed script"
    );
    assert!(!cfg_rt.exists(), "ansible_remote_tmp wins over remote_tmp");
    // Unpacked again: converged, the probe's scratch copy is gone too.
    let (events, report) = p.run("site.yml", "hosts", o.clone()).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    assert_eq!(result_of(&events, "unpack").1, Status::Ok);
    assert_eq!(mode_and_entries(&rt), (0o700, 0));

    // Without the variable, the configuration's remote_tmp; a relative one fails the task.
    p.file(
        "plain.yml",
        r#"
- hosts: nodes
  gather_facts: false
  tasks:
    - name: where
      script: where.sh x
    - name: relative
      script: where.sh y
      vars: {ansible_remote_tmp: tmp/rel}
      ignore_errors: true
"#,
    );
    let (events, report) = p.run("plain.yml", "hosts", o).unwrap();
    assert_eq!(report.exit_code, 0, "{events:#?}");
    let out = result_of(&events, "where").0["stdout"].as_str().unwrap();
    assert!(
        out.starts_with(&format!("x|{}/windlass.", cfg_rt.display())),
        "{out:?}"
    );
    assert_eq!(mode_and_entries(&cfg_rt), (0o700, 0));
    let (r, status) = result_of(&events, "relative");
    assert_eq!(status, Status::Failed);
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.contains("ansible_remote_tmp") && msg.contains("tmp/rel"),
        "{msg}"
    );
}

/// `meta: refresh_inventory` cannot re-read the sources (windlass reads them once): it says
/// so as a warning of the run, once per time it runs, instead of passing silently.
#[test]
fn refresh_inventory_warns_that_it_does_not_re_read() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "site.yml",
        "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - meta: refresh_inventory\n    - debug: msg=after\n",
    );
    let (events, report) = p.run("site.yml", "hosts", opts()).unwrap();
    assert_eq!(report.exit_code, 0);
    let warnings: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message } if message.contains("refresh_inventory") => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(debug_msgs(&events, "h2"), vec![json!("after")]);
}
