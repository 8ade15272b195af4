//! `ansible.builtin.cron`: keep a named cron job (or a crontab variable) in a user's
//! crontab or in a cron file.
//!
//! Why this module exists: nodes run periodic jobs (log rotation, certificate checks,
//! etcd backups). As Ansible's module does, a job is the line after a `#Ansible: <name>`
//! comment; the crontab is read whole (`crontab -l` for a user, the file for
//! `cron_file`), edited as lines by a port of Ansible's `CronTab` class, and written back
//! whole (`crontab -` or an atomic file write). The probe frames the crontab text, so a
//! job or comment holding anything (newlines, header-like lines) stays data.

use serde::Deserialize;
use serde_json::Value;

use super::TaskResult;
use super::fileops::{self, Attrs, WriteSpec, py_regex};
use super::params::{ansible_bool, choice};
use super::plan::{FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use super::sysprobe::{Sections, framed, header};
use super::userpath::shell_word;
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

/// `ansible.builtin.cron`.
pub struct Cron;

fn star() -> String {
    "*".into()
}

/// Parameters of `cron`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronParams {
    /// The job's name (its `#Ansible: <name>` comment), or the variable's with `env`.
    /// Required.
    pub name: String,
    /// The user whose crontab it is; with `cron_file`, the user the job runs as. Default:
    /// the connecting (or become) user.
    #[serde(default)]
    pub user: Option<String>,
    /// The command (alias `value`), or the variable's value with `env`. Required with
    /// `state: present`.
    #[serde(default, alias = "value")]
    pub job: Option<String>,
    /// A file under `/etc/cron.d` (or an absolute path) instead of a user's crontab.
    #[serde(default)]
    pub cron_file: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub state: Option<CronState>,
    /// Keep a copy of the crontab before the change (result `backup_file`). Default
    /// `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub backup: bool,
    /// Minute field. Default `*`.
    #[serde(default = "star")]
    pub minute: String,
    /// Hour field. Default `*`.
    #[serde(default = "star")]
    pub hour: String,
    /// Day of month field (alias `dom`). Default `*`.
    #[serde(default = "star", alias = "dom")]
    pub day: String,
    /// Month field. Default `*`.
    #[serde(default = "star")]
    pub month: String,
    /// Day of week field (alias `dow`). Default `*`.
    #[serde(default = "star", alias = "dow")]
    pub weekday: String,
    /// `reboot`, `yearly`, `annually`, `monthly`, `weekly`, `daily` or `hourly` instead of
    /// the time fields.
    #[serde(default)]
    pub special_time: Option<SpecialTime>,
    /// Write the job commented out. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub disabled: bool,
    /// Manage a `NAME="value"` variable line instead of a job. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub env: bool,
    /// With `env`: a new variable goes after this variable's line.
    #[serde(default)]
    pub insertafter: Option<String>,
    /// With `env`: a new variable goes before this variable's line.
    #[serde(default)]
    pub insertbefore: Option<String>,
}

choice! {
    /// `cron`'s `state` (choices in lib/ansible/modules/cron.py).
    pub enum CronState {
        /// The job (or variable) is there. The default.
        Present = "present",
        /// It is not.
        Absent = "absent",
    }
    else "value of state must be one of: present, absent, got: {got}"
}

choice! {
    /// `cron`'s `special_time`.
    pub enum SpecialTime {
        /// `@reboot`.
        Reboot = "reboot",
        /// `@yearly`.
        Yearly = "yearly",
        /// `@annually`.
        Annually = "annually",
        /// `@monthly`.
        Monthly = "monthly",
        /// `@weekly`.
        Weekly = "weekly",
        /// `@daily`.
        Daily = "daily",
        /// `@hourly`.
        Hourly = "hourly",
    }
    else "value of special_time must be one of: reboot, yearly, annually, monthly, weekly, daily, hourly, got: {got}"
}

const ANSIBLE: &str = "#Ansible: ";

/// The crontab as the host has it: the `cron` module's fact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CronTabFacts {
    /// Whether the host has `crontab` (Ansible requires it, `cron_file` or not).
    pub has_crontab: bool,
    /// The cron file's or `crontab -l`'s text (empty when there is none).
    pub text: String,
    /// `crontab -l`'s exit code (user crontabs only).
    pub rc: Option<i32>,
    /// Whether the cron file is a regular file.
    pub file_exists: bool,
}

