//! The module bridge: a task whose action has no native module runs the real Ansible
//! module, found and built by the user's own ansible-core, over the normal transport.
//!
//! Why this module exists: native modules are why windlass is fast, but real roles use the
//! long tail (`dnf` behind a `when:`, thousands of collection modules). Users who migrate
//! already have ansible-core and their collections installed; the bridge asks that
//! installation, through one helper process per run speaking JSON lines
//! ([`helper`]), to resolve a name at load time and to build the AnsiballZ payload of each
//! call, then pipes the payload to the host's Python in one round trip ([`module`]) and
//! reads the one JSON document the module prints back into a [`crate::modules::TaskResult`]
//! ([`result`]). No Python runs when every action is native.

pub(crate) mod async_job;
pub(crate) mod discover;
pub(crate) mod helper;
pub(crate) mod module;
pub(crate) mod python;
pub(crate) mod result;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::error::{Error, Loc, Result};
use helper::Helper;
use module::BridgedModule;

/// Builtin modules whose action plugin only picks which module runs on the host; the
/// bridge makes the same choice ([`module::dnf_backend`]) instead of refusing them.
const SELECTOR_ACTIONS: &[&str] = &["ansible.builtin.dnf"];

/// What a run's bridge knows: where the user's ansible-core is, the helper once started,
/// the modules resolved so far and each host's discovered interpreter.
pub struct Bridge {
    /// Where to look for the controller's Ansible Python.
    source: python::Source,
    /// Module names that go through the bridge even though windlass has them natively
    /// (`bridge_modules`).
    forced: Vec<String>,
    /// The helper process, started the first time a name is not native.
    helper: Mutex<Option<Result<Helper, String>>>,
    /// Resolved modules by the action name as written.
    resolved: Mutex<HashMap<String, Arc<BridgedModule>>>,
    /// Each host's discovered Python (`discovered_interpreter_python`).
    interpreters: Mutex<HashMap<String, String>>,
}

/// What `windlass modules` lists of the bridge.
#[derive(Debug)]
pub struct Installed {
    /// ansible-core's version.
    pub ansible_version: String,
    /// The controller Python it runs in.
    pub python: String,
    /// Every installed module's FQCN, sorted.
    pub modules: Vec<String>,
}

/// What resolving an unknown name gave.
pub(crate) enum Resolution {
    /// An installed module the bridge runs ([`Bridge::resolved`] has it now).
    Module,
    /// Not found; the help to add to the error (what to install, or how to enable the bridge).
    Missing(Option<String>),
}

