"""Loads conpar results files and reduces each cell to one row of numbers.

A results file is Google Benchmark JSON extended by conpar (results/README.md). Each cell
(one run_name) may have several repetitions plus aggregate rows; the report reads the median
row when there is one, otherwise the single iteration row.
"""
from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from intervals import median_interval

SCHEMA_VERSION = 1  # the newest results schema this report reads

PERCENTILES = (
    ("latency_p50_us", "p50"),
    ("latency_p90_us", "p90"),
    ("latency_p99_us", "p99"),
    ("latency_p999_us", "p99.9"),
)

# Name parameters that say how a cell is loaded rather than what a request is: an open-loop cell
# (rate:R absolute, rate_fraction:F of its closed-loop peak) has the same request shape as its closed-loop cell.
LOAD_KEYS = ("workers", "concurrency", "rate", "rate_fraction")
OPEN_LOOP_KEYS = ("rate", "rate_fraction")


class InputError(Exception):
    """A file that is missing, unreadable or not a conpar results file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


@dataclass
class Cell:
    """One cell of a run: its identity from the name, its numbers from the chosen row."""

    name: str
    workload: str
    runner: str
    params: dict[str, float]  # every key:value of the name, workers and concurrency included
    counters: dict[str, float] = field(default_factory=dict)
    noisy: bool = False
    error: str | None = None
    # percentile counter -> why it is absent ("too few samples ...")
    missing: dict[str, str] = field(default_factory=dict)
    # each iteration row's numbers, in file order: a comparison tests them all, not one median
    repetitions: list[dict[str, float]] = field(default_factory=list)
    # the suite's experiments the cell serves ("granularity", "crossover"); a cell can serve several
    sweeps: tuple[str, ...] = ()
    # the harness's ci_low and ci_high aggregate rows, {"ci_low": numbers, "ci_high": numbers}; empty in older files
    ci_rows: dict[str, dict[str, float]] = field(default_factory=dict)

    def get(self, key: str) -> float | None:
        return self.counters.get(key)

    def samples(self, key: str) -> list[float]:
        """The counter's value in each repetition that has one (load_run let only finite ones in)."""
        return [r[key] for r in self.repetitions if key in r]

    def interval(self, key: str) -> tuple[float, float, float] | None:
        """(low, high, coverage) of the counter's median: the harness's ci rows when the file has them, else the
        same rule over the repetitions (an older file); None with fewer than 2 repetitions (a smoke run)."""
        computed = median_interval(self.samples(key))
        low, high = self.ci_rows.get("ci_low", {}), self.ci_rows.get("ci_high", {})
        if key in low and key in high:
            cover = low.get("ci_coverage", high.get("ci_coverage"))
            return low[key], high[key], cover if cover is not None else computed and computed[2]
        return computed

    def param(self, key: str) -> float | None:
        """A name parameter, else the counter of the same name (error rows only have the name)."""
        return self.params.get(key, self.counters.get(key))

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def workers(self) -> int:
        return int(self.param("workers") or 1)

    @property
    def concurrency(self) -> int:
        return int(self.param("concurrency") or 1)

    @property
    def open_loop(self) -> bool:
        """Offered a rate: by its counters, or by its name (a failed open-loop cell has only the name)."""
        return "offered_per_second" in self.counters or any(k in self.params for k in OPEN_LOOP_KEYS)

    @property
    def rate_fraction(self) -> float | None:
        """The fraction of its runner's closed-loop peak an open-loop cell was offered, if it was."""
        return self.param("rate_fraction")

    @property
    def closed_loop_name(self) -> str:
        """The name of the closed-loop cell with the same runner, load point and request: the peak an
        open-loop cell's rate_fraction scales (the name without its rate or rate_fraction part)."""
        return "/".join(p for p in self.name.split("/") if p.partition(":")[0] not in OPEN_LOOP_KEYS)

    @property
    def shape(self) -> tuple[tuple[str, float], ...]:
        """The request's parameters from the name: what the work is, not how it is loaded."""
        return tuple((k, v) for k, v in self.params.items() if k not in LOAD_KEYS)

    def shape_label(self, without: Iterable[str] = ()) -> str:
        skip = set(without)
        parts = [f"{k} {v:g}" for k, v in self.shape if k not in skip]
        return " ".join([self.workload, *parts])


@dataclass
class ErrorRow:
    name: str
    repetition: int | None
    message: str


@dataclass
class Run:
    """One results file."""

    path: str
    context: dict
    cells: list[Cell]
    errors: list[ErrorRow]

    @property
    def cores(self) -> int | None:
        return context_cores(self.context)

    def select(self, workload: str | None = None, closed_loop: bool = True) -> list[Cell]:
        """Successful cells (of one workload), closed- or open-loop ones."""
        return [
            c
            for c in self.cells
            if c.ok and (workload is None or c.workload == workload) and c.open_loop != closed_loop
        ]

    def runners(self) -> list[str]:
        return order_runners({c.runner for c in self.cells})

    def cell(self, name: str) -> Cell | None:
        return next((c for c in self.cells if c.name == name), None)



