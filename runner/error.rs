//! Errors of the library, and source locations.
//!
//! Why this module exists: every error that comes from user input (inventory, playbook,
//! role, template, `-e`) must point at the file, line and column it came from, so that the
//! CLI can render a diagnostic and an embedder can show its own. Run-level errors live here;
//! host- and task-level failures are not errors but [`crate::event::Event`]s.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A place in a source file: 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    /// The file; `<-e>` or `<string>` for input that came from no file.
    pub file: Arc<Path>,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
}

impl Loc {
    /// A location in `file` at `line`:`col`.
    pub fn new(file: Arc<Path>, line: u32, col: u32) -> Self {
        Loc { file, line, col }
    }

    /// The location of a whole file (no line known).
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Loc {
            file: Arc::from(file.into()),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
        }
    }
}

impl Serialize for Loc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A run-level error: bad input, bad options, or an engine fault. Nothing it names has
/// touched a host when it comes from loading or resolving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Malformed input: YAML, INI or template syntax.
    #[error("{message}")]
    Syntax {
        /// Where.
        loc: Loc,
        /// What is wrong.
        message: String,
    },
    /// Well-formed input that means nothing valid: unknown keyword or parameter, wrong type,
    /// missing role, bad host pattern, cycle.
    #[error("{message}")]
    Invalid {
        /// Where.
        loc: Loc,
        /// What is wrong.
        message: String,
        /// How to fix it, when we know.
        help: Option<String>,
    },
    /// Well-formed YAML that ansible-playbook's parser refuses as it loads the playbook (an
    /// unknown module, task keyword or play keyword, a play keyword that fails to template):
    /// exit 4, as its `AnsibleParserError`.
    #[error("{message}")]
    Parser {
        /// Where.
        loc: Loc,
        /// What is wrong.
        message: String,
        /// How to fix it, when we know.
        help: Option<String>,
    },
    /// A template failed to render (undefined variable, filter error) outside any host's task.
    #[error("{message}")]
    Template {
        /// Where the template came from, when known.
        loc: Option<Loc>,
        /// What is wrong, naming the variable or filter.
        message: String,
    },
    /// Bad command-line options or option values.
    #[error("{0}")]
    Usage(String),
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// A vault secret could not be had (a missing password file, a failing script) or vault
    /// data not opened: exit 1, as ansible-playbook's `AnsibleError`.
    #[error("{0}")]
    Vault(String),
    /// `windlass lab` failed (exit 1).
    #[error(transparent)]
    Lab(#[from] crate::lab::LabError),
    /// Anything else that stops the run.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An [`Error::Invalid`] at `loc`.
    pub fn invalid(loc: &Loc, message: impl Into<String>) -> Self {
        Error::Invalid {
            loc: loc.clone(),
            message: message.into(),
            help: None,
        }
    }

    /// An [`Error::Invalid`] at `loc` with a hint.
    pub fn invalid_help(loc: &Loc, message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Invalid {
            loc: loc.clone(),
            message: message.into(),
            help: Some(help.into()),
        }
    }

    /// An [`Error::Parser`] at `loc`, with a hint when there is one.
    pub fn parser(loc: &Loc, message: impl Into<String>, help: Option<String>) -> Self {
        Error::Parser {
            loc: loc.clone(),
            message: message.into(),
            help,
        }
    }

    /// An [`Error::Syntax`] at `loc`.
    pub fn syntax(loc: &Loc, message: impl Into<String>) -> Self {
        Error::Syntax {
            loc: loc.clone(),
            message: message.into(),
        }
    }

    /// An [`Error::Io`].
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Where the error points, if anywhere.
    pub fn loc(&self) -> Option<&Loc> {
        match self {
            Error::Syntax { loc, .. } | Error::Invalid { loc, .. } | Error::Parser { loc, .. } => {
                Some(loc)
            }
            Error::Template { loc, .. } => loc.as_ref(),
            _ => None,
        }
    }

    /// The message after the place it points at (`file:line:col: message`), for a report
    /// that has no room for the location apart: a host's failure message.
    pub fn located(&self) -> String {
        match self.loc() {
            Some(loc) => format!("{loc}: {self}"),
            None => self.to_string(),
        }
    }

    /// A hint for fixing the error, if any.
    pub fn help(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Error::Invalid { help, .. } | Error::Parser { help, .. } => {
                help.as_deref().map(Into::into)
            }
            Error::Lab(e) => e.help().map(Into::into),
            _ => None,
        }
    }

    /// The process exit code for this error, as ansible-playbook uses them.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => crate::exit::BAD_OPTIONS,
            Error::Syntax { .. } | Error::Parser { .. } => crate::exit::PARSER_ERROR,
            Error::Interrupted => crate::exit::INTERRUPTED,
            Error::Other(_) => crate::exit::UNEXPECTED,
            _ => crate::exit::ERROR,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
