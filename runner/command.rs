//! Commands as values, and the one place where they become shell text.
//!
//! Why this module exists: modules describe what to run as structured [`RemoteCommand`]s
//! (argv or a shell script, working directory, environment, stdin, privilege escalation).
//! Only [`RemoteCommand::to_shell`] turns one into the line a remote `sh` runs, quoting
//! every user-supplied string with [`quote`]. Nothing else in windlass splices strings into
//! shell text.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// A program and its arguments, each quoted on the way out (like `command:`).
    Argv(Vec<String>),
    /// A script for `/bin/sh -c` (like `shell:`); the script itself is passed as one
    /// quoted argument, so it is interpreted by the remote shell only.
    Shell(String),
}

/// Privilege escalation for one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Become {
    /// `sudo` (default) or `su`.
    pub method: BecomeMethod,
    /// The user to become (default `root`).
    pub user: String,
    /// Extra flags for the become program (`become_flags`), split like a shell would.
    pub flags: Vec<String>,
    /// Whether a password will be written to the command's stdin before its own input.
    pub with_password: bool,
}

/// How to escalate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BecomeMethod {
    /// `sudo -u USER`.
    Sudo,
    /// `su USER -c`.
    Su,
}

/// The prompt windlass gives sudo, so it can recognise a password request.
pub(crate) const SUDO_PROMPT: &str = "[windlass-become-password]";

/// A command to run on a host, as a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemoteCommand {
    /// What to run.
    pub program: Program,
    /// Working directory (`chdir`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chdir: Option<String>,
    /// Extra environment variables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// Bytes fed to the command's stdin.
    #[serde(skip)]
    pub stdin: Option<Vec<u8>>,
    /// Whether `stdin` is a script windlass wrote (a sequence of its own commands), which
    /// `-vvv` shows with the line; any other stdin is data and is never shown.
    #[serde(skip)]
    pub stdin_is_script: bool,
    /// Privilege escalation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub become_: Option<Become>,
    /// Give up after this long.
    #[serde(skip)]
    pub timeout: Option<Duration>,
}

impl RemoteCommand {
    /// Run `argv` as is.
    pub fn argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(Program::Argv(argv.into_iter().map(Into::into).collect()))
    }

    /// Run `script` with `/bin/sh -c`.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new(Program::Shell(script.into()))
    }

    fn new(program: Program) -> Self {
        RemoteCommand {
            program,
            chdir: None,
            env: Vec::new(),
            stdin: None,
            stdin_is_script: false,
            become_: None,
            timeout: None,
        }
    }

    /// Set stdin.
    pub fn with_stdin(mut self, stdin: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Set stdin to a script windlass wrote ([`RemoteCommand::stdin_is_script`]).
    pub fn with_script_stdin(mut self, script: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(script.into());
        self.stdin_is_script = true;
        self
    }

    /// Set the working directory.
    pub fn with_chdir(mut self, dir: impl Into<String>) -> Self {
        self.chdir = Some(dir.into());
        self
    }

    /// Set privilege escalation.
    pub fn with_become(mut self, b: Option<Become>) -> Self {
        self.become_ = b;
        self
    }

    /// The line a POSIX shell on the host runs. Every user-supplied string is quoted here.
    pub fn to_shell(&self) -> String {
        let mut inner = String::new();
        if let Some(dir) = &self.chdir {
            inner.push_str("cd ");
            inner.push_str(&quote(dir));
            inner.push_str(" && ");
        }
        if !self.env.is_empty() {
            inner.push_str("env");
            for (k, v) in &self.env {
                inner.push(' ');
                inner.push_str(&quote(&format!("{k}={v}")));
            }
            inner.push(' ');
        }
        match &self.program {
            Program::Argv(argv) => inner.push_str(&join(argv)),
            Program::Shell(script) => {
                inner.push_str("/bin/sh -c ");
                inner.push_str(&quote(script));
            }
        }
        match &self.become_ {
            None => inner,
            Some(b) => {
                let mut line = String::new();
                match b.method {
                    BecomeMethod::Sudo => {
                        line.push_str("sudo -H ");
                        if b.with_password {
                            line.push_str("-S -p ");
                            line.push_str(&quote(SUDO_PROMPT));
                        } else {
                            line.push_str("-n");
                        }
                        for f in &b.flags {
                            line.push(' ');
                            line.push_str(&quote(f));
                        }
                        line.push_str(" -u ");
                        line.push_str(&quote(&b.user));
                        line.push_str(" -- /bin/sh -c ");
                        line.push_str(&quote(&inner));
                    }
                    BecomeMethod::Su => {
                        let mut su = String::from("su");
                        for f in &b.flags {
                            su.push(' ');
                            su.push_str(&quote(f));
                        }
                        su.push(' ');
                        su.push_str(&quote(&b.user));
                        su.push_str(" -c ");
                        if b.with_password {
                            su.push_str(&quote(&format!("{SU_FDS}{inner}")));
                            line.push_str(&su_with_password(&su));
                        } else {
                            su.push_str(&quote(&inner));
                            line.push_str(&su);
                        }
                    }
                }
                line
            }
        }
    }
}

