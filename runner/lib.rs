//! windlass: run Ansible-style inventories, playbooks and roles across many hosts over SSH.
#![warn(missing_docs)]

pub mod command;
pub mod error;
pub mod exit;
pub mod template;
pub mod transport;
pub mod yaml;

pub use error::{Error, Loc, Result};
