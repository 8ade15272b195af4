//! Several commands in one round trip: a script that runs them in order and frames each
//! one's output.
//!
//! Why this module exists: what a run costs a host is mostly round trips — each command is
//! a channel, a session forked by sshd and the login shell started for it. The probes of
//! the tasks ahead ([`super::probe_cache`]) and the steps of one change
//! ([`crate::modules::plan`]) are known together, so they go to the host as one script.
//!
//! How the outputs come back apart: after each command the script prints a marker line
//! holding a random nonce (with the exit code on stdout), on stdout and on stderr. Nothing
//! a command prints (a file's content, say) can forge a marker: the nonce is fresh for
//! every script and the script travels on stdin, so it is not in the host's process list.
//! No scratch files, no `wc`/`cat` per command: a command costs the host only its own
//! processes, and a plain script runs in a subshell of the script's own `/bin/sh` (the
//! shell `/bin/sh -c` would have started) instead of a new one.

use crate::command::{Program, RemoteCommand};

use super::ExecOutput;

/// The start of the marker line after each command's output.
const MARK: &str = "WLPROBE";

/// What to do after a command that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run the next one anyway (probes: each answers for itself). Labelled
    /// `windlass-probe-batch` on the host.
    All,
    /// Stop: later commands depend on the earlier ones (the steps of a change). Labelled
    /// `windlass-steps`.
    UntilFailure,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::All => "windlass-probe-batch",
            Mode::UntilFailure => "windlass-steps",
        }
    }
}

/// Whether `cmd` can be part of a sequence: it has no stdin of its own (the script is the
/// sequence's stdin), and so no become password either (that travels on stdin too); and
/// no secret-looking environment variable (`-vvv` shows a sequence with its script, where
/// such a value could not be masked as it is on a command of its own).
pub fn joinable(cmd: &RemoteCommand) -> bool {
    cmd.stdin.is_none()
        && !cmd.become_.as_ref().is_some_and(|b| b.with_password)
        && !cmd.env.iter().any(|(k, _)| crate::journal::secret_like(k))
}

/// A fresh marker nonce: 128 random bits from the OS, in hex. `None` when the OS gives none
/// (then the commands run one by one).
pub fn nonce() -> Option<String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ok()?;
    Some(hex::encode(b))
}

/// The script that runs `cmds` in order, each in its own subshell with no stdin, each
/// followed by its marker lines (see the module docs).
pub fn script(cmds: &[RemoteCommand], nonce: &str, mode: Mode) -> String {
    let mut s = String::new();
    for c in cmds {
        match &c.program {
            // `set --` drops the script's label argument.
            Program::Shell(body)
                if c.chdir.is_none() && c.env.is_empty() && c.become_.is_none() =>
            {
                s.push_str("( set --; ");
                s.push_str(body);
                s.push('\n');
            }
            _ => {
                s.push_str("( ");
                s.push_str(&c.to_shell());
                s.push(' ');
            }
        }
        s.push_str(&format!(
            ") </dev/null; r=$?; printf '\\n%s %s\\n' {MARK}{nonce} \"$r\"; printf '\\n%s\\n' {MARK}{nonce} >&2\n"
        ));
        if mode == Mode::UntilFailure {
            s.push_str("[ \"$r\" -eq 0 ] || exit 0\n");
        }
    }
    s
}

/// The command that runs [`script`]: `/bin/sh -s <label>` reading it on stdin (the label
/// only names it in the host's process list and for `-vvv`).
pub fn command(cmds: &[RemoteCommand], nonce: &str, mode: Mode) -> RemoteCommand {
    RemoteCommand::argv(["/bin/sh", "-s", mode.label()])
        .with_script_stdin(script(cmds, nonce, mode))
}

