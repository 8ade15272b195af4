"""Driver of the flagship benchmark (started by benches/flagship/run.sh).

The project's own Kubernetes playbooks (playbooks/ha-stacked.yml, ha-external-etcd.yml) on
the hosts of their `windlass test` scenario (playbooks/scenarios/NAME: the same hosts,
groups and group_vars, the kubeadm/kubelet/kubectl stand-ins installed by the scenario's
prepare playbook), run by windlass, by ansible-core and by ansible-core with Mitogen's
strategy. For each topology, for each repetition, each tool in an order rotated per
repetition: a new lab (down, up), the prepare playbook (not timed, run by windlass), the
first run (timed), the host's end state, the re-run (timed; must change nothing). The end
states of the tools' first runs are compared host by host. Prints a table of medians and
writes target/bench-results/flagship.{json,md}.
"""

import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "benches", "compare"))
os.environ.setdefault("BENCH_LAB", "flag")  # (the compare bench's helpers read it too)
import driver as compare  # noqa: E402  (the compare bench's tool runners and recap parser)

WINDLASS = compare.WINDLASS
LAB = compare.LAB
LAB_DIR = compare.LAB_DIR
TOPOLOGIES = [t for t in os.environ.get("BENCH_TOPOLOGIES", "ha-stacked,ha-external-etcd").split(",") if t]
REPS = int(os.environ.get("BENCH_REPS", "3"))
TOOLS = [t for t in os.environ.get("BENCH_TOOLS", "windlass,ansible,mitogen").split(",") if t]
RESULTS = os.path.join(ROOT, "target", "bench-results")

# What the playbooks leave on a host, for comparing the tools' end states: the files the
# roles write (content digests, modes, owners), the units' states, the sysctls, and the
# kubeadm stand-in's record of the calls (tokens and certificate keys, random per run,
# masked, and the lab subnet's third octet, which a new lab may change).
STATE_SCRIPT = r"""
MASK='s/10\.240\.[0-9]+\./10.240.N./g; s/[a-z0-9]{6}\.[a-z0-9]{16}/TOKEN/g; s/sha256:[0-9a-f]{64}/sha256:HASH/g; s/[0-9a-f]{64}/KEY/g'
for f in /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf /etc/containerd/config.toml \
  /etc/sysctl.d/*.conf /etc/modules-load.d/*.conf /etc/crictl.yaml /etc/default/kubelet \
  /etc/kubernetes/kubeadm-config.yaml /etc/kubernetes/kubeadm-join.yaml \
  /etc/etcd/etcd.conf.yml /etc/systemd/system/etcd.service /etc/cni/net.d/*; do
  [ -e "$f" ] && echo "$f $(stat -c %a:%U:%G "$f") $(sed -E "$MASK" "$f" | md5sum | cut -c1-32)"
done
for u in containerd kubelet haproxy keepalived etcd; do
  echo "unit $u $(systemctl is-active $u 2>/dev/null) $(systemctl is-enabled $u 2>/dev/null)"
done
echo "sysctl $(sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>&1 | tr '\n' ' ')"
echo "swap $(swapon --noheadings | wc -l)"
grep -E '^(kubeadm|kubectl) ' /var/log/windlass-standin/kubeadm.log 2>/dev/null \
  | sed -E "$MASK"
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def lab(sub, *args, capture=True):
    return subprocess.run([WINDLASS, "lab", sub, "--name", LAB, *args], check=True, text=True,
                          stdout=subprocess.PIPE if capture else None).stdout


def scenario(topology):
    with open(os.path.join(ROOT, "playbooks", "scenarios", topology, "scenario.yml")) as f:
        return yaml.safe_load(f)


def fresh_lab(sc):
    """A new lab with the scenario's host count; (connection vars, [(lab name, ip)])."""
    t0 = time.monotonic()
    if os.path.exists(os.path.join(LAB_DIR, "state.json")):
        lab("down", capture=False)
    lab("up", str(len(sc["hosts"])), capture=False)
    inv = yaml.safe_load(lab("inventory"))
    hosts = inv["all"].get("hosts") or {}
    log(f"-- fresh lab of {len(hosts)} in {time.monotonic() - t0:.1f}s")
    return inv["all"]["vars"], [(n, h["ansible_host"]) for n, h in hosts.items()]


