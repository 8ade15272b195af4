//! `ansible.builtin.debconf`: preseed one debconf answer of a package (`tzdata`, a
//! `keyboard-configuration` layout, a licence question) before it is installed or
//! reconfigured.
//!
//! Why this module exists: unattended installs must answer the questions a package would
//! ask. One probe reads the package's answers (`debconf-show`, and for a password
//! `debconf-get-selections`), each output in its own framed section so no answer can pose
//! as the exit code or another section; the plan compares as the Python module does
//! (booleans lower-cased, multiselect lists sorted, a password read from the selections)
//! and `debconf-set-selections` reads the new line on its standard input.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::TaskResult;
use super::params::{ansible_bool, choice};
use super::plan::{Fact, FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `debconf`.
pub struct Debconf;

/// Parameters of `debconf`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebconfParams {
    /// The package the question belongs to (also `pkg`). Required.
    #[serde(alias = "pkg")]
    pub name: String,
    /// The question (also `selection`, `setting`); needs `vtype` and `value`.
    #[serde(default, alias = "selection", alias = "setting")]
    pub question: Option<String>,
    /// The question's type.
    #[serde(default)]
    pub vtype: Option<Vtype>,
    /// The answer (also `answer`); a list for `multiselect`.
    #[serde(default, alias = "answer")]
    pub value: Option<Value>,
    /// Do not mark the question as seen (`debconf-set-selections -u`).
    #[serde(default, deserialize_with = "ansible_bool")]
    pub unseen: bool,
}

choice! {
    /// `debconf`'s `vtype` (choices in lib/ansible/modules/debconf.py).
    pub enum Vtype {
        /// `true`/`false`.
        Boolean = "boolean",
        /// An error message.
        ErrorText = "error",
        /// Several of the choices.
        Multiselect = "multiselect",
        /// A note.
        Note = "note",
        /// A password (compared with `debconf-get-selections`' value).
        Password = "password",
        /// The seen flag.
        Seen = "seen",
        /// One of the choices.
        Select = "select",
        /// A line of text.
        String = "string",
        /// Free text.
        Text = "text",
        /// A title.
        Title = "title",
    }
    else "value of vtype must be one of: boolean, error, multiselect, note, password, seen, select, string, text, title, got: {got}"
}

/// The package's answers as `debconf-show` (and, for a password, `debconf-get-selections`)
/// print them: the module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// `debconf-show`'s exit code, output and errors.
    pub show: (i32, String, String),
    /// `debconf-get-selections`' exit code, output and errors, when a password is compared.
    pub selections: Option<(i32, String, String)>,
}

/// What the probe reads.
#[derive(Clone, Debug)]
pub struct AnswersQuery {
    /// The package.
    pub package: String,
    /// Whether to read the selections too (a password).
    pub selections: bool,
}

/// Script text running `cmd` with its output, errors and exit code in sections
/// `<name>`, `<name>_err`, `<name>_rc`.
fn captured(name: &str, cmd: &str) -> String {
    format!(
        "wl_e=$(mktemp); {}{cmd} 2>\"$wl_e\"; wl_rc=$?; {}cat \"$wl_e\"; rm -f \"$wl_e\"; {}printf '%s' \"$wl_rc\"; ",
        header(name),
        header(&format!("{name}_err")),
        header(&format!("{name}_rc")),
    )
}

impl Fact for Answers {
    type Query = AnswersQuery;

    /// A framed reply ([`super::sysprobe`]): `show`/`show_err`/`show_rc`, and
    /// `sel`/`sel_err`/`sel_rc` for a password.
    fn command(q: &AnswersQuery) -> RemoteCommand {
        // The module runs `debconf-show <name>` through a shell (its words joined).
        let mut s = captured("show", &format!("debconf-show {}", quote(&q.package)));
        if q.selections {
            s.push_str(&captured("sel", "debconf-get-selections"));
        }
        RemoteCommand::shell(framed(&s))
    }

    fn parse(q: &AnswersQuery, out: &ExecOutput) -> Result<Self, String> {
        let s = Sections::parse(out)?;
        let get = |n: &str| -> Result<(i32, String, String), String> {
            let rc = s
                .text(&format!("{n}_rc"))
                .and_then(|r| r.parse().ok())
                .ok_or_else(|| format!("debconf: no exit code for {n}: {}", out.stderr_str()))?;
            let body = s.get(n).unwrap_or_default().to_string();
            let err = s.get(&format!("{n}_err")).unwrap_or_default().to_string();
            Ok((rc, body, err))
        };
        Ok(Answers {
            show: get("show")?,
            selections: if q.selections {
                Some(get("sel")?)
            } else {
                None
            },
        })
    }
}

/// The answer as the module compares it: a string, or a list for `multiselect`.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    Text(String),
    List(Vec<String>),
}

impl Answer {
    fn to_value(&self) -> Value {
        match self {
            Answer::Text(s) => Value::String(s.clone()),
            Answer::List(l) => Value::from(l.clone()),
        }
    }
}

