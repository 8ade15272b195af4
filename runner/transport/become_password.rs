//! Feeding the become password to sudo or su without it ever touching argv or output.
//!
//! Why this module exists: `--ask-become-pass` (or `WINDLASS_BECOME_PASSWORD`) must reach
//! `sudo -S` on the host through stdin only. sudo reads the password only when it asks for
//! one; with a NOPASSWD rule the line would become the command's own input (and end up in a
//! file written through stdin). So this wrapper first asks the host, once per become user,
//! whether sudo needs a password (`sudo -n true`), and only then puts the password in front
//! of the command's stdin; otherwise the command runs with `sudo -n`.
//!
//! `su` reads the password from a terminal only; it needs one unless the login user is
//! root. So for su the question is `id -u`, asked once per connection, and the password line
//! goes to the pseudo-terminal wrapper that [`crate::command`] builds for `su`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{ExecOutput, Transport, TransportError};
use crate::command::{BecomeMethod, RemoteCommand};

/// A transport that supplies the become password when sudo or su asks for one.
pub struct BecomePassword {
    inner: Arc<dyn Transport>,
    password: String,
    /// Per become user: does sudo need the password?
    needs: Mutex<HashMap<String, bool>>,
    /// Does su need the password (is the login user not root)?
    su_needs: Mutex<Option<bool>>,
}

impl BecomePassword {
    /// Wrap `inner`, answering with `password`.
    pub fn new(inner: Arc<dyn Transport>, password: String) -> Self {
        BecomePassword {
            inner,
            password,
            needs: Mutex::new(HashMap::new()),
            su_needs: Mutex::new(None),
        }
    }

    async fn sudo_needs_password(&self, user: &str) -> Result<bool, TransportError> {
        let mut needs = self.needs.lock().await;
        if let Some(n) = needs.get(user) {
            return Ok(*n);
        }
        let probe = RemoteCommand::argv(["sudo", "-n", "-u", user, "true"]);
        let n = self.inner.exec(&probe).await?.rc != 0;
        needs.insert(user.to_string(), n);
        Ok(n)
    }

    async fn su_needs_password(&self) -> Result<bool, TransportError> {
        let mut needs = self.su_needs.lock().await;
        if let Some(n) = *needs {
            return Ok(n);
        }
        let out = self.inner.exec(&RemoteCommand::argv(["id", "-u"])).await?;
        let n = out.rc != 0 || String::from_utf8_lossy(&out.stdout).trim() != "0";
        *needs = Some(n);
        Ok(n)
    }
}

#[async_trait::async_trait]
impl Transport for BecomePassword {
    async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let Some(b) = cmd.become_.as_ref().filter(|b| b.with_password) else {
            return self.inner.exec(cmd).await;
        };
        let needs = match b.method {
            BecomeMethod::Sudo => self.sudo_needs_password(&b.user).await?,
            BecomeMethod::Su => self.su_needs_password().await?,
        };
        let mut cmd = cmd.clone();
        if needs {
            let mut stdin = format!("{}\n", self.password).into_bytes();
            stdin.extend(cmd.stdin.take().unwrap_or_default());
            cmd.stdin = Some(stdin);
        } else if let Some(b) = cmd.become_.as_mut() {
            b.with_password = false;
        }
        let mut out = self.inner.exec(&cmd).await?;
        // sudo prints its prompt on stderr; keep it out of results (su's wrapper eats its own).
        if needs && b.method == BecomeMethod::Sudo {
            let prompt = crate::command::SUDO_PROMPT.as_bytes();
            if out.stderr.starts_with(prompt) {
                out.stderr.drain(..prompt.len());
            }
            if out.stderr.starts_with(b"Password: ") {
                out.stderr.drain(..10);
            }
        }
        Ok(out)
    }

    /// With a password to feed, the write goes through [`Transport::exec`] (the password
    /// travels in front of the content on stdin); otherwise to the connection as it is.
    async fn put(
        &self,
        file: &super::PutFile<'_>,
        become_: Option<&crate::command::Become>,
    ) -> Result<(), TransportError> {
        if become_.is_some_and(|b| b.with_password) {
            super::put_via_exec(self, file, become_).await
        } else {
            self.inner.put(file, become_).await
        }
    }

    async fn get(
        &self,
        path: &str,
        become_: Option<&crate::command::Become>,
    ) -> Result<Vec<u8>, TransportError> {
        if become_.is_some_and(|b| b.with_password) {
            super::get_via_exec(self, path, become_).await
        } else {
            self.inner.get(path, become_).await
        }
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    async fn reset(&self) {
        self.inner.reset().await;
    }
}

#[cfg(test)]
mod tests {
    //! Moved from tests/security.rs: the decorator is not public API.

    use std::sync::Mutex;

    use super::*;
    use crate::command::Become;

    /// Records what a transport was asked to run.
    struct Recorder {
        seen: Mutex<Vec<(String, Vec<u8>)>>,
    }

    #[async_trait::async_trait]
    impl Transport for Recorder {
        async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
            let line = cmd.to_shell();
            self.seen
                .lock()
                .unwrap()
                .push((line.clone(), cmd.stdin.clone().unwrap_or_default()));
            // `sudo -n true` fails: a password is needed.
            let rc = if line.starts_with("sudo -n") { 1 } else { 0 };
            Ok(ExecOutput {
                rc,
                stdout: b"out".to_vec(),
                stderr: crate::command::SUDO_PROMPT.as_bytes().to_vec(),
            })
        }
    }

    #[tokio::test]
    async fn become_password_goes_to_stdin_only() {
        let pw = "pw-'$(touch /tmp/pwned-become)'-S3CRET";
        let rec = Arc::new(Recorder {
            seen: Mutex::new(Vec::new()),
        });
        let t = BecomePassword::new(rec.clone(), pw.to_string());
        let b = Become {
            method: BecomeMethod::Sudo,
            user: "root".into(),
            flags: vec![],
            with_password: true,
        };
        let cmd = RemoteCommand::argv(["id"]).with_become(Some(b.clone()));
        let out = t.exec(&cmd).await.unwrap();
        assert!(!out.stdout_str().contains("S3CRET") && !out.stderr_str().contains("S3CRET"));
        let file = RemoteCommand::shell("cat > /tmp/x")
            .with_stdin(b"data".to_vec())
            .with_become(Some(b));
        t.exec(&file).await.unwrap();
        let seen = rec.seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "probe, command, file: {seen:?}");
        for (line, _) in seen.iter() {
            assert!(
                !line.contains("S3CRET"),
                "password on a command line: {line}"
            );
        }
        assert!(seen[1].0.starts_with("sudo -H -S -p "), "{}", seen[1].0);
        assert_eq!(seen[1].1, format!("{pw}\n").into_bytes());
        // The password precedes the command's own input, which arrives intact.
        assert_eq!(seen[2].1, format!("{pw}\ndata").into_bytes());
    }
}
