//! The variable context a template sees: lazy, cached, cycle-checked.
//!
//! Why this module exists: Ansible templates a variable only when something reads it, and a
//! variable's value may itself refer to other variables (`a: "{{ b }}-x"`). The context
//! object resolves names through [`Vars`], renders templated values on first access within
//! one render call, caches the result, detects loops, and provides `vars` and `hostvars`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind};

use super::convert::{contains_template, json_to_value};
use super::{Templar, TemplateError, Vars, to_mj_error};

/// Name under which a template can reach its own context object (for lookups).
pub(crate) const SELF_KEY: &str = "\u{1}ctx";

/// One host's variables as seen by one render call (or one `render_value`).
pub(crate) struct Ctx {
    pub(crate) vars: Arc<dyn Vars>,
    pub(crate) templar: Templar,
    extra: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    cache: Mutex<HashMap<String, Value>>,
    resolving: Mutex<Vec<String>>,
    hosts: Mutex<HashMap<String, Value>>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<vars>")
    }
}

impl Ctx {
    pub(crate) fn new(
        vars: Arc<dyn Vars>,
        templar: Templar,
        extra: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    ) -> Arc<Ctx> {
        Arc::new(Ctx {
            vars,
            templar,
            extra,
            cache: Mutex::new(HashMap::new()),
            resolving: Mutex::new(Vec::new()),
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// The context object of the template being rendered.
    pub(crate) fn of_state(state: &minijinja::State) -> Result<Arc<Ctx>, Error> {
        state
            .lookup(SELF_KEY)
            .and_then(|v| v.downcast_object::<Ctx>())
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "no variable context"))
    }

    /// A variable's templated value; `None` if undefined. Errors come back as invalid values
    /// so that the engine raises them where the variable is used.
    pub(crate) fn lookup(self: &Arc<Self>, name: &str) -> Option<Value> {
        if name == SELF_KEY {
            return Some(Value::from_dyn_object(self.clone()));
        }
        if let Some(v) = lock(&self.cache).get(name) {
            return Some(v.clone());
        }
        let extra = self.extra.as_ref().and_then(|e| e.get(name).cloned());
        let is_final = extra.is_none() && self.vars.is_final(name);
        let raw = extra.or_else(|| self.vars.get(name));
        let raw = match raw {
            Some(raw) => raw,
            None => {
                return match name {
                    "vars" => Some(Value::from_object(VarsDict(self.clone()))),
                    "hostvars" => Some(Value::from_object(HostVars(self.clone()))),
                    _ => None,
                };
            }
        };
        let value = if contains_template(&raw) && !is_final {
            if lock(&self.resolving).iter().any(|n| n == name) {
                return Some(Value::from(to_mj_error(TemplateError::new(format!(
                    "recursive loop detected in template for variable '{name}'"
                )))));
            }
            lock(&self.resolving).push(name.to_owned());
            let r = self.templar.render_value_in(&raw, self);
            lock(&self.resolving).retain(|n| n != name);
            match r {
                Ok(v) => json_to_value(&v),
                Err(e) => return Some(Value::from(to_mj_error(e))),
            }
        } else {
            json_to_value(&raw)
        };
        lock(&self.cache).insert(name.to_owned(), value.clone());
        Some(value)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut names = self.vars.names();
        if let Some(extra) = &self.extra {
            for k in extra.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }

    fn host(self: &Arc<Self>, name: &str) -> Option<Value> {
        if let Some(v) = lock(&self.hosts).get(name) {
            return Some(v.clone());
        }
        let vars = self.vars.host(name)?;
        let v = Value::from_dyn_object(Ctx::new(vars, self.templar.clone(), None));
        lock(&self.hosts).insert(name.to_owned(), v.clone());
        Some(v)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Object for Ctx {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.lookup(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.lookup(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(
            self.names()
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>()
                .into_iter(),
        ))
    }
}

/// `vars`: every variable of the host, templated lazily.
#[derive(Debug)]
struct VarsDict(Arc<Ctx>);

impl Object for VarsDict {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if name == SELF_KEY {
            return None;
        }
        self.0.lookup(name)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(
            self.0
                .names()
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>()
                .into_iter(),
        ))
    }
}

/// `hostvars`: every inventory host's variables, each templated lazily in its own context.
#[derive(Debug)]
struct HostVars(Arc<Ctx>);

impl Object for HostVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.host(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(
            self.0
                .vars
                .host_names()
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>()
                .into_iter(),
        ))
    }
}
