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
                inv.select(&play.hosts).unwrap_or_else(|e| {
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
    assert_eq!(
        calico
            .iter()
            .filter(|d| d["kind"] == json!("CustomResourceDefinition"))
            .count(),
        18
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
            ],
        );
    }
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
            if topology == "ha-stacked" {
                snapshot(
                    &format!("release-{minor}/ha-stacked/kubeadm-config.yaml"),
                    &text,
                );
            }
        }
        let containerd = render_with("ha-stacked", "cp1", "containerd", "config.toml.j2", &over);
        let pause = format!(
            "sandbox_image = \"registry.k8s.io/pause:{}\"",
            r["pause"].as_str().unwrap()
        );
        assert!(containerd.contains(&pause), "{minor}: {containerd}");
    }
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
