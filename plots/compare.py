#!/usr/bin/python3
"""conpar compare: judges a new run against a base run, per benchmark and metric, for a CI gate.

    python3 plots/compare.py BASE NEW [--threshold [REGEX:]METRIC=PCT]... [--alpha A]
                             [--allow-mismatch] [--markdown FILE] [--json FILE]

A change counts only when it is beyond its threshold AND a Mann-Whitney U test over the
repetitions says it is unlikely to be chance (p < alpha): a threshold alone flags noise, a test
alone flags tiny real changes nobody cares about. Exit codes, the first that applies:
6 an output could not be written, 2 bad input or context mismatch, 3 benchmark errors, 2 nothing
comparable, 5 a benchmark missing from NEW, 1 regression, 4 too noisy to judge, 0 ok.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from atomic import OutputError, check_targets, write_atomic, write_stdout
from fmt import MISSING, num
from mannwhitney import mann_whitney_u
from results import Cell, ErrorRow, InputError, Run, load_run

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2  # also: runs from different machines or builds, nothing that could be judged
EXIT_BENCHMARK_ERRORS = 3
EXIT_TOO_NOISY = 4
EXIT_MISSING = 5  # a benchmark of BASE is not in NEW: it may be the worst regression of all
EXIT_OUTPUT_FAILED = 6  # not 1 or 2: the judgement may be fine, but nobody could read it

VERDICT_SCHEMA_VERSION = 1
DEFAULT_THRESHOLD_PCT = 5.0
DEFAULT_ALPHA = 0.01
# Below this many repetitions the test has little power: 5 vs 5 cannot go below p = 0.0079.
MIN_REPETITIONS = 9

# A difference in any of these makes the two runs different experiments.
CONTEXT_FIELDS = ("schema_version", "cpu_model", "cores", "build_type", "sanitizers")

REGRESSED, TOO_NOISY, IMPROVED, UNCHANGED, NO_DATA = "regressed", "too noisy", "improved", "unchanged", "no data"
NOT_IN_NEW = "missing"  # in BASE, not in NEW
VERDICTS = (REGRESSED, TOO_NOISY, IMPROVED, UNCHANGED, NO_DATA, NOT_IN_NEW)  # also the table's order


@dataclass(frozen=True)
class Metric:
    key: str  # its name in --threshold and in the verdict file
    counter: str
    label: str
    unit: str
    higher_is_better: bool
    # Only some cells have it (a ratio to a reference the cell may lack): where neither run does, no comparison.
    optional: bool = False

    def compared(self, base: list[float], new: list[float]) -> bool:
        return not self.optional or bool(base or new)


METRICS = (
    Metric("throughput", "items_per_second", "throughput", "req/s", True),
    Metric("p99", "latency_p99_us", "p99 latency", "µs", False),
    Metric("cpu", "cpu_us_per_request", "CPU per request", "µs", False),
)
ALL_METRICS = "all"


@dataclass(frozen=True)
class Rule:
    """A threshold: for benchmarks whose name the pattern fully matches (None: all), one metric or all."""

    pattern: str | None
    metric: str
    pct: float

    def applies(self, benchmark: str, metric: str) -> bool:
        return self.metric in (ALL_METRICS, metric) and (
            self.pattern is None or re.fullmatch(self.pattern, benchmark) is not None)

    def text(self) -> str:
        where = f"{self.pattern}:" if self.pattern is not None else ""
        return f"{where}{self.metric}={self.pct:g}"


DEFAULT_RULE = Rule(None, ALL_METRICS, DEFAULT_THRESHOLD_PCT)


def threshold_for(rules: list[Rule], benchmark: str, metric: str) -> float:
    """The last rule that applies wins, so a later, narrower --threshold refines an earlier one."""
    return next(r.pct for r in reversed(rules) if r.applies(benchmark, metric))


@dataclass
class Comparison:
    benchmark: str
    metric: Metric
    threshold_pct: float
    base: list[float]  # one value per repetition
    new: list[float]
    change_pct: float | None = None  # raw: (new - base) / base of the medians, whatever is better
    p: float | None = None
    verdict: str = NO_DATA

    @property
    def base_median(self) -> float | None:
        return statistics.median(self.base) if self.base else None

    @property
    def new_median(self) -> float | None:
        return statistics.median(self.new) if self.new else None

    @property
    def worse_pct(self) -> float:
        """The change signed so that positive is worse: the sort key of the table."""
        if self.change_pct is None:
            return 0.0
        return -self.change_pct if self.metric.higher_is_better else self.change_pct


def judge(benchmark: str, metric: Metric, threshold_pct: float, alpha: float,
          base: list[float], new: list[float]) -> Comparison:
    c = Comparison(benchmark, metric, threshold_pct, base, new)
    if not base or not new:
        return c
    c.change_pct = change_pct(c.base_median, c.new_median)
    c.p = mann_whitney_u(base, new).p
    if abs(c.change_pct) <= threshold_pct:
        c.verdict = UNCHANGED
    elif c.p >= alpha:
        c.verdict = TOO_NOISY  # a change this large, but the repetitions cannot tell it from chance
    else:
        c.verdict = REGRESSED if c.worse_pct > 0 else IMPROVED
    return c


def change_pct(base: float, new: float) -> float:
    if new == base:
        return 0.0
    if base == 0:
        return math.copysign(math.inf, new)
    return (new - base) * 100 / abs(base)


def context_differences(base: dict, new: dict) -> list[tuple[str, object, object]]:
    return [(k, base.get(k), new.get(k)) for k in CONTEXT_FIELDS if base.get(k) != new.get(k)]


def show_value(value: object) -> str:
    return "(absent)" if value is None else json.dumps(value)


def difference_text(diff: tuple[str, object, object]) -> str:
    field, base, new = diff
    return f"{field}: base {show_value(base)}, new {show_value(new)}"


def smallest_p(n1: int, n2: int) -> float:
    """The smallest p the test can give with these sample sizes: fully separated samples."""
    return mann_whitney_u(range(n1), range(n1, n1 + n2)).p


@dataclass
class Outcome:
    base: Run
    new: Run
    rules: list[Rule]
    alpha: float
    comparisons: list[Comparison]
    only_in_base: list[str]
    only_in_new: list[str]
    errors: list[tuple[str, ErrorRow]]  # ("base" or "new", the row)
    warnings: list[str]
    differences: list[tuple[str, object, object]]  # context differences let through by --allow-mismatch
    notes: list[str] = field(default_factory=list)  # what the caller's plan says about what it judged (baseline.py)

    @property
    def counts(self) -> Counter:
        return Counter(c.verdict for c in self.comparisons)

    @property
    def benchmarks(self) -> int:
        return len({c.benchmark for c in self.comparisons})

    @property
    def judged(self) -> bool:
        """Some metric had values in both runs: without one, "no regression" would be a claim about nothing."""
        return any(c.change_pct is not None for c in self.comparisons)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return EXIT_BENCHMARK_ERRORS
        if not self.judged:
            return EXIT_BAD_INPUT
        if self.counts[NOT_IN_NEW]:
            return EXIT_MISSING
        if self.counts[REGRESSED]:
            return EXIT_REGRESSION
        if self.counts[TOO_NOISY]:
            return EXIT_TOO_NOISY
        return EXIT_OK


def compare(base: Run, new: Run, rules: list[Rule], alpha: float,
            differences: list[tuple[str, object, object]] = (), metrics: tuple[Metric, ...] = METRICS,
            notes: list[str] = ()) -> Outcome:
    """Judges every metric of `metrics` (compare and ab: the absolute ones) of every benchmark in both runs."""
    base_cells = {c.name: c for c in base.cells}
    new_cells = {c.name: c for c in new.cells}
    errors = [("base", e) for e in base.errors] + [("new", e) for e in new.errors]
    failed = {e.name for _, e in errors}  # one failed repetition makes a cell's numbers untrustworthy
    common = [n for n in base_cells if n in new_cells and n not in failed]
    samples = [(name, m, base_cells[name].samples(m.counter), new_cells[name].samples(m.counter))
               for name in common for m in metrics]
    comparisons = [judge(name, m, threshold_for(rules, name, m.key), alpha, b, n)
                   for name, m, b, n in samples if m.compared(b, n)]
    missing = [n for n in base_cells if n not in new_cells and n not in failed]
    comparisons += [Comparison(name, m, threshold_for(rules, name, m.key), base_cells[name].samples(m.counter), [],
                               verdict=NOT_IN_NEW)
                    for name in missing for m in missing_metrics(base_cells[name], metrics)]
    comparisons.sort(key=lambda c: (VERDICTS.index(c.verdict), -c.worse_pct, c.benchmark, metrics.index(c.metric)))
    warnings = [f"context differs, compared anyway (--allow-mismatch): {difference_text(d)}" for d in differences]
    warnings += few_repetitions_warning(comparisons, alpha)
    return Outcome(base, new, rules, alpha, comparisons,
                   sorted(set(base_cells) - set(new_cells)), sorted(set(new_cells) - set(base_cells)),
                   errors, warnings, list(differences), list(notes))


def missing_metrics(cell: Cell, metrics: tuple[Metric, ...]) -> list[Metric]:
    """The metrics a benchmark missing from NEW is listed under: those BASE has; at least one, so that a cell no
    metric applies to (a seq reference, under baseline.py's ratios) is still "missing", never silently dropped."""
    have = [m for m in metrics if m.compared(cell.samples(m.counter), [])]
    return have or list(metrics[:1])


def few_repetitions_warning(comparisons: list[Comparison], alpha: float) -> list[str]:
    few = [c for c in comparisons if c.base and c.new and min(len(c.base), len(c.new)) < MIN_REPETITIONS]
    if not few:
        return []
    worst = min(few, key=lambda c: (min(len(c.base), len(c.new)), len(c.base) + len(c.new)))
    n1, n2 = len(worst.base), len(worst.new)
    floor = smallest_p(n1, n2)
    text = (f"{len(few)} of {len(comparisons)} comparisons have fewer than {MIN_REPETITIONS} repetitions in a run "
            f"(fewest: {n1} vs {n2}, e.g. {worst.benchmark} {worst.metric.label}): the U test has little power; "
            f"with {n1} vs {n2} the smallest possible p is {floor:.2g}")
    if floor >= alpha:
        text += f", not below alpha {alpha:g}, so no change there can be judged significant"
    return [text + "."]


# ---------------------------------------------------------------- outputs

def short_commit(ctx: dict) -> str:
    return str(ctx.get("git_commit") or "unknown")[:7]


def rules_text(rules: list[Rule]) -> str:
    return ", ".join(r.text() for r in rules)


def value_text(x: float | None, metric: Metric) -> str:
    return MISSING if x is None else f"{num(x)} {metric.unit}"


def change_text(x: float | None) -> str:
    return MISSING if x is None else f"{x:+.1f}%"


def p_text(p: float | None) -> str:
    return MISSING if p is None else f"{p:.2g}"


def md_code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


HEADLINES = {
    EXIT_OK: "No regression",
    EXIT_REGRESSION: "Regression",
    EXIT_BAD_INPUT: "Nothing comparable",
    EXIT_BENCHMARK_ERRORS: "Benchmark errors",
    EXIT_TOO_NOISY: "Too noisy to judge",
    EXIT_MISSING: "Benchmarks missing from new",
}


def render_markdown(o: Outcome) -> str:
    counts = o.counts
    tally = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
    out = ["# conpar compare", "",
           f"**{HEADLINES[o.exit_code]}** (exit {o.exit_code}): {len(o.comparisons)} comparisons of "
           f"{o.benchmarks} benchmarks of base: {tally}."
           + (f" {len(o.errors)} failed repetitions (below)." if o.errors else ""), "",
           f"Base {md_code(o.base.path)} ({short_commit(o.base.context)}), new {md_code(o.new.path)} "
           f"({short_commit(o.new.context)}). Thresholds (the last that applies wins): {rules_text(o.rules)}; "
           f"alpha {o.alpha:g}.", ""]
    out += [f"- {n}" for n in o.notes] + ([""] if o.notes else [])
    if o.comparisons:
        out += ["| benchmark | metric | base median | new median | change | p | verdict |",
                "|---|---|---:|---:|---:|---:|---|"]
        for c in o.comparisons:
            verdict = f"**{c.verdict}**" if c.verdict == REGRESSED else c.verdict
            out.append(f"| {md_code(c.benchmark)} | {c.metric.label} | {value_text(c.base_median, c.metric)} | "
                       f"{value_text(c.new_median, c.metric)} | {change_text(c.change_pct)} | {p_text(c.p)} | "
                       f"{verdict} |")
        out += ["", "_Throughput: higher is better; p99 latency and CPU per request: lower is better. A change "
                "counts when it is beyond its threshold and p < alpha (two-sided Mann-Whitney U over the "
                "repetitions)._", ""]
    if o.only_in_base or o.only_in_new:
        out += ["## Only in one run", ""]
        out += [f"- only in base: {md_code(n)}" for n in o.only_in_base]
        out += [f"- only in new: {md_code(n)}" for n in o.only_in_new]
        out.append("")
    if o.errors:
        out += ["## Benchmark errors", ""]
        out += [f"- {run}: {md_code(e.name)}"
                + (f" (repetition {e.repetition})" if e.repetition is not None else "")
                + f": {e.message}" for run, e in o.errors]
        out.append("")
    if o.warnings:
        out += ["## Warnings", ""] + [f"- {w}" for w in o.warnings] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def verdict_document(o: Outcome) -> dict:
    def run(r: Run) -> dict:
        return {"file": r.path, "git_commit": r.context.get("git_commit")}

    return {
        "schema_version": VERDICT_SCHEMA_VERSION,
        "base": run(o.base),
        "new": run(o.new),
        "alpha": o.alpha,
        "thresholds": [{"benchmark": r.pattern, "metric": r.metric, "pct": r.pct} for r in o.rules],
        "context_differences": [{"field": f, "base": b, "new": n} for f, b, n in o.differences],
        "comparisons": [
            {"benchmark": c.benchmark, "metric": c.metric.key, "counter": c.metric.counter,
             "better": "higher" if c.metric.higher_is_better else "lower", "threshold_pct": c.threshold_pct,
             "base": {"median": c.base_median, "n": len(c.base)}, "new": {"median": c.new_median, "n": len(c.new)},
             "change_pct": finite_or_none(c.change_pct), "p": c.p, "verdict": c.verdict}
            for c in o.comparisons
        ],
        "only_in_base": o.only_in_base,
        "only_in_new": o.only_in_new,
        "errors": [{"run": run_name, "benchmark": e.name, "repetition": e.repetition, "message": e.message}
                   for run_name, e in o.errors],
        "warnings": o.warnings,
        **({"notes": o.notes} if o.notes else {}),
        "summary": {"benchmarks": o.benchmarks, "comparisons": len(o.comparisons),
                    **{v: o.counts[v] for v in VERDICTS}},
        "exit_code": o.exit_code,
    }


# ---------------------------------------------------------------- command line

def parse_pct(text: str) -> float:
    """A percentage >= 0: a threshold, or baseline.py's calibration tolerance."""
    try:
        pct = float(text)
    except ValueError:
        pct = math.nan
    if not (math.isfinite(pct) and pct >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage >= 0")
    return pct


def parse_rule(text: str, metrics: tuple[Metric, ...] = METRICS) -> Rule:
    """[REGEX:]METRIC=PCT. The metric is after the last colon: benchmark names hold colons, metrics do not."""
    spec, eq, pct_text = text.rpartition("=")
    pattern, colon, metric = spec.rpartition(":")
    keys = [m.key for m in metrics] + [ALL_METRICS]
    if not eq or metric not in keys:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected [REGEX:]METRIC=PERCENT with METRIC one of {', '.join(keys)}")
    try:
        pct = parse_pct(pct_text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}") from None
    if colon and not pattern:
        raise argparse.ArgumentTypeError(f"{text!r}: empty benchmark pattern before ':'")
    if colon:
        try:
            re.compile(pattern)
        except re.error as e:
            raise argparse.ArgumentTypeError(f"{text!r}: {pattern!r} is not a regular expression: {e}") from e
    return Rule(pattern if colon else None, metric, pct)


def parse_alpha(text: str) -> float:
    try:
        alpha = float(text)
    except ValueError:
        alpha = math.nan
    if not 0 < alpha < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a significance level between 0 and 1")
    return alpha


def add_options(parser: argparse.ArgumentParser, metrics: tuple[Metric, ...] = METRICS) -> None:
    """The options of the judgement and its outputs; ab.py takes the same ones, baseline.py with its own metrics."""
    keys = ", ".join(m.key for m in metrics)
    parser.add_argument("--threshold", type=lambda text: parse_rule(text, metrics), action="append", default=[],
                        metavar="[REGEX:]METRIC=PCT",
                        help=f"smallest change in percent that counts (default: all=5); METRIC is {keys} "
                             "or all; REGEX must match the whole benchmark name; repeatable, the last "
                             "rule that applies wins")
    parser.add_argument("--alpha", type=parse_alpha, default=DEFAULT_ALPHA,
                        help=f"significance level of the U test (default {DEFAULT_ALPHA:g})")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="compare runs whose " + ", ".join(CONTEXT_FIELDS) + " differ (a warning says so)")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="also write the Markdown summary (always printed on stdout) to FILE")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the verdict file")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare a new conpar run with a base run: throughput, p99 latency and CPU per request "
                    "of every benchmark in both, each judged by a threshold and a Mann-Whitney U test.",
        epilog="exit codes, the first that applies: 6 an output could not be written, 2 bad input or context "
               "mismatch, 3 benchmark errors, 2 nothing comparable, 5 a benchmark missing from NEW, 1 regression, "
               "4 too noisy to judge, 0 otherwise")
    parser.add_argument("base", type=Path, metavar="BASE", help="results file of the base run")
    parser.add_argument("new", type=Path, metavar="NEW", help="results file of the new run")
    add_options(parser)
    return parser.parse_args(argv)


