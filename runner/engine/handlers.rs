//! Handlers: which handlers a notification reaches, and the flush that runs them.
//!
//! Why this module exists: handlers look simple but Ansible's rules are precise, and
//! content relies on them. Modelled on ansible-core 2.19
//! (`lib/ansible/plugins/strategy/__init__.py`: `search_handlers_by_notification`,
//! `_process_pending_results`; `lib/ansible/executor/play_iterator.py`: the `HANDLERS`
//! state):
//!
//! - a notification names one handler (plain or as `role : name`: the first of that name
//!   in the last block that has one, so a play's handler beats a role's of the same name)
//!   and every handler that `listen`s to it;
//! - notifications made by tasks are kept as names and resolved at the flush (so handlers
//!   that `include_role` brings later still count); at the flush each notified handler
//!   runs once, in definition order, for the hosts that notified it;
//! - a handler that notifies a handler defined after it gets it run in the same flush;
//!   one defined before it (itself included) runs at the next flush point only;
//! - a handler may be an `include_tasks`/`include_role`: its tasks run as handlers.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::playbook::task::{Task, TaskNode};
use crate::template::Vars;

use super::Engine;
use super::host_vars::PlayScope;
use super::walk::PlayCx;

/// The play's handlers, flattened, with the number of the block each one is in.
#[derive(Default)]
struct Handlers {
    nodes: Vec<TaskNode>,
    group: Vec<usize>,
}

impl Engine {
    /// The play's handlers in definition order: its own (roles' first) and those that
    /// `include_role` added since the play started.
    /// A `block:` among handlers stands for the handlers in it (Ansible's handler list is
    /// `[h for b in play.handlers for h in b.block]`). Each handler comes with its block's
    /// number: Ansible groups consecutive handlers of one source (the play's section, one
    /// role) in one implicit block, and an explicit `block:` is a block of its own.
    fn handler_list(&self, cx: &PlayCx<'_>) -> Handlers {
        self.handlers_of(&cx.play.handlers)
    }

    /// [`Self::handler_list`] for a play whose own handlers are `play_handlers`.
    fn handlers_of(&self, play_handlers: &[TaskNode]) -> Handlers {
        fn role_of(n: &TaskNode) -> Option<&std::path::Path> {
            match n {
                TaskNode::Task(t) => t.role.as_ref().map(|r| r.path.as_path()),
                TaskNode::Include(i) => i.task.role.as_ref().map(|r| r.path.as_path()),
                TaskNode::Block(_) => None,
            }
        }
        fn flatten(nodes: &[TaskNode], group: usize, out: &mut Handlers) {
            for n in nodes {
                match n {
                    TaskNode::Block(b) => flatten(&b.block, group, out),
                    other => {
                        out.nodes.push(other.clone());
                        out.group.push(group);
                    }
                }
            }
        }
        let mut out = Handlers::default();
        let extra = self.state.handlers().extra.clone();
        let mut group = 0;
        let mut prev: Option<&TaskNode> = None;
        // Each source's first handler starts a block: an included role's handlers never
        // share one with the play's or another include's, even of the same role.
        let sources = std::iter::once(play_handlers).chain(extra.iter().map(Vec::as_slice));
        let nodes = sources.flat_map(|src| src.iter().enumerate());
        for (i, n) in nodes {
            let new_block = match prev {
                None => false,
                Some(p) => {
                    i == 0
                        || matches!(n, TaskNode::Block(_))
                        || matches!(p, TaskNode::Block(_))
                        || role_of(p) != role_of(n)
                }
            };
            if new_block {
                group += 1;
            }
            flatten(std::slice::from_ref(n), group, &mut out);
            prev = Some(n);
        }
        out
    }

