"""The report's figures, drawn with matplotlib. Each function returns (figure, what it shows) or
None when the run has no data for it; the report turns the figure into inline SVG."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display, and no GUI backend that could differ between machines

import statistics

import numpy as np
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

import experiments as ex
import fmt
import verdicts
from fmt import duration_us, plural
from results import PERCENTILES, Run, machine_class, order_runners, short_commit

matplotlib.rcParams.update({
    "svg.hashsalt": "conpar",  # fixed ids: the same input gives byte-identical SVG
    "svg.fonttype": "none",  # text stays text: smaller, searchable; DejaVu metrics are the widest fallback
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
})

RUNNER_COLORS = {"seq": "#555555", "coro": "#1f77b4", "threads": "#ff7f0e", "procs": "#2ca02c"}
OTHER_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
WORKLOAD_MARKERS = {"cpu": "o", "sleep": "s", "mixed": "^", "memory": "D", "tcp": "h", "pipeline": ">"}
OTHER_MARKERS = ("v", "P", "X", "*")
WIDTH = 9.0  # inches; the legend sits right of the axes, never over the data


def color(runner: str, runners: list[str]) -> str:
    if runner in RUNNER_COLORS:
        return RUNNER_COLORS[runner]
    others = [r for r in runners if r not in RUNNER_COLORS]
    return OTHER_COLORS[others.index(runner) % len(OTHER_COLORS)]


def _legend_outside(ax, **kw) -> None:
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **kw)


def _thousands(ax_axis) -> None:
    ax_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))


def _log_axis(ax, which: str, lo: float, hi: float) -> None:
    """Log scale with plain numbers (no mathtext); 1-2-5 labels when the data spans few decades."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    # Horizontal labels are wider than tall: x gets the 1-2-5 steps only over a narrower span.
    few_decades = lo > 0 and np.log10(hi / lo) < (1.2 if which == "x" else 2.5)
    subs = (1.0, 2.0, 5.0) if few_decades else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_minor_formatter(NullFormatter())
    _thousands(axis)


def _mark_noisy(ax, points: list[tuple[float, float]]) -> None:
    """Rings the noisy cells of a panel."""
    if points:
        ax.scatter(*zip(*points), s=140, facecolors="none", edgecolors="red", linewidths=1.2, zorder=5,
                   label="noisy cell (CV above limit)")


def _panels(n: int, height: float) -> tuple[Figure, list]:
    fig = Figure(figsize=(WIDTH, height * n), layout="constrained")
    return fig, list(fig.subplots(n, 1, squeeze=False)[:, 0])


def _worker_sweep(ax, run: Run, series: ex.Series, key: str) -> list[tuple[float, float]]:
    """One panel of a sweep over workers (CPU scaling, memory bandwidth): each runner's `key` against W (log2),
    its ideal (W x its own 1-worker value), a one-cell runner (seq) drawn across as the reference, the core
    count. Returns the noisy points, for the caller to ring after its own lines."""
    runners = run.runners()
    noisy: list[tuple[float, float]] = []
    levels = sorted({w for points in series.values() for w, _ in points})
    for runner, points in series.items():
        xs = [w for w, _ in points]
        ys = [c.get(key) for _, c in points]
        noisy += [(w, c.get(key)) for w, c in points if c.noisy]
        col = color(runner, runners)
        if len(points) == 1:  # a one-cell runner (seq) is the reference level, drawn across
            ax.axhline(ys[0], color=col, ls=":", lw=1.2, label=f"{runner} ({xs[0]:g} worker)")
            ax.plot(xs, ys, "o", color=col)
            continue
        ax.plot(xs, ys, "o-", color=col, lw=1.8, label=runner)
        base = next((c.get(key) for w, c in points if w == 1), None)
        if base is not None:
            ax.plot(levels, [w * base for w in levels], "--", color=col, lw=1, alpha=0.7,
                    label=f"{runner} ideal (W x 1-worker)")
    if run.cores:
        ax.axvline(run.cores, color="black", ls="-.", lw=1, label=plural(run.cores, "core"))
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("workers W (coro: one thread, W x the per-worker requests in flight)")
    return noisy


