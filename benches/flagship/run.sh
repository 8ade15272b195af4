#!/usr/bin/env bash
# The flagship benchmark: the project's Kubernetes playbooks (playbooks/ha-stacked.yml,
# ha-external-etcd.yml) on the hosts of their `windlass test` scenario, run by windlass, by
# ansible-core and by ansible-core with Mitogen's strategy; first run and re-run, medians,
# tools alternating, end states compared host by host (driver.py says how).
#
#   bash benches/flagship/run.sh            (as root, from the repository root)
#
# Environment (defaults in brackets):
#   BENCH_TOPOLOGIES [ha-stacked,ha-external-etcd]   BENCH_REPS [3]
#   BENCH_TOOLS [windlass,ansible,mitogen]           BENCH_LAB [flag]
#   BENCH_KEX [paramiko], BENCH_SETTLE [12]  as benches/compare/run.sh (the floors too);
#   BENCH_PYTHON as benches/compare/venv.sh
# Writes target/bench-results/flagship.{md,json}; a failed run, a re-run that changes
# something or different end states fail the bench (the logs are kept beside them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=benches/compare/venv.sh
. "$ROOT/benches/compare/venv.sh"
echo "== cargo build --release" >&2
cargo build --release --quiet
export WINDLASS_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass
exec "$VENV/bin/python" "$ROOT/benches/flagship/driver.py" "$@"
