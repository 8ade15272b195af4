//! Inventory loading against fixture files: formats, directories, variable precedence,
//! host patterns, `--list`/`--graph` output and located errors.

use std::path::{Path, PathBuf};

use serde_json::json;
use windlass::inventory::Inventory;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventory")
        .join(rel)
}

fn load(rel: &str) -> Inventory {
    Inventory::load(&[fixture(rel)]).unwrap_or_else(|e| panic!("{rel}: {e} at {:?}", e.loc()))
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn ini_inventory() {
    let inv = load("ini/hosts.ini");
    assert_eq!(
        inv.host_names(),
        names(&[
            "bastion", "cp1", "cp2", "cp3", "cp4", "node01", "node03", "a-edge", "b-edge", "c-edge"
        ])
    );
    let cp4 = &inv.host("cp4").unwrap().vars;
    assert_eq!(cp4["ansible_port"], json!(2222));
    assert_eq!(cp4["labels"], json!({"role": "cp", "zone": 1}));
    let n = &inv.host("node01").unwrap().vars;
    assert_eq!(n["ip"], json!("10.0.0.1"));
    assert_eq!(n["enabled"], json!(true));
    assert_eq!(n["ratio"], json!(0.5));
    assert_eq!(n["quoted"], json!("42"));
    assert_eq!(n["plain"], json!("hello"));
    let g = &inv.group("k8s_cluster").unwrap().vars;
    assert_eq!(g["kube_version"], json!("v1.30.0"));
    assert_eq!(g["replicas"], json!(3));
    // `;` only starts a comment at the start of a line, as in Ansible.
    assert_eq!(
        g["debug"],
        json!("False   ; not a comment in a vars section")
    );
    assert!(inv.group("calico_rr").unwrap().hosts.is_empty());
    assert_eq!(
        inv.group("all").unwrap().children,
        names(&["ungrouped", "etcd", "k8s_cluster"])
    );
    assert_eq!(inv.group("ungrouped").unwrap().hosts, names(&["bastion"]));
    assert_eq!(
        inv.group_names("cp1"),
        names(&["etcd", "k8s_cluster", "kube_control_plane"])
    );
    let groups = inv.groups_var();
    assert_eq!(
        groups["k8s_cluster"],
        names(&[
            "cp1", "cp2", "cp3", "cp4", "node01", "node03", "a-edge", "b-edge", "c-edge"
        ])
    );
    assert_eq!(groups["all"].len(), 10);
    assert_eq!(groups["calico_rr"], Vec::<String>::new());
    let src = inv.host("cp1").unwrap().source.clone().unwrap();
    assert!(src.ends_with("ini/hosts.ini"));
}

#[test]
fn yaml_inventory() {
    let inv = load("yaml/hosts.yml");
    assert_eq!(
        inv.host_names(),
        names(&[
            "bastion", "cp1", "cp2", "cp3", "::1", "nodea", "nodeb", "node9"
        ])
    );
    assert_eq!(inv.host("::1").unwrap().vars["ansible_port"], json!(2222));
    assert_eq!(
        inv.host("node9").unwrap().vars["labels"],
        json!({"role": "worker"})
    );
    assert_eq!(
        inv.group("all").unwrap().children,
        names(&["ungrouped", "k8s_cluster", "etcd"])
    );
    let v = inv.host_vars("cp2");
    assert_eq!(v["ntp"], json!("pool.ntp.org"));
    assert_eq!(v["kube_version"], json!("v1.30.0"));
    assert_eq!(v["ansible_user"], json!("admin"));
    assert_eq!(inv.select("::1").unwrap(), names(&["::1"]));
    assert_eq!(
        inv.group_names("cp1"),
        names(&["etcd", "k8s_cluster", "kube_control_plane"])
    );
}

#[test]
fn directory_inventory_with_vars_dirs() {
    let mut inv = load("dir");
    // README, hidden, *.bak, *.orig, *.retry and *~ files are skipped (they are broken), and
    // so are the artifacts/ and credentials/ directories runs write kubeconfigs to.
    assert_eq!(
        inv.host_names(),
        names(&["node1", "node2", "node3", "node4"])
    );
    assert_eq!(
        inv.group("kube_node").unwrap().hosts,
        names(&["node1", "node2", "node3"])
    );
    assert_eq!(
        inv.group_names("node1"),
        names(&["k8s_cluster", "kube_node", "monitoring"])
    );
    assert_eq!(inv.group("extra").unwrap().hosts, names(&["node4"]));
    let v = inv.host_vars("node2");
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        json!({
            "cluster_name": "demo",
            // group_vars/k8s_cluster/ beats group_vars/all
            "dns_mode": "nodelocaldns",
            // files in a group_vars/<g>/ directory apply in sorted order
            "kube_network_plugin": "cilium",
            "helm_enabled": true,
            // host_vars/ beats the inventory file's host variable
            "from_ini": "overridden",
            "node_labels": {"disk": "ssd"}
        })
    );
    // node4 is not in k8s_cluster: only group_vars/all applies.
    assert_eq!(
        serde_json::to_value(inv.host_vars("node4")).unwrap(),
        json!({"cluster_name": "demo", "dns_mode": "coredns"})
    );
    // host_vars/ also applies to hosts added at run time.
    inv.add_host("node5", &["added".to_string()], Default::default());
    assert_eq!(inv.host_vars("node5")["added_later"], json!(1));
    assert_eq!(inv.groups_var()["added"], names(&["node5"]));
}

