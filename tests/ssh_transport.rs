//! The SSH transport against real hosts.
//!
//! Why this file exists: the SSH transport's promises (one master per host, a channel limit
//! below sshd's MaxSessions, exact bytes through stdin/stdout, UNREACHABLE for dead hosts and
//! bad host keys, timeouts) only mean something against a real sshd. These tests run when
//! `WINDLASS_TESTHOSTS` names the inventory printed by `windlass lab inventory` (three hosts)
//! and the ignored tests are asked for (`-- --include-ignored`); a plain `cargo test` lists
//! them as ignored.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use windlass::command::{Become, BecomeMethod, RemoteCommand};
use windlass::inventory::Inventory;
use windlass::transport::spec::{ConnectionOverrides, connection_spec};
use windlass::transport::ssh::SshPool;
use windlass::transport::{ConnectionSpec, HostKeyPolicy, PutFile, Transport, TransportError};

/// The connection specs of the test hosts `WINDLASS_TESTHOSTS` names; a test that runs
/// without them fails (every caller is ignored unless asked for, see `tests/common`).
#[track_caller]
fn hosts() -> Vec<ConnectionSpec> {
    let path = common::testhosts();
    let inventory = Inventory::load(&[path]).expect("inventory loads");
    let mut specs = Vec::new();
    for name in inventory.host_names() {
        let vars = inventory.host_vars(&name);
        specs.push(connection_spec(&name, &vars, &ConnectionOverrides::default()).expect("spec"));
    }
    assert!(
        specs.len() >= 3,
        "need three test hosts, got {}",
        specs.len()
    );
    specs
}

fn sh(script: &str) -> RemoteCommand {
    RemoteCommand::shell(script)
}

async fn run(t: &dyn Transport, script: &str) -> String {
    let out = t.exec(&sh(script)).await.expect("exec");
    assert_eq!(out.rc, 0, "{script}: {}", out.stderr_str());
    out.stdout_str()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn parallel_exec_on_three_hosts_and_timings() {
    let specs = hosts();
    let pool = SshPool::new();
    let ts: Vec<Arc<dyn Transport>> = specs[..3].iter().map(|s| pool.transport(s)).collect();
    let start = Instant::now();
    let outs = futures_join(ts.iter().map(|t| {
        let t = t.clone();
        async move { t.exec(&RemoteCommand::argv(["hostname"])).await }
    }))
    .await;
    let connect3 = start.elapsed();
    let names: Vec<String> = outs
        .into_iter()
        .map(|o| o.expect("exec").stdout_str())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(
        names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
        "{names:?}"
    );
    // The same host always gets the same master.
    assert!(Arc::ptr_eq(&pool.transport(&specs[0]), &ts[0]));

    let mut rtts = Vec::new();
    for _ in 0..50 {
        let s = Instant::now();
        let o = ts[0].exec(&RemoteCommand::argv(["true"])).await.unwrap();
        rtts.push(s.elapsed());
        assert_eq!(o.rc, 0);
    }
    println!(
        "TIMING connect+first command on 3 hosts in parallel: {:?}; warm round trip of `true` (median of 50): {:?}",
        connect3,
        median(rtts)
    );

    // Closing ends the masters and the next command reconnects.
    let dir = pool.control_path().expect("control dir");
    assert!(dir.as_os_str().len() < 30, "{}", dir.display());
    pool.close_all().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(masters_in(&dir), 0, "masters left after close_all");
    assert_eq!(run(&*ts[1], "echo again").await, "again");
    assert_eq!(masters_in(&dir), 1);
    drop(ts);
    drop(pool);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!dir.exists(), "control dir left behind");
    assert_eq!(masters_in(&dir), 0, "masters left after drop");
}

