//! Planned modules: typed parameters → typed facts from one probe of the host → a pure
//! plan → apply.
//!
//! Why this module exists: check mode can only be honest if what a module *would* do is
//! computed by the same code that decides what it *does*. A [`Planned`] module declares its
//! parameters as a serde struct (unknown fields rejected) and the facts it needs as a type
//! ([`Planned::Facts`]); [`Planned::probe`] says how to learn them: known without asking,
//! or one remote command and the parser of its reply (a [`Probe`]: one round trip). A pure
//! function turns parameters and facts into a [`Plan`] ([`Planned::plan`]). The engine
//! applies the plan's [`Step`]s, or in check mode just reports them. Plans are values, so
//! tests feed a probe's output in and snapshot the commands that come out, with no host.
//!
//! Facts in the pyinfra spirit (`pyinfra/api/facts.py`'s `FactBase`: a `command` and a
//! `process`): a [`Fact`] type owns the command that reads it and the parser of what comes
//! back, so a fact shared by several modules (a path's stat and content, a package
//! database's status, a unit's state) is one type, parsed one way. Because `plan` takes the
//! parsed facts, a plan cannot run without them: a missing or unparsable reply is the
//! probe's error, never a plan's.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx, TaskResult};
use crate::command::RemoteCommand;
use crate::transport::{ExecOutput, PutFile, sequence};

/// One thing to do to a host.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Run a command; a non-zero exit fails the task.
    Run {
        /// The command.
        cmd: RemoteCommand,
    },
    /// Write a file atomically (temp file beside it, mode/owner set, renamed over it).
    Write {
        /// Absolute path.
        dest: String,
        /// The content (shown as text in snapshots when it is UTF-8).
        #[serde(serialize_with = "ser_content")]
        content: Vec<u8>,
        /// Permission bits.
        mode: Option<u32>,
        /// Owner.
        owner: Option<String>,
        /// Group.
        group: Option<String>,
    },
}

fn ser_content<S: serde::Serializer>(c: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(c) {
        Ok(t) => s.serialize_str(t),
        Err(_) => s.serialize_str(&format!("<{} bytes of binary>", c.len())),
    }
}

/// A file's content before and after, for `--diff`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct FileDiff {
    /// The path shown in the header.
    pub path: String,
    /// Content before (empty for a new file).
    pub before: String,
    /// Content after (empty when removed).
    pub after: String,
    /// Ansible's `before_header`: the callback heads the diff `before: <it>`, or just
    /// `before` when the module gives none (plugins/callback/__init__.py `_get_diff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_header: Option<String>,
    /// Ansible's `after_header`, as `before_header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_header: Option<String>,
}

impl FileDiff {
    /// This diff with both headers (`before: <before>`, `after: <after>`).
    pub fn headed(self, before: impl Into<String>, after: impl Into<String>) -> Self {
        FileDiff {
            before_header: Some(before.into()),
            after_header: Some(after.into()),
            ..self
        }
    }
}

/// What a module will do: nothing (no steps) or some steps, and what it reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Steps in order; empty means "no change".
    pub steps: Vec<Step>,
    /// Diffs of files the steps change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<FileDiff>,
    /// Keys the module reports (`path`, `state`, `mode`, …), whether or not it changes.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub result: ResultMap,
    /// Force `changed` even without steps (or suppress it with steps); `None`: changed
    /// exactly when there are steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

impl Plan {
    /// No change, reporting `result`.
    pub fn unchanged(result: ResultMap) -> Self {
        Plan {
            result,
            ..Plan::default()
        }
    }

    /// Whether applying it changes the host.
    pub fn is_change(&self) -> bool {
        self.changed.unwrap_or(!self.steps.is_empty())
    }
}

/// What a plan may know about the run besides parameters and facts.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanCtx {
    /// Check mode.
    pub check: bool,
    /// Diff mode (modules may skip reading old content when false).
    pub diff: bool,
    /// An earlier task of this run changed the host (in check mode: would have), see
    /// [`TaskCtx::changed_before`](super::TaskCtx::changed_before).
    pub changed_before: bool,
}