#[test]
fn precedence_every_level() {
    let mut inv = load("precedence/hosts.ini");
    inv.add_vars_dir(&fixture("precedence/playbook")).unwrap();
    // A missing playbook vars dir is fine.
    inv.add_vars_dir(&fixture("precedence/nowhere")).unwrap();
    let v = inv.host_vars("h1");
    let expect = [
        ("v1", "all_inv"),      // inventory-file vars of `all`
        ("v2", "child_inv"),    // inventory-file group vars, child after parent
        ("v3", "gv_all_inv"),   // inventory group_vars/all beats inventory-file group vars
        ("v4", "gv_all_pb"),    // playbook group_vars/all
        ("v5", "gv_child_inv"), // inventory group_vars/<g>
        ("v6", "gv_child_pb"),  // playbook group_vars/<g>
        ("v7", "host_inv"),     // inventory-file host vars
        ("v8", "hv_inv"),       // inventory host_vars/<h>
        ("v9", "hv_pb"),        // playbook host_vars/<h>
        ("depth_test", "child_inv"),
        ("file_depth", "child"),
        ("parent_only", "parent"),
        ("prio_test", "alpha"),
        ("name_test", "gamma"),
    ];
    for (k, want) in expect {
        assert_eq!(v[k], json!(want), "{k}");
    }
    assert_eq!(
        inv.sorted_groups("h1"),
        names(&["beta", "gamma", "parent", "zeta", "alpha", "child"])
    );
}

#[test]
fn host_list_sources() {
    let inv = Inventory::load(&[PathBuf::from("web1,web2:2222,")]).unwrap();
    assert_eq!(inv.host_names(), names(&["web1", "web2"]));
    assert_eq!(inv.host("web2").unwrap().vars["ansible_port"], json!(2222));
    assert_eq!(
        inv.group("ungrouped").unwrap().hosts,
        names(&["web1", "web2"])
    );
    let one = Inventory::load(&[PathBuf::from("solo,")]).unwrap();
    assert_eq!(one.host_names(), names(&["solo"]));
    let both = Inventory::load(&[fixture("ini/hosts.ini"), PathBuf::from("extra,")]).unwrap();
    assert_eq!(both.host_names().last().map(String::as_str), Some("extra"));
    let e = Inventory::load(&[fixture("no/such/file")]).unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
}

