//! Jinja2 templating as Ansible does it, on top of minijinja.
//!
//! Why this module exists: every string in a playbook, role or inventory may be a Jinja2
//! template, and Ansible users rely on Ansible's particular flavour of it: strict undefined
//! variables, lazily templated variables, whole-expression strings keeping their native type,
//! Ansible's filters, tests and lookups. [`Templar`] is the one entry point; the engine gives
//! it a [`Vars`] per host and gets `serde_json::Value`s back.

mod backslash;
mod configlookup;
mod context;
mod convert;
mod corefilters;
mod datetime;
mod filters;
mod ipaddr;
mod jinja_tests;
mod limits;
mod lookups;
mod mapvars;
mod morelookups;
mod names;
mod newlines;
mod percent;
mod pwhash;
mod pyformat;
pub(crate) mod pyre;
mod syntax;
mod yamlout;

#[cfg(test)]
mod unit_tests;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};

/// Python's `str()` of a value, for sinks that print as Ansible's callbacks (`%s`).
pub(crate) use convert::json_py_str;
pub use limits::{Limits, limits, set_limits};
pub use mapvars::MapVars;
pub use syntax::TemplateSyntax;

use context::Ctx;

/// What a template can see. The engine implements it per host (layered precedence, magic
/// vars, loop vars, registered results).
pub trait Vars: Send + Sync {
    /// The raw (not yet templated) value of a variable, or None if undefined.
    fn get(&self, name: &str) -> Option<serde_json::Value>;
    /// Every variable name visible (for lookup('vars'), `vars`, debug).
    fn names(&self) -> Vec<String>;
    /// Another host's variables, for `hostvars['h'].x` (also lazy).
    fn host(&self, name: &str) -> Option<Arc<dyn Vars>>;
    /// Whether the value of `name` is final, never templated again: a `set_fact` or
    /// registered result (in Ansible 2.19 the output of templating and of modules is not
    /// trusted as a template, lib/ansible/_internal/_templating).
    fn is_final(&self, _name: &str) -> bool {
        false
    }
    /// All inventory host names (the keys of `hostvars`).
    fn host_names(&self) -> Vec<String>;
    /// Directories searched, in order, by lookup('file') (kind Files) and lookup('template') /
    /// the template module (kind Templates).
    fn search_dirs(&self, kind: SearchKind) -> Vec<PathBuf>;
    /// The run's vault secrets: controller files read for the host (lookup('file'), copy,
    /// template and script sources) are decrypted with them when vault-encrypted.
    fn vault(&self) -> Arc<crate::vault::Vault> {
        Arc::default()
    }
}

/// Which kind of file a search path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchKind {
    /// Plain files: `lookup('file')`, `copy` sources.
    Files,
    /// Jinja2 templates: `lookup('template')`, the template module, `{% include %}`.
    Templates,
}

/// A template failed to render.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What went wrong, naming the variable, filter or lookup.
    pub message: String,
    /// Where the template came from, when known.
    pub loc: Option<crate::Loc>,
    /// Name of the undefined variable (or expression), if that is the cause.
    pub undefined: Option<String>,
}

impl TemplateError {
    /// An error with just a message.
    pub fn new(message: impl Into<String>) -> Self {
        TemplateError {
            message: message.into(),
            loc: None,
            undefined: None,
        }
    }
}

impl From<TemplateError> for crate::Error {
    fn from(e: TemplateError) -> Self {
        crate::Error::Template {
            loc: e.loc,
            message: e.message,
        }
    }
}

/// Name prefix of templates compiled from inline strings (the rest of the name is the source).
const INLINE: char = '\u{1}';
/// Kind markers after [`INLINE`]: a possibly-native whole expression, a string, a template file.
const NATIVE: char = 'N';
const STRING: char = 'S';
const FILE: char = 'T';
/// Temp slot where the formatter leaves the last value emitted by a native template.
const NATIVE_SLOT: &str = "\u{1}native";
/// How many compiled templates one environment may accumulate before it is replaced.
const CACHE_LIMIT: usize = 20_000;
/// How deep lazily templated variables may nest before we call it a loop.
const MAX_DEPTH: u32 = 64;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Template search dirs for `{% include %}` during [`Templar::render_template_text`].
    static INCLUDE_DIRS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    /// Set by the formatter when a string template emits an empty string: an empty output
    /// with it is `''`, without it the template wrote nothing at all (None). Saved and
    /// restored around each render, so a nested render (a lazy variable) keeps its own.
    static EMPTY_EMITTED: Cell<bool> = const { Cell::new(false) };
}

/// Renders Ansible-flavoured Jinja2. Cheap to clone, Send + Sync; one per run.
#[derive(Clone)]
pub struct Templar {
    inner: Arc<Inner>,
}

/// The strict environment, and the chainable one used to retry templates that guard a
/// lookup on an undefined value (`foo.bar | default(x)`, `foo.bar is defined`).
type Envs = (Environment<'static>, Environment<'static>);

