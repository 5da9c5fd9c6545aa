#!/usr/bin/python3
"""Summarises tests/experiments/regression_gate.sh's runs: every pair a.json (base) / b.json (new) under
OUT is judged again by compare.py at the default 5% threshold and at 3%, and the verdicts are counted.

    python3 tests/experiments/gate_summary.py OUT
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plots"))
import compare  # noqa: E402
from results import load_run  # noqa: E402

AFFECTED = "cpu/"     # cells that run the kernel: the planted slowdown must show here
UNAFFECTED = "sleep/"  # cells that never run it: they must stay unchanged


def judge(folder: Path, pct: float) -> list[compare.Comparison]:
    rule = compare.Rule(None, compare.ALL_METRICS, pct)
    outcome = compare.compare(load_run(folder / "a.json"), load_run(folder / "b.json"), [rule],
                              compare.DEFAULT_ALPHA, [])
    return outcome.comparisons


def summarise(out: Path, kind: str, pct: float) -> str:
    folders = sorted(p for p in out.glob(f"{kind}_*") if (p / "b.json").is_file())
    if not folders:
        return ""
    verdicts: Counter[str] = Counter()
    cells_caught = cells_affected = 0
    unaffected: Counter[str] = Counter()
    changes: list[float] = []
    for folder in folders:
        comparisons = judge(folder, pct)
        verdicts.update(c.verdict for c in comparisons)
        for c in comparisons:
            if c.benchmark.startswith(UNAFFECTED):
                unaffected[c.verdict] += 1
            if c.benchmark.startswith(AFFECTED) and c.metric.key == "throughput":
                cells_affected += 1
                changes.append(c.change_pct or 0.0)
                caught = any(o.verdict == compare.REGRESSED for o in comparisons
                             if o.benchmark == c.benchmark and o.metric.key in ("throughput", "cpu"))
                cells_caught += caught
    total = sum(verdicts.values())
    lines = [f"{kind} ({len(folders)} comparisons, threshold {pct:g}%, alpha {compare.DEFAULT_ALPHA:g}): "
             f"{total} (cell, metric) verdicts: " + ", ".join(f"{v} {n}" for v, n in verdicts.most_common()),
             f"  regressed: {verdicts[compare.REGRESSED]} of {total} = {100 * verdicts[compare.REGRESSED] / total:.1f}%"]
    if "planted" in kind:
        changes.sort()
        lines.append(f"  affected cpu cells caught (throughput or CPU/request regressed): {cells_caught} of "
                     f"{cells_affected} = {100 * cells_caught / max(cells_affected, 1):.0f}%; throughput change "
                     f"median {changes[len(changes) // 2]:+.2f}% (min {changes[0]:+.2f}%, max {changes[-1]:+.2f}%)")
        lines.append("  sleep cells (no kernel): " + ", ".join(f"{v} {n}" for v, n in unaffected.most_common()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("results/experiments/gate")
    for kind in ("aa", "planted_ab", "normal_vs_baseline", "planted_vs_baseline"):
        for pct in (compare.DEFAULT_THRESHOLD_PCT, 3.0):
            text = summarise(out, kind, pct)
            if text:
                print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
