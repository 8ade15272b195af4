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
