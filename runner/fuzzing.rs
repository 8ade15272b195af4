//! The parsers the coverage-guided fuzz targets feed, reachable from outside the crate.
//!
//! Why this module exists: the targets in `fuzz/` are a crate of their own (cargo-fuzz),
//! so they can only call public items, but what they fuzz (the YAML reader, the file probe's
//! facts, every probe-reply parser) is not API. The `fuzzing` feature, off by default and
//! turned on only by `fuzz/Cargo.toml`, re-exports exactly those entry points here; nothing
//! else in the crate depends on it.

pub use crate::modules::fileops::{FileFacts, parse_facts};
pub use crate::modules::reply_fuzz::{PARSERS, feed};
pub use crate::transport::ExecOutput;
pub use crate::yaml::parse as parse_yaml;
