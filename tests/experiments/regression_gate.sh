#!/usr/bin/env bash
# Reproduces the regression gate's figures (issue 4): how often the gate cries wolf on an unchanged build
# (A/A) and how often it catches a planted 5% slowdown of the compute kernel, in interleaved `ab` mode and
# against a stored baseline. Builds the `release` and `planted` presets, runs the headline cells, and prints
# the summary (tests/experiments/gate_summary.py, also saved as OUT_DIR/summary.txt). Takes about 52 minutes
# on 2 cores; needs a quiet machine.
#
#   bash tests/experiments/regression_gate.sh [OUT_DIR]     (default results/experiments/gate)
#   knobs: AA_RUNS (10) PLANTED_RUNS (5) BASELINE_RUNS (5) ROUNDS (15) DURATION (0.3);
#          NORMAL=path PLANTED=path use two conpar binaries already built instead of building the presets
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-results/experiments/gate}
aa_runs=${AA_RUNS:-10} planted_runs=${PLANTED_RUNS:-5} baseline_runs=${BASELINE_RUNS:-5}
rounds=${ROUNDS:-15} duration=${DURATION:-0.3}
# The headline cells, as conpar gate runs them (plots/gate.py says why these).
filter=$(cd plots && /usr/bin/python3 -c 'import gate; print(gate.HEADLINE_FILTER)')  # conpar gate's cells
run_opts=(--filter "$filter" --duration "$duration")

rm -rf "$out" && mkdir -p "$out/bin"
if [ -z "${NORMAL:-}" ]; then
  cmake --preset release >/dev/null && cmake --build build/release -j"$(nproc)" >/dev/null
  cmake --preset planted >/dev/null && cmake --build build/planted -j"$(nproc)" >/dev/null
fi
# Copies, so that rebuilding the tree while this runs changes nothing here.
cp "${NORMAL:-build/release/harness/conpar}" "$out/bin/normal"
cp "${PLANTED:-build/planted/harness/conpar}" "$out/bin/planted"
normal=$out/bin/normal planted=$out/bin/planted

# Exit 1 (regression) and 4 (too noisy) are outcomes to count here, not failures of the script.
verdict() {
  local rc=0
  "$@" >/dev/null 2>>"$out/log" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || [ "$rc" -eq 4 ]
}

for i in $(seq "$aa_runs"); do
  verdict "$normal" ab "$normal" "$normal" --rounds "$rounds" --seed "$i" --out-dir "$out/aa_$i" \
    --json "$out/aa_$i/verdicts.json" -- "${run_opts[@]}"
done
for i in $(seq "$planted_runs"); do
  verdict "$normal" ab "$normal" "$planted" --rounds "$rounds" --seed "$i" --out-dir "$out/planted_ab_$i" \
    --json "$out/planted_ab_$i/verdicts.json" -- "${run_opts[@]}"
done
# Baseline mode: one stored run, then separate runs of each build judged against it, as a CI job would.
"$normal" run "${run_opts[@]}" --repetitions "$rounds" --out "$out/baseline.json" >/dev/null 2>>"$out/log"
for i in $(seq "$baseline_runs"); do
  for build in normal planted; do
    mkdir -p "$out/${build}_vs_baseline_$i"
    "${!build}" run "${run_opts[@]}" --repetitions "$rounds" --out "$out/${build}_vs_baseline_$i/b.json" >/dev/null 2>>"$out/log"
    cp "$out/baseline.json" "$out/${build}_vs_baseline_$i/a.json"
  done
done
/usr/bin/python3 tests/experiments/gate_summary.py "$out" | tee "$out/summary.txt"
