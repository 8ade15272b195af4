"""Driver of the side-by-side benchmark (started by benches/compare/run.sh).

For each host count, for each repetition, each tool in an order rotated per repetition:
reset the hosts to "fresh" (nothing of the workload on them), time the first run, check
the hosts' end state, time the idempotent re-run and check that it changed nothing.
Prints a table of medians and writes target/bench-results/compare.{json,md}.
"""

import json
import os
import platform
import re
import shlex
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
VENV_BIN = os.path.dirname(sys.executable)
WINDLASS = os.environ.get("WINDLASS_BIN", os.path.join(ROOT, "target", "release", "windlass"))
# The hosts: a `windlass lab` of their own (beside any other lab on the machine).
LAB = os.environ.get("BENCH_LAB", "bench")
LAB_DIR = os.path.join(os.environ.get("WINDLASS_LAB_DIR", "/var/tmp/windlass-lab"), "labs", LAB)
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1,5,20").split(",") if s]
REPS = int(os.environ.get("BENCH_REPS", "3"))
TOOLS = [t for t in os.environ.get("BENCH_TOOLS", "windlass,ansible,mitogen,pyinfra").split(",") if t]
# The peers windlass is compared with (ratios and speedups in the table).
PEERS = ("ansible", "mitogen", "pyinfra")
FRESH = os.environ.get("BENCH_FRESH", "reset")
# The key exchange of the OpenSSH-based tools (windlass, ansible). "paramiko" (default):
# the curve25519 exchange pyinfra's paramiko negotiates (it has no post-quantum one), so the
# three tools pay the same crypto per connection; "default": OpenSSH's own default (on
# OpenSSH 9.0-9.8 sntrup761x25519, ~0.1 s more CPU per connection).
KEX = os.environ.get("BENCH_KEX", "paramiko")
KEX_ARGS = {"paramiko": ["-o", "KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org"],
            "default": []}[KEX]
RESULTS = os.path.join(ROOT, "target", "bench-results")
# How many hosts each tool works on at once (ansible-playbook --forks, pyinfra --parallel):
# a number, or "hosts" for as many as the run has (the fleet sizes).
FORKS = os.environ.get("BENCH_FORKS", "50")


def forks(n):
    """The fork count for a run on `n` hosts ([`FORKS`])."""
    return str(n) if FORKS == "hosts" else FORKS

# Everything the workload creates; removing it (and purging socat) makes a host fresh.
RESET_SCRIPT = """
systemctl disable --now wl-bench >/dev/null 2>&1 || true
rm -rf /etc/wl-bench /opt/wl-bench /var/lib/wl-bench /var/log/wl-bench \
  /etc/sysctl.d/90-wl-bench.conf /etc/modules-load.d/wl-bench.conf \
  /etc/security/limits.d/90-wl-bench.conf /etc/default/wl-bench \
  /etc/systemd/system/wl-bench.service /usr/local/bin/wl-bench-check
systemctl daemon-reload
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q socat >/dev/null 2>&1
sysctl -q -w net.ipv4.ip_forward=0 net.core.somaxconn=1024
"""