def cpu_scaling(run: Run) -> tuple[Figure, str] | None:
    groups = ex.cpu_scaling(run)
    if not groups:
        return None
    fig, axes = _panels(len(groups), 4.2)
    for ax, (label, series) in zip(axes, groups.items()):
        _mark_noisy(ax, _worker_sweep(ax, run, series, "items_per_second"))
        ax.set_ylim(bottom=0)
        _thousands(ax.yaxis)
        ax.set_title(f"{label} (closed loop)")
        ax.set_ylabel("throughput (requests/s)")
        _legend_outside(ax)
    return fig, ("Throughput against workers for CPU-bound requests; dashed: each runner's ideal "
                 "(W times its own 1-worker throughput); dash-dotted: the core count.")


def memory_scaling(run: Run) -> tuple[Figure, str] | None:
    groups = ex.memory_scaling(run)
    if not groups:
        return None
    memcpy = ex.memcpy_gb_per_s(run)
    fig, axes = _panels(len(groups), 4.2)
    for ax, (label, series) in zip(axes, groups.items()):
        noisy = _worker_sweep(ax, run, series, "gb_per_second")
        if memcpy:
            ax.axhline(memcpy, color="black", lw=1, alpha=0.6, label=f"memcpy, 1 thread: {fmt.num(memcpy)} GB/s copied")
            traffic = ex.MEMCPY_TRAFFIC * memcpy
            # Dash-dot-dotted: seq's reference level is dotted, the ideals dashed, the core count dash-dotted.
            ax.axhline(traffic, color="black", ls=(0, (5, 2, 1, 2, 1, 2)), lw=1.2,
                       label=f"its traffic (read + write): {fmt.num(traffic)} GB/s")
        _mark_noisy(ax, noisy)
        ax.set_ylim(bottom=0)
        ax.set_title(f"Memory bandwidth: {label} (closed loop)")
        ax.set_ylabel("read bandwidth (GB/s)")
        _legend_outside(ax)
    what = ("Read bandwidth (bytes each request sums x requests/s) against workers for requests that stream their "
            "own slice of an array larger than the last-level cache; dashed: each runner's ideal (W times its own "
            "1-worker bandwidth); dotted: seq's (one worker); dash-dotted: the core count")
    if memcpy:
        what += ("; solid grey: what one thread's memcpy copied per second in the same run; dash-dot-dotted: its memory "
                 "traffic, twice that (each byte read and written, as STREAM's Copy counts it)")
    return fig, what + "."


def granularity(run: Run) -> tuple[Figure, str] | None:
    groups = ex.granularity(run)
    if not groups:
        return None
    runners = run.runners()
    fig, axes = _panels(len(groups), 4.2)
    for ax, (label, series) in zip(axes, groups.items()):
        noisy: list[tuple[float, float]] = []
        for runner, points in series.items():
            xs = [x for x, _ in points]
            ys = [c.get("efficiency") for _, c in points]
            noisy += [(x, c.get("efficiency")) for x, c in points if c.noisy]
            col = color(runner, runners)
            load = f"{plural(points[0][1].workers, 'worker')}, {points[0][1].concurrency:,} in flight"
            m = ex.metg(points)
            if runner == "seq":
                what = "the reference"  # its efficiency is 1 at every size by definition
            else:
                what = f"METG {fmt.metg(*m)}" if m else f"never {100 * ex.METG_EFFICIENCY:g}%"
            ax.plot(xs, ys, "o-", color=col, lw=1.8, ms=4, label=f"{runner} ({load}): {what}")
            if m and runner != "seq":
                # The straight segment on the log axis crosses 50% at the METG, which the run interpolated
                # on log(size); an upper bound sits on the smallest size's own point.
                size, at_most = m
                own = next((c.get("efficiency") for x, c in points if x == size), ex.METG_EFFICIENCY)
                ax.plot(size, own if at_most else ex.METG_EFFICIENCY, "<" if at_most else "D", ms=9, color=col,
                        mfc="white", mew=1.8, zorder=4)
        ax.axhline(ex.METG_EFFICIENCY, color="black", ls="--", lw=1,
                   label=f"{100 * ex.METG_EFFICIENCY:g}% efficiency")
        ax.plot([], [], "D", ms=8, color="black", mfc="white", label="METG (<: at most the smallest size)")
        _mark_noisy(ax, noisy)
        sizes = [x for points in series.values() for x, _ in points]
        _log_axis(ax, "x", min(sizes), max(sizes))
        top = max(c.get("efficiency") for points in series.values() for _, c in points)
        ax.set_ylim(0, max(1.1, 1.05 * top))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
        ax.set_title(f"Granularity: efficiency vs request size ({label}, closed loop)")
        ax.set_xlabel("request size: compute time per request (\u00b5s)")
        ax.set_ylabel("efficiency (throughput x seq's\ntime per request / workers)")
        _legend_outside(ax)
    return fig, ("Efficiency against the request size, log x: a runner's throughput times seq's time per "
                 "request at the same size (1 / seq's throughput), divided by its workers, so 100% is seq's "
                 "speed on every worker (the median over the repetitions). Dashed: 50%; diamonds: each runner's "
                 "METG(50%), the smallest request size from which on it keeps 50% (Task Bench's metric, "
                 "interpolated on log size); <: 50% already at the smallest size, so the METG is at most that.")


