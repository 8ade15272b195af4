//! `windlass run --step` on the command line: the question before each task, asked on
//! stdout and answered on stdin, as ansible-playbook asks it.
//!
//! Why this file exists: the engine only asks a [`Stepper`] whether a task runs; the words
//! of the prompt, the banner after the answer and the `(c)ontinue` state are the command
//! line's (plugins/strategy/__init__.py `_take_step`: `display.prompt`, then
//! `display.banner` of the same text).

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::Stepper;

/// Asks on stdout, reads the answer from stdin, until answered `c`/`continue`.
pub(super) struct PromptStepper {
    stepping: AtomicBool,
}

impl PromptStepper {
    pub(super) fn new() -> Self {
        PromptStepper {
            stepping: AtomicBool::new(true),
        }
    }
}

/// `y`/`yes` runs the task; `c`/`continue` runs it and stops asking; anything else (an
/// empty line, end of input) skips it. Returns (run, keep asking).
fn answer(resp: &str) -> (bool, bool) {
    match resp.trim().to_lowercase().as_str() {
        "y" | "yes" => (true, true),
        "c" | "continue" => (true, false),
        _ => (false, true),
    }
}

/// `_take_step`'s question: `Perform task: TASK: x [on HOST ](N)o/(y)es/(c)ontinue: `.
fn question(task: &str, host: Option<&str>) -> String {
    match host {
        Some(h) => format!("Perform task: {task} on {h} (N)o/(y)es/(c)ontinue: "),
        None => format!("Perform task: {task} (N)o/(y)es/(c)ontinue: "),
    }
}

/// `display.banner`: a line break, the text, stars to 80 columns (at least 3).
fn banner(msg: &str) -> String {
    let msg = msg.trim();
    let stars = 80usize.saturating_sub(msg.chars().count() + 1).max(3);
    format!("\n{msg} {}\n", "*".repeat(stars))
}

impl Stepper for PromptStepper {
    fn run(&self, task: &str, host: Option<&str>) -> bool {
        if !self.stepping.load(Ordering::SeqCst) {
            return true;
        }
        let msg = question(task, host);
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{msg}");
        let _ = out.flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let (run, keep) = answer(&line);
        self.stepping.store(keep, Ordering::SeqCst);
        let _ = write!(out, "{}", banner(&msg));
        let _ = out.flush();
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_the_banner_are_ansibles() {
        assert_eq!(answer("y\n"), (true, true));
        assert_eq!(answer("YES"), (true, true));
        assert_eq!(answer("c"), (true, false));
        assert_eq!(answer(""), (false, true));
        assert_eq!(answer("n"), (false, true));
        let q = question("TASK: debug", None);
        assert_eq!(q, "Perform task: TASK: debug (N)o/(y)es/(c)ontinue: ");
        // As ansible-playbook 2.19 printed it: 80 columns.
        let b = banner(&q);
        assert_eq!(b.trim_end().lines().last().unwrap().len(), 80);
        assert!(b.starts_with("\nPerform task: TASK: debug (N)o/(y)es/(c)ontinue: ***"));
        assert_eq!(
            question("TASK: x", Some("h1")),
            "Perform task: TASK: x on h1 (N)o/(y)es/(c)ontinue: "
        );
    }
}