/// The cron file's path (`None`: a user crontab).
fn cron_file(p: &CronParams) -> Option<String> {
    p.cron_file
        .as_ref()
        .map(|f| match f.starts_with('/') || f.starts_with('~') {
            true => f.clone(),
            false => format!("/etc/cron.d/{f}"),
        })
}

/// Shell text setting the positional parameters to `-u <user>` when `user` is not the one
/// running it (as Ansible's `_read_user_execute` decides), else to nothing: `crontab "$@"`.
fn user_flag(p: &CronParams) -> String {
    match &p.user {
        Some(u) => format!(
            "set --; if [ \"$(id -un)\" != {u} ]; then set -- -u {u}; fi; ",
            u = quote(u)
        ),
        None => "set --; ".into(),
    }
}

/// The probe (see the module docs).
pub fn probe_command(p: &CronParams) -> RemoteCommand {
    let mut s = format!(
        "if command -v crontab >/dev/null 2>&1; then {}fi; ",
        header("crontab")
    );
    match cron_file(p) {
        Some(f) => s.push_str(&format!(
            "f={}; if [ -f \"$f\" ]; then {}cat -- \"$f\"; fi; ",
            shell_word(&f),
            header("file")
        )),
        None => s.push_str(&format!(
            "if command -v crontab >/dev/null 2>&1; then {}{}crontab \"$@\" -l 2>/dev/null; r=$?; {}printf '%s' \"$r\"; fi; ",
            user_flag(p),
            header("text"),
            header("rc")
        )),
    }
    RemoteCommand::shell(framed(&s))
}

/// The facts from the probe's reply.
pub fn parse(out: &ExecOutput) -> Result<CronTabFacts, String> {
    let s = Sections::parse(out)?;
    let rc = match s.text("rc") {
        Some(r) => Some(
            r.parse()
                .map_err(|_| format!("unexpected probe output: exit code {r:?}"))?,
        ),
        None => None,
    };
    Ok(CronTabFacts {
        has_crontab: s.has("crontab"),
        text: s
            .get("file")
            .or(s.get("text"))
            .unwrap_or_default()
            .to_string(),
        rc,
        file_exists: s.has("file"),
    })
}

/// The crontab's lines, as Ansible's `CronTab` keeps them.
struct CronTab {
    lines: Vec<String>,
    /// The text as read (the header `crontab -l` may print taken out).
    existing: String,
    /// The `user` of a cron file's job lines.
    user: Option<String>,
    file: bool,
}