/// What the command under `su` does first when a password was typed on its terminal: take
/// back the real stdin, stdout and stderr, which [`su_with_password`] parked on fds 3–5.
const SU_FDS: &str = "exec 0<&3 1>&4 2>&5 3<&- 4>&- 5>&-; ";

/// `su` reads a password only from a terminal, and flushes what was typed ahead before it
/// prompts. So the line `su` (already complete with `-c`) runs under util-linux `script`,
/// which gives it a pseudo-terminal; the shell waits for the `Password:` prompt on that
/// terminal before typing the password (the first line of stdin, read by the `read`
/// builtin, so never in any argv). The command itself keeps the connection's stdin, stdout
/// and stderr through fds 3–5, untouched by the terminal; what `su` says on the terminal
/// after the password (`su: Authentication failure`) goes to stderr. The exit code is the
/// command's (`script -e`).
fn su_with_password(su: &str) -> String {
    format!(
        "IFS= read -r p || exit 1; d=$(mktemp -d) || exit 1; trap 'rm -rf \"$d\"' EXIT; \
         mkfifo \"$d/i\" \"$d/o\" || exit 1; exec 3<&0 4>&1 5>&2; \
         SHELL=/bin/sh LC_ALL=C script -qec {} /dev/null <\"$d/i\" >\"$d/o\" 2>&1 & s=$!; \
         exec 6>\"$d/i\"; \
         {{ if [ \"$(head -c 9)\" = Password: ]; then printf '%s\\n' \"$p\" >&6; IFS= read -r _; fi; p=; tr -d '\\r' >&2; }} <\"$d/o\"; \
         wait $s",
        quote(su)
    )
}

/// The command that writes `file` atomically: the content arrives on stdin, goes to a
/// temporary file beside the destination, gets its mode and owner, then is renamed over the
/// destination — only if every byte arrived. Without a mode, an existing destination's
/// mode is kept.
pub(crate) fn atomic_write(file: &crate::transport::PutFile<'_>) -> RemoteCommand {
    let dest = quote(file.dest);
    // A connection cut mid-transfer looks like end-of-input to `cat`: the size check keeps
    // a short file from ever being renamed into place. The connection's stderr is gone by
    // then, so reporting that raises SIGPIPE: the signal traps turn any signal into an exit,
    // which runs the EXIT trap and removes the temp file (sh skips EXIT traps when a signal
    // kills it).
    let size = file.content.len();
    let mut script = format!(
        "set -e; t=$(mktemp \"$(dirname {dest})/.windlass.XXXXXXXX\"); trap 'rm -f \"$t\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; cat > \"$t\"; \
         [ \"$(wc -c < \"$t\")\" -eq {size} ] || {{ echo 'incomplete transfer' >&2; exit 1; }}; "
    );
    match file.mode {
        Some(m) => script.push_str(&format!("chmod {m:o} \"$t\"; ")),
        None => script.push_str(&format!(
            "if [ -e {dest} ]; then chmod --reference={dest} \"$t\"; else chmod 644 \"$t\"; fi; "
        )),
    }
    match (file.owner, file.group) {
        (Some(o), Some(g)) => {
            script.push_str(&format!("chown {} \"$t\"; ", quote(&format!("{o}:{g}"))))
        }
        (Some(o), None) => script.push_str(&format!("chown {} \"$t\"; ", quote(o))),
        (None, Some(g)) => script.push_str(&format!("chgrp {} \"$t\"; ", quote(g))),
        (None, None) => {}
    }
    script.push_str(&format!("mv -f \"$t\" {dest}; trap - EXIT"));
    RemoteCommand::shell(script).with_stdin(file.content.to_vec())
}

