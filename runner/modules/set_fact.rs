//! `ansible.builtin.set_fact`: set host variables for the rest of the run.
//!
//! Every parameter but `cacheable` names a variable: `set_fact: {a: 1, b: "{{ x }}"}` or
//! `set_fact: a=1 b=two` (`k=v` pairs give strings). Names must be valid variable names.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::params::ansible_bool;
use super::plan::{field_names, params, spec_params};
use super::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

/// Every argument becomes a host variable (the engine stores `ansible_facts`).
pub struct SetFact;

/// The parameters of `set_fact` that are not variables: every other name a task gives
/// (`name: value`, or `key=value` pairs) is a variable to set for the host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFactParams {
    /// Also store the variables as facts (`ansible_facts.<name>`), as Ansible does in its
    /// fact cache. windlass keeps no fact cache between runs, so the variables last for
    /// this run either way. Default `false`.
    #[serde(default, deserialize_with = "ansible_bool")]
    pub cacheable: bool,
}

#[async_trait::async_trait]
impl Module for SetFact {
    fn name(&self) -> &'static str {
        "ansible.builtin.set_fact"
    }
    fn spec(&self) -> ParamSpec {
        // Any variable name is a parameter; names are checked at run time.
        ParamSpec {
            params: spec_params::<SetFactParams>(),
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
        mut args: Map<String, Value>,
    ) -> Result<TaskResult, ModuleError> {
        // The module's own parameters are read (and checked) apart; the rest are variables.
        let own: Map<String, Value> = field_names::<SetFactParams>()
            .iter()
            .filter_map(|n| args.remove(*n).map(|v| (n.to_string(), v)))
            .collect();
        let own: SetFactParams = params("set_fact", own)?;
        let mut facts = Map::new();
        for (k, v) in args {
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
        let mut out = TaskResult::with_changed(false);
        out.insert("ansible_facts", Value::Object(facts));
        if own.cacheable {
            // As Ansible's set_fact action: the engine stores these as facts too.
            out.insert("_ansible_facts_cacheable", Value::Bool(true));
        }
        Ok(out)
    }
}
