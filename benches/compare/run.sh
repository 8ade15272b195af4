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
#    with the "ssh floor": one bare `ssh host true` per host, all at once.
#
# Environment (defaults in brackets):
#   BENCH_SIZES [1,5,20]   host counts       BENCH_REPS [3]    repetitions (median reported)
#   BENCH_TOOLS [windlass,ansible,mitogen,pyinfra]  (mitogen = ansible-core + mitogen_linear)
#   BENCH_FRESH [reset]  reset | recreate (down+up)
#   BENCH_PYTHON           interpreter for the venv [first python3.13/3.12 found]
#   BENCH_LAB [bench]      the lab the hosts run in (labs run side by side: no isolation
#                          needed beside another lab); WINDLASS_LAB_DIR as for `windlass lab`
#   BENCH_TEARDOWN [0]     1: `windlass lab down --name $BENCH_LAB` at the end
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