def io_scaling(run: Run) -> tuple[Figure, str] | None:
    groups = ex.io_scaling(run)
    if not groups:
        return None
    runners = run.runners()
    fig, axes = _panels(len(groups), 4.4)
    for ax, (label, series) in zip(axes, groups.items()):
        noisy: list[tuple[float, float]] = []
        cells = [c for points in series.values() for _, c in points]
        for runner, points in series.items():
            xs = [x for x, _ in points]
            ys = [c.get("items_per_second") for _, c in points]
            noisy += [(x, c.get("items_per_second")) for x, c in points if c.noisy]
            ax.plot(xs, ys, "o-", color=color(runner, runners), lw=1.8, label=runner)
        span = np.array(sorted({c.concurrency for c in cells}), dtype=float)
        wait_us = cells[0].param("wait_us")
        ax.plot(span, span * 1e6 / wait_us, "k--", lw=1, label=f"bound: in flight / wait ({duration_us(wait_us)})")
        if run.cores:
            ax.axvline(run.cores, color="black", ls="-.", lw=1, label=plural(run.cores, "core"))
        _mark_noisy(ax, noisy)
        rates = [c.get("items_per_second") for c in cells] + list(span * 1e6 / wait_us)
        _log_axis(ax, "x", span[0], span[-1])
        _log_axis(ax, "y", min(rates), max(rates))
        ax.set_title(f"{label} (closed loop)")
        ax.set_xlabel("requests in flight (concurrency C)")
        ax.set_ylabel("throughput (requests/s)")
        _legend_outside(ax)
    return fig, ("Throughput against requests in flight for waiting requests, log-log; dashed: the "
                 "Little's-law bound C / wait; dash-dotted: the core count.")


def _tcp_load(points: list[tuple[float, object]], loops: set[str]) -> str:
    """The legend's load note: coro's one loop thread, or a worker per connection."""
    runner = points[0][1].runner
    if runner in loops:
        return plural(points[0][1].workers, "loop thread")
    return "1 worker" if len(points) == 1 and points[0][1].workers == 1 else "a worker per connection"