/// A named fact about a host: the read-only command that asks for it and the parser of the
/// host's reply, in one type (see the module docs).
pub trait Fact: Sized + Send + 'static {
    /// What the fact is about (a path and what to read of it, packages, a unit): the
    /// command's input, kept for the parser.
    type Query: Send + 'static;

    /// The command that reads the fact.
    fn command(q: &Self::Query) -> RemoteCommand;

    /// The fact, from the command's reply to `q`; an error when the reply is not the shape
    /// the command prints.
    fn parse(q: &Self::Query, out: &ExecOutput) -> Result<Self, String>;
}

/// The parser half of a [`Probe::Ask`].
pub type Parser<F> = Box<dyn FnOnce(&ExecOutput) -> Result<F, String> + Send>;

/// How a module learns its facts.
pub enum Probe<F> {
    /// Known without asking the host (the plan needs nothing, or nothing more, from it).
    Known(F),
    /// Run `cmd` (read-only) and parse its reply with `parse`.
    Ask {
        /// The command.
        cmd: RemoteCommand,
        /// The parser of its reply.
        parse: Parser<F>,
    },
}

impl<F> std::fmt::Debug for Probe<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Known(_) => f.write_str("Probe::Known"),
            Probe::Ask { cmd, .. } => f.debug_struct("Probe::Ask").field("cmd", cmd).finish(),
        }
    }
}

impl<F: Fact> Probe<F> {
    /// Ask for fact `F` about `q`.
    pub fn fact(q: F::Query) -> Self {
        Probe::Ask {
            cmd: F::command(&q),
            parse: Box::new(move |out| F::parse(&q, out)),
        }
    }
}

impl<F: Send + 'static> Probe<F> {
    /// Run `cmd` and parse the reply with `parse` (a module's own reply shape).
    pub fn ask(
        cmd: RemoteCommand,
        parse: impl FnOnce(&ExecOutput) -> Result<F, String> + Send + 'static,
    ) -> Self {
        Probe::Ask {
            cmd,
            parse: Box::new(parse),
        }
    }

    /// The same probe, its facts turned into `G` by `f`.
    pub fn map<G>(self, f: impl FnOnce(F) -> G + Send + 'static) -> Probe<G> {
        match self {
            Probe::Known(v) => Probe::Known(f(v)),
            Probe::Ask { cmd, parse } => Probe::Ask {
                cmd,
                parse: Box::new(move |out| parse(out).map(f)),
            },
        }
    }

    /// The command, when the host must be asked.
    pub fn command(&self) -> Option<&RemoteCommand> {
        match self {
            Probe::Known(_) => None,
            Probe::Ask { cmd, .. } => Some(cmd),
        }
    }

    /// The facts from `out`, the reply to [`Probe::command`] (ignored when they are known).
    pub fn resolve(self, out: &ExecOutput) -> Result<F, String> {
        match self {
            Probe::Known(v) => Ok(v),
            Probe::Ask { parse, .. } => parse(out),
        }
    }
}

/// The plan `m` makes for `p` when its probe's reply is `out`: parsed as the engine parses
/// it, then planned. Pure; for golden tests and the fuzz entry point.
pub fn plan_from_reply<P: Planned>(
    m: &P,
    p: &P::Params,
    out: &ExecOutput,
    ctx: PlanCtx,
) -> Result<Plan, String> {
    let facts = m.probe(p, ctx)?.resolve(out)?;
    m.plan(p, &facts, ctx)
}

/// A module written as probe + pure plan.
#[async_trait::async_trait]
pub trait Planned: Send + Sync + 'static {
    /// Typed parameters; derive `Deserialize` with `#[serde(deny_unknown_fields)]`.
    type Params: DeserializeOwned + Send + Sync;

    /// What the plan needs to know of the host (`Option<…>` when it sometimes needs
    /// nothing: [`Probe::Known`] then).
    type Facts: Send + 'static;

    /// The FQCN.
    fn name(&self) -> &'static str;

    /// Other names.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// Required parameters and exclusive groups for load-time checks (the accepted names
    /// come from `Params` itself).
    fn required(&self) -> &'static [&'static str] {
        &[]
    }

    /// Groups of mutually exclusive parameters.
    fn exclusive(&self) -> &'static [&'static [&'static str]] {
        &[]
    }

    /// Parameters (with their aliases) that name paths on the host or the controller: a
    /// literal one holding a NUL byte is a load-time error.
    fn paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Controller-side preparation with access to the task's context: read a `src` file,
    /// render a template. Runs before the probe. Default: nothing.
    async fn prepare(&self, _params: &mut Self::Params, _ctx: &TaskCtx<'_>) -> Result<(), String> {
        Ok(())
    }

    /// How to learn the facts: the one command whose reply holds them and its parser, or
    /// the facts themselves when the host need not be asked. The same `params` and `ctx`
    /// must give the same command (the engine batches probes by their exact text).
    fn probe(&self, params: &Self::Params, ctx: PlanCtx) -> Result<Probe<Self::Facts>, String>;

    /// Decide, from the facts, what to do. Pure: no I/O.
    fn plan(
        &self,
        params: &Self::Params,
        facts: &Self::Facts,
        ctx: PlanCtx,
    ) -> Result<Plan, String>;

    /// Adjust the result after the steps ran (their outputs in order). Default: nothing.
    fn finish(&self, _params: &Self::Params, _result: &mut TaskResult, _outputs: &[ExecOutput]) {}
}

