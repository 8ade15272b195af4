//! Process exit codes, the same numbers ansible-playbook uses, so wrappers and CI scripts
//! written for Ansible keep working.

/// Every host ok.
pub const OK: i32 = 0;
/// A run-level error (bad input, syntax).
pub const ERROR: i32 = 1;
/// One or more hosts failed.
pub const HOST_FAILED: i32 = 2;
/// One or more hosts were unreachable (and none failed).
pub const HOST_UNREACHABLE: i32 = 4;
/// Malformed input (YAML syntax): ansible-playbook's `ExitCode.PARSER_ERROR`
/// (lib/ansible/errors/__init__.py), the same number as [`HOST_UNREACHABLE`].
pub const PARSER_ERROR: i32 = HOST_UNREACHABLE;
/// Bad command-line options.
pub const BAD_OPTIONS: i32 = 5;
/// A command line that does not parse (an unknown option, a missing or mistyped value):
/// ansible-playbook's argparse exits 2 (`parser.error`), the same number as
/// [`HOST_FAILED`].
pub const USAGE_ERROR: i32 = HOST_FAILED;
/// Interrupted by Ctrl-C (SIGINT): 128 + 2.
pub const INTERRUPTED: i32 = 130;
/// Stopped by SIGHUP (the terminal closed): 128 + 1.
pub const HANGUP: i32 = 129;
/// Stopped by SIGTERM (`kill`, `timeout`, a cancelled CI job): 128 + 15.
pub const TERMINATED: i32 = 143;
/// An unexpected internal error.
pub const UNEXPECTED: i32 = 250;
