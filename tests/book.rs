//! The book's generated pages stay in step with the code.

use std::collections::HashMap;
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
#[derive(Debug)]
struct Field {
    /// The name tasks use (serde's `rename`, else the field's own name).
    name: String,
    aliases: Vec<String>,
    ty: String,
    doc: String,
}

/// What one module source file declares, read with `syn`: attributes spanning several
/// lines, `rename`, `skip` and raw identifiers come out as the compiler sees them.
struct ModuleSource {
    /// The file's stem (`apt`).
    stem: String,
    /// The text.
    text: String,
    /// Every top-level `#[serde(deny_unknown_fields)]` struct, by name, with the fields a
    /// task can give (`#[serde(skip)]` fields left out).
    params: HashMap<String, Vec<Field>>,
    /// FQCN → (the parameter struct its `impl Planned`/`impl Module` uses, whether it is
    /// a `Planned` module).
    modules: HashMap<String, (Option<String>, bool)>,
}

/// The `///` text of an item, lines joined by spaces.
fn doc_of(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

/// What `#[serde(...)]` attributes say that the book needs.
#[derive(Default)]
struct SerdeAttrs {
    deny_unknown_fields: bool,
    rename: Option<String>,
    aliases: Vec<String>,
    skip: bool,
}

fn serde_of(attrs: &[syn::Attribute]) -> SerdeAttrs {
    let mut s = SerdeAttrs::default();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        a.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let value = if meta.input.peek(syn::Token![=]) {
                match meta.value()?.parse::<syn::Expr>()? {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(v),
                        ..
                    }) => Some(v.value()),
                    _ => None,
                }
            } else if meta.input.peek(syn::token::Paren) {
                // `rename(deserialize = "…")` and the like: read past it.
                meta.parse_nested_meta(|inner| {
                    if inner.input.peek(syn::Token![=]) {
                        inner.value()?.parse::<syn::Expr>()?;
                    }
                    Ok(())
                })?;
                None
            } else {
                None
            };
            match key.as_str() {
                "deny_unknown_fields" => s.deny_unknown_fields = true,
                "rename" => s.rename = value,
                "alias" => s.aliases.extend(value),
                "skip" | "skip_deserializing" => s.skip = true,
                _ => {}
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("unreadable #[serde] attribute: {e}"));
    }
    s
}

/// A type as written (`Option<Vec<String>>`), from its tokens.
fn type_text(ty: &syn::Type) -> String {
    use quote::ToTokens;
    ty.to_token_stream()
        .to_string()
        .replace(' ', "")
        .replace(',', ", ")
}