def tcp_scaling(run: Run) -> tuple[Figure, str] | None:
    groups = ex.tcp_scaling(run)
    if not groups:
        return None
    runners = run.runners()
    loops = ex.tcp_event_loops(run)
    fig, axes = _panels(2 * len(groups), 3.6)
    for i, (label, series) in enumerate(groups.items()):
        rate_ax, busy_ax = axes[2 * i], axes[2 * i + 1]
        cells = [c for points in series.values() for _, c in points]
        noisy_rate: list[tuple[float, float]] = []
        noisy_busy: list[tuple[float, float]] = []
        for runner, points in series.items():
            col = color(runner, runners)
            name = f"{runner} ({_tcp_load(points, loops)})"
            # A one-cell runner (seq at 1) is a hollow ring: it often sits on another runner's first point.
            style = {"marker": "o", "ms": 9, "mfc": "none", "mew": 1.8} if len(points) == 1 else {"marker": "o"}
            rate_ax.plot([x for x, _ in points], [c.get("items_per_second") for _, c in points], "-", color=col,
                         lw=1.8, label=name, **style)
            noisy_rate += [(x, c.get("items_per_second")) for x, c in points if c.noisy]
            busy = [(x, c.get("busy_cores")) for x, c in points if c.get("busy_cores") is not None]
            if busy:
                busy_ax.plot(*zip(*busy), "-", color=col, lw=1.8, label=name, **style)
            noisy_busy += [(x, c.get("busy_cores")) for x, c in points if c.noisy and c.get("busy_cores") is not None]
        span = sorted({c.concurrency for c in cells})
        rates = [c.get("items_per_second") for c in cells]
        delay = cells[0].param("delay_us")
        if delay:
            bound = [x * 1e6 / delay for x in span]
            rate_ax.plot(span, bound, "k--", lw=1, label=f"bound: in flight / delay ({duration_us(delay)})")
            rates += bound
        _mark_noisy(rate_ax, noisy_rate)
        _log_axis(rate_ax, "y", min(rates), max(rates))
        rate_ax.set_title(f"Real I/O: {label} (closed loop): throughput")
        rate_ax.set_ylabel("throughput (requests/s)")
        if run.cores:
            busy_ax.axhline(run.cores, color="black", ls="-.", lw=1, label=plural(run.cores, "core"))
        _mark_noisy(busy_ax, noisy_busy)
        top = max([c.get("busy_cores") or 0 for c in cells] + [run.cores or 1])
        busy_ax.set_ylim(-0.04 * top, top * 1.12)  # below zero so an idle runner is not cut by the axis
        busy_ax.set_title(f"Real I/O: {label} (closed loop): parallelism")
        busy_ax.set_ylabel("busy cores (CPU time / wall time)")
        for ax in (rate_ax, busy_ax):
            _log_axis(ax, "x", span[0], span[-1])
            ax.set_xlabel("connections in flight (concurrency C, one request each)")
            _legend_outside(ax)
    return fig, ("Request/response over loopback TCP to the event-driven server, which answers after delay_us: "
                 "throughput (log-log; dashed: the bound C / delay, Little's law with the delay as the whole "
                 "request) and busy cores (dash-dotted: the core count) against connections in flight, one "
                 "connection per request in flight. Pools with a worker per connection and coro's one loop thread; "
                 f"the pools with fewer workers than connections (requests queue) are in the "
                 f"{ex.TCP_COST_CONCURRENCY:,}-connection table.")


def crossover(run: Run) -> tuple[Figure, str] | None:
    groups = ex.crossover(run)
    if not groups:
        return None
    runners = run.runners()
    fig, axes = _panels(len(groups), 4.2)
    for ax, (label, series) in zip(axes, groups.items()):
        noisy: list[tuple[float, float]] = []
        for runner, points in series.items():
            xs = [x for x, _ in points]
            ys = [c.get("items_per_second") for _, c in points]
            noisy += [(x, c.get("items_per_second")) for x, c in points if c.noisy]
            levels = sorted({c.concurrency for _, c in points})
            in_flight = "/".join(f"{c:,}" for c in levels)
            ax.plot(xs, ys, "o-", color=color(runner, runners), lw=1.8, label=f"{runner} ({in_flight} in flight)")
        cells = [c for points in series.values() for _, c in points]
        share_values = [c.param("cpu_share") for c in cells]
        shares = np.linspace(min(share_values), max(share_values), 60)
        request_us = cells[0].param("request_us")
        conc = ex.main_concurrency(series)
        # Bounds at the group's concurrency: C requests per request time, or k cores' worth of compute.
        for k, style in ((1, ":"), (run.cores, "--")):
            if request_us and k:
                with np.errstate(divide="ignore"):  # cpu_share 0: no compute bound, only C / request time
                    bound = np.minimum(conc * 1e6 / request_us, k * 1e6 / (shares * request_us))
                ax.plot(shares, bound, "k" + style, lw=1,
                        label=f"bound, {k} core{'s' if k > 1 else ''}, {conc:,} in flight")
        _mark_noisy(ax, noisy)
        rates = [c.get("items_per_second") for c in cells]
        _log_axis(ax, "y", min(rates), max(rates))
        ax.set_xlim(0, 1)
        ax.set_title(f"{label} (closed loop)")
        ax.set_xlabel("CPU share of the request (compute time / request time)")
        ax.set_ylabel("throughput (requests/s)")
        _legend_outside(ax)
    return fig, " ".join(["Throughput against the CPU share of a compute-wait-compute request; dotted and dashed: "
                          "the bound with one core and with every core at the group's concurrency.",
                          *verdicts.crossover_swaps(run)])