struct Inner {
    /// Environments with everything registered and no template loaded yet.
    pristine: Arc<Envs>,
    /// The environments in use; they cache compiled templates by source text.
    env: RwLock<Arc<Envs>>,
    /// Templates compiled into `env` so far.
    loaded: Arc<AtomicUsize>,
    /// Environments for template files rendered with another syntax ([`TemplateSyntax`]),
    /// made on first use; emptied with `env`.
    syntaxes: Mutex<HashMap<TemplateSyntax, Arc<Envs>>>,
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templar").finish_non_exhaustive()
    }
}

impl Templar {
    /// A templar with Ansible's filters, tests and lookups.
    pub fn new() -> Templar {
        let loaded = Arc::new(AtomicUsize::new(0));
        let pristine = Arc::new(build_envs(&loaded, default_syntax()));
        let env = RwLock::new(Arc::new((pristine.0.clone(), pristine.1.clone())));
        Templar {
            inner: Arc::new(Inner {
                pristine,
                env,
                loaded,
                syntaxes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Check a template's syntax without rendering it (load-time validation). With
    /// `expression`, `src` is a bare expression (`when:`), else template text.
    pub(crate) fn check_syntax(src: &str, expression: bool) -> Result<(), TemplateError> {
        thread_local! {
            static ENV: Environment<'static> = Environment::new();
        }
        let src = strip_fqcn(src);
        ENV.with(|env| {
            let r = if expression {
                env.compile_expression(&src).map(|_| ())
            } else {
                env.template_from_str(&src).map(|_| ())
            };
            r.map_err(|e| {
                let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
                TemplateError::new(format!("template syntax error{detail} in {src:?}"))
            })
        })?;
        match names::unknown(&src, expression, full_env()) {
            Some((msg, _)) => Err(TemplateError::new(format!("{msg} in {src:?}"))),
            None => Ok(()),
        }
    }

    /// Check the syntax of a template file's text; on error, the message and the line in
    /// the file (1-based) where minijinja found it.
    pub(crate) fn check_file_syntax(text: &str) -> Result<(), (String, Option<usize>)> {
        let src = strip_fqcn(text);
        let env = Environment::new();
        env.template_from_str(&src).map(|_| ()).map_err(|e| {
            let msg = e
                .detail()
                .map(str::to_string)
                .unwrap_or_else(|| e.kind().to_string());
            (msg, e.line())
        })?;
        match names::unknown(&src, false, full_env()) {
            Some((msg, at)) => Err((msg, Some(src[..at].matches('\n').count() + 1))),
            None => Ok(()),
        }
    }

    /// [`Templar::check_file_syntax`] for a template rendered with the template module's
    /// `syntax` (and its own `#jinja2:` header); with a syntax other than the default, only
    /// the Jinja syntax is checked (unknown filters are found when it renders).
    pub(crate) fn check_file_syntax_with(
        text: &str,
        syntax: &TemplateSyntax,
    ) -> Result<(), (String, Option<usize>)> {
        if syntax.is_default() && !text.starts_with(syntax::HEADER) {
            return Self::check_file_syntax(text);
        }
        let (own, body) = syntax.with_header(text).map_err(|e| (e, Some(1)))?;
        own.validate().map_err(|e| (e, None))?;
        let config = own.config().map_err(|e| (e, None))?;
        let skipped = usize::from(body.len() != text.len());
        let mut env = Environment::new();
        env.set_syntax(config);
        let src = strip_fqcn(body);
        env.template_from_str(&newlines::normalize(&src))
            .map(|_| ())
            .map_err(|e| {
                let msg = e
                    .detail()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.kind().to_string());
                (msg, e.line().map(|l| l + skipped))
            })
    }

    /// The top-level variable names a template string reads, when it compiles and reads
    /// them unconditionally as far as can be told (no `if`, `default`, `defined`, `d(`):
    /// used to find variables that are defined through each other in a cycle.
    pub(crate) fn unconditional_references(src: &str) -> Option<std::collections::HashSet<String>> {
        if ["if", "default", "defined", "d(", "omit"]
            .iter()
            .any(|w| src.contains(w))
        {
            return None;
        }
        let src = strip_fqcn(src);
        let env = Environment::new();
        let t = env.template_from_str(&src).ok()?;
        Some(t.undeclared_variables(false))
    }

    /// Whether a string contains template syntax (`{{`, `{%`, `{#`).
    pub(crate) fn is_template(s: &str) -> bool {
        let b = s.as_bytes();
        memchr_brace(b)
    }

    /// Render a string value. A string that is exactly one expression `{{ expr }}`
    /// (whitespace around allowed) keeps the expression's native type; anything else renders
    /// to a string. Strings without template syntax are returned unchanged.
    pub fn render_str(
        &self,
        s: &str,
        vars: &Arc<dyn Vars>,
        loc: Option<&crate::Loc>,
    ) -> Result<serde_json::Value, TemplateError> {
        if !Self::is_template(s) {
            return Ok(serde_json::Value::String(s.to_owned()));
        }
        let ctx = Ctx::new(vars.clone(), self.clone(), None);
        self.render_in(s, &ctx).map_err(|e| with_loc(e, loc))
    }

    /// Render every string inside a value (maps, lists; map keys too), recursively.
    pub fn render_value(
        &self,
        v: &serde_json::Value,
        vars: &Arc<dyn Vars>,
        loc: Option<&crate::Loc>,
    ) -> Result<serde_json::Value, TemplateError> {
        if !convert::contains_template(v) {
            return Ok(v.clone());
        }
        let ctx = Ctx::new(vars.clone(), self.clone(), None);
        self.render_value_in(v, &ctx).map_err(|e| with_loc(e, loc))
    }

    /// Render a whole template file's text (template module, lookup('template')) with
    /// Ansible's defaults for templates (trim_blocks, keep_trailing_newline); `name` is the
    /// file name used in error messages; `extra` vars overlay `vars`.
    pub fn render_template_text(
        &self,
        text: &str,
        name: &str,
        vars: &Arc<dyn Vars>,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, TemplateError> {
        let extra = if extra.is_empty() {
            None
        } else {
            Some(Arc::new(extra.clone()))
        };
        let ctx = Ctx::new(vars.clone(), self.clone(), extra);
        self.render_file_in(text, name, &ctx)
    }

    /// Render a template file's text as the template module does, with the task's Jinja
    /// `syntax` (delimiters, `trim_blocks`, `lstrip_blocks`, `newline_sequence`), modelling
    /// `lib/ansible/_internal/_templating/_engine.py` (`template`, `_create_overlay`,
    /// `_post_render_mutation`) and Jinja's lexer: text with no start string of the syntax
    /// (and no `#jinja2:` header) is returned as it is; a `#jinja2:` first line changes the
    /// syntax; the text's line endings are made `\n`, its one final newline dropped, and
    /// after rendering its own newlines (not those of values) become `newline_sequence`;
    /// the trailing newlines the render lost come back. The file and what it includes use
    /// the syntax; variables it reads are templated with the default one, as in Ansible.
    pub(crate) fn render_template_text_with(
        &self,
        text: &str,
        name: &str,
        vars: &Arc<dyn Vars>,
        extra: &serde_json::Map<String, serde_json::Value>,
        syntax: &TemplateSyntax,
    ) -> Result<String, TemplateError> {
        if !text.starts_with(syntax::HEADER) && !syntax.is_possibly_template(text) {
            return Ok(text.to_owned());
        }
        let (own, body) = syntax
            .with_header(text)
            .map_err(|e| TemplateError::new(format!("Syntax error in template ({name}): {e}")))?;
        own.validate().map_err(TemplateError::new)?;
        let mut src = newlines::normalize(body).into_owned();
        if !own.keep_trailing_newline && src.ends_with('\n') {
            src.pop();
        }
        // values' newlines are told apart from the text's only when they must differ
        let mark = own.newline_sequence != "\n" && !src.contains(newlines::MARK);
        let key = TemplateSyntax {
            keep_trailing_newline: false,
            newline_sequence: if mark {
                own.newline_sequence.clone()
            } else {
                "\n".into()
            },
            ..own.clone()
        };
        let envs = if key.is_default() {
            self.env()
        } else {
            self.syntax_envs(&key)?
        };
        let extra = (!extra.is_empty()).then(|| Arc::new(extra.clone()));
        let ctx = Ctx::new(vars.clone(), self.clone(), extra);
        let dirs = ctx.vars.search_dirs(SearchKind::Templates);
        let prev = INCLUDE_DIRS.with(|d| std::mem::replace(&mut *d.borrow_mut(), dirs));
        let r = self.run_in(envs, &src, FILE, &ctx, Some(name));
        INCLUDE_DIRS.with(|d| *d.borrow_mut() = prev);
        let (out, _) = r?;
        let out = match (mark, own.newline_sequence.as_str()) {
            (true, nl) => newlines::restore(&out, nl),
            (false, "\n") => out,
            (false, nl) => out.replace('\n', nl),
        };
        Ok(newlines::pad_trailing(text, out, &syntax.newline_sequence))
    }

    /// Evaluate a bare expression (no braces) to a value.
    pub fn eval(
        &self,
        expr: &str,
        vars: &Arc<dyn Vars>,
        loc: Option<&crate::Loc>,
    ) -> Result<serde_json::Value, TemplateError> {
        let ctx = Ctx::new(vars.clone(), self.clone(), None);
        let v = self
            .eval_in(expr, &ctx, true)
            .map_err(|e| with_loc(e, loc))?;
        convert::value_to_json(&v).map_err(|e| with_loc(TemplateError::new(e), loc))
    }

    /// Evaluate a condition as Ansible's `when:`/`failed_when:`/`changed_when:`/assert
    /// `that:` do: a bare expression (also accepted wrapped in `{{ }}`), whose result must be
    /// a boolean as in Ansible 2.19 (a string, number, list or none is an error).
    pub fn eval_bool(
        &self,
        expr: &str,
        vars: &Arc<dyn Vars>,
        loc: Option<&crate::Loc>,
    ) -> Result<bool, TemplateError> {
        let ctx = Ctx::new(vars.clone(), self.clone(), None);
        let v = self
            .eval_in(expr, &ctx, false)
            .map_err(|e| with_loc(e, loc))?;
        conditional_result(&v).map_err(|e| with_loc(e, loc))
    }

    /// Run lookup plugin `name` over `terms` as `query()` does: the items of a
    /// `with_<name>` loop (`lib/ansible/executor/task_executor.py` `_get_loop_items`). A
    /// string term is one term; a list is the terms.
    pub fn query(
        &self,
        name: &str,
        terms: &serde_json::Value,
        vars: &Arc<dyn Vars>,
        loc: Option<&crate::Loc>,
    ) -> Result<Vec<serde_json::Value>, TemplateError> {
        let ctx = Ctx::new(vars.clone(), self.clone(), None);
        let terms: Vec<Value> = match terms {
            serde_json::Value::Array(a) => a.iter().map(convert::json_to_value).collect(),
            other => vec![convert::json_to_value(other)],
        };
        let items = lookups::run_ctx(&ctx, name, &terms, &None)
            .map_err(|e| with_loc(convert_error(&e, name, None), loc))?;
        items
            .iter()
            .map(|v| convert::value_to_json(v).map_err(|e| with_loc(TemplateError::new(e), loc)))
            .collect()
    }

    // ---- internals shared with the context, filters and lookups ----

    fn env(&self) -> Arc<Envs> {
        if self.inner.loaded.load(Ordering::Relaxed) > CACHE_LIMIT {
            let mut guard = self.inner.env.write().unwrap_or_else(|p| p.into_inner());
            if self.inner.loaded.load(Ordering::Relaxed) > CACHE_LIMIT {
                let p = &self.inner.pristine;
                *guard = Arc::new((p.0.clone(), p.1.clone()));
                self.inner
                    .syntaxes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                self.inner.loaded.store(0, Ordering::Relaxed);
            }
            return guard.clone();
        }
        self.inner
            .env
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The environments of a non-default syntax, made once per syntax.
    fn syntax_envs(&self, syntax: &TemplateSyntax) -> Result<Arc<Envs>, TemplateError> {
        let mut map = self
            .inner
            .syntaxes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get(syntax) {
            return Ok(e.clone());
        }
        let config = syntax.config().map_err(TemplateError::new)?;
        let mark = syntax.newline_sequence != "\n";
        let envs = Arc::new((
            build_env(
                self.inner.loaded.clone(),
                UndefinedBehavior::Strict,
                config.clone(),
                mark,
            ),
            build_env(
                self.inner.loaded.clone(),
                UndefinedBehavior::Chainable,
                config,
                mark,
            ),
        ));
        map.insert(syntax.clone(), envs.clone());
        Ok(envs)
    }

    /// Evaluate a bare expression (or one wrapped in `{{ }}`) to a minijinja value; with
    /// `escape`, string constants keep their backslashes ([`backslash`]; conditionals don't).
    fn eval_in(&self, expr: &str, ctx: &Arc<Ctx>, escape: bool) -> Result<Value, TemplateError> {
        let t = expr.trim();
        let mut src = if is_single_expression(t) {
            t.to_owned()
        } else {
            format!("{{{{ {t} }}}}")
        };
        if escape {
            src = backslash::escape(&src).into_owned();
        }
        let (_, v) = self.run(&src, NATIVE, ctx, None)?;
        Ok(v.unwrap_or(Value::UNDEFINED))
    }

    /// Render one string in `ctx`, native when it is one whole expression.
    pub(crate) fn render_in(
        &self,
        s: &str,
        ctx: &Arc<Ctx>,
    ) -> Result<serde_json::Value, TemplateError> {
        let s = &*backslash::escape(s);
        let t = s.trim();
        if is_single_expression(t) {
            let (out, v) = self.run(t, NATIVE, ctx, None)?;
            if let Some(v) = v {
                if convert::output_str(&v) == out {
                    return convert::value_to_json(&v).map_err(TemplateError::new);
                }
            }
            return Ok(serde_json::Value::String(out));
        }
        let (out, emitted) = self.run(s, STRING, ctx, None)?;
        // Like ansible-core 2.19+ (jinja2's native concat of no nodes): a template whose
        // statements wrote nothing, not even an empty string, is None.
        if out.is_empty() && emitted.is_none() {
            return Ok(serde_json::Value::Null);
        }
        // Like Ansible: a template that starts with `{{`/`{%` and renders to a list or dict
        // literal (`[a, b]`, `{'k': 1}`) becomes that list or dict.
        let o = out.trim();
        if (t.starts_with("{{") || t.starts_with("{%"))
            && ((o.starts_with('[') && o.ends_with(']'))
                || (o.starts_with('{') && o.ends_with('}')))
        {
            if let Some(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) =
                crate::inventory::pyliteral::eval(o)
            {
                return Ok(v);
            }
        }
        Ok(serde_json::Value::String(out))
    }

    /// Render every string in a value in `ctx`.
    pub(crate) fn render_value_in(
        &self,
        v: &serde_json::Value,
        ctx: &Arc<Ctx>,
    ) -> Result<serde_json::Value, TemplateError> {
        use serde_json::Value as J;
        Ok(match v {
            J::String(s) if Self::is_template(s) => self.render_in(s, ctx)?,
            J::Array(a) => J::Array(
                a.iter()
                    .map(|x| self.render_value_in(x, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(m) => {
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, x) in m {
                    let k = if Self::is_template(k) {
                        match self.render_in(k, ctx)? {
                            J::String(s) => s,
                            other => convert::json_py_str(&other),
                        }
                    } else {
                        k.clone()
                    };
                    out.insert(k, self.render_value_in(x, ctx)?);
                }
                J::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Render a template file's text in `ctx`.
    pub(crate) fn render_file_in(
        &self,
        text: &str,
        name: &str,
        ctx: &Arc<Ctx>,
    ) -> Result<String, TemplateError> {
        self.render_file_with(text, name, ctx, self.env())
    }

    /// Render a template file's text in `ctx` with the environments `envs`.
    fn render_file_with(
        &self,
        text: &str,
        name: &str,
        ctx: &Arc<Ctx>,
        envs: Arc<Envs>,
    ) -> Result<String, TemplateError> {
        let dirs = ctx.vars.search_dirs(SearchKind::Templates);
        let prev = INCLUDE_DIRS.with(|d| std::mem::replace(&mut *d.borrow_mut(), dirs));
        let r = self.run_in(envs, text, FILE, ctx, Some(name));
        INCLUDE_DIRS.with(|d| *d.borrow_mut() = prev);
        // Ansible renders without keep_trailing_newline and then gives the output back the
        // source's final newline (`preserve_trailing_newlines`, template/__init__.py); with
        // the parent of an `{% extends %}` losing its own, this is where one comes back
        r.map(|(mut out, _)| {
            if text.ends_with('\n') && !out.ends_with('\n') {
                out.push('\n');
            }
            out
        })
    }

    /// Compile (cached) and run `src`; returns the output and, for native templates, the last
    /// value emitted (for string templates, `Some` when an empty string was emitted).
    fn run(
        &self,
        src: &str,
        kind: char,
        ctx: &Arc<Ctx>,
        file_name: Option<&str>,
    ) -> Result<(String, Option<Value>), TemplateError> {
        self.run_in(self.env(), src, kind, ctx, file_name)
    }

    /// [`Templar::run`] in the environments `envs`.
    fn run_in(
        &self,
        envs: Arc<Envs>,
        src: &str,
        kind: char,
        ctx: &Arc<Ctx>,
        file_name: Option<&str>,
    ) -> Result<(String, Option<Value>), TemplateError> {
        let depth = DEPTH.with(|d| {
            let n = d.get() + 1;
            d.set(n);
            n
        });
        let _guard = DepthGuard;
        if depth > MAX_DEPTH {
            return Err(TemplateError::new(
                "recursive loop detected in template (variables nest too deep)",
            ));
        }
        let mut key = String::with_capacity(src.len() + 2);
        key.push(INLINE);
        key.push(kind);
        key.push_str(src);
        match limits::scoped(|| render_with(&envs.0, &key, kind, ctx)) {
            Ok(r) if r.0.len() as u64 > limits::limits().max_output => Err(with_file(
                TemplateError::new(limits::too_large()),
                file_name,
            )),
            Ok(r) => Ok(r),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(with_file(
                TemplateError::new(limits::out_of_fuel()),
                file_name,
            )),
            Err(e) => {
                // Ansible's undefined chains (`foo.bar` is undefined when `foo` is), so a
                // guarded lookup on an undefined value is fine there: retry such templates
                // with chaining on (printing an undefined value still fails).
                if e.kind() == ErrorKind::UndefinedError && guards_undefined(src) {
                    if let Ok(r) = limits::scoped(|| render_with(&envs.1, &key, kind, ctx)) {
                        return Ok(r);
                    }
                }
                let mut te = convert_error(&e, src, file_name);
                if let Some(m) = te
                    .undefined
                    .as_deref()
                    .and_then(|x| self.missing_attribute(x, ctx))
                {
                    te.message = te.message.replacen(
                        &format!("'{}' is undefined", te.undefined.as_deref().unwrap_or("")),
                        &m,
                        1,
                    );
                }
                Err(te)
            }
        }
    }

    /// For an undefined chain (`d.x.y`, `l[5]`), Ansible 2.19's message: the root's name
    /// when the root is undefined (`'d' is undefined`), else the first missing step and
    /// the type it was looked up on (`object of type 'dict' has no attribute 'x'`).
    fn missing_attribute(&self, chain: &str, ctx: &Arc<Ctx>) -> Option<String> {
        let steps = chain_steps(chain)?;
        // `is defined` never fails, so this cannot recurse into another undefined error.
        let defined = |e: &str| {
            self.eval_in(&format!("{e} is defined"), ctx, false)
                .ok()
                .map(|v| v.is_true())
        };
        let mut prefix = steps[0].0.clone();
        if !defined(&prefix)? {
            return Some(format!("'{prefix}' is undefined"));
        }
        for (text, key) in &steps[1..] {
            let parent = prefix.clone();
            prefix.push_str(text);
            if !defined(&prefix)? {
                let v = self.eval_in(&parent, ctx, false).ok()?;
                return Some(format!(
                    "object of type '{}' has no attribute {key}",
                    python_type(&v)
                ));
            }
        }
        None
    }
}

/// The steps of a plain lookup chain (`d.x['k'][0]`): each step's source text and how
/// Ansible names its key (`'x'`, `'k'`, `0`); the first is the root variable. `None` for
/// anything that is not such a chain.
fn chain_steps(chain: &str) -> Option<Vec<(String, String)>> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r#"^(?:\.([A-Za-z_]\w*)|\[\s*'([^'\\]*)'\s*\]|\[\s*"([^"\\]*)"\s*\]|\[\s*(-?\d+)\s*\])"#)
            .expect("valid regex")
    });
    let root_len = chain
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(chain.len());
    if root_len == 0 || root_len == chain.len() {
        return None;
    }
    let mut steps = vec![(chain[..root_len].to_owned(), String::new())];
    let mut rest = &chain[root_len..];
    while !rest.is_empty() {
        let c = re.captures(rest)?;
        let whole = c.get(0)?.as_str();
        let key = match (c.get(1).or(c.get(2)).or(c.get(3)), c.get(4)) {
            (Some(k), _) => format!("'{}'", k.as_str()),
            (None, Some(n)) => n.as_str().to_owned(),
            (None, None) => return None,
        };
        steps.push((whole.to_owned(), key));
        rest = &rest[whole.len()..];
    }
    Some(steps)
}

/// The Python type name Ansible's message gives a value (`dict`, `list`, `str`, `int`).
fn python_type(v: &Value) -> &'static str {
    use minijinja::value::ValueKind as K;
    match v.kind() {
        K::Map => "dict",
        K::Seq | K::Iterable => "list",
        K::String => "str",
        K::Bool => "bool",
        K::Number if v.is_integer() => "int",
        K::Number => "float",
        K::None => "NoneType",
        _ => "object",
    }
}

/// A conditional's value as Ansible 2.19 takes it: only a boolean is a result
/// (`lib/ansible/_internal/_templating/_engine.py`, `evaluate_conditional`); anything else
/// is an error naming its Python truth value and type.
fn conditional_result(v: &Value) -> Result<bool, TemplateError> {
    if v.kind() == minijinja::value::ValueKind::Bool {
        return Ok(v.is_true());
    }
    let truth = if v.is_true() { "True" } else { "False" };
    Err(TemplateError::new(format!(
        "Conditional result ({truth}) was derived from value of type '{}'. Conditionals must \
         have a boolean result.",
        filters::type_debug(v)
    )))
}

/// Name the template file, when there is one, in a limit's error.
fn with_file(mut e: TemplateError, file_name: Option<&str>) -> TemplateError {
    if let Some(f) = file_name {
        e.message = format!("{f}: {}", e.message);
    }
    e
}

fn render_with(
    env: &Environment<'static>,
    key: &str,
    kind: char,
    ctx: &Arc<Ctx>,
) -> Result<(String, Option<Value>), minijinja::Error> {
    let tmpl = env.get_template(key)?;
    let root = Value::from_dyn_object(ctx.clone());
    if kind == NATIVE {
        let cap = tmpl.render_captured(root)?;
        let v = cap.state().get_temp(NATIVE_SLOT);
        Ok((cap.into_output(), v))
    } else if kind == STRING {
        // (a thread-local flag, not a captured state: string templates are the hot path)
        let outer = EMPTY_EMITTED.with(|e| e.replace(false));
        let out = tmpl.render(root);
        let emitted = EMPTY_EMITTED.with(|e| e.replace(outer));
        Ok((out?, emitted.then(|| Value::from(true))))
    } else {
        Ok((tmpl.render(root)?, None))
    }
}

/// Whether a template has a construct that accepts undefined values (`default`, `d`,
/// `is defined`, `is undefined`, `mandatory`).
fn guards_undefined(src: &str) -> bool {
    src.contains("default") || src.contains("d(") || src.contains("defined")
}

struct DepthGuard;

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

fn memchr_brace(b: &[u8]) -> bool {
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && matches!(b[i + 1], b'{' | b'%' | b'#') {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether `t` (already trimmed) is exactly one `{{ ... }}` and nothing else.
fn is_single_expression(t: &str) -> bool {
    if !(t.starts_with("{{") && t.ends_with("}}")) || t.len() < 4 {
        return false;
    }
    let inner = &t[2..t.len() - 2];
    !inner.contains("{{") && !inner.contains("{%") && !inner.contains("{#")
}

fn with_loc(mut e: TemplateError, loc: Option<&crate::Loc>) -> TemplateError {
    if e.loc.is_none() {
        e.loc = loc.cloned();
    }
    e
}

/// Rewrites Ansible's fully qualified filter/test names (`ansible.builtin.x`,
/// `ansible.utils.x`) to the short names registered in the environment.
fn strip_fqcn(src: &str) -> std::borrow::Cow<'_, str> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    // Python's `%` on strings (runner/template/percent.rs) rides on the same source pass
    if let std::borrow::Cow::Owned(s) = percent::rewrite_template(src) {
        return std::borrow::Cow::Owned(strip_fqcn(&s).into_owned());
    }
    if !src.contains("ansible.") {
        return std::borrow::Cow::Borrowed(src);
    }
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"(\|\s*|\bis\s+(?:not\s+)?)ansible\.(?:builtin|utils|netcommon|posix)\.")
            .expect("valid regex")
    });
    re.replace_all(src, "$1")
}

/// An environment with every filter, test and lookup registered (for load-time checks).
fn full_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        build_env(
            Arc::new(AtomicUsize::new(0)),
            UndefinedBehavior::Lenient,
            default_syntax(),
            false,
        )
    })
}

/// Ansible's syntax for every render: trim_blocks on, lstrip_blocks off; trailing
/// newlines are kept (see [`Templar::render_file_in`]).
fn default_syntax() -> SyntaxConfig {
    SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(false)
        .keep_trailing_newline(true)
        .build()
        .unwrap_or_default()
}

/// The strict and the chainable environment of one syntax.
fn build_envs(loaded: &Arc<AtomicUsize>, syntax: SyntaxConfig) -> Envs {
    (
        build_env(
            loaded.clone(),
            UndefinedBehavior::Strict,
            syntax.clone(),
            false,
        ),
        build_env(loaded.clone(), UndefinedBehavior::Chainable, syntax, false),
    )
}

/// An environment with everything registered. With `mark_newlines`, the newlines of
/// values printed are written as [`newlines::MARK`] sequences, for
/// [`newlines::restore`] to tell them from the template's own.
fn build_env(
    loaded: Arc<AtomicUsize>,
    undefined: UndefinedBehavior,
    syntax: SyntaxConfig,
    mark_newlines: bool,
) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(limits::limits().fuel));
    env.set_undefined_behavior(undefined);
    env.set_debug(true);
    env.set_auto_escape_callback(move |_| {
        if mark_newlines {
            // not an escaping: it makes the output of macros and `{% set %}` blocks safe
            // strings, which the formatter writes as the template's own text
            AutoEscape::Custom("windlass-newlines".into())
        } else {
            AutoEscape::None
        }
    });
    let (block_start, block_end) = {
        let (s, e) = syntax.block_delimiters();
        (s.to_owned(), e.to_owned())
    };
    env.set_syntax(syntax);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_formatter(move |out, state, value| {
        match state.name().as_bytes().get(1) {
            Some(&k) if k == NATIVE as u8 => {
                state.set_temp(NATIVE_SLOT, value.clone());
            }
            Some(&k) if k == STRING as u8 && value.as_str() == Some("") => {
                EMPTY_EMITTED.with(|e| e.set(true));
            }
            _ => {}
        }
        if value.is_undefined() {
            if state.undefined_behavior() == UndefinedBehavior::Chainable {
                return Err(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    "undefined value",
                ));
            }
            return Ok(());
        }
        if value.is_none() {
            return Ok(());
        }
        // the output of macros and `{% set %}` blocks is the template's own text
        let mark = mark_newlines && !value.is_safe();
        if let Some(s) = value.as_str() {
            limits::count(s.len())?;
            return write_value(out, s, mark);
        }
        let s = convert::py_str(value);
        limits::count(s.len())?;
        write_value(out, &s, mark)
    });
    env.set_path_join_callback(|name, _parent| {
        if name.starts_with(INLINE) || std::path::Path::new(name).is_absolute() {
            return name.into();
        }
        INCLUDE_DIRS.with(|d| {
            for dir in d.borrow().iter() {
                let p = dir.join(name);
                if p.is_file() {
                    // the loader takes absolute paths only
                    let p = std::path::absolute(&p).unwrap_or(p);
                    return p.to_string_lossy().into_owned().into();
                }
            }
            name.to_owned().into()
        })
    });
    env.set_loader(move |name| {
        let raw =
            |s: &str| newlines::keep_newline_after_raw(s, &block_start, &block_end).into_owned();
        if let Some(rest) = name.strip_prefix(INLINE) {
            loaded.fetch_add(1, Ordering::Relaxed);
            let src = rest.get(1..).unwrap_or("");
            return Ok(Some(raw(&strip_fqcn(src))));
        }
        let path = std::path::Path::new(name);
        if path.is_absolute() && path.is_file() {
            loaded.fetch_add(1, Ordering::Relaxed);
            // Jinja's lexer reads every line ending as `\n`, and keep_trailing_newline is
            // off for included, imported and extended templates in Ansible: their one
            // final newline goes
            return std::fs::read_to_string(path)
                .map(|s| {
                    let s = newlines::normalize(&s);
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    Some(raw(&strip_fqcn(s)))
                })
                .map_err(|e| {
                    minijinja::Error::new(
                        ErrorKind::TemplateNotFound,
                        format!("cannot read {name}: {e}"),
                    )
                });
        }
        Ok(None)
    });
    filters::register(&mut env);
    corefilters::register(&mut env);
    pyformat::register(&mut env);
    datetime::register(&mut env);
    pwhash::register(&mut env);
    jinja_tests::register(&mut env);
    lookups::register(&mut env);
    env
}

