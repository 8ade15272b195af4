#!/usr/bin/env bash
# hostset.sh - the dedicated test-host set of tests/k8s_hosts.rs, beside any other set.
#
# testhosts.sh names its hosts th01, th02, ... whatever TH_DIR/TH_BRIDGE/TH_NET say, and
# those names reach machine-global places: the veth `vb-thNN`, the cgroup
# `<caller's cgroup>/testhosts/thNN`, /run/systemd/nspawn/propagate/thNN. A second set
# started from the same namespaces collides with the first there (and its `down` would
# delete the other set's veths). So this set lives in its own persistent network + mount
# namespace pair and its own cgroup; everything that talks to its hosts (testhosts.sh,
# ssh, the test binary) runs inside them:
#
#   hostset.sh up N         boot hosts 1..N (namespaces created first)
#   hostset.sh inventory    print testhosts.sh's inventory of the running hosts
#   hostset.sh ssh I CMD    run CMD on host I as root
#   hostset.sh exec CMD...  run CMD inside the namespaces (e.g. cargo test --test k8s_hosts)
#   hostset.sh refresh N    delete every host and boot hosts 1..N again (a clean slate,
#                           namespaces kept: callers running inside stay connected)
#   hostset.sh down         stop and delete the hosts, then remove the namespaces
#
# A fresh TH_DIR is seeded from TH_SEED [/var/tmp/testhosts] (base rootfs, local repo) when
# that set was built for the same Debian release (TH_SUITE); then `up` runs testhosts.sh
# `prepare` outside the namespace, which has no route to the Debian mirror: it builds what
# seeding could not provide and returns at once when the stamps are current.
# Knobs: TH_DIR [/var/tmp/testhosts-k8s] TH_BRIDGE [br-k] TH_NET [10.217.0] TH_SUITE
# [bookworm] (passed on to testhosts.sh), K8S_NS [wlk8s] (namespace and cgroup name),
# WINDLASS_TESTHOSTS_SCRIPT [$WINDLASS_SHARED/testhosts.sh, else ../shared/testhosts.sh
# relative to the repository].
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export TH_DIR=${TH_DIR:-/var/tmp/testhosts-k8s}
export TH_BRIDGE=${TH_BRIDGE:-br-k}
export TH_NET=${TH_NET:-10.217.0}
TESTHOSTS=${TESTHOSTS:-${WINDLASS_TESTHOSTS_SCRIPT:-${WINDLASS_SHARED:-$ROOT/../shared}/testhosts.sh}}
NAME=${K8S_NS:-wlk8s}
NSDIR=/run/$NAME
CG=/sys/fs/cgroup

ns_up() {
  [ -e "$NSDIR/ready" ] && return 0
  mkdir -p "$NSDIR"
  mountpoint -q "$NSDIR" || mount --bind "$NSDIR" "$NSDIR"
  mount --make-private "$NSDIR"
  touch "$NSDIR/mnt" "$NSDIR/net"
  # Slave propagation: the machine's mounts stay visible inside, the hosts' overlay mounts
  # and a private /run/systemd/nspawn stay inside.
  unshare --mount="$NSDIR/mnt" --net="$NSDIR/net" --propagation slave sh -c '
    mkdir -p /run/systemd/nspawn
    mount -t tmpfs -o mode=0755 k8s-nspawn /run/systemd/nspawn
    ip link set lo up'
  touch "$NSDIR/ready"
}

ns_down() {
  [ -e "$NSDIR/ready" ] || return 0
  umount "$NSDIR/mnt" "$NSDIR/net" 2>/dev/null || true
  rm -f "$NSDIR/ready" "$NSDIR/mnt" "$NSDIR/net"
  umount "$NSDIR" 2>/dev/null || true
  rmdir "$NSDIR" 2>/dev/null || true
}

# This shell's path in cgroup hierarchy $1 (as testhosts.sh computes it).
cg_now() { awk -F: -v c="$1" '{ if ((c=="unified" && $1=="0") || $2==c || $2=="name="c) {print $3; exit} }' /proc/self/cgroup; }

