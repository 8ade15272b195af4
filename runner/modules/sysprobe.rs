//! Framed probe replies: the one way a module's probe script prints what it found, and the
//! one parser for what comes back.
//!
//! Why this module exists: a planned module asks the host everything it needs in ONE shell
//! script (apt, sysctl, modprobe, user, uri, setup, …), and the reply mixes text the script
//! prints with text the host or a variable controls: a file's content, a command's output,
//! an HTTP body or header, a package's version, a path. None of that may be able to fake a
//! section (a newline in a path once became a new field of the file probe's reply).
//!
//! The framing: the script first takes a fresh random nonce on the host — a builtin `read`
//! of the kernel's `/proc/sys/kernel/random/uuid`, so no extra process (`od` of
//! `/dev/urandom` where that file is missing) — and prints it as its first line,
//! `@@<nonce>`. Every section then starts with the line `@@<nonce> <name>`, printed with a
//! newline before it, and its body is exactly the bytes up to the next such line. Data
//! printed after the nonce was drawn cannot know it: it is in no argument list and no
//! environment. Files travel base64-encoded after their NUL-terminated path (a path holds
//! no NUL), so their exact bytes survive too. A reply without the nonce line is an error,
//! never an empty host.
//!
//! Why the nonce is drawn on the host, not by the controller like
//! [`crate::transport::sequence::nonce`]: a probe must be the same command every time it is
//! worked out (the probe batcher, [`crate::transport::probe_cache`], answers a task by its
//! exact shell line, and plans are snapshot-tested), and a probe that runs on its own is
//! `sh -c <script>`, readable by any local user in the host's process list.

use base64::Engine as _;

use crate::command::quote;
use crate::transport::ExecOutput;

/// Script text that draws the reply's nonce into `$wl_n` and prints the framing line; it
/// must come before anything else the script prints (see the module docs).
pub const PRELUDE: &str = "{ read -r wl_n </proc/sys/kernel/random/uuid; } 2>/dev/null || \
     wl_n=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \\n'); printf '@@%s\\n' \"$wl_n\"; ";

/// `script` with the [`PRELUDE`] in front: a probe whose reply [`Sections::parse`] reads.
pub fn framed(script: &str) -> String {
    format!("{PRELUDE}{script}")
}

/// The sections of a framed reply, in order (a header may repeat, e.g. `file`).
#[derive(Clone, Debug, Default)]
pub struct Sections(Vec<(String, String)>);

/// The shortest nonce accepted (the od fallback's 32 hex digits; a uuid has 36 characters).
const MIN_NONCE: usize = 32;

impl Sections {
    /// The sections of a probe's stdout; an error when the reply is not framed (the script
    /// did not run, or not as sent).
    pub fn parse(out: &ExecOutput) -> Result<Self, String> {
        Self::parse_bytes(&out.stdout).ok_or_else(|| {
            format!(
                "the host's reply to the probe is not what windlass sent for (exit code {}): {}",
                out.rc,
                out.stderr_str()
            )
        })
    }

    /// [`Sections::parse`] of raw stdout; `None` when there is no nonce line or a header
    /// line is cut short.
    pub fn parse_bytes(stdout: &[u8]) -> Option<Self> {
        let (nonce, rest) = nonce_line(stdout)?;
        let mark = [b"\n@@", nonce, b" "].concat();
        let mut v = Vec::new();
        let Some(first) = memchr::memmem::find(rest, &mark) else {
            return Some(Sections(v));
        };
        let mut cur = &rest[first + mark.len()..];
        loop {
            let nl = memchr::memchr(b'\n', cur)?;
            let (name, body) = (&cur[..nl], &cur[nl + 1..]);
            let next = memchr::memmem::find(body, &mark);
            let end = next.unwrap_or(body.len());
            v.push((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(&body[..end]).into_owned(),
            ));
            match next {
                Some(j) => cur = &body[j + mark.len()..],
                None => return Some(Sections(v)),
            }
        }
    }

    /// The body of the first section called `name`, exactly as printed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(h, _)| h == name)
            .map(|(_, b)| b.as_str())
    }

    /// The bodies of every section called `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(h, _)| h == name)
            .map(|(_, b)| b.as_str())
    }

    /// Whether a section called `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The trimmed body of `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim)
    }

    /// The sections by name (the first of each name).
    pub fn map(&self) -> std::collections::BTreeMap<&str, &str> {
        let mut m = std::collections::BTreeMap::new();
        for (h, b) in &self.0 {
            m.entry(h.as_str()).or_insert(b.as_str());
        }
        m
    }

    /// Files sent with [`cat_file`] / [`cat_glob`]: `(path, bytes)`, in order. A path here
    /// is one the host found (a glob's match); look a path the controller sent up with
    /// [`Sections::file`].
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        self.0
            .iter()
            .filter(|(h, _)| h == "file")
            .filter_map(|(_, b)| b.split_once('\0'))
            .map(|(p, b)| (p.to_string(), decode(b)))
            .collect()
    }

    /// The bytes of file `path`, when it was sent.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.files()
            .into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b)
    }
}

