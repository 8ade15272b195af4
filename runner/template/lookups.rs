//! Ansible's `lookup()`, `query()` and `q()` with the common lookup plugins.
//!
//! Why this module exists: playbooks read controller-side data through lookups (`env`,
//! `file`, `template`, `vars`, `pipe`) and `with_<plugin>` loops are lookups too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};

use super::context::Ctx;
use super::filters::{err, text, values};
use super::{SearchKind, to_mj_error};

/// The lookup plugins [`run_ctx`] knows (the load-time name check reads it).
pub(crate) const NAMES: &[&str] = &[
    "env",
    "file",
    "template",
    "vars",
    "pipe",
    "items",
    "list",
    "dict",
    "first_found",
    "lines",
    "sequence",
    "indexed_items",
    "varnames",
    "fileglob",
    "random_choice",
    "subelements",
    "password",
    "config",
];

pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function(
        "lookup",
        |state: &State, name: String, args: Rest<ValueOrKwargs>| {
            let (terms, kw) = split_args(&values(args))?;
            let wantlist = kw_bool(&kw, "wantlist")?;
            let out = run(state, &name, &terms, &kw)?;
            if wantlist {
                return Ok(Value::from(out));
            }
            Ok(join_results(out))
        },
    );
    for q in ["query", "q"] {
        env.add_function(
            q,
            |state: &State, name: String, args: Rest<ValueOrKwargs>| {
                let (terms, kw) = split_args(&values(args))?;
                let _ = kw_bool(&kw, "wantlist")?;
                run(state, &name, &terms, &kw).map(Value::from)
            },
        );
    }
}

fn kw_bool(kw: &Option<Kwargs>, name: &str) -> Result<bool, Error> {
    match kw {
        Some(kw) => Ok(kw.get::<Option<bool>>(name)?.unwrap_or(false)),
        None => Ok(false),
    }
}

fn split_args(args: &[Value]) -> Result<(Vec<Value>, Option<Kwargs>), Error> {
    let mut terms = Vec::new();
    let mut kw = None;
    for a in args {
        if a.is_kwargs() {
            kw = Some(Kwargs::try_from(a.clone())?);
        } else {
            terms.push(a.clone());
        }
    }
    Ok((terms, kw))
}

/// `lookup()` without wantlist: one result as is, several strings joined with commas.
fn join_results(out: Vec<Value>) -> Value {
    // len 0: the empty sequence (`_invoke_lookup`, _internal/_templating/_jinja_plugins.py)
    if out.is_empty() {
        return Value::from(out);
    }
    if out.len() == 1 {
        return out.into_iter().next().unwrap_or_default();
    }
    if out.iter().all(|v| v.kind() == ValueKind::String) {
        let parts: Vec<&str> = out.iter().filter_map(|v| v.as_str()).collect();
        return Value::from(parts.join(","));
    }
    Value::from(out)
}

fn kw_str(kw: &Option<Kwargs>, name: &str) -> Result<Option<Value>, Error> {
    match kw {
        Some(kw) => kw.get::<Option<Value>>(name),
        None => Ok(None),
    }
}

/// Runs one lookup plugin over its terms.
fn run(
    state: &State,
    name: &str,
    terms: &[Value],
    kw: &Option<Kwargs>,
) -> Result<Vec<Value>, Error> {
    let ctx = Ctx::of_state(state)?;
    run_ctx(&ctx, name, terms, kw)
}

