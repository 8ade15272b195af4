//! Rendering library errors as miette diagnostics: the message, the source line with a
//! marker under the column, and the hint. Binary-only: the library stays miette-free.

use miette::{LabeledSpan, MietteDiagnostic, NamedSource, Report};
use windlass::Error;

/// A miette report for `e`, with the source snippet when the error has a location.
pub fn report(e: &Error) -> Report {
    let mut diag = MietteDiagnostic::new(e.to_string());
    if let Some(help) = e.help() {
        diag = diag.with_help(help.to_string());
    }
    let Some(loc) = e.loc() else {
        return Report::new(diag);
    };
    let text = std::fs::read_to_string(&loc.file).ok();
    match (text, loc.line) {
        (Some(text), line) if line > 0 => {
            let offset = offset_of(&text, loc.line, loc.col);
            diag = diag
                .with_label(LabeledSpan::at(offset..offset, "here"))
                .with_code(format!("{loc}"));
            Report::new(diag)
                .with_source_code(NamedSource::new(loc.file.display().to_string(), text))
        }
        _ => Report::new(diag.with_code(format!("{loc}"))),
    }
}

fn offset_of(text: &str, line: u32, col: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let chars: usize = l
                .chars()
                .take(col.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return offset + chars.min(l.len());
        }
        offset += l.len();
    }
    text.len()
}
