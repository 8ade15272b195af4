#!/usr/bin/env bash
# Wall time of each phase of every `windlass test` scenario (lab up, prepare, converge,
# idempotence, verify, down), the median of BENCH_REPS runs of the whole set.
#
#   bash benches/scenarios/run.sh [SCENARIO...]    (as root, from the repository root)
#
# Builds the release binary, runs `windlass test --jsonl SCENARIO...` (every scenario of the
# project without arguments) BENCH_REPS times, and writes the medians per scenario and phase
# to stdout and target/bench-results/scenarios.{md,json} (every run's seconds in the JSON).
# A run in which a scenario fails is reported and fails the bench: a failed phase's time
# is not a measurement of the scenario.
#
# Environment: BENCH_REPS [3]; WINDLASS_LAB_DIR as for `windlass lab` (the first run of a
# suite builds its cache: run once beforehand, or the first repetition includes it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
REPS=${BENCH_REPS:-3}
echo "== cargo build --release" >&2
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/windlass
OUT=$ROOT/target/bench-results
mkdir -p "$OUT"
runs=()
for r in $(seq 1 "$REPS"); do
  f=$OUT/scenarios-run-$r.jsonl
  echo "== run $r of $REPS: windlass test --jsonl $*" >&2
  t0=$(date +%s.%N)
  "$BIN" test --jsonl "$@" > "$f" 2> "$OUT/scenarios-run-$r.log" || {
    echo "run $r failed: see $OUT/scenarios-run-$r.log" >&2; tail -n 5 "$OUT/scenarios-run-$r.log" >&2; exit 1; }
  echo "$t0 $(date +%s.%N)" > "$f.total"
  runs+=("$f")
done
exec python3 "$ROOT/benches/scenarios/summarize.py" "$OUT" "${runs[@]}"
