//! Network and misc modules over real SSH on the test hosts: `wait_for`, `uri`, `get_url`,
//! `script`, `ping`. A tiny HTTP server (python3 -m http.server) runs ON the test host,
//! bound to 127.0.0.1; nothing outside the test hosts is contacted.

mod common;

use common::{Project, on_host, opts, results, stats, testhosts};
use windlass::event::{Event, Status};

const H: usize = 2;
const HOST: &str = "th02";

fn start_server() {
    on_host(
        H,
        "[ -f /tmp/wl-net/server.pid ] && kill $(cat /tmp/wl-net/server.pid) 2>/dev/null; rm -rf /tmp/wl-net; mkdir -p /tmp/wl-net/www /tmp/wl-net/dl; \
         printf 'hello\\n' > /tmp/wl-net/www/hello.txt; printf '{\"a\": 1}' > /tmp/wl-net/www/data.json; \
         command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null 2>&1; \
         cd /tmp/wl-net/www && (setsid python3 -m http.server 18080 --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > /tmp/wl-net/server.pid)",
    );
}

fn stop_server() {
    on_host(H, "kill $(cat /tmp/wl-net/server.pid) 2>/dev/null; true");
}

/// Stops the server even when an assertion fails.
struct Server;

impl Drop for Server {
    fn drop(&mut self) {
        stop_server();
    }
}

fn result_of<'a>(
    events: &'a [Event],
    task: &str,
) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
    events.iter().find_map(|e| match e {
        Event::HostResult {
            task: t,
            result,
            host,
            ..
        } if t == task && host == HOST => Some(result),
        _ => None,
    })
}

const PLAY: &str = r#"
- hosts: th02
  gather_facts: false
  vars: {ansible_remote_tmp: /tmp/wl-net/rt}
  tasks:
    - name: wait for server
      wait_for: {port: 18080, timeout: 20}
    - name: call api
      uri: {url: "http://127.0.0.1:18080/data.json", return_content: true}
      register: api
    - name: check api
      assert: {that: ["api.status == 200", "api.json.a == 1", "'\"a\"' in api.content"]}
      when: not ansible_check_mode
    - name: download
      get_url:
        url: http://127.0.0.1:18080/hello.txt
        dest: /tmp/wl-net/dl/hello.txt
        checksum: "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        mode: "0640"
    - name: run script
      script: hi.sh "two words" --flag
      args: {creates: /tmp/wl-net/script.done}
      register: hi
    - name: pong
      ping:
      register: pong
    - name: missing port
      wait_for: {port: 18081, timeout: 2}
      ignore_errors: true
    - name: missing page
      uri: {url: "http://127.0.0.1:18080/nope", status_code: [200, 404]}