    /// The names a handler answers to on `host` (its name templated with the host's
    /// variables, also as `role : name`) and its `listen` topics.
    fn handler_names(
        &self,
        scope: &Arc<PlayScope>,
        host: &str,
        node: &TaskNode,
    ) -> (Vec<String>, Vec<String>) {
        let t = match node {
            TaskNode::Task(t) => t.as_ref(),
            TaskNode::Include(inc) => &inc.task,
            TaskNode::Block(_) => return (Vec::new(), Vec::new()),
        };
        let Some(raw) = &t.name else {
            return (Vec::new(), t.listen.clone());
        };
        let name = if crate::playbook::task::is_templated(raw) {
            // A name that does not render makes the handler unreachable by name
            // (Ansible warns "Handler '…' is unusable").
            let Some(hv) = self.host_vars(scope, host) else {
                return (Vec::new(), t.listen.clone());
            };
            let vars: Arc<dyn Vars> = Arc::new(self.task_vars(hv, t));
            match self.templar.render_str(raw, &vars, Some(&t.loc)) {
                Ok(serde_json::Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(_) => return (Vec::new(), t.listen.clone()),
            }
        } else {
            raw.clone()
        };
        let mut names = vec![name.clone()];
        if let Some(r) = &t.role {
            names.push(format!("{} : {name}", r.name));
        }
        (names, t.listen.clone())
    }

    /// The handlers (indices into `handlers`) that `notification` reaches on `host`: the
    /// one defined under that name (in the last block that has one; in a block, the
    /// first), then every one listening to it (once per name).
    fn search_handlers(
        &self,
        scope: &Arc<PlayScope>,
        host: &str,
        handlers: &Handlers,
        notification: &str,
    ) -> Vec<usize> {
        let names: Vec<(Vec<String>, Vec<String>)> = handlers
            .nodes
            .iter()
            .map(|h| self.handler_names(scope, host, h))
            .collect();
        let mut out = Vec::new();
        // Blocks from the last, handlers of a block in order: the first match by name.
        let mut order: Vec<usize> = (0..handlers.nodes.len()).collect();
        order.sort_by_key(|i| (std::cmp::Reverse(handlers.group[*i]), *i));
        if let Some(i) = order
            .into_iter()
            .find(|i| names[*i].0.iter().any(|n| n == notification))
        {
            out.push(i);
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, (own, listen)) in names.iter().enumerate() {
            if !listen.iter().any(|l| l == notification) {
                continue;
            }
            if let Some(n) = own.first() {
                if seen.contains(&n.as_str()) {
                    continue;
                }
                seen.push(n);
            }
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }

    /// Turn the notifications `hosts` made so far into notified handlers. Hosts that
    /// cannot run handlers now (failed without `force_handlers`, unreachable) keep theirs
    /// as names: the journal carries them to a resume.
    fn resolve_notifications(&self, cx: &PlayCx<'_>, hosts: &[String], handlers: &Handlers) {
        let force = self.opts.force_handlers || cx.play.force_handlers;
        for host in hosts {
            let pending: Vec<String> = {
                let mut states = self.state.hosts();
                let Some(s) = states.get_mut(host) else {
                    continue;
                };
                if s.unreachable || (s.failed && !force) {
                    continue;
                }
                s.notified.drain(..).collect()
            };
            if pending.is_empty() {
                continue;
            }
            let mut due = Vec::new();
            for n in &pending {
                due.extend(self.search_handlers(&cx.scope, host, handlers, n));
            }
            let mut states = self.state.hosts();
            if let Some(s) = states.get_mut(host) {
                s.due.extend(due);
            }
        }
    }

    /// Check, as a changed task's result comes in, that each of its notifications on
    /// `host` reaches a handler of the play (its own or one `include_role` added so far).
    /// None is an error that stops the run, as ansible-playbook's default
    /// `error_on_missing_handler` (`_process_pending_results` in
    /// lib/ansible/plugins/strategy/__init__.py raises before the result is shown).
    pub(crate) fn check_handlers_exist(
        &self,
        scope: &Arc<PlayScope>,
        host: &str,
        t: &Task,
        names: &[String],
    ) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let play = self.state.handlers().play.clone();
        let handlers = self.handlers_of(&play);
        for n in names {
            if self.search_handlers(scope, host, &handlers, n).is_empty() {
                return Err(Error::invalid(
                    &t.loc,
                    format!(
                        "The requested handler '{n}' was not found in either the main handlers list nor in the listening handlers list"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Run the notified handlers for `hosts`: one pass over the handlers in definition
    /// order (Ansible's `HANDLERS` iteration state).
    pub(crate) fn flush_handlers<'a>(
        self: &'a Arc<Self>,
        cx: &'a PlayCx<'a>,
        hosts: &'a [String],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let handlers = self.handler_list(cx);
            self.resolve_notifications(cx, hosts, &handlers);
            let force = self.opts.force_handlers || cx.play.force_handlers;
            for (i, node) in handlers.nodes.iter().enumerate() {
                let targets: Vec<String> = {
                    let mut states = self.state.hosts();
                    let mut out = Vec::new();
                    for host in hosts {
                        let Some(s) = states.get_mut(host) else {
                            continue;
                        };
                        if s.due.contains(&i) && !s.unreachable && (!s.failed || force) {
                            s.due.remove(&i);
                            out.push(host.clone());
                        }
                    }
                    out
                };
                if targets.is_empty() {
                    continue;
                }
                let hcx = PlayCx {
                    play: cx.play,
                    scope: cx.scope.clone(),
                    batch: cx.batch.clone(),
                    handler: true,
                };
                match node {
                    TaskNode::Task(h) => {
                        self.run_task_on_hosts(&hcx, h, &targets, true, Arc::from([]))
                            .await?
                    }
                    TaskNode::Include(_) | TaskNode::Block(_) => {
                        self.walk(&hcx, std::slice::from_ref(node), &targets)
                            .await?
                    }
                }
                // What this handler notified is due now: later handlers run in this pass.
                self.resolve_notifications(cx, hosts, &handlers);
            }
            Ok(())
        })
    }
}
