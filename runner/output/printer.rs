//! The terminal printer: output shaped like ansible-playbook's, so users read it at a glance.
//!
//! PLAY and TASK headers, one line per host result (`ok`, `changed`, `skipping`, `fatal`),
//! the PLAY RECAP with per-host totals, and the run's wall time. Colors on a TTY only.

use std::io::Write;

use serde_json::Value;

use crate::event::{CommandOp, Event, EventSink, Status};
use crate::modules::plan::FileDiff;

/// Prints events for people.
pub struct Printer<W: Write + Send> {
    out: W,
    /// Where `[WARNING]:` lines go: stderr, as Ansible's `Display.warning`.
    warn: Box<dyn Write + Send>,
    color: bool,
    verbosity: u8,
    timings: bool,
    progress: Option<Progress>,
    /// The running task's action (`debug` results are always shown).
    action: String,
}

/// A live bar under the output on a terminal: the running task and how many of its hosts
/// are done. Lines are printed above it.
struct Progress {
    bar: indicatif::ProgressBar,
    seen: std::collections::HashSet<String>,
}

impl<W: Write + Send> Printer<W> {
    /// A printer to `out`; `color` for ANSI colors; `verbosity` like `-v`.
    pub fn new(out: W, color: bool, verbosity: u8) -> Self {
        Printer {
            out,
            warn: Box::new(std::io::stderr()),
            color,
            verbosity,
            timings: true,
            progress: None,
            action: String::new(),
        }
    }

    /// Send the `[WARNING]:` lines to `w` instead of stderr.
    pub fn with_warnings_to(mut self, w: impl Write + Send + 'static) -> Self {
        self.warn = Box::new(w);
        self
    }

    /// One `[WARNING]:` line, on the warnings' stream.
    fn warning(&mut self, message: &str) {
        let line = self.paint("35", &format!("[WARNING]: {message}"));
        let _ = writeln!(self.warn, "{line}");
    }

    /// Show a progress bar on stderr (for terminals).
    pub fn with_progress(mut self) -> Self {
        let bar = indicatif::ProgressBar::new(0);
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} hosts {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        self.progress = Some(Progress {
            bar,
            seen: std::collections::HashSet::new(),
        });
        self
    }

