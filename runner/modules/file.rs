//! `ansible.builtin.file`: make a path a file, directory, symbolic or hard link, touch it,
//! remove it, and set its owner, group and mode.
//!
//! Why this module exists: directories, links and permissions are most of what a cluster
//! build does to a filesystem besides content. One probe reports the path's type, mode,
//! owner, group and link target (and, with `recurse`, whether anything below differs); the
//! plan is the few `mkdir`/`ln`/`rm`/`chown`/`chmod` commands that close the gap.

use serde::Deserialize;
use serde_json::Value;

use super::ResultMap;
use super::TaskResult;
use super::fileops::{self, Attrs, FileFacts, Kind, StatOpts, path_probe};
use super::params::{Mode, ansible_bool, choice, opt_mode, opt_stringish};
use super::plan::{FileDiff, Plan, PlanCtx, Planned, Probe, Step};
use crate::command::{RemoteCommand, quote};
use crate::transport::ExecOutput;

fn yes() -> bool {
    true
}

/// Parameters of `file`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// The path to manage (aliases `dest`, `name`). Required.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// `file` (default when absent: must exist), `directory`, `link`, `hard`, `touch` or
    /// `absent`. Default: the path's current state, `file` when it does not exist.
    #[serde(default)]
    pub state: Option<State>,
    /// With `state: directory`, apply owner/group/mode to everything below. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub recurse: bool,
    /// The link target, for `state: link` and `state: hard`.
    #[serde(default)]
    pub src: Option<String>,
    /// Permission bits (`"0755"`) or a symbolic mode (`u=rwX,g=rX,o=rX`).
    #[serde(default, deserialize_with = "opt_mode")]
    pub mode: Option<Mode>,
    /// Owner name or uid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub owner: Option<String>,
    /// Group name or gid.
    #[serde(default, deserialize_with = "opt_stringish")]
    pub group: Option<String>,
    /// For links: replace an existing file or empty directory, and allow a missing `src`.
    /// Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub force: bool,
    /// Act on a link's target rather than the link itself. Default `true`.
    #[serde(default = "yes", deserialize_with = "ansible_bool")]
    pub follow: bool,
    /// For `touch`: `preserve` keeps the modification time of an existing file; `now`
    /// (default) updates it.
    #[serde(default)]
    pub modification_time: Option<String>,
    /// For `touch`: `preserve` keeps the access time of an existing file; `now` (default).
    #[serde(default)]
    pub access_time: Option<String>,
    /// How `modification_time` is read when it is a timestamp: Python `time.strptime`
    /// directives, a local time of the host. Default `%Y%m%d%H%M.%S`.
    #[serde(default)]
    pub modification_time_format: Option<String>,
    /// File attributes as `chattr` takes them: `+i` adds, `-a` removes, `e` (or `=e`) sets
    /// exactly; needs `lsattr`/`chattr` on the host. As in Ansible, `+`/`-` run `chattr`
    /// (and report a change) unless the flags `lsattr` shows are exactly the ones given.
    #[serde(default, alias = "attr")]
    pub attributes: Option<String>,
    /// How `access_time` is read when it is a timestamp. Default `%Y%m%d%H%M.%S`.
    #[serde(default)]
    pub access_time_format: Option<String>,
}

/// The `chattr` for `attributes`, as module_utils/basic.py's `set_attributes_if_different`:
/// run unless the current flags (`lsattr -d`, dashes dropped) are exactly the ones given
/// and the operator is not `-`.
fn attr_steps(path: &str, attributes: Option<&str>, f: &FileFacts) -> Option<Step> {
    let given = attributes?;
    let (op, flags) = match given.chars().next() {
        Some(c @ ('+' | '-')) => (c, &given[1..]),
        _ => ('=', given),
    };
    let existing: String = f.get("attr_flags").unwrap_or("").replace('-', "");
    if flags.is_empty() || (existing == flags && op != '-') {
        return None;
    }
    // chattr reads a leading `-` as an operator: such a relative path gets `./`.
    let target = if path.starts_with('-') {
        format!("./{path}")
    } else {
        path.to_string()
    };
    Some(run(["chattr".to_string(), format!("{op}{flags}"), target]))
}

/// The default of `modification_time_format`/`access_time_format` (lib/ansible/modules/file.py).
const TIME_FORMAT: &str = "%Y%m%d%H%M.%S";

