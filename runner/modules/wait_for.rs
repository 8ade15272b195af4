//! `ansible.builtin.wait_for`: wait for a port, a file or a string, on the host.
//!
//! Why this module exists: cluster bring-up waits for an API server port, a socket file or
//! a log line before going on. The wait runs ON the target host as ONE `sh` loop (no round
//! trip per attempt): a port on the host itself is checked in `/proc/net/tcp{,6}` for a
//! LISTEN socket on a loopback or wildcard address (no connection is made), a port on
//! another address is tried with `bash`'s `/dev/tcp` under `timeout` (Debian has bash;
//! dash has no `/dev/tcp`), a file with `test -e`. `search_regex` is a Perl-compatible regex
//! matched line by line with the host's `grep -P` (close to Python's `re`; Debian's grep
//! has it); `match_groups` are then computed from the first matching line with the
//! `regex` crate.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::params::choice;
use super::plan::{field_names, params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};
use crate::command::{RemoteCommand, quote};

fn default_host() -> String {
    "127.0.0.1".into()
}

/// Parameters of `wait_for`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitForParams {
    /// Address or name to wait for, as seen from the target host. Default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
    /// TCP port to wait for.
    #[serde(default)]
    pub port: Option<u16>,
    /// File to wait for (alias `dest`); mutually exclusive with `port`.
    #[serde(default, alias = "dest")]
    pub path: Option<String>,
    /// A Perl-compatible regex (the host's `grep -P`, line by line) to find in the file or
    /// in what the port sends.
    #[serde(default)]
    pub search_regex: Option<String>,
    /// `started` (default), `present` (= started), `stopped`, `absent` (= stopped) or
    /// `drained` (no active connections on the port).
    #[serde(default)]
    pub state: Option<WaitForState>,
    /// Seconds to wait before the first check. Default 0.
    #[serde(default)]
    pub delay: Option<f64>,
    /// Seconds to wait in all (delay included). Default 300.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Seconds between checks. Default 1.
    #[serde(default)]
    pub sleep: Option<f64>,
    /// Seconds one connection attempt may take. Default 5.
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    /// Message to fail with instead of the default one.
    #[serde(default)]
    pub msg: Option<String>,
    /// With `state: drained`: peers whose connections are ignored. Accepted, not used.
    #[allow(
        dead_code,
        reason = "an accepted parameter (its value checked when read) that windlass has no use for"
    )]
    #[serde(default)]
    pub exclude_hosts: Option<Value>,
    /// With `state: drained`: TCP states counted as active. Default `ESTABLISHED`,
    /// `FIN_WAIT1`, `FIN_WAIT2`, `SYN_RECV`, `SYN_SENT`, `TIME_WAIT`.
    #[serde(default)]
    pub active_connection_states: Option<Vec<String>>,
}

choice! {
    /// `wait_for`'s `state` (choices in lib/ansible/modules/wait_for.py).
    pub enum WaitForState {
        /// The port accepts connections (or the file exists). The default.
        Started = "started",
        /// As `started`.
        Present = "present",
        /// The port refuses connections (or the file is gone).
        Stopped = "stopped",
        /// As `stopped`.
        Absent = "absent",
        /// The port has no active connections.
        Drained = "drained",
    }
    else "value of state must be one of: absent, drained, present, started, stopped, got: {got}"
}

/// What is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Present / listening.
    Present,
    /// Gone / closed.
    Absent,
    /// No active connections.
    Drained,
}

fn want(p: &WaitForParams) -> Want {
    match p.state.unwrap_or(WaitForState::Started) {
        WaitForState::Started | WaitForState::Present => Want::Present,
        WaitForState::Stopped | WaitForState::Absent => Want::Absent,
        WaitForState::Drained => Want::Drained,
    }
}

fn is_local(host: &str) -> bool {
    matches!(
        host,
        "127.0.0.1" | "localhost" | "::1" | "0.0.0.0" | "::" | "ip6-localhost"
    )
}

fn tcp_state_code(s: &str) -> Option<&'static str> {
    Some(match s {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        "CLOSE" => "07",
        "CLOSE_WAIT" => "08",
        "LAST_ACK" => "09",
        "LISTEN" => "0A",
        "CLOSING" => "0B",
        _ => return None,
    })
}

