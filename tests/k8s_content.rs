//! The Kubernetes content (`roles/`, `playbooks/`, `inventories/`): every playbook loads,
//! every config file the roles render is snapshotted per sample inventory and host, and
//! preflight refuses bad inventories before any other role runs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use windlass::inventory::Inventory;
use windlass::modules::Registry;
use windlass::playbook::{Loader, load_playbook};
use windlass::template::{MapVars, SearchKind, Templar};

/// The sample topologies, as named under `inventories/`.
const TOPOLOGIES: &[&str] = &[
    "ha-stacked",
    "ha-external-etcd",
    "single-control-plane",
    "all-in-one",
];

/// Every playbook under `playbooks/` a user runs.
const PLAYBOOKS: &[&str] = &[
    "ha-stacked.yml",
    "ha-external-etcd.yml",
    "single-control-plane.yml",
    "all-in-one.yml",
    "scale.yml",
    "reset.yml",
    "upgrade.yml",               // UPG
    "certs-check.yml",           // UPG
    "certs-renew.yml",           // UPG
    "remove-node.yml",           // DAY2
    "recover-control-plane.yml", // DAY2
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inventory(topology: &str) -> Inventory {
    let dir = repo().join("inventories").join(topology);
    Inventory::load(&[dir]).unwrap_or_else(|e| panic!("inventory {topology}: {e}"))
}

/// A role's `defaults/main.yml` as a JSON object (empty when the role has none).
fn role_defaults(role: &str) -> Map<String, Value> {
    let p = repo().join("roles").join(role).join("defaults/main.yml");
    if !p.exists() {
        return Map::new();
    }
    match common::yaml_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())) {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("{}: not a mapping: {other}", p.display()),
    }
}

