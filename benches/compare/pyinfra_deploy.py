"""The comparison workload (benches/compare/roles/node) written with pyinfra operations.

Same files, same contents, same modes, same package and service, same handlers as the
Ansible/windlass role; run with `pyinfra -y INVENTORY pyinfra_deploy.py` by the bench
driver. Differences forced by pyinfra's operations are noted where they occur.
"""

import io
import os

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = os.path.join(HERE, "roles", "node")
PORT = 9876
LOG_LEVEL = "info"
SYSCTL_FILE = "/etc/sysctl.d/90-wl-bench.conf"
LIMITS_FILE = "/etc/security/limits.d/90-wl-bench.conf"

files.directory(name="Config directory", path="/etc/wl-bench", mode="755")
files.directory(name="Program directory", path="/opt/wl-bench/bin", mode="755")
files.directory(name="State directory", path="/var/lib/wl-bench", mode="750")
files.directory(name="Log directory", path="/var/log/wl-bench", mode="755")

# files.line appends `replace` when no line matches, replaces matching lines otherwise
# (like lineinfile with regexp + line; the file is created by the append).
forward = files.line(
    name="Enable IP forwarding",
    path=SYSCTL_FILE,
    line=r"^net\.ipv4\.ip_forward *=.*$",
    replace="net.ipv4.ip_forward = 1",
)
backlog = files.line(
    name="Raise the listen backlog",
    path=SYSCTL_FILE,
    line=r"^net\.core\.somaxconn *=.*$",
    replace="net.core.somaxconn = 4096",
)
files.put(
    name="Kernel modules to load at boot",
    src=io.StringIO("overlay\nbr_netfilter\n"),
    dest="/etc/modules-load.d/wl-bench.conf",
    mode="644",
)
files.line(
    name="Soft open-files limit",
    path=LIMITS_FILE,
    line=r"^root[[:space:]]+soft[[:space:]]+nofile.*$",
    replace="root soft nofile 65536",
    extended_regex=True,
)
files.line(
    name="Hard open-files limit",
    path=LIMITS_FILE,
    line=r"^root[[:space:]]+hard[[:space:]]+nofile.*$",
    replace="root hard nofile 65536",
    extended_regex=True,
)
config = files.template(
    name="Service configuration",
    src=os.path.join(ROLE, "templates", "wl-bench.conf.j2"),
    dest="/etc/wl-bench/wl-bench.conf",
    mode="644",
    inventory_hostname=host.name,
    wl_bench_port=PORT,
    wl_bench_log_level=LOG_LEVEL,
)
env = files.put(
    name="Service environment",
    src=os.path.join(ROLE, "files", "wl-bench.env"),
    dest="/etc/default/wl-bench",
    mode="644",
)
files.put(
    name="Health-check script",
    src=os.path.join(ROLE, "files", "wl-bench-check"),
    dest="/opt/wl-bench/bin/wl-bench-check",
    mode="755",
)
files.link(
    name="Health-check on the PATH",
    path="/usr/local/bin/wl-bench-check",
    target="/opt/wl-bench/bin/wl-bench-check",
)
files.put(
    name="Node identity",
    src=io.StringIO(f"node={host.name}\nport={PORT}\n"),
    dest="/etc/wl-bench/node.conf",
    mode="644",
)
files.line(
    name="Log level",
    path="/etc/wl-bench/extra.conf",
    line=r"^log_level=.*$",
    replace=f"log_level={LOG_LEVEL}",
)
files.put(
    name="Release marker",
    src=io.StringIO("1.0\n"),
    dest="/etc/wl-bench/VERSION",
    mode="644",
)
unit = files.put(
    name="Systemd unit",
    src=os.path.join(ROLE, "files", "wl-bench.service"),
    dest="/etc/systemd/system/wl-bench.service",
    mode="644",
)
apt.packages(name="Install socat", packages=["socat"])
# systemd.service(daemon_reload=True) reports a change on every run, so the reload is its
# own operation, run when the unit file changed.
systemd.daemon_reload(name="Reload systemd", _if=unit.did_change)
systemd.service(name="Service started and enabled", service="wl-bench", running=True, enabled=True)
# `creates=`: run only when the marker is absent (checked when the deploy is prepared).
if not host.get_fact(File, path="/var/lib/wl-bench/initialized"):
    server.shell(name="One-time initialisation", commands=["/opt/wl-bench/bin/wl-bench-check --init"])

# Handlers: run at the end, when a notifying operation changed something.
server.shell(
    name="apply sysctl",
    commands=[f"sysctl -p {SYSCTL_FILE}"],
    _if=any_changed(forward, backlog),
)
systemd.service(
    name="restart wl-bench",
    service="wl-bench",
    running=True,
    restarted=True,
    _if=any_changed(config, env, unit),
)
