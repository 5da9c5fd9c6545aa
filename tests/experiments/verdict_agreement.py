#!/usr/bin/python3
"""How far two runs agree on what the report claims (issue 13): the claims of each results file are extracted
with the report's own rules (plots/experiments.py), matched by what they are about, and counted.

    /usr/bin/python3 tests/experiments/verdict_agreement.py A.json B.json [--list]

Claims, each keyed by experiment, request shape and load point:
- winner: who leads at a load point, with the runners it ties with (intervals overlap): "threads" or
  "threads=procs"; CPU scaling by workers, I/O, tcp and pipeline by requests in flight, the crossover by CPU share,
  memory by workers (GB/s);
- scaling: each runner's CPU speed-up at the cores, as a class: "scales" (>= 0.8 x the cores), "some" (>= 1.2x),
  "flat"; and each runner's I/O throughput at its highest concurrency, "bound" (>= 90% of C / wait) or "below";
- crossing: for each pair of runners in the crossover, the significant crossings as (from, to, the two tested shares
  the crossing lies between), or "none".
Prints the agreement per kind and overall, and with --list every claim the runs disagree on; --medians judges by
the medians alone (no ties), as the report did before the intervals. Exit 0; 2 on bad input.
"""
from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plots"))
import experiments as ex  # noqa: E402
from results import Cell, InputError, Run, load_run  # noqa: E402

SCALES, SOME = 0.8, 1.2  # of the cores; a speed-up
IO_BOUND = 0.9  # of Little's bound


def _winners(kind: str, groups: dict[str, ex.Series], key: str, claims: dict) -> None:
    for label, series in groups.items():
        levels = sorted({x for points in series.values() for x, _ in points})
        for x in levels:
            cells = [c for points in series.values() for at, c in points if at == x and c.get(key)]
            if len(cells) < 2:
                continue
            best, tied = ex.tied_with_best(cells, key)
            claims[("winner", kind, label, x)] = "=".join(sorted([best.runner] + [c.runner for c in tied]))


def _scaling(run: Run, claims: dict) -> None:
    for label, series in ex.cpu_scaling(run).items():
        for runner, points in series.items():
            level = ex.cited_level([x for x, _ in points], run.cores)
            s = ex.speedup(points, level)
            if s is None or level <= 1:
                continue
            claims[("scaling", "cpu", label, runner)] = (
                "scales" if s >= SCALES * level else "some" if s >= SOME else "flat")
    for label, series in ex.io_scaling(run).items():
        for runner, points in series.items():
            _, cell = points[-1]
            claims[("scaling", "io", label, runner)] = (
                "bound" if cell.get(ex.RATE) >= IO_BOUND * ex.io_bound(cell) else "below")


def _crossings(run: Run, claims: dict) -> None:
    for label, series in ex.crossover(run).items():
        for a, b in combinations(sorted(series), 2):
            lead = ex.lead(series, a, b)
            if not lead.shares:
                continue
            where = []
            for frm, to, share in lead.crossings:
                below = max(s for s in lead.shares if s <= share)
                above = min(s for s in lead.shares if s >= share)
                where.append(f"{frm}->{to} in [{below:g}, {above:g}]")
            claims[("crossing", "mixed", label, f"{a} vs {b}")] = "; ".join(where) or "none"


def claims_of(run: Run) -> dict:
    claims: dict = {}
    _winners("cpu", ex.cpu_scaling(run), ex.RATE, claims)
    _winners("io", ex.io_scaling(run), ex.RATE, claims)
    _winners("tcp", ex.tcp_scaling(run), ex.RATE, claims)
    _winners("pipeline", ex.pipeline(run), ex.RATE, claims)
    _winners("memory", ex.memory_scaling(run), "gb_per_second", claims)
    _winners("crossover", ex.crossover(run), ex.RATE, claims)
    _scaling(run, claims)
    _crossings(run, claims)
    return claims


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--list", action="store_true", help="print every claim the two runs disagree on")
    p.add_argument("--medians", action="store_true",
                   help="judge by the medians alone, as the report did before the intervals: what they buy")
    args = p.parse_args(argv)
    if args.medians:
        Cell.interval = lambda self, key: None  # every comparison falls back to the medians
    try:
        a, b = claims_of(load_run(args.a)), claims_of(load_run(args.b))
    except InputError as e:
        print(f"verdict_agreement: {e}", file=sys.stderr)
        return 2
    shared = sorted(a.keys() & b.keys(), key=str)
    print(f"{len(a)} claims in {args.a.name}, {len(b)} in {args.b.name}, {len(shared)} about the same things")
    total = agree = 0
    for kind in ("winner", "scaling", "crossing"):
        keys = [k for k in shared if k[0] == kind]
        same = sum(a[k] == b[k] for k in keys)
        total, agree = total + len(keys), agree + same
        if keys:
            print(f"  {kind:9} {same:4} of {len(keys):4} agree ({same / len(keys):.1%})")
    if total:
        print(f"  {'all':9} {agree:4} of {total:4} agree ({agree / total:.1%})")
    if args.list:
        for k in shared:
            if a[k] != b[k]:
                print(f"  {' / '.join(str(p) for p in k)}: {a[k]}  vs  {b[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
