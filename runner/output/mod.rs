//! Sinks of the event stream that write for people and machines.
//!
//! Why this module exists: the terminal printer ([`printer`]) and the JSONL writer
//! ([`jsonl`]) are the two standard consumers of [`crate::event::Event`]s; both are plain
//! [`crate::event::EventSink`]s, like any embedder's own.

pub mod adhoc;
pub(crate) mod color;
pub mod jsonl;
pub mod printer;
