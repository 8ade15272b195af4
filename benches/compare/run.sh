#!/usr/bin/env bash
# Side-by-side benchmark: windlass vs ansible-core (alone and with Mitogen's strategy) vs
# pyinfra on the same workload.
#
#   bash benches/compare/run.sh            (from the repository root; needs root for the hosts)
#
# 1. creates target/bench-venv (Python >= 3.12) with the pinned peers (venv.sh),
# 2. builds the release binary (cargo build --release),
# 3. brings test hosts up (`windlass lab up N --name bench`) when fewer than the largest size
#    are running,
# 4. runs driver.py: for each size, for each repetition, every tool (order rotated per
#    repetition) on freshly reset hosts (first run), then again (idempotent re-run,
#    which must change nothing), and prints/writes the table (target/bench-results/),
#    with three floors, each one login per host, all hosts at once: the "ssh floor" (`true`),
#    the "state floor" (a script reading the state the workload declares) and the "replay
#    floor" (every command windlass sent the host on a re-run, as one script). Each timed
#    run and floor waits BENCH_SETTLE seconds after the one before, then for a quiet machine.
#
# Environment (defaults in brackets):
#   BENCH_SIZES [1,5,20]   host counts       BENCH_REPS [3]    repetitions (median reported)
#   BENCH_TOOLS [windlass,ansible,mitogen,pyinfra]  (mitogen = ansible-core + mitogen_linear)
#   BENCH_FRESH [reset]  reset | recreate (down+up)
#   BENCH_FORKS [50]     hosts at once (--forks, --parallel): a number, or "hosts" = the size
#   BENCH_PYTHON           interpreter for the venv [first python3.13/3.12 found]
#   BENCH_LAB [bench]      the lab the hosts run in (labs run side by side: no isolation
#                          needed beside another lab); WINDLASS_LAB_DIR as for `windlass lab`
#   BENCH_TEARDOWN [0]     1: `windlass lab down --name $BENCH_LAB` at the end
#   BENCH_SETTLE [12]      seconds after a timed run before the next (root's systemd user manager
#                          stops 10 s after a run, a CPU burst on every host), then until quiet
#   BENCH_KEX [paramiko]   key exchange of windlass and ansible: paramiko = the curve25519
#                          one pyinfra's paramiko uses (same crypto for all three tools),
#                          default = OpenSSH's default (sntrup761x25519 on OpenSSH 9.0-9.8)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=benches/compare/venv.sh
. "$ROOT/benches/compare/venv.sh"

echo "== cargo build --release" >&2
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass
export WINDLASS_BIN=$BIN

rc=0
"$VENV/bin/python" "$ROOT/benches/compare/driver.py" "$@" || rc=$?
if [ "${BENCH_TEARDOWN:-0}" = 1 ]; then
  "$BIN" lab down --name "${BENCH_LAB:-bench}"
fi
exit $rc