def write_inventory(work, topology, sc, reach, lab_hosts):
    """The scenario's inventory (its names, groups, children at the lab's addresses) with the
    scenario's group_vars beside it, where both tools read them."""
    inv_dir = os.path.join(work, "inventory")
    shutil.rmtree(inv_dir, ignore_errors=True)
    os.makedirs(inv_dir)
    reach = dict(reach)
    if compare.KEX_ARGS:
        reach["ansible_ssh_common_args"] = " ".join(
            [reach.get("ansible_ssh_common_args", "")] + compare.KEX_ARGS).strip()
    hosts, groups = {}, {}
    for h, (_, ip) in zip(sc["hosts"], lab_hosts):
        hosts[h["name"]] = dict(ansible_host=ip, **(h.get("vars") or {}))
        for g in h.get("groups") or []:
            groups.setdefault(g, {"hosts": {}})["hosts"][h["name"]] = {}
    for parent, kids in (sc.get("children") or {}).items():
        groups.setdefault(parent, {})["children"] = {k: {} for k in kids}
    with open(os.path.join(inv_dir, "hosts.yml"), "w") as f:
        yaml.safe_dump({"all": {"vars": reach, "hosts": hosts, "children": groups}}, f,
                       sort_keys=False)
    src = os.path.join(ROOT, "playbooks", "scenarios", topology, "group_vars")
    if os.path.isdir(src):
        shutil.copytree(src, os.path.join(inv_dir, "group_vars"))
    return os.path.join(inv_dir, "hosts.yml"), [(h["name"], ip) for h, (_, ip) in zip(sc["hosts"], lab_hosts)]