/// Facts a Debian 12 host on the 192.168.56.0/24 sample network would report.
fn facts(host: &str, address: &str) -> Map<String, Value> {
    let v = json!({
        "ansible_hostname": host,
        "ansible_os_family": "Debian",
        "ansible_distribution": "Debian",
        "ansible_distribution_release": "bookworm",
        "ansible_distribution_major_version": "12",
        "ansible_default_ipv4": {
            "interface": "eth1",
            "address": address,
            "network": "192.168.56.0",
            "netmask": "255.255.255.0",
            "prefix": "24",
            "gateway": "192.168.56.1",
        },
        "ansible_processor_vcpus": 2,
        "ansible_memtotal_mb": 3931,
        "ansible_swaptotal_mb": 0,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// What a template sees on `host`: the roles' defaults (k8s_defaults first, then `roles`),
/// the inventory's variables, facts and magic variables; `hostvars` holds every inventory
/// host's inventory variables (as Ansible's hostvars do, without play or role variables).
fn host_vars(inv: &Inventory, topology: &str, host: &str, roles: &[&str]) -> MapVars {
    let mut vars = role_defaults("k8s_defaults");
    for r in roles {
        vars.extend(role_defaults(r));
    }
    let inv_vars = inv.host_vars(host);
    for (k, v) in &inv_vars {
        vars.insert(k.clone(), v.clone());
    }
    let address = inv_vars
        .get("ansible_host")
        .and_then(Value::as_str)
        .unwrap_or(host)
        .to_string();
    vars.extend(facts(host, &address));
    vars.insert("inventory_hostname".into(), json!(host));
    vars.insert("inventory_hostname_short".into(), json!(host));
    vars.insert("group_names".into(), json!(inv.group_names(host)));
    vars.insert("groups".into(), json!(inv.groups_var()));
    let inv_dir = repo().join("inventories").join(topology);
    vars.insert("inventory_dir".into(), json!(inv_dir.display().to_string()));
    let mut mv = MapVars::new(Value::Object(vars));
    for other in inv.host_names() {
        let mut hv: Map<String, Value> = inv.host_vars(&other).into_iter().collect();
        hv.insert("inventory_hostname".into(), json!(other));
        mv = mv.with_host(&other, MapVars::new(Value::Object(hv)));
    }
    let templates = roles
        .iter()
        .map(|r| repo().join("roles").join(r).join("templates"))
        .collect();
    mv.with_search_dirs(SearchKind::Templates, templates)
}

/// Render `roles/<role>/templates/<name>` for `host` of `topology`.
fn render(topology: &str, host: &str, role: &str, name: &str, extra: &[&str]) -> String {
    let inv = inventory(topology);
    let mut roles = vec![role];
    roles.extend_from_slice(extra);
    let vars = host_vars(&inv, topology, host, &roles).into_dyn();
    let path = repo().join("roles").join(role).join("templates").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    Templar::new()
        .render_template_text(&text, name, &vars, &Map::new())
        .unwrap_or_else(|e| panic!("{topology}/{host}: {role}/{name}: {e}"))
}

/// Every `---`-separated document of a rendered YAML file, parsed.
fn yaml_docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|doc| {
            common::yaml_str(doc)
                .unwrap_or_else(|e| panic!("rendered YAML does not parse: {e}\n{doc}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Snapshot a rendered file as `tests/snapshots/k8s_content__<name>.snap`.
fn snapshot(name: &str, text: &str) {
    let name = name.replace(['/', '.'], "_");
    insta::assert_snapshot!(name, text);
}

// ---------------------------------------------------------------------------------------
// Loading

#[test]
fn every_playbook_loads_and_its_plays_match_every_sample_inventory() {
    let loader = Loader::new(Arc::new(Registry::builtin()), vec![]);
    for pb in PLAYBOOKS {
        let path = repo().join("playbooks").join(pb);
        let playbook = load_playbook(&path, &loader).unwrap_or_else(|e| panic!("{pb}: {e}"));
        assert!(!playbook.plays.is_empty(), "{pb} has no plays");
        for topology in TOPOLOGIES {
            let inv = inventory(topology);
            for play in &playbook.plays {
                // DAY2: remove-node.yml's play targets -e node, else k8s_cluster
                let hosts = play
                    .hosts
                    .replace("{{ node | default('k8s_cluster') }}", "k8s_cluster");
                inv.select(&hosts).unwrap_or_else(|e| {
                    panic!(
                        "{pb}: play `{}` hosts `{}` on {topology}: {e}",
                        play.name, play.hosts
                    )
                });
            }
        }
    }
}

#[test]
fn sample_inventories_have_the_kubespray_groups() {
    for topology in TOPOLOGIES {
        let inv = inventory(topology);
        let groups = inv.groups_var();
        for g in [
            "kube_control_plane",
            "kube_node",
            "etcd",
            "loadbalancer",
            "k8s_cluster",
        ] {
            assert!(groups.contains_key(g), "{topology} lacks group {g}");
        }
        let mut cluster = groups["k8s_cluster"].clone();
        cluster.sort();
        let mut expected: Vec<String> = groups["kube_control_plane"]
            .iter()
            .chain(groups["kube_node"].iter())
            .cloned()
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(cluster, expected, "{topology}: k8s_cluster");
    }
    let counts = |t: &str| {
        let g = inventory(t).groups_var();
        [
            g["kube_control_plane"].len(),
            g["kube_node"].len(),
            g["etcd"].len(),
            g["loadbalancer"].len(),
        ]
    };
    assert_eq!(counts("ha-stacked"), [3, 2, 0, 2]);
    assert_eq!(counts("ha-external-etcd"), [3, 2, 3, 2]);
    assert_eq!(counts("single-control-plane"), [1, 2, 0, 0]);
    assert_eq!(counts("all-in-one"), [1, 1, 0, 0]);
}

// ---------------------------------------------------------------------------------------
// Derived variables

fn eval(topology: &str, host: &str, expr: &str) -> Value {
    let inv = inventory(topology);
    let vars = host_vars(&inv, topology, host, &[]).into_dyn();
    Templar::new()
        .eval(expr, &vars, None)
        .unwrap_or_else(|e| panic!("{topology}: {expr}: {e}"))
}

#[test]
fn control_plane_endpoint_follows_the_load_balancers() {
    // two load balancers: the VIP
    assert_eq!(
        eval("ha-stacked", "cp1", "control_plane_endpoint"),
        json!("192.168.56.10")
    );
    // no load balancer: the first control plane, on the API server's own port
    assert_eq!(
        eval("single-control-plane", "worker1", "control_plane_endpoint"),
        json!("192.168.56.11")
    );
    assert_eq!(
        eval("all-in-one", "node1", "control_plane_endpoint_port"),
        json!(6443)
    );
    assert_eq!(eval("ha-stacked", "cp1", "kubernetes_minor"), json!("1.37"));
    assert_eq!(
        eval("ha-stacked", "cp1", "kubernetes_release.kubeadm_api"),
        json!("v1beta4")
    );
    assert_eq!(eval("ha-stacked", "cp1", "etcd_is_external"), json!(false));
    assert_eq!(
        eval("ha-external-etcd", "cp1", "etcd_is_external"),
        json!(true)
    );
    assert_eq!(
        eval("ha-stacked", "cp1", "cri_socket"),
        json!("unix:///run/containerd/containerd.sock")
    );
}

#[test]
fn control_plane_endpoint_with_one_load_balancer_is_its_address() {
    let inv = Inventory::parse_str(
        "[kube_control_plane]\ncp1 ansible_host=192.168.56.11\ncp2 ansible_host=192.168.56.12\n\
         cp3 ansible_host=192.168.56.13\n[loadbalancer]\nlb1 ansible_host=192.168.56.21 node_ip=10.0.0.21\n",
        Path::new("hosts.ini"),
    )
    .unwrap();
    let vars = host_vars(&inv, "ha-stacked", "cp2", &[]).into_dyn();
    let t = Templar::new();
    assert_eq!(
        t.eval("control_plane_endpoint", &vars, None).unwrap(),
        json!("10.0.0.21")
    );
}

// ---------------------------------------------------------------------------------------
// Golden configs

/// Each topology with the host that runs `kubeadm init` there.
const FIRST_CONTROL_PLANES: [(&str, &str); 4] = [
    ("ha-stacked", "cp1"),
    ("ha-external-etcd", "cp1"),
    ("single-control-plane", "cp1"),
    ("all-in-one", "node1"),
];

#[test]
fn kubeadm_config_per_topology() {
    for (topology, host) in FIRST_CONTROL_PLANES {
        let text = render(
            topology,
            host,
            "kubeadm_init",
            "kubeadm-config.yaml.j2",
            &[],
        );
        let docs = yaml_docs(&text);
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "InitConfiguration",
                "ClusterConfiguration",
                "KubeletConfiguration",
                "KubeProxyConfiguration"
            ],
            "{topology}"
        );
        let cluster = &docs[1];
        assert_eq!(cluster["networking"]["podSubnet"], json!("10.244.0.0/16"));
        assert_eq!(
            cluster["kubernetesVersion"],
            json!(format!("v{}", default_kubernetes_version()))
        );
        assert_eq!(cluster["apiVersion"], json!("kubeadm.k8s.io/v1beta4"));
        assert_eq!(docs[2]["cgroupDriver"], json!("systemd"));
        let external = topology == "ha-external-etcd";
        assert_eq!(
            cluster["etcd"]["external"].is_object(),
            external,
            "{topology}"
        );
        let taints = &docs[0]["nodeRegistration"]["taints"];
        assert_eq!(taints == &json!([]), topology == "all-in-one", "{topology}");
        snapshot(&format!("{topology}/kubeadm-config.yaml"), &text);
    }
}

#[test]
fn kubeadm_join_config_for_a_control_plane_and_a_worker() {
    let inv = inventory("ha-stacked");
    for host in ["cp2", "worker1"] {
        let mut vars = host_vars(&inv, "ha-stacked", host, &["kubeadm_join"]);
        for (k, v) in [
            ("kubeadm_join_endpoint", "192.168.56.10:6443"),
            ("kubeadm_join_token", "abcdef.0123456789abcdef"),
            (
                "kubeadm_join_ca_hash",
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
            (
                "kubeadm_join_certificate_key",
                "f8902e114ef118304e561c3ecd4d0b543adc226b7a07f675f56564185ffe0c07",
            ),
        ] {
            vars.vars.insert(k.into(), json!(v));
        }
        let text = std::fs::read_to_string(
            repo().join("roles/kubeadm_join/templates/kubeadm-join.yaml.j2"),
        )
        .unwrap();
        let out = Templar::new()
            .render_template_text(&text, "kubeadm-join.yaml.j2", &vars.into_dyn(), &Map::new())
            .unwrap();
        let doc = &yaml_docs(&out)[0];
        assert_eq!(doc["controlPlane"].is_object(), host == "cp2");
        snapshot(&format!("ha-stacked/kubeadm-join-{host}.yaml"), &out);
    }
}

#[test]
fn join_command_parsing_extracts_endpoint_token_and_hash() {
    // The same expressions as roles/kubeadm_join/tasks/main.yml, on kubeadm's output.
    let tasks = std::fs::read_to_string(repo().join("roles/kubeadm_join/tasks/main.yml")).unwrap();
    let all = common::yaml_str(&tasks).unwrap();
    let block = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!("Join this node"))
        .unwrap();
    let exprs = &block["block"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!("Write the kubeadm join configuration"))
        .unwrap()["vars"];
    let stdout = "kubeadm join 192.168.56.10:6443 --token abcdef.0123456789abcdef \
                  --discovery-token-ca-cert-hash sha256:00ff \n";
    let vars = MapVars::new(json!({
        "kubeadm_join_command": {"stdout": stdout},
        "kubeadm_certificate_key": {"stdout_lines": ["[upload-certs] Using certificate key:", "f890"]},
    }))
    .into_dyn();
    let t = Templar::new();
    let get = |k: &str| {
        t.render_str(exprs[k].as_str().unwrap(), &vars, None)
            .unwrap()
    };
    assert_eq!(get("kubeadm_join_endpoint"), json!("192.168.56.10:6443"));
    assert_eq!(get("kubeadm_join_token"), json!("abcdef.0123456789abcdef"));
    assert_eq!(get("kubeadm_join_ca_hash"), json!("sha256:00ff"));
    assert_eq!(get("kubeadm_join_certificate_key"), json!("f890"));
}

#[test]
fn haproxy_and_keepalived_per_load_balancer() {
    for topology in ["ha-stacked", "ha-external-etcd"] {
        let cfg = render(topology, "lb1", "haproxy_lb", "haproxy.cfg.j2", &[]);
        for addr in [
            "192.168.56.11:6443",
            "192.168.56.12:6443",
            "192.168.56.13:6443",
        ] {
            assert!(cfg.contains(addr), "{topology}: backend {addr} missing");
        }
        snapshot(&format!("{topology}/haproxy.cfg"), &cfg);
    }
    for lb in ["lb1", "lb2"] {
        let conf = render("ha-stacked", lb, "keepalived", "keepalived.conf.j2", &[]);
        snapshot(&format!("ha-stacked/keepalived-{lb}.conf"), &conf);
    }
    let lb1 = render("ha-stacked", "lb1", "keepalived", "keepalived.conf.j2", &[]);
    let lb2 = render("ha-stacked", "lb2", "keepalived", "keepalived.conf.j2", &[]);
    assert!(lb1.contains("state MASTER") && lb1.contains("priority 150"));
    assert!(lb2.contains("state BACKUP") && lb2.contains("priority 140"));
    assert!(lb1.contains("unicast_peer {\n        192.168.56.22\n    }"));
}

#[test]
fn container_runtime_configs() {
    let toml = render("ha-stacked", "worker1", "containerd", "config.toml.j2", &[]);
    assert!(toml.contains("SystemdCgroup = true"));
    assert!(toml.contains("sandbox_image = \"registry.k8s.io/pause:3.10.1\""));
    snapshot("containerd/config.toml", &toml);
    let crictl = render("ha-stacked", "worker1", "containerd", "crictl.yaml.j2", &[]);
    assert_eq!(
        yaml_docs(&crictl)[0]["runtime-endpoint"],
        json!("unix:///run/containerd/containerd.sock")
    );
    snapshot("containerd/crictl.yaml", &crictl);
    let crio = render(
        "ha-stacked",
        "worker1",
        "cri_o",
        "10-kubernetes.conf.j2",
        &[],
    );
    assert!(crio.contains("cgroup_manager = \"systemd\""));
    snapshot("cri_o/10-kubernetes.conf", &crio);
}

#[test]
fn external_etcd_unit_environment_and_certificates() {
    for host in ["etcd1", "etcd2"] {
        let env = render(
            "ha-external-etcd",
            host,
            "etcd_external",
            "etcd.env.j2",
            &[],
        );
        assert!(env.contains(
            "ETCD_INITIAL_CLUSTER=etcd1=https://192.168.56.41:2380,etcd2=https://192.168.56.42:2380,etcd3=https://192.168.56.43:2380\n"
        ));
        snapshot(&format!("ha-external-etcd/etcd-{host}.env"), &env);
    }
    let unit = render(
        "ha-external-etcd",
        "etcd1",
        "etcd_external",
        "etcd.service.j2",
        &[],
    );
    snapshot("ha-external-etcd/etcd.service", &unit);
    let cnf = render(
        "ha-external-etcd",
        "etcd1",
        "etcd_external",
        "openssl.cnf.j2",
        &[],
    );
    assert!(cnf.contains("[member_etcd3]"));
    snapshot("ha-external-etcd/openssl.cnf", &cnf);
}

#[test]
fn cni_manifests_carry_the_pod_cidr() {
    let check = |cni: &str, needle: &str| {
        // the single-control-plane inventory with another CNI and Pod CIDR
        let inv = inventory("single-control-plane");
        let mut vars = host_vars(&inv, "single-control-plane", "cp1", &["cni"]);
        vars.vars.insert("cni".into(), json!(cni));
        vars.vars.insert("pod_subnet".into(), json!("10.32.0.0/12"));
        let name = format!("{cni}.yaml.j2");
        let text = std::fs::read_to_string(repo().join("roles/cni/templates").join(&name)).unwrap();
        let out = Templar::new()
            .render_template_text(&text, &name, &vars.into_dyn(), &Map::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let docs = yaml_docs(&out);
        assert!(
            docs.iter()
                .all(|d| d["apiVersion"].is_string() && d["kind"].is_string()),
            "{cni}: every document needs apiVersion and kind"
        );
        assert!(out.contains(needle), "{cni}: {needle} missing");
        snapshot(&format!("cni/{cni}.yaml"), &out);
        docs
    };
    let calico = check(
        "calico",
        "- name: CALICO_IPV4POOL_CIDR\n              value: \"10.32.0.0/12\"",
    );
    assert!(calico.iter().any(|d| d["kind"] == json!("DaemonSet")));
    // the CRDs are upstream's crds.yaml, downloaded and applied before (calico_crds.yml)
    assert!(
        !calico
            .iter()
            .any(|d| d["kind"] == json!("CustomResourceDefinition"))
    );
    check("flannel", "\"Network\": \"10.32.0.0/12\"");
    check(
        "weave",
        "- name: IPALLOC_RANGE\n              value: \"10.32.0.0/12\"",
    );
}

/// The container `name` of the DaemonSet among `docs`.
fn daemonset_container<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .filter(|d| d["kind"] == json!("DaemonSet"))
        .flat_map(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .find(|c| c["name"] == json!(name))
        .unwrap_or_else(|| panic!("no DaemonSet container {name}"))
}

/// The `env` entry `name` of a container.
fn container_env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == json!(name))
        .unwrap_or_else(|| panic!("{} has no env {name}", container["name"]))
}

/// Defect 3 of #16: on a host with several interfaces the Pod network must use the node's
/// cluster address (`node_address`, kubelet's node-ip, the Node's InternalIP), not the
/// first address found (calico) or the default-route interface (flannel).
#[test]
fn cni_pod_network_follows_the_node_internal_ip() {
    let docs = |cni: &str| {
        let inv = inventory("single-control-plane");
        let mut vars = host_vars(&inv, "single-control-plane", "cp1", &["cni"]);
        vars.vars.insert("cni".into(), json!(cni));
        let name = format!("{cni}.yaml.j2");
        let text = std::fs::read_to_string(repo().join("roles/cni/templates").join(&name)).unwrap();
        let out = Templar::new()
            .render_template_text(&text, &name, &vars.into_dyn(), &Map::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        yaml_docs(&out)
    };
    let calico = docs("calico");
    let node = daemonset_container(&calico, "calico-node");
    assert_eq!(
        container_env(node, "IP_AUTODETECTION_METHOD")["value"],
        json!("kubernetes-internal-ip")
    );
    let flannel = docs("flannel");
    let flanneld = daemonset_container(&flannel, "kube-flannel");
    assert_eq!(
        container_env(flanneld, "NODE_INTERNAL_IP")["valueFrom"]["fieldRef"]["fieldPath"],
        json!("status.hostIP")
    );
    let args = flanneld["args"].as_array().expect("flanneld args");
    assert!(
        args.contains(&json!("--iface=$(NODE_INTERNAL_IP)")),
        "flanneld args: {args:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Preflight

use common::Project;
use windlass::event::{Event, Status};

/// Connection settings that make every host unreachable at once (ssh's ProxyCommand exits),
/// so nothing past the inventory checks can touch a machine even if a check let it through.
const NO_SSH: &str =
    "  vars:\n    ansible_ssh_common_args: -o ProxyCommand=false\n    ansible_user: nobody\n";

/// An inventory with `cps` control planes, `lbs` load balancers, `etcds` etcd members and
/// two workers on 127.0.0.x, plus `extra` group_vars/all.yml lines.
fn test_inventory(p: &Project, cps: usize, lbs: usize, etcds: usize, extra: &str) {
    let group = |prefix: &str, n: usize, base: usize| -> String {
        if n == 0 {
            return "      hosts: {}\n".into();
        }
        let mut s = String::from("      hosts:\n");
        for i in 1..=n {
            s.push_str(&format!(
                "        {prefix}{i}: {{ansible_host: 127.0.0.{}}}\n",
                base + i
            ));
        }
        s
    };
    p.file(
        "inv/hosts.yml",
        &format!(
            "all:\n{NO_SSH}  children:\n    kube_control_plane:\n{}    kube_node:\n{}    etcd:\n{}    loadbalancer:\n{}    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
            group("cp", cps, 10),
            group("worker", 2, 30),
            group("etcd", etcds, 40),
            group("lb", lbs, 20),
        ),
    );
    p.file(
        "inv/group_vars/all.yml",
        &format!("keepalived_vip: 127.0.0.100\n{extra}"),
    );
}

/// Run a repository playbook on the project's `inv/` inventory.
fn run_playbook(p: &Project, playbook: &str) -> (Vec<Event>, i32) {
    let pb = repo().join("playbooks").join(playbook);
    let (events, report) = p
        .run(pb.to_str().unwrap(), "inv", common::opts())
        .unwrap_or_else(|e| panic!("{playbook}: {e}"));
    (events, report.exit_code)
}

/// The `msg` of every failed host result.
fn failures(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                status,
                result,
                loop_summary: false,
                ..
            } if *status == Status::Failed => Some(
                result
                    .get("msg")
                    .map(|m| m.as_str().map(String::from).unwrap_or(m.to_string()))
                    .unwrap_or_default(),
            ),
            _ => None,
        })
        .collect()
}

/// Runs `playbook` on the inventory and checks it stops in the inventory checks, the first
/// failure's message containing every `needle`.
fn refused(p: &Project, playbook: &str, needles: &[&str]) {
    let (events, code) = run_playbook(p, playbook);
    assert_ne!(code, 0, "{playbook} should fail");
    let started = common::task_starts(&events);
    assert!(
        started
            .iter()
            .all(|t| t.starts_with("Check ") || t.starts_with("preflight : Check ")),
        "a task other than the checks ran: {started:?}"
    );
    assert!(
        !started.iter().any(|t| t == "Gathering Facts"),
        "facts were gathered: {started:?}"
    );
    let f = failures(&events);
    // one failed task (a looped check reports each failing item)
    assert!(!f.is_empty(), "no failure reported");
    for n in needles {
        assert!(f[0].contains(n), "message lacks {n:?}: {}", f[0]);
    }
}

#[test]
fn preflight_refuses_a_release_outside_the_matrix() {
    for version in ["1.34.9", "1.38.0", "1.30.4"] {
        let p = Project::new();
        test_inventory(&p, 1, 0, 0, &format!("kubernetes_version: \"{version}\"\n"));
        refused(
            &p,
            "single-control-plane.yml",
            &[
                &format!("kubernetes_version {version} is not a release these roles support"),
                "the supported minor releases are 1.35, 1.36, 1.37",
                "such as 1.37.1",
                "see kubernetes_release_matrix in roles/k8s_defaults/defaults/main.yml",
            ],
        );
        // located: the one failed task is preflight's release check, before any host is
        // contacted
        let (events, _) = run_playbook(&p, "single-control-plane.yml");
        let failed: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::HostResult {
                    task,
                    status: Status::Failed,
                    loop_summary: false,
                    ..
                } => Some(task.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            failed,
            ["preflight : Check the Kubernetes release is one upstream supports"],
            "{version}"
        );
    }
}

#[test]
fn preflight_refuses_a_calico_release_without_a_pinned_checksum() {
    let p = Project::new();
    test_inventory(&p, 1, 0, 0, "cni: calico\ncalico_version: \"3.28.1\"\n");
    refused(
        &p,
        "single-control-plane.yml",
        &[
            "calico_version 3.28.1 has no sha256 in calico_crds_checksums",
            "the releases with one are 3.32.1, 3.32.0, 3.31.7",
        ],
    );
}

#[test]
fn preflight_refuses_an_even_etcd_member_count() {
    let p = Project::new();
    test_inventory(&p, 3, 2, 2, "");
    refused(
        &p,
        "ha-external-etcd.yml",
        &[
            "The etcd group has 2 members",
            "need 2 up and tolerate 0 failure(s)",
            "Use 1 (no fault tolerance), 3 (tolerates 1)",
        ],
    );
}

#[test]
fn preflight_refuses_overlapping_pod_and_service_cidrs() {
    let p = Project::new();
    test_inventory(
        &p,
        3,
        2,
        0,
        "pod_subnet: 10.96.0.0/16\nservice_subnet: 10.96.0.0/12\n",
    );
    refused(
        &p,
        "ha-stacked.yml",
        &["pod_subnet 10.96.0.0/16 and service_subnet 10.96.0.0/12 overlap"],
    );
}

#[test]
fn preflight_refuses_a_node_address_inside_the_pod_cidr() {
    let p = Project::new();
    test_inventory(&p, 1, 0, 0, "pod_subnet: 127.0.0.0/16\n");
    refused(
        &p,
        "single-control-plane.yml",
        &["cp1's address 127.0.0.11 is inside 127.0.0.0/16"],
    );
}

#[test]
fn preflight_refuses_a_boolean_written_as_a_string() {
    let p = Project::new();
    test_inventory(&p, 1, 0, 0, "kube_untaint_control_plane: \"false\"\n");
    refused(
        &p,
        "single-control-plane.yml",
        &[
            "kube_untaint_control_plane is \"false\"",
            "not a boolean",
            "without quotes",
        ],
    );
}

#[test]
fn preflight_refuses_several_control_planes_without_a_load_balancer() {
    let p = Project::new();
    test_inventory(&p, 2, 0, 0, "");
    refused(
        &p,
        "ha-stacked.yml",
        &["2 control planes but no host in group loadbalancer"],
    );
}

#[test]
fn preflight_refuses_two_hosts_with_one_address() {
    let p = Project::new();
    test_inventory(&p, 1, 0, 0, "");
    let hosts = std::fs::read_to_string(p.path().join("inv/hosts.yml")).unwrap();
    p.file("inv/hosts.yml", &hosts.replace("127.0.0.32", "127.0.0.31"));
    refused(
        &p,
        "single-control-plane.yml",
        &["share an address", "127.0.0.31, 127.0.0.31"],
    );
}

/// Defect 4 of #16: a DNS name as a node's address would pass on to advertiseAddress,
/// node-ip, keepalived's unicast peers and the etcd certificates' IP SANs, which all need an
/// IP address. Preflight refuses it and says to set node_ip.
#[test]
fn preflight_refuses_a_dns_name_as_node_address() {
    for (topology, playbook, host, cps, lbs, etcds) in [
        ("single", "single-control-plane.yml", "cp1", 1, 0, 0),
        ("lb", "ha-stacked.yml", "lb2", 3, 2, 0),
        ("etcd", "ha-external-etcd.yml", "etcd3", 3, 2, 3),
        ("worker", "single-control-plane.yml", "worker2", 1, 0, 0),
    ] {
        let p = Project::new();
        test_inventory(&p, cps, lbs, etcds, "");
        let hosts = std::fs::read_to_string(p.path().join("inv/hosts.yml")).unwrap();
        let from = format!("{host}: {{ansible_host: 127.0.0.");
        let at = hosts
            .find(&from)
            .unwrap_or_else(|| panic!("{topology}: no {host}"));
        let end = at + hosts[at..].find('}').unwrap();
        let line = format!("{host}: {{ansible_host: {host}.example.test");
        p.file(
            "inv/hosts.yml",
            &format!("{}{line}{}", &hosts[..at], &hosts[end..]),
        );
        refused(
            &p,
            playbook,
            &[
                &format!(
                    "{host}'s cluster address {host}.example.test (its ansible_host) is not an IP address"
                ),
                "advertiseAddress, kubelet's node-ip, keepalived's unicast peers and the etcd certificates",
                &format!("set node_ip: <{host}'s IP address> on {host}"),
            ],
        );
    }
}

/// With node_ip set, a DNS name in ansible_host (only used for SSH) passes the checks.
#[test]
fn preflight_accepts_a_dns_name_in_ansible_host_with_node_ip() {
    let p = Project::new();
    test_inventory(&p, 3, 2, 3, "");
    let hosts = std::fs::read_to_string(p.path().join("inv/hosts.yml")).unwrap();
    p.file(
        "inv/hosts.yml",
        &hosts
            .replace(
                "cp2: {ansible_host: 127.0.0.12}",
                "cp2: {ansible_host: cp2.example.test, node_ip: 127.0.0.12}",
            )
            .replace(
                "lb1: {ansible_host: 127.0.0.21}",
                "lb1: {ansible_host: lb1.example.test, node_ip: 127.0.0.21}",
            ),
    );
    assert!(
        std::fs::read_to_string(p.path().join("inv/hosts.yml"))
            .unwrap()
            .contains("cp2.example.test")
    );
    p.file(
        "site.yml",
        &role_play(
            "    - meta: noop\n",
            &["k8s_defaults", "preflight"],
            "    - meta: noop\n",
        ),
    );
    let (events, report) = p.run("site.yml", "inv", common::opts()).unwrap();
    assert_eq!(failures(&events), Vec::<String>::new());
    assert_eq!(report.exit_code, 0);
    assert!(
        common::task_starts(&events)
            .iter()
            .any(|t| t == "preflight : Check every node address is an IP address"),
        "the address check did not run"
    );
}

/// A play running `roles` (by path) over every cluster host, with `pre_tasks`.
fn role_play(pre_tasks: &str, roles: &[&str], tasks: &str) -> String {
    let roles: Vec<String> = roles
        .iter()
        .map(|r| format!("    - {}\n", repo().join("roles").join(r).display()))
        .collect();
    format!(
        "- hosts: k8s_cluster:etcd:loadbalancer\n  gather_facts: false\n  any_errors_fatal: true\n  pre_tasks:\n{pre_tasks}  roles:\n{}  tasks:\n{tasks}",
        roles.concat()
    )
}

#[test]
fn preflight_inventory_checks_pass_every_sample_inventory() {
    for topology in TOPOLOGIES {
        let p = Project::new();
        p.file(
            "site.yml",
            &role_play(
                "    - meta: noop\n",
                &["k8s_defaults", "preflight"],
                "    - meta: noop\n",
            ),
        );
        let inv = repo().join("inventories").join(topology);
        let (events, report) = p
            .run("site.yml", inv.to_str().unwrap(), common::opts())
            .unwrap_or_else(|e| panic!("{topology}: {e}"));
        assert_eq!(failures(&events), Vec::<String>::new(), "{topology}");
        assert_eq!(report.exit_code, 0, "{topology}");
        let checks = common::task_starts(&events)
            .iter()
            .filter(|t| t.starts_with("preflight : Check") || t.starts_with("Check"))
            .count();
        assert!(checks >= 13, "{topology}: only {checks} checks ran");
    }
}

/// Runs preflight's host checks on the ha-stacked sample with `facts` set on every host.
fn host_checks(facts: &str, extra_vars: &[(&str, Value)]) -> Vec<String> {
    let p = Project::new();
    let pre = format!("    - set_fact:\n{facts}");
    let tasks = "    - import_role:\n        name: preflight\n        tasks_from: host\n";
    p.file("site.yml", &role_play(&pre, &["k8s_defaults"], tasks));
    let inv = repo().join("inventories/ha-stacked");
    let mut o = common::opts();
    for (k, v) in extra_vars {
        o.extra_vars.insert((*k).into(), v.clone());
    }
    let (events, _) = p.run("site.yml", inv.to_str().unwrap(), o).unwrap();
    failures(&events)
}

const GOOD_FACTS: &str = "        ansible_os_family: Debian\n        ansible_distribution: Debian\n        ansible_swaptotal_mb: 0\n        ansible_processor_vcpus: 2\n        ansible_memtotal_mb: 3900\n        ansible_hostname: \"{{ inventory_hostname }}\"\n        ansible_default_ipv4: {interface: eth1, address: 192.168.56.99, network: 192.168.56.0, netmask: 255.255.255.0}\n        ansible_all_ipv4_addresses: [10.0.2.15, \"{{ ansible_host }}\"]\n";

#[test]
fn preflight_host_checks_pass_good_hosts() {
    assert_eq!(host_checks(GOOD_FACTS, &[]), Vec::<String>::new());
}

#[test]
fn preflight_host_checks_say_what_to_fix() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "ansible_os_family: Debian",
            "ansible_os_family: RedHat",
            "these roles support Debian",
        ),
        (
            "ansible_memtotal_mb: 3900",
            "ansible_memtotal_mb: 1024",
            "at least 2 CPUs and 1700 MB",
        ),
        (
            "ansible_processor_vcpus: 2",
            "ansible_processor_vcpus: 1",
            "1 CPU(s)",
        ),
        (
            "network: 192.168.56.0",
            "network: 10.96.0.0",
            "overlaps 10.96.0.0/12",
        ),
        (
            // defect 4 of #16: kubelet refuses a node-ip no interface holds, keepalived and
            // etcd cannot bind it
            "ansible_all_ipv4_addresses: [10.0.2.15, \"{{ ansible_host }}\"]",
            "ansible_all_ipv4_addresses: [10.0.2.15, 192.168.57.9]",
            "is not an address of the host (it has 10.0.2.15, 192.168.57.9). Set node_ip: <one of them> on",
        ),
        (
            "ansible_hostname: \"{{ inventory_hostname }}\"",
            "ansible_hostname: debian",
            "Several hosts report the same host name",
        ),
    ];
    for (from, to, needle) in cases {
        let f = host_checks(&GOOD_FACTS.replace(from, to), &[]);
        assert!(!f.is_empty(), "{to}: no failure");
        assert!(f.iter().all(|m| m.contains(needle)), "{to}: {f:#?}");
    }
    let swap = GOOD_FACTS.replace("ansible_swaptotal_mb: 0", "ansible_swaptotal_mb: 1024");
    assert_eq!(
        host_checks(&swap, &[]),
        Vec::<String>::new(),
        "swap is turned off by default"
    );
    let f = host_checks(&swap, &[("disable_swap", json!(false))]);
    assert!(
        !f.is_empty() && f[0].contains("Set disable_swap: true"),
        "{f:#?}"
    );
}