def pipeline(run: Run) -> tuple[Figure, str] | None:
    groups = ex.pipeline(run)
    if not groups:
        return None
    runners = run.runners()
    fig = Figure(figsize=(WIDTH, 3.6 * len(groups)), layout="constrained")
    for (rate_ax, busy_ax), (label, series) in zip(fig.subplots(len(groups), 2, squeeze=False), groups.items()):
        cells = [c for points in series.values() for _, c in points]
        several = len(cells) > len(series)  # a runner at several loads: say which bar is which
        names = [f"{c.runner}\n{c.concurrency:,} in flight" if several else c.runner for c in cells]
        names = [f"{n} (noisy)" if c.noisy else n for n, c in zip(names, cells)]
        colors = [color(c.runner, runners) for c in cells]
        rate_ax.bar(range(len(cells)), [c.get("items_per_second") for c in cells], color=colors)
        rate_ax.set_xticks(range(len(cells)), names)
        rate_ax.grid(False, axis="x")
        _thousands(rate_ax.yaxis)
        rate_ax.set_ylabel("throughput (items/s)")
        rate_ax.set_title(label)
        stages = list(dict.fromkeys(s for c in cells for s in ex.stage_names(c)))
        width = 0.8 / len(cells)
        for i, c in enumerate(cells):
            xs = [k + (i - (len(cells) - 1) / 2) * width for k in range(len(stages))]
            busy_ax.bar(xs, [ex.stage_busy(c, s) or 0 for s in stages], width, color=colors[i], label=names[i])
        busy_ax.axhline(1, color="black", ls="--", lw=1, label="one core busy")
        busy_ax.set_xticks(range(len(stages)), stages)
        busy_ax.grid(False, axis="x")
        busy_ax.set_ylabel("busy (stage time / wall time)")
        busy_ax.set_title("busy time per stage")
        _legend_outside(busy_ax)
    return fig, ("Left: items through the pipeline per second, per runner. Right: each stage's busy time (the time it "
                 "spent running its step per second of the cell, summed over the threads or processes running it; "
                 "dashed: one core busy the whole time): the busiest stage is the bottleneck, unless it runs in "
                 "parallel.")


NINES = [-np.log10(1 - q) for q in (0.5, 0.9, 0.99, 0.999)]  # p50..p99.9 evenly spaced: one step per nine
EQUAL_COLUMNS = 3


def _percentile_curve(c) -> list[tuple[float, float]]:
    return [(x, c.get(k)) for x, (k, _) in zip(NINES, PERCENTILES) if c.get(k) is not None]


def _fraction_text(f: float) -> str:
    return f"{100 * f:g}%"


def comparison_title(cmp: ex.Comparison) -> str:
    if cmp.kind == "fraction":
        title = f"at {_fraction_text(cmp.value)} of each runner's peak"
        same = ex.coinciding(cmp.cells)
        if len(same) > 1:
            who = "all" if len(same) == len(cmp.cells) else ", ".join(c.runner for c in same)
            title += f"\n(equal rate \u00b1{ex.NEAR:.0%}: {who})"
        return title
    if cmp.kind == "rate":
        return f"at {fmt.rate(cmp.value)} offered (absolute rate)"
    hi = max(cmp.rates())
    return f"at equal rate: {fmt.num(cmp.value)} to {fmt.rate(hi)}\n(within {ex.NEAR:.0%})"


