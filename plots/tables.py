"""The tables behind each figure, as plain text cells that the report renders to HTML and Markdown."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import experiments as ex
import fmt
from results import PERCENTILES, Cell, Run, short_commit


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    text_columns: int = 1  # the first columns hold words; the rest numbers, right-aligned
    notes: list[str] = field(default_factory=list)


def flags(cell: Cell) -> str:
    if not cell.ok:
        return f"error: {cell.error}"
    marks = ["noisy"] if cell.noisy else []
    if cell.get("server_bound"):  # the tcp server's one loop was busy >= 90% of the cell: it set the pace
        marks.append("server-bound")
    return ", ".join(marks)


def _failed(run: Run, workload: str, label: str, label_of) -> list[Cell]:
    """Failed closed-loop cells that belong to a group: they have no numbers but keep their place in the table."""
    return [c for c in run.cells if not c.ok and not c.open_loop and c.workload == workload and label_of(c) == label]


def _no_numbers(cell: Cell, n: int) -> list[str]:
    return [fmt.MISSING] * n + [flags(cell)]


def _ci(cell: Cell) -> str:
    """The throughput's interval as a table shows it: '96,012–99,301', or — with one repetition."""
    interval = cell.interval(ex.RATE)
    return fmt.MISSING if interval is None else fmt.span(interval[0], interval[1])


CI = "95% CI"  # the column of the throughput's interval


def _ci_note(cells: list[Cell]) -> list[str]:
    """The one note that says what the CI column is, and, once, when its intervals cover less than 95%."""
    short = ex.coverage_note(cells)
    return [f"{CI} (also [in brackets]): the distribution-free interval of the median requests/s over the "
            "repetitions, from order statistics; none with one repetition"
            + (f"; here the {short}." if short else ".")]


def _ctx_switches(cell: Cell) -> float | None:
    vol, invol = cell.get("ctx_voluntary"), cell.get("ctx_involuntary")
    return None if vol is None or invol is None else vol + invol


