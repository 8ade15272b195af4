//! The Debian mirror the cache is built from: never hard-coded, taken from this machine's
//! apt sources (or `WINDLASS_LAB_MIRROR` / `WINDLASS_LAB_SECURITY_MIRROR`).
//!
//! Why this file exists: a machine behind a proxy or with a local mirror should build its
//! labs from the mirror it already uses.

/// The first URI of `sources` (deb822 `.sources` texts, then one-line `.list` texts) whose
/// security-ness is `security`.
pub fn pick(deb822: &[String], lists: &[String], security: bool) -> Option<String> {
    let from_deb822 = deb822
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(|l| l.strip_prefix("URIs:"))
        .flat_map(str::split_whitespace);
    let from_lists = lists
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| l.split_whitespace().next() == Some("deb"))
        .flat_map(str::split_whitespace)
        .filter(|w| w.starts_with("http:") || w.starts_with("https:") || w.starts_with("file:"));
    from_deb822
        .chain(from_lists)
        .find(|u| u.contains("security") == security)
        .map(str::to_string)
}

fn read_sources() -> (Vec<String>, Vec<String>) {
    let mut deb822 = vec![];
    let mut lists: Vec<String> = std::fs::read_to_string("/etc/apt/sources.list")
        .into_iter()
        .collect();
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            match p.extension().and_then(|e| e.to_str()) {
                Some("sources") => deb822.push(text),
                Some("list") => lists.push(text),
                _ => {}
            }
        }
    }
    (deb822, lists)
}

/// The Debian mirror.
pub fn debian() -> Option<String> {
    std::env::var("WINDLASS_LAB_MIRROR").ok().or_else(|| {
        let (a, b) = read_sources();
        pick(&a, &b, false)
    })
}

/// The Debian security mirror, if this machine has one.
pub fn security() -> Option<String> {
    std::env::var("WINDLASS_LAB_SECURITY_MIRROR")
        .ok()
        .or_else(|| {
            let (a, b) = read_sources();
            pick(&a, &b, true)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn mirrors_come_from_apt_sources() {
        let deb822 = vec!["Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://deb.example/debian-security\n".to_string()];
        assert_eq!(
            super::pick(&deb822, &[], false).as_deref(),
            Some("http://deb.example/debian")
        );
        assert_eq!(
            super::pick(&deb822, &[], true).as_deref(),
            Some("http://deb.example/debian-security")
        );
        let lists = vec![
            "# deb http://commented/\ndeb [arch=amd64] http://l.example/debian bookworm main\n"
                .to_string(),
        ];
        assert_eq!(
            super::pick(&[], &lists, false).as_deref(),
            Some("http://l.example/debian")
        );
        assert_eq!(super::pick(&[], &lists, true), None);
    }
}
