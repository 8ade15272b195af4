//! Every template render is bounded: its output (`template_max_output`, 64 MiB by
//! default) and its work (`template_fuel`, minijinja instructions, 100 million by
//! default). Past either, the task fails with a message naming the setting and the task's
//! line, instead of growing without end. The defaults leave real content alone: a template
//! file of several MB renders.

mod common;

use common::run_site as run;

#[test]
fn output_past_template_max_output_fails_the_task() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("ansible.cfg"),
        "[defaults]\ntemplate_max_output = 1000\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"{{ 'x' * 999 }}\"\n    - debug:\n        msg: \"{% set ns = namespace(s='0123456789') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{{ ns.s }}{% endfor %}\"\n",
    )
    .unwrap();
    let (code, all) = run(d.path(), &[]);
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains("template output larger than 1000 bytes (the `template_max_output` setting) (in site.yml:7:"),
        "{all}"
    );
    assert!(all.contains("ok=1"), "{all}");
}

#[test]
fn work_past_template_fuel_fails_the_task() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("site.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: \"{% for i in range(100) %}{% endfor %}short\"\n    - debug:\n        msg: \"{% for i in range(100000) %}{% endfor %}long\"\n",
    )
    .unwrap();
    let (code, all) = run(d.path(), &[("WINDLASS_TEMPLATE_FUEL", "20000")]);
    assert_eq!(code, 2, "{all}");
    assert!(
        all.contains(
            "template evaluation took more than 20000 steps (the `template_fuel` setting)"
        ),
        "{all}"
    );
    assert!(all.contains("(in site.yml:7:9)"), "{all}");
    assert!(all.contains("short"), "{all}");
}

#[test]
fn a_template_file_of_several_mb_renders_with_the_defaults() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("templates")).unwrap();
    let mut text = String::new();
    for i in 0..60_000 {
        text.push_str(&format!(
            "line {i}: {{{{ greeting }}}} {} {{% if {i} is even %}}even{{% endif %}}\n",
            "p".repeat(60)
        ));
    }
    assert!(text.len() > 5_000_000, "{}", text.len());
    std::fs::write(d.path().join("templates/big.j2"), &text).unwrap();
    let dest = d.path().join("out.txt");
    std::fs::write(
        d.path().join("site.yml"),
        format!(
            "- hosts: all\n  gather_facts: false\n  vars: {{greeting: hi}}\n  tasks:\n    - template: {{src: big.j2, dest: {}}}\n",
            dest.display()
        ),
    )
    .unwrap();
    let (code, all) = run(d.path(), &[]);
    assert_eq!(code, 0, "{all}");
    let out = std::fs::read_to_string(&dest).unwrap();
    assert!(out.contains("line 59999: hi"), "{}", out.len());
}
