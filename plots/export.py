#!/usr/bin/python3
"""conpar export: one results file in the formats of outside trackers, for history across commits.

    python3 plots/export.py RESULTS [--bmf OUT] [--github-action-bigger OUT] [--github-action-smaller OUT]

--bmf: Bencher Metric Format. Measures are Bencher's built-in `throughput` (operations/s: requests/s)
and `latency` (nanoseconds: here the p99), and `cpu-per-request` (nanoseconds; Bencher creates it on
first upload). --github-action-bigger / --github-action-smaller: github-action-benchmark's
customBiggerIsBetter (throughput) and customSmallerIsBetter (p99 latency, CPU per request, in µs).
Each value is the median over the repetitions, with the lowest and highest repetition beside it.
Failed benchmarks are left out. Exit codes: 0 written, 1 an output could not be written (checked before
the results are read), 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from atomic import OutputError, check_targets, write_atomic
from compare import METRICS, Metric
from results import InputError, Run, load_run

EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2

NS_PER_US = 1000.0
# Bencher measure slug and the factor from our counter to the measure's unit.
BMF_MEASURES = {"throughput": ("throughput", 1.0), "p99": ("latency", NS_PER_US), "cpu": ("cpu-per-request", NS_PER_US)}


def summaries(run: Run) -> list[tuple[str, Metric, list[float]]]:
    """(benchmark, metric, per-repetition values) for every successful benchmark and metric it has."""
    return [(c.name, m, c.samples(m.counter)) for c in run.cells if c.ok for m in METRICS if c.samples(m.counter)]


def bmf(run: Run) -> dict:
    doc: dict = {}
    for name, metric, values in summaries(run):
        slug, scale = BMF_MEASURES[metric.key]
        doc.setdefault(name, {})[slug] = {"value": statistics.median(values) * scale,
                                          "lower_value": min(values) * scale, "upper_value": max(values) * scale}
    return doc


def github_action(run: Run, higher_is_better: bool) -> list[dict]:
    commit = str(run.context.get("git_commit") or "unknown")[:7]
    out = []
    for name, metric, values in summaries(run):
        if metric.higher_is_better != higher_is_better:
            continue
        median = statistics.median(values)
        # "± x" is the range form the action reads; x covers every repetition.
        spread = max(max(values) - median, median - min(values))
        out.append({"name": f"{name} {metric.label}", "unit": metric.unit, "value": median,
                    "range": f"± {spread:.6g}",
                    "extra": f"median of {len(values)} repetitions, min {min(values):.6g}, max {max(values):.6g}; "
                             f"commit {commit}"})
    return out


def dump(doc: dict | list) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a conpar results file for Bencher or github-action-benchmark.")
    parser.add_argument("results", type=Path, metavar="RESULTS", help="a conpar results file")
    parser.add_argument("--bmf", type=Path, metavar="OUT", help="Bencher Metric Format JSON")
    parser.add_argument("--github-action-bigger", type=Path, metavar="OUT",
                        help="github-action-benchmark customBiggerIsBetter JSON (throughput)")
    parser.add_argument("--github-action-smaller", type=Path, metavar="OUT",
                        help="github-action-benchmark customSmallerIsBetter JSON (p99 latency, CPU per request)")
    args = parser.parse_args(argv)
    outputs = [(args.bmf, bmf), (args.github_action_bigger, lambda r: github_action(r, True)),
               (args.github_action_smaller, lambda r: github_action(r, False))]
    if not any(path for path, _ in outputs):
        parser.error("nothing to write: give --bmf, --github-action-bigger or --github-action-smaller")
    try:
        check_targets(path for path, _ in outputs)
        run = load_run(args.results)
        for path, make in outputs:
            if path:
                write_atomic(path, dump(make(run)))
    except InputError as e:
        print(f"export: bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as e:
        print(f"export: {e}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