def context_cores(ctx: dict) -> int | None:
    """The cores the run could use: conpar's cores, else Google Benchmark's num_cpus."""
    cores = ctx.get("cores", ctx.get("num_cpus"))
    return int(cores) if isinstance(cores, (int, float)) and not isinstance(cores, bool) and cores > 0 else None


def machine_class(ctx: dict) -> str:
    """The name of the machines whose numbers can be compared: CPU model and core count as a slug,
    e.g. "AMD EPYC 7B13" on 2 cores -> amd-epyc-7b13-2c. It names history entries and the baseline folder
    results/baselines/<machine-class>/, so it must not change for the same context."""
    model = str(ctx.get("cpu_model") or "")
    model = re.sub(r"\((?:r|tm|c)\)", " ", model.lower())  # Intel(R) Xeon(R): the marks say nothing
    slug = re.sub(r"[^a-z0-9]+", "-", model).strip("-") or "unknown-cpu"
    cores = context_cores(ctx)
    return f"{slug}-{cores}c" if cores is not None else f"{slug}-unknown-cores"


def short_commit(commit: object) -> str:
    """The commit as people quote it: 7 hex digits, "-dirty" kept (the tree had changes), or "unknown"."""
    text = str(commit or "unknown")
    return text[:7] + ("-dirty" if text.endswith("-dirty") else "")


def run_date(ctx: dict) -> datetime | None:
    """When the run started, in UTC, from Google Benchmark's ISO 8601 date (a date without an offset is
    taken as UTC); None when absent or unreadable."""
    try:
        when = datetime.fromisoformat(str(ctx["date"]))
    except (KeyError, ValueError):
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)

# The order runners appear in, in legends and tables: the reference first, then by model.
KNOWN_RUNNERS = ("seq", "coro", "threads", "procs")


def order_runners(names: Iterable[str]) -> list[str]:
    names = set(names)
    known = [r for r in KNOWN_RUNNERS if r in names]
    return known + sorted(names - set(known))


def group_by(cells: Iterable[Cell], key) -> dict:
    """Groups cells by key(cell), in the order the keys first appear."""
    groups: dict = {}
    for c in cells:
        groups.setdefault(key(c), []).append(c)
    return groups


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files as given; folders become their *.json files, sorted so the report is reproducible."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.glob("*.json") if q.is_file())
            if not found:
                raise InputError(p, "folder holds no *.json file")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise InputError(p, "no such file or folder")
    return paths