def prepare(work, inventory, sc):
    """The scenario's prepare playbook, run by windlass (not timed: it stands for the packages
    a real installation has)."""
    path = os.path.normpath(os.path.join(ROOT, "playbooks", "scenarios", sc["topology"], sc["prepare"]))
    r = subprocess.run([WINDLASS, "run", "-i", inventory, "--state-dir", os.path.join(work, "state"),
                        path], cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise SystemExit(f"prepare failed:\n{r.stdout[-3000:]}")


def windlass_cmd(work, inventory, playbook):
    return [WINDLASS, "run", "-i", inventory, "--forks", "50",
            "--state-dir", os.path.join(work, "state"), playbook]


def run_tool(tool, work, inventory, playbook, n):
    """`tool` on `playbook` (benches/compare/driver.py's `timed`), from the repository root
    as its README runs them (roles/ is found there)."""
    env = dict(os.environ)
    cpdir = None
    if tool == "windlass":
        cmd = windlass_cmd(work, inventory, playbook)
    else:
        cpdir = compare.ansible_env(tool, work, env)
        env.update(ANSIBLE_ROLES_PATH=os.path.join(ROOT, "roles"))
        cmd = [os.path.join(compare.VENV_BIN, "ansible-playbook"), "-i", inventory, "--forks", "50",
               playbook]
    return compare.timed(tool, cmd, env, ROOT, cpdir, n)


def end_state(hosts, reach):
    def one(h):
        r = subprocess.run(["ssh", "-F", os.path.join(LAB_DIR, "ssh_config"), f"root@{h[1]}",
                            STATE_SCRIPT], text=True, capture_output=True)
        return h[0], r.stdout
    with ThreadPoolExecutor(max_workers=len(hosts)) as ex:
        return dict(ex.map(one, hosts))


def main():
    os.makedirs(RESULTS, exist_ok=True)
    runs, errors, states = [], [], {}
    load_before = os.getloadavg()
    for topology in TOPOLOGIES:
        sc = scenario(topology)
        sc["topology"] = topology
        playbook = os.path.join(ROOT, "playbooks", f"{topology}.yml")
        n = len(sc["hosts"])
        for rep in range(REPS):
            order = TOOLS[rep % len(TOOLS):] + TOOLS[:rep % len(TOOLS)]
            for tool in order:
                work = tempfile.mkdtemp(prefix=f"wlflag-{topology}-")
                reach, lab_hosts = fresh_lab(sc)
                inventory, hosts = write_inventory(work, topology, sc, reach, lab_hosts)
                prepare(work, inventory, sc)
                runs.append(compare.floor_run("ssh-floor", lab_hosts, topology=topology,
                                              rep=rep + 1))
                for phase in ("first", "rerun"):
                    compare.record(runs, errors, {"topology": topology}, tool, rep + 1, phase,
                                   run_tool(tool, work, inventory, playbook, n), "flagship-failed")
                    if phase == "rerun" and tool == "windlass":
                        scripts, left_out = compare.replay_scripts(
                            windlass_cmd(work, inventory, playbook), dict(os.environ), ROOT)
                        runs.append(compare.floor_run("replay-floor", hosts, scripts,
                                                      topology=topology, rep=rep + 1,
                                                      left_out=left_out))
                    if phase == "first":
                        runs.append(compare.floor_run("state-floor", lab_hosts, STATE_SCRIPT,
                                                      topology=topology, rep=rep + 1))
                        st = end_state(hosts, reach)
                        digest = hashlib.sha256(json.dumps(st, sort_keys=True).encode()).hexdigest()[:12]
                        states.setdefault((topology, digest), (st, []))[1].append(f"{tool}/{rep + 1}")
                shutil.rmtree(work, ignore_errors=True)
    for topology in TOPOLOGIES:
        seen = [(d, v) for (t, d), v in states.items() if t == topology]
        if len(seen) > 1:
            base = seen[0][1][0]
            for d, (st, who) in seen[1:]:
                for host in st:
                    if st[host] != base.get(host):
                        log(f"-- {topology} {host}: end state of {', '.join(who)} differs from "
                            f"{', '.join(seen[0][1][1])}:\n" + diff(base.get(host, ""), st[host]))
            errors.append(f"{topology}: the tools left different end states (see above)")
    lab("down", capture=False)

    def med(tool, topology, phase, key="seconds"):
        xs = [r[key] for r in runs if r["tool"] == tool and r["topology"] == topology
              and r["phase"] == phase and r.get(key) is not None]
        return statistics.median(xs) if xs else None

    table = []
    for topology in TOPOLOGIES:
        for phase in ("first", "rerun"):
            row = {"topology": topology, "hosts": len(scenario(topology)["hosts"]), "phase": phase,
                   "ssh-floor": med("ssh-floor", topology, "login"),
                   "state-floor": med("state-floor", topology, "login"),
                   "replay-floor": med("replay-floor", topology, "login")}
            for t in TOOLS:
                row[t] = med(t, topology, phase)
                for side in ("controller", "hosts"):
                    c = med(t, topology, phase, f"cpu_{side}")
                    row[f"cpu_{side}_per_host/{t}"] = round(c / row["hosts"], 3) if c is not None else None
            for other in ("ansible", "mitogen"):
                if row.get("windlass") and row.get(other):
                    row[f"speedup/{other}"] = round(row[other] / row["windlass"], 1)
            compare.floors(row, phase, topology, med)
            table.append(row)
    env = {"machine": f"{platform.node()} {os.cpu_count()} cpus {platform.machine()}",
           "reps": REPS, "kex": compare.KEX,
           "loadavg_1m_start_end": [round(load_before[0], 1), round(os.getloadavg()[0], 1)]}
    versions = {"windlass": subprocess.run([WINDLASS, "--version"], text=True,
                                           capture_output=True).stdout.strip(),
                "ansible-core": subprocess.run([os.path.join(compare.VENV_BIN, "ansible-playbook"),
                                                "--version"], text=True,
                                               capture_output=True).stdout.splitlines()[0]}
    with open(os.path.join(RESULTS, "flagship.json"), "w") as f:
        json.dump({"versions": versions, "env": env, "table": table, "runs": runs,
                   "errors": errors}, f, indent=2)
    md = render(table, env, versions) + "\n" + compare.render_cpu(table, TOOLS, "topology")
    with open(os.path.join(RESULTS, "flagship.md"), "w") as f:
        f.write(md)
    print(md)
    if errors:
        log("FAILED:\n  " + "\n  ".join(errors))
        sys.exit(1)


def diff(a, b):
    import difflib
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0))


def render(table, env, versions):
    peers = [o for o in ("ansible", "mitogen") if o in TOOLS and "windlass" in TOOLS]
    head = ["playbook", "hosts", "run"] + [f"{t} (s)" for t in TOOLS] \
        + compare.FLOOR_HEAD + [f"× {o}" for o in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for row in table:
        cells = [row["topology"], str(row["hosts"]), row["phase"]]
        cells += [f"{row[t]:.2f}" if row.get(t) is not None else "-" for t in TOOLS]
        cells += compare.floor_cells(row)
        cells += [f"{row[f'speedup/{o}']:.1f}×" if row.get(f"speedup/{o}") else "-" for o in peers]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Medians of {env['reps']} runs, tools alternating; first = on a new lab after the "
                 "scenario's prepare playbook (the Kubernetes stand-ins), rerun = the same "
                 "playbook again (0 changes); " + compare.FLOOR_NOTE + " The state floor "
                 "leaves out the checks the playbook asks for on every run (its commands, fact "
                 f"gathering); the replay floor has them. Key exchange: {env['kex']}. {env['machine']}, load average "
                 f"{env['loadavg_1m_start_end'][0]} at the start, {env['loadavg_1m_start_end'][1]} "
                 "at the end.")
    lines.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