#[test]
fn variables_page_lists_every_role_default() {
    let page = std::fs::read_to_string(repo().join("book/src/kubernetes/variables.md")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(repo().join("roles")).unwrap() {
        let role = entry.unwrap().file_name().to_string_lossy().into_owned();
        for key in role_defaults(&role).keys() {
            if !page.contains(&format!("| `{key}` |")) {
                missing.push(format!("{role}: {key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "book/src/kubernetes/variables.md lacks {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The kubeadm stand-in's rules (tests/k8s_standin/kubeadm, run here with python3 under a
// scratch root): the host tests rely on it refusing what kubeadm refuses, so each rule is
// shown to refuse here, and the roles' rendered configurations to pass it.

/// `tests/k8s_standin/kubeadm ARGS` claiming kubeadm `version`, every path under `root`:
/// (stdout and stderr, success).
fn standin(root: &Path, version: &str, args: &[&str]) -> (String, bool) {
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/k8s_standin/kubeadm"))
        .args(args)
        .env("WINDLASS_STANDIN_ROOT", root)
        .env("WINDLASS_STANDIN_KUBEADM_VERSION", version)
        .output()
        .expect("python3 runs the kubeadm stand-in");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// Write `text` to `root/name`; its path.
fn scratch(root: &Path, name: &str, text: &str) -> String {
    let p = root.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The stand-in's `kubeadm config validate` must pass; returns its output.
fn validates(root: &Path, version: &str, config: &str) -> String {
    let (out, ok) = standin(root, version, &["config", "validate", "--config", config]);
    assert!(ok, "kubeadm {version} config validate {config}: {out}");
    out
}

/// The stand-in must refuse `args` with a message containing `needle`.
fn refuses(root: &Path, version: &str, args: &[&str], needle: &str) {
    let (out, ok) = standin(root, version, args);
    assert!(!ok, "kubeadm {version} {args:?} passed: {out}");
    assert!(out.contains(needle), "kubeadm {version} {args:?}: {out}");
}

/// The version k8s_defaults installs.
fn default_kubernetes_version() -> String {
    role_defaults("k8s_defaults")["kubernetes_version"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn rendered_kubeadm_configs_pass_the_standins_config_validate() {
    let root = tempfile::tempdir().unwrap();
    let version = default_kubernetes_version();
    for (topology, host) in FIRST_CONTROL_PLANES {
        let text = render(
            topology,
            host,
            "kubeadm_init",
            "kubeadm-config.yaml.j2",
            &[],
        );
        let cfg = scratch(root.path(), &format!("{topology}.yaml"), &text);
        let out = validates(root.path(), &version, &cfg);
        assert!(!out.contains("unknown field"), "{topology}: {out}");
    }
    for host in ["cp2", "worker1"] {
        let snap = std::fs::read_to_string(repo().join(format!(
            "tests/snapshots/k8s_content__ha-stacked_kubeadm-join-{host}_yaml.snap"
        )))
        .unwrap();
        let body = snap.splitn(3, "---\n").nth(2).unwrap();
        let cfg = scratch(root.path(), &format!("join-{host}.yaml"), body);
        validates(root.path(), &version, &cfg);
    }
}

/// A minimal v1beta3 / v1beta4 InitConfiguration + ClusterConfiguration, with `extra`
/// appended to the ClusterConfiguration.
fn minimal_config(api: &str, extra: &str) -> String {
    format!(
        "apiVersion: kubeadm.k8s.io/{api}\nkind: InitConfiguration\nlocalAPIEndpoint:\n  \
         advertiseAddress: 10.0.0.1\n  bindPort: 6443\n---\napiVersion: kubeadm.k8s.io/{api}\n\
         kind: ClusterConfiguration\nkubernetesVersion: v1.35.0\n{extra}"
    )
}

#[test]
fn standin_accepts_the_kubeadm_api_versions_of_each_release() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let v3 = scratch(r, "v3.yaml", &minimal_config("v1beta3", ""));
    let v4 = scratch(r, "v4.yaml", &minimal_config("v1beta4", ""));
    let v2 = scratch(r, "v2.yaml", &minimal_config("v1beta2", ""));
    // v1beta3: current up to 1.30, deprecated 1.31-1.35, removed in 1.36
    assert!(!validates(r, "1.30.4", &v3).contains("deprecated"));
    assert!(validates(r, "1.35.0", &v3).contains("deprecated API spec"));
    let args = ["config", "validate", "--config", v3.as_str()];
    refuses(
        r,
        "1.36.0",
        &args,
        "uses an old API spec: \"kubeadm.k8s.io/v1beta3\"",
    );
    // v1beta4 from 1.31
    validates(r, "1.31.0", &v4);
    validates(r, "1.36.0", &v4);
    let args = ["config", "validate", "--config", v4.as_str()];
    refuses(
        r,
        "1.30.4",
        &args,
        "no kind \"InitConfiguration\" is registered",
    );
    let args = ["config", "validate", "--config", v2.as_str()];
    refuses(r, "1.33.0", &args, "Please use kubeadm v1.22 instead");
}

#[test]
fn standin_decodes_the_kinds_strictly() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // an unknown field: an error for config validate (strict), a warning for init
    let typo = scratch(
        r,
        "typo.yaml",
        &minimal_config("v1beta4", "networking:\n  podCIDR: 10.244.0.0/16\n"),
    );
    let args = ["config", "validate", "--config", typo.as_str()];
    refuses(r, "1.35.0", &args, "unknown field \"networking.podCIDR\"");
    // v1beta3's extraArgs map is a list of {name, value} in v1beta4
    let map = "apiServer:\n  extraArgs:\n    audit-log-path: /var/log/audit.log\n";
    let v4_map = scratch(r, "v4map.yaml", &minimal_config("v1beta4", map));
    let args = ["config", "validate", "--config", v4_map.as_str()];
    refuses(
        r,
        "1.35.0",
        &args,
        "cannot unmarshal object into Go struct field apiServer.extraArgs of type []v1beta4.Arg",
    );
    validates(
        r,
        "1.30.4",
        &scratch(r, "v3map.yaml", &minimal_config("v1beta3", map)),
    );
    let list =
        "apiServer:\n  extraArgs:\n    - name: audit-log-path\n      value: /var/log/audit.log\n";
    validates(
        r,
        "1.35.0",
        &scratch(r, "v4list.yaml", &minimal_config("v1beta4", list)),
    );
    // a number where kubeadm wants a string (YAML `true` for an extraArgs value)
    let bool_arg = "scheduler:\n  extraArgs:\n    leader-elect: true\n";
    let v3_bool = scratch(r, "v3bool.yaml", &minimal_config("v1beta3", bool_arg));
    let args = ["config", "validate", "--config", v3_bool.as_str()];
    refuses(
        r,
        "1.30.4",
        &args,
        "cannot unmarshal bool into Go struct field scheduler.extraArgs[leader-elect] of type string",
    );
    // flags belong to their subcommand
    refuses(
        r,
        "1.35.0",
        &["join", "--upload-certs"],
        "unknown flag: --upload-certs",
    );
    refuses(
        r,
        "1.35.0",
        &["init", "phase", "upload-certs", "--control-plane"],
        "unknown flag: --control-plane",
    );
}

#[test]
fn standin_preflight_and_the_certificates_it_uploads() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let cfg = scratch(
        r,
        "init.yaml",
        &render(
            "ha-external-etcd",
            "cp1",
            "kubeadm_init",
            "kubeadm-config.yaml.j2",
            &[],
        ),
    );
    let version = default_kubernetes_version();
    // preflight: ip_forward off, no container runtime socket, the API server port taken
    scratch(r, "proc/sys/net/ipv4/ip_forward", "0\n");
    let port = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let n = port.local_addr().unwrap().port();
    let busy = scratch(
        r,
        "busy.yaml",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("bindPort: 6443", &format!("bindPort: {n}")),
    );
    let (out, ok) = standin(r, &version, &["init", "--config", &busy]);
    assert!(!ok, "{out}");
    for needle in [
        "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1",
        "[ERROR CRI]: container runtime is not running",
        &format!("[ERROR Port-{n}]: Port {n} is in use"),
        "[ERROR ExternalEtcdClientCertificates]: /etc/kubernetes/pki/etcd/ca.crt doesn't exist",
    ] {
        assert!(out.contains(needle), "{needle}\n{out}");
    }
    assert!(!r.join("etc/kubernetes/admin.conf").exists());
    drop(port);
    // every check ignored: init goes through and uploads the certificates (the etcd
    // version check cannot reach the sample's etcd members and is ignored too)
    scratch(r, "etc/kubernetes/pki/etcd/ca.crt", "etcd ca\n");
    scratch(
        r,
        "etc/kubernetes/pki/apiserver-etcd-client.crt",
        "client crt\n",
    );
    scratch(
        r,
        "etc/kubernetes/pki/apiserver-etcd-client.key",
        "client key\n",
    );
    let (out, ok) = standin(
        r,
        &version,
        &[
            "init",
            "--config",
            &cfg,
            "--upload-certs",
            "--ignore-preflight-errors=all",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("[WARNING ExternalEtcdVersion]"), "{out}");
    let secret = || -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(r.join("var/lib/windlass-standin/cluster/kubeadm-certs.json"))
                .unwrap(),
        )
        .unwrap()
    };
    let external = [
        "external-etcd-ca.crt",
        "external-etcd.crt",
        "external-etcd.key",
    ];
    for name in external {
        assert_eq!(
            secret()["data"][name].as_str().map(str::len),
            Some(64),
            "{name}"
        );
    }
    // upload-certs without --config: kubeadm's defaults (local etcd), the external etcd
    // files are left out (kubernetes/kubeadm#1886) ...
    let (out, ok) = standin(
        r,
        &version,
        &["init", "phase", "upload-certs", "--upload-certs"],
    );
    assert!(
        ok && out.contains("[upload-certs] Using certificate key:"),
        "{out}"
    );
    for name in external {
        assert!(secret()["data"].get(name).is_none(), "{name}: {}", secret());
    }
    assert!(secret()["data"].get("etcd-ca.crt").is_some());
    // ... with the cluster's configuration they are in
    let (out, ok) = standin(
        r,
        &version,
        &[
            "init",
            "phase",
            "upload-certs",
            "--upload-certs",
            "--config",
            &cfg,
        ],
    );
    assert!(ok, "{out}");
    for name in external {
        assert_eq!(
            secret()["data"][name].as_str().map(str::len),
            Some(64),
            "{name}"
        );
    }
    // without --upload-certs the phase is skipped
    let (out, ok) = standin(r, &version, &["init", "phase", "upload-certs"]);
    assert!(ok && out.contains("Skipping phase"), "{out}");
}

// ---------------------------------------------------------------------------------------
// The supported-release matrix (k8s_defaults' kubernetes_release_matrix)

/// The matrix: minor -> its entry.
fn release_matrix() -> Map<String, Value> {
    role_defaults("k8s_defaults")["kubernetes_release_matrix"]
        .as_object()
        .unwrap()
        .clone()
}

/// `render` with the inventory's variables overridden by `overrides`.
fn render_with(
    topology: &str,
    host: &str,
    role: &str,
    name: &str,
    overrides: &[(&str, Value)],
) -> String {
    let inv = inventory(topology);
    let mut vars = host_vars(&inv, topology, host, &[role]);
    for (k, v) in overrides {
        vars.vars.insert((*k).into(), v.clone());
    }
    let path = repo().join("roles").join(role).join("templates").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    Templar::new()
        .render_template_text(&text, name, &vars.into_dyn(), &Map::new())
        .unwrap_or_else(|e| panic!("{topology}/{host}: {role}/{name}: {e}"))
}

#[test]
fn the_matrix_is_the_upstream_supported_minors_newest_first_and_default() {
    let matrix = release_matrix();
    let mut minors: Vec<&String> = matrix.keys().collect();
    minors.sort();
    assert_eq!(minors, ["1.35", "1.36", "1.37"]);
    let newest = &matrix["1.37"];
    assert_eq!(
        default_kubernetes_version(),
        newest["patch"].as_str().unwrap()
    );
    for (minor, r) in &matrix {
        let patch = r["patch"].as_str().unwrap();
        assert!(patch.starts_with(&format!("{minor}.")), "{minor}: {patch}");
        // kubeadm 1.36 removed v1beta3, v1beta4 exists from 1.31: v1beta4 everywhere
        assert_eq!(r["kubeadm_api"], json!("v1beta4"), "{minor}");
        // kubeadm's stacked etcd is never older than what it demands of external etcd
        let etcd = |v: &str| -> Vec<u32> {
            v.split(['.', '-'])
                .take(3)
                .map(|n| n.parse().unwrap())
                .collect()
        };
        assert!(
            etcd(r["etcd"].as_str().unwrap()) >= etcd(r["etcd_external_min"].as_str().unwrap()),
            "{minor}"
        );
        // containerd 2 from 1.36 (1.35 is the last minor with containerd 1.x support)
        let containerd = r["containerd_min"].as_str().unwrap();
        assert_eq!(
            containerd.starts_with("2."),
            minor.as_str() >= "1.36",
            "{minor}"
        );
    }
    // every sample inventory installs the default release
    for topology in TOPOLOGIES {
        let inv = inventory(topology);
        let host = inv.host_names().into_iter().next().unwrap();
        assert_eq!(
            inv.host_vars(&host)["kubernetes_version"],
            json!(default_kubernetes_version()),
            "{topology}"
        );
    }
}

#[test]
fn every_release_renders_configs_the_standin_of_that_release_validates() {
    let root = tempfile::tempdir().unwrap();
    for (minor, r) in release_matrix() {
        let patch = r["patch"].as_str().unwrap().to_string();
        let over = [("kubernetes_version", json!(patch))];
        for (topology, host) in [
            ("ha-stacked", "cp1"),
            ("ha-external-etcd", "cp1"),
            ("single-control-plane", "cp1"),
            ("all-in-one", "node1"),
        ] {
            let text = render_with(
                topology,
                host,
                "kubeadm_init",
                "kubeadm-config.yaml.j2",
                &over,
            );
            let docs = yaml_docs(&text);
            assert_eq!(docs[1]["kubernetesVersion"], json!(format!("v{patch}")));
            let cfg = scratch(root.path(), &format!("{minor}-{topology}.yaml"), &text);
            let out = validates(root.path(), &patch, &cfg);
            assert!(!out.contains("deprecated"), "{minor} {topology}: {out}");
            snapshot(
                &format!("release-{minor}/{topology}/kubeadm-config.yaml"),
                &text,
            );
        }
        // the join configurations of a control plane (stacked and external etcd) and of a
        // worker, as kubeadm_join renders them for this release
        for (topology, host) in [
            ("ha-stacked", "cp2"),
            ("ha-stacked", "worker1"),
            ("ha-external-etcd", "cp2"),
        ] {
            let text = render_join(topology, host, &over);
            let doc = &yaml_docs(&text)[0];
            assert_eq!(
                doc["apiVersion"],
                json!(format!(
                    "kubeadm.k8s.io/{}",
                    r["kubeadm_api"].as_str().unwrap()
                )),
                "{minor} {topology} {host}"
            );
            assert_eq!(doc["controlPlane"].is_object(), host == "cp2");
            let cfg = scratch(
                root.path(),
                &format!("{minor}-{topology}-{host}.yaml"),
                &text,
            );
            let out = validates(root.path(), &patch, &cfg);
            assert!(
                !out.contains("deprecated"),
                "{minor} {topology} {host}: {out}"
            );
            snapshot(
                &format!("release-{minor}/{topology}/kubeadm-join-{host}.yaml"),
                &text,
            );
        }
        let containerd = render_with("ha-stacked", "cp1", "containerd", "config.toml.j2", &over);
        let pause = format!(
            "sandbox_image = \"registry.k8s.io/pause:{}\"",
            r["pause"].as_str().unwrap()
        );
        assert!(containerd.contains(&pause), "{minor}: {containerd}");
    }
}

/// `roles/kubeadm_join/templates/kubeadm-join.yaml.j2` for `host` of `topology` with
/// `overrides`, and the join facts the role registers before rendering it (the values of
/// kubeadm_join_config_for_a_control_plane_and_a_worker).
fn render_join(topology: &str, host: &str, overrides: &[(&str, Value)]) -> String {
    let mut over: Vec<(&str, Value)> = vec![
        ("kubeadm_join_endpoint", json!("192.168.56.10:6443")),
        ("kubeadm_join_token", json!("abcdef.0123456789abcdef")),
        (
            "kubeadm_join_ca_hash",
            json!("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
        ),
        (
            "kubeadm_join_certificate_key",
            json!("f8902e114ef118304e561c3ecd4d0b543adc226b7a07f675f56564185ffe0c07"),
        ),
    ];
    over.extend(overrides.iter().cloned());
    render_with(
        topology,
        host,
        "kubeadm_join",
        "kubeadm-join.yaml.j2",
        &over,
    )
}

// ---------------------------------------------------------------------------------------
// Downloads, mirrors and proxy (issue #16): upstream artifacts with pinned checksums, a
// files_repo mirror, registry mirrors, HTTP(S) proxy drop-ins.

/// Render `text` for `host` of `topology` with `roles`' defaults and `extra` set (as task
/// variables or a loop item would be).
fn render_text(topology: &str, host: &str, roles: &[&str], text: &str, extra: Value) -> String {
    let inv = inventory(topology);
    let vars = host_vars(&inv, topology, host, roles).into_dyn();
    let extra = extra.as_object().cloned().unwrap_or_default();
    Templar::new()
        .render_template_text(text, "test", &vars, &extra)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A `sha256:<64 hex digits>` checksum.
fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn downloads_default_to_upstream_with_pinned_checksums() {
    let urls = render_text(
        "ha-external-etcd",
        "etcd1",
        &[],
        "{{ containerd_download_url }} {{ runc_download_url }} {{ etcd_download_url }}",
        json!({}),
    );
    assert_eq!(
        urls.split(' ').collect::<Vec<_>>(),
        [
            "https://github.com/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz",
            "https://github.com/opencontainers/runc/releases/download/v1.4.3/runc.amd64",
            "https://github.com/etcd-io/etcd/releases/download/v3.6.14/etcd-v3.6.14-linux-amd64.tar.gz",
        ]
    );
    // every listed version of every architecture has a sha256, the defaults resolve to one
    let defaults = role_defaults("k8s_defaults");
    for table in [
        "containerd_archive_checksums",
        "runc_checksums",
        "etcd_binary_checksums",
    ] {
        for (arch, versions) in defaults[table].as_object().unwrap() {
            for (v, sum) in versions.as_object().unwrap() {
                assert!(
                    is_sha256(sum.as_str().unwrap()),
                    "{table}.{arch}.{v}: {sum}"
                );
            }
        }
    }
    for arch in ["amd64", "arm64"] {
        let sums = render_text(
            "ha-external-etcd",
            "etcd1",
            &[],
            "{{ containerd_archive_checksum }} {{ runc_binary_checksum }} {{ etcd_binary_checksum }}",
            json!({"image_arch": arch}),
        );
        let sums: Vec<&str> = sums.split(' ').collect();
        assert!(sums.iter().all(|s| is_sha256(s)), "{arch}: {sums:?}");
        assert_eq!(sums[2], defaults["etcd_binary_checksums"][arch]["3.6.14"]);
    }
    // the default containerd and etcd satisfy every release of the matrix
    for (minor, rel) in defaults["kubernetes_release_matrix"].as_object().unwrap() {
        let ok = render_text(
            "ha-external-etcd",
            "etcd1",
            &[],
            "{{ containerd_version is version(r.containerd_min, '>=') and etcd_version is version(r.etcd_external_min, '>=') }}",
            json!({"r": rel}),
        );
        assert_eq!(ok, "True", "{minor}");
    }
}

#[test]
fn files_repo_mirrors_every_download() {
    let urls = render_text(
        "ha-stacked",
        "cp1",
        &[],
        "{{ containerd_download_url }} {{ runc_download_url }} {{ etcd_download_url }}",
        json!({"files_repo": "http://files.example.internal/k8s"}),
    );
    for url in urls.split(' ') {
        assert!(
            url.starts_with("http://files.example.internal/k8s/github.com/"),
            "{url}"
        );
    }
}

#[test]
fn registry_mirrors_and_proxy_dropins() {
    let mirror = json!({"item": {"prefix": "docker.io", "mirrors": [
        {"host": "https://mirror.example.internal", "capabilities": ["pull", "resolve"]},
        {"host": "http://10.0.0.5:5000", "skip_verify": true, "ca": "/etc/ssl/mirror.pem"}
    ]}});
    let hosts =
        std::fs::read_to_string(repo().join("roles/containerd/templates/hosts.toml.j2")).unwrap();
    let toml = render_text("ha-stacked", "worker1", &["containerd"], &hosts, mirror);
    assert!(toml.contains("server = \"https://docker.io\"\n"), "{toml}");
    snapshot("containerd/hosts.toml", &toml);
    for role in ["containerd", "kubeadm_install"] {
        let text = std::fs::read_to_string(
            repo()
                .join("roles")
                .join(role)
                .join("templates/http-proxy.conf.j2"),
        )
        .unwrap();
        let conf = render_text(
            "ha-stacked",
            "worker1",
            &[role],
            &text,
            json!({"http_proxy": "http://proxy.example.internal:3128",
                   "https_proxy": "http://proxy.example.internal:3128",
                   "no_proxy": "localhost,127.0.0.1,10.96.0.0/12,10.244.0.0/16,192.168.56.0/24"}),
        );
        assert!(
            conf.contains("Environment=\"NO_PROXY=localhost,127.0.0.1,10.96.0.0/12,"),
            "{conf}"
        );
        snapshot(&format!("{role}/http-proxy.conf"), &conf);
    }
}

/// Defect 8 of #16: with `kube_proxy_mode: ipvs` the nodes load (and persist) kube-proxy's
/// IPVS modules; with iptables only overlay and br_netfilter.
#[test]
fn ipvs_mode_loads_the_ipvs_modules() {
    for (mode, want) in [
        ("iptables", json!(["overlay", "br_netfilter"])),
        (
            "ipvs",
            json!([
                "overlay",
                "br_netfilter",
                "ip_vs",
                "ip_vs_rr",
                "ip_vs_wrr",
                "ip_vs_sh",
                "nf_conntrack"
            ]),
        ),
    ] {
        let p = Project::new();
        let defaults = repo().join("roles/ipv4_forwarding/defaults/main.yml");
        let tasks = format!(
            "    - include_vars: {}\n      run_once: true\n      delegate_to: localhost\n    \
             - assert:\n        that: kernel_modules == {want}\n        fail_msg: \"{{{{ kernel_modules }}}}\"\n      \
             run_once: true\n      delegate_to: localhost\n",
            defaults.display()
        );
        p.file(
            "site.yml",
            &role_play("    - meta: noop\n", &["k8s_defaults"], &tasks),
        );
        let inv = repo().join("inventories/single-control-plane");
        let mut o = common::opts();
        o.extra_vars.insert("kube_proxy_mode".into(), json!(mode));
        let (events, report) = p.run("site.yml", inv.to_str().unwrap(), o).unwrap();
        assert_eq!(failures(&events), Vec::<String>::new(), "{mode}");
        assert_eq!(report.exit_code, 0, "{mode}");
    }
}

// ---------------------------------------------------------------------------------------
// The Pod network's versions per release (issue #16, defect 7)

/// Every release of the matrix has its CNI versions; roles/cni's defaults follow the
/// release chosen (unless the inventory sets them), and the Calico of every release has a
/// pinned CRD checksum and renders a manifest of that release's images.
#[test]
fn cni_versions_follow_the_release() {
    let defaults = role_defaults("k8s_defaults");
    let cni = defaults["kubernetes_release_cni"].as_object().unwrap();
    let minors: Vec<&String> = cni.keys().collect();
    let matrix = release_matrix();
    assert_eq!(minors, matrix.keys().collect::<Vec<_>>());
    let sums = defaults["calico_crds_checksums"]["no_arch"]
        .as_object()
        .unwrap();
    for (v, sum) in sums {
        assert!(is_sha256(sum.as_str().unwrap()), "{v}: {sum}");
        // the manifest follows Calico 3.31 and 3.32 only
        assert!(v.starts_with("3.31.") || v.starts_with("3.32."), "{v}");
    }
    for (minor, r) in &matrix {
        let patch = r["patch"].as_str().unwrap();
        let got = render_text(
            "ha-stacked",
            "cp1",
            &["cni"],
            "{{ calico_version }} {{ flannel_version }} {{ flannel_cni_plugin_version }} {{ weave_version }} {{ calico_crds_download_url }}",
            json!({"kubernetes_version": patch}),
        );
        let e = &cni[minor];
        let calico = e["calico"].as_str().unwrap();
        assert_eq!(
            got,
            format!(
                "{calico} {} {} {} https://github.com/projectcalico/calico/raw/v{calico}/manifests/crds.yaml",
                e["flannel"].as_str().unwrap(),
                e["flannel_cni_plugin"].as_str().unwrap(),
                e["weave"].as_str().unwrap()
            ),
            "{minor}"
        );
        assert!(
            sums.contains_key(calico),
            "{minor}: calico {calico} has no checksum"
        );
        let text = render_with(
            "ha-stacked",
            "cp1",
            "cni",
            "calico.yaml.j2",
            &[("kubernetes_version", json!(patch))],
        );
        assert!(
            text.contains(&format!("image: quay.io/calico/node:v{calico}")),
            "{minor}"
        );
        snapshot(&format!("release-{minor}/cni/calico.yaml"), &text);
    }
    // an inventory's own version wins over the release's
    let got = render_text(
        "ha-stacked",
        "cp1",
        &["cni"],
        "{{ calico_version }}",
        json!({"calico_version": "3.31.4"}),
    );
    assert_eq!(got, "3.31.4");
    // files_repo serves the CRDs too
    let url = render_text(
        "ha-stacked",
        "cp1",
        &["cni"],
        "{{ calico_crds_download_url }}",
        json!({"files_repo": "http://files.example.internal/k8s"}),
    );
    assert!(
        url.starts_with("http://files.example.internal/k8s/github.com/projectcalico/"),
        "{url}"
    );
}

// ---------------------------------------------------------------------------------------
// The kubectl stand-in's rules K6-K9 (tests/k8s_standin/kubectl, run here with python3
// under a scratch root): strict where kubectl and the API server are for what the Pod
// network manifests use, so the host tests fail where a real cluster would.

/// `tests/k8s_standin/kubectl ARGS` under `root` with the API server up: (output, success).
fn kubectl_standin(root: &Path, args: &[&str]) -> (String, bool) {
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/k8s_standin/kubectl"))
        .args(args)
        .env("WINDLASS_STANDIN_ROOT", root)
        .env("WINDLASS_STANDIN_API_UP", "1")
        .output()
        .expect("python3 runs the kubectl stand-in");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// A CustomResourceDefinition of `group`/`kind` whose schema carries `pad` bytes of
/// description.
fn crd(group: &str, kind: &str, pad: usize) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\n\
         spec:\n  group: {group}\n  names:\n    kind: {kind}\n    plural: {plural}\n  scope: Cluster\n  versions:\n\
         \x20   - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n\
         \x20         type: object\n          description: \"{}\"\n",
        "x".repeat(pad)
    )
}

/// K6: client-side apply of an object larger than the annotation limit is refused (its
/// last-applied-configuration would be), server-side apply of it passes.
#[test]
fn kubectl_standin_refuses_client_side_apply_over_the_annotation_limit() {
    let root = tempfile::tempdir().unwrap();
    let big = scratch(root.path(), "big.yaml", &crd("example.org", "Big", 270_000));
    let (out, ok) = kubectl_standin(root.path(), &["apply", "-f", &big]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("metadata.annotations: Too long: must have at most 262144 bytes"),
        "{out}"
    );
    let (out, ok) = kubectl_standin(root.path(), &["apply", "--server-side", "-f", &big]);
    assert!(ok, "{out}");
    assert!(out.contains("serverside-applied"), "{out}");
    // a small one passes client-side
    let small = scratch(root.path(), "small.yaml", &crd("example.org", "Small", 10));
    assert!(kubectl_standin(root.path(), &["apply", "-f", &small]).1);
}

/// K7: a custom resource needs its CRD applied before, not in the same apply.
#[test]
fn kubectl_standin_refuses_a_custom_resource_before_its_crd() {
    let root = tempfile::tempdir().unwrap();
    let pool = "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata:\n  name: default\nspec:\n  cidr: 10.244.0.0/16\n";
    let both = scratch(
        root.path(),
        "both.yaml",
        &format!("{}---\n{pool}", crd("crd.projectcalico.org", "IPPool", 0)),
    );
    let (out, ok) = kubectl_standin(root.path(), &["apply", "-f", &both]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("no matches for kind \"IPPool\" in version \"crd.projectcalico.org/v1\""),
        "{out}"
    );
    let crds = scratch(
        root.path(),
        "crds.yaml",
        &crd("crd.projectcalico.org", "IPPool", 0),
    );
    assert!(kubectl_standin(root.path(), &["apply", "--server-side", "-f", &crds]).1);
    let (out, ok) = kubectl_standin(
        root.path(),
        &["wait", "--for=condition=Established", "-f", &crds],
    );
    assert!(ok && out.contains("condition met"), "{out}");
    let pool = scratch(root.path(), "pool.yaml", pool);
    assert!(kubectl_standin(root.path(), &["apply", "-f", &pool]).1);
}

/// K8: an unknown top-level field of a kind the manifests use is refused.
#[test]
fn kubectl_standin_refuses_unknown_fields() {
    let root = tempfile::tempdir().unwrap();
    let cm = scratch(
        root.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kube-system\ndata:\n  a: b\nspec:\n  a: b\n",
    );
    let (out, ok) = kubectl_standin(root.path(), &["apply", "-f", &cm]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("strict decoding error: unknown field \"spec\""),
        "{out}"
    );
}

/// K9, and the roles' own manifests pass K6-K8: CRDs apply server-side as the cni role
/// applies Calico's, diff says whether anything would change, and each add-on's rendered
/// manifest applies client-side after them.
#[test]
fn kubectl_standin_applies_the_roles_manifests() {
    let root = tempfile::tempdir().unwrap();
    for cni in ["calico", "flannel", "weave"] {
        let text = render_with(
            "ha-stacked",
            "cp1",
            "cni",
            &format!("{cni}.yaml.j2"),
            &[("cni", json!(cni))],
        );
        let path = scratch(root.path(), &format!("{cni}.yaml"), &text);
        if cni == "calico" {
            // (calico-node creates its IPPool itself: the manifest holds no custom resource)
            let crds = scratch(
                root.path(),
                "calico-crds.yaml",
                &["BGPConfiguration", "FelixConfiguration", "IPPool"]
                    .iter()
                    .map(|k| crd("crd.projectcalico.org", k, 0))
                    .collect::<Vec<_>>()
                    .join("---\n"),
            );
            let diff = |r: &Path| {
                kubectl_standin(
                    r,
                    &["diff", "--server-side", "--force-conflicts", "-f", &crds],
                )
            };
            let (out, ok) = diff(root.path());
            assert!(!ok && !out.is_empty(), "diff before the apply: {out}");
            assert!(
                kubectl_standin(
                    root.path(),
                    &["apply", "--server-side", "--force-conflicts", "-f", &crds]
                )
                .1
            );
            let (out, ok) = diff(root.path());
            assert!(ok && out.is_empty(), "diff after the apply: {out}");
        }
        let (out, ok) = kubectl_standin(root.path(), &["apply", "-f", &path]);
        assert!(ok, "{cni}: {out}");
    }
}

/// The argv of the command task `name` of `roles/cni/tasks/calico_crds.yml`, rendered with
/// `calico_crds_path` = `crds`.
fn calico_crds_task_argv(name: &str, crds: &str) -> Vec<String> {
    let tasks = common::yaml_file(&repo().join("roles/cni/tasks/calico_crds.yml")).unwrap();
    let task = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == json!(name))
        .unwrap_or_else(|| panic!("calico_crds.yml has no task {name:?}"));
    task["ansible.builtin.command"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1) // kubectl itself
        .map(|a| {
            render_text(
                "ha-stacked",
                "cp1",
                &["cni"],
                a.as_str().unwrap(),
                json!({"calico_crds_path": crds}),
            )
        })
        .collect()
}

/// The cni role's own kubectl commands for Calico's CRDs, run in its order against the
/// stand-in with CRDs over the annotation limit: compare (differences), apply (accepted:
/// server-side, K6), wait (Established, K9), compare again (nothing to apply). A role that
/// applied the CRDs client-side, as the role did before, fails here.
#[test]
fn the_roles_crd_commands_pass_the_kubectl_standin() {
    let root = tempfile::tempdir().unwrap();
    let crds = scratch(
        root.path(),
        "crds.yaml",
        &format!(
            "{}---\n{}",
            crd("crd.projectcalico.org", "FelixConfiguration", 270_000),
            crd("crd.projectcalico.org", "IPPool", 0)
        ),
    );
    let run = |task: &str| {
        let argv = calico_crds_task_argv(task, &crds);
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        kubectl_standin(root.path(), &args)
    };
    let (out, ok) = run("Compare Calico's CRDs with the cluster's");
    assert!(!ok && !out.is_empty(), "compare before: {out}");
    let (out, ok) = run("Apply Calico's CRDs (server-side)");
    assert!(ok, "apply: {out}");
    let (out, ok) = run("Wait until Calico's CRDs are established");
    assert!(ok, "wait: {out}");
    let (out, ok) = run("Compare Calico's CRDs with the cluster's");
    assert!(ok && out.is_empty(), "compare after: {out}");
    // what a client-side apply of the same file gets
    let (out, ok) = kubectl_standin(root.path(), &["apply", "-f", &crds]);
    assert!(!ok && out.contains("Too long"), "{out}");
}

// K8SE ---------------------------------------------------------------------------------
// containerd_min (#16): preflight's host checks refuse a containerd older than the
// release's minimum before any role runs, unless containerd_allow_unsupported_version,
// which turns the refusal into a WARNING message. (The distro and docker sources ask apt on
// the host: tests/k8s_hosts.rs checks those on real Debian hosts.)

/// preflight's host checks on the ha-stacked sample with `extra_vars`: (failures, the
/// messages of the debug tasks).
fn containerd_checks(extra_vars: &[(&str, Value)]) -> (Vec<String>, Vec<String>) {
    let p = Project::new();
    let pre = format!("    - set_fact:\n{GOOD_FACTS}");
    let tasks = "    - import_role:\n        name: preflight\n        tasks_from: host\n";
    p.file("site.yml", &role_play(&pre, &["k8s_defaults"], tasks));
    let inv = repo().join("inventories/ha-stacked");
    let mut o = common::opts();
    for (k, v) in extra_vars {
        o.extra_vars.insert((*k).into(), v.clone());
    }
    let (events, _) = p.run("site.yml", inv.to_str().unwrap(), o).unwrap();
    let warnings = events
        .iter()
        .filter_map(|e| match e {
            Event::HostResult {
                task,
                status: Status::Ok,
                result,
                ..
            } if task.contains("Warn that containerd") => {
                result.get("msg").and_then(Value::as_str).map(String::from)
            }
            _ => None,
        })
        .collect();
    (failures(&events), warnings)
}

#[test]
fn preflight_refuses_a_containerd_older_than_the_release_supports() {
    let old = [
        ("containerd_version", json!("1.7.30")),
        ("kubernetes_version", json!("1.37.1")),
    ];
    let (f, w) = containerd_checks(&old);
    assert!(w.is_empty(), "{w:#?}");
    // one refusal per node of the sample (3 control planes, 2 workers), none for the
    // load balancers, which run no containerd
    assert_eq!(f.len(), 5, "{f:#?}");
    for needle in [
        "Kubernetes 1.37 needs containerd 2.0.0 or newer",
        "would run containerd 1.7.30 (containerd_version with containerd_source upstream)",
        "Set containerd_version to a release of at least 2.0.0",
        "set containerd_allow_unsupported_version: true",
    ] {
        assert!(f.iter().all(|m| m.contains(needle)), "{needle}: {f:#?}");
    }
    // 1.35 still supports containerd 1.7
    let (f, w) = containerd_checks(&[old[0].clone(), ("kubernetes_version", json!("1.35.9"))]);
    assert_eq!((f, w), (Vec::<String>::new(), Vec::<String>::new()));
    // the default containerd meets every release: no warning either
    assert_eq!(containerd_checks(&[]), (vec![], vec![]));
}

#[test]
fn the_containerd_override_warns_instead_of_refusing() {
    let (f, w) = containerd_checks(&[
        ("containerd_version", json!("1.7.30")),
        ("kubernetes_version", json!("1.36.4")),
        ("containerd_allow_unsupported_version", json!(true)),
    ]);
    assert_eq!(f, Vec::<String>::new());
    assert_eq!(w.len(), 5, "{w:#?}");
    assert!(
        w.iter().all(|m| m.starts_with(
            "WARNING: containerd 1.7.30 (containerd_version with containerd_source upstream) is older than 2.0.0, \
             the oldest containerd Kubernetes 1.36 supports; continuing because containerd_allow_unsupported_version is true."
        )),
        "{w:#?}"
    );
}

// etcd backup and restore (#19): what the snapshot commands are given per topology.
#[test]
fn etcd_backup_targets_each_topologys_etcd() {
    let fields = "{{ etcd_backup_members | join(',') }}|{{ etcd_backup_pki_dir }}|{{ etcd_backup_data_dir }}|\
                  {{ etcd_backup_member_name }}|{{ etcd_backup_peer_url }}|{{ etcd_backup_initial_cluster_token }}|\
                  {{ etcd_backup_initial_cluster }}|{{ etcd_backup_endpoint }}|{{ etcd_backup_dir }}";
    let external = render_text(
        "ha-external-etcd",
        "etcd2",
        &["etcd_backup"],
        fields,
        json!({}),
    );
    let inv = repo().join("inventories/ha-external-etcd");
    assert_eq!(
        external.split('|').collect::<Vec<_>>(),
        [
            "etcd1,etcd2,etcd3",
            "/etc/etcd/pki",
            "/var/lib/etcd/k8s",
            "etcd2",
            "https://192.168.56.42:2380",
            "ha-external-etcd-etcd",
            "etcd1=https://192.168.56.41:2380,etcd2=https://192.168.56.42:2380,etcd3=https://192.168.56.43:2380",
            "https://127.0.0.1:2379",
            &format!("{}/artifacts/etcd-backups", inv.display()),
        ]
    );
    // (etcd_external's token, the one its members were started with)
    let token = render_text(
        "ha-external-etcd",
        "etcd2",
        &["etcd_external"],
        "{{ etcd_initial_cluster_token }}",
        json!({}),
    );
    assert_eq!(token, "ha-external-etcd-etcd");
    // stacked: kubeadm's etcd on the control planes, named after the nodes, etcd's default token
    let stacked = render_text("ha-stacked", "cp2", &["etcd_backup"], fields, json!({}));
    let inv = repo().join("inventories/ha-stacked");
    assert_eq!(
        stacked.split('|').collect::<Vec<_>>(),
        [
            "cp1,cp2,cp3",
            "/etc/kubernetes/pki/etcd",
            "/var/lib/etcd",
            "cp2",
            "https://192.168.56.12:2380",
            "etcd-cluster",
            "cp1=https://192.168.56.11:2380,cp2=https://192.168.56.12:2380,cp3=https://192.168.56.13:2380",
            "https://127.0.0.1:2379",
            &format!("{}/artifacts/etcd-backups", inv.display()),
        ]
    );
}

// --------------------------------------------------------------------------------------- UPG
// The stand-ins' upgrade rules (kubeadm R10-R12, kubectl K10-K12), each shown to refuse
// what kubeadm/kubectl refuse: playbooks/upgrade.yml's host test relies on them.

/// A scratch cluster as the kubeadm stand-in leaves it on the first control plane: the
/// kubeadm-config ConfigMap at `cluster_version`, admin.conf, and the Nodes with the
/// versions their kubelets reported.
fn upg_cluster(root: &Path, cluster_version: &str, nodes: &[(&str, &str)]) {
    scratch(
        root,
        "var/lib/windlass-standin/cluster/kubeadm-config.json",
        &json!({"kubernetesVersion": cluster_version, "clusterName": "kubernetes"}).to_string(),
    );
    scratch(root, "etc/kubernetes/admin.conf", "stand-in\n");
    for (name, v) in nodes {
        scratch(
            root,
            &format!("var/lib/windlass-standin/cluster/nodes/{name}"),
            &format!("{v}\n"),
        );
    }
}

/// The cluster version the stand-in's kubeadm-config ConfigMap holds.
fn upg_cluster_version(root: &Path) -> String {
    let p = root.join("var/lib/windlass-standin/cluster/kubeadm-config.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["kubernetesVersion"].as_str().unwrap().to_string()
}

// UPG
/// R10, R11: one minor at a time, never beyond kubeadm's own minor, no downgrade of more
/// than one minor, kubelets at most one minor behind unless --force, --yes or no change.
#[test]
fn standin_upgrade_apply_enforces_kubeadms_version_policy() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    upg_cluster(r, "v1.35.9", &[("cp1", "v1.35.9"), ("w1", "v1.35.9")]);
    let (out, ok) = standin(r, "1.37.1", &["upgrade", "apply", "v1.37.1", "--yes"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("Specified version to upgrade to \"v1.37.1\" is too high; kubeadm can upgrade only 1 minor version at a time"),
        "{out}"
    );
    let (out, ok) = standin(r, "1.35.9", &["upgrade", "apply", "v1.36.4", "--yes"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "is at least one minor release higher than the kubeadm minor release (36 > 35)"
        ),
        "{out}"
    );
    let (out, ok) = standin(r, "1.36.2", &["upgrade", "apply", "v1.36.4", "--yes"]);
    assert!(
        !ok && out.contains("Can be bypassed if you pass the --force flag"),
        "{out}"
    );
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "apply", "v1.36.4", "--bogus"]);
    assert!(!ok && out.contains("unknown flag: --bogus"), "{out}");
    // no --yes: kubeadm asks, nobody answers (stdin closed)
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "apply", "v1.36.4"]);
    assert!(!ok && out.contains("won't proceed"), "{out}");
    assert_eq!(upg_cluster_version(r), "v1.35.9");
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "plan"]);
    assert!(ok && out.contains("kubeadm upgrade apply v1.36.4"), "{out}");
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "apply", "v1.36.4", "-y"]);
    assert!(ok, "{out}");
    assert_eq!(upg_cluster_version(r), "v1.36.4");
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "plan"]);
    assert!(ok && out.contains("you're up-to-date"), "{out}");
    // the kubelets are still 1.35: 1.37 would leave them two minors behind
    let (out, ok) = standin(r, "1.37.1", &["upgrade", "apply", "v1.37.1", "--yes"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(
            "There are kubelets in this cluster that are too old that have these versions [v1.35.9]"
        ),
        "{out}"
    );
    // a downgrade of two minors
    let (out, ok) = standin(r, "1.37.1", &["upgrade", "apply", "v1.34.0", "--yes"]);
    assert!(
        !ok && out.contains("is too low; kubeadm can downgrade only 1 minor version"),
        "{out}"
    );
    assert_eq!(upg_cluster_version(r), "v1.36.4");
    // no admin.conf: no client (a worker)
    std::fs::remove_file(r.join("etc/kubernetes/admin.conf")).unwrap();
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "apply", "v1.36.4", "--yes"]);
    assert!(!ok && out.contains("/etc/kubernetes/admin.conf"), "{out}");
}