    /// Leave out wall-clock times (for reproducible output in tests).
    pub fn without_timings(mut self) -> Self {
        self.timings = false;
        self
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn header(&mut self, title: &str) {
        let stars = 80usize.saturating_sub(title.len() + 1).max(3);
        let line = format!("\n{title} {}", "*".repeat(stars));
        let _ = writeln!(self.out, "{line}");
    }
}

/// JSON with Ansible's 4-space indentation.
fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    if v.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// JSON the way Ansible's default callback prints a failure: Python's `json.dumps` with
/// sorted keys and `", "`/`": "` separators.
fn compact(v: &Value) -> String {
    let mut out = String::new();
    dump(v, &mut out);
    out
}

fn dump(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(": ");
                dump(&m[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

/// What a result shows after `=>`, as Ansible's default callback cleans it: no internal
/// keys, no `diff` (printed as a diff), and for `debug` only the message (or the variable).
fn shown_result(
    result: &serde_json::Map<String, Value>,
    is_debug: bool,
) -> serde_json::Map<String, Value> {
    result
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("_ansible") && !matches!(k.as_str(), "diff" | "failed" | "skipped")
        })
        .filter(|(k, _)| {
            !is_debug
                || if result.contains_key("msg") {
                    ["msg", "warnings", "deprecations", "censored"].contains(&k.as_str())
                } else {
                    ![
                        "changed",
                        "failed",
                        "skipped",
                        "skip_reason",
                        "invocation",
                        "ansible_loop_var",
                        "item",
                    ]
                    .contains(&k.as_str())
                }
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A failed result as Ansible's callbacks get it: without the `failed` and `skipped` flags
/// (lib/ansible/executor/task_result.py, `_IGNORE`).
fn dumped(result: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    result
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "failed" | "skipped"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `v` with every mapping's keys sorted, as Python's `json.dumps(sort_keys=True)`.
pub(crate) fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A file's change as `--diff` prints it: a unified diff, headed `before: <header>` and
/// `after: <header>` when the module gave Ansible's `before_header`/`after_header`, else
/// plain `before` and `after`, as the callback's `_get_diff` (for other sinks too).
pub fn unified_diff(d: &FileDiff) -> String {
    let head = |side: &str, h: &Option<String>| match h {
        Some(h) => format!("{side}: {h}"),
        None => side.to_string(),
    };
    similar::TextDiff::from_lines(&d.before, &d.after)
        .unified_diff()
        .context_radius(3)
        .header(
            &head("before", &d.before_header),
            &head("after", &d.after_header),
        )
        .to_string()
}

/// The `-vvv` line of [`Event::Module`]: ansible-playbook's own `Using module file <path>`
/// (`ActionBase._configure_module`) for a module the bridge runs, and
/// `Using windlass native module <fqcn>` for one windlass implements.
pub(crate) fn module_line(module: &str, path: Option<&str>) -> String {
    match path {
        Some(p) => format!("Using module file {p}"),
        None => format!("Using windlass native module {module}"),
    }
}

/// ` => (item=…)` with the label as Python's `str()` shows it (Ansible's default callback
/// formats it with `%s`: a dict prints as `{'a': 1}`).
fn item_label(item: &Option<Value>) -> String {
    match item {
        None => String::new(),
        Some(v) => format!(" => (item={})", crate::template::json_py_str(v)),
    }
}

impl<W: Write + Send> EventSink for Printer<W> {
    fn event(&mut self, event: &Event) {
        if let Some(p) = &mut self.progress {
            match event {
                Event::TaskStart { name, hosts, .. } => {
                    p.seen.clear();
                    p.bar.set_length(*hosts as u64);
                    p.bar.set_position(0);
                    p.bar.set_message(format!("TASK [{name}]"));
                }
                Event::HostResult { host, .. } if p.seen.insert(host.clone()) => p.bar.inc(1),
                Event::RunEnd { .. } => p.bar.finish_and_clear(),
                _ => {}
            }
        }
        match self.progress.take() {
            Some(p) => {
                p.bar.suspend(|| self.print(event));
                self.progress = Some(p);
            }
            None => self.print(event),
        }
    }
}

impl<W: Write + Send> Printer<W> {
    fn print(&mut self, event: &Event) {
        match event {
            Event::RunStart { .. } => {}
            Event::PlayStart { name, hosts } => {
                self.header(&format!("PLAY [{name}]"));
                // As Ansible's default callback `v2_playbook_on_no_hosts_matched`.
                if hosts.is_empty() {
                    let line = self.paint("36", "skipping: no hosts matched");
                    let _ = writeln!(self.out, "{line}");
                }
            }
            Event::TaskStart {
                name,
                handler,
                action,
                ..
            } => {
                self.action = action.clone();
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                self.header(&format!("{kind} [{name}]"));
            }
            // A loop's summary: Ansible's default callback (plugins/callback/default.py)
            // printed the items already; it adds `...ignoring` for an ignored failure and
            // `skipping: [host]` when every item was skipped, nothing else.
            Event::HostResult {
                host,
                status,
                ignored,
                loop_summary: true,
                ..
            } => {
                let line = match status {
                    Status::Failed if *ignored => self.paint("36", "...ignoring"),
                    Status::Skipped => self.paint("36", &format!("skipping: [{host}]")),
                    _ => return,
                };
                let _ = writeln!(self.out, "{line}");
            }
            Event::HostResult {
                host,
                status,
                item,
                result,
                ignored,
                delegated_to,
                diff,
                ..
            } => {
                // As the default callback's `_handle_warnings`: a module's warnings, each a
                // `[WARNING]:` line, before the result (also for a failed or skipped one).
                if let Some(Value::Array(ws)) = result.get("warnings") {
                    for w in ws.iter().filter_map(Value::as_str) {
                        self.warning(w);
                    }
                }
                for d in diff {
                    let _ = write!(
                        self.out,
                        "{}",
                        super::color::paint_diff(&unified_diff(d), self.color)
                    );
                }
                // As Ansible's `CallbackBase.host_label`: the delegate only when it is
                // another host.
                let host = match delegated_to {
                    Some(d) if d != host => format!("{host} -> {d}"),
                    _ => host.clone(),
                };
                let label = item_label(item);
                let line = match status {
                    // An include's `ok` (its items' too) prints nothing: its `included:`
                    // lines say it (default.py returns early for a `TaskInclude`).
                    Status::Ok | Status::Changed
                        if matches!(
                            self.action.rsplit('.').next(),
                            Some("include_tasks" | "include_role")
                        ) =>
                    {
                        return;
                    }
                    Status::Ok | Status::Changed => {
                        let (word, code) = if *status == Status::Changed {
                            ("changed", "33")
                        } else {
                            ("ok", "32")
                        };
                        let mut s = format!("{word}: [{host}]{label}");
                        // As ansible-playbook: `debug` always shows its result (indented),
                        // other tasks from `-v` on (one line; indented from `-vvv`).
                        let is_debug = self.action.rsplit('.').next() == Some("debug");
                        if is_debug || self.verbosity > 0 {
                            let shown = shown_result(result, is_debug);
                            if !shown.is_empty() {
                                s.push_str(" => ");
                                if is_debug || self.verbosity > 2 {
                                    s.push_str(&pretty(&sorted(&Value::Object(shown))));
                                } else {
                                    s.push_str(&compact(&Value::Object(shown)));
                                }
                            }
                        }
                        self.paint(code, &s)
                    }
                    // (Ansible's item line ends in a space: `"... (item=%s) "`.)
                    Status::Skipped if item.is_some() => {
                        self.paint("36", &format!("skipping: [{host}]{label} "))
                    }
                    Status::Skipped => self.paint("36", &format!("skipping: [{host}]")),
                    Status::Unreachable => self.paint(
                        "31",
                        &format!(
                            "fatal: [{host}]: UNREACHABLE! => {}",
                            compact(&Value::Object(result.clone()))
                        ),
                    ),
                    Status::Failed => {
                        let dumped = compact(&Value::Object(dumped(result)));
                        let mut s = match item {
                            Some(v) => format!(
                                "failed: [{host}] (item={}) => {dumped}",
                                crate::template::json_py_str(v)
                            ),
                            None => format!("fatal: [{host}]: FAILED! => {dumped}"),
                        };
                        // A looped task's `...ignoring` comes once, after its items.
                        if *ignored && item.is_none() {
                            s.push_str("\n...ignoring");
                        }
                        self.paint("31", &s)
                    }
                };
                let _ = writeln!(self.out, "{line}");
            }
            // As ansible-playbook -vvv: `<host> EXEC <line>`, here with the exit code and time.
            Event::Command {
                host,
                op,
                line,
                rc,
                error,
                duration,
                ..
            } if self.verbosity >= 3 => {
                let word = match op {
                    CommandOp::Exec => "EXEC",
                    CommandOp::Put => "PUT",
                    CommandOp::Get => "GET",
                };
                let what = line.as_deref().unwrap_or("(censored due to no_log)");
                let mut tail = match (rc, error) {
                    (Some(rc), _) => format!("rc={rc}"),
                    (None, Some(e)) => format!("error: {e}"),
                    (None, None) => "error".to_string(),
                };
                if self.timings {
                    tail.push_str(&format!(", {:.3}s", duration.as_secs_f64()));
                }
                let _ = writeln!(
                    self.out,
                    "{}",
                    self.paint("34", &format!("<{host}> {word} {what} ({tail})"))
                );
            }
            Event::Command { .. } => {}
            Event::Module { module, path, .. } if self.verbosity >= 3 => {
                let line = module_line(module, path.as_deref());
                let _ = writeln!(self.out, "{}", self.paint("34", &line));
            }
            Event::Module { .. } => {}
            Event::Warning { message } => self.warning(message),
            // As Ansible's default callback `v2_runner_retry`.
            Event::Retry {
                host,
                task,
                retries_left,
                delegated_to,
                ..
            } => {
                let host = match delegated_to {
                    Some(d) if d != host => format!("{host} -> {d}"),
                    _ => host.clone(),
                };
                let line =
                    format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left).");
                let _ = writeln!(self.out, "{}", self.paint("34", &line));
            }
            // As Ansible's default callback `v2_playbook_on_include`.
            Event::Include {
                path, hosts, item, ..
            } => {
                let line = format!(
                    "included: {path} for {}{}",
                    hosts.join(", "),
                    item_label(item)
                );
                let _ = writeln!(self.out, "{}", self.paint("36", &line));
            }
            Event::NoHostsRemaining => {
                let _ = writeln!(self.out, "\nNO MORE HOSTS LEFT {}", "*".repeat(61));
            }
            Event::RunEnd { stats, duration } => {
                self.header("PLAY RECAP");
                let width = stats
                    .iter()
                    .map(|(h, _)| h.len())
                    .max()
                    .unwrap_or(0)
                    .max(26);
                for (host, s) in stats {
                    let code = if s.failed > 0 || s.unreachable > 0 {
                        "31"
                    } else if s.changed > 0 {
                        "33"
                    } else {
                        "32"
                    };
                    let name = self.paint(code, &format!("{host:<width$}"));
                    let _ = writeln!(
                        self.out,
                        "{name} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={}",
                        s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
                    );
                }
                if self.timings {
                    let _ = writeln!(self.out, "\nfinished in {:.2}s", duration.as_secs_f64());
                }
            }
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A changed result with `diff`.
    pub(crate) fn changed(diff: Vec<FileDiff>) -> Event {
        let mut result = serde_json::Map::new();
        result.insert("changed".into(), Value::Bool(true));
        Event::HostResult {
            host: "h1".into(),
            task: "write".into(),
            status: Status::Changed,
            item: None,
            result,
            ignored: false,
            delegated_to: None,
            loop_summary: false,
            duration: std::time::Duration::ZERO,
            diff,
        }
    }

    fn printed(e: &Event) -> String {
        let mut out = Vec::new();
        Printer::new(&mut out, false, 0).without_timings().event(e);
        String::from_utf8(out).unwrap()
    }

    /// The printer turns the event's typed diffs into unified diffs, one file after the
    /// other, before the host's line; no diff, no text.
    #[test]
    fn diffs_print_as_unified_diffs_before_the_result_line() {
        let d = |path: &str, before: &str, after: &str| FileDiff {
            path: path.into(),
            before: before.into(),
            after: after.into(),
            ..Default::default()
        };
        let text = printed(&changed(vec![
            d("/etc/x", "a\nb\n", "a\nc\n").headed("/etc/x", "/etc/x"),
            d("/etc/new", "", "n\n"),
        ]));
        // Headed `before: <header>` when the module named one, else plain `before`.
        assert_eq!(
            text,
            "--- before: /etc/x\n+++ after: /etc/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\
             --- before\n+++ after\n@@ -0,0 +1 @@\n+n\n\
             changed: [h1]\n"
        );
        assert_eq!(printed(&changed(vec![])), "changed: [h1]\n");
    }

    /// `-vvv` names the implementation of each execution: ansible-playbook's own
    /// `Using module file <path>` for a bridged module, the native line otherwise; below
    /// `-vvv`, nothing.
    #[test]
    fn module_events_print_which_path_a_task_took_from_vvv_on() {
        let event = |path: Option<&str>| Event::Module {
            host: "h1".into(),
            task: "t".into(),
            module: "ansible.builtin.cron".into(),
            path: path.map(str::to_string),
        };
        let at = |verbosity: u8, e: &Event| {
            let mut out = Vec::new();
            Printer::new(&mut out, false, verbosity)
                .without_timings()
                .event(e);
            String::from_utf8(out).unwrap()
        };
        let bridged = event(Some("/venv/ansible/modules/cron.py"));
        assert_eq!(
            at(3, &bridged),
            "Using module file /venv/ansible/modules/cron.py\n"
        );
        assert_eq!(
            at(3, &event(None)),
            "Using windlass native module ansible.builtin.cron\n"
        );
        assert_eq!(at(2, &bridged), "");
        assert_eq!(at(2, &event(None)), "");
    }

    /// A shared buffer standing in for stderr.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// As ansible-playbook: warnings (the run's, and each of a module's `warnings`) are
    /// `[WARNING]:` lines on stderr, a module's before its result line; stdout keeps the rest.
    #[test]
    fn warnings_go_to_stderr_a_modules_before_its_result() {
        let err = Shared::default();
        let mut out = Vec::new();
        let mut p = Printer::new(&mut out, false, 0)
            .without_timings()
            .with_warnings_to(err.clone());
        p.event(&Event::Warning {
            message: "Could not match supplied host pattern, ignoring: x".into(),
        });
        let mut e = changed(vec![]);
        if let Event::HostResult { result, .. } = &mut e {
            result.insert("warnings".into(), serde_json::json!(["one", "two"]));
        }
        p.event(&e);
        drop(p);
        assert_eq!(String::from_utf8(out).unwrap(), "changed: [h1]\n");
        assert_eq!(
            String::from_utf8(err.0.lock().unwrap().clone()).unwrap(),
            "[WARNING]: Could not match supplied host pattern, ignoring: x\n\
             [WARNING]: one\n[WARNING]: two\n"
        );
    }
}
