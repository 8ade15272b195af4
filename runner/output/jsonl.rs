//! `--output jsonl`: one JSON object per event per line, for machines.

use std::io::Write;

use crate::event::{Event, EventSink};

/// Writes each event as one line of JSON.
pub struct JsonlSink<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonlSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        JsonlSink { out }
    }
}

impl<W: Write + Send> EventSink for JsonlSink<W> {
    fn event(&mut self, event: &Event) {
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::plan::FileDiff;
    use crate::output::printer::tests::changed;
    use serde_json::Value;

    fn line(e: &Event) -> Value {
        let mut out = Vec::new();
        JsonlSink::new(&mut out).event(e);
        serde_json::from_slice(&out).unwrap()
    }

    /// JSONL keeps a result's diffs as data: `[{path, before, after}]`, and no key without.
    #[test]
    fn diffs_are_written_as_data() {
        let diff = vec![FileDiff {
            path: "/etc/x".into(),
            before: "a\n".into(),
            after: "b\n".into(),
            ..Default::default()
        }];
        assert_eq!(
            line(&changed(diff))["diff"],
            serde_json::json!([{"path": "/etc/x", "before": "a\n", "after": "b\n"}])
        );
        assert!(line(&changed(vec![])).get("diff").is_none());
    }
}