/// One of `modification_time`/`access_time`, as lib/ansible/modules/file.py's
/// `get_timestamp_for_time` reads it.
#[derive(Clone, Debug, PartialEq)]
enum Stamp {
    Preserve,
    Now,
    /// A local time of the host, `YYYY-MM-DD HH:MM:SS`.
    At(String),
}

/// The `modification_time` and `access_time` stamps; unset ones default to `now` for
/// `touch` and `preserve` otherwise (`keep_backward_compatibility_on_timestamps`).
fn stamps(p: &FileParams, touch: bool) -> Result<[Stamp; 2], String> {
    let one = |v: &Option<String>, f: &Option<String>| -> Result<Stamp, String> {
        let fmt = f.as_deref().unwrap_or(TIME_FORMAT);
        match v.as_deref() {
            None if touch => Ok(Stamp::Now),
            None | Some("preserve") => Ok(Stamp::Preserve),
            Some("now") => Ok(Stamp::Now),
            Some(t) => super::py_strptime::strptime(t, fmt)
                .map(|l| Stamp::At(l.iso()))
                .map_err(|e| {
                    format!("Error while obtaining timestamp for time {t} using format {fmt}: {e}")
                }),
        }
    };
    Ok([
        one(&p.modification_time, &p.modification_time_format)?,
        one(&p.access_time, &p.access_time_format)?,
    ])
}

/// Probe text for explicit timestamps: the wanted epochs (the host's `date` reads the local
/// time, as `time.mktime` does) and the path's current ones, to the nanosecond.
fn stamps_probe(st: &[Stamp; 2], follow: bool) -> String {
    let mut s = String::new();
    for (key, stamp) in ["want_mtime", "want_atime"].iter().zip(st) {
        if let Stamp::At(t) = stamp {
            s.push_str(&format!(
                "printf '{key}=%s\\0' \"$(date -d {} +%s)\"; ",
                quote(t)
            ));
        }
    }
    if s.is_empty() {
        return s;
    }
    let l = if follow { "-L " } else { "" };
    s.push_str(&format!("if [ -e \"$p\" ]; then stat {l}--printf='cur_mtime=%.9Y\\0cur_atime=%.9X\\0' -- \"$p\"; fi; "));
    s
}

/// Steps that set explicit timestamps (`fresh`: the path was just made, set them all),
/// as `update_timestamp_for_file`: nothing when the wanted times are the current ones.
fn stamp_steps(
    path: &str,
    st: &[Stamp; 2],
    f: &FileFacts,
    fresh: bool,
) -> Result<Vec<Step>, String> {
    if !st.iter().any(|s| matches!(s, Stamp::At(_))) {
        return Ok(Vec::new());
    }
    let mut steps = Vec::new();
    let mut differs = false;
    let mut set = Vec::new();
    for ((stamp, flag), (want, cur)) in st
        .iter()
        .zip(["-m", "-a"])
        .zip([("want_mtime", "cur_mtime"), ("want_atime", "cur_atime")])
    {
        match stamp {
            Stamp::Preserve => {}
            Stamp::Now => {
                differs = true;
                set.push(
                    vec!["touch", flag, "--", path]
                        .into_iter()
                        .map(String::from)
                        .collect::<Vec<_>>(),
                );
            }
            Stamp::At(_) => {
                let w = f
                    .get(want)
                    .filter(|w| w.parse::<i64>().is_ok())
                    .ok_or_else(|| {
                        format!("Error while obtaining timestamp: the host could not read {want}")
                    })?;
                let same = f.get(cur).is_some_and(|c| {
                    c.split_once('.')
                        .is_some_and(|(s, n)| s == w && n.bytes().all(|b| b == b'0'))
                });
                differs |= !same;
                set.push(
                    ["touch", flag, "-d", &format!("@{w}"), "--", path]
                        .into_iter()
                        .map(String::from)
                        .collect(),
                );
            }
        }
    }
    if differs || fresh {
        steps.extend(set.into_iter().map(run));
    }
    Ok(steps)
}

/// `ansible.builtin.file`.
pub struct File;

choice! {
    /// `file`'s `state` (choices in lib/ansible/modules/file.py). Unset: the path's current
    /// kind, `file` when it does not exist.
    pub enum State {
        /// The path is an existing file: only its owner, group and mode are set.
        File = "file",
        /// The path is a directory, made with its parents when missing.
        Directory = "directory",
        /// The path is a symbolic link to `src`.
        Link = "link",
        /// The path is a hard link to `src`.
        Hard = "hard",
        /// The path exists (an empty file is made) and its times are updated.
        Touch = "touch",
        /// Nothing is at the path (a directory is removed with its content).
        Absent = "absent",
    }
    else "value of state must be one of: absent, directory, file, hard, link, touch, got: {got}"
}

