//! Unit tests of the templating module: rendering, laziness, undefined handling, every
//! filter, test and lookup.

use std::sync::{Arc, OnceLock};

use serde_json::{Value as J, json};

use super::*;

fn templar() -> &'static Templar {
    static T: OnceLock<Templar> = OnceLock::new();
    T.get_or_init(Templar::new)
}

fn vars(j: J) -> Arc<dyn Vars> {
    MapVars::new(j).into_dyn()
}

fn render(src: &str, j: J) -> J {
    templar()
        .render_str(src, &vars(j), None)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn rs(src: &str, j: J) -> String {
    match render(src, j) {
        J::String(s) => s,
        other => other.to_string(),
    }
}

fn fail(src: &str, j: J) -> TemplateError {
    match templar().render_str(src, &vars(j), None) {
        Ok(v) => panic!("{src} rendered to {v}"),
        Err(e) => e,
    }
}

fn ev(expr: &str, j: J) -> J {
    templar()
        .eval(expr, &vars(j), None)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn cond(expr: &str, j: J) -> bool {
    templar()
        .eval_bool(expr, &vars(j), None)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

// ---- core rendering ----

#[test]
fn plain_strings_pass_through() {
    assert_eq!(
        render("no templates { here }", json!({})),
        json!("no templates { here }")
    );
    assert!(!Templar::is_template("a { b } c"));
    assert!(Templar::is_template("a {{ b }}"));
    assert!(Templar::is_template("{% if x %}{% endif %}"));
    assert!(Templar::is_template("{# c #}"));
}

#[test]
fn native_types_for_whole_expressions() {
    let v = json!({"l": [1, 2], "d": {"a": 1}, "n": 5, "b": true, "s": "x"});
    assert_eq!(render("{{ l }}", v.clone()), json!([1, 2]));
    assert_eq!(render("  {{ d }} ", v.clone()), json!({"a": 1}));
    assert_eq!(render("{{ n + 1 }}", v.clone()), json!(6));
    assert_eq!(render("{{ b }}", v.clone()), json!(true));
    assert_eq!(render("{{ none }}", v.clone()), J::Null);
    assert_eq!(
        render("{{ {'a': {'b': 1}} }}", v.clone()),
        json!({"a": {"b": 1}})
    );
    // mixed text renders Python-style
    assert_eq!(render("x{{ l }}", v.clone()), json!("x[1, 2]"));
    assert_eq!(render("{{ b }}!", v.clone()), json!("True!"));
    assert_eq!(render("{{ d }} ", v.clone()), json!({"a": 1}));
    assert_eq!(render("{{ s }}-{{ n }}", v), json!("x-5"));
}

#[test]
fn lazy_chains_and_native_lazy_values() {
    let v = json!({"a": "{{ b }}-x", "b": "{{ c }}", "c": 1, "l": "{{ [1, 2] }}",
                   "nested": {"k": ["{{ c + 1 }}"]}});
    assert_eq!(render("{{ a }}", v.clone()), json!("1-x"));
    assert_eq!(render("{{ l | length }}", v.clone()), json!(2));
    assert_eq!(render("{{ nested.k[0] }}", v.clone()), json!(2));
    assert_eq!(render("{{ b }}", v), json!(1));
}

#[test]
fn cycles_are_detected() {
    let e = fail("{{ a }}", json!({"a": "{{ b }}", "b": "{{ a }}"}));
    assert!(
        e.message
            .contains("recursive loop detected in template for variable 'a'"),
        "{}",
        e.message
    );
    let e = fail("{{ a }}", json!({"a": "{{ a }}"}));
    assert!(e.message.contains("recursive loop"), "{}", e.message);
}

#[test]
fn strict_undefined_and_defaults() {
    let e = fail("{{ foo }}", json!({}));
    assert_eq!(e.message, "'foo' is undefined");
    assert_eq!(e.undefined.as_deref(), Some("foo"));
    let e = fail("x {{ foo | upper }}", json!({}));
    assert_eq!(e.undefined.as_deref(), Some("foo"));
    // nested: the innermost undefined variable is named
    let e = fail("{{ a }}", json!({"a": "{{ missing }}"}));
    assert_eq!(e.undefined.as_deref(), Some("missing"));
    let v = json!({"foo": {"x": 1}, "e": ""});
    assert!(cond("nope is undefined", v.clone()));
    assert!(cond("foo is defined", v.clone()));
    assert!(!cond("foo.bar is defined", v.clone()));
    assert_eq!(render("{{ nope | default(3) }}", v.clone()), json!(3));
    assert_eq!(render("{{ nope | d('x') }}", v.clone()), json!("x"));
    assert_eq!(
        render("{{ foo.bar | default('y') }}", v.clone()),
        json!("y")
    );
    assert_eq!(
        render("{{ e | default('z', true) }}", v.clone()),
        json!("z")
    );
    assert_eq!(render("{{ e | default('z') }}", v.clone()), json!(""));
    let e = fail("{% if nope %}a{% endif %}", v);
    assert_eq!(e.undefined.as_deref(), Some("nope"));
}

#[test]
fn errors_name_the_line_of_multiline_templates() {
    let e = fail("line one\n{{ ok }}\n{{ bad }}\n", json!({"ok": 1}));
    assert!(e.message.contains("'bad' is undefined"), "{}", e.message);
    assert!(e.message.contains("line 3"), "{}", e.message);
    let loc = crate::Loc::file("play.yml");
    let e = templar()
        .render_str("{{ x }}", &vars(json!({})), Some(&loc))
        .unwrap_err();
    assert_eq!(e.loc, Some(loc));
    let err: crate::Error = e.into();
    assert!(matches!(err, crate::Error::Template { .. }));
}

#[test]
fn render_value_renders_keys_and_nested() {
    let v = vars(json!({"k": "name", "n": 2}));
    let out = templar()
        .render_value(&json!({"{{ k }}": ["{{ n }}", "x{{ n }}", 3]}), &v, None)
        .unwrap();
    assert_eq!(out, json!({"name": [2, "x2", 3]}));
}

#[test]
fn eval_and_eval_bool() {
    let v = json!({"a": 3, "s": "no", "y": "yes", "l": []});
    assert_eq!(ev("a * 2", v.clone()), json!(6));
    assert_eq!(ev("{{ a }}", v.clone()), json!(3));
    assert!(cond("a > 2", v.clone()));
    assert!(cond("{{ a > 2 }}", v.clone()));
    assert!(!cond("s | bool", v.clone()));
    assert!(cond("y | bool", v.clone()));
    assert!(cond("True", v.clone()));
    // Ansible 2.19: a condition must be a boolean
    for expr in ["s", "l", "a", "'off'", "none"] {
        let e = templar()
            .eval_bool(expr, &vars(v.clone()), None)
            .unwrap_err();
        assert!(
            e.message
                .contains("Conditionals must have a boolean result"),
            "{expr}"
        );
    }
    let e = templar()
        .eval_bool("undefined_thing", &vars(v), None)
        .unwrap_err();
    assert_eq!(e.undefined.as_deref(), Some("undefined_thing"));
}

#[test]
fn hostvars_and_vars() {
    let h2 = MapVars::new(json!({"ip": "{{ base }}.2", "base": "10.0.0"}));
    let me = MapVars::new(json!({"x": 1, "y": "{{ x + 1 }}", "inventory_hostname": "h1"}))
        .with_host("h2", h2);
    let v = me.into_dyn();
    let r = |s: &str| templar().render_str(s, &v, None).unwrap();
    assert_eq!(r("{{ hostvars['h2'].ip }}"), json!("10.0.0.2"));
    assert_eq!(r("{{ hostvars['h2']['ip'] }}"), json!("10.0.0.2"));
    assert_eq!(r("{{ hostvars | list }}"), json!(["h2"]));
    assert_eq!(r("{{ vars['y'] }}"), json!(2));
    assert_eq!(r("{{ 'h2' in hostvars }}"), json!(true));
    assert_eq!(r("{{ hostvars['nope'] | default('none') }}"), json!("none"));
    // a Vars-provided `vars` wins
    let v2 = vars(json!({"vars": "mine"}));
    assert_eq!(
        templar().render_str("{{ vars }}", &v2, None).unwrap(),
        json!("mine")
    );
}

#[test]
fn template_text_defaults() {
    let v = vars(json!({"items": [1, 2]}));
    let mut extra = serde_json::Map::new();
    extra.insert("template_path".into(), json!("/t/x.j2"));
    let text = "{% for i in items %}\n{{ i }}\n{% endfor %}\npath={{ template_path }}\n";
    let out = templar()
        .render_template_text(text, "x.j2", &v, &extra)
        .unwrap();
    assert_eq!(out, "1\n2\npath=/t/x.j2\n");
    let e = templar()
        .render_template_text("a\n{{ nope }}\n", "x.j2", &v, &extra)
        .unwrap_err();
    assert!(e.message.contains("x.j2"), "{}", e.message);
    assert_eq!(e.loc.as_ref().map(|l| l.line), Some(2));
}

#[test]
fn fqcn_filters_and_tests() {
    let v = json!({"x": "a"});
    assert_eq!(rs("{{ x | ansible.builtin.upper }}", v.clone()), "A");
    assert_eq!(
        render("{{ '10.0.0.1' | ansible.utils.ipaddr }}", v.clone()),
        json!("10.0.0.1")
    );
    assert!(cond("'1.2' is ansible.builtin.version('1.1', '>')", v));
}

#[test]
fn pycompat_methods() {
    let v = json!({"s": "a,b", "d": {"k": 1}});
    assert_eq!(render("{{ s.split(',') }}", v.clone()), json!(["a", "b"]));
    assert_eq!(render("{{ s.startswith('a') }}", v.clone()), json!(true));
    assert_eq!(render("{{ d.get('k') }}", v.clone()), json!(1));
    assert_eq!(render("{{ d.get('z', 5) }}", v.clone()), json!(5));
    assert_eq!(render("{{ d.keys() | list }}", v.clone()), json!(["k"]));
    assert_eq!(render("{{ d.items() | list }}", v), json!([["k", 1]]));
}

// ---- filters ----

#[test]
fn bool_filter() {
    for (s, b) in [
        ("'no'", false),
        ("'yes'", true),
        ("'On'", true),
        ("'off'", false),
        ("'1'", true),
        ("'0'", false),
        ("'TRUE'", true),
        ("'false'", false),
        ("''", false),
        ("'y'", true),
        ("'n'", false),
        ("true", true),
        ("1", true),
        ("0", false),
        ("none", false),
    ] {
        assert_eq!(
            render(&format!("{{{{ {s} | bool }}}}"), json!({})),
            json!(b),
            "{s}"
        );
    }
}

#[test]
fn json_filters() {
    let v = json!({"d": {"b": 1, "a": [1, "x"]}});
    assert_eq!(
        rs("{{ d | to_json }}", v.clone()),
        r#"{"b": 1, "a": [1, "x"]}"#
    );
    assert_eq!(
        rs("{{ d | to_nice_json }}", v.clone()),
        "{\n    \"a\": [\n        1,\n        \"x\"\n    ],\n    \"b\": 1\n}"
    );
    assert_eq!(rs("{{ {} | to_nice_json }}", v.clone()), "{}");
    assert_eq!(
        render("{{ '{\"a\": [1]}' | from_json }}", v.clone()),
        json!({"a": [1]})
    );
    assert_eq!(rs("{{ 'é' | to_json }}", v), "\"\\u00e9\"");
}

#[test]
fn yaml_filters() {
    let v = json!({"d": {"b": [1, 2], "a": {"x": "yes", "y": "plain"}}, "l": [{"k": 1, "j": [3]}]});
    assert_eq!(
        rs("{{ d | to_yaml }}", v.clone()),
        "a: {x: 'yes', y: plain}\nb: [1, 2]\n"
    );
    assert_eq!(
        rs("{{ d | to_nice_yaml }}", v.clone()),
        "a:\n    x: 'yes'\n    y: plain\nb:\n- 1\n- 2\n"
    );
    assert_eq!(
        rs("{{ l | to_nice_yaml(indent=2) }}", v.clone()),
        "- j:\n  - 3\n  k: 1\n"
    );
    assert_eq!(rs("{{ 'abc' | to_yaml }}", v.clone()), "abc\n...\n");
    assert_eq!(
        render("{{ 'a: [1, yes]' | from_yaml }}", v.clone()),
        json!({"a": [1, true]})
    );
    assert_eq!(rs("{{ '' | to_nice_yaml }}", v), "''\n...\n");
}

#[test]
fn regex_filters() {
    let v = json!({"s": "foo-123-bar"});
    assert_eq!(
        rs("{{ s | regex_replace('(\\d+)', '<\\1>') }}", v.clone()),
        "foo-<123>-bar"
    );
    assert_eq!(
        rs(
            "{{ s | regex_replace('(?P<n>\\d+)', '\\g<n>$') }}",
            v.clone()
        ),
        "foo-123$-bar"
    );
    assert_eq!(
        rs(
            "{{ s | regex_replace('^F', 'x', ignorecase=True) }}",
            v.clone()
        ),
        "xoo-123-bar"
    );
    assert_eq!(
        rs("{{ s | regex_replace('o', '0', count=1) }}", v.clone()),
        "f0o-123-bar"
    );
    assert_eq!(
        render("{{ s | regex_search('\\d+') }}", v.clone()),
        json!("123")
    );
    assert_eq!(render("{{ s | regex_search('zzz') }}", v.clone()), J::Null);
    assert_eq!(
        render(
            "{{ s | regex_search('(\\w+)-(\\d+)', '\\2', '\\1') }}",
            v.clone()
        ),
        json!(["123", "foo"])
    );
    assert_eq!(
        render("{{ s | regex_findall('[a-z]+') }}", v.clone()),
        json!(["foo", "bar"])
    );
    assert_eq!(
        render("{{ 'a=1 b=2' | regex_findall('(\\w)=(\\d)') }}", v.clone()),
        json!([["a", "1"], ["b", "2"]])
    );
    assert_eq!(rs("{{ 'a.b*' | regex_escape }}", v), "a\\.b\\*");
}

#[test]
fn combine_filter() {
    let v = json!({"a": {"x": 1, "n": {"p": 1}, "l": [1]}, "b": {"y": 2, "n": {"q": 2}, "l": [2]}});
    assert_eq!(
        render("{{ a | combine(b) }}", v.clone()),
        json!({"x": 1, "n": {"q": 2}, "l": [2], "y": 2})
    );
    assert_eq!(
        render("{{ a | combine(b, recursive=True) }}", v.clone()),
        json!({"x": 1, "n": {"p": 1, "q": 2}, "l": [2], "y": 2})
    );
    assert_eq!(
        render("{{ a | combine(b, list_merge='append') }}", v.clone()),
        json!({"x": 1, "n": {"q": 2}, "l": [1, 2], "y": 2})
    );
    assert_eq!(
        render(
            "{{ a | combine(b, {'z': 3}, list_merge='prepend') }}",
            v.clone()
        ),
        json!({"x": 1, "n": {"q": 2}, "l": [2, 1], "y": 2, "z": 3})
    );
    assert_eq!(
        render("{{ {} | combine([{'a': 1}, {'b': 2}]) }}", v.clone()),
        json!({"a": 1, "b": 2})
    );
    assert!(fail("{{ a | combine(1) }}", v).message.contains("combine"));
}

#[test]
fn dict_filters() {
    let v = json!({"d": {"a": 1, "b": 2}});
    assert_eq!(
        render("{{ d | dict2items }}", v.clone()),
        json!([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    );
    assert_eq!(
        render(
            "{{ d | dict2items(key_name='k', value_name='v') }}",
            v.clone()
        ),
        json!([{"k": "a", "v": 1}, {"k": "b", "v": 2}])
    );
    assert_eq!(
        render("{{ d | dict2items | items2dict }}", v.clone()),
        json!({"a": 1, "b": 2})
    );
    assert_eq!(
        render(
            "{{ [{'n': 'x', 'm': 1}] | items2dict(key_name='n', value_name='m') }}",
            v.clone()
        ),
        json!({"x": 1})
    );
    assert_eq!(
        render("{{ dict([['a', 1]], b=2) }}", v.clone()),
        json!({"a": 1, "b": 2})
    );
    assert_eq!(
        render("{{ dict(['a', 'b'] | zip([1, 2])) }}", v.clone()),
        json!({"a": 1, "b": 2})
    );
    assert!(
        fail("{{ [1] | dict2items }}", v)
            .message
            .contains("dict2items")
    );
}

#[test]
fn ternary_flatten_sets() {
    let v = json!({"t": true, "n": null, "l": [1, [2, [3, null]]]});
    assert_eq!(render("{{ t | ternary('y', 'n') }}", v.clone()), json!("y"));
    assert_eq!(render("{{ n | ternary('y', 'n') }}", v.clone()), json!("n"));
    assert_eq!(
        render("{{ n | ternary('y', 'n', 'z') }}", v.clone()),
        json!("z")
    );
    assert_eq!(render("{{ l | flatten }}", v.clone()), json!([1, 2, 3]));
    assert_eq!(
        render("{{ l | flatten(levels=1) }}", v.clone()),
        json!([1, 2, [3, null]])
    );
    assert_eq!(
        render("{{ [1, 2, 2] | union([3, 1]) }}", v.clone()),
        json!([1, 2, 3])
    );
    assert_eq!(
        render("{{ [1, 2, 3] | difference([2]) }}", v.clone()),
        json!([1, 3])
    );
    assert_eq!(
        render("{{ [1, 2, 3] | intersect([3, 2, 9]) }}", v.clone()),
        json!([2, 3])
    );
    assert_eq!(
        render("{{ [1, 2] | symmetric_difference([2, 3]) }}", v.clone()),
        json!([1, 3])
    );
    assert_eq!(render("{{ [1, 2, 1] | unique }}", v.clone()), json!([1, 2]));
    assert_eq!(render("{{ [] | union([]) }}", v), json!([]));
}

#[test]
fn path_filters() {
    let v = json!({"p": "/etc/kubernetes/admin.conf"});
    assert_eq!(rs("{{ p | basename }}", v.clone()), "admin.conf");
    assert_eq!(rs("{{ p | dirname }}", v.clone()), "/etc/kubernetes");
    assert_eq!(rs("{{ 'x' | dirname }}", v.clone()), "");
    assert_eq!(rs("{{ '/' | dirname }}", v.clone()), "/");
    assert_eq!(
        render("{{ p | splitext }}", v.clone()),
        json!(["/etc/kubernetes/admin", ".conf"])
    );
    assert_eq!(
        render("{{ '.bashrc' | splitext }}", v.clone()),
        json!([".bashrc", ""])
    );
    assert_eq!(
        rs("{{ ['/a', 'b', 'c.txt'] | path_join }}", v.clone()),
        "/a/b/c.txt"
    );
    assert_eq!(rs("{{ ['a', '/b'] | path_join }}", v.clone()), "/b");
    let home = std::env::var("HOME").unwrap_or_default();
    if !home.is_empty() {
        assert_eq!(
            rs("{{ '~/x' | expanduser }}", v.clone()),
            format!("{home}/x")
        );
    }
    assert_eq!(rs("{{ '/x' | expanduser }}", v), "/x");
}

#[test]
fn encoding_and_hash_filters() {
    let v = json!({});
    assert_eq!(rs("{{ 'hello' | b64encode }}", v.clone()), "aGVsbG8=");
    assert_eq!(rs("{{ 'aGVsbG8=' | b64decode }}", v.clone()), "hello");
    assert!(
        fail("{{ '%%%' | b64decode }}", v.clone())
            .message
            .contains("b64decode")
    );
    assert_eq!(
        rs("{{ 'abc' | hash('sha1') }}", v.clone()),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        rs("{{ 'abc' | checksum }}", v.clone()),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        rs("{{ 'abc' | hash('sha256') }}", v.clone()),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        rs("{{ 'abc' | hash('md5') }}", v.clone()),
        "900150983cd24fb0d6963f7d28e17f72"
    );
    assert!(
        fail("{{ 'abc' | hash('nope') }}", v.clone())
            .message
            .contains("nope")
    );
    assert_eq!(rs("{{ \"it's\" | quote }}", v.clone()), "'it'\"'\"'s'");
    assert_eq!(rs("{{ 'plain' | quote }}", v.clone()), "plain");
    assert_eq!(
        rs("{{ 'x' | to_uuid }}", v),
        rs("{{ 'x' | to_uuid }}", json!({}))
    );
}

#[test]
fn mandatory_filter() {
    let e = fail("{{ foo | mandatory }}", json!({}));
    assert_eq!(e.message, "Mandatory variable 'foo' not defined.");
    assert_eq!(render("{{ foo | mandatory }}", json!({"foo": 1})), json!(1));
    let e = fail("{{ foo | mandatory('set foo!') }}", json!({}));
    assert_eq!(e.message, "set foo!");
}

#[test]
fn conversion_filters() {
    let v = json!({});
    assert_eq!(render("{{ '42' | int }}", v.clone()), json!(42));
    assert_eq!(render("{{ '3.7' | int }}", v.clone()), json!(3));
    assert_eq!(render("{{ 'abc' | int }}", v.clone()), json!(0));
    assert_eq!(render("{{ 'abc' | int(7) }}", v.clone()), json!(7));
    assert_eq!(render("{{ '0x1f' | int(base=16) }}", v.clone()), json!(31));
    assert_eq!(render("{{ '1.5' | float }}", v.clone()), json!(1.5));
    assert_eq!(render("{{ 'x' | float }}", v.clone()), json!(0.0));
    assert_eq!(render("{{ 5 | string }}", v.clone()), json!("5"));
    assert_eq!(render("{{ true | string }}", v.clone()), json!("True"));
    assert_eq!(
        render("{{ [1, 'a'] | string }}", v.clone()),
        json!("[1, 'a']")
    );
    assert_eq!(render("{{ 'ab' | list }}", v.clone()), json!(["a", "b"]));
    assert_eq!(render("{{ 'a b' | split }}", v.clone()), json!(["a", "b"]));
    assert_eq!(
        render("{{ 'a,b' | split(',') | join('-') }}", v.clone()),
        json!("a-b")
    );
    assert_eq!(render("{{ 1 | type_debug }}", v.clone()), json!("int"));
    assert_eq!(render("{{ {} | type_debug }}", v.clone()), json!("dict"));
    assert_eq!(render("{{ 'x' | type_debug }}", v), json!("str"));
}

#[test]
fn list_filters() {
    let v = json!({"users": [{"n": "a", "on": true, "age": 3}, {"n": "b", "on": false, "age": 1}]});
    assert_eq!(
        render("{{ [1, 2] | zip(['a', 'b', 'c']) | list }}", v.clone()),
        json!([[1, "a"], [2, "b"]])
    );
    assert_eq!(
        render("{{ [1, 2] | product(['a']) | list }}", v.clone()),
        json!([[1, "a"], [2, "a"]])
    );
    assert_eq!(
        render(
            "{{ users | selectattr('on') | map(attribute='n') | list }}",
            v.clone()
        ),
        json!(["a"])
    );
    assert_eq!(
        render(
            "{{ users | rejectattr('on') | map(attribute='n') | list }}",
            v.clone()
        ),
        json!(["b"])
    );
    assert_eq!(
        render(
            "{{ users | sort(attribute='age') | map(attribute='n') | first }}",
            v.clone()
        ),
        json!("b")
    );
    assert_eq!(
        render("{{ users | map(attribute='age') | sum }}", v.clone()),
        json!(4)
    );
    assert_eq!(render("{{ [3, 1] | max }}", v.clone()), json!(3));
    assert_eq!(render("{{ [3, 1] | min }}", v.clone()), json!(1));
    assert_eq!(render("{{ [3, 1] | last }}", v.clone()), json!(1));
    assert_eq!(render("{{ [3, 1] | length }}", v.clone()), json!(2));
    assert_eq!(render("{{ [3, 1] | count }}", v.clone()), json!(2));
    assert_eq!(
        render("{{ [3, 1] | reverse | list }}", v.clone()),
        json!([1, 3])
    );
    assert_eq!(
        render("{{ [1, 2, 3] | select('odd') | list }}", v.clone()),
        json!([1, 3])
    );
    assert_eq!(
        render("{{ [1, 2, 3] | reject('odd') | list }}", v.clone()),
        json!([2])
    );
    assert_eq!(
        render(
            "{{ ['a', 'b'] | map('extract', {'a': 1, 'b': 2}) | list }}",
            v.clone()
        ),
        json!([1, 2])
    );
    assert_eq!(
        render(
            "{{ users | groupby('on') | map('first') | list }}",
            v.clone()
        ),
        json!([false, true])
    );
    assert_eq!(render("{{ range(3) | list }}", v), json!([0, 1, 2]));
}

#[test]
fn string_filters() {
    let v = json!({});
    assert_eq!(rs("{{ ' a ' | trim }}", v.clone()), "a");
    assert_eq!(rs("{{ 'a b c' | wordcount }}", v.clone()), "3");
    assert_eq!(rs("{{ 'ab' | center(6) }}", v.clone()), "  ab  ");
    assert_eq!(rs("{{ 'hello world' | title }}", v.clone()), "Hello World");
    assert_eq!(rs("{{ 'hello' | capitalize }}", v.clone()), "Hello");
    assert_eq!(rs("{{ 'a\nb' | indent(2) }}", v.clone()), "a\n  b");
    assert_eq!(render("{{ 2.567 | round(1) }}", v.clone()), json!(2.6));
    assert_eq!(render("{{ -3 | abs }}", v.clone()), json!(3));
    assert_eq!(rs("{{ '%s-%d' | format('a', 3) }}", v.clone()), "a-3");
    assert_eq!(
        rs("{{ 'abc' | replace('b', 'x') | upper }}", v.clone()),
        "AXC"
    );
    assert_eq!(rs("{{ 'X' | lower }}", v.clone()), "x");
    assert_eq!(
        render("{{ '1 KiB' | human_to_bytes }}", v.clone()),
        json!(1024)
    );
    assert_eq!(
        render("{{ '2M' | human_to_bytes }}", v.clone()),
        json!(2097152)
    );
    assert_eq!(rs("{{ 'x' | comment }}", v), "#\n# x\n#");
}

#[test]
fn ipaddr_filters() {
    let v = json!({"svc": "10.96.0.0/12", "v6": "fd00::1", "h": "192.168.1.10/24"});
    assert_eq!(rs("{{ svc | ipaddr(1) }}", v.clone()), "10.96.0.1/12");
    assert_eq!(
        rs("{{ svc | ipaddr(1) | ipaddr('address') }}", v.clone()),
        "10.96.0.1"
    );
    assert_eq!(
        rs(
            "{{ svc | ansible.utils.ipaddr('net') | ipaddr(10) | ipaddr('address') }}",
            v.clone()
        ),
        "10.96.0.10"
    );
    assert_eq!(rs("{{ svc | ipaddr('network') }}", v.clone()), "10.96.0.0");
    assert_eq!(
        rs("{{ svc | ipaddr('netmask') }}", v.clone()),
        "255.240.0.0"
    );
    assert_eq!(render("{{ svc | ipaddr('prefix') }}", v.clone()), json!(12));
    assert_eq!(
        render("{{ svc | ipaddr('size') }}", v.clone()),
        json!(1048576)
    );
    assert_eq!(rs("{{ h | ipaddr('host') }}", v.clone()), "192.168.1.10/24");
    assert_eq!(rs("{{ h | ipaddr('address') }}", v.clone()), "192.168.1.10");
    assert_eq!(
        render("{{ svc | ipaddr('address') }}", v.clone()),
        json!(false)
    );
    assert_eq!(
        render("{{ 'not an ip' | ipaddr }}", v.clone()),
        json!(false)
    );
    assert_eq!(rs("{{ '10.0.0.1' | ipaddr }}", v.clone()), "10.0.0.1");
    assert_eq!(render("{{ v6 | ipv4 }}", v.clone()), json!(false));
    assert_eq!(rs("{{ v6 | ipv6 }}", v.clone()), "fd00::1");
    assert_eq!(rs("{{ v6 | ipwrap }}", v.clone()), "[fd00::1]");
    assert_eq!(
        rs("{{ 'host.example' | ipwrap }}", v.clone()),
        "host.example"
    );
    assert_eq!(rs("{{ '10.0.0.1' | ipwrap }}", v.clone()), "10.0.0.1");
    assert_eq!(
        render("{{ ['10.0.0.1', 'x', 'fd00::2'] | ipv4 }}", v.clone()),
        json!(["10.0.0.1"])
    );
    assert_eq!(
        rs("{{ '10.0.0.0/8' | ipsubnet(16, 2) }}", v.clone()),
        "10.2.0.0/16"
    );
    assert_eq!(rs("{{ '10.0.0.0/8' | ipsubnet(16) }}", v.clone()), "256");
    assert_eq!(rs("{{ svc | ipaddr(-1) }}", v), "10.111.255.255/12");
}

// ---- tests ----

#[test]
fn version_tests() {
    let v = json!({"kv": "v1.28.3"});
    assert!(cond("kv is version('v1.28.0', '>=')", v.clone()));
    assert!(cond("kv is version('v1.29', '<')", v.clone()));
    assert!(cond("'1.28' is version('1.28', '==')", v.clone()));
    assert!(cond("'1.10' is version('1.9', 'gt')", v.clone()));
    assert!(cond("'1.10' is version_compare('1.9', '>')", v.clone()));
    assert!(cond("'1.2.0' is version('1.2', 'ne')", v.clone()));
    assert!(cond("'2.0' is version('1.0', operator='ge')", v.clone()));
    assert!(cond("'1.0' is version('1.0')", v.clone()));
    assert!(
        templar()
            .eval_bool("'1' is version('1', '~')", &vars(v), None)
            .is_err()
    );
}

#[test]
fn result_tests() {
    let v = json!({"ok": {"changed": false, "rc": 0}, "bad": {"failed": true, "rc": 1},
                   "ch": {"changed": true}, "sk": {"skipped": true}});
    assert!(cond("ok is succeeded", v.clone()));
    assert!(cond("ok is success", v.clone()));
    assert!(!cond("ok is failed", v.clone()));
    assert!(cond("bad is failed", v.clone()));
    assert!(cond("bad is failure", v.clone()));
    assert!(cond("ch is changed", v.clone()));
    assert!(cond("ok is not changed", v.clone()));
    assert!(cond("sk is skipped", v.clone()));
    assert!(cond("sk is skip", v.clone()));
    let e = templar()
        .eval_bool("'x' is failed", &vars(v), None)
        .unwrap_err();
    assert!(e.message.contains("expects a dictionary"), "{}", e.message);
}

#[test]
fn regex_and_collection_tests() {
    let v = json!({"s": "foobar", "l": [1, 2, 3]});
    assert!(cond("s is match('foo')", v.clone()));
    assert!(!cond("s is match('bar')", v.clone()));
    assert!(cond("s is search('bar')", v.clone()));
    assert!(cond("s is regex('BAR', ignorecase=True)", v.clone()));
    assert!(!cond("s is regex('bar', match_type='match')", v.clone()));
    assert!(cond(
        "s is regex('foobar', match_type='fullmatch')",
        v.clone()
    ));
    assert!(cond("2 in l", v.clone()));
    assert!(cond("l is contains(3)", v.clone()));
    assert!(!cond("l is contains(9)", v.clone()));
    assert!(cond("[1, 2] is subset(l)", v.clone()));
    assert!(cond("l is superset([3])", v.clone()));
    assert!(!cond("[1, 9] is subset(l)", v.clone()));
    assert!(cond("[0, 1] is any", v.clone()));
    assert!(!cond("[0, 1] is all", v.clone()));
    assert!(cond("'yes' is truthy(convert_bool=True)", v.clone()));
    assert!(cond("'no' is falsy(convert_bool=True)", v.clone()));
    assert!(cond("none is none", v.clone()));
    assert!(cond("s is string", v.clone()));
    assert!(cond("1 is number", v.clone()));
    assert!(cond("{} is mapping", v.clone()));
    assert!(cond("l is iterable", v.clone()));
    assert!(cond("l is sequence", v));
}

#[test]
fn path_tests() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "x").unwrap();
    let v = json!({"d": dir.path(), "f": f, "n": dir.path().join("nope")});
    assert!(cond("f is file", v.clone()));
    assert!(!cond("d is file", v.clone()));
    assert!(cond("d is directory", v.clone()));
    assert!(cond("f is exists", v.clone()));
    assert!(!cond("n is exists", v.clone()));
    assert!(cond("f is abs", v.clone()));
    assert!(!cond("'rel/x' is abs", v));
}

// ---- lookups ----

#[test]
fn lookups() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(files.join("a.txt"), "content\n\n").unwrap();
    std::fs::write(
        templates.join("t.j2"),
        "{% if x %}\nx={{ x }}\n{% endif %}\n",
    )
    .unwrap();
    std::fs::write(templates.join("inc.j2"), "[{% include 'part.j2' %}]").unwrap();
    std::fs::write(templates.join("part.j2"), "part {{ x }}").unwrap();
    let v = MapVars::new(json!({"x": 5, "y": "{{ x * 2 }}"}))
        .with_search_dirs(SearchKind::Files, vec![files.clone()])
        .with_search_dirs(SearchKind::Templates, vec![templates.clone()])
        .into_dyn();
    let r = |s: &str| templar().render_str(s, &v, None);
    assert_eq!(
        r("{{ lookup('file', 'a.txt') }}").unwrap(),
        json!("content")
    );
    let e = r("{{ lookup('file', 'missing.txt') }}").unwrap_err();
    assert!(e.message.contains("missing.txt"), "{}", e.message);
    assert_eq!(
        r("{{ lookup('template', 't.j2') }}").unwrap(),
        json!("x=5\n")
    );
    assert_eq!(
        r("{{ lookup('ansible.builtin.template', 'inc.j2') }}").unwrap(),
        json!("[part 5]")
    );
    assert_eq!(r("{{ lookup('vars', 'y') }}").unwrap(), json!(10));
    assert_eq!(
        r("{{ lookup('vars', 'zz', default=1) }}").unwrap(),
        json!(1)
    );
    assert!(
        r("{{ lookup('vars', 'zz') }}")
            .unwrap_err()
            .message
            .contains("zz")
    );
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(r("{{ lookup('env', 'PATH') }}").unwrap(), json!(path));
    assert_eq!(
        r("{{ lookup('env', 'WINDLASS_SURELY_UNSET_VAR') }}").unwrap(),
        json!("")
    );
    assert_eq!(r("{{ query('env', 'PATH') }}").unwrap(), json!([path]));
    assert_eq!(
        r("{{ q('items', [1, [2]], 3) }}").unwrap(),
        json!([1, [2], 3])
    );
    assert_eq!(r("{{ lookup('list', ['a', 'b']) }}").unwrap(), json!("a,b"));
    assert_eq!(r("{{ lookup('pipe', 'echo hi') }}").unwrap(), json!("hi"));
    assert_eq!(
        r("{{ lookup('first_found', ['nope.txt', 'a.txt']) }}").unwrap(),
        json!(files.join("a.txt").to_string_lossy())
    );
    let e = r("{{ lookup('nosuch', 'x') }}").unwrap_err();
    assert!(e.message.contains("nosuch"), "{}", e.message);
}

// ---- performance ----

#[test]
fn render_is_fast() {
    let v = vars(json!({"a": "x", "b": 2}));
    let t = templar();
    let n = if cfg!(debug_assertions) {
        10_000
    } else {
        100_000
    };
    let start = std::time::Instant::now();
    for _ in 0..n {
        let out = t.render_str("{{ a }}-{{ b }}", &v, None).unwrap();
        assert_eq!(out, json!("x-2"));
    }
    let el = start.elapsed();
    eprintln!("rendered {n} templates in {el:?}");
    if !cfg!(debug_assertions) {
        assert!(el.as_secs_f64() < 1.0, "{n} renders took {el:?}");
    }
}

#[test]
fn error_messages_name_the_culprit() {
    let e = fail("{{ 1 | no_such_filter }}", json!({}));
    assert!(e.message.contains("no_such_filter"), "{}", e.message);
    let e = fail("{{ 1 is no_such_test }}", json!({}));
    assert!(e.message.contains("no_such_test"), "{}", e.message);
    let e = fail("{{ 1 + }}", json!({}));
    assert!(e.message.contains("syntax error"), "{}", e.message);
    let e = fail("{{ d.missing }}", json!({"d": {}}));
    assert_eq!(
        e.message,
        "object of type 'dict' has no attribute 'missing'"
    );
    let h = MapVars::new(json!({})).with_host("h", MapVars::new(json!({"x": "{{ nope }}"})));
    let e = templar()
        .render_str("{{ hostvars['h'].x }}", &h.into_dyn(), None)
        .unwrap_err();
    assert_eq!(e.undefined.as_deref(), Some("nope"));
}

#[test]
fn undefined_chains_like_ansible_when_guarded() {
    let v = json!({"facts": {}});
    assert_eq!(
        render("{{ nope.address | default('127.0.0.1') }}", v.clone()),
        json!("127.0.0.1")
    );
    assert_eq!(
        render("{{ facts.ipv4.address | default('none') }}", v.clone()),
        json!("none")
    );
    assert!(!cond("nope.x is defined", v.clone()));
    assert!(cond("nope.x is undefined", v.clone()));
    // printing is still strict
    let e = fail("{{ nope.address }}", v.clone());
    assert_eq!(e.undefined.as_deref(), Some("nope"));
    let e = fail("{{ nope.a | default('x') }}{{ other }}", v);
    assert!(e.message.contains("undefined"), "{}", e.message);
}

#[test]
fn undefined_attribute_names_the_type_as_ansible() {
    let v = json!({"d": {"a": "s"}, "l": [1]});
    let e = fail("{{ d.x }}", v.clone());
    assert_eq!(e.message, "object of type 'dict' has no attribute 'x'");
    let e = fail("{{ d.x.y }}", v.clone());
    assert_eq!(e.message, "object of type 'dict' has no attribute 'x'");
    let e = fail("{{ d['k'] }}", v.clone());
    assert_eq!(e.message, "object of type 'dict' has no attribute 'k'");
    let e = fail("{{ d.a.b }}", v.clone());
    assert_eq!(e.message, "object of type 'str' has no attribute 'b'");
    let e = fail("{{ l[5] }}", v.clone());
    assert_eq!(e.message, "object of type 'list' has no attribute 5");
    let e = fail("{{ nosuch.x }}", v.clone());
    assert_eq!(e.message, "'nosuch' is undefined");
    let e = fail("{{ foo }}", v);
    assert_eq!(e.message, "'foo' is undefined");
}
