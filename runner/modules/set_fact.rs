//! `ansible.builtin.set_fact`: set host variables for the rest of the run.

use serde_json::{Map, Value};

use super::{Module, ModuleError, ParamSpec, ResultMap, TaskCtx};

/// Every argument becomes a host variable (the engine stores `ansible_facts`).
pub struct SetFact;

#[async_trait::async_trait]
impl Module for SetFact {
    fn name(&self) -> &'static str {
        "ansible.builtin.set_fact"
    }
    fn spec(&self) -> ParamSpec {
        // Any variable name is a parameter; names are checked at run time.
        ParamSpec {
            params: &[("cacheable", &[])],
            open: true,
            ..ParamSpec::default()
        }
    }
    fn controller_only(&self) -> bool {
        true
    }
    async fn run(
        &self,
        _ctx: &TaskCtx<'_>,
        args: Map<String, Value>,
    ) -> Result<ResultMap, ModuleError> {
        let mut facts = Map::new();
        for (k, v) in args {
            if k == "cacheable" {
                continue;
            }
            if k == "_raw_params" {
                return Err(ModuleError::Failed(
                    "set_fact takes key=value pairs or a mapping".into(),
                ));
            }
            let valid = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ModuleError::Failed(format!(
                    "`{k}` is not a valid variable name"
                )));
            }
            facts.insert(k, v);
        }
        if facts.is_empty() {
            return Err(ModuleError::Failed(
                "set_fact needs at least one variable".into(),
            ));
        }
        let mut out = ResultMap::new();
        out.insert("changed".into(), Value::Bool(false));
        out.insert("ansible_facts".into(), Value::Object(facts));
        Ok(out)
    }
}
