//! Fuzz target: inventory parsing (INI and YAML) must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = windlass::fuzzing::parse_yaml(text, std::path::Path::new("fuzz.yml"));
        let _ = windlass::inventory::Inventory::parse_str(text, std::path::Path::new("hosts"));
        let _ = windlass::inventory::Inventory::parse_str(text, std::path::Path::new("hosts.yml"));
    }
});
