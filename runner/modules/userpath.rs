//! A path parameter of Ansible's type `path` as one shell word: a leading `~` or `~user`
//! expanded by the host's shell, the rest quoted.
//!
//! Why this module exists: Ansible expands `~` in a `path` parameter on the host, in the
//! module's own user (`os.path.expanduser`), so `known_hosts`' default
//! `~/.ssh/known_hosts` is the connecting (or become) user's file. The controller cannot
//! know that home; the host's shell does, so the word leaves the tilde part unquoted and
//! quotes everything else: no other character of the path is ever shell syntax.

use crate::command::quote;

/// Whether `name` can follow `~` unquoted and be read by the shell as a user name only.
fn plain_user(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `path` as a shell word that the host's shell expands as `os.path.expanduser` would:
/// `~` and `~/x` from `$HOME`, `~user/x` from the password database; anything else quoted
/// as it is.
pub fn shell_word(path: &str) -> String {
    let Some(rest) = path.strip_prefix('~') else {
        return quote(path).into_owned();
    };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let head = match user {
        "" => "\"$HOME\"".to_string(),
        u if plain_user(u) => format!("~{u}"),
        _ => return quote(path).into_owned(),
    };
    match tail {
        "" => head,
        t => format!("{head}{}", quote(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(word: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {word}"))
            .env("HOME", "/home/me")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn tilde_is_the_shells_the_rest_is_quoted() {
        assert_eq!(sh(&shell_word("~")), "/home/me");
        assert_eq!(
            sh(&shell_word("~/.ssh/known hosts")),
            "/home/me/.ssh/known hosts"
        );
        assert_eq!(sh(&shell_word("~root/x")), "/root/x");
        assert_eq!(sh(&shell_word("/a/~/$(id)'b")), "/a/~/$(id)'b");
        assert_eq!(sh(&shell_word("~$(id)/x")), "~$(id)/x");
        assert_eq!(shell_word("~/a b"), "\"$HOME\"'/a b'");
    }
}