fn read_module_source(stem: &str, text: &str) -> ModuleSource {
    use quote::ToTokens;
    use syn::ext::IdentExt;
    let file = syn::parse_file(text).unwrap_or_else(|e| panic!("runner/modules/{stem}.rs: {e}"));
    let fqcn = regex::Regex::new(r#""([a-z]+\.[a-z_]+\.[a-z0-9_]+)""#).unwrap();
    let mut params = HashMap::new();
    // Each parameter struct's `///` text (`Parameters of `shell`.`).
    let mut struct_docs = HashMap::new();
    // (FQCNs, the `Params` type of an `impl Planned`, the impl's tokens as text)
    let mut impls = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Struct(st) if serde_of(&st.attrs).deny_unknown_fields => {
                let fields = st
                    .fields
                    .iter()
                    .filter_map(|f| {
                        let s = serde_of(&f.attrs);
                        if s.skip {
                            return None;
                        }
                        let ident = f.ident.as_ref()?.unraw().to_string();
                        Some(Field {
                            name: s.rename.unwrap_or(ident),
                            aliases: s.aliases,
                            ty: type_text(&f.ty),
                            doc: doc_of(&f.attrs),
                        })
                    })
                    .collect::<Vec<_>>();
                params.insert(st.ident.to_string(), fields);
                struct_docs.insert(st.ident.to_string(), doc_of(&st.attrs));
            }
            syn::Item::Impl(im) => {
                let Some((_, path, _)) = &im.trait_ else {
                    continue;
                };
                let tr = path.segments.last().unwrap().ident.to_string();
                if tr != "Planned" && tr != "Module" {
                    continue;
                }
                let mut names = Vec::new();
                let mut planned_params = None;
                for ii in &im.items {
                    match ii {
                        syn::ImplItem::Fn(f) if f.sig.ident == "name" => {
                            let body = f.block.to_token_stream().to_string();
                            names.extend(fqcn.captures_iter(&body).map(|c| c[1].to_string()));
                        }
                        syn::ImplItem::Type(t) if t.ident == "Params" => {
                            planned_params = Some(type_text(&t.ty));
                        }
                        _ => {}
                    }
                }
                impls.push((
                    names,
                    tr == "Planned",
                    planned_params,
                    im.to_token_stream().to_string(),
                ));
            }
            _ => {}
        }
    }
    let mut modules = HashMap::new();
    for (names, planned, planned_params, body) in impls {
        // A module that is not `Planned` names its parameter struct somewhere in its impl
        // (`let p: FetchParams = params(…)`). One impl serving several modules
        // (`command`, `shell`, `raw`) names one struct each, documented as
        // "Parameters of `shell`".
        let mut named: Vec<&String> = params
            .keys()
            .filter(|k| {
                regex::Regex::new(&format!(r"\b{k}\b"))
                    .unwrap()
                    .is_match(&body)
            })
            .collect();
        named.sort();
        for n in names {
            let short = n.rsplit('.').next().unwrap().to_string();
            let used = planned_params.clone().or_else(|| match named.as_slice() {
                [] => None,
                [one] => Some((*one).clone()),
                several => {
                    let mine: Vec<&&String> = several
                        .iter()
                        .filter(|k| struct_docs[**k].contains(&format!("`{short}`")))
                        .collect();
                    match mine.as_slice() {
                        [one] => Some((**one).clone()),
                        _ => panic!(
                            "runner/modules/{stem}.rs: {n} could use any of {several:?}; document one as \"Parameters of `{short}`.\""
                        ),
                    }
                }
            });
            modules.insert(n, (used, planned));
        }
    }
    ModuleSource {
        stem: stem.to_string(),
        text: text.to_string(),
        params,
        modules,
    }
}