/// Where modules keep scratch files on a host unless `remote_tmp` / `ansible_remote_tmp`
/// say otherwise (Ansible's default; the remote shell expands `~`).
pub(crate) const DEFAULT_REMOTE_TMP: &str = "~/.ansible/tmp";

/// Check a `remote_tmp` base: an absolute path, `~` or a path under `~/` (the only
/// expansion windlass does on the host; `$VARS` are not expanded, template them instead).
pub(crate) fn check_remote_tmp(base: &str) -> Result<(), String> {
    if base.starts_with('/') || base == "~" || base.starts_with("~/") {
        Ok(())
    } else {
        Err(format!(
            "must be an absolute path or start with `~/`, found `{base}`"
        ))
    }
}

/// A `remote_tmp` base as shell text: quoted with [`quote`], except that a leading `~`
/// (alone or before `/`) becomes `"$HOME"`, which the remote shell expands for the user the
/// command runs as.
pub(crate) fn remote_tmp_word(base: &str) -> String {
    if base == "~" {
        return "\"$HOME\"".into();
    }
    match base.strip_prefix("~/") {
        Some("") => "\"$HOME\"/".into(),
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None => quote(base).into_owned(),
    }
}

/// The shell prelude of a command that needs scratch files on the host: it makes `base`
/// (mode 0700 for what it creates, as Ansible), then a fresh per-command directory in it,
/// in `$d`, removed when the command ends, whatever its status, and on a signal. Fails
/// the command (exit 1) when either cannot be made. The umask is only changed for the
/// `mkdir`, so what the command itself creates keeps the usual modes. No trailing
/// separator: follow it with `; ` or a newline.
pub(crate) fn scratch_prelude(base: &str) -> String {
    let b = remote_tmp_word(base);
    format!(
        "(umask 077 && mkdir -p -- {b}) && d=$(mktemp -d -- {b}/windlass.XXXXXXXX) || exit 1; \
         trap 'rm -rf \"$d\"' EXIT; trap 'exit 1' HUP INT TERM PIPE"
    )
}

/// Shell text that saves the command's stdin as `"$d"/<name>` (inside the
/// [`scratch_prelude`]'s directory) and fails the command unless all `size` bytes arrived:
/// a connection cut mid-transfer looks like end-of-input to `cat`.
pub(crate) fn scratch_receive(name: &str, size: usize) -> String {
    let f = format!("\"$d\"/{}", quote(name));
    format!(
        "cat > {f} && [ \"$(wc -c < {f})\" -eq {size} ] || {{ echo 'incomplete transfer' >&2; exit 1; }}"
    )
}

