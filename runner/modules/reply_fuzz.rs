//! One entry point that feeds bytes to every parser of a probe's reply, for fuzzing.
//!
//! Why this module exists: what a host answers a probe is the host's (and its files', its
//! package database's, an HTTP server's) to choose, so every parser of it must return — an
//! error is fine — and never panic, whatever the bytes. The coverage-guided target
//! (`fuzz/fuzz_targets/probe_replies.rs`) and the bounded pass every `cargo test` runs
//! (`runner/fuzz_smoke.rs`) both drive the parsers through [`feed`], so they cover the same
//! set. Not an API: compiled for the unit tests and for the `fuzzing` feature only, which
//! re-exports it as `windlass::fuzzing`.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::plan::{PlanCtx, Planned, plan_from_reply};
use crate::transport::ExecOutput;

/// The parsers [`feed`] reaches, by the index its first byte picks.
pub const PARSERS: &[&str] = &[
    "apt",
    "apt_key",
    "apt_repository",
    "deb822_repository",
    "dpkg_selections",
    "get_url",
    "group",
    "hostname",
    "modprobe",
    "service",
    "sysctl",
    "unarchive",
    "uri",
    "user",
    "setup",
    "wait_for",
    "sections",
    "apt_steps",
    "known_hosts",
    "authorized_key",
    "cron",
    "mount",
    "getent",
    "find",
    "package_facts",
    "service_facts",
    "debconf",
    "timezone",
];

/// The nonce of the replies [`feed`] frames.
const NONCE: &str = "00112233445566778899aabbccddeeff";

/// Feed `data` to one parser. The first byte picks it (modulo [`PARSERS`]); the second
/// byte's low bit says whether the rest is the raw reply (set) or a list of sections —
/// `name\nbody` pieces separated by `\x01` — framed here as a probe frames them, so the
/// parsers behind the framing get reached too.
pub fn feed(data: &[u8]) {
    let [which, how, rest @ ..] = data else {
        return;
    };
    let reply = if how & 1 == 1 {
        rest.to_vec()
    } else {
        frame(rest)
    };
    let out = ExecOutput {
        rc: 0,
        stdout: reply,
        stderr: b"stderr".to_vec(),
    };
    let name = PARSERS[usize::from(*which) % PARSERS.len()];
    run(name, &out);
}

/// `name\nbody` pieces separated by `\x01`, framed as [`super::sysprobe`] frames a reply.
pub fn frame(pieces: &[u8]) -> Vec<u8> {
    let mut s = format!("@@{NONCE}\n").into_bytes();
    for piece in pieces.split(|b| *b == 1) {
        s.extend_from_slice(format!("\n@@{NONCE} ").as_bytes());
        s.extend_from_slice(piece);
    }
    s
}