fn check(p: &FileParams) -> Result<Option<State>, String> {
    let s = p.state;
    if matches!(s, Some(State::Link | State::Hard)) && p.src.is_none() {
        return Err(format!(
            "src is required for state={}",
            p.state.map(State::as_str).unwrap_or_default()
        ));
    }
    if p.recurse && s.is_some() && s != Some(State::Directory) {
        return Err("recurse option requires state to be 'directory'".into());
    }
    stamps(p, s == Some(State::Touch))?;
    Ok(s)
}

fn attrs(p: &FileParams) -> Attrs {
    Attrs {
        mode: p.mode.clone(),
        owner: p.owner.clone(),
        group: p.group.clone(),
    }
}

fn run<I: IntoIterator<Item = S>, S: Into<String>>(argv: I) -> Step {
    Step::Run {
        cmd: RemoteCommand::argv(argv),
    }
}

/// What the probe prints about the entries below a directory for `recurse`:
/// `recurse_diff=1` when one has another owner, group or (octal) mode; for a symbolic mode,
/// whose result depends on each entry's current mode and type (`X`, `+`, `-`), one
/// `recurse_mode=<type><octal mode>` line per distinct pair, which [`recurse_differs`]
/// checks with the same arithmetic `chmod` uses.
fn recurse_check(a: &Attrs) -> Option<String> {
    let mut preds = Vec::new();
    if let Some(o) = &a.owner {
        preds.push(format!("! -user {}", quote(o)));
    }
    if let Some(g) = &a.group {
        preds.push(format!("! -group {}", quote(g)));
    }
    let mut out = String::new();
    match &a.mode {
        Some(Mode::Octal(b)) => preds.push(format!("! -perm {b:04o}")),
        Some(Mode::Symbolic(_)) => out.push_str(
            "if [ -d \"$p\" ]; then find \"$p\" -mindepth 1 ! -type l -printf 'recurse_mode=%y%m\\0' 2>/dev/null | sort -zu; fi; ",
        ),
        None => {}
    }
    if !preds.is_empty() {
        out.push_str(&format!(
            "if [ -d \"$p\" ]; then printf 'recurse_diff=%s\\0' \"$(find \"$p\" -mindepth 1 \\( {} \\) -print 2>/dev/null | head -n 1 | wc -l)\"; fi; ",
            preds.join(" -o ")
        ));
    }
    (!out.is_empty()).then_some(out)
}

/// Whether anything below the directory needs the recursive `chown`/`chmod`.
fn recurse_differs(a: &Attrs, f: &FileFacts) -> Result<bool, String> {
    if f.get("recurse_diff") == Some("1") {
        return Ok(true);
    }
    let Some(Mode::Symbolic(sym)) = &a.mode else {
        return Ok(false);
    };
    for (k, v) in &f.extra {
        if k != "recurse_mode" {
            continue;
        }
        let (kind, mode) = v.split_at(v.len().min(1));
        let mode = u32::from_str_radix(mode, 8)
            .map_err(|_| format!("unexpected probe output: recurse_mode={v}"))?;
        if fileops::apply_symbolic(mode, sym, kind == "d")? != mode {
            return Ok(true);
        }
    }
    Ok(false)
}

fn state_text(path: &str, kind: Kind) -> String {
    format!("path: {path}\nstate: {}\n", kind.state())
}

#[async_trait::async_trait]
impl Planned for File {
    type Params = FileParams;
    type Facts = FileFacts;