def latency_equal(run: Run) -> tuple[Figure, str] | None:
    groups = ex.equal_load(run)
    if not groups:
        return None
    runners = run.runners()
    layout = [(label, cmps[i:i + EQUAL_COLUMNS]) for label, cmps in groups.items()
              for i in range(0, len(cmps), EQUAL_COLUMNS)]
    fig = Figure(figsize=(WIDTH, 2.9 * len(layout) + 0.3), layout="constrained")
    grid = fig.subplots(len(layout), EQUAL_COLUMNS, squeeze=False)
    any_saturated = False
    for row, (label, cmps) in zip(grid, layout):
        for ax, cmp in zip(row, cmps):
            # Each panel its own latency range: a saturated panel's seconds would flatten the others.
            values = [v for c in cmp.cells for _, v in _percentile_curve(c)]
            for c in cmp.cells:
                curve = _percentile_curve(c)
                sat = ex.saturated(c)
                any_saturated |= sat
                text = f"{c.runner} {fmt.rate(c.get('offered_per_second'))}" + (" saturated" if sat else "")
                if not curve:
                    ax.plot([], [], " ", label=f"{c.runner}: no percentile (too few samples)")
                    continue
                ax.plot(*zip(*curve), "o" + ("--" if sat else "-"), color=color(c.runner, runners), lw=1.5, ms=4,
                        mec="red" if c.noisy else color(c.runner, runners), label=text)
            ax.set_xticks(NINES, [name for _, name in PERCENTILES])
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlim(NINES[0] - 0.25, NINES[-1] + 0.25)
            if values:
                # Headroom above the data for the legend, which sits top left: the data keep the lower 60%.
                lo, hi = np.log10(min(values)) - 0.03, np.log10(max(values)) + 0.03
                top = 10 ** (hi + 0.6 * (hi - lo) + 0.15)
                _log_axis(ax, "y", 10 ** lo, top)
                ax.set_ylim(10 ** lo, top)
            ax.set_title(f"{label}\n{comparison_title(cmp)}", fontsize=7.5)
            ax.set_xlabel("percentile (one step per nine)")
            ax.set_ylabel("latency (\u00b5s)")
            ax.legend(loc="upper left", fontsize=6.5, title="runner, offered", title_fontsize=6.5)
        for ax in row[len(cmps):]:
            ax.set_visible(False)
    return fig, ("Open-loop latency percentiles (p50 to p99.9, HdrHistogram-style: one step per added nine), "
                 "measured from each request's scheduled start, per runner at equal load: first at the same "
                 "fraction of each runner's own closed-loop peak (so the absolute offered rates differ, as the "
                 "legends say), then where runners' absolute offered rates coincide within "
                 f"{ex.NEAR:.0%} (at most {ex.MAX_NEAR} such sets per request, the most runners and the closest "
                 "rates first). Each panel has its own latency scale" +
                 ("; dashed: saturated (achieved < 95% of offered)." if any_saturated else "."))


def latency(run: Run) -> tuple[Figure, str] | None:
    groups = ex.open_loop(run)
    if not groups:
        return None
    runners = run.runners()
    fig, axes = _panels(len(groups), 4.2)
    drawn = {"peak": False, "target": False}
    for ax, (label, series) in zip(axes, groups.items()):
        handles = []
        noisy: list[tuple[float, float]] = []
        for runner, points in series.items():
            col = color(runner, runners)
            for key, style, lw in (("latency_p99_us", "o-", 1.8), ("latency_p50_us", "--", 1.0)):
                curve = [(x, c.get(key)) for x, c in points if c.get(key) is not None]
                if curve:
                    ax.plot(*zip(*curve), style, color=col, lw=lw, ms=4)
            top = ex.runner_peak(run, points)
            if top:
                drawn["peak"] = True
                ax.axvline(top, color=col, ls=":", lw=1)
            handles.append(Line2D([], [], color=col, lw=1.8,
                                  label=runner + (f" (closed-loop peak {fmt.rate(top)})" if top else "")))
            sat = [(x, c.get("latency_p99_us")) for x, c in points
                   if ex.saturated(c) and c.get("latency_p99_us") is not None]
            if sat:
                ax.plot(*zip(*sat), "x", color="red", ms=9, mew=2)
            noisy += [(x, c.get("latency_p99_us")) for x, c in points if c.noisy and c.get("latency_p99_us") is not None]
        _mark_noisy(ax, noisy)
        handles += [Line2D([], [], color="black", marker="o", ms=4, lw=1.8, label="p99"),
                    Line2D([], [], color="black", ls="--", lw=1, label="p50")]
        if drawn["peak"]:
            handles.append(Line2D([], [], color="black", ls=":", lw=1, label="closed-loop peak (colour: runner)"))
        handles.append(Line2D([], [], ls="", marker="x", color="red", ms=9, mew=2,
                              label="saturated (achieved < 95% offered)"))
        target = ex.slo_target_us(series)
        if target:
            drawn["target"] = True
            ax.axhline(target[0], color="black", ls="-.", lw=1)
            handles.append(Line2D([], [], color="black", ls="-.", lw=1, label=f"SLO: p99 \u2264 "
                                  f"{fmt.duration_us(target[0])} ({ex.SLO_FACTOR:g} x the request's own time)"))
        if noisy:
            handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", ms=11, label="noisy cell"))
        values = [c.get(k) for points in series.values() for _, c in points for k in ("latency_p50_us", "latency_p99_us")
                  if c.get(k) is not None] + ([target[0]] if target else [])
        if values:
            _log_axis(ax, "y", min(values), max(values))
        offered = [x for points in series.values() for x, _ in points]
        offered += [p for p in (ex.runner_peak(run, points) for points in series.values()) if p]
        _log_axis(ax, "x", min(offered), max(offered))
        if np.log10(max(offered) / min(offered)) < 2:  # under two decades: label 1-2-5, or one tick may be all
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.set_title(f"{label} (open loop): latency vs offered rate")
        ax.set_xlabel("offered rate (requests/s)")
        ax.set_ylabel("latency (\u00b5s)")
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=7)
    what = ["Open-loop latency against the offered rate (the hockey stick), measured from each request's "
            "scheduled start: p99 solid, p50 dashed"]
    if drawn["peak"]:
        what.append("dotted: each runner's closed-loop peak at the same load point")
    if drawn["target"]:
        what.append(f"dash-dotted: the SLO target, p99 within {ex.SLO_FACTOR:g} x the request's own time")
    return fig, "; ".join(what + ["red x: saturated (achieved < 95% of offered)."])