// UPG
/// R12: upgrade node needs a joined node; a control plane (static Pod manifests) upgrades
/// its control plane to the cluster's version, a worker only its kubelet configuration.
#[test]
fn standin_upgrade_node_follows_the_clusters_version() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    upg_cluster(r, "v1.36.4", &[]);
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "node"]);
    assert!(!ok && out.contains("/etc/kubernetes/kubelet.conf"), "{out}");
    scratch(r, "etc/kubernetes/kubelet.conf", "stand-in\n");
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "node"]);
    assert!(ok && out.contains("Not a control plane node"), "{out}");
    assert!(
        !r.join("var/lib/windlass-standin/control-plane-version")
            .exists()
    );
    scratch(r, "etc/kubernetes/manifests/kube-apiserver.yaml", "x\n");
    let (out, ok) = standin(
        r,
        "1.36.4",
        &["upgrade", "node", "--certificate-renewal=true"],
    );
    assert!(
        ok && out.contains("control plane instance to version \"v1.36.4\""),
        "{out}"
    );
    let cp =
        std::fs::read_to_string(r.join("var/lib/windlass-standin/control-plane-version")).unwrap();
    assert_eq!(cp.trim(), "v1.36.4");
    let (out, ok) = standin(r, "1.36.4", &["upgrade", "node", "v1.36.4"]);
    assert!(!ok && out.contains("is not implemented"), "{out}");
}

