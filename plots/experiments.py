"""Which cells make up each experiment, and the derived numbers figures, tables and verdicts share.

Every function returns {group label: {runner: [(x, cell), ...] sorted by x}}, groups in the order
the run lists them, runners in report order; an experiment without data returns {}.
"""
from __future__ import annotations

from datetime import datetime

from results import Cell, Run, group_by, order_runners, run_date

Series = dict[str, list[tuple[float, Cell]]]


def _series(points: list[tuple[float, Cell]]) -> Series:
    by_runner = group_by(points, lambda p: p[1].runner)
    return {r: sorted(by_runner[r], key=lambda p: p[0]) for r in order_runners(by_runner)}


def cpu_scaling(run: Run) -> dict[str, Series]:
    """cpu cells with work_us > 0, x = the workers the sweep asked for."""
    cells = [c for c in run.select("cpu") if (c.param("work_us") or 0) > 0 and c.get("items_per_second")]
    return {label: _series([(sweep_workers(c, group), c) for c in group])
            for label, group in group_by(cells, Cell.shape_label).items()}


def sweep_workers(cell: Cell, group: list[Cell]) -> float:
    """The sweep level of a cell. An event-loop runner (always 1 worker, concurrency varied) runs the
    sweep's W as W x (in flight per worker) on its one thread, so its level is C / that ratio."""
    mine = [c for c in group if c.runner == cell.runner]
    event_loop = all(c.workers == 1 for c in mine) and any(c.concurrency > 1 for c in mine)
    if not event_loop:
        return float(cell.workers)
    per_worker = {c.concurrency / c.workers for c in group if c.workers > 1}
    if len(per_worker) == 1:
        return cell.concurrency / per_worker.pop()
    return cell.concurrency / min(c.concurrency for c in mine)  # no pool runner to read the ratio from


def speedup(series: list[tuple[float, Cell]], x: float) -> float | None:
    """Throughput at sweep level x over the same runner's 1-worker throughput."""
    base = next((c for w, c in series if w == 1), None)
    cell = next((c for w, c in series if w == x), None)
    if base is None or cell is None:
        return None
    return cell.get("items_per_second") / base.get("items_per_second")


def cited_level(levels: list[float], cores: int | None) -> float:
    """The sweep level the CPU verdict cites: the core count, else the largest level within it."""
    if cores in levels:
        return float(cores)
    within = [w for w in levels if cores is None or w <= cores]
    return max(within or levels)


def io_scaling(run: Run) -> dict[str, Series]:
    """sleep cells, x = requests in flight."""
    cells = [c for c in run.select("sleep") if (c.param("wait_us") or 0) > 0 and c.get("items_per_second")]
    return {label: _series([(c.concurrency, c) for c in group])
            for label, group in group_by(cells, Cell.shape_label).items()}


def io_bound(cell: Cell) -> float:
    """Little's law with the wait as the whole request: C / wait, in requests/s."""
    return cell.concurrency * 1e6 / cell.param("wait_us")


def crossover(run: Run) -> dict[str, Series]:
    """mixed cells, x = cpu_share, one group per request size."""
    cells = [c for c in run.select("mixed") if c.param("cpu_share") is not None and c.get("items_per_second")]
    return {label: _series([(c.param("cpu_share"), c) for c in group])
            for label, group in group_by(cells, lambda c: c.shape_label(without=("cpu_share",))).items()}


def main_concurrency(series: Series) -> int:
    """The concurrency most cells of a group share (the reference seq runs at 1 and is not it)."""
    levels = [c.concurrency for points in series.values() for _, c in points]
    return max(sorted(set(levels)), key=levels.count)


def open_loop(run: Run) -> dict[str, Series]:
    """Open-loop cells (offered_per_second present), x = offered rate, grouped by request shape."""
    cells = [c for c in run.select(closed_loop=False) if c.get("achieved_per_second") is not None]

    def label(c: Cell) -> str:
        return f"{c.workload} work_us {c.get('work_us') or 0:g} wait_us {c.get('wait_us') or 0:g}"

    return {lab: _series([(c.get("offered_per_second"), c) for c in group])
            for lab, group in group_by(cells, label).items()}


def saturated(cell: Cell) -> bool:
    """DESIGN.md: an open-loop cell is saturated when it achieves < 95% of the offered rate."""
    return cell.get("achieved_per_second") < 0.95 * cell.get("offered_per_second")


def map_points(run: Run) -> list[Cell]:
    return [c for c in run.select() if (c.get("in_flight") or 0) > 0 and c.get("busy_cores") is not None]


def cost_groups(run: Run) -> dict[str, list[Cell]]:
    """Cells with the same request and the same concurrency, compared across runners."""
    cells = [c for c in run.select() if c.get("cpu_us_per_request") is not None]
    groups = group_by(cells, lambda c: f"{c.shape_label()}, {c.concurrency:,} in flight")
    order = {r: i for i, r in enumerate(order_runners(c.runner for c in cells))}
    return {k: sorted(v, key=lambda c: order[c.runner]) for k, v in groups.items()}


def rss_per_in_flight(cell: Cell) -> float | None:
    rss = cell.get("rss_peak_mb")
    return None if rss is None else rss / cell.concurrency


def headline(run: Run) -> list[Cell]:
    """The cells the report's verdicts lead with, so a trend follows the numbers people quote: for CPU
    scaling each scaling runner at the cited level (the core count), for I/O scaling each runner at its
    highest concurrency (a lone 1-in-flight reference such as seq left out)."""
    cells: list[Cell] = []
    for series in cpu_scaling(run).values():
        scaling = {r: p for r, p in series.items() if len(p) > 1 and speedup(p, 1) is not None}
        if scaling:
            at = cited_level(sorted({w for p in scaling.values() for w, _ in p}), run.cores)
            cells += [c for p in scaling.values() for w, c in p if w == at]
    for series in io_scaling(run).values():
        cells += [p[-1][1] for p in series.values() if len(p) > 1 or len(series) == 1]
    return cells


TrendPoint = tuple[datetime, Run, Cell]


def trend(run: Run, history: list[Run]) -> dict[str, list[TrendPoint]]:
    """For each headline cell of run, the history runs (oldest first) in which that cell succeeded with
    a throughput: {benchmark: [(run date, run, cell), ...]}, only benchmarks with two runs or more."""
    dated = sorted(((run_date(h.context), h) for h in history if run_date(h.context) is not None),
                   key=lambda x: (x[0], x[1].path))
    out = {}
    for name in (c.name for c in headline(run)):
        points = [(when, h, c) for when, h in dated for c in h.cells
                  if c.name == name and c.ok and c.samples("items_per_second")]
        if len(points) >= 2:
            out[name] = points
    return out