/// The shell condition that holds when the awaited thing is there (for `Present`) —
/// `Absent` negates it — and the text naming it in messages.
fn condition(p: &WaitForParams, w: Want) -> Result<(String, String), String> {
    let regex = p.search_regex.as_deref();
    match (&p.path, p.port) {
        (Some(_), Some(_)) => {
            Err("port and path parameter can not both be passed to wait_for".into())
        }
        (Some(path), None) => {
            if w == Want::Drained {
                return Err(
                    "state=drained should only be used for checking a port in the wait_for module"
                        .into(),
                );
            }
            let q = quote(path);
            Ok(match regex {
                Some(r) if w == Want::Present => (
                    format!("[ -e {q} ] && grep -Pq -e {} -- {q} 2>/dev/null", quote(r)),
                    format!("search string {r} in {path}"),
                ),
                _ => (format!("[ -e {q} ]"), format!("file {path}")),
            })
        }
        (None, Some(port)) => {
            let hex = format!("{port:04X}");
            if w == Want::Drained {
                let states = match &p.active_connection_states {
                    Some(v) => v.clone(),
                    None => [
                        "ESTABLISHED",
                        "FIN_WAIT1",
                        "FIN_WAIT2",
                        "SYN_RECV",
                        "SYN_SENT",
                        "TIME_WAIT",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                };
                let codes = states
                    .iter()
                    .map(|s| {
                        tcp_state_code(s).ok_or_else(|| {
                            format!("unknown TCP state {s:?} in active_connection_states")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                // "Present" = some active connection on the local port.
                return Ok((
                    format!(
                        "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -Eq '^ *[0-9]+: [0-9A-F]+:{hex} [0-9A-F]+:[0-9A-F]{{4}} ({})'",
                        codes.join("|")
                    ),
                    format!("{}:{port} to drain", p.host),
                ));
            }
            let what = format!("{}:{port}", p.host);
            if is_local(&p.host) && regex.is_none() {
                // A LISTEN (0A) socket on a wildcard or loopback address.
                Ok((
                    format!(
                        "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -Eq '^ *[0-9]+: (00000000|0100007F|0{{32}}|0{{24}}01000000|0{{16}}FFFF00000100007F):{hex} [0-9A-F]+:[0-9A-F]{{4}} 0A '"
                    ),
                    what,
                ))
            } else {
                let ct = p.connect_timeout.unwrap_or(5.0);
                let connect = format!(
                    "timeout {ct} bash -c 'exec 3<>\"/dev/tcp/$1/$2\"{}' _ {} {port}",
                    if regex.is_some() { " && cat <&3" } else { "" },
                    quote(&p.host)
                );
                Ok(match regex {
                    Some(r) if w == Want::Present => (
                        format!(
                            "{connect} 2>/dev/null > \"$o\"; grep -Pq -e {} \"$o\"",
                            quote(r)
                        ),
                        format!("search string {r} on {what}"),
                    ),
                    _ => (format!("{connect} </dev/null >/dev/null 2>&1"), what),
                })
            }
        }
        (None, None) => Err("wait_for needs port or path here".into()),
    }
}

/// The one remote loop. Prints `WL_OK` when the condition was met in time, `WL_TIMEOUT`
/// otherwise, then (for a regex) `WL_MATCH` and the first matching line. A port's answer
/// searched for a regex is kept in a scratch file under `remote_tmp`.
pub fn wait_script(p: &WaitForParams, remote_tmp: &str) -> Result<String, String> {
    let w = want(p);
    let (cond, _) = condition(p, w)?;
    let negate = matches!(w, Want::Absent | Want::Drained);
    let timeout = p.timeout.unwrap_or(300.0).max(0.0).ceil() as u64;
    let mut s = String::new();
    if p.port.is_some() && !(is_local(&p.host) && p.search_regex.is_none()) && w != Want::Drained {
        s.push_str("command -v bash >/dev/null 2>&1 || { echo WL_NOBASH; exit 0; }\n");
    }
    if cond.contains("\"$o\"") {
        s.push_str(&crate::command::scratch_prelude(remote_tmp));
        s.push_str("\no=\"$d/o\"\n");
    }
    s.push_str(&format!("end=$(( $(date +%s) + {timeout} ))\n"));
    if let Some(d) = p.delay.filter(|d| *d > 0.0) {
        s.push_str(&format!("sleep {d}\n"));
    }
    s.push_str(&format!(
        "while :; do\n  if {}{cond}; then echo WL_OK; break; fi\n  if [ \"$(date +%s)\" -ge \"$end\" ]; then echo WL_TIMEOUT; break; fi\n  sleep {}\ndone\n",
        if negate { "! " } else { "" },
        p.sleep.unwrap_or(1.0)
    ));
    if let (Some(r), Want::Present) = (&p.search_regex, w) {
        let src = match &p.path {
            Some(path) => quote(path).into_owned(),
            None => "\"$o\"".to_string(),
        };
        s.push_str(&format!(
            "echo WL_MATCH; grep -P -m1 -e {} -- {src} 2>/dev/null\n",
            quote(r)
        ));
    }
    Ok(s)
}

/// Turn the loop's output into the result (pure).
pub fn wait_result(
    p: &WaitForParams,
    stdout: &str,
    elapsed: Duration,
) -> Result<TaskResult, String> {
    let w = want(p);
    let (_, what) = condition(p, w)?;
    let mut r = TaskResult::new();
    r.set_changed(false);
    r.insert("elapsed", json!(elapsed.as_secs()));
    r.insert(
        "state",
        json!(p.state.unwrap_or(WaitForState::Started).as_str()),
    );
    if let Some(path) = &p.path {
        r.insert("path", json!(path));
    }
    if let Some(port) = p.port {
        r.insert("port", json!(port));
    }
    if let Some(re) = &p.search_regex {
        r.insert("search_regex", json!(re));
    }
    // The loop's own words come first; the matched line (the file's or the port's text,
    // which may hold anything) comes last, after `WL_MATCH`, and is never read for them.
    let (status, matched) = match stdout.split_once("WL_MATCH\n") {
        Some((s, m)) => (s, Some(m)),
        None => (stdout, None),
    };
    if status.lines().any(|l| l == "WL_NOBASH") {
        r.set_failed(true);
        r.set_msg(json!(
            "wait_for on a remote host:port needs bash on the target host (for /dev/tcp)"
        ));
        return Ok(r);
    }
    let ok = status.lines().any(|l| l == "WL_OK");
    if !ok {
        let default = match w {
            Want::Present => format!("Timeout when waiting for {what}"),
            Want::Absent if p.path.is_some() => {
                format!(
                    "Timeout when waiting for {} to be absent.",
                    p.path.as_deref().unwrap_or("")
                )
            }
            Want::Absent => format!("Timeout when waiting for {what} to stop."),
            Want::Drained => format!("Timeout when waiting for {what}"),
        };
        r.set_failed(true);
        r.set_msg(json!(p.msg.clone().unwrap_or(default)));
        return Ok(r);
    }
    if let (Some(re), Some(after)) = (&p.search_regex, matched) {
        let line = after.lines().next().unwrap_or("");
        let mut groups = Vec::new();
        let mut named = Map::new();
        if let Ok(rx) = regex::Regex::new(re) {
            if let Some(c) = rx.captures(line) {
                for g in c.iter().skip(1) {
                    groups.push(g.map(|m| json!(m.as_str())).unwrap_or(Value::Null));
                }
                for n in rx.capture_names().flatten() {
                    if let Some(m) = c.name(n) {
                        named.insert(n.to_string(), json!(m.as_str()));
                    }
                }
            }
        }
        r.insert("match_groups", Value::Array(groups));
        r.insert("match_groupdict", Value::Object(named));
    }
    Ok(r)
}

/// `ansible.builtin.wait_for`.
pub struct WaitFor;

#[async_trait::async_trait]
impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "ansible.builtin.wait_for"
    }
    fn spec(&self) -> ParamSpec {
        let mut params: Vec<(&'static str, &'static [&'static str])> =
            field_names::<WaitForParams>()
                .iter()
                .map(|n| (*n, &[] as &'static [&'static str]))
                .collect();
        params.push(("dest", &[]));
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            exclusive: &[&["port", "path"]],
            ..ParamSpec::default()
        }
    }
    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let p: WaitForParams = params("wait_for", args)?;
        let start = Instant::now();
        if p.port.is_none() && p.path.is_none() {
            // Neither: just wait `timeout` seconds (Ansible's behaviour), on the controller.
            let secs = p.timeout.unwrap_or(300.0) + p.delay.unwrap_or(0.0);
            tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
            let mut r = TaskResult::with_changed(false);
            r.insert("elapsed", json!(start.elapsed().as_secs()));
            return Ok(r);
        }
        let script = wait_script(&p, &ctx.remote_tmp).map_err(ModuleError::Failed)?;
        let mut cmd = RemoteCommand::shell(script).with_become(ctx.become_.clone());
        let budget = Duration::from_secs_f64(
            p.timeout.unwrap_or(300.0).max(0.0)
                + p.delay.unwrap_or(0.0).max(0.0)
                + p.connect_timeout.unwrap_or(5.0).max(0.0)
                + 30.0,
        );
        cmd.timeout = Some(ctx.timeout.map_or(budget, |t| t.min(budget)));
        let out = ctx.transport.exec(&cmd).await?;
        if out.rc != 0 {
            return Err(ModuleError::Failed(format!(
                "wait_for could not run on the host: {}",
                out.stderr_str()
            )));
        }
        wait_result(&p, &out.stdout_str(), start.elapsed()).map_err(ModuleError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::params::refused;

    fn p(v: Value) -> WaitForParams {
        let Value::Object(m) = v else { panic!() };
        params("wait_for", m).unwrap()
    }

    #[test]
    fn golden_scripts() {
        insta::assert_snapshot!(
            "wait_for_local_port",
            wait_script(&p(json!({"port": 6443, "timeout": 2})), "~/.ansible/tmp").unwrap()
        );
        insta::assert_snapshot!(
            "wait_for_remote_regex",
            wait_script(
                &p(json!({"host": "10.0.0.1", "port": 22, "search_regex": "OpenSSH", "delay": 1})),
                "~/.ansible/tmp"
            )
            .unwrap()
        );
        insta::assert_snapshot!(
            "wait_for_file_absent",
            wait_script(
                &p(json!({"path": "/run/x.lock", "state": "absent"})),
                "~/.ansible/tmp"
            )
            .unwrap()
        );
        insta::assert_snapshot!(
            "wait_for_drained",
            wait_script(
                &p(json!({"port": 80, "state": "drained"})),
                "~/.ansible/tmp"
            )
            .unwrap()
        );
    }

    #[test]
    fn local_port_check_reads_proc_net_tcp() {
        // Run the generated condition against a recorded /proc/net/tcp.
        let (cond, _) = condition(&p(json!({"port": 8080})), Want::Present).unwrap();
        let d = tempfile::tempdir().unwrap();
        let tcp = d.path().join("tcp");
        let check = |content: &str| {
            std::fs::write(&tcp, content).unwrap();
            let c = cond.replace("/proc/net/tcp /proc/net/tcp6", tcp.to_str().unwrap());
            std::process::Command::new("sh")
                .arg("-c")
                .arg(c)
                .status()
                .unwrap()
                .success()
        };
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        assert!(check(&format!(
            "{head}   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        )));
        assert!(check(&format!(
            "{head}   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        )));
        // Established, not listening; another port; another address.
        assert!(!check(&format!(
            "{head}   0: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        )));
        assert!(!check(&format!(
            "{head}   0: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        )));
        assert!(!check(&format!(
            "{head}   0: 0B00D50A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        )));
    }

    #[test]
    fn results_and_messages() {
        let t = Duration::from_secs(2);
        let r = wait_result(&p(json!({"port": 8080})), "WL_TIMEOUT", t).unwrap();
        insta::assert_yaml_snapshot!("wait_for_timeout", r);
        let r = wait_result(
            &p(json!({"path": "/x", "state": "absent"})),
            "WL_TIMEOUT",
            t,
        )
        .unwrap();
        assert_eq!(
            r.registered()["msg"],
            "Timeout when waiting for /x to be absent."
        );
        let r = wait_result(&p(json!({"port": 1, "msg": "api down"})), "WL_TIMEOUT", t).unwrap();
        assert_eq!(r.registered()["msg"], "api down");
        let r = wait_result(
            &p(json!({"path": "/var/log/x", "search_regex": "ready on port (?P<port>[0-9]+)"})),
            "WL_OK\nWL_MATCH\nserver ready on port 6443\n",
            t,
        )
        .unwrap();
        insta::assert_yaml_snapshot!("wait_for_match", r);
        // The matched line is the file's text: a line reading like the loop's own words
        // does not turn a timeout into success.
        let r = wait_result(
            &p(json!({"path": "/var/log/x", "search_regex": "WL_"})),
            "WL_TIMEOUT\nWL_MATCH\nWL_OK\n",
            t,
        )
        .unwrap();
        assert_eq!(r.registered()["failed"], true, "{r:?}");
        assert_eq!(
            r.registered()["msg"],
            "Timeout when waiting for search string WL_ in /var/log/x"
        );
        let e = wait_script(&p(json!({"port": 1, "path": "/x"})), "~/.ansible/tmp").unwrap_err();
        assert!(e.contains("can not both"), "{e}");
        let e = refused::<WaitForParams>(json!({"port": 1, "state": "up"}));
        insta::assert_snapshot!("wait_for_err_state", e);
    }
}