/// Adapts a [`Planned`] module to the engine's [`Module`] trait.
pub struct PlannedModule<P: Planned>(pub P, PhantomData<P>);

impl<P: Planned> PlannedModule<P> {
    /// Wrap `p`.
    pub fn new(p: P) -> Self {
        PlannedModule(p, PhantomData)
    }

    /// A step's command as it runs for this task: with its `become`, the task's
    /// `environment:` first and then what the module itself sets.
    fn step_command(&self, cmd: &RemoteCommand, ctx: &TaskCtx<'_>) -> RemoteCommand {
        let mut cmd = cmd.clone().with_become(ctx.become_.clone());
        let own = std::mem::take(&mut cmd.env);
        cmd.env = ctx.env.clone();
        for (k, v) in own {
            cmd.env.retain(|(ek, _)| *ek != k);
            cmd.env.push((k, v));
        }
        cmd.timeout = ctx.timeout;
        cmd
    }
}

/// Deserialize typed parameters from templated arguments.
pub(crate) fn params<T: DeserializeOwned>(
    module: &str,
    args: Map<String, Value>,
) -> Result<T, ModuleError> {
    // Ansible converts each argument to its declared type first (see `lenient`).
    T::deserialize(super::lenient::Lenient(Value::Object(args)))
        .map_err(|e| ModuleError::Failed(super::params::error_text(module, &e)))
}