/// Runs one lookup plugin over its terms in `ctx` (also the items of `with_<name>` loops).
pub(crate) fn run_ctx(
    ctx: &Arc<Ctx>,
    name: &str,
    terms: &[Value],
    kw: &Option<Kwargs>,
) -> Result<Vec<Value>, Error> {
    let name = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("community.general."))
        .unwrap_or(name);
    let ctx = ctx.clone();
    match name {
        "env" => {
            let default = kw_str(kw, "default")?;
            terms
                .iter()
                .map(|t| {
                    let var = text(t)?;
                    Ok(match std::env::var(&var) {
                        Ok(v) => Value::from(v),
                        Err(_) => default.clone().unwrap_or(Value::from("")),
                    })
                })
                .collect()
        }
        "file" => {
            let rstrip = match kw {
                Some(kw) => kw.get::<Option<bool>>("rstrip")?.unwrap_or(true),
                None => true,
            };
            let lstrip = kw_bool(kw, "lstrip")?;
            terms
                .iter()
                .map(|t| {
                    let name = text(t)?;
                    let path = find(&ctx.vars.search_dirs(SearchKind::Files), &name)
                        .ok_or_else(|| err(format!("could not locate file in lookup: {name}")))?;
                    // A vault-encrypted file is decrypted (DataLoader.get_text_file_contents).
                    let bytes = ctx.vars.vault().read_file(&path).map_err(err)?;
                    let mut s = String::from_utf8(bytes).map_err(|_| {
                        err(format!("could not read file {}: not UTF-8", path.display()))
                    })?;
                    if rstrip {
                        s.truncate(s.trim_end().len());
                    }
                    if lstrip {
                        s = s.trim_start().to_owned();
                    }
                    Ok(Value::from(s))
                })
                .collect()
        }
        "template" => {
            // template_vars overlay the variables (lib/ansible/plugins/lookup/template.py)
            let ctx = match kw_str(kw, "template_vars")? {
                Some(v) if v.kind() == ValueKind::Map => {
                    let extra = super::convert::value_to_json(&v).map_err(err)?;
                    let extra = match extra {
                        serde_json::Value::Object(m) => Some(Arc::new(m)),
                        _ => None,
                    };
                    Ctx::new(ctx.vars.clone(), ctx.templar.clone(), extra)
                }
                _ => ctx.clone(),
            };
            template_lookup(&ctx, terms)
        }
        "vars" => {
            let default = kw_str(kw, "default")?;
            terms
                .iter()
                .map(|t| {
                    let var = text(t)?;
                    match ctx.lookup(&var) {
                        Some(v) if v.kind() == ValueKind::Invalid => {
                            // re-raise the error hidden in the value
                            Err(err(v.to_string()))
                        }
                        Some(v) => Ok(v),
                        None => default
                            .clone()
                            .ok_or_else(|| err(format!("No variable found with this name: {var}"))),
                    }
                })
                .collect()
        }
        "pipe" => terms
            .iter()
            .map(|t| {
                let cmd = text(t)?;
                let out = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&cmd)
                    .output()
                    .map_err(|e| err(format!("lookup('pipe'): cannot run {cmd}: {e}")))?;
                if !out.status.success() {
                    return Err(err(format!(
                        "lookup_plugin.pipe({cmd}) returned {}",
                        out.status.code().unwrap_or(-1)
                    )));
                }
                let s = String::from_utf8_lossy(&out.stdout);
                Ok(Value::from(s.trim_end()))
            })
            .collect(),
        "items" => {
            let mut out = Vec::new();
            for t in terms {
                if t.kind() == ValueKind::Seq {
                    out.extend(t.try_iter()?);
                } else {
                    out.push(t.clone());
                }
            }
            Ok(out)
        }
        "list" => {
            if terms.len() == 1 && terms[0].kind() == ValueKind::Seq {
                Ok(terms[0].try_iter()?.collect())
            } else {
                Ok(terms.to_vec())
            }
        }
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                for k in t.try_iter()? {
                    let v = t.get_item(&k)?;
                    out.push(Value::from_pairs([("key", k), ("value", v)]));
                }
            }
            Ok(out)
        }
        "first_found" => first_found(&ctx, terms, kw),
        "lines" => super::morelookups::lines(terms),
        "sequence" => super::morelookups::sequence(terms),
        "indexed_items" => super::morelookups::indexed_items(terms),
        "varnames" => super::morelookups::varnames(&ctx, terms),
        "fileglob" => super::morelookups::fileglob(&ctx.vars.search_dirs(SearchKind::Files), terms),
        "random_choice" => super::morelookups::random_choice(terms),
        "subelements" => super::morelookups::subelements(terms),
        "password" => super::morelookups::password(terms, kw),
        "config" => super::configlookup::config(terms, kw),
        other => Err(err(format!("lookup plugin ({other}) not found"))),
    }
}