    fn name(&self) -> &'static str {
        "ansible.builtin.file"
    }

    fn paths(&self) -> &'static [&'static str] {
        &["path", "dest", "name", "src"]
    }

    // `path` is required, but the load-time check does not know its aliases (`dest`,
    // `name`); serde reports a missing path when the task runs.

    fn probe(&self, p: &FileParams, _ctx: PlanCtx) -> Result<Probe<FileFacts>, String> {
        let s = check(p)?;
        fileops::check_path("path", &p.path)?;
        if let Some(src) = &p.src {
            fileops::check_path("src", src)?;
        }
        let follow = p.follow && !matches!(s, Some(State::Link | State::Hard | State::Absent));
        let mut script = format!("p={}; ", quote(&p.path));
        script.push_str(&fileops::stat_snippet(StatOpts {
            follow,
            checksum: None,
            content_limit: None,
        }));
        script.push_str(fileops::DIRNAME_SNIPPET);
        script.push_str(
            "if [ -d \"$q\" ]; then printf 'parent=1\\0'; else printf 'parent=0\\0'; fi; ",
        );
        if p.recurse
            && let Some(c) = recurse_check(&attrs(p))
        {
            script.push_str(&c);
        }
        if p.attributes.is_some() {
            script.push_str("if a=$(lsattr -d -- \"$p\" 2>/dev/null); then printf 'attr_flags=%s\\0' \"${a%% *}\"; fi; ");
        }
        script.push_str(&stamps_probe(&stamps(p, s == Some(State::Touch))?, follow));
        if let Some(src) = &p.src {
            match s {
                Some(State::Hard) => script.push_str(&format!(
                    "if [ -e {s} ]; then printf 'src_inode=%s\\0' \"$(stat -c %i -- {s})\"; fi; ",
                    s = quote(src)
                )),
                _ => {
                    // A relative link target is relative to the link's directory.
                    script.push_str(&format!(
                        "s={}; case \"$s\" in /*) ;; *) s=\"$q/$s\";; esac; if [ -e \"$s\" ]; then printf 'src_exists=1\\0'; fi; ",
                        quote(src)
                    ));
                }
            }
        }
        script.push_str("true");
        Ok(path_probe(&p.path, script))
    }

    fn plan(&self, p: &FileParams, f: &FileFacts, ctx: PlanCtx) -> Result<Plan, String> {
        let s = check(p)?;
        let path = p.path.as_str();
        let a = attrs(p);
        let state = match s {
            Some(s) => s,
            None => match f.kind {
                Kind::Directory => State::Directory,
                Kind::Link => State::Link,
                Kind::Absent if p.recurse => State::Directory,
                _ => State::File,
            },
        };
        let st = stamps(p, state == State::Touch)?;
        let explicit = st.iter().any(|s| matches!(s, Stamp::At(_)));
        let mut steps = Vec::new();
        let mut after: FileFacts;
        let new_facts = |kind: Kind, mode: u32| FileFacts {
            path: path.to_string(),
            kind,
            mode,
            uid: u32::MAX,
            gid: u32::MAX,
            ..FileFacts::default()
        };
        // Attributes of something just created: set whatever was asked for.
        let fresh_attrs = |steps: &mut Vec<Step>, kind: Kind| -> Result<FileFacts, String> {
            let base = new_facts(
                kind,
                if kind == Kind::Directory {
                    0o755
                } else {
                    0o644
                },
            );
            let spec = match (&a.owner, &a.group) {
                (Some(o), Some(g)) => Some(format!("{o}:{g}")),
                (Some(o), None) => Some(o.clone()),
                (None, Some(g)) => Some(format!(":{g}")),
                (None, None) => None,
            };
            if let Some(spec) = spec {
                let mut argv = vec!["chown"];
                if kind == Kind::Link {
                    argv.push("-h");
                }
                argv.extend(["--", spec.as_str(), path]);
                steps.push(run(argv));
            }
            if kind != Kind::Link {
                match &a.mode {
                    Some(Mode::Octal(b)) => {
                        steps.push(run(["chmod", &format!("{b:o}"), "--", path]))
                    }
                    Some(Mode::Symbolic(m)) => steps.push(run(["chmod", m.as_str(), "--", path])),
                    None => {}
                }
            }
            let mut done = a.applied(&base)?;
            done.kind = kind;
            Ok(done)
        };
        let nofollow = !p.follow;
        match state {
            State::Absent => {
                if f.exists() {
                    steps.push(run(["rm", "-rf", "--", path]));
                }
                after = new_facts(Kind::Absent, 0);
            }
            State::File => match f.kind {
                Kind::Absent => {
                    return Err(format!("file ({path}) is absent, cannot continue"));
                }
                Kind::File | Kind::Other => {
                    steps.extend(a.steps(path, f, false)?);
                    steps.extend(stamp_steps(path, &st, f, false)?);
                    after = a.applied(f)?;
                }
                Kind::Link if !p.follow => {
                    steps.extend(a.steps(path, f, true)?);
                    after = a.applied(f)?;
                }
                k => return Err(format!("file ({path}) is {}, cannot continue", k.state())),
            },
            State::Directory => match f.kind {
                Kind::Absent => {
                    steps.push(run(["mkdir", "-p", "--", path]));
                    after = fresh_attrs(&mut steps, Kind::Directory)?;
                    steps.extend(stamp_steps(path, &st, f, true)?);
                    if p.recurse {
                        // Nothing below a new directory.
                    }
                }
                Kind::Directory => {
                    steps.extend(a.steps(path, f, nofollow)?);
                    steps.extend(stamp_steps(path, &st, f, false)?);
                    if p.recurse && recurse_differs(&a, f)? {
                        steps.extend(recurse_steps(path, &a, p.follow));
                    }
                    after = a.applied(f)?;
                }
                k => {
                    return Err(format!(
                        "{path} already exists as a {}",
                        if k == Kind::Link { "link" } else { k.state() }
                    ));
                }
            },
            State::Touch => {
                if !f.exists() {
                    // In check mode the directory may be one an earlier task creates.
                    if f.get("parent") == Some("0") && !ctx.check {
                        return Err(format!(
                            "Error, could not touch target: parent directory of {path} does not exist"
                        ));
                    }
                    steps.push(run(["touch", "--", path]));
                    after = fresh_attrs(&mut steps, Kind::File)?;
                    steps.extend(stamp_steps(path, &st, f, true)?);
                } else if explicit {
                    steps.extend(stamp_steps(path, &st, f, false)?);
                    steps.extend(a.steps(path, f, nofollow)?);
                    after = a.applied(f)?;
                } else {
                    let keep_m = st[0] == Stamp::Preserve;
                    let keep_a = st[1] == Stamp::Preserve;
                    match (keep_m, keep_a) {
                        (true, true) => {}
                        (false, true) => steps.push(run(["touch", "-m", "--", path])),
                        (true, false) => steps.push(run(["touch", "-a", "--", path])),
                        (false, false) => steps.push(run(["touch", "--", path])),
                    }
                    steps.extend(a.steps(path, f, nofollow)?);
                    after = a.applied(f)?;
                }
            }
            State::Link => {
                let src = p.src.as_deref().unwrap_or_default();
                if f.get("parent") == Some("0") && !ctx.check {
                    return Err(format!(
                        "Error while linking: parent directory of {path} does not exist"
                    ));
                }
                // Check mode after an earlier planned change: the source may be what that
                // change creates (kubeadm init writes admin.conf); plan the link.
                let pending = ctx.check && ctx.changed_before;
                if f.get("src_exists") != Some("1") && !p.force && !pending {
                    return Err(format!(
                        "src file does not exist, use \"force=yes\" if you really want to create the link: {src}"
                    ));
                }
                match f.kind {
                    Kind::Link if f.target.as_deref() == Some(src.as_bytes()) => {
                        steps.extend(a.steps(path, f, nofollow)?);
                        after = a.applied(f)?;
                    }
                    Kind::Absent | Kind::Link => {
                        steps.push(run(["ln", "-sfn", "--", src, path]));
                        after = fresh_attrs(&mut steps, Kind::Link)?;
                    }
                    Kind::File | Kind::Other if p.force => {
                        steps.push(run(["rm", "-f", "--", path]));
                        steps.push(run(["ln", "-s", "--", src, path]));
                        after = fresh_attrs(&mut steps, Kind::Link)?;
                    }
                    Kind::Directory if p.force => {
                        steps.push(run(["rmdir", "--", path]));
                        steps.push(run(["ln", "-s", "--", src, path]));
                        after = fresh_attrs(&mut steps, Kind::Link)?;
                    }
                    Kind::Directory => {
                        return Err(format!(
                            "refusing to convert from directory to symlink for {path}"
                        ));
                    }
                    _ => {
                        return Err(format!(
                            "refusing to convert from file to symlink for {path}"
                        ));
                    }
                }
                after.target = Some(src.as_bytes().to_vec());
            }
            State::Hard => {
                let src = p.src.as_deref().unwrap_or_default();
                let Some(src_inode) = f.get("src_inode").and_then(|i| i.parse::<u64>().ok()) else {
                    return Err(format!("src does not exist: {src}"));
                };
                match f.kind {
                    Kind::File if f.inode == src_inode => {
                        steps.extend(a.steps(path, f, false)?);
                        after = a.applied(f)?;
                    }
                    Kind::Absent => {
                        steps.push(run(["ln", "--", src, path]));
                        after = fresh_attrs(&mut steps, Kind::File)?;
                    }
                    Kind::Link | Kind::File if p.force => {
                        steps.push(run(["ln", "-f", "--", src, path]));
                        after = fresh_attrs(&mut steps, Kind::File)?;
                    }
                    k => {
                        return Err(format!(
                            "refusing to convert from {} to hard link for {path}",
                            k.state()
                        ));
                    }
                }
            }
        }
        let mut result: ResultMap = fileops::path_result("path", &after);
        if matches!(state, State::Link | State::Hard) {
            result.insert(
                "src".into(),
                Value::String(p.src.clone().unwrap_or_default()),
            );
            result.insert("dest".into(), Value::String(path.to_string()));
            result.insert(
                "state".into(),
                Value::String(if state == State::Link { "link" } else { "hard" }.into()),
            );
        }
        if matches!(state, State::File | State::Directory | State::Touch) {
            steps.extend(attr_steps(path, p.attributes.as_deref(), f));
        }
        let mut diffs = Vec::new();
        if f.kind != after.kind {
            diffs.push(FileDiff {
                path: path.to_string(),
                before: state_text(path, f.kind),
                after: state_text(path, after.kind),
                ..Default::default()
            });
        }
        if !steps.is_empty() && state != State::Absent {
            steps.push(Step::Run {
                cmd: RemoteCommand::argv(["stat", fileops::FINAL_STAT_FORMAT, "--", path]),
            });
        }
        Ok(Plan {
            steps,
            diffs,
            result,
            changed: None,
        })
    }

    fn finish(&self, p: &FileParams, result: &mut TaskResult, outputs: &[ExecOutput]) {
        fileops::apply_final(result, outputs, &p.path, "backup_file");
    }
}