/// Number of ssh master processes whose control socket lives under `dir`.
fn masters_in(dir: &std::path::Path) -> usize {
    let out = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(format!("^ssh .*-S {}", dir.display()))
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Await futures concurrently, keeping their order (no extra dependency).
async fn futures_join<F, T>(futs: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn stdin_binary_round_trip_and_exit_codes() {
    let specs = hosts();
    let pool = SshPool::new();
    let t = pool.transport(&specs[1]);
    let mut data = Vec::with_capacity(1 << 20);
    let mut x: u32 = 12345;
    for _ in 0..(1 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    data.extend(0..=255u8);
    let out = t
        .exec(&RemoteCommand::argv(["cat"]).with_stdin(data.clone()))
        .await
        .unwrap();
    assert_eq!(out.rc, 0);
    assert!(out.stdout == data, "binary data changed on the way");

    assert_eq!(t.exec(&sh("echo err >&2; exit 3")).await.unwrap().rc, 3);
    let o = t.exec(&sh("echo err >&2; exit 3")).await.unwrap();
    assert_eq!(o.stderr_str(), "err");
    assert_eq!(
        t.exec(&RemoteCommand::argv(["no-such-command-xyz"]))
            .await
            .unwrap()
            .rc,
        127
    );
    let killed = t.exec(&sh("echo before; kill -9 $$")).await.unwrap();
    assert_eq!(killed.rc, -1);
    assert_eq!(killed.stdout_str(), "before");
    // The master survived all that.
    assert_eq!(run(&*t, "echo fine").await, "fine");
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn put_and_get() {
    let specs = hosts();
    let pool = SshPool::new();
    let t = pool.transport(&specs[2]);
    let dir = format!("/tmp/wl-put-{}", std::process::id());
    run(&*t, &format!("rm -rf {dir}; mkdir -p {dir}")).await;
    let dest = format!("{dir}/conf file");
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    t.put(
        &PutFile {
            dest: &dest,
            content: &content,
            mode: Some(0o640),
            owner: Some("daemon"),
            group: Some("adm"),
        },
        None,
    )
    .await
    .expect("put");
    let q = windlass::command::quote(&dest);
    assert_eq!(
        run(&*t, &format!("stat -c '%a %U %G' {q}")).await,
        "640 daemon adm"
    );
    assert_eq!(t.get(&dest, None).await.expect("get"), content);
    // No temporary file is left beside it.
    assert_eq!(run(&*t, &format!("ls -A {dir} | wc -l")).await, "1");
    let missing = t.get(&format!("{dir}/missing"), None).await.unwrap_err();
    assert!(matches!(missing, TransportError::Failed(_)), "{missing:?}");
    run(&*t, &format!("rm -rf {dir}")).await;
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn become_root_and_another_user() {
    let specs = hosts();
    let pool = SshPool::new();
    let t = pool.transport(&specs[0]);
    run(
        &*t,
        "command -v sudo >/dev/null && (id tester >/dev/null 2>&1 || useradd -m tester)",
    )
    .await;
    let to = |user: &str| {
        Some(Become {
            method: BecomeMethod::Sudo,
            user: user.into(),
            flags: vec![],
            with_password: false,
        })
    };
    let who = |b| RemoteCommand::shell("whoami; echo \"$HOME\"").with_become(b);
    let o = t.exec(&who(to("root"))).await.unwrap();
    assert_eq!(o.rc, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str(), "root\n/root");
    let o = t.exec(&who(to("tester"))).await.unwrap();
    assert_eq!(o.rc, 0, "{}", o.stderr_str());
    assert_eq!(o.stdout_str(), "tester\n/home/tester");
    // become applies to put as a whole: the file is created as that user.
    let dest = format!("/home/tester/wl-{}", std::process::id());
    t.put(
        &PutFile {
            dest: &dest,
            content: b"hi",
            mode: Some(0o600),
            owner: None,
            group: None,
        },
        to("tester").as_ref(),
    )
    .await
    .expect("put as tester");
    assert_eq!(
        run(&*t, &format!("stat -c '%U %a' {dest}; rm -f {dest}")).await,
        "tester 600"
    );
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn unreachable_host_fails_fast_and_stays_failed() {
    let specs = hosts();
    let pool = SshPool::new();
    // .250 of the test hosts' own subnet: on their bridge, where nothing answers (an
    // address beyond it would go out of this machine's default route instead)
    let net = specs[0]
        .address
        .rsplit_once('.')
        .expect("an IPv4 address")
        .0;
    let spec = ConnectionSpec {
        inventory_hostname: "ghost".into(),
        address: format!("{net}.250"),
        connect_timeout: Some(Duration::from_secs(2)),
        ..specs[0].clone()
    };
    let t = pool.transport(&spec);
    let start = Instant::now();
    let e = t.exec(&RemoteCommand::argv(["true"])).await.unwrap_err();
    let first = start.elapsed();
    let TransportError::Unreachable(msg) = e else {
        panic!("expected Unreachable, got {e:?}")
    };
    assert!(first < Duration::from_secs(6), "took {first:?}");
    let start = Instant::now();
    let e = t.exec(&RemoteCommand::argv(["true"])).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(
        matches!(&e, TransportError::Unreachable(m) if *m == msg),
        "{e:?}"
    );
    println!("unreachable after {first:?}: {msg}");
}

/// An ed25519 public key line that is not any test host's key.
fn foreign_key(dir: &std::path::Path) -> String {
    let key = dir.join("k");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let pubkey = std::fs::read_to_string(dir.join("k.pub")).unwrap();
    pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn host_keys_strict_refuses_wrong_and_unknown_accept_new_records() {
    let specs = hosts();
    let tmp = tempfile::tempdir().unwrap();
    let kh = tmp.path().join("known_hosts");
    let base = ConnectionSpec {
        host_keys: HostKeyPolicy::Strict,
        extra_args: vec![
            "-o".into(),
            format!("UserKnownHostsFile={}", kh.display()),
            "-o".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
        ],
        ..specs[0].clone()
    };
    let pool = SshPool::new();

    // A wrong key recorded for the address: refused.
    std::fs::write(
        &kh,
        format!("{} {}\n", base.address, foreign_key(tmp.path())),
    )
    .unwrap();
    let e = pool
        .transport(&ConnectionSpec {
            inventory_hostname: "wrong-key".into(),
            ..base.clone()
        })
        .exec(&RemoteCommand::argv(["true"]))
        .await
        .unwrap_err();
    let TransportError::Unreachable(msg) = e else {
        panic!("expected Unreachable, got {e:?}")
    };
    assert!(msg.to_lowercase().contains("host key"), "{msg}");
    println!("wrong host key: {}", msg.lines().last().unwrap_or_default());

    // Unknown under Strict: refused; under AcceptNew: accepted and recorded.
    std::fs::write(&kh, "").unwrap();
    let e = pool
        .transport(&ConnectionSpec {
            inventory_hostname: "unknown-strict".into(),
            ..base.clone()
        })
        .exec(&RemoteCommand::argv(["true"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, TransportError::Unreachable(m) if m.to_lowercase().contains("host key")),
        "{e:?}"
    );
    let t = pool.transport(&ConnectionSpec {
        inventory_hostname: "accept-new".into(),
        host_keys: HostKeyPolicy::AcceptNew,
        ..base.clone()
    });
    assert_eq!(run(&*t, "echo in").await, "in");
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(!recorded.trim().is_empty(), "accept-new recorded nothing");
    // Now known: Strict connects.
    let t = pool.transport(&ConnectionSpec {
        inventory_hostname: "known-strict".into(),
        ..base.clone()
    });
    assert_eq!(run(&*t, "echo known").await, "known");
    pool.close_all().await;
}

/// `n` concurrent commands that each report how many of them were running on the host.
async fn concurrency_probe(t: &Arc<dyn Transport>, n: usize, tag: &str) -> usize {
    let d = format!("/tmp/wl-chan-{tag}-{}", std::process::id());
    run(&**t, &format!("rm -rf {d}; mkdir -p {d}")).await;
    let script =
        format!("touch {d}/$$; n=$(ls {d} | wc -l); sleep 0.2; rm -f {d}/$$; echo \"ok $n\"");
    let outs = futures_join((0..n).map(|_| {
        let t = t.clone();
        let script = script.clone();
        async move { t.exec(&sh(&script)).await }
    }))
    .await;
    let mut max = 0;
    for o in outs {
        let o = o.expect("no channel may be refused");
        assert_eq!(o.rc, 0, "{}", o.stderr_str());
        let line = o.stdout_str();
        let k: usize = line
            .strip_prefix("ok ")
            .and_then(|k| k.trim().parse().ok())
            .unwrap_or_else(|| panic!("bad output {line:?}"));
        max = max.max(k);
    }
    run(&**t, &format!("rm -rf {d}")).await;
    max
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn channel_limit_is_respected() {
    let specs = hosts();
    let pool = SshPool::new();
    let spec = &specs[1];
    assert_eq!(spec.max_channels, windlass::transport::DEFAULT_MAX_CHANNELS);
    let t = pool.transport(spec);
    let start = Instant::now();
    let max = concurrency_probe(&t, 30, "limit").await;
    println!(
        "30 commands with max_channels {}: at most {max} at once, {:?}",
        spec.max_channels,
        start.elapsed()
    );
    assert!(max <= spec.max_channels, "{max} > {}", spec.max_channels);
    assert!(max >= 2, "commands did not run in parallel");
    // 30 concurrent first uses opened one master.
    assert_eq!(masters_in(&pool.control_path().unwrap()), 1);
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn channels_refused_by_sshd_are_retried() {
    let specs = hosts();
    // A limit above sshd's MaxSessions (10): sshd refuses some channels; all must succeed.
    let pool = SshPool::new();
    let spec = ConnectionSpec {
        max_channels: 16,
        ..specs[2].clone()
    };
    let t = pool.transport(&spec);
    let max = concurrency_probe(&t, 30, "retry").await;
    println!("30 commands with max_channels 16 (sshd MaxSessions 10): at most {max} at once");
    assert!(max <= 10, "{max}");
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn timeout_and_master_loss() {
    let specs = hosts();
    let pool = SshPool::new();
    let t = pool.transport(&specs[0]);
    let mut cmd = sh("sleep 5");
    cmd.timeout = Some(Duration::from_millis(500));
    let start = Instant::now();
    let e = t.exec(&cmd).await.unwrap_err();
    assert!(matches!(e, TransportError::Timeout(_)), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(run(&*t, "echo alive").await, "alive");

    // Kill this pool's master: the host becomes unreachable, and stays so without retrying.
    let dir = pool.control_path().unwrap();
    let st = std::process::Command::new("pkill")
        .arg("-f")
        .arg(format!("^ssh .*-S {}", dir.display()))
        .status()
        .unwrap();
    assert!(st.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = t.exec(&RemoteCommand::argv(["true"])).await.unwrap_err();
    assert!(matches!(e, TransportError::Unreachable(_)), "{e:?}");
    let start = Instant::now();
    let e = t.exec(&RemoteCommand::argv(["true"])).await.unwrap_err();
    assert!(matches!(e, TransportError::Unreachable(_)), "{e:?}");
    assert!(start.elapsed() < Duration::from_millis(100));
    // close() forgets the failure: the next command reconnects.
    t.close().await;
    assert_eq!(run(&*t, "echo back").await, "back");
    pool.close_all().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs WINDLASS_TESTHOSTS"]
async fn ping_all_hosts() {
    let mut specs = hosts();
    let net = specs[0]
        .address
        .rsplit_once('.')
        .expect("an IPv4 address")
        .0;
    let ghost = format!("{net}.251");
    specs.push(ConnectionSpec {
        inventory_hostname: "ghost".into(),
        address: ghost,
        connect_timeout: Some(Duration::from_secs(1)),
        ..specs[0].clone()
    });
    let connector = windlass::transport::DefaultConnector::new();
    let res = windlass::ping::ping(&connector, &specs, 5).await;
    for r in &res {
        println!("ping {}: ok={} {:?} {:?}", r.host, r.ok, r.latency, r.error);
    }
    assert_eq!(res.len(), specs.len());
    assert!(res[..res.len() - 1].iter().all(|r| r.ok));
    let ghost = res.last().unwrap();
    assert!(!ghost.ok && ghost.error.is_some());
}