/// The first of the given files that exists (searched like lookup('file')).
fn first_found(ctx: &Arc<Ctx>, terms: &[Value], kw: &Option<Kwargs>) -> Result<Vec<Value>, Error> {
    let mut files = Vec::new();
    let mut paths = Vec::new();
    let mut skip = kw_bool(kw, "skip")?;
    let mut add =
        |v: &Value, files: &mut Vec<String>, paths: &mut Vec<String>| -> Result<(), Error> {
            if v.kind() == ValueKind::Map {
                for key in ["files", "paths"] {
                    let x = v.get_attr(key)?;
                    if x.is_undefined() {
                        continue;
                    }
                    let list: Vec<String> = if x.kind() == ValueKind::Seq {
                        x.try_iter()?.map(|y| text(&y)).collect::<Result<_, _>>()?
                    } else {
                        text(&x)?
                            .split([',', ';'])
                            .map(|s| s.trim().to_owned())
                            .collect()
                    };
                    if key == "files" {
                        files.extend(list)
                    } else {
                        paths.extend(list)
                    }
                }
                let s = v.get_attr("skip")?;
                if !s.is_undefined() {
                    skip = s.is_true();
                }
            } else if v.kind() == ValueKind::Seq {
                for y in v.try_iter()? {
                    files.push(text(&y)?);
                }
            } else {
                files.push(text(v)?);
            }
            Ok(())
        };
    for t in terms {
        add(t, &mut files, &mut paths)?;
    }
    if let Some(kw) = kw {
        if let Some(f) = kw.get::<Option<Value>>("files")? {
            add(&f, &mut files, &mut paths)?;
        }
        if let Some(p) = kw.get::<Option<Value>>("paths")? {
            if p.kind() == ValueKind::Seq {
                for y in p.try_iter()? {
                    paths.push(text(&y)?);
                }
            } else {
                paths.push(text(&p)?);
            }
        }
    }
    let mut dirs: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    dirs.extend(ctx.vars.search_dirs(SearchKind::Files));
    for f in &files {
        if let Some(p) = find(&dirs, f) {
            let p = std::path::absolute(&p).unwrap_or(p);
            return Ok(vec![Value::from(p.to_string_lossy().into_owned())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(err(format!(
        "No file was found when using first_found (looked for: {})",
        files.join(", ")
    )))
}

/// A file by name: in each search dir in order, then as given.
fn find(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    for d in dirs {
        let c = d.join(name);
        if c.is_file() {
            return Some(c);
        }
    }
    p.is_file().then(|| p.to_path_buf())
}

/// `lookup('template', ...)`: each file rendered in `ctx`.
fn template_lookup(ctx: &Arc<Ctx>, terms: &[Value]) -> Result<Vec<Value>, Error> {
    terms
        .iter()
        .map(|t| {
            let name = text(t)?;
            let path =
                find(&ctx.vars.search_dirs(SearchKind::Templates), &name).ok_or_else(|| {
                    err(format!(
                        "the template file {name} could not be found for the lookup"
                    ))
                })?;
            let src = std::fs::read_to_string(&path)
                .map_err(|e| err(format!("could not read {}: {e}", path.display())))?;
            let shown = path.to_string_lossy().into_owned();
            ctx.templar
                .render_file_in(&src, &shown, ctx)
                .map(Value::from)
                .map_err(to_mj_error)
        })
        .collect()
}
