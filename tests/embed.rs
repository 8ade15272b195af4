//! The embedding API as a caller uses it: files on disk, a transport the caller supplies,
//! check and diff mode, the async entry point, and how the option setters combine.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use windlass::command::{Become, RemoteCommand};
use windlass::embed::RunOptions;
use windlass::embed::Runner;
use windlass::event::{Event, Status};
use windlass::transport::{
    ConnectionSpec, Connector, ExecOutput, PutFile, Transport, TransportError,
};

/// What the caller's transport was asked to do, in order.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    /// `exec`: host, the command as shell text.
    Exec(String, String),
    /// What an `exec` fed to the command's stdin: host, the bytes as text.
    Stdin(String, String),
    /// `put`: host, destination, content.
    Put(String, String, String),
}

/// A caller-supplied connector: records every connection spec and every call, and
/// answers the playbook's file probe with "nothing there".
#[derive(Default)]
struct Recording {
    specs: Mutex<Vec<ConnectionSpec>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

struct RecordingHost {
    host: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Connector for Recording {
    fn connect(&self, spec: &ConnectionSpec) -> Arc<dyn Transport> {
        self.specs.lock().unwrap().push(spec.clone());
        Arc::new(RecordingHost {
            host: spec.inventory_hostname.clone(),
            calls: self.calls.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Transport for RecordingHost {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let line = cmd.to_shell();
        let stdout = if line.contains("d=/etc/demo.conf; p=") {
            // The copy's probe: the file does not exist yet.
            b"kind=absent\0".to_vec()
        } else {
            Vec::new()
        };
        let mut calls = self.calls.lock().unwrap();
        calls.push(Call::Exec(self.host.clone(), line));
        if let Some(stdin) = &cmd.stdin {
            calls.push(Call::Stdin(
                self.host.clone(),
                String::from_utf8_lossy(stdin).into_owned(),
            ));
        }
        Ok(ExecOutput {
            rc: 0,
            stdout,
            stderr: Vec::new(),
        })
    }

    async fn put(
        &self,
        file: &PutFile<'_>,
        _become: Option<&Become>,
    ) -> Result<(), TransportError> {
        self.calls.lock().unwrap().push(Call::Put(
            self.host.clone(),
            file.dest.to_string(),
            String::from_utf8_lossy(file.content).into_owned(),
        ));
        Ok(())
    }
}

const PLAYBOOK: &str = r#"- hosts: web
  gather_facts: false
  tasks:
    - name: restart
      command: systemctl restart {{ svc }}
    - name: config
      copy:
        content: "hello {{ inventory_hostname }}\n"
        dest: /etc/demo.conf
"#;

/// An inventory file and a playbook file in a fresh directory.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hosts.ini"),
        "[web]\nw1 ansible_host=10.0.0.1 ansible_user=deploy\nw2 ansible_host=10.0.0.2\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    dir
}

fn execs_of<'a>(calls: &'a [Call], host: &str) -> Vec<&'a str> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Exec(h, line) if h == host => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_supplied_transport_receives_the_playbooks_commands() {
    let dir = project();
    let conn = Arc::new(Recording::default());
    let report = Runner::new()
        .inventory_files(&[dir.path().join("hosts.ini")])
        .unwrap()
        .playbook_file(dir.path().join("site.yml"))
        .unwrap()
        .extra_var("svc", "nginx")
        .connector(conn.clone())
        .run_async()
        .await
        .unwrap();
    assert_eq!(report.exit_code, 0);

    // The connector was asked once per host, with what the inventory file says.
    let mut specs = conn.specs.lock().unwrap().clone();
    specs.sort_by(|a, b| a.inventory_hostname.cmp(&b.inventory_hostname));
    let hosts: Vec<(&str, &str, Option<&str>)> = specs
        .iter()
        .map(|s| {
            (
                s.inventory_hostname.as_str(),
                s.address.as_str(),
                s.user.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        hosts,
        [("w1", "10.0.0.1", Some("deploy")), ("w2", "10.0.0.2", None)]
    );

    let calls = conn.calls.lock().unwrap().clone();
    for host in ["w1", "w2"] {
        let execs = execs_of(&calls, host);
        assert_eq!(
            execs
                .iter()
                .filter(|l| **l == "systemctl restart nginx")
                .count(),
            1,
            "{host}: {execs:#?}"
        );
        assert!(
            execs.iter().any(|l| l.contains("/etc/demo.conf")),
            "{host}: the copy probe did not reach the transport: {execs:#?}"
        );
        // The file arrives as the stdin of one atomic write to its destination.
        let mine: Vec<&Call> = calls
            .iter()
            .filter(|c| matches!(c, Call::Exec(h, _) | Call::Stdin(h, _) | Call::Put(h, ..) if h == host))
            .collect();
        let at = mine
            .iter()
            .position(|c| matches!(c, Call::Stdin(..)))
            .unwrap_or_else(|| panic!("{host}: no content was sent: {mine:#?}"));
        assert_eq!(
            mine[at],
            &Call::Stdin(host.into(), format!("hello {host}\n"))
        );
        assert!(
            matches!(mine[at - 1], Call::Exec(_, l) if l.contains("d=/etc/demo.conf;") && l.contains("mv -f")),
            "{host}: {mine:#?}"
        );
        assert_eq!(
            mine.iter()
                .filter(|c| matches!(c, Call::Stdin(..) | Call::Put(..)))
                .count(),
            1,
            "{host}: {mine:#?}"
        );
    }
}

#[test]
fn check_and_diff_reach_the_run_and_nothing_changes() {
    let dir = project();
    let conn = Arc::new(Recording::default());
    let results = Arc::new(Mutex::new(Vec::new()));
    let seen = results.clone();
    // `options` after `check`/`diff`: the setters still win.
    let report = Runner::new()
        .inventory_files(&[dir.path().join("hosts.ini")])
        .unwrap()
        .playbook_file(dir.path().join("site.yml"))
        .unwrap()
        .extra_var("svc", "nginx")
        .check(true)
        .diff(true)
        .options(RunOptions {
            forks: 1,
            ..Default::default()
        })
        .connector(conn.clone())
        .on_event(move |e| {
            if let Event::HostResult {
                host,
                task,
                status,
                diff,
                ..
            } = e
            {
                seen.lock()
                    .unwrap()
                    .push((host.clone(), task.clone(), *status, diff.clone()));
            }
        })
        .run()
        .unwrap();
    assert_eq!(report.exit_code, 0);
    let calls = conn.calls.lock().unwrap().clone();
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, Call::Put(..) | Call::Stdin(..))),
        "check mode wrote a file: {calls:#?}"
    );
    for host in ["w1", "w2"] {
        let execs = execs_of(&calls, host);
        assert!(
            !execs.iter().any(|l| l.contains("systemctl")),
            "check mode ran the command: {execs:#?}"
        );
        // Only the copy's probe reached the host.
        assert_eq!(execs.len(), 1, "{host}: {execs:#?}");
    }
    let results = results.lock().unwrap().clone();
    for host in ["w1", "w2"] {
        let of = |task: &str| {
            results
                .iter()
                .find(|(h, t, _, _)| h == host && t == task)
                .unwrap_or_else(|| panic!("{host} {task}: {results:#?}"))
        };
        assert_eq!(of("restart").2, Status::Skipped);
        let (_, _, status, diff) = of("config");
        assert_eq!(*status, Status::Changed);
        let file = diff.first().expect("diff mode shows the new file");
        let line = format!("hello {host}");
        assert!(
            file.after.contains(&line) && !file.before.contains(&line),
            "{diff:?}"
        );
    }
}

#[test]
fn option_setters_win_over_options_in_any_order() {
    let base = RunOptions {
        check: false,
        diff: true,
        forks: 3,
        extra_vars: [("a".to_string(), json!(1)), ("b".to_string(), json!(1))]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let before = Runner::new()
        .check(true)
        .extra_var("a", 2)
        .options(base.clone())
        .effective_options();
    let after = Runner::new()
        .options(base.clone())
        .check(true)
        .extra_var("a", 2)
        .effective_options();
    for o in [&before, &after] {
        assert!(o.check, "check(true) was dropped");
        assert!(
            o.diff,
            "options' diff was dropped although diff() was never called"
        );
        assert_eq!(o.forks, 3);
        assert_eq!(o.extra_vars.get("a"), Some(&Value::from(2)));
        assert_eq!(o.extra_vars.get("b"), Some(&Value::from(1)));
    }
    // Without a setter, `options` decides; a later `options` replaces an earlier one.
    let o = Runner::new()
        .options(RunOptions {
            check: true,
            ..Default::default()
        })
        .options(RunOptions {
            forks: 7,
            ..Default::default()
        })
        .effective_options();
    assert!(!o.check);
    assert_eq!(o.forks, 7);
}

/// A caller's module that returns its arguments: `free_form` says whether it takes free-form
/// text, in its spec only.
struct Echo {
    name: &'static str,
    free_form: bool,
}

#[async_trait::async_trait]
impl windlass::modules::Module for Echo {
    fn name(&self) -> &'static str {
        self.name
    }
    fn spec(&self) -> windlass::modules::ParamSpec {
        windlass::modules::ParamSpec {
            params: &[],
            free_form: self.free_form,
            ..Default::default()
        }
    }
    fn controller_only(&self) -> bool {
        true
    }
    async fn run(
        &self,
        _ctx: &windlass::modules::TaskCtx<'_>,
        args: serde_json::Map<String, Value>,
    ) -> Result<windlass::modules::TaskResult, windlass::modules::ModuleError> {
        let mut out = windlass::modules::TaskResult::with_changed(false);
        out.extend(args);
        Ok(out)
    }
}

#[test]
fn a_callers_module_declaring_free_form_gets_its_text_as_raw_params() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = r#"
- hosts: all
  gather_facts: false
  tasks:
    - acme.tools.echo: hello   big "world"
      register: r
    - assert:
        that: r._raw_params == 'hello   big "world"'
"#;
    let report = Runner::new()
        .inventory_str("localhost ansible_connection=local\n")
        .unwrap()
        .playbook_str(playbook, &dir.path().join("site.yml"))
        .unwrap()
        .module(Echo {
            name: "acme.tools.echo",
            free_form: true,
        })
        .run()
        .unwrap();
    assert_eq!(report.exit_code, 0);