fn run(name: &str, out: &ExecOutput) {
    use super::*;
    match name {
        "apt" => {
            plan(
                &apt::Apt,
                json!({"name": ["a", "b=1.*", "c=2"], "state": "latest", "update_cache": true, "cache_valid_time": 60}),
                out,
            );
            plan(
                &apt::Apt,
                json!({"deb": "/tmp/x.deb", "name": "d", "state": "absent"}),
                out,
            );
        }
        "apt_key" => {
            plan(
                &apt_key::AptKey,
                json!({"id": "0123456789ABCDEF", "url": "https://x/k", "keyring": "/etc/apt/keyrings/k.gpg"}),
                out,
            );
            plan(
                &apt_key::AptKey,
                json!({"id": "89ABCDEF", "state": "absent"}),
                out,
            );
        }
        "apt_repository" => {
            plan(
                &apt_repository::AptRepository,
                json!({"repo": "deb https://x/ stable main", "filename": "x"}),
                out,
            );
            plan(
                &apt_repository::AptRepository,
                json!({"repo": "deb https://x/ stable main", "state": "absent"}),
                out,
            );
        }
        "deb822_repository" => {
            plan(
                &deb822_repository::Deb822Repository,
                json!({"name": "k", "uris": "https://x/", "suites": "/", "signed_by": "https://x/key"}),
                out,
            );
        }
        "dpkg_selections" => {
            plan(
                &dpkg_selections::DpkgSelections,
                json!({"name": "kubelet", "selection": "hold"}),
                out,
            );
        }
        "get_url" => {
            plan(
                &get_url::GetUrl,
                json!({"url": "http://h/x", "dest": "/opt/", "checksum": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "mode": "0755", "owner": "root"}),
                out,
            );
            plan(
                &get_url::GetUrl,
                json!({"url": "http://h/x", "dest": "/opt/x", "mode": "u+x", "force": true}),
                out,
            );
        }
        "group" => plan(&group::Group, json!({"name": "docker", "gid": "998"}), out),
        "hostname" => plan(&hostname::Hostname, json!({"name": "node1.example"}), out),
        "modprobe" => {
            plan(
                &modprobe::Modprobe,
                json!({"name": "br_netfilter", "params": "a=1 b=2", "persistent": "present"}),
                out,
            );
            plan(
                &modprobe::Modprobe,
                json!({"name": "overlay", "state": "absent", "persistent": "absent"}),
                out,
            );
        }
        "service" => {
            plan(
                &service::Systemd,
                json!({"name": "kubelet", "state": "started", "enabled": true, "masked": false}),
                out,
            );
            plan(
                &service::Service,
                json!({"name": "haproxy", "state": "reloaded"}),
                out,
            );
        }
        "sysctl" => {
            plan(
                &sysctl::Sysctl,
                json!({"name": "net.ipv4.ip_forward", "value": "1", "sysctl_set": true, "sysctl_file": "/etc/sysctl.d/k8s.conf"}),
                out,
            );
            plan(
                &sysctl::Sysctl,
                json!({"name": "vm.swappiness", "state": "absent"}),
                out,
            );
        }
        "unarchive" => {
            plan(
                &unarchive::Unarchive,
                json!({"src": "/tmp/a.tar.gz", "dest": "/opt", "remote_src": true, "list_files": true}),
                out,
            );
            plan(
                &unarchive::Unarchive,
                json!({"src": "/tmp/a.zip", "dest": "/opt", "remote_src": true, "creates": "/opt/a"}),
                out,
            );
        }
        "uri" => {
            if let Some(p) = params::<uri::UriParams>(
                json!({"url": "http://h/x", "return_content": true, "dest": "/tmp/x", "status_code": [200, 404]}),
            ) {
                let _ = uri::parse_response(&p, &out.stdout, 0);
            }
        }
        "user" => {
            plan(
                &user::User,
                json!({"name": "wl", "uid": "2345", "group": "wl", "groups": ["docker", "adm"], "append": true, "password": "$6$x$y", "shell": "/bin/bash", "comment": "W L", "home": "/home/wl"}),
                out,
            );
            plan(
                &user::User,
                json!({"name": "wl", "state": "absent", "remove": true}),
                out,
            );
        }
        "setup" => {
            if let Ok(s) = setup::resolve_subsets(&["all".to_string()]) {
                let _ = setup::parse_facts(&out.stdout, &s, &[]);
            }
        }
        "wait_for" => {
            let text = out.stdout_str();
            for args in [
                json!({"path": "/var/log/x", "search_regex": "ready on (?P<port>[0-9]+)"}),
                json!({"port": 22, "host": "10.0.0.1", "state": "drained"}),
            ] {
                if let Some(p) = params::<wait_for::WaitForParams>(args) {
                    let _ = wait_for::wait_result(&p, &text, std::time::Duration::ZERO);
                }
            }
        }
        "sections" => {
            if let Some(s) = sysprobe::Sections::parse_bytes(&out.stdout) {
                let _ = (s.files(), s.file("/etc/x"), s.map(), s.text("end"));
            }
        }
        "apt_steps" => {
            let mut r = super::TaskResult::new();
            apt::finish_apt(&mut r, std::slice::from_ref(out), true);
        }
        "known_hosts" => {
            let key = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
            plan(
                &known_hosts::KnownHosts,
                json!({"name": "example.com", "key": key}),
                out,
            );
            plan(
                &known_hosts::KnownHosts,
                json!({"name": "example.com", "state": "absent"}),
                out,
            );
        }
        "authorized_key" => {
            let key = "no-pty,from=\"a,b\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c";
            plan(
                &authorized_key::AuthorizedKey,
                json!({"user": "ops", "key": key, "exclusive": true}),
                out,
            );
            plan(
                &authorized_key::AuthorizedKey,
                json!({"user": "ops", "key": "https://x/k", "state": "absent"}),
                out,
            );
        }
        "cron" => {
            plan(
                &cron::Cron,
                json!({"name": "j", "job": "true", "user": "ops"}),
                out,
            );
            plan(
                &cron::Cron,
                json!({"name": "P", "env": true, "job": "x", "cron_file": "f", "user": "root", "insertafter": "A"}),
                out,
            );
            plan(
                &cron::Cron,
                json!({"name": "j", "cron_file": "f", "state": "absent"}),
                out,
            );
        }
        "mount" => {
            plan(
                &mount::Mount,
                json!({"path": "/mnt/a b", "src": "/dev/x", "fstype": "ext4", "state": "mounted"}),
                out,
            );
            plan(
                &mount::Mount,
                json!({"path": "/tmp", "src": "tmpfs", "fstype": "tmpfs", "state": "ephemeral"}),
                out,
            );
            plan(
                &mount::Mount,
                json!({"path": "/tmp", "state": "absent"}),
                out,
            );
        }

        "getent" => {
            plan(&getent::Getent, json!({"database": "hosts"}), out);
            plan(
                &getent::Getent,
                json!({"database": "passwd", "key": "root", "fail_key": false}),
                out,
            );
        }
        "find" => {
            plan(
                &find::Find,
                json!({"paths": ["/a", "/b/"], "recurse": true, "depth": 2, "file_type": "any", "patterns": ["*.c", "x?"], "age": "-1d", "size": "1k", "mode": "0644", "get_checksum": true}),
                out,
            );
            plan(
                &find::Find,
                json!({"paths": "/a", "recurse": true, "contains": "^a", "use_regex": true, "patterns": "^f", "limit": 1}),
                out,
            );
        }
        "package_facts" => plan(&package_facts::PackageFacts, json!({}), out),
        "service_facts" => plan(&service_facts::ServiceFacts, json!({}), out),
        "debconf" => {
            plan(
                &debconf::Debconf,
                json!({"name": "p", "question": "p/q", "vtype": "multiselect", "value": ["b", "a"]}),
                out,
            );
            plan(
                &debconf::Debconf,
                json!({"name": "p", "question": "p/q", "vtype": "password", "value": "x"}),
                out,
            );
        }
        "timezone" => plan(
            &timezone::Timezone,
            json!({"name": "Asia/Tokyo", "hwclock": "local"}),
            out,
        ),
        _ => {}
    }
}

/// The fixed parameters of a parser (they are this file's, not the fuzzer's: a bad one
/// is a bug here, and panics so that the smoke pass in `cargo test` shows it).
fn params<T: DeserializeOwned>(args: Value) -> Option<T> {
    match serde_json::from_value(args.clone()) {
        Ok(p) => Some(p),
        Err(e) => panic!("reply_fuzz: bad fixed parameters {args}: {e}"),
    }
}

/// The plan of `m` for `args` from `out`, in and out of check mode.
fn plan<P: Planned>(m: &P, args: Value, out: &ExecOutput) {
    let Some(p) = params::<P::Params>(args) else {
        return;
    };
    for check in [false, true] {
        let ctx = PlanCtx {
            check,
            diff: true,
            changed_before: check,
        };
        let _ = plan_from_reply(m, &p, out, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_pieces_parse_back() {
        let s = crate::modules::sysprobe::Sections::parse_bytes(&frame(b"a\nx\x01b\ny\n")).unwrap();
        assert_eq!(s.get("a"), Some("x"));
        assert_eq!(s.get("b"), Some("y\n"));
    }
}