# What a caller judges instead of the absolute metrics: (base, new) -> (base, new, metrics, notes), e.g. the runs
# with derived counters added to their repetitions, the metrics to judge on them, and lines saying why.
Plan = Callable[[Run, Run], tuple[Run, Run, tuple[Metric, ...], list[str]]]


def gate(base_path: Path, new_path: Path, args: argparse.Namespace, appendix: str = "",
         extra: dict | None = None, plan: Plan | None = None) -> int:
    """Loads both runs, judges them, prints the summary and writes the outputs that args ask for
    (threshold, alpha, allow_mismatch, markdown, json, as add_options makes them). appendix is added to
    the Markdown summary, extra to the verdict file; plan, when given, chooses the metrics once the runs are
    read and checked. Returns the exit code."""
    try:
        check_targets([args.markdown, args.json])  # before the work: a bad path should cost nothing
    except OutputError as e:
        print(f"compare: {e}", file=sys.stderr)
        return EXIT_OUTPUT_FAILED
    try:
        base, new = load_run(base_path), load_run(new_path)
    except InputError as e:
        print(f"compare: bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    differences = context_differences(base.context, new.context)
    if differences and not args.allow_mismatch:
        print("compare: the runs come from different machines or builds (--allow-mismatch compares them anyway):\n"
              + "\n".join(f"  {difference_text(d)}" for d in differences), file=sys.stderr)
        return EXIT_BAD_INPUT
    if not {c.name for c in base.cells} & {c.name for c in new.cells}:
        print(f"compare: bad input: {base.path} and {new.path} have no benchmark in common", file=sys.stderr)
        return EXIT_BAD_INPUT

    metrics, notes = METRICS, []
    if plan is not None:
        base, new, metrics, notes = plan(base, new)
    outcome = compare(base, new, [DEFAULT_RULE, *args.threshold], args.alpha, differences, metrics, notes)
    markdown = render_markdown(outcome) + (f"\n{appendix.rstrip()}\n" if appendix else "")
    try:
        if args.markdown:
            write_atomic(args.markdown, markdown)
        if args.json:
            write_atomic(args.json, json.dumps({**verdict_document(outcome), **(extra or {})}, indent=1,
                                               ensure_ascii=False, allow_nan=False) + "\n")
        write_stdout(markdown)  # last: a full or closed stdout does not cost the files
    except OutputError as e:
        print(f"compare: {e}", file=sys.stderr)
        return EXIT_OUTPUT_FAILED
    report_problems(outcome)
    return outcome.exit_code


def report_problems(o: Outcome) -> None:
    """On stderr, what makes the exit code one a CI log should explain."""
    if o.errors:
        names = {run: sorted({e.name for r, e in o.errors if r == run}) for run in ("base", "new")}
        print("compare: benchmark errors: " + "; ".join(f"{run}: {', '.join(n)}" for run, n in names.items() if n),
              file=sys.stderr)
    elif not o.judged:
        print("compare: bad input: nothing comparable: no metric of a benchmark in both runs has values in both "
              "(every comparison is \"no data\")", file=sys.stderr)
    missing = sorted({c.benchmark for c in o.comparisons if c.verdict == NOT_IN_NEW})
    if missing:
        print(f"compare: missing from new: {', '.join(missing)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return gate(args.base, args.new, args)


if __name__ == "__main__":
    sys.exit(main())
