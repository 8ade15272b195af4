//! The helper process: the user's Python running `helper.py`, one JSON request per line on
//! its stdin, one JSON answer per line on its stdout.
//!
//! Why this module exists: finding a module the way ansible-core finds it (collections,
//! redirects, `collections:` lists) and building its AnsiballZ payload are ansible-core's
//! own code; one long-lived helper per run pays Python's and ansible's start-up once. What
//! crosses the pipe is JSON only: a value (a module's output, a path) is a JSON string in a
//! parsed document, never spliced into the protocol.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

/// The helper's source, run with `python -c`.
pub(crate) const SOURCE: &str = include_str!("helper.py");

/// A running helper.
pub(crate) struct Helper {
    python: PathBuf,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The answer to `hello` (ansible-core's version, `INTERPRETER_PYTHON_FALLBACK`).
    pub(crate) hello: Value,
}

/// The answer to `find`.
#[derive(Debug, Deserialize)]
pub(crate) struct Found {
    pub found: bool,
    pub fqcn: Option<String>,
    pub action_plugin: Option<String>,
    pub missing_collection: Option<String>,
    /// The module's file (`None` when not found).
    #[serde(default)]
    pub path: Option<String>,
}

/// The answer to `build`: the payload to pipe to the host's Python.
#[derive(Debug, Deserialize)]
pub(crate) struct Built {
    /// The AnsiballZ script, base64.
    pub payload: String,
    /// `#!<interpreter>` as ansible-core decided it.
    pub shebang: String,
    /// The module's serialization profile (for `parse`).
    pub profile: String,
}

impl Helper {
    /// Start `python` on the helper's source and check it answers.
    pub(crate) fn start(python: PathBuf) -> Result<Helper, String> {
        let mut child = Command::new(&python)
            .args(["-c", SOURCE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("ANSIBLE_NOCOLOR", "1")
            .spawn()
            .map_err(|e| format!("cannot start the bridge helper {}: {e}", python.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the bridge helper has no pipes".into());
        };
        let mut h = Helper {
            python,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            hello: Value::Null,
        };
        h.hello = h
            .request(&serde_json::json!({"op": "hello"}))
            .map_err(|e| format!("{e}; {}", super::python::HOW_TO_ENABLE))?;
        Ok(h)
    }

    /// Send one request, read its answer; an answer with `ok: false` is its error.
    pub(crate) fn request(&mut self, req: &Value) -> Result<Value, String> {
        let died = |e: String| {
            format!(
                "the bridge helper ({}) stopped answering: {e}",
                self.python.display()
            )
        };
        let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.flush())
            .map_err(|e| died(e.to_string()))?;
        let mut answer = String::new();
        match self.stdout.read_line(&mut answer) {
            Ok(0) => return Err(died("it exited".into())),
            Ok(_) => {}
            Err(e) => return Err(died(e.to_string())),
        }
        answer_of(&answer)
    }
}

/// One answer line: its value, or its error.
pub(crate) fn answer_of(line: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("the bridge helper answered something that is not JSON: {e}"))?;
    match v.get("ok") {
        Some(Value::Bool(true)) => Ok(v),
        _ => Err(v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("the bridge helper failed without saying why")
            .to_string()),
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_its_value_or_its_error() {
        assert_eq!(
            answer_of(r#"{"ok": true, "found": false}"#).unwrap()["found"],
            Value::Bool(false)
        );
        assert_eq!(
            answer_of(r#"{"ok": false, "error": "ValueError: no"}"#).unwrap_err(),
            "ValueError: no"
        );
        assert!(answer_of(r#"{"found": true}"#).is_err(), "no ok: an error");
        assert!(
            answer_of("Traceback (most recent call last):")
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn the_helper_writes_nothing_but_answers_on_stdout() {
        // Anything ansible-core prints goes to stderr; answers are written only through
        // the saved stdout, one JSON document per line.
        assert!(SOURCE.contains("sys.stdout = sys.stderr"));
        assert_eq!(SOURCE.matches("_real_stdout.write").count(), 1);
    }
}
