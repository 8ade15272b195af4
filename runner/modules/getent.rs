//! `ansible.builtin.getent`: one database of the host's name service (`passwd`, `group`,
//! `hosts`, `services`, …) as the fact `getent_<database>`.
//!
//! Why this module exists: roles look users, groups and addresses up the way the host's
//! libc does (NSS, not just `/etc/passwd`) before they act. One `getent` run answers; its
//! output and exit code come back in separate framed sections, so an entry the database
//! holds (a gecos field, a host alias) can never pose as the exit code, and the entries are
//! split into fields here exactly as the Python module splits them.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::opt_ansible_bool;
use super::plan::{Fact, Plan, PlanCtx, Planned, Probe};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `getent`.
pub struct Getent;

/// Parameters of `getent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetentParams {
    /// The database (`passwd`, `group`, `shadow`, `hosts`, `services`, …). Required.
    pub database: String,
    /// The key to look up; without it, the whole database (where it can be listed).
    #[serde(default)]
    pub key: Option<String>,
    /// Ask this NSS service only (`getent -s`).
    #[serde(default)]
    pub service: Option<String>,
    /// The separator of an entry's fields; default `:` for `passwd`, `shadow`, `group`
    /// and `gshadow`, runs of whitespace otherwise.
    #[serde(default)]
    pub split: Option<String>,
    /// Fail when `key` is not found. Default `true`; `false` stores `null` for it.
    #[serde(default, deserialize_with = "opt_ansible_bool")]
    pub fail_key: Option<bool>,
}

/// The databases whose fields are split at `:` when `split` is not given.
const COLON: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// What `getent` printed and how it exited: the `getent` module's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetentReply {
    /// The exit code (`2`: a key was not found; `127`: no `getent`).
    pub rc: i32,
    /// Its standard output, exactly.
    pub out: String,
}

/// The command line of one lookup: the database, the key, the service (Ansible's order).
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The database.
    pub database: String,
    /// The key.
    pub key: Option<String>,
    /// The NSS service.
    pub service: Option<String>,
}

impl Fact for GetentReply {
    type Query = Lookup;

    /// A framed reply ([`super::sysprobe`]): `out` holds getent's output, `rc` its exit
    /// code, printed after the output ended.
    fn command(q: &Lookup) -> RemoteCommand {
        let mut args = vec![quote(&q.database).into_owned()];
        args.extend(q.key.as_deref().map(|k| quote(k).into_owned()));
        if let Some(s) = &q.service {
            args.push("-s".into());
            args.push(quote(s).into_owned());
        }
        RemoteCommand::shell(framed(&format!(
            "{}getent {}; wl_rc=$?; {}printf '%s' \"$wl_rc\"; ",
            header("out"),
            args.join(" "),
            header("rc")
        )))
    }

    fn parse(_q: &Lookup, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let rc = s
            .text("rc")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("getent did not report its exit code: {}", out.stderr_str()))?;
        Ok(GetentReply {
            rc,
            out: s.get("out").unwrap_or_default().to_string(),
        })
    }
}

impl Planned for Getent {
    type Params = GetentParams;
    type Facts = GetentReply;

