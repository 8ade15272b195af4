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

/// One documented field of a module's parameter struct.
struct Field {
    name: String,
    aliases: Vec<String>,
    ty: String,
    doc: String,
}

/// Fields of every `#[serde(deny_unknown_fields)]` struct in `src`, with their `///` docs.
fn param_fields(src: &str) -> Vec<Field> {
    let mut out = Vec::new();
    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].contains("deny_unknown_fields") {
            // Skip to the struct's opening brace.
            while i < lines.len() && !lines[i].contains("struct ") {
                i += 1;
            }
            i += 1;
            let mut doc = Vec::new();
            let mut aliases = Vec::new();
            while i < lines.len() && lines[i].trim() != "}" {
                let l = lines[i].trim();
                if let Some(d) = l.strip_prefix("///") {
                    doc.push(d.trim().to_string());
                } else if l.starts_with("#[serde(") {
                    let mut rest = l;
                    while let Some(p) = rest.find("alias = \"") {
                        rest = &rest[p + 9..];
                        if let Some(end) = rest.find('"') {
                            aliases.push(rest[..end].to_string());
                            rest = &rest[end..];
                        }
                    }
                } else if let Some(f) = l.strip_prefix("pub ") {
                    if let Some((name, ty)) = f.split_once(':') {
                        let name = name.trim().trim_start_matches("r#").to_string();
                        out.push(Field {
                            name,
                            aliases: std::mem::take(&mut aliases),
                            ty: ty.trim().trim_end_matches(',').to_string(),
                            doc: doc.join(" "),
                        });
                    }
                    doc.clear();
                } else if !l.starts_with("//") && !l.is_empty() {
                    doc.clear();
                }
                i += 1;
            }
        }
        i += 1;
    }
    out
}