impl Bridge {
    /// A bridge that finds ansible-core from `ansible_python` (the configuration's
    /// `ansible_python`, `WINDLASS_ANSIBLE_PYTHON`), else PATH, and forces `forced`.
    pub fn new(ansible_python: Option<PathBuf>, forced: Vec<String>) -> Self {
        Bridge {
            source: python::Source::new(ansible_python),
            forced,
            helper: Mutex::new(None),
            resolved: Mutex::new(HashMap::new()),
            interpreters: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `name` is forced through the bridge (`bridge_modules`: the FQCN or the
    /// short name, either matches every spelling of the module).
    pub(crate) fn forced(&self, fqcn: &str) -> bool {
        let short = fqcn.rsplit('.').next().unwrap_or(fqcn);
        self.forced
            .iter()
            .any(|f| f == fqcn || f == short || f.rsplit('.').next() == Some(short))
    }

    /// The module resolved for `action` earlier ([`Bridge::resolve`]).
    pub(crate) fn resolved(&self, action: &str) -> Option<Arc<BridgedModule>> {
        self.resolved.lock().ok()?.get(action).cloned()
    }

    /// Resolve `action` with the user's ansible-core (`collections`: the play's or role's
    /// `collections:` list). A module with its own action plugin is refused here.
    pub(crate) fn resolve(
        self: &Arc<Self>,
        action: &str,
        collections: &[String],
        loc: &Loc,
    ) -> Result<Resolution> {
        if self.resolved(action).is_some() {
            return Ok(Resolution::Module);
        }
        let req = json!({"op": "find", "name": action, "collections": collections});
        let found = match self.request(&req) {
            Ok(v) => v,
            Err(HelperError::Unavailable(help)) => return Ok(Resolution::Missing(Some(help))),
            Err(HelperError::Failed(e)) => {
                return Err(Error::invalid(
                    loc,
                    format!("the module bridge could not look up `{action}`: {e}"),
                ));
            }
        };
        let found: helper::Found = serde_json::from_value(found)
            .map_err(|e| Error::invalid(loc, format!("the module bridge answered oddly: {e}")))?;
        let fqcn = match (found.fqcn, found.found, &found.action_plugin) {
            (Some(fqcn), true, _) => fqcn,
            // An action with no module of its name (`yum`, redirected to the dnf action).
            (_, _, Some(plugin)) if SELECTOR_ACTIONS.contains(&plugin.as_str()) => plugin.clone(),
            (_, _, Some(plugin)) => return Err(controller_side(action, plugin, loc)),
            _ => {
                let help = found.missing_collection.map(|c| {
                    format!("`{c}` is not installed: install it with `ansible-galaxy collection install {c}`")
                });
                return Ok(Resolution::Missing(help));
            }
        };
        if let Some(plugin) = &found.action_plugin
            && !SELECTOR_ACTIONS.contains(&plugin.as_str())
        {
            return Err(controller_side(action, plugin, loc));
        }
        let path = found.path.clone().or_else(|| self.path_of(&fqcn));
        let m = Arc::new(BridgedModule::new(self.clone(), &fqcn, path));
        if let Ok(mut r) = self.resolved.lock() {
            r.insert(action.to_string(), m);
        }
        Ok(Resolution::Module)
    }

    /// The file of the module `fqcn` (for a name that has none of its own: `yum`, which
    /// runs the `dnf` action).
    fn path_of(&self, fqcn: &str) -> Option<String> {
        let found = self
            .request(&json!({"op": "find", "name": fqcn, "collections": []}))
            .ok()?;
        found["path"].as_str().map(str::to_string)
    }

    /// Every module the user's ansible-core has installed, by FQCN, with its version and
    /// Python (for `windlass modules`); why not, when there is no ansible-core.
    pub fn installed(&self) -> std::result::Result<Installed, String> {
        let list = self
            .request(&json!({"op": "list"}))
            .map_err(|e| e.to_string())?;
        let hello = match self.helper.lock().ok().as_deref() {
            Some(Some(Ok(h))) => h.hello.clone(),
            _ => Value::Null,
        };
        let text = |k: &str| hello[k].as_str().unwrap_or_default().to_string();
        Ok(Installed {
            ansible_version: text("ansible_version"),
            python: text("python"),
            modules: strings(&list["modules"]),
        })
    }

    /// Ansible's `INTERPRETER_PYTHON_FALLBACK`, as the user's ansible-core configures it.
    pub(crate) fn python_fallback(&self) -> Vec<String> {
        let Ok(mut slot) = self.helper.lock() else {
            return Vec::new();
        };
        match slot.as_mut() {
            Some(Ok(h)) => strings(&h.hello["python_fallback"]),
            _ => Vec::new(),
        }
    }

    /// One request to the helper, started on first use.
    pub(crate) fn request(&self, req: &Value) -> Result<Value, HelperError> {
        let mut slot = self
            .helper
            .lock()
            .map_err(|_| HelperError::Failed("the bridge helper lock is poisoned".into()))?;
        if slot.is_none() {
            *slot = Some(self.source.find().and_then(Helper::start));
        }
        match slot.as_mut() {
            Some(Ok(h)) => h.request(req).map_err(HelperError::Failed),
            Some(Err(why)) => Err(HelperError::Unavailable(why.clone())),
            None => Err(HelperError::Failed("no bridge helper".into())),
        }
    }

    /// The Python discovered on `host` earlier in this run.
    pub(crate) fn interpreter(&self, host: &str) -> Option<String> {
        self.interpreters.lock().ok()?.get(host).cloned()
    }

    /// Remember the Python discovered on `host`.
    pub(crate) fn set_interpreter(&self, host: &str, python: &str) {
        if let Ok(mut m) = self.interpreters.lock() {
            m.insert(host.to_string(), python.to_string());
        }
    }
}

/// The load error of an action whose plugin runs on the controller.
fn controller_side(action: &str, plugin: &str, loc: &Loc) -> Error {
    Error::invalid_help(
        loc,
        format!(
            "`{action}` runs the action plugin `{plugin}` on the controller, which the module bridge cannot run"
        ),
        "use a native module, or run this play with ansible-playbook",
    )
}

/// Why a helper request failed.
#[derive(Debug)]
pub(crate) enum HelperError {
    /// No usable ansible-core: the bridge is off (the text says how to turn it on).
    Unavailable(String),
    /// The helper answered with an error, or died.
    Failed(String),
}

impl std::fmt::Display for HelperError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelperError::Unavailable(s) | HelperError::Failed(s) => f.write_str(s),
        }
    }
}

/// The strings of a JSON list the helper sent (anything else in it left out; not a list:
/// none).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