    fn name(&self) -> &'static str {
        "ansible.builtin.getent"
    }

    fn required(&self) -> &'static [&'static str] {
        &["database"]
    }

    fn probe(&self, p: &GetentParams, _ctx: PlanCtx) -> Result<Probe<GetentReply>, String> {
        Ok(Probe::fact(Lookup {
            database: p.database.clone(),
            key: p.key.clone(),
            service: p.service.clone(),
        }))
    }

    fn plan(&self, p: &GetentParams, facts: &GetentReply, _ctx: PlanCtx) -> Result<Plan, String> {
        let tree = format!("getent_{}", p.database);
        let mut entries = Map::new();
        let msg = match facts.rc {
            0 => {
                let split = match (&p.split, COLON.contains(&p.database.as_str())) {
                    (Some(s), _) => Some(s.as_str()),
                    (None, true) => Some(":"),
                    (None, false) => None,
                };
                entries = table(&facts.out, split)?;
                None
            }
            1 => return Err("Missing arguments, or database unknown.".into()),
            2 if p.fail_key == Some(false) => {
                let key = p.key.clone().unwrap_or_else(|| "null".into());
                entries.insert(key, Value::Null);
                Some("One or more supplied key could not be found in the database.")
            }
            2 => {
                return Err("One or more supplied key could not be found in the database.".into());
            }
            3 => return Err("Enumeration not supported on this database.".into()),
            127 => return Err("Failed to find required executable \"getent\"".into()),
            _ => return Err("Unexpected failure!".into()),
        };
        let mut facts_map = Map::new();
        facts_map.insert(tree, Value::Object(entries));
        let mut plan = Plan::default();
        plan.result
            .insert("ansible_facts".into(), Value::Object(facts_map));
        if let Some(m) = msg {
            plan.result.insert("msg".into(), Value::String(m.into()));
        }
        Ok(plan)
    }
}

/// The entries of getent's output, keyed by their first field, as the Python module
/// builds them: each line (Python's `splitlines`) split by `split` (`None`: runs of
/// whitespace); a key seen again turns its value into the list of every entry's fields.
fn table(out: &str, split: Option<&str>) -> Result<Map<String, Value>, String> {
    if split == Some("") {
        return Err("empty separator".into());
    }
    let mut entries = Map::new();
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for line in py_splitlines(out) {
        let fields: Vec<&str> = match split {
            Some(sep) => line.split(sep).collect(),
            None => line.split(py_space).filter(|f| !f.is_empty()).collect(),
        };
        let Some((key, rest)) = fields.split_first() else {
            // Python's `record[0]` of an empty record: the module raises IndexError.
            return Err("list index out of range".into());
        };
        let rest = Value::from(rest.iter().map(|f| f.to_string()).collect::<Vec<_>>());
        let n = seen.entry(key.to_string()).or_insert(0);
        *n += 1;
        match (*n, entries.get_mut(*key)) {
            (1, _) | (_, None) => {
                entries.insert(key.to_string(), rest);
            }
            (2, Some(first)) => *first = Value::Array(vec![first.take(), rest]),
            (_, Some(Value::Array(all))) => all.push(rest),
            (_, Some(other)) => *other = Value::Array(vec![other.take(), rest]),
        }
    }
    Ok(entries)
}

