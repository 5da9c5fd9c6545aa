#!/usr/bin/python3
"""Summarises tests/experiments/regression_gate.sh's runs: every pair a.json (base) / b.json (new) under
OUT is judged again by compare.py under each setting of SETTINGS, and the verdicts are counted.

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

# The gate's settings under test, as --threshold options would give them (the last rule that applies wins).
# "default" is conpar compare with no option. The others are what the README recommends to catch a 5%
# slowdown: a threshold must sit below the effect it is to catch, and a 5% plant moves the CPU cells by
# 4.3-4.8% (the harness's own per-request CPU does not grow); the sleep cell's CPU per request is the loop's
# sub-microsecond cost per timer, which moves by up to +-6% between unchanged runs, so it is judged at 10%.
# p99=15 was chosen from the A/A runs of 2026-11-23 (a 100 us request's p99 moved by up to 10.7% between
# unchanged runs): its A/A figure is in-sample, the others are not.
SETTINGS = {
    "default (all=5)": [compare.DEFAULT_RULE],
    "all=3, sleep/.*:all=10": [compare.Rule(None, compare.ALL_METRICS, 3.0),
                               compare.Rule("sleep/.*", compare.ALL_METRICS, 10.0)],
    "recommended (all=3, p99=15, sleep/.*:all=10)": [compare.Rule(None, compare.ALL_METRICS, 3.0),
                                                     compare.Rule(None, "p99", 15.0),
                                                     compare.Rule("sleep/.*", compare.ALL_METRICS, 10.0)],
}


def judge(folder: Path, rules: list[compare.Rule]) -> list[compare.Comparison]:
    outcome = compare.compare(load_run(folder / "a.json"), load_run(folder / "b.json"), rules,
                              compare.DEFAULT_ALPHA, [])
    return outcome.comparisons


def summarise(out: Path, kind: str, setting: str) -> str:
    folders = sorted(p for p in out.glob(f"{kind}_*") if (p / "b.json").is_file())
    if not folders:
        return ""
    verdicts: Counter[str] = Counter()
    cells_caught = cells_affected = 0
    unaffected: Counter[str] = Counter()
    changes: list[float] = []
    false_alarms: list[str] = []
    for folder in folders:
        comparisons = judge(folder, SETTINGS[setting])
        verdicts.update(c.verdict for c in comparisons)
        for c in comparisons:
            if c.benchmark.startswith(UNAFFECTED):
                unaffected[c.verdict] += 1
            if c.benchmark.startswith(AFFECTED) and c.metric.key == "throughput":
                cells_affected += 1
                changes.append(c.change_pct or 0.0)
                # A cell says regressed when any of its metrics does (the gate fails on it).
                cells_caught += any(o.verdict == compare.REGRESSED for o in comparisons if o.benchmark == c.benchmark)
            if c.verdict == compare.REGRESSED and "planted" not in kind:
                false_alarms.append(f"    {folder.name}: {c.benchmark} {c.metric.key} {c.change_pct:+.1f}% p={c.p:.2g}")
    total = sum(verdicts.values())
    exits = Counter(compare.compare(load_run(f / "a.json"), load_run(f / "b.json"), SETTINGS[setting],
                                    compare.DEFAULT_ALPHA, []).exit_code for f in folders)
    lines = [f"{kind} ({len(folders)} comparisons, {setting}, alpha {compare.DEFAULT_ALPHA:g}): "
             f"{total} (cell, metric) verdicts: " + ", ".join(f"{v} {n}" for v, n in verdicts.most_common()),
             f"  regressed: {verdicts[compare.REGRESSED]} of {total} = {100 * verdicts[compare.REGRESSED] / total:.1f}%; "
             "exit codes: " + ", ".join(f"{code}: {n} runs" for code, n in sorted(exits.items()))]
    lines += false_alarms
    if "planted" in kind:
        changes.sort()
        lines.append(f"  affected cpu cells caught (a metric regressed): {cells_caught} of "
                     f"{cells_affected} = {100 * cells_caught / max(cells_affected, 1):.0f}%; throughput change "
                     f"median {changes[len(changes) // 2]:+.2f}% (min {changes[0]:+.2f}%, max {changes[-1]:+.2f}%)")
        lines.append("  sleep cells (no kernel): " + ", ".join(f"{v} {n}" for v, n in unaffected.most_common()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("results/experiments/gate")
    for kind in ("aa", "planted_ab", "normal_vs_baseline", "planted_vs_baseline"):
        for setting in SETTINGS:
            text = summarise(out, kind, setting)
            if text:
                print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