fn module_sources() -> Vec<ModuleSource> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<ModuleSource> = std::fs::read_dir(root.join("runner/modules"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            read_module_source(&stem, &std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort_by(|a, b| a.stem.cmp(&b.stem));
    v
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

/// What a module does under `--check`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CheckMode {
    /// One probe, then it reports what a run would do; nothing changes.
    Predicts,
    /// It only reads the host, so check mode runs it as a real run would.
    Reads,
    /// It runs a command; check mode only probes `creates`/`removes`.
    CreatesRemoves,
    /// Check mode skips it.
    Skipped,
    /// It runs on the controller.
    Controller,
}

/// Every module's behaviour under `--check` and whether `--diff` shows the file changes
/// it makes. The pages' fixed sentences come from here, and
/// `module_behaviour_table_matches_the_sources` ties each row to the module's code.
const BEHAVIOUR: &[(&str, CheckMode, bool)] = {
    use CheckMode::*;
    &[
        ("apt", Predicts, false),
        ("apt_key", Predicts, false),
        ("apt_repository", Predicts, true),
        ("assert", Controller, false),
        ("async_status", Reads, false),
        ("blockinfile", Predicts, true),
        ("command", CreatesRemoves, false),
        ("copy", Predicts, true),
        ("deb822_repository", Predicts, true),
        ("debug", Controller, false),
        ("dpkg_selections", Predicts, false),
        ("fail", Controller, false),
        ("fetch", Predicts, false),
        ("file", Predicts, true),
        ("get_url", Predicts, false),
        ("group", Predicts, false),
        ("hostname", Predicts, true),
        ("ini_file", Predicts, true),
        ("lineinfile", Predicts, true),
        ("modprobe", Predicts, true),
        ("package", Predicts, false),
        ("pause", Controller, false),
        ("ping", Reads, false),
        ("raw", Skipped, false),
        ("reboot", Predicts, false),
        ("replace", Predicts, true),
        ("script", CreatesRemoves, false),
        ("service", Predicts, false),
        ("set_fact", Controller, false),
        ("setup", Reads, false),
        ("shell", CreatesRemoves, false),
        ("slurp", Predicts, false),
        ("stat", Predicts, false),
        ("sysctl", Predicts, false),
        ("systemd_service", Predicts, false),
        ("template", Predicts, true),
        ("unarchive", Predicts, false),
        ("uri", Skipped, false),
        ("user", Predicts, false),
        ("wait_for", Reads, false),
        // MODB: admin modules.
        ("tempfile", Skipped, false),
        ("known_hosts", Predicts, true),
        ("authorized_key", Predicts, true),
        ("cron", Predicts, true),
        ("mount", Predicts, false),
        ("wait_for_connection", Skipped, false),
        ("getent", Predicts, false),
        ("find", Predicts, false),
        ("package_facts", Predicts, false),
        ("service_facts", Predicts, false),
        ("debconf", Predicts, true),
        ("timezone", Predicts, true),
    ]
};

fn behaviour(short: &str) -> (CheckMode, bool) {
    BEHAVIOUR
        .iter()
        .find(|(n, _, _)| *n == short)
        .map(|(_, c, d)| (*c, *d))
        .unwrap_or_else(|| panic!("add `{short}` to BEHAVIOUR in tests/book.rs"))
}

/// The module's page sentence about check and diff mode.
fn behaviour_sentence(check: CheckMode, diff: bool) -> String {
    let diff_text = if diff {
        "`--diff` shows the file changes"
    } else {
        "`--diff` shows nothing for it"
    };
    match check {
        CheckMode::Predicts => format!(
            "Check mode predicts exactly what a run would do (one probe of the host, no change); {diff_text}."
        ),
        CheckMode::Reads => format!(
            "It only reads the host, so check mode runs it as a real run would; {diff_text}."
        ),
        CheckMode::CreatesRemoves => format!(
            "Runs a command on the host. Check mode never runs it: only `creates`/`removes` are probed, and the task reports ok when they show there is nothing to do; {diff_text}."
        ),
        CheckMode::Skipped => {
            format!("Check mode skips it: nothing is sent to the host; {diff_text}.")
        }
        CheckMode::Controller => {
            "Runs on the controller; no command reaches the host, in check mode or not.".into()
        }
    }
}

/// The index's short form of the same.
fn behaviour_kind(check: CheckMode, diff: bool) -> &'static str {
    match (check, diff) {
        (CheckMode::Predicts, true) => "check predicts + diff",
        (CheckMode::Predicts, false) => "check predicts",
        (CheckMode::Reads, _) => "reads only (runs in check)",
        (CheckMode::CreatesRemoves, _) => "runs commands (check: creates/removes)",
        (CheckMode::Skipped, _) => "skipped in check",
        (CheckMode::Controller, _) => "controller",
    }
}

/// The source file that declares `fqcn`, and its parameter struct's fields, if typed.
fn module_source<'a>(
    sources: &'a [ModuleSource],
    fqcn: &str,
) -> (&'a ModuleSource, bool, Option<&'a [Field]>) {
    let src = sources
        .iter()
        .find(|s| s.modules.contains_key(fqcn))
        .unwrap_or_else(|| panic!("no source declares {fqcn}"));
    let (params, planned) = &src.modules[fqcn];
    let fields = params.as_ref().map(|p| {
        src.params
            .get(p)
            .unwrap_or_else(|| panic!("{fqcn}: {p} is not a deny_unknown_fields struct"))
            .as_slice()
    });
    (src, *planned, fields)
}

/// Table rows: the free form (`_raw_params`) is not a parameter a task names.
fn table_fields(fields: &[Field]) -> impl Iterator<Item = &Field> {
    fields.iter().filter(|f| f.name != "_raw_params")
}

