//! Fuzz target: playbook loading must return an error or a playbook, never panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use windlass::modules::Registry;
use windlass::playbook::{Loader, load_playbook_str};

fn loader() -> &'static Loader {
    static L: OnceLock<Loader> = OnceLock::new();
    L.get_or_init(|| Loader::new(Arc::new(Registry::builtin()), vec![]))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = std::env::temp_dir().join("windlass-fuzz").join("site.yml");
        let _ = load_playbook_str(text, &path, loader());
    }
});
