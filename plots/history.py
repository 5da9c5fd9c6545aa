#!/usr/bin/python3
"""conpar history: keeps every run as one file, so the report can show how the numbers moved.

    python3 plots/history.py append RESULTS [--history-dir results/history]
    python3 plots/history.py machine-class RESULTS

append copies RESULTS, byte for byte, to <history-dir>/<UTC date>_<commit>_<machine class>.json,
e.g. 20261123T084332Z_6217adf_amd-epyc-2c.json (date: the run's start, yyyymmddThhmmssZ; commit:
7 hex digits, "-dirty" kept, or "unknown"), and prints the path. An entry is never replaced: a second
one with the same name gets _2, _3, ... before .json. machine-class prints RESULTS' machine class
(results.machine_class: CPU model and cores as a slug), the folder name of its baselines under
results/baselines/. Exit codes: 0 done, 1 the entry could not be written, 2 bad input (a missing
file, not a conpar results file, a run without a date).
"""
from __future__ import annotations

import argparse
import itertools
import re
import sys
from pathlib import Path

from atomic import OutputError, check_folder, write_new, write_stdout
from results import InputError, Run, load_run, machine_class, run_date, short_commit, stored_form

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "results" / "history"
EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# <date>_<commit>_<machine class>[_<n>].json; the class is a slug, so it holds no "_".
ENTRY = re.compile(r"(?P<date>\d{8}T\d{6}Z)_(?P<commit>[0-9a-z-]+)_(?P<machine>[0-9a-z-]+?)(?:_(?P<n>\d+))?\.json")

# Beside the machine class, what makes two runs' numbers comparable in one trend: the same suite (smoke
# runs are tiny and their numbers are not meant to be read) and the same build (a Debug or sanitized
# build is slower by design).
SAME = ("suite", "build_type", "sanitizers")


def entry_name(run: Run, n: int = 1) -> str:
    when = run_date(run.context)
    if when is None:
        raise InputError(run.path, "its context has no readable date (ISO 8601): a history entry is named after it")
    commit = re.sub(r"[^0-9a-z-]", "", short_commit(run.context.get("git_commit")).lower()) or "unknown"
    suffix = f"_{n}" if n > 1 else ""
    return f"{when:%Y%m%dT%H%M%SZ}_{commit}_{machine_class(run.context)}{suffix}.json"


def append(results: Path, history_dir: Path) -> Path:
    """Copies a results file, without its latency histograms, into the history under a new name; never
    replaces an entry."""
    run = load_run(results)
    data = stored_form(results).encode("utf-8")
    for n in itertools.count(1):
        path = history_dir / entry_name(run, n)
        if write_new(path, data):
            return path
    raise AssertionError("unreachable")


def comparable(run: Run, other: Run) -> bool:
    return machine_class(other.context) == machine_class(run.context) and all(
        other.context.get(k) == run.context.get(k) for k in SAME)


def load_history(folder: Path, run: Run) -> list[Run]:
    """The runs in folder that a trend may set beside run (same machine class, suite and build), oldest
    first. A file that is not a readable results file or has no date is left out with a warning: a
    history is read for a report, which should not fail for one bad entry."""
    if not folder.is_dir():
        return []
    wanted = machine_class(run.context)
    runs = []
    for path in sorted(folder.glob("*.json")):
        named = ENTRY.fullmatch(path.name)
        if named and named["machine"] != wanted:
            continue  # another machine's entry: not worth reading
        try:
            entry = load_run(path)
        except InputError as e:
            print(f"history: skipped {e}", file=sys.stderr)
            continue
        if run_date(entry.context) is None:
            print(f"history: skipped {path}: no readable date in its context", file=sys.stderr)
            continue
        if comparable(run, entry):
            runs.append(entry)
    return sorted(runs, key=lambda r: (run_date(r.context), r.path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="history.py", description="Keep conpar runs in a history folder; name a run's machine class.",
        epilog="exit codes: 0 done, 1 the history entry could not be written, 2 bad input")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("append", help="copy a results file into the history as a new entry")
    add.add_argument("results", type=Path, metavar="RESULTS", help="conpar results file")
    add.add_argument("--history-dir", type=Path, default=DEFAULT_DIR,
                     help="the history folder (default: results/history in the repository)")
    show = commands.add_parser("machine-class", help="print the machine class of a results file")
    show.add_argument("results", type=Path, metavar="RESULTS", help="conpar results file")
    args = parser.parse_args(argv)
    try:
        if args.command == "machine-class":
            write_stdout(machine_class(load_run(args.results).context) + "\n")
        else:
            check_folder(args.history_dir, args.history_dir)  # before the file is read
            write_stdout(f"{append(args.results, args.history_dir)}\n")
    except InputError as e:
        print(f"history: bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as e:
        print(f"history: {e}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