/// The nonce on the reply's framing line (the first line `@@<nonce>` with a nonce of hex
/// digits and dashes), and the reply after that line's text.
fn nonce_line(stdout: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut start = 0;
    while start < stdout.len() {
        let end = memchr::memchr(b'\n', &stdout[start..]).map_or(stdout.len(), |i| start + i);
        if let Some(n) = stdout[start..end].strip_prefix(b"@@") {
            if n.len() >= MIN_NONCE && n.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-') {
                return Some((n, &stdout[end..]));
            }
        }
        start = end + 1;
    }
    None
}

fn decode(body: &str) -> Vec<u8> {
    let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap_or_default()
}

/// Script text printing the header of section `name` (after the [`PRELUDE`]).
pub fn header(name: &str) -> String {
    format!("printf '\\n@@%s %s\\n' \"$wl_n\" {}; ", quote(name))
}

/// Script text sending file `path` (when it is a regular file) as a `file` section.
pub fn cat_file(path: &str) -> String {
    let p = quote(path);
    format!(
        "if [ -f {p} ]; then {}printf '%s\\0' {p}; base64 -w0 {p}; fi; ",
        header("file")
    )
}

/// Script text sending every regular file matching the shell glob `pattern` (not quoted:
/// the caller passes a constant pattern, never user text) as `file` sections.
pub fn cat_glob(pattern: &str) -> String {
    format!(
        "for f in {pattern}; do if [ -f \"$f\" ]; then {}printf '%s\\0' \"$f\"; base64 -w0 \"$f\"; fi; done; ",
        header("file")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> ExecOutput {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(framed(script))
            .output()
            .unwrap();
        ExecOutput {
            rc: 0,
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    #[test]
    fn sections_and_files_round_trip_through_sh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a b\n@@file x.conf");
        std::fs::write(&f, "x=1\n@@file fake\nno newline").unwrap();
        let path = f.display().to_string();
        let script = format!(
            "{}echo hello; {}{}",
            header("greet"),
            cat_file(&path),
            cat_file("/nonexistent/file")
        );
        let s = Sections::parse(&run(&script)).unwrap();
        assert_eq!(s.get("greet"), Some("hello\n"));
        let files = s.files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, path);
        assert_eq!(s.file(&path).unwrap(), b"x=1\n@@file fake\nno newline");
    }

    /// A glob's matches come back with their paths as the host has them, newlines and
    /// header-like lines included.
    #[test]
    fn glob_paths_are_data() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a.conf", "b\n@@file c.conf", "\n@@end\n.conf"];
        for (i, n) in names.iter().enumerate() {
            std::fs::write(dir.path().join(n), format!("{i}\n@@file x\n")).unwrap();
        }
        let pattern = format!("{}/*.conf", quote(&dir.path().display().to_string()));
        let s = Sections::parse(&run(&format!("{}{}", cat_glob(&pattern), header("end")))).unwrap();
        let mut got = s.files();
        got.sort();
        let mut want: Vec<(String, Vec<u8>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let p = dir.path().join(n).display().to_string();
                (p, format!("{i}\n@@file x\n").into_bytes())
            })
            .collect();
        want.sort();
        assert_eq!(got, want);
        assert!(s.has("end"));
    }

    /// Data that prints what a header looked like before the nonce, or a header with
    /// another nonce, stays data.
    #[test]
    fn data_cannot_forge_a_section() {
        let forged = "\n@@end\n@@shadow\n!\n@@0123456789abcdef0123456789abcdef shadow\n!";
        let script = format!(
            "{}printf '%s' {}; {}echo real; ",
            header("passwd"),
            quote(forged),
            header("shadow")
        );
        let s = Sections::parse(&run(&script)).unwrap();
        assert_eq!(s.get("passwd"), Some(forged));
        assert_eq!(s.text("shadow"), Some("real"));
        assert!(!s.has("end"));
    }

    /// Two replies never share a nonce, and the nonce is no fixed text.
    #[test]
    fn every_reply_draws_its_own_nonce() {
        let a = run("");
        let b = run("");
        assert_ne!(a.stdout, b.stdout);
        assert!(nonce_line(&a.stdout).is_some(), "{:?}", a.stdout);
    }

    #[test]
    fn a_reply_without_the_nonce_line_is_an_error() {
        let out = ExecOutput {
            rc: 127,
            stdout: b"@@passwd\nroot:x:0:0::/root:/bin/sh\n@@end\n".to_vec(),
            stderr: b"sh: not found".to_vec(),
        };
        let e = Sections::parse(&out).unwrap_err();
        assert!(
            e.contains("exit code 127") && e.contains("not found"),
            "{e}"
        );
        // A short or non-hex nonce is no nonce.
        assert!(Sections::parse_bytes(b"@@\n\n@@ x\ny\n").is_none());
        assert!(Sections::parse_bytes(b"@@end\n\n@@end x\ny\n").is_none());
        // A header cut short (the script was killed) is no reply either.
        let n = "0123456789abcdef0123456789abcdef";
        assert!(Sections::parse_bytes(format!("@@{n}\n\n@@{n} x").as_bytes()).is_none());
        let ok = Sections::parse_bytes(format!("motd\n@@{n}\n\n@@{n} x\ny").as_bytes()).unwrap();
        assert_eq!(ok.get("x"), Some("y"));
    }
}