# Move this shell into its own child cgroup in every hierarchy testhosts.sh uses, so the
# hosts' cgroups (<ours>/testhosts/thNN) differ from another set's.
enter_cgroup() {
  local c d
  if [ -e "$CG/cgroup.controllers" ]; then
    d="$CG$(cg_now unified)"; d="${d%/}"
    case "$d" in */"$NAME"|*/"$NAME"/*) return 0 ;; esac
    mkdir -p "$d/$NAME"; echo $$ > "$d/$NAME/cgroup.procs"; return 0
  fi
  for c in systemd unified memory pids; do
    [ -e "$CG/$c/cgroup.procs" ] || continue
    d="$CG/$c$(cg_now "$c")"; d="${d%/}"
    case "$d" in */"$NAME"|*/"$NAME"/*) continue ;; esac
    mkdir -p "$d/$NAME"; echo $$ > "$d/$NAME/cgroup.procs"
  done
}

# The Debian release a set's base was built for, from its stamp ("6" for bookworm, "6 trixie"
# for any other suite; see STAMP in testhosts.sh); empty without a base.
base_suite() {
  local stamp="$1/base/rootfs/.testhosts-base" v s
  [ -f "$stamp" ] || return 0
  read -r v s < "$stamp" || true
  echo "${s:-bookworm}"
}

# A new TH_DIR would debootstrap its own base: copy TH_SEED's base and local repo instead
# when they exist and were built for the same suite (a bookworm base under trixie hosts
# would make testhosts.sh refuse or rebuild it; testhosts.sh checks the version stamps and
# rebuilds if stale).
seed() {
  local from=${TH_SEED:-/var/tmp/testhosts}
  [ "$from" != "$TH_DIR" ] || return 0
  [ "$(base_suite "$from")" = "${TH_SUITE:-bookworm}" ] || return 0
  if [ ! -e "$TH_DIR/base/rootfs" ]; then
    mkdir -p "$TH_DIR/base"; cp -a "$from/base/rootfs" "$TH_DIR/base/rootfs"
  fi
  if [ ! -e "$TH_DIR/repo" ] && [ -f "$from/repo/.pkgs" ]; then cp -a "$from/repo" "$TH_DIR/repo"; fi
}

# Run "$@" inside the namespaces. Already inside (a command started by `exec`, such as the
# test binary, calling back), run it directly: the namespace files are not visible there.
inside() {
  if [ "${HOSTSET_INSIDE:-}" = "$NAME" ]; then exec "$@"; fi
  ns_up; enter_cgroup
  HOSTSET_INSIDE=$NAME exec nsenter --mount="$NSDIR/mnt" --net="$NSDIR/net" --wd="$PWD" -- "$@"
}

case "${1:-}" in
  up) shift; seed; bash "$TESTHOSTS" prepare; inside bash "$TESTHOSTS" up "$@" ;;
  inventory) [ -e "$NSDIR/ready" ] || { echo "host set not up" >&2; exit 1; }
             inside bash "$TESTHOSTS" inventory ;;
  ssh) shift; inside bash "$TESTHOSTS" ssh "$@" ;;
  exec) shift; inside "$@" ;;
  # (up right after down can meet a veth the kernel has not finished deleting, "RTNETLINK
  # answers: File exists": one more down and up then)
  refresh) shift; inside bash -c 'bash "$1" down && { bash "$1" up "$2" || { sleep 3; bash "$1" down && bash "$1" up "$2"; }; }' \
             refresh "$TESTHOSTS" "$@" ;;
  down)
    if [ -e "$NSDIR/ready" ]; then
      (enter_cgroup; nsenter --mount="$NSDIR/mnt" --net="$NSDIR/net" -- bash "$TESTHOSTS" down) || true
    fi
    ns_down ;;
  *) sed -n "2,28p" "$0"; exit 2 ;;
esac