    // Without `free_form` in its spec, the same words are refused when the playbook loads.
    let err = Runner::new()
        .playbook_str(playbook, &dir.path().join("site.yml"))
        .unwrap()
        .module(Echo {
            name: "acme.tools.echo",
            free_form: false,
        })
        .load()
        .expect_err("free-form text refused");
    assert!(
        err.to_string()
            .contains("`hello` is not a key=value argument"),
        "{err}"
    );
}

/// Vault secrets given to the runner open vault-encrypted data everywhere a run reads it:
/// an inline `!vault` value of the playbook (vault id `prod`) and a vault-encrypted
/// `group_vars` file beside the inventory (format 1.1), both made by ansible-vault 2.19;
/// the secrets may come after the inventory in the builder. Without them the run fails.
#[test]
fn vault_secrets_open_what_the_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("group_vars")).unwrap();
    std::fs::write(p.join("hosts"), "[nodes]\nn1 ansible_connection=local\n").unwrap();
    std::fs::write(
        p.join("group_vars/nodes.yml"),
        "$ANSIBLE_VAULT;1.1;AES256\n\
         38383037363531373832653530663534613933323936666136343865386537353335316564623334\n\
         6239303262363036636436303537366231333064303661340a303234373862313762616530336534\n\
         66363862353464646232353134616335663037393135316363316162636338393462366463613736\n\
         3234666132336231620a393662353737656630323865363666303266366436363364313338323563\n\
         62363230353331656361323637353465663366303164343262393332656162626530\n",
    )
    .unwrap();
    let playbook = "- hosts: all\n  gather_facts: false\n  vars:\n    inline_secret: !vault |\n      \
        $ANSIBLE_VAULT;1.2;AES256;prod\n      \
        62343566643036386533613634386631316364316162666136383862666464366536623965646330\n      \
        6437373837643132393565646465613266663563393862620a626664643336316561633661663734\n      \
        30306336353262656133346234643233333039323030363062663631343664616431316238306430\n      \
        3536366462623634380a646435383662316437316363613139323733326265343033636361613733\n      \
        6435\n  tasks:\n    - debug: msg=\"{{ inline_secret }} {{ gv_secret }}\"\n";
    std::fs::write(p.join("site.yml"), playbook).unwrap();
    let run = |secrets: &[(&str, &str)]| {
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let seen = msgs.clone();
        let mut r = Runner::new()
            .inventory_files(&[p.join("hosts")])
            .unwrap()
            .playbook_file(p.join("site.yml"))
            .unwrap();
        for (label, pw) in secrets {
            r = r.vault_secret(label, pw.as_bytes());
        }
        let report = r
            .on_event(move |e: &Event| {
                if let Event::HostResult { result, .. } = e {
                    seen.lock().unwrap().push(result["msg"].clone());
                }
            })
            .run();
        (report, msgs.lock().unwrap().clone())
    };
    let (report, msgs) = run(&[("prod", "embed-pass"), ("default", "embed-pass")]);
    assert_eq!(report.unwrap().exit_code, 0);
    assert_eq!(msgs, vec![json!("from-inline from-group-vars")]);
    let (report, _) = run(&[]);
    let err = report.unwrap_err().to_string();
    assert!(err.contains("no vault secret was given"), "{err}");
}
