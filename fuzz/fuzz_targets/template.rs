//! Fuzz target: rendering a template must return a value or an error, never panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use windlass::template::{MapVars, Templar, Vars};

fn fixtures() -> &'static (Templar, Arc<dyn Vars>) {
    static F: OnceLock<(Templar, Arc<dyn Vars>)> = OnceLock::new();
    F.get_or_init(|| {
        let vars: Arc<dyn Vars> = Arc::new(MapVars::new(serde_json::json!({
            "a": "A", "b": null, "items": [1, "two", {"k": 3}], "d": {"x": 1},
            "inventory_hostname": "h1",
        })));
        (Templar::new(), vars)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (t, vars) = fixtures();
        let _ = t.render_str(text, vars, None);
    }
});