"#;

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn net_modules_on_a_host() {
    let inv = testhosts();
    start_server();
    let _server = Server;
    let p = Project::new();
    p.with_testhosts(&inv);
    p.file(
        "files/hi.sh",
        "#!/bin/sh\nprintf '%s|' \"$@\"; echo; touch /tmp/wl-net/script.done; echo err >&2\n",
    );
    p.file("site.yml", PLAY);

    // Check mode on the fresh state: get_url would download; nothing is written.
    let mut o = opts();
    o.check = true;
    let (events, report) = p.run("site.yml", "hosts.yml", o).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    let check_changed = stats(&report)[HOST].changed;
    assert_eq!(
        on_host(
            H,
            "ls /tmp/wl-net/dl; ls /tmp/wl-net/script.done 2>&1 | grep -c 'No such'"
        )
        .trim(),
        "1"
    );

    // First run.
    let t0 = std::time::Instant::now();
    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    let first_took = t0.elapsed();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    let st = stats(&report)[HOST].clone();
    assert_eq!(st.changed, 2, "get_url + script: {:#?}", results(&events));
    assert_eq!(
        check_changed, st.changed,
        "check mode predicts get_url and the script (its `creates` decides)"
    );
    assert_eq!(
        on_host(
            H,
            "cat /tmp/wl-net/dl/hello.txt; stat -c %a /tmp/wl-net/dl/hello.txt"
        ),
        "hello\n640\n"
    );
    let hi = result_of(&events, "run script").unwrap();
    assert_eq!(hi["stdout"], "two words|--flag|");
    assert_eq!(hi["stderr"], "err");
    assert_eq!(
        on_host(H, "stat -c %a /tmp/wl-net/rt; ls -A /tmp/wl-net/rt | wc -l"),
        "700\n0\n",
        "scratch directories of uri and script removed"
    );
    assert_eq!(result_of(&events, "pong").unwrap()["ping"], "pong");
    let miss = result_of(&events, "missing port").unwrap();
    assert_eq!(miss["msg"], "Timeout when waiting for 127.0.0.1:18081");
    let el = miss["elapsed"].as_u64().unwrap();
    assert!((2..=4).contains(&el), "elapsed {el}");
    assert_eq!(result_of(&events, "missing page").unwrap()["status"], 404);

    // Second run: nothing changes.
    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    assert_eq!(stats(&report)[HOST].changed, 0, "{:#?}", results(&events));

    // A wrong checksum fails and leaves no file behind.
    p.file(
        "bad.yml",
        "- hosts: th02\n  gather_facts: false\n  tasks:\n    - get_url:\n        url: http://127.0.0.1:18080/hello.txt\n        dest: /tmp/wl-net/dl/bad.txt\n        checksum: sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let (events, report) = p.run("bad.yml", "hosts.yml", opts()).unwrap();
    assert_ne!(report.exit_code, 0);
    let r = results(&events);
    assert_eq!(r.last().unwrap().2, Status::Failed);
    assert_eq!(
        on_host(H, "ls -a /tmp/wl-net/dl | grep -c -e bad -e windlass").trim(),
        "0"
    );

    // Stop the server; wait_for state=stopped sees it go.
    stop_server();
    p.file(
        "stopped.yml",
        "- hosts: th02\n  gather_facts: false\n  tasks:\n    - wait_for: {port: 18080, state: stopped, timeout: 10}\n    - wait_for: {path: /tmp/wl-net/www/hello.txt, search_regex: 'hel(l)o'}\n      register: f\n    - assert: {that: [\"f.match_groups == ['l']\"]}\n",
    );
    let (events, report) = p.run("stopped.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    eprintln!("first run of 8 tasks (incl. a 2 s wait_for timeout) took {first_took:?}");
}

#[test]
#[ignore = "needs WINDLASS_TESTHOSTS"]
fn unarchive_local_and_remote() {
    let inv = testhosts();
    on_host(
        H,
        "rm -rf /tmp/wl-unarchive; mkdir -p /tmp/wl-unarchive/local /tmp/wl-unarchive/remote /tmp/wl-unarchive/src/pkg/bin; \
         printf 'one\\n' > /tmp/wl-unarchive/src/pkg/bin/one; printf 'two\\n' > /tmp/wl-unarchive/src/pkg/two.txt; \
         tar -C /tmp/wl-unarchive/src -cf /tmp/wl-unarchive/pkg.tar pkg",
    );
    let p = Project::new();
    p.with_testhosts(&inv);
    // A controller-side archive, made here.
    let stage = p.path().join("stage/tool");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("tool.sh"), "#!/bin/sh\necho tool\n").unwrap();
    std::fs::write(stage.join("README"), "readme\n").unwrap();
    std::fs::create_dir_all(p.path().join("files")).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(p.path().join("stage"))
        .arg("-czf")
        .arg(p.path().join("files/tool.tgz"))
        .arg("tool")
        .status()
        .unwrap();
    assert!(st.success());
    p.file(
        "site.yml",
        r#"
- hosts: th02
  gather_facts: false
  vars: {ansible_remote_tmp: /tmp/wl-unarchive/rt}
  tasks:
    - name: local archive
      unarchive: {src: tool.tgz, dest: /tmp/wl-unarchive/local, mode: "0750", list_files: true}
      register: loc
    - name: remote archive
      unarchive:
        src: /tmp/wl-unarchive/pkg.tar
        dest: /tmp/wl-unarchive/remote
        remote_src: true
        extra_opts: [--strip-components=1]
    - name: creates
      unarchive: {src: /tmp/wl-unarchive/pkg.tar, dest: /tmp/wl-unarchive/remote, remote_src: yes, creates: /tmp/wl-unarchive/src/pkg/two.txt}
"#,
    );
    let mut o = opts();
    o.check = true;
    let (events, report) = p.run("site.yml", "hosts.yml", o).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    assert_eq!(stats(&report)[HOST].changed, 2);
    assert_eq!(
        on_host(
            H,
            "ls -A /tmp/wl-unarchive/local /tmp/wl-unarchive/remote | wc -w"
        )
        .trim(),
        "2"
    );
    assert_eq!(on_host(H, "ls -A /tmp/wl-unarchive/rt | wc -l").trim(), "0");

    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    assert_eq!(stats(&report)[HOST].changed, 2, "{:#?}", results(&events));
    assert_eq!(
        on_host(
            H,
            "cat /tmp/wl-unarchive/local/tool/tool.sh /tmp/wl-unarchive/remote/bin/one /tmp/wl-unarchive/remote/two.txt; stat -c %a /tmp/wl-unarchive/local/tool/README"
        ),
        "#!/bin/sh\necho tool\none\ntwo\n750\n"
    );
    assert_eq!(
        on_host(H, "ls -A /tmp/wl-unarchive/rt | wc -l").trim(),
        "0",
        "uploaded archive removed"
    );
    let files = result_of(&events, "local archive").unwrap()["files"].clone();
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "tool/tool.sh"),
        "{files}"
    );

    let (events, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(report.exit_code, 0, "{:#?}", results(&events));
    assert_eq!(stats(&report)[HOST].changed, 0, "{:#?}", results(&events));

    // A changed file on the host is put back.
    on_host(H, "echo changed > /tmp/wl-unarchive/remote/two.txt");
    let (_, report) = p.run("site.yml", "hosts.yml", opts()).unwrap();
    assert_eq!(stats(&report)[HOST].changed, 1);
    assert_eq!(on_host(H, "cat /tmp/wl-unarchive/remote/two.txt"), "two\n");
}