// UPG
/// K10-K12: node versions as the kubelets reported them, drain refusing DaemonSet Pods
/// without --ignore-daemonsets (the node stays cordoned), cordon/uncordon.
#[test]
fn kubectl_standin_drains_cordons_and_reports_node_versions() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    upg_cluster(r, "v1.36.4", &[("cp1", "v1.36.4"), ("w1", "v1.35.9")]);
    let (out, ok) = kubectl_standin(r, &["get", "nodes"]);
    assert!(ok, "{out}");
    let w1 = out.lines().find(|l| l.starts_with("w1 ")).unwrap();
    assert!(w1.contains("NotReady") && w1.ends_with("v1.35.9"), "{out}");
    let (out, ok) = kubectl_standin(
        r,
        &[
            "get",
            "node",
            "w1",
            "-o",
            "jsonpath={.status.nodeInfo.kubeletVersion}",
        ],
    );
    assert!(ok && out == "v1.35.9", "{out}");
    let (out, ok) = kubectl_standin(r, &["get", "node", "w9"]);
    assert!(!ok && out.contains("nodes \"w9\" not found"), "{out}");
    // a Pod network: a DaemonSet on every node
    let ds = scratch(
        r,
        "ds.yaml",
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: net\n  namespace: kube-system\nspec: {}\n",
    );
    assert!(kubectl_standin(r, &["apply", "-f", &ds]).1);
    let (out, ok) = kubectl_standin(r, &["drain", "w1", "--delete-emptydir-data"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"),
        "{out}"
    );
    let (out, _) = kubectl_standin(r, &["get", "nodes", "w1"]);
    assert!(out.contains("Ready,SchedulingDisabled"), "{out}");
    let (out, ok) = kubectl_standin(
        r,
        &[
            "drain",
            "w1",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=300s",
        ],
    );
    assert!(ok && out.contains("node/w1 drained"), "{out}");
    let (out, ok) = kubectl_standin(r, &["uncordon", "w1"]);
    assert!(ok && out.contains("node/w1 uncordoned"), "{out}");
    let (out, ok) = kubectl_standin(r, &["uncordon", "w1"]);
    assert!(ok && out.contains("node/w1 already uncordoned"), "{out}");
    let (out, ok) = kubectl_standin(r, &["cordon", "w1"]);
    assert!(ok && out.contains("node/w1 cordoned"), "{out}");
    let (out, _) = kubectl_standin(
        r,
        &["get", "node", "w1", "-o", "jsonpath={.spec.unschedulable}"],
    );
    assert_eq!(out, "true");
    let (out, ok) = kubectl_standin(r, &["cordon", "w9"]);
    assert!(!ok && out.contains("not found"), "{out}");
}

