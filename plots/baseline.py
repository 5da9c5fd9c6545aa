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
record and path exit 0 done, 1 the baseline (checked before the file is rewritten) or stdout could not
be written, 2 bad input (as every tool's: results.load_run).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import compare
from atomic import OutputError, check_target, write_atomic, write_stdout
from results import InputError, load_run, machine_class, stored_form

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "results" / "baselines"
EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


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
    compare.add_options(g)
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
    return compare.gate(path, args.new, args)


if __name__ == "__main__":
    sys.exit(main())
