//! windlass: run Ansible-style inventories, playbooks and roles across many hosts over SSH.
//!
//! The pipeline is parse → resolve → plan → apply: [`inventory`] and [`playbook`] load and
//! validate input (every error names file:line:col), `engine` runs plays on hosts through
//! a [`transport::Transport`], [`modules`] decide what to change, and everything that
//! happens comes out as one stream of [`event::Event`]s.
//!
//! Embedding it takes a few lines with [`embed::Runner`]:
//!
//! ```
//! use windlass::embed::Runner;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let report = Runner::new()
//!     .inventory_str("node1 ansible_connection=local\n")
//!     .unwrap()
//!     .playbook_str(
//!         "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo {{ word }}\n",
//!         &dir.path().join("site.yml"),
//!     )
//!     .unwrap()
//!     .extra_var("word", "hello")
//!     .run()
//!     .unwrap();
//! assert_eq!(report.exit_code, 0);
//! ```
#![warn(missing_docs)]

pub(crate) mod become_defaults;
pub(crate) mod boolean;
pub(crate) mod bridge;
pub mod cli;
pub mod command;
pub mod config;
pub mod embed;
pub(crate) mod engine;
mod error;
pub mod event;
pub mod exit;
#[cfg(test)]
mod fuzz_smoke;
pub mod inventory;
pub(crate) mod journal;
pub mod lab;
pub mod modules;
pub mod output;
pub mod ping;
pub mod playbook;
pub mod scenario;
pub(crate) mod stop_signals;
pub mod template;
pub mod transport;
pub(crate) mod unhonoured;
pub(crate) mod vault;
pub(crate) mod yaml;

pub use error::{Error, Loc, Result};

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

/// The book's Rust samples, compiled as doctests so they cannot drift from the API.
#[doc = include_str!("../book/src/embedding.md")]
#[cfg(doctest)]
pub struct BookEmbedding;