/// Quote one word for a POSIX shell. Safe words stay as they are, others are single-quoted.
pub fn quote(s: &str) -> Cow<'_, str> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Quote and join words with spaces.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Split a command line into words the way a shell would (for `command: "a b 'c d'"`).
/// `None` when the quoting is unbalanced.
pub fn split(line: &str) -> Option<Vec<String>> {
    shlex::split(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_inert() {
        for evil in [
            "$(touch /tmp/pwned)",
            "`id`",
            "a'b",
            "x\ny",
            "; rm -rf /",
            "",
        ] {
            let q = quote(evil);
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {q}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), evil);
        }
    }

    #[test]
    fn cut_transfer_with_stderr_gone_leaves_no_temp_file() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f").display().to_string();
        std::fs::write(&dest, "old").unwrap();
        let content = vec![b'x'; 1 << 20];
        let cmd = atomic_write(&crate::transport::PutFile {
            dest: &dest,
            content: &content,
            mode: None,
            owner: None,
            group: None,
        });
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The connection dies: stderr's reader goes away, then input stops short.
        drop(child.stderr.take());
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&content[..content.len() / 2]).unwrap();
        drop(stdin);
        let st = child.wait().unwrap();
        assert!(!st.success());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "temp file left: {left:?}");
    }

    #[test]
    fn su_with_a_password_is_valid_sh_and_keeps_the_command_quoted() {
        let c = RemoteCommand::shell("echo '$(touch /tmp/pwned)'").with_become(Some(Become {
            method: BecomeMethod::Su,
            user: "o'brien".into(),
            flags: vec!["-l".into()],
            with_password: true,
        }));
        let line = c.to_shell();
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(&line)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}");
        assert!(line.starts_with("IFS= read -r p"), "{line}");
        assert!(line.contains("script -qec "), "{line}");
        // Without a password, plain su.
        let mut c = c;
        c.become_.as_mut().unwrap().with_password = false;
        assert!(c.to_shell().starts_with("su -l 'o'\\''brien' -c "));
    }

    #[test]
    fn shell_line_with_chdir_env_and_become() {
        let mut c = RemoteCommand::argv(["echo", "a b"]).with_chdir("/tmp/x y");
        c.env.push(("K".into(), "v w".into()));
        assert_eq!(c.to_shell(), "cd '/tmp/x y' && env 'K=v w' echo 'a b'");
        let c = RemoteCommand::shell("echo $HOME").with_become(Some(Become {
            method: BecomeMethod::Sudo,
            user: "root".into(),
            flags: vec![],
            with_password: false,
        }));
        assert_eq!(
            c.to_shell(),
            "sudo -H -n -u root -- /bin/sh -c '/bin/sh -c '\\''echo $HOME'\\'''"
        );
    }

    #[test]
    fn scratch_prelude_quotes_a_hostile_base() {
        insta::assert_snapshot!(
            "scratch_prelude",
            format!(
                "{}\n{}\n{}\n{}",
                scratch_prelude("~/.ansible/tmp"),
                scratch_prelude("/srv/it's $(id) `x`/tmp dir"),
                scratch_prelude("~/a b/'c'"),
                scratch_receive("my script.sh", 12)
            )
        );
        assert!(check_remote_tmp("relative/tmp").is_err());
        assert!(check_remote_tmp("~user/tmp").is_err());
        assert!(check_remote_tmp("~").is_ok());
        // Run it: the hostile base is made literally (nothing expands but `~`), 0700, and
        // the per-command directory is gone afterwards, even when the command fails.
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        for (base, want) in [
            (
                format!("{}/it's $(touch pwned) `id`/t m p", home.path().display()),
                home.path().join("it's $(touch pwned) `id`").join("t m p"),
            ),
            ("~/a b/'c'".to_string(), home.path().join("a b").join("'c'")),
        ] {
            let script = format!(
                "{}; {}; test -s \"$d\"/'x y' && echo \"$d\"; exit 7",
                scratch_prelude(&base),
                scratch_receive("x y", 5)
            );
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("HOME", home.path())
                .current_dir(home.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"hello").unwrap();
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(7), "{script}");
            let d = String::from_utf8(out.stdout).unwrap();
            assert!(d.trim().starts_with(want.to_str().unwrap()), "{d}");
            let mode = std::fs::metadata(&want).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            assert_eq!(std::fs::read_dir(&want).unwrap().count(), 0);
            assert!(!home.path().join("pwned").exists());
        }
        // A short transfer fails before anything uses the file.
        let script = format!(
            "{}; {}; echo ran",
            scratch_prelude("~/t"),
            scratch_receive("f", 9)
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("HOME", home.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read_dir(home.path().join("t")).unwrap().count(), 0);
    }
}