fn recurse_steps(path: &str, a: &Attrs, follow: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    let spec = match (&a.owner, &a.group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    };
    if let Some(spec) = spec {
        let mut argv = vec!["chown".to_string(), "-R".into()];
        if !follow {
            argv.push("-h".into());
        }
        argv.extend(["--".into(), spec, path.to_string()]);
        steps.push(Step::Run {
            cmd: RemoteCommand::argv(argv),
        });
    }
    match &a.mode {
        Some(Mode::Octal(b)) => steps.push(run(["chmod", "-R", &format!("{b:o}"), "--", path])),
        Some(Mode::Symbolic(s)) => steps.push(run(["chmod", "-R", s.as_str(), "--", path])),
        None => {}
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::params;
    use crate::modules::sysprobe::testutil::plan_with;
    use serde_json::json;

    fn plan_of(args: Value, probe: &str) -> Result<Plan, String> {
        plan_in(args, probe, PlanCtx::default())
    }

    fn plan_in(args: Value, probe: &str, ctx: PlanCtx) -> Result<Plan, String> {
        let Value::Object(m) = args else { panic!() };
        let p: FileParams = params("file", m).map_err(|e| e.to_string())?;
        let out = ExecOutput {
            rc: 0,
            stdout: super::fileops::reply_of(probe),
            stderr: vec![],
        };
        plan_with(&File, &p, &out, ctx)
    }

    const ABSENT: &str = "path=/srv/d\nkind=absent\nparent=1\n";
    const DIR: &str = "path=/srv/d\nkind=directory\nmode=755\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=4096\nparent=1\n";

    #[test]
    fn golden_file() {
        let fresh = plan_of(
            json!({"path": "/srv/d", "state": "directory", "mode": "0750", "owner": "nobody"}),
            ABSENT,
        )
        .unwrap();
        insta::assert_yaml_snapshot!("file_dir_fresh", fresh);
        let conv = plan_of(
            json!({"dest": "/srv/d", "state": "directory", "mode": "0755", "owner": "root"}),
            DIR,
        )
        .unwrap();
        assert!(conv.steps.is_empty(), "{conv:?}");
        insta::assert_yaml_snapshot!("file_dir_converged", conv);
        let rec = plan_of(
            json!({"name": "/srv/d", "state": "directory", "recurse": true, "owner": "root", "group": "root"}),
            &format!("{DIR}recurse_diff=1\n"),
        )
        .unwrap();
        insta::assert_yaml_snapshot!("file_dir_recurse_partial", rec);
        // A symbolic recursive mode is checked per (type, mode) below the directory, as
        // chmod computes it: `X` keeps an executable file executable, so 750 files are
        // converged under `u=rwX,g=rX,o=` and only the 644 one (→ 640) needs the chmod.
        let sym = json!({"path": "/srv/d", "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o="});
        let dir750 = DIR.replace("mode=755", "mode=750");
        let converged = plan_of(
            sym.clone(),
            &format!("{dir750}recurse_mode=d750\nrecurse_mode=f750\nrecurse_mode=f640\n"),
        )
        .unwrap();
        assert!(converged.steps.is_empty(), "{converged:?}");
        let partial = plan_of(
            sym,
            &format!("{dir750}recurse_mode=d750\nrecurse_mode=f644\n"),
        )
        .unwrap();
        assert_eq!(
            partial.steps[0],
            run(["chmod", "-R", "u=rwX,g=rX,o=", "--", "/srv/d"])
        );
        let link = plan_of(
            json!({"path": "/srv/d", "state": "link", "src": "/opt/x"}),
            "path=/srv/d\nkind=link\ntarget=/opt/y\nmode=777\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=6\nparent=1\nsrc_exists=1\n",
        )
        .unwrap();
        insta::assert_yaml_snapshot!("file_link_retarget", link);
        let same = plan_of(
            json!({"path": "/srv/d", "state": "link", "src": "/opt/x"}),
            "path=/srv/d\nkind=link\ntarget=/opt/x\nmode=777\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=6\nparent=1\nsrc_exists=1\n",
        )
        .unwrap();
        assert!(same.steps.is_empty());
        let gone = plan_of(json!({"path": "/srv/d", "state": "absent"}), DIR).unwrap();
        insta::assert_yaml_snapshot!("file_absent", gone);
        assert!(
            plan_of(json!({"path": "/srv/d", "state": "absent"}), ABSENT)
                .unwrap()
                .steps
                .is_empty()
        );
        let touch = plan_of(json!({"path": "/srv/f", "state": "touch", "modification_time": "preserve", "access_time": "preserve"}),
            "path=/srv/f\nkind=file\nmode=644\nuid=0\ngid=0\nowner=root\ngroup=root\nsize=0\nparent=1\n").unwrap();
        assert!(touch.steps.is_empty());
    }

    #[test]
    fn file_errors() {
        let e = plan_of(json!({"path": "/srv/d", "state": "file"}), ABSENT).unwrap_err();
        assert_eq!(e, "file (/srv/d) is absent, cannot continue");
        let e = plan_of(json!({"path": "/srv/d", "state": "link"}), ABSENT).unwrap_err();
        assert_eq!(e, "src is required for state=link");
        let e = plan_of(json!({"path": "/srv/d", "state": "dir"}), ABSENT).unwrap_err();
        insta::assert_snapshot!("file_err_state", e);
        let e = plan_of(
            json!({"path": "/srv/d", "state": "link", "src": "/opt/x"}),
            "path=/srv/d\nkind=file\nmode=644\nparent=1\nsrc_exists=1\n",
        )
        .unwrap_err();
        assert_eq!(e, "refusing to convert from file to symlink for /srv/d");
    }

    #[test]
    fn link_to_a_missing_source() {
        let args = json!({"path": "/root/.kube/config", "state": "link", "src": "/etc/kubernetes/admin.conf"});
        let probe = "path=/root/.kube/config\nkind=absent\nparent=1\n";
        let msg = "src file does not exist, use \"force=yes\" if you really want to create the link: /etc/kubernetes/admin.conf";
        assert_eq!(plan_of(args.clone(), probe).unwrap_err(), msg);
        let check = PlanCtx {
            check: true,
            ..PlanCtx::default()
        };
        assert_eq!(plan_in(args.clone(), probe, check).unwrap_err(), msg);
        // Check mode, and an earlier task of the run would have changed the host (the one
        // that creates the source): plan the link.
        let after_change = PlanCtx {
            check: true,
            changed_before: true,
            ..PlanCtx::default()
        };
        let plan = plan_in(args, probe, after_change).unwrap();
        assert!(plan.is_change(), "{plan:?}");
    }

    #[test]
    fn aliases_pass_load_time_checks() {
        let reg = crate::modules::Registry::builtin();
        let loc = crate::Loc::file("t.yml");
        let Value::Object(m) = json!({"dest": "/x", "state": "touch"}) else {
            panic!()
        };
        reg.check("file", &m, &loc, &loc).unwrap();
    }
}