/// The names of the fields a serde struct accepts (aliases included when serde lists them).
pub(crate) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Grab(Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &mut Grab {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _v: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("introspection"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _v: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(fields);
            Err(serde::de::Error::custom("introspection"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut g = Grab(None);
    let _ = T::deserialize(&mut g);
    g.0.unwrap_or(&[])
}

/// [`ParamSpec::params`] for a module whose parameters are the serde struct `T`: every
/// name serde accepts (aliases included), without the free form `_raw_params`.
pub(crate) fn spec_params<T: DeserializeOwned>()
-> &'static [(&'static str, &'static [&'static str])] {
    let params: Vec<(&'static str, &'static [&'static str])> = field_names::<T>()
        .iter()
        .filter(|n| **n != "_raw_params")
        .map(|n| (*n, &[] as &'static [&'static str]))
        .collect();
    Box::leak(params.into_boxed_slice())
}

#[async_trait::async_trait]
impl<P: Planned> Module for PlannedModule<P> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn aliases(&self) -> &'static [&'static str] {
        self.0.aliases()
    }

    fn spec(&self) -> ParamSpec {
        let names = field_names::<P::Params>();
        // ParamSpec wants (name, aliases); serde's list already holds every accepted name.
        let params: Vec<(&'static str, &'static [&'static str])> = names
            .iter()
            .map(|n| (*n, &[] as &'static [&'static str]))
            .collect();
        ParamSpec {
            params: Box::leak(params.into_boxed_slice()),
            required: self.0.required(),
            exclusive: self.0.exclusive(),
            paths: self.0.paths(),
            free_form: false,
            open: false,
        }
    }

    async fn probe_command(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Option<RemoteCommand> {
        let mut p: P::Params = params(self.0.name(), args).ok()?;
        self.0.prepare(&mut p, ctx).await.ok()?;
        let probe = self.0.probe(&p, plan_ctx(ctx)).ok()?;
        Some(probe_command(probe.command()?, ctx))
    }

    async fn run(
        &self,
        ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        let name = self.0.name();
        let mut p: P::Params = params(name, args)?;
        self.0
            .prepare(&mut p, ctx)
            .await
            .map_err(ModuleError::Failed)?;
        let pctx = plan_ctx(ctx);
        let facts = match self.0.probe(&p, pctx).map_err(ModuleError::Failed)? {
            Probe::Known(f) => f,
            Probe::Ask { cmd, parse } => {
                let out = ctx.transport.exec_probe(&probe_command(&cmd, ctx)).await?;
                parse(&out).map_err(ModuleError::Failed)?
            }
        };
        let plan = self.0.plan(&p, &facts, pctx).map_err(ModuleError::Failed)?;
        let mut result = TaskResult::from_map(plan.result.clone());
        result.set_changed(plan.is_change());
        if ctx.diff {
            result.set_diffs(plan.diffs.clone());
        }
        if ctx.check {
            return Ok(result);
        }
        let mut outputs = Vec::with_capacity(plan.steps.len());
        let mut steps = plan.steps.iter().peekable();
        while let Some(step) = steps.next() {
            match step {
                Step::Run { cmd } => {
                    // This command and the commands right after it go to the host as one
                    // script when they can (see `transport::sequence`): one round trip.
                    let mut run = vec![self.step_command(cmd, ctx)];
                    while let Some(Step::Run { cmd }) = steps.peek() {
                        let next = self.step_command(cmd, ctx);
                        if !sequence::joinable(&next) || !sequence::joinable(&run[0]) {
                            break;
                        }
                        run.push(next);
                        steps.next();
                    }
                    for out in exec_steps(ctx, &run).await? {
                        if out.rc != 0 {
                            step_failed(&mut result, &out);
                            return Ok(result);
                        }
                        outputs.push(out);
                    }
                }
                Step::Write {
                    dest,
                    content,
                    mode,
                    owner,
                    group,
                } => {
                    let file = PutFile {
                        dest,
                        content,
                        mode: *mode,
                        owner: owner.as_deref(),
                        group: group.as_deref(),
                    };
                    ctx.transport.put(&file, ctx.become_.as_ref()).await?;
                    outputs.push(ExecOutput::default());
                }
            }
        }
        self.0.finish(&p, &mut result, &outputs);
        Ok(result)
    }
}

/// A step that exited non-zero fails the task with its output, unchanged as a module's
/// `fail_json` reports it (it gives no `changed`, so the recap counts no change).
fn step_failed(result: &mut TaskResult, out: &ExecOutput) {
    result.set_changed(false);
    result.set_failed(true);
    result.insert("rc", Value::from(out.rc));
    result.insert("stdout", Value::String(out.stdout_str()));
    result.insert("stderr", Value::String(out.stderr_str()));
    let msg = match out.stderr_str() {
        s if s.is_empty() => format!("command failed with exit code {}", out.rc),
        s => s,
    };
    result.set_msg(msg);
}

/// What a plan may know of the task's context.
fn plan_ctx(ctx: &TaskCtx<'_>) -> PlanCtx {
    PlanCtx {
        check: ctx.check,
        diff: ctx.diff,
        changed_before: ctx.changed_before,
    }
}

/// A probe's command as it runs for this task: with its `become` and timeout.
fn probe_command(cmd: &RemoteCommand, ctx: &TaskCtx<'_>) -> RemoteCommand {
    let mut cmd = cmd.clone().with_become(ctx.become_.clone());
    cmd.timeout = ctx.timeout;
    cmd
}

/// Run `cmds` (the steps of one change, in order) on the host, stopping at the first that
/// fails: one command as it is, several as one script. Returns the outputs of the commands
/// that ran (the last one failed if fewer than all did).
async fn exec_steps(
    ctx: &TaskCtx<'_>,
    cmds: &[RemoteCommand],
) -> Result<Vec<ExecOutput>, ModuleError> {
    let nonce = match cmds {
        [_, _, ..] => sequence::nonce(),
        _ => None,
    };
    let Some(nonce) = nonce else {
        let mut outs = Vec::with_capacity(cmds.len());
        for c in cmds {
            let out = ctx.transport.exec(c).await?;
            let failed = out.rc != 0;
            outs.push(out);
            if failed {
                break;
            }
        }
        return Ok(outs);
    };
    let mut script = sequence::command(cmds, &nonce, sequence::Mode::UntilFailure);
    script.timeout = ctx.timeout;
    let out = ctx.transport.exec(&script).await?;
    match sequence::parse(&out.stdout, &out.stderr, &nonce) {
        Some(outs)
            if out.rc == 0
                && !outs.is_empty()
                && outs.len() <= cmds.len()
                && (outs.len() == cmds.len() || outs.last().is_some_and(|o| o.rc != 0)) =>
        {
            Ok(outs)
        }
        // The script itself did not finish (killed, say): which steps ran is unknown.
        _ => Err(ModuleError::Failed(format!(
            "the commands of this change did not all report back (exit code {}): {}",
            out.rc,
            out.stderr_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        path: String,
        #[serde(alias = "dest")]
        target: Option<String>,
    }

    #[test]
    fn field_names_come_from_serde() {
        let names = field_names::<P>();
        assert!(names.contains(&"path"));
        assert!(names.contains(&"target"));
    }

    /// A fact for the tests: the words of `echo <query>`'s reply.
    #[derive(Debug, PartialEq)]
    struct Words(Vec<String>);

    impl Fact for Words {
        type Query = String;

        fn command(q: &String) -> RemoteCommand {
            RemoteCommand::argv(["echo", q.as_str()])
        }

        fn parse(q: &String, out: &ExecOutput) -> Result<Self, String> {
            if out.rc != 0 {
                return Err(format!("echo {q} failed"));
            }
            Ok(Words(
                out.stdout_str()
                    .split_whitespace()
                    .map(String::from)
                    .collect(),
            ))
        }
    }

    fn reply(rc: i32, stdout: &str) -> ExecOutput {
        ExecOutput {
            rc,
            stdout: stdout.as_bytes().to_vec(),
            stderr: vec![],
        }
    }

    #[test]
    fn a_fact_owns_its_command_and_its_parser() {
        let probe = Probe::<Words>::fact("a b".into());
        assert_eq!(probe.command(), Some(&RemoteCommand::argv(["echo", "a b"])));
        let words = probe.map(|w| w.0.len()).resolve(&reply(0, "a b\n"));
        assert_eq!(words, Ok(2));
        let bad = Probe::<Words>::fact("x".into()).resolve(&reply(1, ""));
        assert_eq!(bad, Err("echo x failed".to_string()));
    }

    #[test]
    fn known_facts_need_no_command_and_ignore_any_reply() {
        let probe: Probe<Option<Words>> = Probe::Known(None);
        assert!(probe.command().is_none());
        assert_eq!(probe.resolve(&reply(1, "junk")), Ok(None));
    }

    /// A module with an optional probe: the facts type says when there is none.
    struct Maybe;

    #[derive(serde::Deserialize)]
    struct MaybeParams {
        ask: Option<String>,
    }

    #[async_trait::async_trait]
    impl Planned for Maybe {
        type Params = MaybeParams;
        type Facts = Option<Words>;

        fn name(&self) -> &'static str {
            "test.maybe"
        }

        fn probe(&self, p: &MaybeParams, _ctx: PlanCtx) -> Result<Probe<Option<Words>>, String> {
            Ok(match &p.ask {
                Some(q) => Probe::<Words>::fact(q.clone()).map(Some),
                None => Probe::Known(None),
            })
        }

        fn plan(&self, _p: &MaybeParams, f: &Option<Words>, _ctx: PlanCtx) -> Result<Plan, String> {
            let mut plan = Plan::default();
            let n = f.as_ref().map_or(0, |w| w.0.len());
            plan.result.insert("words".into(), Value::from(n));
            Ok(plan)
        }
    }

    #[test]
    fn plan_from_reply_parses_then_plans() {
        let ctx = PlanCtx::default();
        let ask = MaybeParams {
            ask: Some("x y z".into()),
        };
        let plan = plan_from_reply(&Maybe, &ask, &reply(0, "x y z\n"), ctx).unwrap();
        assert_eq!(plan.result["words"], 3);
        // A reply the fact cannot parse is the probe's error; the plan never runs.
        let e = plan_from_reply(&Maybe, &ask, &reply(2, ""), ctx).unwrap_err();
        assert_eq!(e, "echo x y z failed");
        let none = MaybeParams { ask: None };
        let plan = plan_from_reply(&Maybe, &none, &reply(2, ""), ctx).unwrap();
        assert_eq!(plan.result["words"], 0);
    }
}