/// Python's `str()` of a scalar answer.
fn text_of(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(if *b { "True" } else { "False" }.into()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "value must be a string for this vtype, got {other}"
        )),
    }
}

/// `get_selections`: `debconf-show`'s `[*] question: value` lines.
fn selections(out: &str) -> Result<Map<String, Value>, String> {
    let mut m = Map::new();
    for line in out.lines() {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| "not enough values to unpack (expected 2, got 1)".to_string())?;
        m.insert(
            k.trim_matches('*').trim().to_string(),
            Value::String(v.trim().to_string()),
        );
    }
    Ok(m)
}

/// `get_password_value`: the fourth tab-separated field of the selection line.
fn password(out: &str, pkg: &str, question: &str) -> String {
    for line in out.split('\n').filter(|l| l.starts_with(pkg)) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() <= 3 {
            return String::new();
        }
        if f[1] == question && f[2] == "password" {
            return f[3].to_string();
        }
    }
    String::new()
}

impl Planned for Debconf {
    type Params = DebconfParams;
    type Facts = Answers;

    fn name(&self) -> &'static str {
        "ansible.builtin.debconf"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name|pkg"]
    }

    fn probe(&self, p: &DebconfParams, _ctx: PlanCtx) -> Result<Probe<Answers>, String> {
        let given = [p.question.is_some(), p.vtype.is_some(), p.value.is_some()];
        if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
            return Err("parameters are required together: question, vtype, value".into());
        }
        Ok(Probe::fact(AnswersQuery {
            package: p.name.clone(),
            selections: p.vtype == Some(Vtype::Password),
        }))
    }

    fn plan(&self, p: &DebconfParams, f: &Answers, ctx: PlanCtx) -> Result<Plan, String> {
        let (rc, out, err) = &f.show;
        if *rc != 0 {
            return Err(err.clone());
        }
        let mut prev = selections(out)?;
        let mut plan = Plan::default();
        let (Some(q), Some(vtype), Some(value)) = (&p.question, p.vtype, &p.value) else {
            plan.result
                .insert("msg".into(), Value::String(String::new()));
            plan.result.insert("current".into(), Value::Object(prev));
            return Ok(plan);
        };
        let value = match (vtype, value) {
            (Vtype::Multiselect, Value::Array(items)) => {
                Answer::List(items.iter().map(text_of).collect::<Result<Vec<_>, _>>()?)
            }
            (Vtype::Boolean, v) => Answer::Text(text_of(v)?.to_lowercase()),
            (_, v) => Answer::Text(text_of(v)?),
        };
        let mut value = value;
        let existing = match (prev.get(q).and_then(Value::as_str), vtype, &mut value) {
            (None, ..) => None,
            (Some(e), Vtype::Boolean, _) => Some(Answer::Text(e.to_lowercase())),
            (Some(_), Vtype::Password, _) => {
                let (rc, sel, err) = f.selections.clone().unwrap_or_default();
                if rc != 0 {
                    return Err(format!(
                        "Failed to get the value '{q}' from '{}': {err}",
                        p.name
                    ));
                }
                Some(Answer::Text(password(&sel, &p.name, q)))
            }
            (Some(e), Vtype::Multiselect, Answer::List(given)) => {
                // Sorted only to compare with an existing answer, as the module does.
                given.sort();
                let mut l: Vec<String> = e.split(',').map(|i| i.trim().to_string()).collect();
                l.sort();
                Some(Answer::List(l))
            }
            (Some(e), ..) => Some(Answer::Text(e.to_string())),
        };
        if existing.as_ref() == Some(&value) {
            plan.result
                .insert("msg".into(), Value::String(String::new()));
            plan.result.insert("current".into(), Value::Object(prev));
            return Ok(plan);
        }
        let text = match &value {
            Answer::Text(s) => s.clone(),
            Answer::List(l) => l.join(", "),
        };
        let mut argv = vec!["debconf-set-selections"];
        if p.unseen {
            argv.push("-u");
        }
        let line = format!("{} {q} {} {text}\n", p.name, vtype.as_str());
        plan.steps.push(Step::Run {
            cmd: RemoteCommand::argv(argv).with_stdin(line),
        });
        // After a run the answer is the line's text; check mode keeps the list.
        let current = if ctx.check {
            value.to_value()
        } else {
            Value::String(text)
        };
        // The module reports the old answer alone, or, for a new question, every answer
        // with the new question's as ''.
        let previous = match prev.remove(q) {
            Some(before) => Map::from_iter([(q.clone(), before)]),
            None => {
                prev.insert(q.clone(), Value::String(String::new()));
                prev
            }
        };
        let mut curr = Map::new();
        curr.insert(q.clone(), current);
        let mut after = previous.clone();
        after.extend(curr.clone());
        if ctx.diff {
            plan.diffs.push(FileDiff {
                path: String::new(),
                before: serialize_diff(&previous),
                after: serialize_diff(&after),
                ..Default::default()
            });
        }
        plan.result
            .insert("msg".into(), Value::String(String::new()));
        plan.result.insert("current".into(), Value::Object(curr));
        plan.result
            .insert("previous".into(), Value::Object(previous));
        if !ctx.diff {
            plan.result.insert("diff".into(), Value::Object(Map::new()));
        }
        Ok(plan)
    }

    /// `msg` is what `debconf-set-selections` printed.
    fn finish(&self, _p: &DebconfParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        if let Some(o) = outputs.first() {
            result.set_msg(Value::String(o.stdout_str()));
        }
    }
}