#[test]
fn module_reference_is_generated_from_param_docs() {
    use windlass::modules::Registry;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = module_sources();
    let registry = Registry::builtin();
    let mut index = String::from(
        "# Modules\n\n<!-- Generated from the modules' parameter docs by tests/book.rs; run `WINDLASS_BLESS=1 cargo test --test book` after changing a module. -->\n\nEvery module checks its parameters when the playbook loads: an unknown or misspelt parameter is an error at its line. Values are converted to each parameter's type as Ansible's argument spec does (`lib/ansible/module_utils/common/validation.py`): a number given as a string (`timeout=5`, `port: \"{{ p }}\"`) is a number, a number or boolean given to a text parameter is its text (`line: 42`), `yes`/`\"true\"`/`1` are booleans, and `a,b` is a list.\n\n| module | check / diff | summary |\n|--------|--------------|---------|\n",
    );
    let mut pages = Vec::new();
    for fqcn in registry.fqcns() {
        let short = fqcn.rsplit('.').next().unwrap();
        let (src, _, fields) = module_source(&sources, fqcn);
        let file = &src.stem;
        let m = registry.get(fqcn).unwrap();
        let (check_mode, diff) = behaviour(short);
        let header = module_header(&src.text);
        let summary = header
            .split(". ")
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string();
        index.push_str(&format!(
            "| [`{fqcn}`]({short}.md) | {} | {summary} |\n",
            behaviour_kind(check_mode, diff)
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
        page.push_str(&behaviour_sentence(check_mode, diff));
        page.push_str("\n\n");
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
        match fields {
            Some(fields) => {
                page.push_str(
                    "| parameter | type | description |\n|-----------|------|-------------|\n",
                );
                for f in table_fields(fields) {
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
                if spec.free_form {
                    page.push_str("\nFree-form text is also accepted.\n");
                }
            }
            None => assert!(
                spec.params.is_empty(),
                "{fqcn}: parameters without a documented struct (see every_typed_parameter_is_documented_with_its_aliases)"
            ),
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

/// Every parameter row of a typed module has a description, and the names and aliases
/// read from the source are exactly the ones the module accepts.
#[test]
fn every_typed_parameter_is_documented_with_its_aliases() {
    use windlass::modules::Registry;
    let sources = module_sources();
    let registry = Registry::builtin();
    let mut typed = 0;
    for fqcn in registry.fqcns() {
        let (src, _, fields) = module_source(&sources, fqcn);
        let Some(fields) = fields else {
            // A bare list of names would give the page no descriptions: every module that
            // takes parameters declares them in a documented struct.
            let spec = registry.get(fqcn).unwrap().spec();
            assert!(
                spec.params.is_empty() && !spec.free_form,
                "{fqcn}: its parameters are a list of names in runner/modules/{}.rs; declare them in a `#[serde(deny_unknown_fields)]` struct with a `///` line each",
                src.stem
            );
            continue;
        };
        typed += 1;
        for f in table_fields(fields) {
            assert!(
                !f.doc.is_empty(),
                "{fqcn}: parameter `{}` has no `///` doc comment (runner/modules/{}.rs)",
                f.name,
                src.stem
            );
        }
        let mut read: Vec<&str> = table_fields(fields)
            .flat_map(|f| {
                std::iter::once(f.name.as_str()).chain(f.aliases.iter().map(|a| a.as_str()))
            })
            .collect();
        let spec = registry.get(fqcn).unwrap().spec();
        let mut accepted: Vec<&str> = spec
            .params
            .iter()
            .flat_map(|(n, a)| std::iter::once(*n).chain(a.iter().copied()))
            .filter(|n| *n != "_raw_params")
            .collect();
        read.sort();
        accepted.sort();
        accepted.dedup();
        assert_eq!(
            read, accepted,
            "{fqcn}: the names read from runner/modules/{}.rs differ from the names the module accepts",
            src.stem
        );
    }
    assert!(
        typed >= 32,
        "only {typed} modules with typed parameters found"
    );
}

/// The check/diff table agrees with each module's code.
#[test]
fn module_behaviour_table_matches_the_sources() {
    use windlass::modules::Registry;
    let sources = module_sources();
    let registry = Registry::builtin();
    let shorts: Vec<&str> = registry
        .fqcns()
        .iter()
        .map(|f| f.rsplit('.').next().unwrap())
        .collect();
    for (n, _, _) in BEHAVIOUR {
        assert!(
            shorts.contains(n),
            "BEHAVIOUR names `{n}`, which is no module"
        );
    }
    let makes_diffs =
        regex::Regex::new(r"FileDiff \{|text_diff\(|edit_steps\(|diff: (p|ctx)\.diff").unwrap();
    for fqcn in registry.fqcns() {
        let short = fqcn.rsplit('.').next().unwrap();
        let m = registry.get(fqcn).unwrap();
        let (src, planned, _) = module_source(&sources, fqcn);
        let (check_mode, diff) = behaviour(short);
        let text = &src.text;
        assert_eq!(
            check_mode == CheckMode::Controller,
            m.controller_only(),
            "{fqcn}: controller-only disagrees with BEHAVIOUR"
        );
        if planned {
            assert_eq!(
                check_mode,
                CheckMode::Predicts,
                "{fqcn} is a Planned module"
            );
        }
        assert_eq!(
            diff,
            makes_diffs.is_match(text),
            "{fqcn}: BEHAVIOUR says diff={diff}, runner/modules/{}.rs disagrees",
            src.stem
        );
        match check_mode {
            CheckMode::Reads | CheckMode::Controller => assert!(
                !text.contains("ctx.check"),
                "{fqcn}: BEHAVIOUR says check mode runs it, but its code looks at ctx.check"
            ),
            CheckMode::Skipped | CheckMode::CreatesRemoves => assert!(
                text.contains("ctx.check") && text.contains("set_skipped()"),
                "{fqcn}: BEHAVIOUR says check mode skips it; its code does not"
            ),
            CheckMode::Predicts if !planned => assert!(
                text.contains("ctx.check"),
                "{fqcn}: not a Planned module, yet BEHAVIOUR says it predicts in check mode"
            ),
            CheckMode::Predicts => {}
        }
        if check_mode == CheckMode::CreatesRemoves {
            let spec = m.spec();
            for p in ["creates", "removes"] {
                assert!(
                    spec.params.iter().any(|(n, _)| *n == p),
                    "{fqcn} has no `{p}`"
                );
            }
        }
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
    let mut claims = 0;
    let doctested = doctested_pages();
    for (page, lang, code) in code_blocks() {
        if lang.split(',').next() == Some("rust") {
            // Rust samples are compiled by rustdoc: the page must be included as a doctest
            // in runner/lib.rs, and no sample may opt out of compiling.
            assert!(
                doctested.iter().any(|d| page.ends_with(&format!("/{d}"))),
                "{page} has a ```rust block but is not compiled as a doctest: include it in runner/lib.rs (#[doc = include_str!(…)])"
            );
            assert!(
                !lang.contains("ignore"),
                "{page}: a ```{lang} block is not compiled"
            );
            checked += 1;
            continue;
        }
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
                let msgs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let seen = msgs.clone();
                let report = windlass::embed::Runner::new()
                    .inventory_str("[etcd]\ne1 ansible_connection=local ansible_host=10.0.0.1\ne2 ansible_connection=local ansible_host=10.0.0.2\n")
                    .unwrap()
                    .playbook_str(&pb, &dir.path().join("sample.yml"))
                    .unwrap_or_else(|e| panic!("{page}: {e}"))
                    .options(windlass::embed::RunOptions { forks: 1, ..Default::default() })
                    .on_event(move |e| {
                        if let Event::HostResult { host, result, loop_summary: false, .. } = e {
                            if host == "e1" {
                                if let Some(m) = result.get("msg") {
                                    seen.lock().unwrap().push(m.clone());
                                }
                            }
                        }
                    })
                    .run()
                    .unwrap_or_else(|e| panic!("{page}: {e}"));
                assert_eq!(report.exit_code, 0, "{page}: a yaml sample failed");
                // A comment on a `msg:` line claims what the message prints (on e1); the
                // k-th claim is checked against the k-th message.
                let msgs = msgs.lock().unwrap();
                for (k, claim) in yaml_msg_claims(&code).into_iter().enumerate() {
                    let got = match msgs.get(k) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => panic!("{page}: claims `# {claim}` but printed no message {k}"),
                    };
                    assert_eq!(
                        got, claim,
                        "{page}: the sample's `# {claim}` is not what it prints"
                    );
                    claims += 1;
                }
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
    assert!(
        claims >= 1,
        "no `# result` claim of a yaml sample was checked"
    );
}

/// The claims of a yaml sample: the comment ending each `msg:` line.
fn yaml_msg_claims(code: &str) -> Vec<String> {
    let re = regex::Regex::new(
        r#"^\s*(?:-\s+)?(?:debug:\s+)?msg:\s+("[^"]*"|'[^']*'|\S+)\s+#\s*(.+?)\s*$"#,
    )
    .unwrap();
    code.lines()
        .filter_map(|l| re.captures(l).map(|c| c[2].to_string()))
        .collect()
}

/// Book pages runner/lib.rs compiles as doctests (`#[doc = include_str!("../book/src/…")]`),
/// relative to book/src.
fn doctested_pages() -> Vec<String> {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("runner/lib.rs"))
        .unwrap();
    let re = regex::Regex::new(r#"#\[doc = include_str!\("\.\./book/src/([^"]+)"\)\]"#).unwrap();
    let pages: Vec<String> = re.captures_iter(&lib).map(|c| c[1].to_string()).collect();
    assert!(
        lib.contains("#[cfg(doctest)]"),
        "runner/lib.rs no longer compiles the book's pages as doctests"
    );
    pages
}

/// The exit codes page documents every code in runner/exit.rs, and nothing else.
#[test]
fn exit_codes_page_matches_runner_exit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(root.join("runner/exit.rs")).unwrap();
    let consts = regex::Regex::new(r"pub const ([A-Z_]+): i32 = (\d+);").unwrap();
    let mut code_names: Vec<(i32, String)> = consts
        .captures_iter(&src)
        .map(|c| (c[2].parse().unwrap(), c[1].to_string()))
        .collect();
    code_names.sort();
    assert!(code_names.len() >= 7, "{code_names:?}");
    let page = std::fs::read_to_string(root.join("book/src/reference/exit-codes.md")).unwrap();
    let row = regex::Regex::new(r"(?m)^\| *(\d+) *\| *(.+?) *\|$").unwrap();
    let rows: Vec<(i32, String)> = row
        .captures_iter(&page)
        .map(|c| (c[1].parse().unwrap(), c[2].to_string()))
        .collect();
    let documented: Vec<i32> = rows.iter().map(|(c, _)| *c).collect();
    let defined: Vec<i32> = code_names.iter().map(|(c, _)| *c).collect();
    for (c, name) in &code_names {
        assert!(
            documented.contains(c),
            "exit::{name} ({c}) is not on book/src/reference/exit-codes.md"
        );
    }
    for (c, meaning) in &rows {
        assert!(
            defined.contains(c),
            "exit-codes.md documents {c} ({meaning}), which runner/exit.rs does not define"
        );
    }
    assert_eq!(documented.len(), defined.len(), "a code is listed twice");
    // `--assert-idempotent`: the page names the code the CLI returns.
    let cli = std::fs::read_to_string(root.join("runner/cli.rs")).unwrap();
    let after = &cli[cli
        .find("NOT idempotent")
        .expect("runner/cli.rs reports non-idempotence")..];
    let name = regex::Regex::new(r"crate::exit::([A-Z_]+)")
        .unwrap()
        .captures(after)
        .expect("the non-idempotent path returns an exit:: code")[1]
        .to_string();
    let code = code_names.iter().find(|(_, n)| *n == name).unwrap().0;
    let (_, meaning) = rows.iter().find(|(c, _)| *c == code).unwrap();
    assert!(
        meaning.contains("--assert-idempotent"),
        "exit code {code} ({name}) is what --assert-idempotent returns; its row does not say so"
    );
    assert_eq!(code, windlass::exit::HOST_FAILED);
}
