//! Add a module written in Rust and use it from a playbook.
//!
//! `cargo run --example custom_module`

use serde_json::{Map, Value};
use windlass::embed::Runner;
use windlass::event::Event;
use windlass::modules::{Module, ModuleError, ParamSpec, TaskCtx, TaskResult};

/// `acme.tools.word_count: text=...` counts words on the controller.
struct WordCount;

#[async_trait::async_trait]
impl Module for WordCount {
    fn name(&self) -> &'static str {
        "acme.tools.word_count"
    }
    fn spec(&self) -> ParamSpec {
        ParamSpec {
            params: &[("text", &[])],
            required: &["text"],
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
    ) -> Result<TaskResult, ModuleError> {
        let text = args
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| ModuleError::Failed("text must be a string".into()))?;
        let mut out = TaskResult::with_changed(false);
        out.insert("words", Value::from(text.split_whitespace().count()));
        Ok(out)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let playbook = r#"
- hosts: all
  gather_facts: false
  tasks:
    - word_count:
        text: "the quick brown fox"
      register: wc
    - debug:
        msg: "{{ wc.words }} words"
"#;
    let report = Runner::new()
        .inventory_str("localhost ansible_connection=local\n")?
        .playbook_str(playbook, &dir.path().join("site.yml"))?
        .module(WordCount)
        .on_event(|e| {
            if let Event::HostResult { task, result, .. } = e {
                if let Some(msg) = result.get("msg") {
                    println!("{task}: {msg}");
                }
            }
        })
        .run()?;
    assert_eq!(report.exit_code, 0);
    Ok(())
}