fn module_header(src: &str) -> String {
    src.lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

#[test]
fn module_reference_is_generated_from_param_docs() {
    use windlass::modules::Registry;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources: Vec<(String, String)> = std::fs::read_dir(root.join("runner/modules"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let registry = Registry::builtin();
    let mut index = String::from(
        "# Modules\n\n<!-- Generated from the modules' parameter docs by tests/book.rs; run `WINDLASS_BLESS=1 cargo test --test book` after changing a module. -->\n\nEvery module checks its parameters when the playbook loads: an unknown or misspelt parameter is an error at its line.\n\n| module | kind | summary |\n|--------|------|---------|\n",
    );
    let mut pages = Vec::new();
    for fqcn in registry.fqcns() {
        let short = fqcn.rsplit('.').next().unwrap();
        let quoted = format!("\"{fqcn}\"");
        let (file, src) = sources
            .iter()
            .find(|(stem, s)| stem == short && s.contains(&quoted))
            .or_else(|| sources.iter().find(|(_, s)| s.contains(&quoted)))
            .unwrap_or_else(|| panic!("no source names {fqcn}"));
        let m = registry.get(fqcn).unwrap();
        let fields = param_fields(src);
        let planned = src.contains("impl Planned for") || src.contains("Planned for");
        let kind = if m.controller_only() {
            "controller"
        } else if planned {
            "planned: check + diff"
        } else {
            "runs commands"
        };
        let header = module_header(src);
        let summary = header
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string();
        index.push_str(&format!(
            "| [`{fqcn}`]({short}.md) | {kind} | {summary} |\n"
        ));
        let mut page = format!(
            "# {fqcn}\n\n<!-- Generated by tests/book.rs from `runner/modules/{file}.rs`. -->\n\n{header}\n\n"
        );
        let mut names: Vec<String> = vec![short.to_string()];
        names.extend(m.aliases().iter().map(|a| a.to_string()));
        page.push_str(&format!(
            "Names: {}.\n\n",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        page.push_str(match kind {
            "controller" => "Runs on the controller; no command reaches the host.\n\n",
            "planned: check + diff" => "Check mode predicts exactly what a run would do (one probe of the host, no change); `--diff` shows file changes.\n\n",
            _ => "Runs a command on the host; in check mode it is skipped unless `creates`/`removes` decide.\n\n",
        });
        let spec = m.spec();
        if !spec.required.is_empty() {
            page.push_str(&format!(
                "Required: {}.\n\n",
                spec.required
                    .iter()
                    .map(|r| format!("`{}`", r.replace('|', "` or `")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let module_fields: Vec<&Field> = if planned {
            fields.iter().collect()
        } else {
            Vec::new()
        };
        if !module_fields.is_empty() {
            page.push_str(
                "| parameter | type | description |\n|-----------|------|-------------|\n",
            );
            for f in module_fields {
                let aliases = if f.aliases.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (alias {})",
                        f.aliases
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                page.push_str(&format!(
                    "| `{}`{aliases} | `{}` | {} |\n",
                    f.name,
                    f.ty.replace('|', "\\|"),
                    f.doc.replace('|', "\\|")
                ));
            }
        } else if !spec.params.is_empty() {
            page.push_str("Parameters: ");
            page.push_str(
                &spec
                    .params
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if spec.free_form {
                page.push_str(" (free-form text also accepted)");
            }
            page.push_str(".\n");
        }
        pages.push((format!("book/src/modules/{short}.md"), page));
    }
    if std::env::var_os("WINDLASS_BLESS").is_some() {
        std::fs::create_dir_all(root.join("book/src/modules")).unwrap();
    }
    check("book/src/modules/README.md", &index);
    // SUMMARY.md lists every module page under "Modules".
    let summary_path = root.join("book/src/SUMMARY.md");
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    let mut lines: Vec<String> = summary
        .lines()
        .filter(|l| !l.starts_with("  - [`"))
        .map(str::to_string)
        .collect();
    let at = lines
        .iter()
        .position(|l| l.contains("(modules/README.md)"))
        .expect("SUMMARY.md has a Modules entry")
        + 1;
    let entries: Vec<String> = registry_pages(&pages);
    for (k, e) in entries.into_iter().enumerate() {
        lines.insert(at + k, e);
    }
    let expected = lines.join("\n") + "\n";
    check("book/src/SUMMARY.md", &expected);
    for (rel, page) in pages {
        check(&rel, &page);
    }
}

fn registry_pages(pages: &[(String, String)]) -> Vec<String> {
    pages
        .iter()
        .map(|(rel, page)| {
            let title = page.lines().next().unwrap_or("").trim_start_matches("# ");
            format!("  - [`{title}`]({})", rel.trim_start_matches("book/src/"))
        })
        .collect()
}

/// Fenced code blocks of every book page: (page, language, code).
fn code_blocks() -> Vec<(String, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut pages = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                pages.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in pages {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lang: Option<String> = None;
        let mut code = String::new();
        for line in text.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("```") {
                match lang.take() {
                    Some(l) => out.push((p.display().to_string(), l, std::mem::take(&mut code))),
                    None => lang = Some(rest.trim().to_string()),
                }
            } else if lang.is_some() {
                code.push_str(line);
                code.push('\n');
            }
        }
    }
    out
}

#[test]
fn book_samples_run_parse_or_compile() {
    use windlass::event::Event;
    let mut checked = 0;
    for (page, lang, code) in code_blocks() {
        match lang.as_str() {
            "yaml" => {
                // Task lists run on the local connection with an inventory that has what the
                // samples use (an etcd group with addresses).
                let dir = tempfile::tempdir().unwrap();
                let mut pb = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
                for l in code.lines() {
                    pb.push_str("    ");
                    pb.push_str(l);
                    pb.push('\n');
                }
                let mut msgs = Vec::new();
                let report = windlass::embed::Runner::new()
                    .inventory_str("[etcd]\ne1 ansible_connection=local ansible_host=10.0.0.1\ne2 ansible_connection=local ansible_host=10.0.0.2\n")
                    .unwrap()
                    .playbook_str(&pb, &dir.path().join("sample.yml"))
                    .unwrap_or_else(|e| panic!("{page}: {e}"))
                    .options(windlass::engine::RunOptions { forks: 1, ..Default::default() })
                    .on_event(move |e| {
                        if let Event::HostResult { result, .. } = e {
                            msgs.push(result.clone());
                        }
                    })
                    .run()
                    .unwrap_or_else(|e| panic!("{page}: {e}"));
                assert_eq!(report.exit_code, 0, "{page}: a yaml sample failed");
            }
            "toml" => {
                windlass::config::Config::from_toml(&code, Path::new("windlass.toml"))
                    .unwrap_or_else(|e| panic!("{page}: {e}"));
            }
            "json" => {
                for l in code.lines().filter(|l| !l.trim().is_empty()) {
                    serde_json::from_str::<serde_json::Value>(l)
                        .unwrap_or_else(|e| panic!("{page}: {e}: {l}"));
                }
            }
            "sh" => {
                // Every windlass command line in the book must be accepted by the CLI parser.
                for l in code.lines() {
                    let l = l.split(" #").next().unwrap().trim();
                    let args = if let Some(rest) = l.strip_prefix("windlass ") {
                        rest.to_string()
                    } else if let Some((_, rest)) = l.split_once("cargo run --release -- ") {
                        rest.to_string()
                    } else if let Some(rest) = l.strip_prefix("./target/release/windlass ") {
                        rest.to_string()
                    } else {
                        continue;
                    };
                    let args = args.split(" > ").next().unwrap();
                    let mut words = windlass::command::split(args)
                        .unwrap_or_else(|| panic!("{page}: bad quoting: {l}"));
                    words.insert(0, "windlass".into());
                    use clap::Parser;
                    if let Err(e) = windlass::cli::Cli::try_parse_from(&words) {
                        if !matches!(
                            e.kind(),
                            clap::error::ErrorKind::DisplayHelp
                                | clap::error::ErrorKind::DisplayVersion
                        ) {
                            panic!("{page}: `{l}` is not a valid command line: {e}");
                        }
                    }
                }
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} samples checked");
}
