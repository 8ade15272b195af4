//! `command`'s `expand_argument_vars`: `$VAR`, `${VAR}` and a leading `~` in its arguments.
//!
//! Why this module exists: Ansible's command module hands its argument list to
//! `run_command(..., expand_user_and_vars=expand_argument_vars)`, which applies
//! `os.path.expanduser(os.path.expandvars(arg))` to every argument on the host
//! (lib/ansible/module_utils/basic.py, `run_command`), default on. So `command: echo $HOME`
//! prints the home directory even though no shell runs. windlass does the same on the host,
//! where the module's environment is: a fixed POSIX sh script gets the words as positional
//! parameters (never as script text), rebuilds each one as `expandvars` would (a
//! `$name`/`${name}` set in the environment is replaced, any other stays as written, a
//! replaced value is never expanded again) and `expanduser` (`~`, `~/x` from `$HOME`,
//! `~user` from the password database), then `exec`s the result.

/// The expanding script; `$@` holds the words.
const SCRIPT: &str = r#"for a do shift; r=; w=$a
while :; do
case $w in *'$'*) ;; *) r=$r$w; break;; esac
r=$r${w%%\$*}; w=${w#*\$}
case $w in
'{'*) i=${w#?}; case $i in *'}'*) n=${i%%\}*}; t=${i#*\}}; l="\${$n}";; *) r=$r\$; continue;; esac;;
*) n=${w%%[!A-Za-z0-9_]*}; if [ -z "$n" ]; then r=$r\$; continue; fi; t=${w#"$n"}; l=\$$n;;
esac
if [ -n "$n" ] && v=$(printenv -- "$n" && printf .); then v=${v%.}; r=$r${v%?}; else r=$r$l; fi
w=$t
done
case $r in
'~'|'~/'*) if [ -n "${HOME+x}" ]; then h=$HOME; else h=$(getent passwd -- "$(id -u)" | cut -d: -f6); fi; while case $h in */) true;; *) false;; esac; do h=${h%/}; done; r=$h${r#?}; [ -n "$r" ] || r=/;;
'~'?*) u=${r#?}; u=${u%%/*}; h=$(getent passwd -- "$u" | cut -d: -f6); if [ -n "$h" ]; then while case $h in */) true;; *) false;; esac; do h=${h%/}; done; r=$h${r#"~$u"}; [ -n "$r" ] || r=/; fi;;
esac
set -- "$@" "$r"; done
exec "$@""#;

/// Whether any word has something to expand (otherwise the words run as they are): a
/// `~` first, or what `expandvars` matches (`\$(\w+|\{[^}]*\})`, ASCII, in Python's
/// `posixpath`) — `$(id)` or a lone `$` are left as written without running the script.
pub fn needed(argv: &[String]) -> bool {
    argv.iter().any(|w| w.starts_with('~') || has_var(w))
}

fn has_var(w: &str) -> bool {
    w.match_indices('$').any(|(i, _)| {
        let rest = &w[i + 1..];
        match rest.as_bytes().first() {
            Some(b'{') => rest.contains('}'),
            Some(c) => c.is_ascii_alphanumeric() || *c == b'_',
            None => false,
        }
    })
}

/// The argv that runs `argv` after expanding it on the host.
pub fn wrap(argv: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = ["sh", "-c", SCRIPT, "sh"].map(String::from).to_vec();
    out.extend(argv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::RemoteCommand;

    #[test]
    fn needed_only_for_what_expandvars_matches() {
        let n = |w: &str| needed(&[w.to_string()]);
        assert!(n("$HOME") && n("a${X}b") && n("${}") && n("~") && n("~/x") && n("$_"));
        assert!(!n("$(id)") && !n("$") && !n("a$") && !n("${x") && !n("a~") && !n("$-"));
    }

    fn run(words: &[&str]) -> String {
        let mut argv = vec!["printf".to_string(), "[%s]".to_string()];
        argv.extend(words.iter().map(|s| s.to_string()));
        let mut cmd = RemoteCommand::argv(wrap(argv));
        cmd.env = vec![
            ("WL_A".into(), "v a l\n".into()),
            ("WL_D".into(), "$WL_A".into()),
            ("HOME".into(), "/h/".into()),
        ];
        let out = crate::transport::local::LocalTransport::exec_blocking(&cmd);
        assert_eq!(out.rc, 0, "{}", out.stderr_str());
        out.stdout_str().to_string()
    }

    #[test]
    fn as_python_expandvars_and_expanduser() {
        assert_eq!(
            run(&[
                "$WL_A",
                "x${WL_A}y",
                "$WL_NOPE",
                "${}",
                "$",
                "a$",
                "$WL_D",
                "${WL_A"
            ]),
            "[v a l\n][xv a l\ny][$WL_NOPE][${}][$][a$][$WL_A][${WL_A]"
        );
        assert_eq!(
            run(&[
                "~",
                "~/x",
                "x~",
                "~root/y",
                "~nosuchuser_s7/z",
                "$(id)",
                "`id`;"
            ]),
            "[/h][/h/x][x~][/root/y][~nosuchuser_s7/z][$(id)][`id`;]"
        );
        assert!(!needed(&["a$".into()]) && !needed(&["a~".into()]));
    }
}