# What the workload leaves on a host; must be the same after every tool's first run.
STATE_SCRIPT = r"""
for f in /etc/wl-bench/wl-bench.conf /etc/wl-bench/node.conf /etc/wl-bench/extra.conf \
  /etc/wl-bench/VERSION /etc/default/wl-bench /etc/modules-load.d/wl-bench.conf \
  /etc/security/limits.d/90-wl-bench.conf /etc/sysctl.d/90-wl-bench.conf \
  /etc/systemd/system/wl-bench.service /opt/wl-bench/bin/wl-bench-check; do
  echo "$f $(stat -c %a:%U:%G "$f" 2>&1) $(md5sum < "$f" 2>&1 | cut -c1-32)"
done
stat -c '%n %a %F' /etc/wl-bench /opt/wl-bench/bin /var/lib/wl-bench /var/log/wl-bench 2>&1
echo "link $(readlink /usr/local/bin/wl-bench-check)"
test -s /var/lib/wl-bench/initialized && echo initialized
echo "socat $(dpkg-query -W -f '${Status}' socat 2>&1)"
echo "wl-bench $(systemctl is-active wl-bench) $(systemctl is-enabled wl-bench)"
echo "sysctl $(sysctl -n net.ipv4.ip_forward net.core.somaxconn | tr '\n' ' ')"
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def lab(sub, *args, capture=True):
    """`windlass lab SUB --name LAB ARGS`."""
    return subprocess.run(
        [WINDLASS, "lab", sub, "--name", LAB, *args], check=True, text=True,
        stdout=subprocess.PIPE if capture else None,
    ).stdout


def inventory():
    """The running hosts, from `windlass lab inventory` (none before the lab's first up)."""
    if not os.path.exists(os.path.join(LAB_DIR, "state.json")):
        return {}, []
    inv = yaml.safe_load(lab("inventory"))
    hosts = inv["all"].get("hosts") or {}
    return inv["all"]["vars"], [(name, h["ansible_host"]) for name, h in hosts.items()]


def ensure_hosts(n):
    _, hosts = inventory()
    if len(hosts) < n:
        log(f"== windlass lab up {n} --name {LAB}")
        lab("up", str(n), capture=False)


def ssh_cmd(ip):
    return ["ssh", "-F", os.path.join(LAB_DIR, "ssh_config"), f"root@{ip}"]


def on_hosts(hosts, script):
    """Run `script` on every host in parallel; outputs by host name."""
    def one(h):
        r = subprocess.run(ssh_cmd(h[1]) + [script], text=True, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"{h[0]}: {script[:40]!r} failed: {r.stderr.strip()}")
        return h[0], r.stdout
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as ex:
        return dict(ex.map(one, hosts))


def make_fresh(hosts, n):
    t0 = time.monotonic()
    if FRESH == "recreate":
        lab("down", capture=False)
        lab("up", str(max(SIZES)), capture=False)
    else:
        on_hosts(hosts, RESET_SCRIPT)
    return time.monotonic() - t0


def write_inventories(work, common, hosts):
    common = dict(common)
    if KEX_ARGS:
        common["ansible_ssh_common_args"] = " ".join(
            [common.get("ansible_ssh_common_args", "")] + KEX_ARGS).strip()
    inv = {"all": {"vars": common, "hosts": {
        name: {"ansible_host": ip} for name, ip in hosts}}}
    with open(os.path.join(work, "hosts.yml"), "w") as f:
        yaml.safe_dump(inv, f, sort_keys=False)
    with open(os.path.join(work, "inventory.py"), "w") as f:
        f.write("hosts = [\n")
        for name, ip in hosts:
            data = {
                "ssh_hostname": ip,
                "ssh_user": "root",
                "ssh_key": common["ansible_ssh_private_key_file"],
                "ssh_known_hosts_file": "/dev/null",
                "ssh_strict_host_key_checking": "off",
            }
            f.write(f"    ({name!r}, {data!r}),\n")
        f.write("]\n")


# Settling before each timed run. A login starts root's systemd user manager on a host
# (pam_systemd), and the manager stops UserStopDelaySec (10 s) after the last session
# ends: a burst of CPU on every host ~10 s after any run. A run timed inside that window
# would pay for the one before it (or, its managers still up, not pay its own start).
SETTLE_AFTER = float(os.environ.get("BENCH_SETTLE", "12"))
_last_end = [0.0]


def cpu_busy(interval=1.0):
    """The share of the machine's CPU time busy over `interval` seconds."""
    def sample():
        with open("/proc/stat") as f:
            a = [int(x) for x in f.readline().split()[1:]]
        return sum(a), a[3] + a[4]
    t0, i0 = sample()
    time.sleep(interval)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def settle():
    """Wait until SETTLE_AFTER seconds have passed since the last timed run ended and the
    machine is quiet (under 15% busy for a second, or 60 s at most)."""
    wait = _last_end[0] + SETTLE_AFTER - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    deadline = time.monotonic() + 60
    while cpu_busy() > 0.15 and time.monotonic() < deadline:
        pass


def ssh_floor(hosts, script="true"):
    """Seconds for one login per host, all at once, running `script` (`true`: nothing): the
    least any SSH-based tool can take for the run, with the same key exchange. With the
    script that reads the state the playbook declares (STATE_SCRIPT), the least a re-run
    can take: an idempotent run must at least look. `script` may also be a script per host
    name (the replay floor, [`replay_scripts`]), given on stdin. Also the hosts' CPU seconds
    it cost."""
    def one(h):
        base = ssh_cmd(h[1])[:-1] + KEX_ARGS + ["-o", "ControlMaster=no", ssh_cmd(h[1])[-1]]
        if isinstance(script, dict):
            subprocess.run(base + ["sh -s"], input=script.get(h[0], "").encode(), check=True,
                           capture_output=True)
        else:
            subprocess.run(base + [script], check=True, capture_output=True)
    settle()
    cpu0 = hosts_cpu_seconds(LAB_DIR)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as ex:
        list(ex.map(one, hosts))
    secs = time.monotonic() - t0
    _last_end[0] = time.monotonic()
    cpu = hosts_cpu_seconds(LAB_DIR) - cpu0 if cpu0 is not None else None
    return secs, cpu


def replay_scripts(cmd, env, cwd):
    """The replay floor's scripts: `cmd` (a windlass run) once more, untimed, with `-vvv`
    JSON lines, and each host's commands from it in order, as one script per host name
    (each command's output discarded), and the commands left out. Timed with one login per host ([`ssh_floor`]), they
    are windlass's own remote work without a round trip between commands: windlass over
    this floor is what its orchestration costs (connections, round trips, the barrier
    between tasks, the controller). What cannot be replayed is left out and listed (a
    no_log task's command, whose line `-vvv` does not show; a file sent): the floor is then
    lower than windlass's true remote work, and windlass over it an upper bound. An error
    if the run failed."""
    settle()
    r = subprocess.run(cmd + ["--output", "jsonl", "-vvv"], env=env, cwd=cwd, text=True,
                       capture_output=True)
    # (its logins started the hosts' user managers: the floor waits for them to stop, as
    # after a timed run)
    _last_end[0] = time.monotonic()
    if r.returncode != 0:
        raise RuntimeError(f"the replay floor's windlass run failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    scripts, left_out = {}, []
    for line in r.stdout.splitlines():
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        if e.get("event") != "command":
            continue
        op, text = e.get("op"), e.get("line")
        if text is None or op == "put":
            left_out.append(f"{e['host']}: {op} of {e.get('task')}")
            continue
        if op == "get":
            text = f"cat {shlex.quote(text)}"
        scripts[e["host"]] = scripts.get(e["host"], "") + f"{{ {text}\n}} >/dev/null 2>&1 </dev/null\n"
    return scripts, left_out


def floor_run(kind, targets, script="true", **where):
    """One floor measurement ([`ssh_floor`] on `targets`) as a row of the runs (`kind`:
    ssh-floor or state-floor; `where`: what it is of, e.g. hosts=5 rep=1)."""
    left_out = where.pop("left_out", None)
    secs, cpu = ssh_floor(targets, script)
    if left_out:
        log(f"-- {kind}: {len(left_out)} command(s) left out: " + "; ".join(sorted(set(left_out))))
    return dict(tool=kind, **where, phase="login", seconds=round(secs, 3), changed=0, failed=0,
                cpu_hosts=cpu, left_out=len(left_out or []))


# CPU seconds, controller and hosts apart. The controller: each tool runs in a cgroup of
# its own (every process it starts stays in it, the ssh masters it leaves running too), read
# after the masters are closed. The hosts: each lab host's own cgroup (`windlass lab`
# records them in state.json), read before and after the run.
CG = "/sys/fs/cgroup"


def cpu_cgroup_root():
    """Where a new cgroup with CPU accounting is made: cgroup v2's root, or v1's cpuacct."""
    if os.path.exists(os.path.join(CG, "cgroup.controllers")):
        return CG
    for name in ("cpuacct", "cpu,cpuacct"):
        if os.path.exists(os.path.join(CG, name, "cpuacct.usage")):
            return os.path.join(CG, name)
    return None


def cgroup_cpu_seconds(path):
    """CPU time used in cgroup `path` (and below), in seconds, or None."""
    try:
        with open(os.path.join(path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9
    except OSError:
        pass
    try:
        with open(os.path.join(path, "cpu.stat")) as f:
            for line in f:
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return None


def hosts_cpu_seconds(lab_dir, names=None):
    """Total CPU seconds of the lab's hosts (those in `names`, lab host names, or all)."""
    with open(os.path.join(lab_dir, "state.json")) as f:
        st = json.load(f)
    total = 0.0
    for h in st["hosts"]:
        if names is None or h["name"] in names:
            total += next((v for v in map(cgroup_cpu_seconds, h.get("cgroups") or []) if v is not None), 0.0)
    return total


class ControllerCgroup:
    """A cgroup for one run of a tool: `preexec` moves the child into it; `seconds()` reads it."""

    def __init__(self, tag):
        root = cpu_cgroup_root()
        self.path = os.path.join(root, "windlass-bench", f"{tag}-{os.getpid()}") if root else None
        if self.path:
            os.makedirs(self.path, exist_ok=True)

    def preexec(self):
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def seconds(self):
        return cgroup_cpu_seconds(self.path) if self.path else None

    def remove(self):
        if self.path:
            try:
                os.rmdir(self.path)
            except OSError:
                pass


def close_masters(cpdir):
    for sock in os.listdir(cpdir):
        subprocess.run(["ssh", "-o", f"ControlPath={os.path.join(cpdir, sock)}", "-O", "exit", "x"],
                       capture_output=True)


def ansible_env(tool, work, env):
    """ansible-core's environment for `tool` (ansible, or mitogen: the same with Mitogen's
    strategy) in `env`; the fresh ControlPath directory, whose masters `timed` closes."""
    cpdir = tempfile.mkdtemp(prefix="cp", dir=work)
    env.update(ANSIBLE_CONFIG=os.path.join(HERE, "ansible.cfg"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=cpdir, ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-tmp"))
    if tool == "mitogen":
        # ansible-core with Mitogen's strategy (one persistent Python interpreter per
        # host, modules run in it without a new ssh command per task)
        env.update(ANSIBLE_STRATEGY_PLUGINS=mitogen_strategies(), ANSIBLE_STRATEGY="mitogen_linear")
    return cpdir


def timed(tool, cmd, env, cwd, cpdir, n):
    """Run one tool's command; (seconds, changed, failed, output, cpu) with cpu the CPU
    seconds of the controller (the tool and everything it started) and of the hosts."""
    cg = ControllerCgroup(tool)
    settle()
    hosts0 = hosts_cpu_seconds(LAB_DIR)
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, preexec_fn=cg.preexec)
    secs = time.monotonic() - t0
    _last_end[0] = time.monotonic()
    if cpdir:
        close_masters(cpdir)
    cpu = {"controller": cg.seconds(), "hosts": hosts_cpu_seconds(LAB_DIR) - hosts0}
    cg.remove()
    changed, failed = parse_counts(tool, r.stdout, n)
    if r.returncode != 0:
        failed = max(failed, 1)
    return secs, changed, failed, r.stdout, cpu


def record(runs, errors, where, tool, rep, phase, result, prefix="failed"):
    """Log and keep one timed run (`where`: what the run is of, e.g. {"hosts": 5}); a failure,
    a first run that changed nothing or a re-run that changed something is an error, with
    the tool's output kept beside the results."""
    secs, changed, failed, out, cpu = result
    label = " ".join(f"{k}={v}" for k, v in where.items())
    log(f"{tool:8} {label} rep={rep} {phase:5} {secs:7.2f}s changed={changed} failed={failed}")
    runs.append(dict(tool=tool, **where, rep=rep, phase=phase, seconds=round(secs, 3),
                     changed=changed, failed=failed, cpu_controller=cpu["controller"],
                     cpu_hosts=cpu["hosts"]))
    if (failed != 0 or changed < 0 or (phase == "rerun" and changed != 0)
            or (phase == "first" and changed == 0)):
        tag = "-".join(str(v) for v in where.values())
        path = os.path.join(RESULTS, f"{prefix}-{tool}-{tag}-{rep}-{phase}.log")
        with open(path, "w") as f:
            f.write(out)
        errors.append(f"{tool} {label} rep={rep} {phase}: changed={changed} failed={failed} "
                      f"(output in {path})")
        log(f"!! {errors[-1]}")


def windlass_cmd(work, n):
    """windlass's command line for the workload."""
    return [WINDLASS, "run", "-i", os.path.join(work, "hosts.yml"), "--forks", forks(n),
            "--state-dir", os.path.join(work, "state"), os.path.join(HERE, "workload.yml")]


def run_tool(tool, work, n):
    """Run `tool` once on the workload ([`timed`])."""
    env = dict(os.environ)
    cpdir = None
    if tool == "windlass":
        cmd = windlass_cmd(work, n)
    elif tool in ("ansible", "mitogen"):
        cpdir = ansible_env(tool, work, env)
        cmd = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", os.path.join(work, "hosts.yml"),
               "--forks", forks(n), os.path.join(HERE, "workload.yml")]
    elif tool == "pyinfra":
        env.update(PYINFRA_PROGRESS="off", NO_COLOR="1")
        cmd = [os.path.join(VENV_BIN, "pyinfra"), "-y", "--parallel", forks(n), "--no-wait",
               os.path.join(work, "inventory.py"), os.path.join(HERE, "pyinfra_deploy.py")]
    else:
        raise SystemExit(f"unknown tool {tool}")
    return timed(tool, cmd, env, work, cpdir, n)


def mitogen_strategies():
    """The directory of Mitogen's Ansible strategy plugins in the bench venv."""
    import ansible_mitogen
    return os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")


RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                   re.M)


def parse_counts(tool, out, n):
    """Total changed results and failed/unreachable hosts, from the tool's recap."""
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    if tool in ("windlass", "ansible", "mitogen"):
        rows = RECAP.findall(out)
        if len(rows) != n:
            return -1, n
        return (sum(int(r[2]) for r in rows),
                sum(1 for r in rows if int(r[3]) or int(r[4])))
    # pyinfra: "--> Results:" is a table of operations with the columns Hosts, Success
    # (executed, i.e. changed), Error, No Change ("-" for 0); its last row is the total.
    m = PYINFRA_TOTAL.search(out)
    if not m:
        return -1, n
    num = [0 if c == "-" else int(c) for c in m.groups()]
    return num[1], num[2]


PYINFRA_TOTAL = re.compile(r"^\s*Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.M)


def main():
    os.makedirs(RESULTS, exist_ok=True)
    ensure_hosts(max(SIZES))
    common, all_hosts = inventory()
    versions = {
        "windlass": subprocess.run([WINDLASS, "--version"], text=True,
                                   capture_output=True).stdout.strip(),
        "ansible-core": subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "--version"],
                                       text=True, capture_output=True).stdout.splitlines()[0],
        "pyinfra": subprocess.run([os.path.join(VENV_BIN, "pyinfra"), "--version"], text=True,
                                  capture_output=True).stdout.strip(),
        "mitogen": subprocess.run([sys.executable, "-c", "import importlib.metadata as m; "
                                   "print(m.version('mitogen'))"], text=True,
                                  capture_output=True).stdout.strip(),
    }
    log(f"== versions: {versions}")
    load_before = os.getloadavg()
    runs, errors, states, reset_times = [], [], {}, []
    for n in SIZES:
        work = tempfile.mkdtemp(prefix=f"wlbench-{n}-")
        for rep in range(REPS):
            order = TOOLS[rep % len(TOOLS):] + TOOLS[:rep % len(TOOLS)]
            for tool in order:
                common, all_hosts = inventory()
                hosts = all_hosts[:n]
                write_inventories(work, common, hosts)
                reset_times.append(make_fresh(hosts, n))
                runs.append(floor_run("ssh-floor", hosts, hosts=n, rep=rep + 1))
                for phase in ("first", "rerun"):
                    record(runs, errors, {"hosts": n}, tool, rep + 1, phase,
                           run_tool(tool, work, n))
                    if phase == "rerun" and tool == "windlass":
                        scripts, left_out = replay_scripts(windlass_cmd(work, n), dict(os.environ), work)
                        runs.append(floor_run("replay-floor", hosts, scripts, hosts=n, rep=rep + 1,
                                              left_out=left_out))
                    if phase == "first":
                        runs.append(floor_run("state-floor", hosts, STATE_SCRIPT, hosts=n,
                                              rep=rep + 1))
                        st = on_hosts(hosts[:1], STATE_SCRIPT)[hosts[0][0]]
                        states.setdefault(st, []).append(f"{tool}/{n}/{rep + 1}")
                        with open(os.path.join(RESULTS, f"state-{tool}.txt"), "w") as f:
                            f.write(st)
        shutil.rmtree(work, ignore_errors=True)
    if len(states) > 1:
        for st, who in states.items():
            log(f"-- end state after the first run of {', '.join(who)}:\n{st}")
        errors.append("the tools left different end states on the first host (see above)")

    def med(tool, n, phase, key="seconds"):
        xs = [r[key] for r in runs if r["tool"] == tool and r["hosts"] == n
              and r["phase"] == phase and r.get(key) is not None]
        return statistics.median(xs) if xs else None

    table = []
    for n in SIZES:
        for phase in ("first", "rerun"):
            row = {"hosts": n, "phase": phase, "ssh-floor": med("ssh-floor", n, "login"),
                   "state-floor": med("state-floor", n, "login"),
                   "replay-floor": med("replay-floor", n, "login")}
            for t in TOOLS:
                row[t] = med(t, n, phase)
                for side in ("controller", "hosts"):
                    c = med(t, n, phase, f"cpu_{side}")
                    row[f"cpu_{side}_per_host/{t}"] = round(c / n, 3) if c is not None else None
            for other in PEERS:
                if row.get("windlass") and row.get(other):
                    row[f"windlass/{other}"] = round(row["windlass"] / row[other], 3)
                    row[f"speedup/{other}"] = round(row[other] / row["windlass"], 1)
            floors(row, phase, n, med)
            table.append(row)
    env = {
        "machine": f"{platform.node()} {os.cpu_count()} cpus {platform.machine()}",
        "python": platform.python_version(), "reps": REPS, "fresh": FRESH, "kex": KEX,
        "forks": FORKS,
        "loadavg_1m_start_end": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "reset_seconds_median": round(statistics.median(reset_times), 2) if reset_times else None,
    }
    with open(os.path.join(RESULTS, "compare.json"), "w") as f:
        json.dump({"versions": versions, "env": env, "table": table, "runs": runs,
                   "errors": errors}, f, indent=2)
    md = render(table, versions, env) + "\n" + render_cpu(table, TOOLS, "hosts")
    with open(os.path.join(RESULTS, "compare.md"), "w") as f:
        f.write(md)
    print(md)
    if errors:
        log("FAILED:\n  " + "\n  ".join(errors))
        sys.exit(1)


def floors(row, phase, key, med):
    """The re-run's ratios to the floors, and the floors' host CPU per host (`key`: what the
    runs are of, for `med`)."""
    row["replay-floor-left-out"] = med("replay-floor", key, "login", "left_out")
    for f in ("state-floor", "replay-floor"):
        if phase == "rerun" and row.get("windlass") and row.get(f):
            row[f"windlass/{f}"] = round(row["windlass"] / row[f], 2)
        c = med(f, key, "login", "cpu_hosts")
        row[f"cpu_hosts_per_host/{f}"] = round(c / row["hosts"], 3) if c is not None else None


FLOOR_HEAD = ["ssh floor (s)", "state floor (s)", "replay floor (s)", "windlass/state floor",
              "windlass/replay floor"]


def floor_cells(row):
    """The floor columns of a row ([`FLOOR_HEAD`]); a replay floor that left commands out is
    marked with their number (`2.73 (-49)`): it is lower than windlass's true remote work."""
    fmt = lambda k: f"{row[k]:.2f}" if row.get(k) is not None else "-"  # noqa: E731
    cells = [fmt(k) for k in ("ssh-floor", "state-floor", "replay-floor", "windlass/state-floor",
                              "windlass/replay-floor")]
    if row.get("replay-floor-left-out"):
        cells[2] += f" (-{row['replay-floor-left-out']:g})"
    return cells


FLOOR_NOTE = ("ssh floor = one `ssh host true` per host, all at once (no tool can be faster "
              "over SSH); state floor = one login per host running a script that reads the "
              "state the playbook declares (file digests and modes, packages, units, sysctls), "
              "the least an idempotent re-run can do; replay floor = one login per host running "
              "every command windlass sent that host on a re-run, as one script (windlass's own "
              "remote work with no round trip between commands: windlass over it is what its "
              "orchestration costs; `(-N)`: N commands it could not replay, no_log ones, left "
              "out).")


def render(table, versions, env):
    head = ["hosts", "run"] + [f"{t} (s)" for t in TOOLS] + FLOOR_HEAD
    others = [o for o in PEERS if o in TOOLS and "windlass" in TOOLS]
    ratios = [f"windlass/{o}" for o in others]
    speedups = [f"speedup/{o}" for o in others]
    lines = ["| " + " | ".join(head + ratios + [f"× {o}" for o in others]) + " |",
             "|" + "|".join("---:" for _ in head + ratios + speedups) + "|"]
    for row in table:
        cells = [str(row["hosts"]), row["phase"]]
        cells += [f"{row[t]:.2f}" if row.get(t) is not None else "-" for t in TOOLS]
        cells += floor_cells(row)
        cells += [f"{row[r]:.3f}" if row.get(r) is not None else "-" for r in ratios]
        cells += [f"{row[r]:.1f}×" if row.get(r) is not None else "-" for r in speedups]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Medians of {env['reps']} runs; first = on fresh hosts ({env['fresh']}), "
                 "rerun = idempotent re-run (0 changes); " + FLOOR_NOTE + " Key exchange of the "
                 f"OpenSSH-based tools: {env['kex']}. {env['machine']}, load average "
                 f"{env['loadavg_1m_start_end'][0]} at the start, {env['loadavg_1m_start_end'][1]} "
                 "at the end.")
    lines.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    return "\n".join(lines) + "\n"


def render_cpu(table, tools, first):
    """CPU seconds per host per run, controller and hosts apart (medians), one row per run of
    the wall-time table (`first`: the key of its first column)."""
    head = ([first, "run"] + [f"{t} {side}" for t in tools for side in ("ctl", "host")]
            + ["state floor host", "replay floor host"])
    lines = ["CPU seconds per host per run (ctl = the controller: the tool and every process it "
             "started; host = the hosts' cgroups; the floors' host columns: what their one "
             "login and script cost each host):", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for row in table:
        cells = [str(row[first]), row["phase"]]
        for t in tools:
            for side in ("controller", "hosts"):
                v = row.get(f"cpu_{side}_per_host/{t}")
                cells.append(f"{v:.3f}" if v is not None else "-")
        for f in ("state-floor", "replay-floor"):
            v = row.get(f"cpu_hosts_per_host/{f}")
            cells.append(f"{v:.3f}" if v is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
