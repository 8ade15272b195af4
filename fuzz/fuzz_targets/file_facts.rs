//! Fuzz target: a file probe's reply, whatever the host sends, parses to facts or an
//! "unexpected probe output" error, never a panic; and what parses carries the path the
//! controller sent, never one from the reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use windlass::fuzzing::parse_facts;
use windlass::transport::ExecOutput;

fuzz_target!(|data: &[u8]| {
    let out = ExecOutput {
        rc: 0,
        stdout: data.to_vec(),
        stderr: Vec::new(),
    };
    match parse_facts("/sent", &out) {
        Ok(f) => assert_eq!(f.path, "/sent"),
        Err(e) => assert!(e.starts_with("unexpected probe output"), "{e}"),
    }
});