#[test]
fn patterns_every_operator() {
    let inv = load("ini/hosts.ini");
    let sel = |p: &str| inv.select(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(sel("all").len(), 10);
    assert_eq!(sel("*").len(), 10);
    assert_eq!(sel("cp4"), names(&["cp4"]));
    assert_eq!(sel("etcd"), names(&["cp1", "cp2", "cp3"]));
    // union with `,` and `:`, in the order of the terms (as `ansible --list-hosts` 2.19)
    assert_eq!(
        sel("kube_node,bastion"),
        names(&["node01", "node03", "a-edge", "b-edge", "c-edge", "bastion"])
    );
    assert_eq!(sel("cp4:etcd"), names(&["cp4", "cp1", "cp2", "cp3"]));
    // intersection and exclusion
    assert_eq!(
        sel("kube_control_plane:&etcd"),
        names(&["cp1", "cp2", "cp3"])
    );
    assert_eq!(sel("k8s_cluster:!etcd:!kube_node"), names(&["cp4"]));
    // unions before intersections before exclusions, whatever the written order
    assert_eq!(sel("!cp1:&etcd:kube_control_plane"), names(&["cp2", "cp3"]));
    // wildcards and regexes
    assert_eq!(sel("node*"), names(&["node01", "node03"]));
    assert_eq!(sel("cp?"), names(&["cp1", "cp2", "cp3", "cp4"]));
    assert_eq!(sel("~[ab]-edge"), names(&["a-edge", "b-edge"]));
    assert_eq!(sel("~cp[0-9]+:!~cp[13]"), names(&["cp2", "cp4"]));
    // `name[13]` is a subscript, as in Ansible, not a character class
    assert!(inv.select("cp[13]").is_err());
    assert_eq!(sel("kube*"), sel("kube_control_plane:kube_node"));
    // subscripts (ranges are inclusive, as in Ansible)
    assert_eq!(sel("kube_control_plane[0]"), names(&["cp1"]));
    assert_eq!(sel("kube_control_plane[-1]"), names(&["cp4"]));
    assert_eq!(sel("kube_control_plane[1:2]"), names(&["cp2", "cp3"]));
    assert_eq!(sel("kube_control_plane[2:]"), names(&["cp3", "cp4"]));
    // @file: one pattern per line
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("limit.txt");
    std::fs::write(&file, "etcd\n\n!cp2\n").unwrap();
    assert_eq!(sel(&format!("@{}", file.display())), names(&["cp1", "cp3"]));
    // errors
    let err = |p: &str| inv.select(p).unwrap_err().message;
    assert!(err("").contains("empty"));
    assert!(err("etcd:nosuch").contains("`nosuch`"));
    assert!(err("zz*").contains("matches no host"));
    assert!(err("~web(").contains("regular expression"));
    assert!(err("etcd[7]").contains("out of range"));
    assert!(err("@/no/such/limit/file").contains("cannot read"));
}

#[test]
fn list_json_shape() {
    let inv = load("ini/hosts.ini");
    let list = inv.to_list_json();
    let top: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(
        top,
        [
            "_meta",
            "all",
            "etcd",
            "k8s_cluster",
            "kube_control_plane",
            "kube_node",
            "ungrouped"
        ]
    );
    assert_eq!(
        list["all"],
        json!({"children": ["ungrouped", "etcd", "k8s_cluster"]})
    );
    assert_eq!(
        list["k8s_cluster"],
        json!({"children": ["kube_control_plane", "kube_node", "calico_rr"]})
    );
    assert_eq!(list["etcd"], json!({"hosts": ["cp1", "cp2", "cp3"]}));
    assert_eq!(list["ungrouped"], json!({"hosts": ["bastion"]}));
    assert_eq!(
        list["_meta"]["hostvars"]["cp4"],
        json!({
            "ansible_port": 2222,
            "debug": "False   ; not a comment in a vars section",
            "etcd_member_name": "etcd4",
            "kube_version": "v1.30.0",
            "labels": {"role": "cp", "zone": 1},
            "replicas": 3
        })
    );
    assert_eq!(
        list["_meta"]["hostvars"]["bastion"],
        json!({"ansible_host": "203.0.113.9"})
    );
    let export = inv.to_list_json_export();
    assert_eq!(export["k8s_cluster"]["vars"]["replicas"], json!(3));
    assert_eq!(
        export["_meta"]["hostvars"]["cp4"],
        json!({"ansible_port": 2222, "etcd_member_name": "etcd4", "labels": {"role": "cp", "zone": 1}})
    );
}

#[test]
fn graph_text() {
    let inv = load("ini/hosts.ini");
    // What ansible-inventory 2.19.14 prints for this file (given a `[calico_rr]` section,
    // which its INI plugin requires): groups and hosts in the file's order.
    let expected = "\
@all:
  |--@ungrouped:
  |  |--bastion
  |--@etcd:
  |  |--cp1
  |  |--cp2
  |  |--cp3
  |--@k8s_cluster:
  |  |--@kube_control_plane:
  |  |  |--cp1
  |  |  |--cp2
  |  |  |--cp3
  |  |  |--cp4
  |  |--@kube_node:
  |  |  |--node01
  |  |  |--node03
  |  |  |--a-edge
  |  |  |--b-edge
  |  |  |--c-edge
  |  |--@calico_rr:";
    assert_eq!(inv.graph(None).unwrap(), expected);
    assert_eq!(
        inv.graph(Some("etcd")).unwrap(),
        "@etcd:\n  |--cp1\n  |--cp2\n  |--cp3"
    );
    assert!(
        inv.graph(Some("nosuch"))
            .unwrap_err()
            .message
            .contains("nosuch")
    );
}

/// Load a bad fixture; return its message, the file name, line and column.
fn bad(rel: &str) -> (String, String, u32, u32) {
    let e = match Inventory::load(&[fixture(rel)]) {
        Ok(_) => panic!("{rel} loaded"),
        Err(e) => e,
    };
    let loc = e
        .loc()
        .unwrap_or_else(|| panic!("{rel}: no location: {e}"))
        .clone();
    let file = loc.file.file_name().unwrap().to_string_lossy().into_owned();
    (e.to_string(), file, loc.line, loc.col)
}

#[test]
fn bad_inputs_are_located() {
    let cases: [(&str, &str, &str, u32, u32); 11] = [
        (
            "bad/unknown_section.ini",
            "unknown type `child`",
            "unknown_section.ini",
            4,
            6,
        ),
        (
            "bad/bad_hostvar.ini",
            "expected key=value host variable assignment, got `oops`",
            "bad_hostvar.ini",
            3,
            6,
        ),
        (
            "bad/bad_range.ini",
            "must have begin <= end",
            "bad_range.ini",
            2,
            1,
        ),
        ("bad/cycle.ini", "creates a cycle", "cycle.ini", 8, 1),
        (
            "bad/undefined_vars.ini",
            "group `ghost`, which is not defined",
            "undefined_vars.ini",
            1,
            2,
        ),
        (
            "bad/unclosed_quote.ini",
            "unclosed quote",
            "unclosed_quote.ini",
            2,
            8,
        ),
        (
            "bad/unknown_key.yml",
            "unexpected key `var` in group `web`",
            "unknown_key.yml",
            6,
            7,
        ),
        (
            "bad/hosts_list.yml",
            "`hosts` of group `web` must be a mapping, found a list",
            "hosts_list.yml",
            3,
            5,
        ),
        (
            "bad/host_not_mapping.yml",
            "the variables of host `w1` must be a mapping, found a string",
            "host_not_mapping.yml",
            3,
            9,
        ),
        ("bad/cycle.yml", "creates a cycle", "cycle.yml", 3, 5),
        (
            "bad/vars_not_mapping",
            "a variables file must be a mapping, found a list",
            "web.yml",
            2,
            1,
        ),
    ];
    for (rel, msg, file, line, col) in cases {
        let (m, f, l, c) = bad(rel);
        assert!(m.contains(msg), "{rel}: message `{m}` lacks `{msg}`");
        assert_eq!((f.as_str(), l, c), (file, line, col), "{rel}: {m}");
    }
}