def concurrency_map(run: Run) -> tuple[Figure, str] | None:
    cells = ex.map_points(run)
    if not cells:
        return None
    runners = order_runners(c.runner for c in cells)
    workloads = list(dict.fromkeys(c.workload for c in cells))
    markers = {w: WORKLOAD_MARKERS.get(w, OTHER_MARKERS[i % len(OTHER_MARKERS)]) for i, w in enumerate(workloads)}
    fig = Figure(figsize=(WIDTH, 4.8), layout="constrained")
    ax = fig.subplots()
    for c in cells:
        ax.scatter(c.get("in_flight"), c.get("busy_cores"), s=42, marker=markers[c.workload],
                   color=color(c.runner, run.runners()), alpha=0.85, edgecolors="white", linewidths=0.5, zorder=3)
    noisy = [(c.get("in_flight"), c.get("busy_cores")) for c in cells if c.noisy]
    if noisy:
        ax.scatter(*zip(*noisy), s=140, facecolors="none", edgecolors="red", linewidths=1.2, zorder=4)
    top = max([c.get("busy_cores") for c in cells] + [run.cores or 1])
    if run.cores:
        ax.axhline(run.cores, color="black", ls="-.", lw=1)
    in_flight = [c.get("in_flight") for c in cells]
    _log_axis(ax, "x", min(in_flight), max(in_flight))
    ax.set_ylim(-0.04 * top, top * 1.12)  # below zero so idle cells are not cut by the axis
    ax.set_xlabel("achieved concurrency: mean requests in flight (throughput x mean latency)")
    ax.set_ylabel("achieved parallelism: busy cores (CPU time / wall time)")
    ax.set_title("Concurrency vs parallelism, one point per cell (closed loop)")
    handles = [Line2D([], [], ls="", marker="o", color=color(r, run.runners()), label=r) for r in runners]
    handles += [Line2D([], [], ls="", marker=markers[w], mfc="none", mec="black", label=w) for w in workloads]
    if run.cores:
        handles.append(Line2D([], [], color="black", ls="-.", lw=1, label=plural(run.cores, "core")))
    if noisy:
        handles.append(Line2D([], [], ls="", marker="o", mfc="none", mec="red", ms=11, label="noisy cell"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return fig, ("Each cell's achieved concurrency (x, log) against its achieved parallelism (y): "
                 "colour is the runner, marker the workload; dash-dotted: the core count.")


def cost(run: Run) -> tuple[Figure, str] | None:
    groups = ex.cost_groups(run)
    if not groups:
        return None
    runners = order_runners(c.runner for cells in groups.values() for c in cells)
    fig = Figure(figsize=(WIDTH, 1.2 + 0.32 * len(groups)), layout="constrained")
    cpu_ax, rss_ax = fig.subplots(1, 2, sharey=True)
    labels = list(groups)
    step = 0.7 / max(len(runners), 1)
    for gi, label in enumerate(labels):
        for c in groups[label]:
            y = gi + (runners.index(c.runner) - (len(runners) - 1) / 2) * step
            col = color(c.runner, run.runners())
            for ax, value in ((cpu_ax, c.get("cpu_us_per_request")), (rss_ax, ex.rss_per_in_flight(c))):
                if value and value > 0:  # log axes: a zero cost has no place, the table shows it
                    ax.plot(value, y, "o", color=col, ms=5, mec="red" if c.noisy else col)
    cpu_ax.set_yticks(range(len(labels)), labels)
    cpu_ax.invert_yaxis()
    for ax, xlabel in ((cpu_ax, "CPU per request (\u00b5s, user + sys)"),
                       (rss_ax, "peak RSS per request in flight (MB)")):
        values = [x for line in ax.get_lines() for x in line.get_xdata()]
        if values:
            _log_axis(ax, "x", min(values), max(values))
        ax.set_xlabel(xlabel)
        ax.grid(True, axis="x", which="major")
        ax.grid(False, axis="y")
    for gi in range(1, len(labels)):
        for ax in (cpu_ax, rss_ax):
            ax.axhline(gi - 0.5, color="grey", lw=0.4, alpha=0.5)
    handles = [Line2D([], [], ls="", marker="o", color=color(r, run.runners()), label=r) for r in runners]
    if any(c.noisy for cells in groups.values() for c in cells):
        handles.append(Line2D([], [], ls="", marker="o", color="white", mec="red", label="noisy cell"))
    rss_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.suptitle("Cost per request, cells grouped by request and requests in flight (closed loop)")
    return fig, ("CPU time per completed request and peak resident memory (summed over processes) per "
                 "request in flight, per runner, for cells with the same request and concurrency.")


TREND_LABELS = 8  # commit labels per panel at most: more would overlap


def trend(run: Run, history: list[Run], folder: str) -> tuple[Figure, str] | None:
    series = ex.trend(run, history)
    if not series:
        return None
    runners = run.runners()
    fig, axes = _panels(len(series), 3.0)
    for ax, (name, points) in zip(axes, series.items()):
        xs = [mdates.date2num(when.replace(tzinfo=None)) for when, _, _ in points]
        samples = [c.samples("items_per_second") for _, _, c in points]
        medians = [statistics.median(s) for s in samples]
        spread = [[m - min(s) for m, s in zip(medians, samples)], [max(s) - m for m, s in zip(medians, samples)]]
        ax.errorbar(xs, medians, yerr=spread, fmt="o-", color=color(points[0][2].runner, runners), lw=1.5, ms=5,
                    capsize=3, elinewidth=1, label="median over the run's repetitions\n(bar: lowest to highest)")
        _mark_noisy(ax, [(x, m) for x, m, (_, _, c) in zip(xs, medians, points) if c.noisy])
        step = -(-len(points) // TREND_LABELS)
        shown = sorted(set(range(0, len(points), step)) | {len(points) - 1})
        ax.set_xticks([xs[i] for i in shown],
                      [f"{short_commit(points[i][1].context.get('git_commit'))}\n{points[i][0]:%Y-%m-%d %H:%M}"
                       for i in shown], fontsize=7, rotation=20, ha="right")
        ax.xaxis.set_minor_locator(NullLocator())
        _thousands(ax.yaxis)
        ax.set_title(f"{name} (closed loop)")
        ax.set_xlabel("run date (UTC), labelled with the commit")
        ax.set_ylabel("throughput (requests/s)")
        _legend_outside(ax)
    return fig, (f"Throughput of the headline cells over the {len(history)} runs of machine class "
                 f"{machine_class(run.context)} in {folder} with this run's suite, build type and sanitizers: "
                 "a point is one run's median over its repetitions, its bar the lowest to the highest repetition. "
                 "Headline cells are the ones the CPU- and I/O-scaling verdicts cite: each scaling runner at the "
                 "core count (else the largest worker level within it), and each runner at its highest "
                 "concurrency.")
