//! The SSH subset of the conformance suite: cases under `ssh/<name>/` run both tools against
//! real test hosts, and compare the hosts' end state besides the trace.
//!
//! Why this exists: most of what windlass does for real happens on a remote host over SSH
//! (modules' probes, file transfer, become, facts), which local-connection cases never
//! exercise. The hosts come from `$WINDLASS_TESTHOSTS` (the inventory `windlass lab
//! inventory` prints; `.ci/run` boots them and sets it); every host of that inventory is
//! in the case's inventory, so cases name hosts `all` (or `all[0]`, …).
//!
//! Each tool's run starts from the same host state: before it, every host gets a fresh,
//! empty per-case folder (given to the playbook as the extra var `conf_dir`) and runs the
//! case's optional `reset` script (as root, e.g. to delete a user the case creates). After
//! it, each line of the case's optional `state` file is a shell command run on every host
//! (in `conf_dir`, with `$conf_dir` set); its output and exit code join the trace. So a
//! case checks what ended up on the hosts, not only what the tools said.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The suite's folder of SSH cases (under `tests/conformance/`), and their name prefix.
pub const DIR: &str = "ssh";

/// One test host: inventory name, address, user and key.
struct Host {
    name: String,
    addr: String,
    user: String,
    key: String,
}

/// The test hosts of `$WINDLASS_TESTHOSTS`.
pub struct TestHosts {
    inventory: String,
    path: PathBuf,
    hosts: Vec<Host>,
}

impl TestHosts {
    /// The hosts `$WINDLASS_TESTHOSTS` names; `None` when it is unset.
    pub fn from_env() -> Option<Self> {
        let path = PathBuf::from(std::env::var_os("WINDLASS_TESTHOSTS")?);
        let inventory = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("WINDLASS_TESTHOSTS={}: {e}", path.display()));
        let inv = windlass::inventory::Inventory::load(std::slice::from_ref(&path))
            .expect("WINDLASS_TESTHOSTS inventory");
        let mut hosts = Vec::new();
        for name in inv.host_names() {
            let hv = inv.host_vars(&name);
            let var = |k: &str| hv.get(k).and_then(|v| v.as_str()).map(String::from);
            hosts.push(Host {
                addr: var("ansible_host").unwrap_or_else(|| name.clone()),
                user: var("ansible_user").unwrap_or_else(|| "root".into()),
                key: var("ansible_ssh_private_key_file").unwrap_or_default(),
                name,
            });
        }
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(!hosts.is_empty(), "{}: no hosts", path.display());
        Some(TestHosts {
            inventory,
            path,
            hosts,
        })
    }

    /// What the run says it uses.
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        format!("{} ({})", names.join(", "), self.path.display())
    }

    /// The inventory both tools get.
    pub fn inventory(&self) -> &str {
        &self.inventory
    }

    /// Gives every host a fresh, empty folder for `case` and runs the case's `reset` script;
    /// returns the folder.
    pub fn reset(&self, case: &str, src: &Path) -> Result<String, String> {
        let remote = format!("/var/tmp/windlass-conformance/{}", case.replace('/', "_"));
        let extra = std::fs::read_to_string(src.join("reset")).unwrap_or_default();
        let script = format!("rm -rf {remote} && mkdir -p {remote} && cd {remote}\n{extra}");
        for h in &self.hosts {
            let (rc, out) = self.exec(h, &script)?;
            if rc != 0 {
                return Err(format!("resetting {} failed ({rc}): {out}", h.name));
            }
        }
        Ok(remote)
    }

    /// The output of each command of the case's `state` file on each host, as trace lines.
    pub fn state(&self, src: &Path, remote: &str) -> Result<String, String> {
        let text = std::fs::read_to_string(src.join("state")).unwrap_or_default();
        let mut out = String::new();
        for cmd in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            for h in &self.hosts {
                let script = format!("conf_dir={remote}; cd \"$conf_dir\" && {{ {cmd}\n}}");
                let (rc, text) = self.exec(h, &script)?;
                out.push_str(&format!("state {} $ {cmd}\n", h.name));
                for l in text.lines() {
                    out.push_str(&format!("  | {l}\n"));
                }
                out.push_str(&format!("  rc {rc}\n"));
            }
        }
        Ok(out)
    }

    /// Runs `script` on `h` as its inventory user; (exit code, stdout and stderr).
    fn exec(&self, h: &Host, script: &str) -> Result<(i32, String), String> {
        let mut cmd = Command::new("ssh");
        if !h.key.is_empty() {
            cmd.args(["-i", &h.key, "-o", "IdentitiesOnly=yes"]);
        }
        let out = cmd
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "ConnectTimeout=10",
                &format!("{}@{}", h.user, h.addr),
                script,
            ])
            .output()
            .map_err(|e| format!("ssh to {}: {e}", h.name))?;
        let code = out.status.code().unwrap_or(-1);
        if code == 255 {
            return Err(format!(
                "ssh to {} failed: {}",
                h.name,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((code, text))
    }
}