/// Python's `str.isspace` (Unicode whitespace and the separators `\x1c`–`\x1f`).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.splitlines()`: lines split at `\n`, `\r\n`, `\r`, `\v`, `\f`,
/// `\x1c`–`\x1e`, `\x85`, `\u2028`, `\u2029`, without the breaks and without an empty
/// last line after a final break.
fn py_splitlines(s: &str) -> Vec<&str> {
    let is_break = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_break(c) {
            continue;
        }
        lines.push(&s[start..i]);
        start = i + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|(_, n)| *n == '\n') {
            chars.next();
            start += 1;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_of, plan_with, reply, with_stand_in};
    use serde_json::json;

    fn got(p: &GetentParams, rc: &str, out: &str) -> Result<Plan, String> {
        plan_with(
            &Getent,
            p,
            &reply(&[("out", out), ("rc", rc)]),
            PlanCtx::default(),
        )
    }

    #[test]
    fn passwd_entries_split_at_colons() {
        let p: GetentParams = params(json!({"database": "passwd", "key": "root"}));
        insta::assert_yaml_snapshot!(Getent.probe(&p, PlanCtx::default()).unwrap().command());
        let out = "root:x:0:0:root:/root:/bin/bash\n";
        let plan = plan_of(&Getent, &p, &reply(&[("out", out), ("rc", "0")]));
        insta::assert_yaml_snapshot!(plan);
        assert!(!plan.is_change());
    }

    #[test]
    fn other_databases_split_at_whitespace_and_keep_duplicates() {
        let p: GetentParams = params(json!({"database": "hosts"}));
        let out = "127.0.0.1       localhost\n::1  localhost ip6-localhost\n\
                   127.0.0.1 a.example  a\n10.0.0.1 x\n127.0.0.1 b\n";
        let plan = got(&p, "0", out).unwrap();
        insta::assert_yaml_snapshot!(plan.result);
        let p: GetentParams = params(json!({"database": "group", "split": "x"}));
        let plan = got(&p, "0", "root:x:0:\n").unwrap();
        assert_eq!(
            plan.result["ansible_facts"]["getent_group"],
            json!({"root:": [":0:"]})
        );
    }

    #[test]
    fn exit_codes_are_ansibles_messages() {
        let p: GetentParams = params(json!({"database": "passwd", "key": "nobody-here"}));
        assert_eq!(
            got(&p, "2", "").unwrap_err(),
            "One or more supplied key could not be found in the database."
        );
        let p: GetentParams =
            params(json!({"database": "passwd", "key": "nobody-here", "fail_key": false}));
        let plan = got(&p, "2", "").unwrap();
        assert_eq!(
            plan.result["ansible_facts"],
            json!({"getent_passwd": {"nobody-here": null}})
        );
        assert_eq!(
            plan.result["msg"],
            "One or more supplied key could not be found in the database."
        );
        let p: GetentParams = params(json!({"database": "nosuch"}));
        assert_eq!(
            got(&p, "1", "").unwrap_err(),
            "Missing arguments, or database unknown."
        );
        assert_eq!(
            got(&p, "3", "").unwrap_err(),
            "Enumeration not supported on this database."
        );
        assert_eq!(got(&p, "9", "").unwrap_err(), "Unexpected failure!");
        let p: GetentParams = params(json!({"database": "passwd", "split": ""}));
        assert_eq!(got(&p, "0", "a\n").unwrap_err(), "empty separator");
        let p: GetentParams = params(json!({"database": "hosts"}));
        assert_eq!(
            got(&p, "0", "a\n \n").unwrap_err(),
            "list index out of range"
        );
    }

    #[test]
    fn lines_break_where_python_breaks_them() {
        assert_eq!(
            py_splitlines("a\r\nb\rc\x0bd\u{2028}e\n\nf"),
            vec!["a", "b", "c", "d", "e", "", "f"]
        );
        assert_eq!(py_splitlines("a\n"), vec!["a"]);
        assert!(py_splitlines("").is_empty());
    }

    /// The probe, run by `sh` against a `getent` stand-in printing what a hostile name
    /// service could (a header-like line with a guessed nonce and an `rc` section, then
    /// exiting 2): the exit code comes from the shell, the lines stay entries.
    #[test]
    fn a_hostile_entry_cannot_forge_the_exit_code() {
        let p: GetentParams = params(json!({"database": "passwd", "key": "x\n@@rc\n0"}));
        let cmd = GetentReply::command(&Lookup {
            database: p.database.clone(),
            key: p.key.clone(),
            service: None,
        });
        let hostile = "printf '%s\\n' 'evil:x:1:1::/:/bin/sh' \
                       '@@0123456789abcdef0123456789abcdef rc' 0 \"$2\"; exit 2";
        let facts = GetentReply::parse(
            &Lookup {
                database: "passwd".into(),
                key: None,
                service: None,
            },
            &with_stand_in("getent", hostile, &cmd),
        )
        .unwrap();
        assert_eq!(facts.rc, 2);
        assert!(facts.out.ends_with("x\n@@rc\n0\n"), "{:?}", facts.out);
        let e = Getent.plan(&p, &facts, PlanCtx::default()).unwrap_err();
        assert!(e.contains("could not be found"), "{e}");
    }
}