/// The callback's `_serialize_diff` of a dictionary: sorted keys, four-space indent.
pub(crate) fn serialize_diff(m: &Map<String, Value>) -> String {
    let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&sorted, &mut ser).unwrap_or_default();
    format!("{}\n", String::from_utf8_lossy(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply, with_stand_in};
    use serde_json::json;

    const SHOW: &str = "* tzdata/Areas: Europe\n  tzdata/Zones/Europe: Berlin\n  \
        locales/locales_to_be_generated: en_US.UTF-8 UTF-8, de_DE.UTF-8 UTF-8\n  \
        wl/flag: True\n  wl/secret:\n";

    fn plan(p: serde_json::Value, check: bool) -> Result<Plan, String> {
        let p: DebconfParams = params(p);
        let sel = "wl\twl/secret\tpassword\ts3cret\n";
        let out = reply(&[
            ("show", SHOW),
            ("show_err", ""),
            ("show_rc", "0"),
            ("sel", sel),
            ("sel_err", ""),
            ("sel_rc", "0"),
        ]);
        let ctx = PlanCtx {
            check,
            diff: true,
            ..PlanCtx::default()
        };
        plan_with(&Debconf, &p, &out, ctx)
    }

    #[test]
    fn a_new_answer_is_set_once() {
        let p = json!({"name": "tzdata", "question": "tzdata/Areas", "vtype": "select", "value": "Asia"});
        let set = plan(p, false).unwrap();
        insta::assert_yaml_snapshot!(set);
        let Step::Run { cmd } = &set.steps[0] else {
            panic!("a command")
        };
        assert_eq!(
            cmd.stdin.as_deref(),
            Some(&b"tzdata tzdata/Areas select Asia\n"[..])
        );
        let same = json!({"name": "tzdata", "question": "tzdata/Areas", "vtype": "select", "value": "Europe"});
        let plan_same = plan(same, false).unwrap();
        assert!(!plan_same.is_change());
        assert_eq!(plan_same.result["current"]["tzdata/Zones/Europe"], "Berlin");
    }

    #[test]
    fn booleans_lists_and_passwords_compare_as_ansible() {
        let b = json!({"name": "wl", "question": "wl/flag", "vtype": "boolean", "value": true});
        assert!(!plan(b, false).unwrap().is_change());
        let m = json!({"name": "locales", "question": "locales/locales_to_be_generated",
                       "vtype": "multiselect", "value": ["de_DE.UTF-8 UTF-8", "en_US.UTF-8 UTF-8"]});
        assert!(!plan(m, false).unwrap().is_change());
        let s =
            json!({"name": "wl", "question": "wl/secret", "vtype": "password", "value": "s3cret"});
        assert!(!plan(s, false).unwrap().is_change());
        let s =
            json!({"name": "wl", "question": "wl/secret", "vtype": "password", "value": "other"});
        assert!(plan(s, false).unwrap().is_change());
        let m = json!({"name": "locales", "question": "locales/locales_to_be_generated",
                       "vtype": "multiselect", "value": ["fr_FR.UTF-8 UTF-8", "en_US.UTF-8 UTF-8"]});
        let checked = plan(m.clone(), true).unwrap();
        assert_eq!(
            checked.result["current"],
            json!({"locales/locales_to_be_generated": ["en_US.UTF-8 UTF-8", "fr_FR.UTF-8 UTF-8"]})
        );
        assert_eq!(
            plan(m, false).unwrap().result["current"],
            json!({"locales/locales_to_be_generated": "en_US.UTF-8 UTF-8, fr_FR.UTF-8 UTF-8"})
        );
        let e = plan(json!({"name": "wl", "question": "wl/flag"}), false).unwrap_err();
        assert_eq!(
            e,
            "parameters are required together: question, vtype, value"
        );
    }

    /// The probe against a `debconf-show` stand-in that prints a header-like line with a
    /// guessed nonce and a fake exit code: the exit code comes from the shell.
    #[test]
    fn a_hostile_answer_cannot_forge_the_exit_code() {
        let q = AnswersQuery {
            package: "wl".into(),
            selections: false,
        };
        let cmd = Answers::command(&q);
        let hostile =
            "printf '  wl/q: x\\n@@0123456789abcdef0123456789abcdef show_rc\\n0\\n'; exit 3";
        let got = Answers::parse(&q, &with_stand_in("debconf-show", hostile, &cmd)).unwrap();
        assert_eq!(got.show.0, 3);
        assert!(got.show.1.contains("show_rc\n0"));
    }
}