// UPG
/// R13, R14: check-expiration reads the expiry from the files (openssl), reports what is
/// missing and, with external etcd, no etcd certificate; renew re-signs with the CA for a
/// year, keeping the subject alternative names.
#[test]
fn standin_certs_check_expiration_and_renew() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    upg_cluster(r, "v1.36.4", &[]);
    let cfg = json!({"kubernetesVersion": "v1.36.4", "etcd": {"external": {"endpoints": []}}});
    scratch(
        r,
        "var/lib/windlass-standin/cluster/kubeadm-config.json",
        &cfg.to_string(),
    );
    let pki = r.join("etc/kubernetes/pki");
    std::fs::create_dir_all(&pki).unwrap();
    let sh = |cmd: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&pki)
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd}: {out:?}");
    };
    sh(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=ca -keyout ca.key -out ca.crt 2>/dev/null",
    );
    sh(
        "openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -addext subjectAltName=DNS:kubernetes,IP:10.96.0.1 \
        -keyout apiserver.key -out apiserver.csr 2>/dev/null && openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key \
        -days 5 -copy_extensions copyall -out apiserver.crt 2>/dev/null",
    );
    let info = |r: &Path| -> Value {
        let (out, ok) = standin(r, "1.36.4", &["certs", "check-expiration", "-o", "json"]);
        assert!(ok, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    let day_ns = 86_400_000_000_000_i64;
    let v = info(r);
    assert_eq!(v["kind"], "CertificateExpirationInfo");
    let certs = v["certificates"].as_array().unwrap();
    let names: Vec<&str> = certs.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "apiserver",
            "apiserver-kubelet-client",
            "front-proxy-client"
        ],
        "external etcd: no etcd certificates"
    );
    let residual = certs[0]["residualTime"].as_i64().unwrap();
    assert!((4 * day_ns..5 * day_ns).contains(&residual), "{v}");
    assert_eq!(certs[1]["missing"], true);
    let (out, ok) = standin(r, "1.36.4", &["certs", "check-expiration"]);
    assert!(ok && out.contains("!MISSING! front-proxy-client"), "{out}");
    let (out, ok) = standin(r, "1.36.4", &["certs", "renew", "all"]);
    assert!(
        ok && out.contains("certificate for apiserver renewed"),
        "{out}"
    );
    let residual = info(r)["certificates"][0]["residualTime"].as_i64().unwrap();
    assert!(residual > 364 * day_ns, "{residual}");
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(pki.join("apiserver.crt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("DNS:kubernetes, IP Address:10.96.0.1"),
        "{text}"
    );
    // an external CA (no key): not renewed
    std::fs::remove_file(pki.join("ca.key")).unwrap();
    let (out, ok) = standin(r, "1.36.4", &["certs", "renew", "apiserver"]);
    assert!(
        ok && out.contains("apiserver is managed externally"),
        "{out}"
    );
    let (out, ok) = standin(r, "1.36.4", &["certs", "renew", "all", "--bogus"]);
    assert!(!ok && out.contains("unknown flag: --bogus"), "{out}");
}