def cpu_scaling(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.cpu_scaling(run).items():
        seq = series.get("seq")
        seq_rate = seq[0][1].get("items_per_second") if seq else None
        rows = []
        for runner, points in series.items():
            for w, c in points:
                s = ex.speedup(points, w)
                rate = c.get("items_per_second")
                vs_seq = [fmt.ratio(rate / seq_rate)] if seq_rate else []
                rows.append([runner, f"{w:g}", fmt.count(c.workers), fmt.count(c.concurrency), fmt.num(rate),
                             _ci(c), fmt.ratio(s), fmt.pct(s / w if s is not None else None), *vs_seq,
                             fmt.num(c.get("busy_cores")), flags(c)])
        numbers = 6 if seq_rate else 5
        rows += [[c.runner, fmt.MISSING, fmt.count(c.workers), fmt.count(c.concurrency), *_no_numbers(c, numbers)]
                 for c in _failed(run, "cpu", label, Cell.shape_label)]
        tables.append(Table(f"CPU scaling: {label}",
                            ["runner", "sweep W", "workers", "in flight", "requests/s", CI, "speed-up vs own 1 worker",
                             "% of ideal", *(["vs seq"] if seq_rate else []), "busy cores", "flags"], rows,
                            notes=_ci_note([c for p in series.values() for _, c in p])))
    return tables


def granularity(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.granularity(run).items():
        runners = list(series)
        header = [f"{r} ({fmt.count(series[r][0][1].workers)} W, {fmt.count(series[r][0][1].concurrency)} in flight)"
                  for r in runners]
        rows = []
        for size in sorted({x for points in series.values() for x, _ in points}):
            at = [next((c for x, c in series[r] if x == size), None) for r in runners]
            rows.append([f"{size:,g}"] + [fmt.MISSING if c is None else fmt.pct(c.get("efficiency"))
                                           + (" (noisy)" if c.noisy else "") for c in at])
        metgs = [ex.metg(series[r]) for r in runners]
        rows.append([ex.METG_NAME] + [fmt.metg(*m) if m else "not reached" for m in metgs])
        failed = [c for c in run.cells if not c.ok and ex.GRANULARITY in c.sweeps
                  and c.shape_label(without=("work_us",)) == label]
        tables.append(Table(f"Granularity: {label} (efficiency by request size)",
                            ["request size (\u00b5s)", *header], rows,
                            notes=[f"Efficiency: throughput x seq's time per request at the same size / workers "
                                   f"(median over the repetitions). {ex.METG_NAME}: the smallest size from which on "
                                   f"the runner keeps {100 * ex.METG_EFFICIENCY:g}%, interpolated on log(size); <=: "
                                   "reached at the smallest size already."]
                                  + [f"{c.name}: error: {c.error}" for c in failed]))
    return tables


def memory_scaling(run: Run) -> list[Table]:
    memcpy = ex.memcpy_gb_per_s(run)
    tables = []
    for label, series in ex.memory_scaling(run).items():
        rows = []
        for runner, points in series.items():
            for w, c in points:
                s = ex.speedup(points, w)
                rows.append([runner, f"{w:g}", fmt.count(c.workers), fmt.count(c.concurrency),
                             fmt.num(c.get("gb_per_second")), fmt.ratio(s), fmt.pct(s / w if s is not None else None),
                             fmt.num(c.get("busy_cores")), fmt.num(c.get("rss_peak_mb")), flags(c)])
        rows += [[c.runner, fmt.MISSING, fmt.count(c.workers), fmt.count(c.concurrency), *_no_numbers(c, 5)]
                 for c in _failed(run, "memory", label, Cell.shape_label)]
        notes = ["GB/s: bytes each request reads x requests/s (1e9 bytes). Peak RSS is summed over processes and "
                 "the array counts once in each process that maps it, so each procs worker adds it."]
        if memcpy:
            notes.append(f"One thread's memcpy in the same run: {fmt.num(memcpy)} GB/s copied, "
                         f"{fmt.num(ex.MEMCPY_TRAFFIC * memcpy)} GB/s of memory traffic (read + write).")
        tables.append(Table(f"Memory bandwidth: {label}",
                            ["runner", "sweep W", "workers", "in flight", "GB/s read", "speed-up vs own 1 worker",
                             "% of ideal", "busy cores", "peak RSS (MB)", "flags"], rows, notes=notes))
    return tables


def _against_bound(runner: str, c: Cell, bound: float | None) -> list[str]:
    """The columns an I/O curve's row starts with: who, how much in flight, and what it served of its bound."""
    rate = c.get("items_per_second")
    return [runner, fmt.count(c.workers), fmt.count(c.concurrency), fmt.num(rate), _ci(c), fmt.num(bound),
            fmt.pct(rate / bound) if bound and rate is not None else fmt.MISSING, fmt.num(c.get("in_flight")),
            fmt.num(c.get("busy_cores"))]


def io_scaling(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.io_scaling(run).items():
        rows = []
        for runner, points in series.items():
            for _, c in points:
                rows.append([*_against_bound(runner, c, ex.io_bound(c)), fmt.num(c.get("rss_peak_mb")),
                             fmt.count(_ctx_switches(c)), flags(c)])
        rows += [[c.runner, fmt.count(c.workers), fmt.count(c.concurrency), *_no_numbers(c, 8)]
                 for c in _failed(run, "sleep", label, Cell.shape_label)]
        tables.append(Table(f"I/O scaling: {label}",
                            ["runner", "workers", "in flight", "requests/s", CI, "bound C / wait", "% of bound",
                             "achieved in flight", "busy cores", "peak RSS (MB)", "context switches", "flags"], rows,
                            notes=_ci_note([c for p in series.values() for _, c in p])))
    return tables


def tcp_scaling(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.tcp_scaling(run).items():
        rows = []
        for runner, points in series.items():
            for _, c in points:
                rows.append([*_against_bound(runner, c, ex.tcp_bound(c)), fmt.num(c.get("latency_p50_us")),
                             fmt.num(c.get("latency_p99_us")), flags(c)])
        rows += [[c.runner, fmt.count(c.workers), fmt.count(c.concurrency), *_no_numbers(c, 8)]
                 for c in ex.tcp_curve_cells(run) if not c.ok and c.shape_label() == label]
        tables.append(Table(f"Real I/O: {label}",
                            ["runner", "workers", "in flight", "requests/s", CI, "bound C / delay", "% of bound",
                             "achieved in flight", "busy cores", "p50 (\u00b5s)", "p99 (\u00b5s)", "flags"], rows,
                            notes=[f"{fmt.MISSING}: too few samples behind the percentile. Pools with a worker per "
                                   "connection and coro's one loop thread: the curve of the figure.",
                                   *_ci_note([c for p in series.values() for _, c in p])]))
    return tables


def tcp_cost(run: Run) -> list[Table]:
    tables = []
    conc = ex.TCP_COST_CONCURRENCY
    for label, cells in ex.tcp_cost(run).items():
        rows = []
        for c in cells:
            if not c.ok:
                rows.append([c.runner, fmt.count(c.workers), *_no_numbers(c, 8)])
                continue
            rows.append([c.runner, fmt.count(c.workers), fmt.num(c.get("items_per_second")),
                         fmt.num(c.get("busy_cores")), fmt.num(c.get("server_busy_cores")),
                         fmt.num(c.get("cpu_us_per_request")),
                         fmt.num(c.get("rss_peak_mb")), fmt.num(ex.per_request(c, "ctx_voluntary")),
                         fmt.num(ex.per_request(c, "ctx_involuntary")), fmt.num(c.get("latency_p99_us")), flags(c)])
        tables.append(Table(f"What {conc:,} connections in flight cost: {label}",
                            ["runner", "workers", "requests/s", "busy cores", "server busy cores",
                             "CPU \u00b5s/request", "peak RSS (MB)",
                             "voluntary ctx sw/request", "involuntary ctx sw/request", "p99 (\u00b5s)", "flags"],
                            rows,
                            notes=["Per request: over the cell's whole wall time and every request it completed "
                                   "(warm-up and drain included), for the whole process tree. Voluntary: a thread "
                                   "blocked (waited for the socket or a lock); involuntary: it was preempted. Peak "
                                   "RSS is summed over processes. A pool with fewer workers than connections "
                                   f"queues the rest behind its blocking calls. Server busy cores: the tcp "
                                   "server's one epoll thread over the cell (server-bound at 0.9 and above: the "
                                   f"server, not the runner, set the pace). {fmt.MISSING}: too few samples "
                                   "behind the p99, or a failed cell (no numbers)."]))
    return tables


def crossover(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.crossover(run).items():
        runners = list(series)
        shares = sorted({x for points in series.values() for x, _ in points})
        header = [f"{r} ({'/'.join(f'{c.concurrency:,}' for _, c in series[r])} in flight)" for r in runners]
        rows = []
        for share in shares:
            at = {r: next((c for x, c in series[r] if x == share), None) for r in runners}
            leader, tied = ex.tied_with_best([c for c in at.values() if c is not None])
            rows.append([f"{share:g}"] + [
                fmt.MISSING if c is None else fmt.num(c.get("items_per_second"))
                + (f" [{_ci(c)}]" if c.interval(ex.RATE) else "") + (" (noisy)" if c.noisy else "")
                for c in at.values()]
                + [leader.runner + (f" (tie: {', '.join(c.runner for c in tied)})" if tied else "")])
        failed = _failed(run, "mixed", label, lambda c: c.shape_label(without=("cpu_share",)))
        notes = _ci_note([c for p in series.values() for _, c in p]) + [
            "Most requests/s: the runner with the highest median; (tie: ...) names those whose intervals overlap "
            "its own, which it does not lead."] + [f"{c.name}: error: {c.error}" for c in failed]
        tables.append(Table(f"Crossover: {label} (requests/s)", ["cpu_share", *header, "most requests/s"], rows,
                            notes=notes))
    return tables


def pipeline(run: Run) -> list[Table]:
    tables = []
    for label, series in ex.pipeline(run).items():
        cells = [c for points in series.values() for _, c in points]
        stages = list(dict.fromkeys(s for c in cells for s in ex.stage_names(c)))
        rows = []
        for runner, points in series.items():
            for _, c in points:
                rows.append([runner, fmt.count(c.workers), fmt.count(c.concurrency), fmt.num(c.get("items_per_second")),
                             *[fmt.num(ex.stage_busy(c, s)) for s in stages], fmt.num(c.get("busy_cores")),
                             fmt.num(c.get("latency_p99_us")), ex.bottleneck(c)[0], flags(c)])
        rows += [[c.runner, fmt.count(c.workers), fmt.count(c.concurrency), *_no_numbers(c, len(stages) + 4)]
                 for c in _failed(run, "pipeline", label, Cell.shape_label)]
        tables.append(Table(f"Pipeline: {label}",
                            ["runner", "workers", "in flight", "items/s", *[f"{s} busy" for s in stages], "busy cores",
                             "p99 (\u00b5s)", "bottleneck", "flags"], rows,
                            notes=["A stage's busy: the seconds it spent running its step per second of the cell, "
                                   "summed over the threads or processes running it (1: one core busy the whole time; a "
                                   "parallel stage can exceed it). Bottleneck: the stage with the most busy time, the "
                                   "one that takes longest per item. Latency counts from an item's issue to the end of "
                                   "its last stage."]))
    return tables


def _missing(cell: Cell) -> str:
    return "; ".join(f"{name}: {cell.missing[k]}" for k, name in PERCENTILES if k in cell.missing)


def latency(run: Run) -> list[Table]:
    """Closed-loop latency of every cell: the percentiles the histograms back, missing ones marked."""
    cells = [c for c in run.cells if not c.open_loop]
    if not cells:
        return []
    rows = []
    for c in cells:
        values = [fmt.num(c.get(k)) if c.ok else fmt.MISSING for k, _ in PERCENTILES]
        missing = _missing(c)
        rows.append([c.name, *values, fmt.num(c.get("latency_max_us")), fmt.num(c.get("latency_mean_us")),
                     "; ".join(x for x in (flags(c), missing) if x)])
    return [Table("Closed-loop latency (\u00b5s, from issue to completion)",
                  ["cell", *[name for _, name in PERCENTILES], "max", "mean", "flags"], rows,
                  notes=[f"{fmt.MISSING}: too few samples behind the percentile (p99 needs 100, p99.9 needs 1,000 "
                         "in every repetition); it is left out, not guessed."])]


def open_loop(run: Run) -> list[Table]:
    tables = []
    groups = ex.open_loop(run)
    failed = [c for c in run.cells if not c.ok and c.open_loop]
    for label, series in groups.items():
        rows = []
        for runner, points in series.items():
            for offered, c in points:
                state = "saturated" if ex.saturated(c) else ""
                top = ex.peak(run, c)
                rows.append([runner, fmt.count(c.workers), fmt.count(c.concurrency),
                             fmt.MISSING if c.rate_fraction is None else f"{c.rate_fraction:g}", fmt.num(top),
                             fmt.num(offered), fmt.num(c.get("achieved_per_second")),
                             *[fmt.num(c.get(k)) for k, _ in PERCENTILES], fmt.num(c.get("latency_max_us")),
                             fmt.num(c.get("service_p50_us")), fmt.num(c.get("service_p99_us")),
                             fmt.count(c.get("measured_requests")),
                             "; ".join(x for x in (state, flags(c), _missing(c)) if x)])
        rows += [[c.runner, fmt.count(c.workers), fmt.count(c.concurrency),
                  fmt.MISSING if c.rate_fraction is None else f"{c.rate_fraction:g}", *_no_numbers(c, 11)]
                 for c in failed if ex.open_loop_label_of(c, [label]) == label]
        tables.append(Table(f"Open-loop latency: {label} (\u00b5s)",
                            ["runner", "workers", "in flight", "rate fraction", "peak/s", "offered/s", "achieved/s",
                             *[n for _, n in PERCENTILES], "max", "service p50", "service p99", "measured requests",
                             "flags"], rows,
                            notes=[f"{fmt.MISSING}: too few samples behind the percentile (or no service time "
                                   "recorded); latency counts from the scheduled start, service time from the actual "
                                   "start; saturated: achieved < 95% of offered."]))
    orphans = [c for c in failed if ex.open_loop_label_of(c, groups) is None]
    if orphans:
        tables.append(Table("Open-loop cells that failed", ["cell", "flags"],
                            [[c.name, flags(c)] for c in orphans], text_columns=2))
    return tables


def equal_load(run: Run) -> list[Table]:
    rows = []
    for label, comparisons in ex.equal_load(run).items():
        for cmp in comparisons:
            what = {"fraction": f"{cmp.value:g} of own peak", "rate": f"{fmt.rate(cmp.value)} absolute",
                    "near": f"within {ex.NEAR:.0%} of {fmt.rate(cmp.value)}"}[cmp.kind]
            for c in cmp.cells:
                rows.append([label, what, c.runner,
                             fmt.MISSING if c.rate_fraction is None else f"{c.rate_fraction:g}",
                             fmt.num(c.get("offered_per_second")), fmt.num(c.get("achieved_per_second")),
                             *[fmt.num(c.get(k)) for k, _ in PERCENTILES],
                             "; ".join(x for x in ("saturated" if ex.saturated(c) else "", flags(c), _missing(c)) if x)])
    if not rows:
        return []
    return [Table("Latency at equal load (\u00b5s)",
                  ["request", "equal load", "runner", "rate fraction", "offered/s", "achieved/s",
                   *[n for _, n in PERCENTILES], "flags"], rows, text_columns=3)]


def slo(run: Run) -> list[Table]:
    rows = []
    for label, series in ex.open_loop(run).items():
        target = ex.slo_target_us(series)
        if target is None:
            continue
        for s in ex.slo(run, series, target[0]):
            cap = s.capacity
            note = []
            if cap is None:
                note.append("never holds it")
            elif s.at_every_rate:
                note.append("holds it at every offered rate measured")
            note += [f"saturated at {fmt.rate(x)} with p99 under the target: not counted" for x, _ in s.saturated_under]
            if s.no_p99:
                note.append("p99 missing at " + ", ".join(fmt.rate(x) for x, _ in s.no_p99))
            rows.append([label, s.runner, fmt.num(target[0]),
                         fmt.MISSING if cap is None else fmt.num(cap[0]),
                         fmt.pct(cap[0] / s.peak) if cap and s.peak else fmt.MISSING,
                         fmt.MISSING if cap is None else fmt.num(cap[1].get("latency_p99_us")),
                         fmt.MISSING if cap is None else fmt.num(cap[1].get("achieved_per_second")),
                         f"{len(s.held)} of {len(s.points)}", fmt.num(s.points[-1][0]), "; ".join(note)])
    if not rows:
        return []
    return [Table("SLO capacity: the highest offered rate whose p99 holds the target",
                  ["request", "runner", "p99 target (\u00b5s)", "capacity (offered/s)", "% of peak",
                   "p99 there (\u00b5s)", "achieved/s there", "points holding", "highest offered/s", "note"],
                  rows, text_columns=2,
                  notes=[f"Target: p99 within {ex.SLO_FACTOR:g} x the request's own time (work_us + wait_us). A "
                         "saturated point (achieved < 95% of offered) or one without a p99 never counts as "
                         "holding it."])]


def concurrency_map(run: Run) -> list[Table]:
    rows = [[c.name, c.runner, fmt.count(c.workers), fmt.count(c.concurrency), fmt.num(c.get("in_flight")),
             fmt.num(c.get("busy_cores")), flags(c)] for c in ex.map_points(run)]
    if not rows:
        return []
    return [Table("Concurrency vs parallelism", ["cell", "runner", "workers", "in flight (set)",
                                                  "in flight (achieved)", "busy cores", "flags"], rows,
                  text_columns=2)]


def cost(run: Run) -> list[Table]:
    rows = []
    for label, cells in ex.cost_groups(run).items():
        for c in cells:
            rows.append([label, c.runner, fmt.num(c.get("cpu_us_per_request")), fmt.num(c.get("cpu_user_s")),
                         fmt.num(c.get("cpu_sys_s")), fmt.num(c.get("rss_peak_mb")),
                         fmt.num(ex.rss_per_in_flight(c)), fmt.count(c.get("ctx_voluntary")),
                         fmt.count(c.get("ctx_involuntary")), flags(c)])
    if not rows:
        return []
    return [Table("Cost per request", ["cell group", "runner", "CPU \u00b5s/request", "CPU user (s)", "CPU sys (s)",
                                       "peak RSS (MB)", "RSS MB per in flight", "voluntary ctx sw",
                                       "involuntary ctx sw", "flags"], rows, text_columns=2)]


def errors(run: Run) -> list[Table]:
    if not run.errors:
        return []
    rows = [[e.name, fmt.MISSING if e.repetition is None else str(e.repetition), e.message] for e in run.errors]
    return [Table("Failed rows", ["cell", "repetition", "error message"], rows, text_columns=3)]


def trend(run: Run, history: list[Run]) -> list[Table]:
    rows = []
    for name, points in ex.trend(run, history).items():
        previous = None
        for when, entry, c in points:
            samples = c.samples("items_per_second")
            median = statistics.median(samples)
            change = f"{100 * (median / previous - 1):+.1f}%" if previous else fmt.MISSING
            rows.append([name, f"{when:%Y-%m-%d %H:%M:%S}", short_commit(entry.context.get("git_commit")),
                         Path(entry.path).name, fmt.count(len(samples)), fmt.num(median), fmt.num(min(samples)),
                         fmt.num(max(samples)), change, flags(c)])
            previous = median
    if not rows:
        return []
    return [Table("Trend: headline throughput per run",
                  ["benchmark", "run date (UTC)", "commit", "file", "repetitions", "median requests/s", "lowest",
                   "highest", "vs previous run", "flags"], rows, text_columns=4)]