fn write_value(
    out: &mut minijinja::Output<'_>,
    s: &str,
    mark: bool,
) -> Result<(), minijinja::Error> {
    let r = if mark {
        out.write_str(&newlines::mark(s))
    } else {
        out.write_str(s)
    };
    r.map_err(minijinja::Error::from)
}

/// Turns a minijinja error into a [`TemplateError`], preferring the innermost error of a
/// lazily templated variable, naming undefined variables as Ansible does and adding the
/// line for multi-line templates.
fn convert_error(e: &minijinja::Error, src: &str, file_name: Option<&str>) -> TemplateError {
    // An error from a nested (lazily templated) variable carries its own TemplateError.
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(te) = err.downcast_ref::<TemplateError>() {
            return te.clone();
        }
        cur = err.source();
    }
    let detail = e.detail().unwrap_or("").to_owned();
    let mut undefined = None;
    let mut message = match e.kind() {
        ErrorKind::UndefinedError => {
            let expr = undefined_expr(&detail);
            match expr {
                Some(x) => {
                    undefined = Some(x.clone());
                    format!("'{x}' is undefined")
                }
                None => "undefined variable".to_owned(),
            }
        }
        ErrorKind::SyntaxError => format!("template syntax error: {detail}"),
        ErrorKind::TemplateNotFound => format!("template not found: {detail}"),
        ErrorKind::UnknownFilter => format!("No filter named '{}'.", unknown_name(&detail)),
        ErrorKind::UnknownTest => format!("No test named '{}'.", unknown_name(&detail)),
        _ if detail.starts_with(filters::MANDATORY_MARK) => {
            let custom = &detail[filters::MANDATORY_MARK.len()..];
            let name = mandatory_subject(e, src);
            undefined = name.clone();
            match name {
                _ if !custom.is_empty() => custom.to_owned(),
                Some(n) => format!("Mandatory variable '{n}' not defined."),
                None => "Mandatory variable not defined.".to_owned(),
            }
        }
        _ if detail.is_empty() => e.kind().to_string(),
        _ => detail,
    };
    let is_file = file_name.is_some();
    let multi = src.trim_end().contains('\n');
    let line = e.line();
    if let (true, Some(n)) = (multi || is_file, line) {
        match file_name {
            Some(f) => message = format!("{message} (in {f}, line {n})"),
            None => message = format!("{message} (template line {n})"),
        }
    }
    let loc = file_name.map(|f| crate::Loc {
        file: Arc::from(std::path::Path::new(f)),
        line: line.unwrap_or(0) as u32,
        col: 0,
    });
    TemplateError {
        message,
        loc,
        undefined,
    }
}