// UPG
/// K14: get --raw asks the API server (the scratch root stands for one that is up, or not).
#[test]
fn kubectl_standin_get_raw_readyz() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    scratch(
        r,
        "etc/kubernetes/admin.conf",
        "    server: https://10.0.0.1:6443\n",
    );
    let (out, ok) = kubectl_standin(r, &["get", "--raw=/readyz"]);
    assert!(ok && out.trim() == "ok", "{out}");
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/k8s_standin/kubectl"))
        .args(["get", "--raw", "/readyz"])
        .env("WINDLASS_STANDIN_ROOT", r)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("connection to the server"));
}

// DAY2 ----------------------------------------------------------------------------------
// playbooks/remove-node.yml's refusals (before any host is touched) and the stand-in rules
// the removal relies on (kubectl K15-K17; kubeadm R15 needs real etcd: tests/k8s_hosts.rs).

/// DAY2: remove-node.yml on the ha-stacked sample (3 control planes, stacked etcd, 2
/// workers) with `extra` and `limit`: its failure messages. Every refusal must come from the
/// check play, run on the controller: no host of the sample (unreachable addresses) is
/// contacted, nothing changes.
fn day2_remove_refused(extra: &[(&str, Value)], limit: Option<&str>) -> Vec<String> {
    let p = Project::new();
    let pb = repo().join("playbooks/remove-node.yml");
    let inv = repo().join("inventories/ha-stacked");
    let mut o = common::opts();
    o.limit = limit.map(String::from);
    for (k, v) in extra {
        o.extra_vars.insert((*k).into(), v.clone());
    }
    let (events, report) = p
        .run(pb.to_str().unwrap(), inv.to_str().unwrap(), o)
        .unwrap();
    assert_ne!(report.exit_code, 0, "not refused: {extra:?} {limit:?}");
    let started = common::task_starts(&events);
    assert!(
        started
            .iter()
            .all(|t| !t.contains("List the cluster's nodes")),
        "a removal task ran: {started:?}"
    );
    for e in &events {
        if let Event::HostResult { status, task, .. } = e {
            assert!(
                !matches!(status, Status::Changed | Status::Unreachable),
                "{task}: {status:?}"
            );
        }
    }
    let f = failures(&events);
    assert_eq!(f.len(), 1, "{f:#?}");
    f
}

