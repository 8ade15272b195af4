//! The `windlass` binary: subcommands, listing options, exit codes, configuration.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Project, local_inventory};

/// The binary in `dir`, cut off from the developer's setup: every `ANSIBLE_*` and
/// `WINDLASS_*` variable removed and `HOME` set to `home`, so no `~/.ansible.cfg` and no
/// exported setting can change what a test sees.
fn isolated(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_windlass"));
    common::clear_tool_env(&mut c);
    c.current_dir(dir).env("HOME", home).env("NO_COLOR", "1");
    c
}

fn windlass(dir: &Path, args: &[&str]) -> Output {
    windlass_env(dir, args, &[])
}

/// [`windlass`] with extra environment variables.
fn windlass_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    isolated(dir, home.path())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn run_prints_recap_and_exit_codes_follow_ansible() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file(
        "ok.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    p.file("fail.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: msg=no\n      when: inventory_hostname == 'h1'\n");
    let o = windlass(p.path(), &["run", "ok.yml", "-i", "hosts"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("PLAY RECAP"));
    let o = windlass(p.path(), &["run", "fail.yml", "-i", "hosts"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = windlass(p.path(), &["run", "ok.yml", "-i", "hosts", "--forks", "0"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    // A command line that does not parse: exit 2, as ansible-playbook's argparse.
    let o = windlass(p.path(), &["run", "ok.yml", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // A missing playbook: exit 1, as ansible-playbook ("the playbook: … could not be found").
    let o = windlass(p.path(), &["run", "missing.yml", "-i", "hosts"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn list_tasks_hosts_and_syntax_check_touch_nothing() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    let marker = p.path().join("touched");
    p.file("site.yml", &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: make marker\n      command: touch {}\n      tags: [mk]\n", marker.display()));
    let o = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--list-tasks"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains("make marker\tTAGS: [mk]"), "{}", text(&o));
    let o = windlass(
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "hosts",
            "--list-hosts",
            "--limit",
            "h2",
        ],
    );
    let t = text(&o);
    assert!(
        t.contains("hosts (1):") && t.contains("h2") && !t.contains("      h1"),
        "{t}"
    );
    let o = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--syntax-check"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(!marker.exists());
}

#[test]
fn jsonl_output_is_one_event_per_line() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    let o = windlass(
        p.path(),
        &[
            "run", "site.yml", "-i", "hosts", "--output", "jsonl", "-e", "x=1",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "run_start",
            "play_start",
            "task_start",
            "host_result",
            "run_end"
        ]
    );
}

#[test]
fn inventory_list_graph_and_host() {
    let p = Project::new();
    p.file(
        "hosts",
        "[web]\nw[1:2]\n[db]\nd1 x=1\n[prod:children]\nweb\ndb\n",
    );
    let o = windlass(p.path(), &["inventory", "-i", "hosts", "--graph"]);
    assert_eq!(o.status.code(), Some(0));
    let g = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(g.starts_with("@all:"), "{g}");
    assert!(g.contains("|--@prod:") && g.contains("|  |  |--w2"), "{g}");
    let o = windlass(p.path(), &["inventory", "-i", "hosts", "--list"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["web"]["hosts"], serde_json::json!(["w1", "w2"]));
    assert_eq!(v["_meta"]["hostvars"]["d1"]["x"], 1);
    let o = windlass(p.path(), &["inventory", "-i", "hosts", "--host", "d1"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["x"], 1);
}

#[test]
fn ping_reports_unreachable_with_exit_4() {
    let p = Project::new();
    p.file("hosts", "[x]\nlocal1 ansible_connection=local\ndown ansible_host=127.0.0.1 ansible_port=1 ansible_host_key_checking=false\n");
    let o = windlass(p.path(), &["ping", "-i", "hosts", "-T", "2"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(4), "{t}");
    assert!(
        t.contains("local1 | SUCCESS") && t.contains("down | UNREACHABLE"),
        "{t}"
    );
}

#[test]
fn completions_and_modules() {
    let p = Project::new();
    // Each shell gets its own script, one that shell recognises, with the subcommands in.
    for (shell, marker) in [
        ("bash", "complete -F _windlass"),
        ("zsh", "#compdef windlass"),
        ("fish", "complete -c windlass"),
    ] {
        let o = windlass(p.path(), &["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(
            script.contains(marker),
            "{shell}: no `{marker}` in:\n{script}"
        );
        assert!(
            script.contains("run") && script.contains("inventory") && script.contains("check"),
            "{shell}: subcommands or flags missing:\n{script}"
        );
    }
    // A value clap refuses: exit 2, as argparse's usage errors.
    let o = windlass(p.path(), &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = windlass(p.path(), &["modules"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("ansible.builtin.command"));
}

#[test]
fn config_file_supplies_defaults_and_the_cli_wins() {
    let p = Project::new();
    p.file("inv/hosts", &local_inventory(&["h1", "h2"]));
    p.file("other", &local_inventory(&["o1"]));
    p.file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=\"{{ inventory_hostname }}\"\n");
    p.file(
        "ansible.cfg",
        "[defaults]\ninventory = inv/hosts\nforks = 3\n[ssh_connection]\npipelining = True\n",
    );
    let o = windlass(p.path(), &["run", "site.yml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ok: [h1]") && t.contains("ok: [h2]"), "{t}");
    let o = windlass(p.path(), &["run", "site.yml", "-i", "other"]);
    assert!(text(&o).contains("ok: [o1]"));
    // windlass.toml is preferred over ansible.cfg and is checked strictly.
    p.file("windlass.toml", "[defaults]\nforkz = 3\n");
    let o = windlass(p.path(), &["run", "site.yml"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("unknown setting `forkz`") && t.contains("windlass.toml:2"),
        "{t}"
    );
}

#[test]
fn ctrl_c_lets_running_tasks_finish_starts_nothing_new_and_exits_130() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    let m = p.path().join("m");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 1.5; touch {m}-{{{{ inventory_hostname }}}}\n    - shell: touch {m}-never\n",
            m = m.display()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let child = isolated(p.path(), home.path())
        .args(["run", "site.yml", "-i", "hosts"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert!(
        p.path().join("m-h1").exists() && p.path().join("m-h2").exists(),
        "in-flight tasks were cut: {t}"
    );
    assert!(
        !p.path().join("m-never").exists(),
        "a new task started after Ctrl-C: {t}"
    );
    assert!(t.contains("PLAY RECAP"), "{t}");
}

#[test]
fn assert_idempotent_names_the_tasks_that_change_again() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let f = p.path().join("f");
    p.file(
        "good.yml",
        &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: make f\n      command: touch {f}\n      args:\n        creates: {f}\n", f = f.display()),
    );
    p.file("bad.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: always changes\n      command: 'true'\n");
    let o = windlass(
        p.path(),
        &["run", "good.yml", "-i", "hosts", "--assert-idempotent"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = windlass(
        p.path(),
        &["run", "bad.yml", "-i", "hosts", "--assert-idempotent"],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("NOT idempotent") && t.contains("[h1] always changes"),
        "{t}"
    );
}

#[test]
fn resume_skips_finished_tasks_restores_vars_and_fires_pending_handlers() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    let d = p.path().display().to_string();
    p.file(
        "site.yml",
        &format!(
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: count runs
      shell: echo x >> {d}/runs-{{{{ inventory_hostname }}}}; echo first-value
      register: first
      notify: bounce
    - name: fails until fixed
      command: test -e {d}/fixed
    - name: uses the registered value
      shell: echo "{{{{ first.stdout }}}}" > {d}/seen-{{{{ inventory_hostname }}}}
  handlers:
    - name: bounce
      shell: echo bounced >> {d}/handler-{{{{ inventory_hostname }}}}
"#
        ),
    );
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Ansible would lose the notification here; the journal keeps it.
    assert!(!p.path().join("handler-h1").exists());
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "still failing: {}", text(&o));
    std::fs::write(p.path().join("fixed"), "").unwrap();
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "--resume"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for h in ["h1", "h2"] {
        let runs = std::fs::read_to_string(p.path().join(format!("runs-{h}"))).unwrap();
        assert_eq!(
            runs.lines().count(),
            1,
            "the finished task ran again on {h}: {t}"
        );
        assert_eq!(
            std::fs::read_to_string(p.path().join(format!("seen-{h}")))
                .unwrap()
                .trim(),
            "first-value"
        );
        assert_eq!(
            std::fs::read_to_string(p.path().join(format!("handler-{h}")))
                .unwrap()
                .trim(),
            "bounced"
        );
    }
    // A finished run leaves nothing to resume.
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "--resume"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
}

/// How many of the two hosts ran the marked task at once: 1 (one after the other) or 2.
fn concurrency(p: &Project, run: &str, args: &[&str], env: &[(&str, &str)]) -> usize {
    let d = p.path().join("runs").join(run);
    std::fs::create_dir_all(&d).unwrap();
    let pb = format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: touch {d}/start-{{{{ inventory_hostname }}}}; sleep 1; ls {d} | grep -c '^start-' > {d}/seen-{{{{ inventory_hostname }}}}\n",
        d = d.display()
    );
    let playbook = format!("{run}.yml");
    p.file(&playbook, &pb);
    let mut all = vec!["run", playbook.as_str()];
    all.extend_from_slice(args);
    let o = windlass_env(p.path(), &all, env);
    assert_eq!(o.status.code(), Some(0), "{run}: {}", text(&o));
    ["h1", "h2"]
        .iter()
        .map(|h| {
            std::fs::read_to_string(d.join(format!("seen-{h}")))
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .min()
        .unwrap()
}

#[test]
fn forks_come_from_the_cli_then_the_environment_then_the_file() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    p.file("ansible.cfg", "[defaults]\ninventory = hosts\nforks = 1\n");
    // The file's forks = 1 is used (the default, 50, would run both hosts at once).
    assert_eq!(concurrency(&p, "file", &[], &[]), 1);
    // The environment wins over the file…
    assert_eq!(concurrency(&p, "env", &[], &[("ANSIBLE_FORKS", "2")]), 2);
    // …WINDLASS_ over ANSIBLE_…
    assert_eq!(
        concurrency(
            &p,
            "prefix",
            &[],
            &[("ANSIBLE_FORKS", "1"), ("WINDLASS_FORKS", "2")]
        ),
        2
    );
    // …and the command line over both.
    assert_eq!(
        concurrency(&p, "cli", &["-f", "1"], &[("ANSIBLE_FORKS", "2")]),
        1
    );
    p.file("ansible.cfg", "[defaults]\ninventory = hosts\nforks = 2\n");
    assert_eq!(
        concurrency(&p, "env-lower", &[], &[("ANSIBLE_FORKS", "1")]),
        1
    );
}

/// A stand-in `ssh` on PATH that logs its arguments and fails to connect, so the test
/// sees the command line a run would use without any network.
fn fake_ssh(p: &Project) -> (String, std::path::PathBuf) {
    let log = p.path().join("ssh.log");
    let bin = p.path().join("bin");
    let ssh = p.file(
        "bin/ssh",
        &format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 255\n", log.display()),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, log)
}

#[test]
fn the_files_remote_user_and_host_key_checking_reach_ssh() {
    let p = Project::new();
    let (path, log) = fake_ssh(&p);
    p.file("hosts", "s1 ansible_host=192.0.2.10\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n",
    );
    p.file(
        "ansible.cfg",
        "[defaults]\ninventory = hosts\nremote_user = opsfromfile\nhost_key_checking = False\n",
    );
    let ssh_args = |args: &[&str], env: &[(&str, &str)]| {
        let _ = std::fs::remove_file(&log);
        let mut env = env.to_vec();
        env.push(("PATH", &path));
        let o = windlass_env(p.path(), args, &env);
        assert_eq!(o.status.code(), Some(4), "{}", text(&o));
        std::fs::read_to_string(&log)
            .unwrap_or_else(|_| panic!("ssh was never started: {}", text(&o)))
    };
    let a = ssh_args(&["run", "site.yml"], &[]);
    assert!(
        a.contains("-l opsfromfile"),
        "remote_user from the file: {a}"
    );
    assert!(
        a.contains("StrictHostKeyChecking=no") && a.contains("UserKnownHostsFile=/dev/null"),
        "host_key_checking = False from the file: {a}"
    );
    let a = ssh_args(
        &["run", "site.yml"],
        &[("ANSIBLE_REMOTE_USER", "opsfromenv")],
    );
    assert!(
        a.contains("-l opsfromenv") && !a.contains("opsfromfile"),
        "{a}"
    );
    let a = ssh_args(
        &["run", "site.yml", "-u", "opsfromcli"],
        &[("ANSIBLE_REMOTE_USER", "opsfromenv")],
    );
    assert!(
        a.contains("-l opsfromcli") && !a.contains("opsfromenv"),
        "{a}"
    );
    // Without the setting, host keys are checked strictly.
    p.file("ansible.cfg", "[defaults]\ninventory = hosts\n");
    let a = ssh_args(&["run", "site.yml"], &[]);
    assert!(
        !a.contains("StrictHostKeyChecking=no") && !a.contains("opsfromfile"),
        "{a}"
    );
}

#[test]
fn a_role_found_only_through_the_files_roles_path_runs() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "shared/roles/greet/tasks/main.yml",
        "- debug: msg=\"hello from the shared role\"\n",
    );
    p.file(
        "play/site.yml",
        "- hosts: all\n  gather_facts: false\n  roles: [greet]\n",
    );
    let o = windlass(p.path(), &["run", "play/site.yml", "-i", "hosts"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "found without roles_path? {}",
        text(&o)
    );
    p.file("ansible.cfg", "[defaults]\nroles_path = shared/roles\n");
    let o = windlass(p.path(), &["run", "play/site.yml", "-i", "hosts"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("hello from the shared role"), "{t}");
}

/// Start `windlass run site.yml -i hosts ARGS` in `p`, piping its output.
fn spawn_run(p: &Project, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts"])
        .args(args)
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn sigint(child: &std::process::Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

/// The journal files under `p`'s state directory, with their text.
fn journals(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.path().join(".windlass"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.to_string_lossy().ends_with(".journal.json"))
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_second_ctrl_c_aborts_at_once_and_still_writes_the_journal() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 20\n    - shell: 'true'\n",
    );
    let t0 = std::time::Instant::now();
    let child = spawn_run(&p, &[]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    sigint(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert!(t.contains("aborted"), "{t}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "the abort waited for the task: {:?}",
        t0.elapsed()
    );
    let j = journals(&p);
    assert_eq!(j.len(), 1, "{j:?}");
    assert!(j[0].contains("\"interrupted\""), "{}", j[0]);
}

#[test]
fn after_ctrl_c_the_grace_period_bounds_the_wait_for_running_tasks() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: sleep 20\n",
    );
    let t0 = std::time::Instant::now();
    let child = spawn_run(&p, &["--interrupt-grace", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    assert!(t.contains("did not finish within 1 s"), "{t}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t0.elapsed()
    );
    assert!(journals(&p).iter().any(|j| j.contains("\"interrupted\"")));
}

#[test]
fn ssh_channels_is_validated() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=hi\n",
    );
    for bad in ["0", "257"] {
        let out = windlass(
            p.path(),
            &["run", "site.yml", "-i", "hosts", "--ssh-channels", bad],
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(windlass::exit::BAD_OPTIONS), "{t}");
        assert!(t.contains("--ssh-channels must be from 1 to 256"), "{t}");
    }
    let out = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--ssh-channels", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    p.file("windlass.toml", "[defaults]\nssh_channels = 0\n");
    let out = windlass(p.path(), &["run", "site.yml", "-i", "hosts"]);
    let t = text(&out);
    assert_ne!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("ssh_channels") && t.contains("windlass.toml:2"),
        "{t}"
    );
}

#[test]
fn force_handlers_runs_notified_handlers_on_a_host_that_failed_later() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let marker = p.path().join("handler-ran");
    p.file(
        "site.yml",
        &format!(
            "- hosts: nodes\n  gather_facts: false\n  tasks:\n    - name: change and notify\n      command: 'true'\n      notify: mark\n    - name: fail\n      command: 'false'\n  handlers:\n    - name: mark\n      command: touch {}\n",
            marker.display()
        ),
    );
    let out = windlass(p.path(), &["run", "site.yml", "-i", "hosts"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        !marker.exists(),
        "the handler ran on a failed host without --force-handlers"
    );
    let out = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--force-handlers"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        marker.exists(),
        "--force-handlers did not run the handler: {t}"
    );
    assert!(t.contains("RUNNING HANDLER [mark]"), "{t}");
}

#[test]
fn extra_vars_from_json_yaml_files_and_key_value() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file("more.yml", "from_file:\n  nested: [1, 2]\nover: file\n");
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars:\n    over: play\n  tasks:\n    - debug: msg=\"j={{ j.a }}/{{ j.b | length }} f={{ from_file.nested | sum }} x={{ x }}/{{ x is string }} over={{ over }}\"\n",
    );
    let o = windlass(
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "hosts",
            "-e",
            r#"{"j": {"a": "json", "b": [1, 2, 3]}}"#,
            "-e",
            "@more.yml",
            "-e",
            "x=1",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // key=value values are strings, as in Ansible; -e beats play vars.
    assert!(
        t.contains(r#""msg": "j=json/3 f=3 x=1/True over=file""#),
        "{t}"
    );
    // A missing file is an error before anything runs (exit 1, as ansible-playbook).
    let o = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "-e", "@missing.yml"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("missing.yml") && !text(&o).contains("TASK"));
}

#[test]
fn start_at_task_and_verbose_results() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      debug: msg=one\n    - name: second\n      command: echo two\n    - name: quiet\n      debug:\n        msg: only-with-v\n        verbosity: 1\n",
    );
    let o = windlass(
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "hosts",
            "--start-at-task",
            "second",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        !t.contains("TASK [first]") && t.contains("TASK [second]"),
        "{t}"
    );
    // Without -v a command's result is not shown, and a verbosity-1 debug is skipped.
    assert!(t.contains("changed: [h1]\n"), "{t}");
    assert!(
        t.contains("skipping: [h1]") && !t.contains("only-with-v"),
        "{t}"
    );
    let o = windlass(
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "hosts",
            "--start-at-task",
            "second",
            "-v",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // -v: the result on one line, keys sorted, as ansible-playbook -v.
    let line = t
        .lines()
        .find(|l| l.starts_with("changed: [h1] => {"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        line.contains(r#""changed": true, "cmd": ["echo", "two"]"#)
            && line.contains(r#""stdout": "two""#),
        "{line}"
    );
    assert!(t.contains("\"msg\": \"only-with-v\""), "{t}");
    let o = windlass(
        p.path(),
        &[
            "run",
            "site.yml",
            "-i",
            "hosts",
            "--start-at-task",
            "no such task",
        ],
    );
    assert!(!text(&o).contains("TASK [second]"), "{}", text(&o));
}

#[test]
fn vvv_shows_each_command_with_rc_censors_no_log_and_never_file_contents() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let dest = p.path().join("written.txt");
    let conf = p.path().join("s.conf");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: visible\n      command: echo visible-marker\n    - name: hidden\n      command: echo hidden-marker\n      no_log: true\n    - name: write\n      copy:\n        content: file-content-marker\n        dest: {}\n    - name: fails\n      command: /bin/false\n      ignore_errors: true\n    - name: run script\n      script: s.sh\n    - name: put\n      sysctl: {{name: net.wl.marker, value: put-content-marker, sysctl_file: {}, sysctl_set: false, reload: false}}\n",
            dest.display(),
            conf.display()
        ),
    );
    p.file("s.sh", "#!/bin/sh\n# script-content-marker\ntrue\n");
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "-vvv"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("<h1> EXEC ")
            && l.contains("visible-marker")
            && l.ends_with("s)")
            && l.contains("(rc=0, ")),
        "{out}"
    );
    assert!(out.contains("<h1> EXEC (censored due to no_log)"), "{out}");
    assert!(!out.contains("hidden-marker"), "{out}");
    assert!(
        out.lines().any(
            |l| l.starts_with("<h1> EXEC ") && l.contains(&format!("d={}; p=", dest.display()))
        ),
        "the write is shown: {out}"
    );
    // A put shows its destination only; the script's one command, not its content.
    assert!(
        out.lines()
            .any(|l| l.starts_with("<h1> PUT /") && l.contains("/s.conf (rc=0, ")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("<h1> EXEC ")
            && l.contains("windlass.XXXXXXXX")
            && l.contains("/s.sh")),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with('<')
            && (l.contains("file-content-marker")
                || l.contains("script-content-marker")
                || l.contains("put-content-marker"))),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("<h1> EXEC /bin/false (rc=1")),
        "{out}"
    );
    // Below -vvv, no command lines.
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "-vv"]);
    assert!(!text(&o).contains("<h1> EXEC"), "{}", text(&o));

    // The same in the JSONL stream, as typed events (the files written again).
    std::fs::remove_file(&dest).unwrap();
    std::fs::remove_file(&conf).unwrap();
    let o = windlass(
        p.path(),
        &[
            "run", "site.yml", "-i", "hosts", "-vvv", "--output", "jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(!stdout.contains("hidden-marker"), "{stdout}");
    let cmds: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|e| e["event"] == "command")
        .collect();
    let by_task = |name: &str| -> Vec<&serde_json::Value> {
        cmds.iter().filter(|c| c["task"] == name).collect()
    };
    let visible = by_task("visible");
    assert_eq!(visible.len(), 1, "{cmds:?}");
    assert_eq!(visible[0]["host"], "h1");
    assert_eq!(visible[0]["op"], "exec");
    assert_eq!(visible[0]["rc"], 0);
    assert!(visible[0]["duration"].is_number());
    assert!(
        visible[0]["line"]
            .as_str()
            .unwrap()
            .contains("visible-marker")
    );
    let hidden = by_task("hidden");
    assert!(
        !hidden.is_empty() && hidden.iter().all(|c| c["line"].is_null()),
        "{cmds:?}"
    );
    let write = by_task("write");
    assert!(!write.is_empty(), "{cmds:?}");
    assert!(write.iter().all(|c| c["op"] == "exec"), "{write:?}");
    assert!(!stdout.contains("file-content-marker"), "{stdout}");
    let script = by_task("run script");
    assert!(
        script.iter().any(|c| c["op"] == "exec"
            && c["line"].as_str().unwrap().contains("windlass.XXXXXXXX")),
        "{script:?}"
    );
    let put = by_task("put");
    assert!(
        put.iter()
            .any(|c| c["op"] == "put" && c["line"].as_str().unwrap().ends_with("/s.conf")),
        "{put:?}"
    );
    // (The result shows the value, as Ansible's; no command event carries the content.)
    assert!(
        !cmds
            .iter()
            .any(|c| c.to_string().contains("put-content-marker")),
        "{cmds:?}"
    );
    assert_eq!(by_task("fails")[0]["rc"], 1);
}

/// `-vvv` says which implementation ran each execution of a task (ansible-playbook's
/// `Using module file …` line; for a native module, windlass's own line), once per loop
/// item, never for a task its `when` skipped; `--output jsonl` carries it as a `module`
/// event (`path` null for a native module). Below `-vvv`, neither.
#[test]
fn vvv_names_the_native_module_each_execution_ran() {
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: run\n      command: echo {{ item }}\n      loop: [a, b]\n    - name: skipped\n      stat: {path: /}\n      when: false\n",
    );
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "-vvv"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("Using ")).collect();
    assert_eq!(
        lines,
        [
            "Using windlass native module ansible.builtin.command",
            "Using windlass native module ansible.builtin.command"
        ],
        "{out}"
    );
    let o = windlass(p.path(), &["run", "site.yml", "-i", "hosts", "-vv"]);
    assert!(!text(&o).contains("Using "), "{}", text(&o));

    let o = windlass(
        p.path(),
        &[
            "run", "site.yml", "-i", "hosts", "-vvv", "--output", "jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let modules: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|e| e["event"] == "module")
        .collect();
    let want = serde_json::json!({"event": "module", "host": "h1", "task": "run",
        "module": "ansible.builtin.command", "path": null});
    assert_eq!(modules, [want.clone(), want], "{}", text(&o));
}

#[test]
fn a_host_name_or_user_ssh_refuses_is_reported_in_ssh_s_words() {
    // ssh refuses these before opening its log; the binary's masters go through the dialer
    // (and ask `ssh -G` first), so this is the other path from the library's unit test.
    let p = Project::new();
    p.file(
        "hosts",
        "a ansible_host=\"bad host\"\nb ansible_host=nonexistent.invalid ansible_user=\"b'u\"\nc ansible_host=nonexistent.invalid\n",
    );
    p.file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    let o = windlass(
        p.path(),
        &["run", "site.yml", "-i", "hosts", "--ssh-retries", "0"],
    );
    let t = text(&o);
    assert_eq!(
        o.status.code(),
        Some(windlass::exit::HOST_UNREACHABLE),
        "{t}"
    );
    for want in [
        "fatal: [a]: UNREACHABLE! => {\"changed\": false, \"msg\": \"hostname contains invalid characters\"",
        "fatal: [b]: UNREACHABLE! => {\"changed\": false, \"msg\": \"remote username contains invalid characters\"",
        "fatal: [c]: UNREACHABLE! => {\"changed\": false, \"msg\": \"Could not resolve hostname nonexistent.invalid",
    ] {
        assert!(t.contains(want), "{want}\n{t}");
    }
    assert!(!t.contains("os error"), "{t}");
}

/// Wait up to 5 s for `path` to hold a process id, and return it.
fn wait_for_pid(path: &Path) -> u32 {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "no {path:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether process `pid` runs (exists and is not a zombie), within 2 s.
fn still_runs_after_2s(pid: u32) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < std::time::Duration::from_secs(2) {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()?.to_string()));
        if !state.is_some_and(|s| s != "Z" && s != "X") {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

#[test]
fn sigterm_and_sighup_abort_at_once_with_recap_journal_and_local_commands_ended() {
    for (sig, code) in [("TERM", 143), ("HUP", 129)] {
        let p = Project::new();
        p.file("hosts", &local_inventory(&["h1"]));
        let pidfile = p.path().join("pid");
        p.file(
            "site.yml",
            &format!(
                "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo $$ > {}; exec sleep 30\n    - shell: 'true'\n",
                pidfile.display()
            ),
        );
        let t0 = std::time::Instant::now();
        let child = spawn_run(&p, &[]);
        let pid = wait_for_pid(&pidfile);
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status();
        let out = child.wait_with_output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(code), "SIG{sig}: {t}");
        assert!(t.contains(&format!("SIG{sig}: aborting")), "{t}");
        assert!(t.contains("PLAY RECAP") && t.contains("h1 "), "{t}");
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(8),
            "SIG{sig} waited for the task: {:?}",
            t0.elapsed()
        );
        let j = journals(&p);
        assert_eq!(j.len(), 1, "{j:?}");
        assert!(j[0].contains("\"interrupted\""), "{}", j[0]);
        assert!(
            !still_runs_after_2s(pid),
            "SIG{sig}: the task's command still runs after windlass exited"
        );
    }
}

#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    // `nohup windlass …`: SIGHUP is ignored on entry; a closed terminal must not stop the run.
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1"]));
    let m = p.path().join("m");
    let pidfile = p.path().join("pid");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo $$ > {}; sleep 1\n    - shell: touch {}\n",
            pidfile.display(),
            m.display()
        ),
    );
    let child = Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_windlass"))
        .args(["run", "site.yml", "-i", "hosts"])
        .current_dir(p.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_pid(&pidfile);
    let _ = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(m.exists(), "{t}");
}

#[test]
fn ctrl_c_on_a_terminal_lets_running_local_commands_finish() {
    // A terminal sends SIGINT to the whole foreground process group: windlass and, unless
    // they run in their own group, its local commands.
    use std::os::unix::process::CommandExt;
    let p = Project::new();
    p.file("hosts", &local_inventory(&["h1", "h2"]));
    let pidfile = p.path().join("pid");
    p.file(
        "site.yml",
        &format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo $$ > {}-{{{{ inventory_hostname }}}}; sleep 2\n    - command: 'true'\n",
            pidfile.display()
        ),
    );
    let home = tempfile::tempdir().unwrap();
    let child = isolated(p.path(), home.path())
        .args(["run", "site.yml", "-i", "hosts"])
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for h in ["h1", "h2"] {
        wait_for_pid(&p.path().join(format!("pid-{h}")));
    }
    let st = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(130), "{t}");
    for h in ["h1", "h2"] {
        assert!(
            t.contains(&format!("changed: [{h}]")),
            "the running command on {h} did not finish: {t}"
        );
    }
    assert!(!t.contains("FAILED") && !t.contains("failed=1"), "{t}");
}