def load_run(path: Path) -> Run:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise InputError(path, "not JSON: not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise InputError(path, f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e

    if not isinstance(doc, dict) or not isinstance(doc.get("context"), dict) or not isinstance(
        doc.get("benchmarks"), list
    ):
        raise InputError(path, "not a conpar results file: expected an object with 'context' and 'benchmarks'")
    context = doc["context"]
    version = context.get("schema_version")
    if version is None:
        raise InputError(path, "not a conpar results file: its context has no schema_version "
                               "(a plain Google Benchmark file?)")
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise InputError(path, f"schema_version {version!r} is not one this report reads (1..{SCHEMA_VERSION})")

    rows = doc["benchmarks"]
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise InputError(path, f"benchmarks[{i}] is not a row with a name")
        if len(row.get("run_name", row["name"]).split("/")) < 2:
            raise InputError(path, f"benchmarks[{i}]: name {row['name']!r} is not <workload>/<runner>/...")
        _check_numbers(path, i, row)
    _check_unique(path, rows)

    by_cell = group_by(rows, lambda r: r.get("run_name", r["name"]))
    cells = [_reduce(name, cell_rows) for name, cell_rows in by_cell.items()]
    errors = [
        ErrorRow(r.get("run_name", r["name"]), r.get("repetition_index"), str(r.get("error_message") or "no message"))
        for r in rows
        if r.get("error_occurred")
    ]
    return Run(str(path), context, cells, errors)


# The fields of a row that are not numbers: names, units, the error, the sweeps list and the histogram.
NON_NUMBER_FIELDS = frozenset({"name", "run_name", "run_type", "aggregate_name", "aggregate_unit", "time_unit",
                               "label", "error_occurred", "error_message", "sweeps", "histogram"})


def is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _row_label(i: int, row: dict) -> str:
    """benchmarks[12] (cpu/seq/..., repetition 0): how a message names a row."""
    rep = row.get("repetition_index")
    which = (f"aggregate {row.get('aggregate_name')}" if row.get("run_type") == "aggregate"
             else "iteration" if rep is None else f"repetition {rep}")
    return f"benchmarks[{i}] ({row.get('run_name', row['name'])}, {which})"


def _check_numbers(path: Path, i: int, row: dict) -> None:
    """Every number of a row is finite and >= 0: conpar writes no other (a percentile without samples is left
    out), so NaN, an infinity, a string, a negative value or a null is a corrupt file, never a number to plot
    or judge. The exception: null in an aggregate row is Google Benchmark's NaN as conpar writes it (the cv of
    a counter that is 0 in every repetition)."""
    aggregate = row.get("run_type") == "aggregate"
    for key, value in row.items():
        if key in NON_NUMBER_FIELDS or (value is None and aggregate):
            continue
        if not (is_number(value) and math.isfinite(value) and value >= 0):
            raise InputError(path, f"{_row_label(i, row)}: {key} is {json.dumps(value)}, not a finite number >= 0")


def _check_unique(path: Path, rows: list[dict]) -> None:
    """Each (name, repetition), and each (name, aggregate), appears once: a copied row would count as one
    more repetition, and more repetitions make the U test call a change significant."""
    seen: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        aggregate = row.get("run_type") == "aggregate"
        key = (row.get("run_name", row["name"]), aggregate,
               row.get("aggregate_name") if aggregate else row.get("repetition_index"))
        first = seen.setdefault(key, i)
        if first != i:
            raise InputError(path, f"{_row_label(i, row)} appears twice (also benchmarks[{first}])")


def stored_form(path: Path) -> str:
    """A results file as baselines and history keep it: every row's per-repetition latency histogram left out
    (compare and the trend read counters only; the histograms are four fifths of a file), the rest as it was."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    for row in doc.get("benchmarks", []):
        if isinstance(row, dict):
            row.pop("histogram", None)
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def load_runs(inputs: Iterable[str]) -> list[Run]:
    return [load_run(p) for p in expand_inputs(inputs)]


def _parse_name(name: str) -> tuple[str, str, dict[str, float]]:
    workload, runner, *rest = name.split("/")
    params: dict[str, float] = {}
    for part in rest:
        key, sep, value = part.partition(":")
        if not sep:
            continue
        try:
            params[key] = float(value)
        except ValueError:
            continue  # a non-numeric parameter says nothing the counters do not
    return workload, runner, params


def _numbers(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items() if is_number(v)}


def _sweeps(rows: list[dict]) -> tuple[str, ...]:
    """The sweeps the cell's rows name, in the order they first appear (every row carries the same list)."""
    names = [s for r in rows if isinstance(r.get("sweeps"), list) for s in r["sweeps"] if isinstance(s, str)]
    return tuple(dict.fromkeys(names))


def _reduce(name: str, rows: list[dict]) -> Cell:
    workload, runner, params = _parse_name(name)
    iterations = [r for r in rows if r.get("run_type", "iteration") == "iteration"]
    failed = [r for r in rows if r.get("error_occurred")]
    if failed:
        # One failed repetition makes the whole cell untrustworthy: it gets no numbers.
        return Cell(name, workload, runner, params, error=str(failed[0].get("error_message") or "no message"),
                    sweeps=_sweeps(rows))

    median = next((r for r in rows if r.get("run_type") == "aggregate" and r.get("aggregate_name") == "median"), None)
    if median is not None:
        counters = _numbers(median)
    elif len(iterations) == 1:
        counters = _numbers(iterations[0])
    else:
        # Several repetitions without aggregates (e.g. filtered out): take the median ourselves.
        numbers = [_numbers(r) for r in iterations]
        keys = sorted(set().union(*numbers))
        counters = {k: statistics.median(n[k] for n in numbers if k in n) for k in keys}

    # Google Benchmark's median of a counter that only some repetitions carry is the median of those
    # few, which can put p99.9 below p99. A percentile counts only if every repetition backs it.
    missing: dict[str, str] = {}
    for key, _ in PERCENTILES:
        have = sum(1 for r in iterations if key in r)
        if iterations and have < len(iterations):
            counters.pop(key, None)
            missing[key] = "too few samples" if have == 0 else (
                f"too few samples in {len(iterations) - have} of {len(iterations)} repetitions")
        elif key not in counters:
            missing[key] = "too few samples"

    noisy = any(r.get("noisy") for r in rows)
    ci_rows = {r["aggregate_name"]: _numbers(r) for r in rows
               if r.get("run_type") == "aggregate" and r.get("aggregate_name") in ("ci_low", "ci_high")}
    return Cell(name, workload, runner, params, counters, noisy=noisy, missing=missing,
                repetitions=[_numbers(r) for r in iterations], sweeps=_sweeps(rows), ci_rows=ci_rows)