/// Python's `str.splitlines()` for the line endings a crontab has.
fn splitlines(text: &str) -> Vec<String> {
    text.split_inclusive('\n')
        .flat_map(|l| {
            let l = l.strip_suffix('\n').unwrap_or(l);
            let l = l.strip_suffix('\r').unwrap_or(l);
            l.split('\r').map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

impl CronTab {
    fn read(facts: &CronTabFacts, p: &CronParams) -> Result<Self, String> {
        let file = p.cron_file.is_some();
        if !file && facts.rc.is_some_and(|rc| rc != 0 && rc != 1) {
            return Err("Unable to read crontab".into());
        }
        let mut existing = facts.text.clone();
        let mut lines = Vec::new();
        if file {
            lines = splitlines(&existing);
        } else {
            let header = [
                py_regex(
                    r"# DO NOT EDIT THIS FILE - edit the master and reinstall.",
                    false,
                )?,
                py_regex(r"# \(/tmp/.*installed on.*\)", false)?,
                py_regex(r"# \(.*version.*\)", false)?,
            ];
            for (count, l) in splitlines(&facts.text).into_iter().enumerate() {
                let is_header = count <= 2 && {
                    let mut any = false;
                    for re in &header {
                        any |= re.find(&l)?.is_some_and(|(s, _)| s == 0);
                    }
                    any
                };
                if is_header {
                    for end in ["\r", "\n", ""] {
                        let whole = format!("{l}{end}");
                        if let Some(i) = existing.find(&whole) {
                            existing.replace_range(i..i + whole.len(), "");
                            break;
                        }
                    }
                } else {
                    lines.push(l);
                }
            }
        }
        Ok(CronTab {
            lines,
            existing,
            user: p.user.clone(),
            file,
        })
    }

    fn render(&self) -> String {
        let result = self.lines.join("\n");
        match result.is_empty() {
            true => result,
            false => format!("{}\n", result.trim_end_matches(['\r', '\n'])),
        }
    }

    fn job_line(&self, p: &CronParams, job: &str) -> String {
        let job = job.trim_matches(['\r', '\n']);
        let off = if p.disabled { "#" } else { "" };
        let user = match (self.file, &self.user) {
            (true, Some(u)) => format!("{u} "),
            (true, None) => "None ".into(),
            (false, _) => String::new(),
        };
        match &p.special_time {
            Some(s) => format!("{off}@{} {user}{job}", s.as_str()),
            None => format!(
                "{off}{} {} {} {} {} {user}{job}",
                p.minute, p.hour, p.day, p.month, p.weekday
            ),
        }
    }

    /// `find_job`: `(comment, job line, inserted)`; with `job`, an unnamed matching line
    /// gets its comment inserted (the crontab changes).
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Option<(String, bool)> {
        let mut comment: Option<String> = None;
        for l in &self.lines {
            if let Some(c) = &comment {
                if c == name {
                    return Some((l.clone(), false));
                }
                comment = None;
            } else if l.starts_with(ANSIBLE) {
                comment = Some(l.replace(ANSIBLE, ""));
            }
        }
        let job = job?;
        let i = self.lines.iter().position(|l| l == job)?;
        let prev = if i == 0 { self.lines.len() - 1 } else { i - 1 };
        if !self.lines[prev].starts_with(ANSIBLE) {
            self.lines.insert(i, format!("{ANSIBLE}{name}"));
            return Some((job.to_string(), true));
        }
        if !name.is_empty() && self.lines[prev] == format!("{ANSIBLE}None") {
            self.lines[prev] = format!("{ANSIBLE}{name}");
            return Some((job.to_string(), true));
        }
        None
    }

    /// `_update_job`: the line after each `#Ansible: <name>` replaced by `job` (removed,
    /// with its comment, when `job` is `None`).
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let tag = format!("{ANSIBLE}{name}");
        let mut out = Vec::new();
        let mut comment: Option<String> = None;
        for l in std::mem::take(&mut self.lines) {
            if let Some(c) = comment.take() {
                if let Some(j) = job {
                    out.push(c);
                    out.push(j.to_string());
                }
            } else if l == tag {
                comment = Some(l);
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn find_env(&self, name: &str) -> Result<Option<(usize, String)>, String> {
        let re = py_regex(&format!("^{name}="), false)?;
        for (i, l) in self.lines.iter().enumerate() {
            if re.find(l)?.is_some_and(|(s, _)| s == 0) {
                return Ok(Some((i, l.clone())));
            }
        }
        Ok(None)
    }

    fn update_env(&mut self, name: &str, decl: Option<&str>) -> Result<(), String> {
        let re = py_regex(&format!("^{name}="), false)?;
        let mut out = Vec::new();
        for l in std::mem::take(&mut self.lines) {
            if re.find(&l)?.is_some_and(|(s, _)| s == 0) {
                out.extend(decl.map(str::to_string));
            } else {
                out.push(l);
            }
        }
        self.lines = out;
        Ok(())
    }

    fn job_names(&self) -> Vec<Value> {
        self.lines
            .iter()
            .filter(|l| l.starts_with(ANSIBLE))
            .map(|l| Value::String(l.replace(ANSIBLE, "")))
            .collect()
    }

    fn env_names(&self) -> Vec<Value> {
        self.lines
            .iter()
            .filter(|l| {
                l.split_once('=')
                    .is_some_and(|(n, _)| !n.is_empty() && !n.contains(char::is_whitespace))
            })
            .map(|l| Value::String(l.split('=').next().unwrap_or_default().to_string()))
            .collect()
    }
}

/// Ansible's checks of the parameters, before the crontab is read.
fn check(p: &CronParams, present: bool) -> Result<(), String> {
    if p.cron_file.as_deref() == Some("/etc/crontab") {
        return Err("Will not manage /etc/crontab via cron_file, see documentation.".into());
    }
    let timed = [&p.minute, &p.hour, &p.day, &p.month, &p.weekday];
    if p.special_time.is_some() && timed.iter().any(|x| x.as_str() != "*") {
        return Err(
            "You cannot combine special_time with any of the time or day/date parameters.".into(),
        );
    }
    if present {
        if p.cron_file.is_some() && p.user.is_none() {
            return Err("To use cron_file=... parameter you must specify user=... as well".into());
        }
        if p.job.is_none() {
            return Err("You must specify 'job' to install a new cron job or variable".into());
        }
        if (p.insertafter.is_some() || p.insertbefore.is_some()) && !p.env {
            return Err(
                "Insertafter and insertbefore parameters are valid only with env=yes".into(),
            );
        }
    }
    Ok(())
}

/// The edit of an env line (`env: true`); whether it changed.
fn edit_env(p: &CronParams, tab: &mut CronTab, present: bool) -> Result<bool, String> {
    if p.name.contains(' ') {
        return Err("Invalid name for environment variable".into());
    }
    let decl = format!("{}=\"{}\"", p.name, p.job.as_deref().unwrap_or("None"));
    let old = tab.find_env(&p.name)?;
    match (present, old) {
        (true, None) => {
            let other = p.insertafter.as_deref().or(p.insertbefore.as_deref());
            match other {
                None => tab.lines.insert(0, decl),
                Some(o) => match tab.find_env(o)? {
                    Some((i, _)) => {
                        let at = if p.insertafter.is_some() { i + 1 } else { i };
                        tab.lines.insert(at, decl);
                    }
                    None => return Err(format!("Variable named '{o}' not found.")),
                },
            }
            Ok(true)
        }
        (true, Some((_, l))) if l != decl => {
            tab.update_env(&p.name, Some(&decl))?;
            Ok(true)
        }
        (false, Some(_)) => {
            tab.update_env(&p.name, None)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The edit of a job; whether it changed.
fn edit_job(p: &CronParams, tab: &mut CronTab, present: bool) -> bool {
    if !present {
        return match tab.find_job(&p.name, None) {
            Some(_) => {
                tab.update_job(&p.name, None);
                true
            }
            None => false,
        };
    }
    let job = tab.job_line(p, p.job.as_deref().unwrap_or_default());
    match tab.find_job(&p.name, Some(&job)) {
        None => {
            tab.lines.push(format!("{ANSIBLE}{}", p.name));
            tab.lines.push(job);
            true
        }
        Some((old, inserted)) => {
            if old != job || inserted {
                tab.update_job(&p.name, Some(&job));
                return true;
            }
            false
        }
    }
}

/// The diff headers' path: the cron file, or Ansible's words for a user crontab.
fn diff_path(p: &CronParams) -> String {
    match (cron_file(p), &p.user) {
        (Some(f), _) => f,
        (None, Some(u)) => format!("crontab for user \"{u}\""),
        (None, None) => "crontab".into(),
    }
}

/// The steps that write `text` as the crontab.
fn write_steps(p: &CronParams, text: &str) -> Result<Vec<Step>, String> {
    Ok(vec![match cron_file(p) {
        Some(f) if f.starts_with('~') => Step::Run {
            cmd: RemoteCommand::shell(format!("umask 022; cat > {}", shell_word(&f)))
                .with_stdin(text.as_bytes().to_vec()),
        },
        Some(f) => fileops::write_step(&WriteSpec {
            dest: &f,
            content: text.as_bytes(),
            attrs: &Attrs::default(),
            backup: false,
            validate: None,
            remote_src: None,
        })?,
        None => Step::Run {
            cmd: RemoteCommand::shell(format!("{}crontab \"$@\" -", user_flag(p)))
                .with_stdin(text.as_bytes().to_vec()),
        },
    }])
}

/// The step keeping the crontab before the change (`backup`): its path is printed as a
/// record.
fn backup_step(text: &str) -> Step {
    Step::Run {
        cmd: RemoteCommand::shell(
            "b=$(mktemp --tmpdir crontabXXXXXXXX) && cat > \"$b\" && printf 'backup_file=%s\\0' \"$b\"",
        )
        .with_stdin(text.as_bytes().to_vec()),
    }
}

#[async_trait::async_trait]
impl Planned for Cron {
    type Params = CronParams;
    type Facts = CronTabFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.cron"
    }

    fn required(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[&["insertafter", "insertbefore"]]
    }

    fn paths(&self) -> &'static [&'static str] {
        &["cron_file"]
    }

    fn probe(&self, p: &CronParams, _ctx: PlanCtx) -> Result<Probe<CronTabFacts>, String> {
        if let Some(f) = &p.cron_file {
            fileops::check_path("cron_file", f)?;
        }
        Ok(Probe::ask(probe_command(p), parse))
    }

    fn plan(&self, p: &CronParams, f: &CronTabFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let present = p.state != Some(CronState::Absent);
        check(p, present)?;
        if !f.has_crontab {
            return Err("Failed to find required executable \"crontab\" in paths".into());
        }
        let mut tab = CronTab::read(f, p)?;
        let before_lines = tab.render();
        let mut changed = match p.env {
            true => edit_env(p, &mut tab, present)?,
            false => edit_job(p, &mut tab, present),
        };
        let mut plan = Plan::default();
        let path = diff_path(p);
        if !present
            && !p.env
            && changed
            && tab.file
            && tab.lines.iter().all(|l| l.trim().is_empty())
        {
            // The job was the cron file's last line: the file goes.
            if ctx.diff {
                // cron.py: the last job gone from a cron_file heads `after` /dev/null.
                plan.diffs.push(
                    FileDiff {
                        path: path.clone(),
                        before: tab.existing.clone(),
                        after: String::new(),
                        ..Default::default()
                    }
                    .headed(path, "/dev/null"),
                );
            }
            plan.changed = Some(f.file_exists);
            if f.file_exists {
                let file = cron_file(p).unwrap_or_default();
                plan.steps.push(Step::Run {
                    cmd: RemoteCommand::shell(format!("rm -f -- {}", shell_word(&file))),
                });
            }
            plan.result
                .insert("cron_file".into(), Value::from(p.cron_file.clone()));
            plan.result
                .insert("state".into(), Value::String("absent".into()));
            return Ok(plan);
        }
        if !changed && !tab.existing.is_empty() && !tab.existing.ends_with(['\r', '\n']) {
            changed = true;
        }
        plan.result
            .insert("jobs".into(), Value::Array(tab.job_names()));
        plan.result
            .insert("envs".into(), Value::Array(tab.env_names()));
        if changed {
            let after = tab.render();
            if p.backup {
                plan.steps.push(backup_step(&before_lines));
            }
            plan.steps.extend(write_steps(p, &after)?);
            if ctx.diff {
                // cron.py: both headers the cron file, `crontab for user "u"` or `crontab`.
                plan.diffs.push(
                    FileDiff {
                        path: path.clone(),
                        before: tab.existing.clone(),
                        after,
                        ..Default::default()
                    }
                    .headed(path.clone(), path),
                );
            }
        }
        if let Some(c) = &p.cron_file {
            plan.result
                .insert("cron_file".into(), Value::String(c.clone()));
        }
        plan.changed = Some(changed);
        Ok(plan)
    }

    fn finish(&self, _p: &CronParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        for o in outputs {
            if let Ok(r) = super::reply::parse(&o.stdout)
                && let Ok(Some(b)) = r.text("backup_file")
            {
                result.insert("backup_file", Value::String(b));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::sysprobe::testutil::{params, plan_with, reply};
    use serde_json::json;

    fn p(v: serde_json::Value) -> CronParams {
        params(v)
    }

    fn user_tab(text: &str) -> ExecOutput {
        reply(&[
            ("crontab", ""),
            ("text", text),
            ("rc", if text.is_empty() { "1" } else { "0" }),
        ])
    }

    fn diff() -> PlanCtx {
        PlanCtx {
            diff: true,
            ..PlanCtx::default()
        }
    }

    #[test]
    fn jobs_are_added_changed_and_removed() {
        let q = p(
            json!({"name": "backup", "minute": "5", "hour": "2", "job": "/usr/local/bin/backup"}),
        );
        insta::assert_yaml_snapshot!(plan_with(&Cron, &q, &user_tab(""), diff()).unwrap());
        let have = "MAILTO=\"\"\n#Ansible: backup\n5 2 * * * /usr/local/bin/backup\n";
        assert!(
            !plan_with(&Cron, &q, &user_tab(have), diff())
                .unwrap()
                .is_change()
        );
        let q = p(
            json!({"name": "backup", "special_time": "daily", "job": "/usr/local/bin/backup", "user": "etcd"}),
        );
        let plan = plan_with(&Cron, &q, &user_tab(have), diff()).unwrap();
        insta::assert_yaml_snapshot!(plan);
        let q = p(json!({"name": "backup", "state": "absent"}));
        let plan = plan_with(&Cron, &q, &user_tab(have), diff()).unwrap();
        assert_eq!(plan.diffs[0].after, "MAILTO=\"\"\n");
    }

    #[test]
    fn cron_files_env_lines_and_refusals() {
        let file = |text: Option<&str>| match text {
            Some(t) => reply(&[("crontab", ""), ("file", t)]),
            None => reply(&[("crontab", "")]),
        };
        let q = p(
            json!({"name": "PATH", "env": true, "job": "/usr/bin:/bin", "cron_file": "wl", "user": "root"}),
        );
        let plan = plan_with(&Cron, &q, &file(None), diff()).unwrap();
        assert_eq!(plan.diffs[0].after, "PATH=\"/usr/bin:/bin\"\n");
        assert_eq!(plan.diffs[0].path, "/etc/cron.d/wl");
        let q = p(json!({"name": "j", "cron_file": "wl", "user": "root", "job": "true"}));
        let plan = plan_with(&Cron, &q, &file(Some("PATH=\"/bin\"\n")), diff()).unwrap();
        assert_eq!(
            plan.diffs[0].after,
            "PATH=\"/bin\"\n#Ansible: j\n* * * * * root true\n"
        );
        assert_eq!(plan.result["envs"], json!(["PATH"]));
        // The last job of a cron file removes the file.
        let q = p(json!({"name": "j", "cron_file": "wl", "state": "absent"}));
        let plan = plan_with(
            &Cron,
            &q,
            &file(Some("#Ansible: j\n* * * * * root true\n")),
            diff(),
        )
        .unwrap();
        assert!(plan.is_change());
        assert!(
            matches!(&plan.steps[0], Step::Run { cmd } if cmd.to_shell().contains("rm -f -- /etc/cron.d/wl"))
        );
        let e = |v| plan_with(&Cron, &p(v), &file(None), PlanCtx::default()).unwrap_err();
        assert!(
            e(json!({"name": "j", "cron_file": "wl", "job": "x"})).contains("must specify user")
        );
        assert!(
            e(json!({"name": "j", "special_time": "daily", "hour": "1", "job": "x"}))
                .contains("cannot combine")
        );
        assert!(e(json!({"name": "j"})).contains("must specify 'job'"));
        let no_crontab = plan_with(
            &Cron,
            &p(json!({"name": "j", "job": "x"})),
            &reply(&[("text", "")]),
            PlanCtx::default(),
        );
        assert!(no_crontab.unwrap_err().contains("\"crontab\""));
    }

    /// An unnamed line equal to the job gets the name; a missing final newline is a
    /// change; `crontab -l`'s header is not part of the crontab.
    #[test]
    fn ansible_quirks() {
        let q = p(json!({"name": "x", "job": "true"}));
        let plan = plan_with(&Cron, &q, &user_tab("* * * * * true\n"), diff()).unwrap();
        assert_eq!(plan.diffs[0].after, "#Ansible: x\n* * * * * true\n");
        let plan = plan_with(&Cron, &q, &user_tab("#Ansible: x\n* * * * * true"), diff()).unwrap();
        assert!(plan.is_change());
        let head = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.1 installed on Thu)\n# (Cron version -- $Id$)\n#Ansible: x\n* * * * * true\n";
        let plan = plan_with(&Cron, &q, &user_tab(head), diff()).unwrap();
        assert!(!plan.is_change(), "{plan:?}");
    }

    /// The probe, run by `sh` against a cron file whose lines hold header-like text.
    #[test]
    fn the_probe_frames_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wl");
        let text = "#Ansible: a\n@@0123456789abcdef0123456789abcdef crontab\n* * * * * root x\n";
        std::fs::write(&path, text).unwrap();
        let q = p(
            json!({"name": "a", "cron_file": path.display().to_string(), "user": "root", "job": "x"}),
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe_command(&q).to_shell())
            .output()
            .unwrap();
        let f = parse(&ExecOutput {
            rc: 0,
            stdout: out.stdout,
            stderr: out.stderr,
        })
        .unwrap();
        assert_eq!(f.text, text);
        assert!(f.file_exists);
    }
}