// DAY2
#[test]
fn remove_node_refuses_before_touching_a_host() {
    let f = day2_remove_refused(&[], None);
    assert!(
        f[0].starts_with("playbooks/remove-node.yml: no node to remove")
            && f[0].contains("-e node=NAME")
            && f[0].contains("-l NAME"),
        "{f:?}"
    );
    let f = day2_remove_refused(&[("node", json!("worker9"))], None);
    assert!(
        f[0].contains("worker9 is not a node of this inventory")
            && f[0].contains("cp1, cp2, cp3, worker1, worker2"),
        "{f:?}"
    );
    let f = day2_remove_refused(&[("node", json!("cp1"))], None);
    assert!(
        f[0].contains("cp1 is the first control plane of the inventory"),
        "{f:?}"
    );
    let f = day2_remove_refused(&[("node", json!("cp1,cp2,cp3"))], None);
    assert!(
        f[0].contains("would remove the last control plane"),
        "{f:?}"
    );
    // 3 -> 2 stacked members: refused with the quorum explained, also through -l
    for (extra, limit) in [(vec![("node", json!("cp3"))], None), (vec![], Some("cp3"))] {
        let f = day2_remove_refused(&extra, limit);
        for needle in [
            "removing cp3 leaves 2 control planes, so 2 stacked etcd members",
            "quorum, N/2+1 = 2 of 2",
            "2 members tolerate 0 failed member(s), no more than 1 would",
            "Stacked etcd grows and shrinks by two (3, 5, 7)",
            "-e allow_even_etcd=true",
        ] {
            assert!(f[0].contains(needle), "{needle}: {f:?}");
        }
    }
}

// DAY2
/// K15-K17: delete node removes the Node (and its cordon) from get nodes; an unknown node is
/// NotFound (exit 1) unless --ignore-not-found; drain of a deleted node is NotFound.
#[test]
fn kubectl_standin_deletes_nodes() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    upg_cluster(r, "v1.37.1", &[("cp1", "v1.37.1"), ("w1", "v1.37.1")]);
    let (out, ok) = kubectl_standin(r, &["get", "nodes", "-o", "name"]);
    assert!(ok && out == "node/cp1\nnode/w1\n", "{out}");
    assert!(kubectl_standin(r, &["drain", "w1", "--ignore-daemonsets"]).1);
    let (out, ok) = kubectl_standin(r, &["delete", "node", "w1"]);
    assert!(ok && out.trim() == "node \"w1\" deleted", "{out}");
    let (out, ok) = kubectl_standin(r, &["get", "nodes", "-o", "name"]);
    assert!(ok && out == "node/cp1\n", "{out}");
    assert!(
        !r.join("var/lib/windlass-standin/cluster/cordoned/w1")
            .exists()
    );
    for args in [
        &["delete", "node", "w1"][..],
        &["drain", "w1", "--ignore-daemonsets"],
        &["get", "node", "w1"],
    ] {
        let (out, ok) = kubectl_standin(r, args);
        assert!(
            !ok && out.trim() == "Error from server (NotFound): nodes \"w1\" not found",
            "{args:?}: {out}"
        );
    }
    let (out, ok) = kubectl_standin(r, &["delete", "node", "w1", "--ignore-not-found"]);
    assert!(ok && out.is_empty(), "{out}");
}

// DAY2
/// R15 without an etcd to talk to: a worker's reset says etcd is external; a stacked control
/// plane whose cluster cannot be reached removes no member (a warning) but still deletes the
/// data dir named in its etcd manifest. (With real etcd: tests/k8s_hosts.rs, DAY2.)
#[test]
fn standin_reset_handles_the_etcd_member() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let (out, ok) = standin(r, "1.37.1", &["reset", "-f"]);
    assert!(
        ok && out.contains("[reset] No etcd config found. Assuming external etcd"),
        "{out}"
    );
    scratch(
        r,
        "etc/kubernetes/manifests/etcd.yaml",
        "spec:\n  containers:\n  - command:\n    - etcd\n    - --data-dir=/var/lib/etcd-x\n\
         \x20   - --initial-advertise-peer-urls=https://10.0.0.1:2380\n",
    );
    scratch(r, "var/lib/etcd-x/member/snap/db", "data");
    scratch(
        r,
        "etc/kubernetes/admin.conf",
        "server: https://127.0.0.1:1\n",
    );
    let (out, ok) = standin(r, "1.37.1", &["reset", "-f"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("[reset] Unable to fetch the kubeadm-config ConfigMap from cluster")
            && !out.contains("Removed etcd member"),
        "{out}"
    );
    assert!(!r.join("var/lib/etcd-x").exists());
    assert!(!r.join("etc/kubernetes/manifests/etcd.yaml").exists());
}

// DAY2
/// recover-control-plane.yml refuses, before any host is contacted, an inventory without a
/// dead control plane (no broken_kube_control_plane/broken_etcd host) or with one still in
/// kube_control_plane.
#[test]
fn recover_control_plane_refuses_an_inventory_without_its_groups() {
    let pb = repo().join("playbooks/recover-control-plane.yml");
    for (extra, listed) in [
        ("", "dead: none listed"),
        (
            "    broken_kube_control_plane:\n      hosts:\n        cp3:\n",
            "dead: cp3; kube_control_plane: cp1, cp2, cp3",
        ),
        (
            "    broken_etcd:\n      hosts:\n        cp2:\n",
            "dead: cp2; kube_control_plane: cp1, cp2, cp3",
        ),
    ] {
        let p = Project::new();
        p.file(
            "inv/hosts.yml",
            &format!(
                "all:\n  children:\n    kube_control_plane:\n      hosts:\n\
                 \x20       cp1: {{ansible_host: 192.0.2.11}}\n        cp2: {{ansible_host: 192.0.2.12}}\n\
                 \x20       cp3: {{ansible_host: 192.0.2.13}}\n    kube_node:\n      hosts: {{}}\n\
                 \x20   etcd:\n      hosts: {{}}\n{extra}    k8s_cluster:\n      children:\n\
                 \x20       kube_control_plane:\n        kube_node:\n"
            ),
        );
        let (events, report) = p.run(pb.to_str().unwrap(), "inv", common::opts()).unwrap();
        assert_ne!(report.exit_code, 0);
        let f = failures(&events);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(
            f[0].starts_with("playbooks/recover-control-plane.yml: list the dead control planes")
                && f[0].contains(listed),
            "{listed}: {f:?}"
        );
        for e in &events {
            if let Event::HostResult { status, task, .. } = e {
                assert!(
                    !matches!(status, Status::Changed | Status::Unreachable),
                    "{task}: {status:?}"
                );
            }
        }
    }
}
