//! The book's generated pages stay in step with the code.

use std::path::Path;

fn check(rel: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if std::env::var_os("WINDLASS_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{rel} is out of date: run `WINDLASS_BLESS=1 cargo test --test book`"
    );
}

#[test]
fn cli_reference_is_generated_from_clap() {
    check(
        "book/src/reference/cli.md",
        &windlass::cli::reference_markdown(),
    );
}
