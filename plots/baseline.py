#!/usr/bin/python3
"""conpar baseline: committed baselines per machine class, and the gate of a run against its own.

    python3 plots/baseline.py record RESULTS [--baselines-dir DIR]
    python3 plots/baseline.py path RESULTS [--baselines-dir DIR]
    python3 plots/baseline.py gate NEW [--baselines-dir DIR] [compare.py options]

A baseline is a results file stored as DIR/<machine-class>/<suite>.json (DIR defaults to
results/baselines): a run is only ever judged against numbers from the same CPU model and core
count. `record` refuses a run with error rows, warns below 9 repetitions (the U test then has little
power), keeps the file without its latency histograms (results.stored_form), and writes atomically, so an
existing baseline is replaced whole or not at all. `gate` finds
NEW's baseline and runs compare.py's gate on it, with its exit codes; no baseline is exit 2.

A baseline was measured on another VM of the class, and VMs of one class differ (a fresh one: -30% on some
throughput, +40-90% CPU per request). So `gate` always judges the metrics that cancel the machine (derived.py:
ratios to the same run's seq cells and bounds), and the absolute ones (throughput, p99, CPU per request) only
when every calibration figure of NEW is within the tolerance of the baseline's; otherwise it says which figure
differs and by how much, and that the absolute metrics were not judged (not a regression: the exit code is the
derived metrics' alone).
record and path exit 0 done, 1 the baseline (checked before the file is rewritten) or stdout could not
be written, 2 bad input (as every tool's: results.load_run).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import compare
import derived
from atomic import OutputError, check_target, write_atomic, write_stdout
from results import InputError, Run, is_number, load_run, machine_class, stored_form

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "results" / "baselines"
EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Calibration:
    """A figure of the run's context that says how fast this machine is at one thing (harness/core/machine.hpp)."""

    key: str
    unit: str
    always: bool  # every run measures it; memcpy_gb_per_s only runs with memory cells (2 s at its 256 MiB)


CALIBRATIONS = (
    Calibration("iterations_per_us", "kernel iterations/µs", True),
    Calibration("syscall_ns", "ns", True),
    Calibration("futex_round_trip_us", "µs", True),
    Calibration("memcpy_gb_per_s", "GB/s", False),
)
# 12 runs of one build on the 2-core VM (4 of them beside two busy loops): iterations_per_us 399.9-406.7,
# syscall_ns 925-1,079, futex_round_trip_us 5.22-5.45 (plots/README.md): a figure 10% off says the machine is
# not the baseline's.
CALIBRATION_TOLERANCE_PCT = 10.0


DERIVED_LEGEND = ("_Baseline mode (derived.py): speed-up over seq (throughput over the same run's seq cell of the "
                  "same request), % of Little's bound over seq's (sleep), efficiency and CPU per request over "
                  "seq's are ratios within one run, judged whatever the machine; higher is better but for CPU per "
                  "request. The absolute metrics are judged only when the calibration matches (above)._")


def calibration_value(ctx: dict, key: str) -> float | None:
    value = ctx.get(key)
    return float(value) if is_number(value) and math.isfinite(value) and value > 0 else None


def calibration_mismatches(base: dict, new: dict, tolerance_pct: float) -> list[str]:
    """Why the machines differ, one line a figure; [] when every figure NEW has (and every one a run always has)
    is within the tolerance of the baseline's."""
    out = []
    for c in CALIBRATIONS:
        b, n = calibration_value(base, c.key), calibration_value(new, c.key)
        if n is None and not c.always:
            continue  # not measured in NEW (no memory cells): nothing of NEW's depends on it
        if b is None or n is None:
            out.append(f"{c.key}: {'the baseline' if b is None else 'the new run'} has none "
                       f"(a file from before conpar measured it)")
            continue
        change = compare.change_pct(b, n)
        if abs(change) > tolerance_pct:
            out.append(f"{c.key}: baseline {b:.4g}, new {n:.4g} {c.unit} ({change:+.1f}%, "
                       f"tolerance +-{tolerance_pct:g}%)")
    return out


# Which calibration figures price each machine cost of derived.machine_cost: a cell's ratios are judged
# only when its cost's figures match.
COST_CALIBRATIONS = {derived.OVERHEAD: ("syscall_ns", "futex_round_trip_us"), derived.BANDWIDTH: ("memcpy_gb_per_s",)}
COST_TEXT = {derived.OVERHEAD: f"cells whose requests wait or have under {derived.OVERHEAD_BOUND_US:g} µs of compute "
                               "(sleep, mixed, tcp, the finest cpu requests), whose cost is mostly system calls, "
                               "timers and wake-ups",
             derived.BANDWIDTH: "memory cells, whose cost is the memory bandwidth"}

# A derived metric is a ratio of two medians, each as noisy as an absolute metric, so its spread is about
# sqrt(2) times theirs: its default threshold is compare's default times sqrt(2) (a --threshold overrides it).
DERIVED_THRESHOLD_PCT = round(compare.DEFAULT_THRESHOLD_PCT * math.sqrt(2), 1)


