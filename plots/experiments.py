"""Which cells make up each experiment, and the derived numbers figures, tables and verdicts share.

Every experiment function returns {group label: {runner: [(x, cell), ...] sorted by x}}, groups in the
order the run lists them, runners in report order; an experiment without data returns {}. equal_load
returns {group label: [Comparison, ...]} for the open-loop groups instead, tcp_cost {group label: [Cell, ...]}.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import fmt
from intervals import LEVEL, needed
from results import Cell, Run, group_by, order_runners, run_date

Series = dict[str, list[tuple[float, Cell]]]

# The suite's experiments, as the rows name them (Cell.sweeps).
GRANULARITY = "granularity"
CROSSOVER = "crossover"

RATE = "items_per_second"  # the throughput counter: what the verdicts rank runners by


def _series(points: list[tuple[float, Cell]]) -> Series:
    by_runner = group_by(points, lambda p: p[1].runner)
    return {r: sorted(by_runner[r], key=lambda p: p[0]) for r in order_runners(by_runner)}


def granularity_only(run: Run) -> set[str]:
    """The names of the cells of request shapes that only the granularity sweep ran. They are its section's
    alone: as CPU scaling they would be sweeps of one level each, and in the map and the cost groups a dozen
    sizes at one load. The shape it shares with CPU scaling (100 µs on every core) has cells outside it and stays.
    Failed cells count too, so a failed scaling cell cannot hand its shape to the granularity sweep."""
    groups = group_by([c for c in run.cells if not c.open_loop], lambda c: (c.workload, c.shape))
    return {c.name for cells in groups.values() if all(GRANULARITY in c.sweeps for c in cells) for c in cells}


def cpu_scaling(run: Run) -> dict[str, Series]:
    """cpu cells with work_us > 0, x = the workers the sweep asked for; the granularity sweep's own sizes
    left out."""
    only = granularity_only(run)
    cells = [c for c in run.select("cpu")
             if (c.param("work_us") or 0) > 0 and c.get("items_per_second") and c.name not in only]
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


def _at_level(series: list[tuple[float, Cell]], x: float) -> tuple[Cell | None, Cell | None]:
    """(the runner's 1-worker cell, its cell at sweep level x), each None when it did not run."""
    return next((c for w, c in series if w == 1), None), next((c for w, c in series if w == x), None)


def speedup(series: list[tuple[float, Cell]], x: float) -> float | None:
    """Throughput at sweep level x over the same runner's 1-worker throughput."""
    base, cell = _at_level(series, x)
    if base is None or cell is None:
        return None
    return cell.get(RATE) / base.get(RATE)


def speedup_interval(series: list[tuple[float, Cell]], x: float) -> tuple[float, float] | None:
    """The speed-up's conservative interval (ratio_interval); None where either cell has one repetition."""
    base, cell = _at_level(series, x)
    return None if base is None or cell is None else ratio_interval(cell, base)


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


TCP = "tcp"
TCP_COST_CONCURRENCY = 1000  # the load the cost table compares: 1,000 connections, each a request in flight


def _tcp_cells(run: Run) -> list[Cell]:
    """Every closed-loop tcp cell, failed ones included."""
    return [c for c in run.cells if c.workload == TCP and not c.open_loop]


def tcp_event_loops(run: Run) -> set[str]:
    """The runners that carry many connections on one worker (coro): every tcp cell of theirs, failed ones
    included, on one worker, and one of them with more than one connection in flight."""
    return {r for r, mine in group_by(_tcp_cells(run), lambda c: c.runner).items()
            if all(c.workers == 1 for c in mine) and any(c.concurrency > 1 for c in mine)}


def tcp_curve_cells(run: Run) -> list[Cell]:
    """The tcp cells of the scaling curve, failed ones included: a worker per connection (workers ==
    concurrency), or an event loop's one thread. A pool with fewer workers than connections (the 2-worker
    cells at 1,000) queues the rest: another load, which would break the curve; the cost table shows it."""
    loops = tcp_event_loops(run)
    return [c for c in _tcp_cells(run) if c.workers == c.concurrency or c.runner in loops]


def tcp_scaling(run: Run) -> dict[str, Series]:
    """The successful cells of the tcp curve, x = connections in flight, one group per request shape
    (delay_us, response_bytes)."""
    cells = [c for c in tcp_curve_cells(run) if c.ok and c.get("items_per_second")]
    return {label: _series([(c.concurrency, c) for c in group])
            for label, group in group_by(cells, Cell.shape_label).items()}


def tcp_cost(run: Run, concurrency: int = TCP_COST_CONCURRENCY) -> dict[str, list[Cell]]:
    """The closed-loop tcp cells with `concurrency` connections in flight, failed ones included, one list per
    request shape: runners in report order, fewest workers first (coro's loop, then each pool's levels)."""
    cells = [c for c in _tcp_cells(run) if c.concurrency == concurrency]
    order = {r: i for i, r in enumerate(order_runners(c.runner for c in cells))}
    return {label: sorted(group, key=lambda c: (order[c.runner], c.workers))
            for label, group in group_by(cells, Cell.shape_label).items()}


def tcp_bound(cell: Cell) -> float | None:
    """Little's law with the server's delay as the whole request: C / delay, in requests/s (None without a
    delay)."""
    delay = cell.param("delay_us")
    return cell.concurrency * 1e6 / delay if delay else None


def per_request(cell: Cell, key: str) -> float | None:
    """A counter over the cell's whole wall time (context switches) per request it completed in that time
    (`requests`: warm-up and drain included, as cpu_us_per_request counts them)."""
    value, requests = cell.get(key), cell.get("requests")
    return None if value is None or not requests else value / requests


def ctx_per_request(cell: Cell) -> float | None:
    """Voluntary plus involuntary context switches of the process tree per request."""
    vol, invol = per_request(cell, "ctx_voluntary"), per_request(cell, "ctx_involuntary")
    return None if vol is None or invol is None else vol + invol


def granularity(run: Run) -> dict[str, Series]:
    """Cells of the granularity sweep that carry an efficiency (their seq reference ran), x = the request's
    compute time (work_us), one group per workload and request shape beside the size."""
    cells = [c for c in run.select() if GRANULARITY in c.sweeps and c.get("efficiency") is not None]
    return {label: _series([(c.param("work_us"), c) for c in group])
            for label, group in group_by(cells, lambda c: c.shape_label(without=("work_us",))).items()}


METG_EFFICIENCY = 0.5  # the efficiency the run's METG is for (conpar's k_metg_efficiency)
METG_NAME = f"METG({100 * METG_EFFICIENCY:g}%)"


def metg(points: list[tuple[float, Cell]]) -> tuple[float, bool] | None:
    """A runner's METG(50%) in µs, and whether it is only an upper bound (50% already at the smallest size),
    as the run put them on every cell of the runner's curve; None when the runner never keeps 50%."""
    cell = next((c for _, c in points if c.get("metg50_us") is not None), None)
    return None if cell is None else (cell.get("metg50_us"), bool(cell.get("metg50_below_sweep")))


def memory_scaling(run: Run) -> dict[str, Series]:
    """memory cells with a read bandwidth (gb_per_second), x = the workers the sweep asked for, as CPU scaling."""
    cells = [c for c in run.select("memory") if c.get("gb_per_second")]
    return {label: _series([(sweep_workers(c, group), c) for c in group])
            for label, group in group_by(cells, Cell.shape_label).items()}


MEMCPY_TRAFFIC = 2  # a copy reads and writes each byte: its memory traffic is twice the bytes copied (STREAM's Copy)


def memcpy_gb_per_s(run: Run) -> float | None:
    """What one thread's memcpy copied per second in the same run (GB/s); None in a file from before it was
    measured."""
    value = run.context.get("memcpy_gb_per_s")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return float(value) if ok else None


PIPELINE_STAGES = ("produce", "transform", "consume")  # the pipeline workload's stages, in order (catalog.cpp)


def stage_names(cell: Cell) -> list[str]:
    """The stages a pipeline cell reports busy time for (its stage_<name>_busy counters), in pipeline order: the
    pipeline workload's stages in their order, any other after them by name."""
    names = {k[len("stage_"):-len("_busy")] for k in cell.counters if k.startswith("stage_") and k.endswith("_busy")}
    known = [s for s in PIPELINE_STAGES if s in names]
    return known + sorted(names - set(known))


def stage_busy(cell: Cell, stage: str) -> float | None:
    """Seconds the stage spent in its step per second of the cell: 1 is one core busy the whole time."""
    return cell.get(f"stage_{stage}_busy")


def pipeline(run: Run) -> dict[str, Series]:
    """Pipeline cells (stage_<name>_busy counters present), x = items in flight (concurrency), one group per
    request shape."""
    cells = [c for c in run.select("pipeline") if c.get("items_per_second") and stage_names(c)]
    return {label: _series([(c.concurrency, c) for c in group])
            for label, group in group_by(cells, Cell.shape_label).items()}


def bottleneck(cell: Cell) -> tuple[str, float]:
    """The stage with the most busy time, and that time: every stage handles every item, so it is the stage that
    takes longest per item, the one that sets the pace unless it runs in parallel."""
    stage = max(stage_names(cell), key=lambda s: stage_busy(cell, s))
    return stage, stage_busy(cell, stage)


def crossover(run: Run) -> dict[str, Series]:
    """mixed cells, x = cpu_share, one group per request size: the cells tagged as the crossover sweep when
    the run tags it (other mixed cells serve other experiments), every mixed cell in an older run."""
    cells = [c for c in run.select("mixed") if c.param("cpu_share") is not None and c.get("items_per_second")]
    cells = [c for c in cells if CROSSOVER in c.sweeps] or cells
    return {label: _series([(c.param("cpu_share"), c) for c in group])
            for label, group in group_by(cells, lambda c: c.shape_label(without=("cpu_share",))).items()}


TIE = 0.05  # two throughputs of one repetition each less than 5% apart: neither runner leads


def order(x: Cell, y: Cell, key: str = RATE) -> int | None:
    """1: x's interval lies wholly above y's; -1: wholly below; 0: they overlap, a tie. None when either cell has
    no interval (one repetition, a smoke run): the caller then compares the medians as it always has."""
    ix, iy = x.interval(key), y.interval(key)
    if ix is None or iy is None:
        return None
    return 1 if ix[0] > iy[1] else -1 if ix[1] < iy[0] else 0


def ratio_interval(x: Cell, y: Cell, key: str = RATE) -> tuple[float, float] | None:
    """The conservative interval of x's median over y's: [low x / high y, high x / low y], wide enough for both
    intervals at once; None when either cell has no interval or y's could be 0."""
    ix, iy = x.interval(key), y.interval(key)
    if ix is None or iy is None or iy[0] <= 0:
        return None
    return ix[0] / iy[1], ix[1] / iy[0]


def tied_with_best(cells: list[Cell], key: str = RATE) -> tuple[Cell, list[Cell]]:
    """The cell with the highest median, and the cells whose intervals overlap its own: the runners it does not
    significantly lead (a cell without an interval never ties: medians decide, as before intervals)."""
    best = max(cells, key=lambda c: c.get(key))
    return best, [c for c in cells if c is not best and order(best, c, key) == 0]


def coverage_note(cells: Iterable[Cell], key: str = RATE) -> str | None:
    """'intervals cover 93.8% with 5 repetitions; 6 are needed for 95%': said once where the cells' intervals (the
    lowest coverage among them) fall short of LEVEL, as [min, max] of 5 repetitions does; None when all reach it."""
    short = [(iv[2], len(c.samples(key))) for c in cells if (iv := c.interval(key)) and iv[2] < LEVEL]
    return fmt.coverage(*min(short), needed(LEVEL), LEVEL) if short else None


@dataclass
class Lead:
    """Which of two runners delivers more requests/s at each CPU share both ran."""

    shares: list[float]  # ascending
    leaders: list[str | None]  # per share: the runner significantly ahead; None: a tie
    crossings: list[tuple[str, str, float]]  # per change of leader: (from, to, the share where it changes)
    by_interval: list[bool]  # per share: judged by the two intervals (else by the 5% rule, a cell of one repetition)


def _overlap(x: Cell, y: Cell) -> bool:
    """Whether the two cells' throughputs over their repetitions overlap: a noisy cell ties only then, since a
    gap wider than both spreads is a lead however much each cell wobbles."""
    xs, ys = x.samples(RATE), y.samples(RATE)
    if not xs or not ys:
        return True
    return max(xs) >= min(ys) and max(ys) >= min(xs)


def _leader(x: Cell, y: Cell, a: str, b: str, d: float) -> str | None:
    """Who of a (cell x) and b (cell y) leads at one share: by the intervals when both have one (overlap: a tie);
    else, a cell of one repetition having no spread to judge by, by 5% of the larger median, and a noisy cell
    ties wherever its repetitions overlap the other's."""
    significant = order(x, y)
    if significant is not None:
        return {1: a, -1: b, 0: None}[significant]
    tie = abs(d) < TIE or ((x.noisy or y.noisy) and _overlap(x, y))
    return None if tie else a if d > 0 else b


def lead(series: Series, a: str, b: str) -> Lead:
    """Where runners a and b swap places by throughput as the CPU share grows. A change of leader is named only
    between a share where one leads significantly and the next where the other does, so the order is
    significant on both sides of it; it is placed where their relative difference crosses zero, interpolated
    linearly in share between those two shares (ties in between are skipped over)."""
    at_a, at_b = dict(series[a]), dict(series[b])
    shares = sorted(at_a.keys() & at_b.keys())
    diffs, leaders = [], []
    for x in shares:
        ra, rb = at_a[x].get(RATE), at_b[x].get(RATE)
        d = (ra - rb) / max(ra, rb)  # relative, so the low-share end (more requests/s) weighs no more
        diffs.append(d)
        leaders.append(_leader(at_a[x], at_b[x], a, b, d))
    decided = [i for i, who in enumerate(leaders) if who]
    crossings = []
    for i, j in zip(decided, decided[1:]):
        if leaders[i] != leaders[j]:
            # Each lead puts the leader's median above the other's: the differences have opposite signs, and
            # the crossing lies strictly between.
            crossings.append((leaders[i], leaders[j],
                              shares[i] + (shares[j] - shares[i]) * diffs[i] / (diffs[i] - diffs[j])))
    by_interval = [order(at_a[x], at_b[x]) is not None for x in shares]
    return Lead(shares, leaders, crossings, by_interval)


def main_concurrency(series: Series) -> int:
    """The concurrency most cells of a group share (the reference seq runs at 1 and is not it)."""
    levels = [c.concurrency for points in series.values() for _, c in points]
    return max(sorted(set(levels)), key=levels.count)


def open_loop(run: Run) -> dict[str, Series]:
    """Open-loop cells (offered and achieved rate present), x = offered rate, grouped by request shape
    (rate and rate_fraction are load, not shape). Where a runner ran one shape at several load points,
    the shape is split by requests in flight, so a series never mixes load points."""
    cells = [c for c in run.select(closed_loop=False)
             if c.get("offered_per_second") is not None and c.get("achieved_per_second") is not None]
    groups: dict[str, Series] = {}
    for shape, group in group_by(cells, Cell.shape_label).items():
        points = {r: {(c.workers, c.concurrency) for c in group if c.runner == r} for r in {c.runner for c in group}}
        split = group_by(group, lambda c: f"{shape}, {c.concurrency:,} in flight") \
            if any(len(p) > 1 for p in points.values()) else {shape: group}
        for label, part in split.items():
            groups[label] = _series([(c.get("offered_per_second"), c) for c in part])
    return groups


def open_loop_label_of(cell: Cell, labels: Iterable[str]) -> str | None:
    """The open_loop() group a (failed) open-loop cell belongs to, from its name alone."""
    shape = cell.shape_label()
    for label in labels:
        if label == shape or label == f"{shape}, {cell.concurrency:,} in flight":
            return label
    return None


def saturated(cell: Cell) -> bool:
    """DESIGN.md: an open-loop cell is saturated when it achieves < 95% of what was offered. The run's own
    `saturated` counter decides when present: it compares completions with the requests the schedule had
    due in the window, free of the Poisson schedule's noise around rate x window (the median over
    repetitions is >= 0.5 when most repetitions saturated). Without it, the rates are compared."""
    flag = cell.get("saturated")
    if flag is not None:
        return flag >= 0.5
    return cell.get("achieved_per_second") < 0.95 * cell.get("offered_per_second")


def peak(run: Run, cell: Cell) -> float | None:
    """The closed-loop peak an open-loop cell is set against: its peak_per_second, else the throughput of
    the closed-loop cell with the same runner, load point and request."""
    if cell.get("peak_per_second"):
        return cell.get("peak_per_second")
    closed = run.cell(cell.closed_loop_name)
    return closed.get("items_per_second") if closed is not None and closed.ok and not closed.open_loop else None


def runner_peak(run: Run, points: list[tuple[float, Cell]]) -> float | None:
    return next((p for p in (peak(run, c) for _, c in points) if p), None)


def request_us(cell: Cell) -> float:
    """The request's own time: its compute plus its wait (work_us + wait_us)."""
    return (cell.param("work_us") or 0) + (cell.param("wait_us") or 0)


SLO_FACTOR = 1.5  # the p99 target: 1.5 x the request's own time


@dataclass
class Slo:
    """One runner's SLO capacity in one open-loop group."""

    runner: str
    capacity: tuple[float, Cell] | None  # the highest offered rate holding the target, unsaturated
    points: list[tuple[float, Cell]]
    held: list[tuple[float, Cell]]  # every point holding it
    saturated_under: list[tuple[float, Cell]]  # p99 under the target but saturated: not counted
    no_p99: list[tuple[float, Cell]]  # p99 missing (too few samples): cannot hold it
    peak: float | None

    @property
    def at_every_rate(self) -> bool:
        return len(self.held) == len(self.points)


def slo_target_us(series: Series) -> tuple[float, float] | None:
    """(target, request time) in µs for a group: SLO_FACTOR x the request's own time; None when that is 0."""
    cell = next(c for points in series.values() for _, c in points)
    request = request_us(cell)
    return (SLO_FACTOR * request, request) if request > 0 else None


def slo(run: Run, series: Series, target_us: float) -> list[Slo]:
    out = []
    for runner, points in series.items():
        def holds(c: Cell) -> bool:
            return c.get("latency_p99_us") is not None and c.get("latency_p99_us") <= target_us

        held = [(x, c) for x, c in points if holds(c) and not saturated(c)]
        out.append(Slo(runner, held[-1] if held else None, points, held,
                       [(x, c) for x, c in points if holds(c) and saturated(c)],
                       [(x, c) for x, c in points if c.get("latency_p99_us") is None],
                       runner_peak(run, points)))
    return out


NEAR = 0.10  # offered rates within 10% of each other count as one absolute rate
MAX_NEAR = 3  # equal-absolute-rate comparisons per group beside the shared fractions: the most runners first


@dataclass
class Comparison:
    """Cells of different runners in one group offered an equal load."""

    kind: str  # "fraction": the same fraction of each one's peak; "rate": the same --rate; "near": within NEAR
    value: float  # the fraction, the rate, or the lowest offered rate of the set
    cells: list[Cell]  # one per runner, report order

    def rates(self) -> list[float]:
        return [c.get("offered_per_second") for c in self.cells]


def _near_sets(cells: list[Cell]) -> list[list[Cell]]:
    """Sets of cells, one per runner, two runners or more, whose offered rates lie within NEAR of the
    lowest; candidates anchored at every cell, then taken greedily (most runners, closest rates first)
    so no cell is in two sets."""
    candidates = []
    for anchor in cells:
        lo = anchor.get("offered_per_second")
        chosen = [anchor]
        for runner in order_runners({c.runner for c in cells} - {anchor.runner}):
            near = [c for c in cells if c.runner == runner and lo <= c.get("offered_per_second") <= (1 + NEAR) * lo]
            if near:
                chosen.append(min(near, key=lambda c: c.get("offered_per_second")))
        if len(chosen) > 1:
            spread = max(c.get("offered_per_second") for c in chosen) / lo - 1
            candidates.append((-len(chosen), spread, lo, chosen))
    used: set[str] = set()
    taken = []
    for *_, chosen in sorted(candidates, key=lambda x: x[:3]):
        if not used & {c.name for c in chosen}:
            used |= {c.name for c in chosen}
            taken.append(chosen)
    return taken


def equal_load(run: Run) -> dict[str, list[Comparison]]:
    """Per open-loop group, the points at which runners can be compared at an equal load: every fraction
    of the peak the sweeps share (each runner at the same fraction of its own peak), every absolute --rate,
    and up to MAX_NEAR sets of cells of different fractions whose absolute offered rates coincide within
    NEAR (sets that only repeat a shared fraction are left out: that panel says so)."""
    order = {r: i for i, r in enumerate(run.runners())}
    out: dict[str, list[Comparison]] = {}
    for label, series in open_loop(run).items():
        cells = [c for points in series.values() for _, c in points]

        def one_per_runner(group: list[Cell]) -> list[Cell]:
            return sorted({c.runner: c for c in reversed(group)}.values(), key=lambda c: order[c.runner])

        comparisons = [Comparison("fraction", f, one_per_runner(g)) for f, g in
                       sorted(group_by([c for c in cells if c.rate_fraction], lambda c: c.rate_fraction).items())]
        comparisons += [Comparison("rate", r, one_per_runner(g)) for r, g in sorted(group_by(
            [c for c in cells if not c.rate_fraction], lambda c: c.param("rate") or c.get("offered_per_second")
        ).items())]
        fractions = [{c.name for c in cmp.cells} for cmp in comparisons if cmp.kind == "fraction"]
        near = [s for s in _near_sets([c for c in cells if c.rate_fraction])
                if not any({c.name for c in s} <= f for f in fractions)][:MAX_NEAR]
        comparisons += sorted((Comparison("near", min(c.get("offered_per_second") for c in s),
                                          sorted(s, key=lambda c: order[c.runner])) for s in near),
                              key=lambda cmp: cmp.value)
        if comparisons:
            out[label] = comparisons
    return out


def coinciding(cells: list[Cell]) -> list[Cell]:
    """The largest subset of cells whose offered rates lie within NEAR of the lowest of them."""
    ordered = sorted(cells, key=lambda c: c.get("offered_per_second"))
    best: list[Cell] = []
    for i, lo in enumerate(ordered):
        within = [c for c in ordered[i:] if c.get("offered_per_second") <= (1 + NEAR) * lo.get("offered_per_second")]
        if len(within) > len(best):
            best = within
    return [c for c in cells if any(c is b for b in best)]  # in the given (report) order


def map_points(run: Run) -> list[Cell]:
    """Every closed-loop cell with an achieved concurrency and parallelism, but the granularity sweep's own
    sizes: a dozen sizes at one load would pile up on one spot."""
    only = granularity_only(run)
    return [c for c in run.select()
            if (c.get("in_flight") or 0) > 0 and c.get("busy_cores") is not None and c.name not in only]


def cost_groups(run: Run) -> dict[str, list[Cell]]:
    """Cells with the same request and the same concurrency, compared across runners (the granularity
    sweep's own sizes left out: its section compares them)."""
    only = granularity_only(run)
    cells = [c for c in run.select() if c.get("cpu_us_per_request") is not None and c.name not in only]
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