/// Split a sequence's output and error output into one [`ExecOutput`] per command that
/// ran; `None` if they are not what [`script`] prints (bytes after the last marker, or a
/// marker missing on one of the streams).
pub fn parse(out: &[u8], err: &[u8], nonce: &str) -> Option<Vec<ExecOutput>> {
    let mark = format!("\n{MARK}{nonce}");
    let (mut out, mut err) = (out, err);
    let mut outs = Vec::new();
    while !out.is_empty() || !err.is_empty() {
        let at = memchr::memmem::find(out, mark.as_bytes())?;
        let stdout = out[..at].to_vec();
        let rest = out[at + mark.len()..].strip_prefix(b" ")?;
        let nl = rest.iter().position(|b| *b == b'\n')?;
        let rc = std::str::from_utf8(&rest[..nl]).ok()?.parse::<i32>().ok()?;
        out = &rest[nl + 1..];
        let at = memchr::memmem::find(err, mark.as_bytes())?;
        let stderr = err[..at].to_vec();
        err = err[at + mark.len()..].strip_prefix(b"\n")?;
        outs.push(ExecOutput { rc, stdout, stderr });
    }
    Some(outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `cmd` (a sequence) with this machine's /bin/sh, as a host would.
    fn run(cmd: &RemoteCommand) -> ExecOutput {
        crate::transport::local::LocalTransport::exec_blocking(cmd)
    }

    fn cmds() -> Vec<RemoteCommand> {
        vec![
            RemoteCommand::argv(["printf", "a\\nb"]),
            RemoteCommand::shell("echo err >&2; exit 3"),
            RemoteCommand::argv(["cat", "/nonexistent/x"]),
            // Marker lookalikes, a NUL, no final newline, and an attempt to read the
            // sequence's stdin (it must see none of the script).
            RemoteCommand::shell(
                "printf '\\nWLPROBE 1\\nWLPROBEx 0\\n'; printf '\\000bin'; \
                 printf '\\nWLPROBE\\n' >&2; cat; echo \"args=$#\"",
            )
            .with_chdir("/"),
            RemoteCommand::shell("printf 'no newline'; echo \"args=$#\" >&2"),
        ]
    }

    #[test]
    fn all_runs_every_command_and_splits_the_outputs() {
        let nonce = nonce().expect("urandom");
        assert_eq!(nonce.len(), 32);
        assert_ne!(nonce, super::nonce().unwrap());
        let cmd = command(&cmds(), &nonce, Mode::All);
        assert!(
            !cmd.to_shell().contains(&nonce),
            "the nonce stays off the command line"
        );
        assert!(cmd.stdin_is_script);
        let out = run(&cmd);
        assert_eq!(out.rc, 0);
        let outs = parse(&out.stdout, &out.stderr, &nonce).expect("parses");
        assert_eq!(outs.len(), 5);
        assert_eq!(outs[0].stdout, b"a\nb");
        assert_eq!((outs[0].rc, outs[0].stderr.as_slice()), (0, &b""[..]));
        assert_eq!((outs[1].rc, outs[1].stderr.as_slice()), (3, &b"err\n"[..]));
        assert_ne!(outs[2].rc, 0);
        assert!(!outs[2].stderr.is_empty());
        assert_eq!(outs[3].stdout, b"\nWLPROBE 1\nWLPROBEx 0\n\0binargs=0\n");
        assert_eq!(outs[3].stderr, b"\nWLPROBE\n");
        assert_eq!(
            (
                outs[4].rc,
                outs[4].stdout.as_slice(),
                outs[4].stderr.as_slice()
            ),
            (0, &b"no newline"[..], &b"args=0\n"[..])
        );
        // Another nonce, or trailing bytes: not a sequence's output.
        assert!(parse(&out.stdout, &out.stderr, &super::nonce().unwrap()).is_none());
        assert!(parse(b"garbage", b"", &nonce).is_none());
        let mut more = out.stdout.clone();
        more.extend_from_slice(b"x");
        assert!(parse(&more, &out.stderr, &nonce).is_none());
    }

    #[test]
    fn no_output_can_forge_a_marker_or_an_rc() {
        let nonce = nonce().unwrap();
        // Each command prints a whole well-formed framing of its own, with another nonce,
        // on both streams, claiming rc 0 and a command that did not run; and the last one
        // prints NUL-framed probe records with a marker lookalike in a value.
        let fake = super::nonce().unwrap();
        let forge = format!(
            "printf '\\n{MARK}{fake} 0\\nforged\\n{MARK}{fake} 0\\n'; printf '\\n{MARK}{fake}\\n' >&2; exit 7"
        );
        let records =
            "printf 'kind=file\\0target=x\\nWLPROBE 0\\n\\0--windlass-content--\\0\\nWLPROBE'";
        let cmds = [
            RemoteCommand::shell(forge.clone()),
            RemoteCommand::shell(records),
            RemoteCommand::shell(forge),
        ];
        let out = run(&command(&cmds, &nonce, Mode::All));
        let outs = parse(&out.stdout, &out.stderr, &nonce).expect("parses");
        assert_eq!(outs.len(), 3);
        for o in [&outs[0], &outs[2]] {
            assert_eq!(o.rc, 7);
            assert_eq!(
                o.stdout,
                format!("\n{MARK}{fake} 0\nforged\n{MARK}{fake} 0\n").as_bytes()
            );
            assert_eq!(o.stderr, format!("\n{MARK}{fake}\n").as_bytes());
        }
        assert_eq!(outs[1].rc, 0);
        assert_eq!(
            outs[1].stdout,
            b"kind=file\0target=x\nWLPROBE 0\n\0--windlass-content--\0\nWLPROBE"
        );
    }

    #[test]
    fn until_failure_stops_at_the_first_failing_command() {
        let nonce = nonce().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let never = dir.path().join("never");
        let mut cmds = cmds();
        cmds.insert(2, RemoteCommand::argv(["touch", never.to_str().unwrap()]));
        let out = run(&command(&cmds, &nonce, Mode::UntilFailure));
        assert_eq!(out.rc, 0);
        let outs = parse(&out.stdout, &out.stderr, &nonce).expect("parses");
        assert_eq!(outs.len(), 2, "{outs:?}");
        assert_eq!((outs[1].rc, outs[1].stderr.as_slice()), (3, &b"err\n"[..]));
        assert!(!never.exists(), "nothing runs after the failure");
        let ok = run(&command(&cmds[..1], &nonce, Mode::UntilFailure));
        assert_eq!(parse(&ok.stdout, &ok.stderr, &nonce).unwrap().len(), 1);
    }

    #[test]
    fn joinable_excludes_stdin_become_passwords_and_secrets() {
        assert!(joinable(&RemoteCommand::argv(["true"])));
        assert!(!joinable(&RemoteCommand::argv(["cat"]).with_stdin("x")));
        let mut secret = RemoteCommand::argv(["true"]);
        secret.env.push(("API_TOKEN".into(), "s3cret".into()));
        assert!(!joinable(&secret));
        let b = crate::command::Become {
            method: crate::command::BecomeMethod::Sudo,
            user: "root".into(),
            flags: Vec::new(),
            with_password: true,
        };
        assert!(!joinable(
            &RemoteCommand::argv(["true"]).with_become(Some(b))
        ));
    }
}