def derived_rules() -> list[compare.Rule]:
    return [compare.Rule(None, m.key, DERIVED_THRESHOLD_PCT) for m in derived.METRICS]


def calibration_plan(tolerance_pct: float) -> compare.Plan:
    """The gate's plan: the derived metrics always (those of overhead-bound cells when the overhead's
    calibration matches), the absolute ones too when every calibration matches."""
    def plan(base: Run, new: Run) -> tuple[Run, Run, tuple[compare.Metric, ...], list[str]]:
        mismatches = calibration_mismatches(base.context, new.context, tolerance_pct)
        notes, unmatched = [], set()
        for cost, keys in COST_CALIBRATIONS.items():
            differ = [m for m in mismatches if m.split(":")[0] in keys]
            if differ:
                unmatched.add(cost)
                notes.append(f"Ratios of {COST_TEXT[cost]}, not judged (but a sleep cell's share of the bound): "
                             "their calibration differs from the baseline's: " + "; ".join(differ) + ".")
        base, new = (derived.derive_run(r, frozenset(unmatched)) for r in (base, new))
        if mismatches:
            notes += ["Absolute metrics (throughput, p99 latency, CPU per request) not judged: the calibration "
                     "differs from the baseline's, so they would measure the machine, not the code (not a "
                     "regression; only the machine-free metrics were judged): " + "; ".join(mismatches) + "."]
            metrics = derived.METRICS
        else:
            notes += [f"Calibration matches the baseline's within +-{tolerance_pct:g}% "
                     f"({', '.join(c.key for c in CALIBRATIONS if calibration_value(new.context, c.key))}): "
                     "absolute metrics judged too."]
            metrics = compare.METRICS + derived.METRICS
        for note in notes:
            print(f"baseline: {note}", file=sys.stderr)
        return base, new, metrics, notes
    return plan


def baseline_path(results: Path, baselines_dir: Path) -> Path:
    """Where the baseline for this run's machine class and suite lies (raises InputError for a bad file)."""
    run = load_run(results)
    suite = str(run.context.get("suite") or "default")
    return baselines_dir / machine_class(run.context) / f"{suite}.json"


def record(results: Path, baselines_dir: Path) -> Path:
    """Stores results as its machine class's baseline and returns where; raises InputError (also for a run
    with error rows: not a baseline) or OutputError (the target is checked before the file is rewritten)."""
    run = load_run(results)
    target = baseline_path(results, baselines_dir)
    check_target(target)
    if run.errors:
        names = sorted({e.name for e in run.errors})
        raise InputError(results, f"error rows, not a baseline: {', '.join(names)}")
    reps = min((len(c.samples("items_per_second")) for c in run.cells), default=0)
    if reps < compare.MIN_REPETITIONS:
        print(f"baseline: warning: {reps} repetitions per cell; the gate's U test needs "
              f"{compare.MIN_REPETITIONS} or more to have power (conpar run --repetitions 10)", file=sys.stderr)
    write_atomic(target, stored_form(results))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record a baseline per machine class, or gate a run against it.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("record", "store RESULTS as its machine class's baseline"),
                            ("path", "print where RESULTS's baseline lies")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("results", type=Path, metavar="RESULTS")
        p.add_argument("--baselines-dir", type=Path, default=DEFAULT_DIR)
    g = sub.add_parser("gate", help="compare NEW with its machine class's baseline (compare.py's exit codes)")
    g.add_argument("new", type=Path, metavar="NEW")
    g.add_argument("--baselines-dir", type=Path, default=DEFAULT_DIR)
    g.add_argument("--calibration-tolerance", type=compare.parse_pct, default=CALIBRATION_TOLERANCE_PCT,
                   metavar="PCT", help="judge absolute metrics only when every calibration figure of NEW is "
                                       f"within PCT%% of the baseline's (default {CALIBRATION_TOLERANCE_PCT:g})")
    compare.add_options(g, compare.METRICS + derived.METRICS)
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            write_stdout(f"baseline: recorded {record(args.results, args.baselines_dir)}\n")
            return EXIT_OK
        path = baseline_path(args.results if args.command == "path" else args.new, args.baselines_dir)
        if args.command == "path":
            write_stdout(f"{path}\n")
            return EXIT_OK
    except InputError as e:
        print(f"baseline: bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as e:
        print(f"baseline: {e}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    if not path.is_file():
        print(f"baseline: no baseline for this machine class: {path} is missing "
              f"(record one: conpar baseline record RESULTS)", file=sys.stderr)
        return EXIT_BAD_INPUT
    args.threshold = [*derived_rules(), *args.threshold]  # after compare's default, before the user's rules
    return compare.gate(path, args.new, args, appendix=DERIVED_LEGEND,
                        plan=calibration_plan(args.calibration_tolerance))


if __name__ == "__main__":
    sys.exit(main())