/// The expression a failing `mandatory` filter was applied to: from the error's span, else
/// the first `x | mandatory` in the source.
fn mandatory_subject(e: &minijinja::Error, src: &str) -> Option<String> {
    let from_span = e
        .range()
        .and_then(|r| src.get(r))
        .and_then(|s| s.rsplit_once('|').map(|(a, _)| a.trim().to_owned()))
        .filter(|s| !s.is_empty());
    if from_span.is_some() {
        return from_span;
    }
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r#"([\w.\[\]'"]+)\s*\|\s*mandatory\b"#).expect("valid regex")
    });
    re.captures(src).map(|c| c[1].to_owned())
}

/// The expression minijinja names in "... (`expr` is undefined ...)".
fn undefined_expr(detail: &str) -> Option<String> {
    let start = detail.find('`')?;
    let rest = &detail[start + 1..];
    let end = rest.find("` is undefined")?;
    Some(rest[..end].to_owned())
}

/// The name in minijinja's "filter x is unknown" / "test x is unknown" detail.
fn unknown_name(detail: &str) -> &str {
    let d = detail.trim_end_matches(" is unknown");
    d.strip_prefix("filter ")
        .or_else(|| d.strip_prefix("test "))
        .unwrap_or(d)
}

/// A minijinja error carrying a [`TemplateError`] (for errors raised while templating a
/// variable lazily, so the outermost render reports the innermost cause).
pub(crate) fn to_mj_error(e: TemplateError) -> minijinja::Error {
    let kind = if e.undefined.is_some() {
        ErrorKind::UndefinedError
    } else {
        ErrorKind::InvalidOperation
    };
    minijinja::Error::new(kind, e.message.clone()).with_source(e)
}
