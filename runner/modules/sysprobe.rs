//! Sectioned probe output for the system modules.
//!
//! Why this module exists: a planned module asks the host everything it needs in ONE shell
//! script. The system modules (apt, sysctl, modprobe, user, …) each gather several facts
//! (command outputs, file contents) in that script. This file gives them one way to write
//! such a script — every fact under a `@@name` header line, file contents base64-encoded so
//! their exact bytes survive — and one parser for what comes back.

use base64::Engine as _;

use crate::command::quote;
use crate::transport::ExecOutput;

/// The sections of a probe's stdout, in order (a header may repeat, e.g. `file`).
#[derive(Clone, Debug, Default)]
pub struct Sections(Vec<(String, String)>);

impl Sections {
    /// Split stdout at `@@header` lines. Text before the first header is ignored.
    pub fn parse(out: &ExecOutput) -> Self {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut v: Vec<(String, String)> = Vec::new();
        for line in text.split('\n') {
            if let Some(h) = line.strip_prefix("@@") {
                v.push((h.to_string(), String::new()));
            } else if let Some((_, body)) = v.last_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        Sections(v)
    }

    /// The body of the first section called `name` (trailing newline kept).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(h, _)| h == name)
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

    /// Every `@@<kind> <arg>` section as `(arg, body)`.
    pub fn each<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().filter_map(move |(h, b)| {
            h.strip_prefix(kind)
                .and_then(|r| r.strip_prefix(' '))
                .map(|arg| (arg, b.as_str()))
        })
    }

    /// Files sent with [`cat_file`] / [`cat_glob`]: `(path, bytes)`, in order.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        self.each("file")
            .map(|(p, b)| (p.to_string(), decode(b)))
            .collect()
    }

    /// The bytes of file `path`, when it was sent.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.each("file")
            .find(|(p, _)| *p == path)
            .map(|(_, b)| decode(b))
    }
}

fn decode(body: &str) -> Vec<u8> {
    let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap_or_default()
}

/// Script text printing the header `@@name`.
pub fn header(name: &str) -> String {
    format!("printf '%s\\n' {}; ", quote(&format!("@@{name}")))
}

/// Script text sending file `path` (when it is a regular file) as a `file` section.
pub fn cat_file(path: &str) -> String {
    let p = quote(path);
    format!("if [ -f {p} ]; then printf '@@file %s\\n' {p}; base64 -w0 {p}; echo; fi; ")
}

/// Script text sending every regular file matching the shell glob `pattern` (not quoted:
/// the caller passes a constant pattern, never user text) as `file` sections.
pub fn cat_glob(pattern: &str) -> String {
    format!(
        "for f in {pattern}; do if [ -f \"$f\" ]; then printf '@@file %s\\n' \"$f\"; base64 -w0 \"$f\"; echo; fi; done; "
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_files_round_trip_through_sh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a b.conf");
        std::fs::write(&f, "x=1\n@@file fake\nno newline").unwrap();
        let script = format!(
            "{}echo hello; {}{}",
            header("greet"),
            cat_file(&f.display().to_string()),
            cat_file("/nonexistent/file")
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        let s = Sections::parse(&ExecOutput {
            rc: 0,
            stdout: out.stdout,
            stderr: vec![],
        });
        assert_eq!(s.text("greet"), Some("hello"));
        let files = s.files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].1, b"x=1\n@@file fake\nno newline");
    }
}

/// Helpers for the system modules' golden plan tests.
#[cfg(test)]
pub mod testutil {
    use serde::de::DeserializeOwned;

    use crate::modules::plan::{Plan, PlanCtx, Planned};
    use crate::transport::ExecOutput;

    /// A successful probe output with `stdout`.
    pub fn out(stdout: &str) -> ExecOutput {
        ExecOutput {
            rc: 0,
            stdout: stdout.as_bytes().to_vec(),
            stderr: vec![],
        }
    }

    /// Typed parameters from JSON (panics on a bad test fixture).
    pub fn params<T: DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("test params")
    }

    /// The plan outside check mode.
    pub fn plan_of<P: Planned>(m: &P, p: &P::Params, facts: &ExecOutput) -> Plan {
        m.plan(p, Some(facts), PlanCtx::default()).expect("plan")
    }

    /// The probe's bytes as a `@@file` section.
    pub fn file_section(path: &str, content: &str) -> String {
        format!(
            "@@file {path}\n{}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, content)
        )
    }
}
