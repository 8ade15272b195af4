#!/usr/bin/env bash
# isolate.sh - run a second testhosts.sh host set beside one that is already running.
#
# testhosts.sh names its hosts th01, th02, ... whatever TH_DIR/TH_BRIDGE/TH_NET say, and
# those names reach places that are global to the machine: the veth `vb-thNN`, the cgroup
# `<caller's cgroup>/testhosts/thNN` and /run/systemd/nspawn/propagate/thNN. Two sets
# started from the same namespaces collide there. This script keeps a persistent network
# + mount namespace pair (and its own cgroup) for the second set; every command that
# touches the hosts (testhosts.sh itself, ssh, the tools under test) runs inside it:
#
#   isolate.sh up          create the namespaces (idempotent)
#   isolate.sh exec CMD... run CMD inside them (in cgroup <root>/$ISO_NAME)
#   isolate.sh down        remove them (run `testhosts.sh down` inside first)
#
# The bench runner uses it when BENCH_ISOLATE=1 (TH_WRAP="isolate.sh exec").
# Knobs: ISO_NAME [wlbench]  ISO_DIR [/run/$ISO_NAME]
set -euo pipefail
NAME=${ISO_NAME:-wlbench}
DIR=${ISO_DIR:-/run/$NAME}
CG=/sys/fs/cgroup

up() {
  [ -e "$DIR/ready" ] && return 0
  mkdir -p "$DIR"
  mountpoint -q "$DIR" || mount --bind "$DIR" "$DIR"
  mount --make-private "$DIR"
  touch "$DIR/mnt" "$DIR/net"
  # slave propagation: the machine's mounts stay visible, ours stay inside
  unshare --mount="$DIR/mnt" --net="$DIR/net" --propagation slave sh -c '
    mount -t tmpfs -o mode=0755 wlbench-nspawn /run/systemd/nspawn 2>/dev/null \
      || { mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 wlbench-nspawn /run/systemd/nspawn; }
    ip link set lo up'
  touch "$DIR/ready"
}

cg_now() { awk -F: -v c="$1" '{ if ((c=="unified" && $1=="0") || $2==c || $2=="name="c) {print $3; exit} }' /proc/self/cgroup; }

enter_cgroup() {   # own cgroup in every hierarchy testhosts.sh uses, so paths differ
  local c d
  if [ -e "$CG/cgroup.controllers" ]; then d="$CG/$NAME"; mkdir -p "$d"; echo $$ > "$d/cgroup.procs"; return; fi
  for c in systemd unified memory pids; do
    [ -e "$CG/$c/cgroup.procs" ] || continue
    d="$CG/$c$(cg_now "$c")"; d="${d%/}"
    case "$d" in */"$NAME"|*/"$NAME"/*) continue ;; esac
    d="$d/$NAME"
    mkdir -p "$d"; echo $$ > "$d/cgroup.procs"
  done
}

case "${1:-}" in
  up) up ;;
  exec) shift; up; enter_cgroup; exec nsenter --mount="$DIR/mnt" --net="$DIR/net" --wd="$PWD" -- "$@" ;;
  down)
    if [ -e "$DIR/ready" ]; then
      umount "$DIR/mnt" "$DIR/net" 2>/dev/null || true
      rm -f "$DIR/ready" "$DIR/mnt" "$DIR/net"
      umount "$DIR" 2>/dev/null || true
      rmdir "$DIR" 2>/dev/null || true
    fi
    # our cgroups, once empty (testhosts.sh down removed the hosts' own)
    find "$CG" -depth -type d -name "$NAME" -exec rmdir {} \; 2>/dev/null || true ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
