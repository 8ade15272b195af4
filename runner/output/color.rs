//! Whether the terminal printer paints its output: on a terminal, unless the user said no.
//!
//! Why this module exists: ansible-core decides it from `ANSIBLE_NOCOLOR` (or the
//! generic `NO_COLOR`), whether stdout is a terminal, and `ANSIBLE_FORCE_COLOR`, which wins
//! over both (`utils/color.py`; `config/base.yml` `ANSIBLE_NOCOLOR`, `ANSIBLE_FORCE_COLOR`).
//! Users carry these settings over, and piping to a file must stay free of escape codes.

use std::ffi::OsString;

/// Colour for a stdout that is a terminal (`tty`) or not, with the environment read by
/// `env`.
pub fn wanted(tty: bool, env: impl Fn(&str) -> Option<OsString>) -> bool {
    let flag = |name: &str| {
        env(name).is_some_and(|v| {
            crate::boolean::parse_bool(&v.to_string_lossy()).unwrap_or(!v.is_empty())
        })
    };
    if flag("ANSIBLE_FORCE_COLOR") {
        return true;
    }
    let no_color = match env("ANSIBLE_NOCOLOR") {
        Some(_) => flag("ANSIBLE_NOCOLOR"),
        None => env("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    tty && !no_color
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn terminal_and_the_users_say() {
        assert!(wanted(true, env(&[])));
        assert!(!wanted(false, env(&[])));
        assert!(!wanted(true, env(&[("NO_COLOR", "1")])));
        assert!(!wanted(true, env(&[("ANSIBLE_NOCOLOR", "true")])));
        // ANSIBLE_NOCOLOR is read before NO_COLOR, as ansible-core's list of variables.
        assert!(wanted(
            true,
            env(&[("ANSIBLE_NOCOLOR", "0"), ("NO_COLOR", "1")])
        ));
        assert!(wanted(
            false,
            env(&[("ANSIBLE_FORCE_COLOR", "1"), ("NO_COLOR", "1")])
        ));
        assert!(!wanted(false, env(&[("ANSIBLE_FORCE_COLOR", "false")])));
    }
}

/// A unified diff as ansible-core's callbacks paint it when colour is on
/// (`CallbackBase._get_diff`): lines starting `+` green, `-` red, `@@` cyan, through
/// `stringc`, which paints each `\n`-separated piece of a line (so a line's newline is
/// followed by an empty painted piece, byte for byte as Ansible prints it).
pub fn paint_diff(diff: &str, color: bool) -> String {
    if !color {
        return diff.to_string();
    }
    diff.split_inclusive('\n')
        .map(|line| {
            let code = if line.starts_with('+') {
                "0;32"
            } else if line.starts_with('-') {
                "0;31"
            } else if line.starts_with("@@") {
                "0;36"
            } else {
                return line.to_string();
            };
            line.split('\n')
                .map(|piece| format!("\x1b[{code}m{piece}\x1b[0m"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[cfg(test)]
mod diff_tests {
    use super::paint_diff;

    #[test]
    fn diff_lines_painted_as_ansible() {
        let d = "--- before: f\n+++ after: f\n@@ -1 +1 @@\n-a\n+b\n ctx\n\n";
        assert_eq!(paint_diff(d, false), d);
        assert_eq!(
            paint_diff(d, true),
            "\x1b[0;31m--- before: f\x1b[0m\n\x1b[0;31m\x1b[0m\
             \x1b[0;32m+++ after: f\x1b[0m\n\x1b[0;32m\x1b[0m\
             \x1b[0;36m@@ -1 +1 @@\x1b[0m\n\x1b[0;36m\x1b[0m\
             \x1b[0;31m-a\x1b[0m\n\x1b[0;31m\x1b[0m\
             \x1b[0;32m+b\x1b[0m\n\x1b[0;32m\x1b[0m ctx\n\n"
        );
    }
}