/// Helpers for the system modules' golden plan tests.
#[cfg(test)]
pub mod testutil {
    use serde::de::DeserializeOwned;

    use crate::modules::plan::{Plan, PlanCtx, Planned};
    use crate::transport::ExecOutput;

    /// The nonce of the replies [`out`] builds.
    pub const NONCE: &str = "0123456789abcdef0123456789abcdef";

    /// A successful probe output with `stdout`. When `stdout` has `@@name` lines (the
    /// fixtures' short hand for section headers), it becomes a framed reply: the nonce line
    /// first, each `@@name` line the header a probe prints (see the module docs). Other
    /// text is taken as it is.
    pub fn out(stdout: &str) -> ExecOutput {
        let sectioned = stdout.split('\n').any(|l| l.starts_with("@@"));
        let stdout = if sectioned {
            let mut s = format!("@@{NONCE}\n");
            for line in stdout.split_inclusive('\n') {
                match line.strip_prefix("@@") {
                    Some(h) => s.push_str(&format!("\n@@{NONCE} {h}")),
                    None => s.push_str(line),
                }
            }
            s
        } else {
            stdout.to_string()
        };
        ExecOutput {
            rc: 0,
            stdout: stdout.into_bytes(),
            stderr: vec![],
        }
    }

    /// A framed reply holding exactly these sections (bodies as printed, so a body may
    /// hold anything, the fixtures' `@@name` short hand included).
    pub fn reply(sections: &[(&str, &str)]) -> ExecOutput {
        let mut s = format!("@@{NONCE}\n");
        for (name, body) in sections {
            s.push_str(&format!("\n@@{NONCE} {name}\n{body}"));
        }
        ExecOutput {
            rc: 0,
            stdout: s.into_bytes(),
            stderr: vec![],
        }
    }

    /// What `cmd` prints when `sh` runs it with `tool` replaced by a stand-in script whose
    /// body is `script` (arguments as `$1`, `$2`, …): a probe against a host's hostile tool
    /// output.
    pub fn with_stand_in(
        tool: &str,
        script: &str,
        cmd: &crate::command::RemoteCommand,
    ) -> ExecOutput {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(tool);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let search = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .env("PATH", search)
            .output()
            .unwrap();
        ExecOutput {
            rc: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    /// The body of a `file` section for [`reply`].
    pub fn file_body(path: &str, content: impl AsRef<[u8]>) -> String {
        format!(
            "{path}\0{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, content)
        )
    }

    /// Typed parameters from JSON (panics on a bad test fixture).
    pub fn params<T: DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("test params")
    }

    /// The plan outside check mode, from the probe's reply.
    pub fn plan_of<P: Planned>(m: &P, p: &P::Params, reply: &ExecOutput) -> Plan {
        plan_with(m, p, reply, PlanCtx::default()).expect("plan")
    }

    /// The plan (or the error) in `ctx`, from the probe's reply.
    pub fn plan_with<P: Planned>(
        m: &P,
        p: &P::Params,
        reply: &ExecOutput,
        ctx: PlanCtx,
    ) -> Result<Plan, String> {
        crate::modules::plan::plan_from_reply(m, p, reply, ctx)
    }

    /// The probe's command (`None`: the host need not be asked), outside check mode.
    pub fn probe_of<P: Planned>(m: &P, p: &P::Params) -> Option<crate::command::RemoteCommand> {
        m.probe(p, PlanCtx::default())
            .expect("probe")
            .command()
            .cloned()
    }

    /// The probe's bytes as a `@@file` section, in [`out`]'s short hand.
    pub fn file_section(path: &str, content: impl AsRef<[u8]>) -> String {
        format!(
            "@@file\n{path}\0{}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, content)
        )
    }
}
