"""Plain-sentence verdicts computed from a run: every number cited comes from its cells, and a
number from a noisy cell says so. Each function returns a list of sentences (empty: nothing to say)."""
from __future__ import annotations

import statistics
from collections import Counter
from itertools import groupby

import experiments as ex
import fmt
from results import PERCENTILES, Cell, Run, machine_class, order_runners, short_commit

# A runner whose busy cores stay below this while throughput stays near its 1-worker level is
# concurrent but not parallel.
ONE_CORE = 1.1
NEAR_IDEAL = 0.9  # "within the bound" for I/O scaling; "scales with the cores" for memory bandwidth


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _ties(tied: list[Cell], name) -> str:
    """', tied with coro and procs (intervals overlap)': the cells a leader does not lead significantly, each
    named by name(cell), after it; nothing when it leads them all."""
    return f", tied with {_and([name(c) for c in tied])} (intervals overlap)" if tied else ""


def _n(cell: Cell, text: str) -> str:
    return f"{text} (noisy)" if cell.noisy else text


# "Busy with other work" past these: a tenth of the cores used by other processes on average, or 2% of the
# CPU time stolen by the hypervisor (either moves a 2-core cell by more than the 3% a gate acts on).
OTHER_WORK_CORES_SHARE = 0.1
STEAL_LIMIT = 0.02


def _rate(cell: Cell) -> float:
    return cell.get("items_per_second")


def _ratio(a: Cell, b: Cell) -> str:
    """'1.96x [1.90x–2.01x]': a's throughput over b's (medians), with its conservative interval where both cells
    have one, so a ratio is never quoted more precisely than the repetitions allow."""
    return fmt.ratio_ci(_rate(a) / _rate(b), ex.ratio_interval(a, b))


def _above(a: Cell, b: Cell, factor: float) -> bool:
    """Whether a's throughput exceeds factor x b's: by the medians, and where both cells have an interval by the
    whole interval too ([low a / high b] above factor), so noise alone never makes a gain or a loss."""
    interval = ex.ratio_interval(a, b)
    return _rate(a) > factor * _rate(b) and (interval is None or interval[0] > factor)


def general(run: Run) -> list[str]:
    out = []
    cells = run.cells
    failed = [c for c in cells if not c.ok]
    if failed:
        out.append(f"{len(failed)} of {len(cells)} cells failed and carry no numbers: "
                   f"{_and([c.name for c in failed])} (messages under Failed rows).")
    noisy = [c for c in cells if c.noisy]
    if noisy:
        limit = run.context.get("noise_cv_limit")
        reps = run.context.get("repetitions")
        why = "throughput CV above " + (fmt.pct(limit) if isinstance(limit, (int, float)) else "the limit")
        if reps:
            why += f" over {reps} repetitions"
        # Counts, not names: a list of 71 cell names is a wall nobody reads; each cell is marked in its table.
        by_runner = Counter(c.runner for c in noisy)
        counts = ", ".join(f"{runner} {by_runner[runner]}" for runner in order_runners(by_runner))
        out.append(f"{len(noisy)} of {len(cells)} cells are noisy ({why}; by runner: {counts}); "
                   "each is marked (noisy) in the tables below.")
    with_interval = [c for c in cells if c.ok and c.interval(ex.RATE)]
    if with_interval:
        short = ex.coverage_note(with_interval)
        out.append("Runners are compared by the distribution-free confidence interval of each median over its "
                   "repetitions: overlapping intervals are a tie, and a ratio carries its interval"
                   + (f"; here the {short}, so a tie or a lead is judged on narrower intervals than 95%." if short
                      else "."))
    other, steal = run.context.get("other_busy_cores"), run.context.get("steal_fraction")
    before, after = run.context.get("load_avg_before"), run.context.get("load_avg_after")
    if run.cores and isinstance(other, (int, float)) and isinstance(steal, (int, float)):
        # Not the load average: the suite's own 1,000-thread cells raise that on a quiet machine.
        busy = other > OTHER_WORK_CORES_SHARE * run.cores or steal > STEAL_LIMIT
        out.append(f"Processes outside the suite used {other:.2f} of {fmt.plural(run.cores, 'core')} on average "
                   f"during the run, and the hypervisor took {fmt.pct(steal)} of the CPU time: "
                   + ("the machine was busy with other work, so small differences may be noise." if busy
                      else "the machine was otherwise quiet."))
    elif run.cores and before and after:  # a file from before other_busy_cores
        busy = max(before[0], after[0]) > run.cores
        out.append(f"1-minute load average {before[0]:.2f} before the run and {after[0]:.2f} after, on "
                   f"{fmt.plural(run.cores, 'core')}: " + ("the machine was busy with other work, so small differences "
                                             "may be noise." if busy else "the machine was otherwise quiet."))
    return out


def cpu_scaling(run: Run) -> list[str]:
    out = []
    for label, series in ex.cpu_scaling(run).items():
        seq = series["seq"][0][1] if "seq" in series else None
        scaling = {r: p for r, p in series.items() if len(p) > 1 and ex.speedup(p, 1) is not None}
        if not scaling:
            out.append(f"CPU-bound ({label}): no runner has both a 1-worker cell and a larger one, "
                       "so there is no scaling to judge.")
            continue
        levels = sorted({w for p in scaling.values() for w, _ in p})
        at = ex.cited_level(levels, run.cores)
        parts = []
        for runner, points in scaling.items():
            cell = next((c for w, c in points if w == at), None)
            if cell is None:
                continue
            s = ex.speedup(points, at)
            text = (f"{runner} {fmt.ratio_ci(s, ex.speedup_interval(points, at))} ({fmt.pct(s / at)} of ideal, "
                    f"{fmt.num(cell.get('busy_cores'))} busy cores")
            if seq:
                text += f", {_ratio(cell, seq)} seq"
            parts.append(_n(cell, text + ")"))
        where = fmt.plural(at, "worker") + (f" on {fmt.plural(run.cores, 'core')}" if run.cores else "")
        out.append(f"CPU-bound ({label}): at {where}, throughput over each runner's own 1-worker throughput: "
                   f"{_and(parts)}.")

        flat = [r for r, p in scaling.items()
                if at > 1 and (c := next((c for w, c in p if w == at), None)) is not None
                and ex.speedup(p, at) < 1.2 and (c.get("busy_cores") or 0) < ONE_CORE]
        if flat:
            out.append(f"{_and(flat)} {'stays' if len(flat) == 1 else 'stay'} on one core while the sweep adds "
                       "requests in flight: concurrency, not parallelism.")

        if seq:
            # Slower than seq only where seq's interval lies above 1/0.95 of the worker's: not by noise.
            slow = [(r, p[0][1]) for r, p in scaling.items() if p[0][0] == 1 and _above(seq, p[0][1], 1 / 0.95)]
            for runner, cell in slow:
                out.append(_n(cell, f"One {runner} worker delivers {_ratio(cell, seq)} of seq "
                                    f"({fmt.rate(_rate(cell))} vs {fmt.rate(_rate(seq))})") +
                           ": the cost of its dispatch, paid before any parallelism.")

        top = max(levels)
        if top > at:
            past = []
            for runner, points in scaling.items():
                a = next((c for w, c in points if w == at), None)
                b = next((c for w, c in points if w == top), None)
                if a and b:
                    past.append((runner, a, b))
            if past:
                gaining = [r for r, a, b in past if _above(b, a, 1.05)]
                verdict = (f"{_and(gaining)} still gain{'s' if len(gaining) == 1 else ''}" if gaining
                           else "the extra workers add nothing")
                past_what = f"the {fmt.plural(run.cores, 'core')}" if run.cores and at == run.cores else f"{at:g}"
                ratios = _and([_n(b, f"{r} {_ratio(b, a)}") for r, a, b in past])
                out.append(f"At {fmt.plural(top, 'worker')}, past {past_what}, throughput is {ratios} of the "
                           f"{at:g}-worker throughput: {verdict}.")

        best, tied = ex.tied_with_best([c for p in series.values() for _, c in p])
        lead = f"Most requests/s: {best.runner} with {fmt.rate(_rate(best))} ({best.name})"
        if seq and best is not seq:
            lead += f", {_ratio(best, seq)} seq"
        out.append(_n(best, lead) + _ties(tied, lambda c: _n(c, f"{c.runner} {fmt.rate(_rate(c))} at "
                                                              f"{fmt.plural(c.workers, 'worker')}")) + ".")
    return out


def granularity(run: Run) -> list[str]:
    groups = ex.granularity(run)
    if not groups and any(c.ok and ex.GRANULARITY in c.sweeps for c in run.cells):
        return ["Granularity: the sweep ran but its cells carry no efficiency: its seq reference cells did not "
                "run, so there is no METG."]
    out = []
    on = f" on {fmt.plural(run.cores, 'core')}" if run.cores else ""
    for label, series in groups.items():
        parts = []
        for runner, points in series.items():
            if runner == "seq":
                continue  # the reference: its efficiency is 1 at every size by definition
            m = ex.metg(points)
            if m is None:
                size, best = max(points, key=lambda p: p[1].get("efficiency"))
                text = f"{runner} not reached (best {fmt.pct(best.get('efficiency'))} at {size:,g} \u00b5s)"
            else:
                text = f"{runner} {fmt.metg(*m)}"
            # The METG rests on the whole curve (from which size on every size keeps 50%), so any noisy cell
            # of it can move it.
            parts.append(f"{text} (noisy)" if any(c.noisy for _, c in points) else text)
        if parts:
            reference = " (seq is the reference)" if "seq" in series else ""
            out.append(f"{ex.METG_NAME}{on} ({label}), the smallest request from which on a runner keeps "
                       f"{100 * ex.METG_EFFICIENCY:g}% efficiency: {_and(parts)}{reference}.")
    return out


def memory_scaling(run: Run) -> list[str]:
    memcpy = ex.memcpy_gb_per_s(run)
    copy = (f"one thread's memcpy copies {fmt.num(memcpy)} GB/s ({fmt.num(ex.MEMCPY_TRAFFIC * memcpy)} GB/s of "
            "traffic)" if memcpy else "the run's context has no memcpy_gb_per_s to set it beside (an older file)")
    out = []
    for label, series in ex.memory_scaling(run).items():
        scaling = {r: p for r, p in series.items() if len(p) > 1 and ex.speedup(p, 1) is not None}
        if not scaling:
            out.append(f"Memory bandwidth ({label}): no runner has both a 1-worker cell and a larger one, so there "
                       f"is no scaling to judge; {copy}.")
            continue
        at = ex.cited_level(sorted({w for p in scaling.values() for w, _ in p}), run.cores)
        where = fmt.plural(at, "worker") + (f" on {fmt.plural(run.cores, 'core')}" if run.cores else "")
        # The bytes per request are fixed within a group, so the throughput's speed-up is the bandwidth's.
        cited = {r: (c, ex.speedup(p, at)) for r, p in scaling.items()
                 if (c := next((c for w, c in p if w == at), None)) is not None}
        parts = [_n(c, f"{r} {fmt.num(c.get('gb_per_second'))} GB/s "
                       f"({fmt.ratio_ci(s, ex.speedup_interval(scaling[r], at))} of 1 worker, "
                       f"{fmt.pct(s / at)} of ideal, {fmt.num(c.get('busy_cores'))} busy cores)")
                 for r, (c, s) in cited.items()]
        out.append(f"Memory bandwidth ({label}), read at {where}: {_and(parts)}; {copy}.")
        if at <= 1:
            continue  # one worker is all the cores: nothing could run out before them

        # A runner on one core (coro) is flat whatever the bandwidth: its curve cannot tell. A core stalled on
        # memory still counts as busy, so a flat curve means bandwidth ran out only where the cores were busy.
        busy = {r: c.get("busy_cores") or 0 for r, (c, _) in cited.items()}
        one_core = [r for r in cited if busy[r] < ONE_CORE]
        scaled = [_n(c, r) for r, (c, s) in cited.items() if r not in one_core and s >= NEAR_IDEAL * at]
        flat = [(r, c) for r, (c, s) in cited.items() if r not in one_core and s < NEAR_IDEAL * at]
        starved = [_n(c, r) for r, c in flat if busy[r] >= NEAR_IDEAL * at]
        spare = [(r, c) for r, c in flat if busy[r] < NEAR_IDEAL * at]
        if starved:
            out.append(f"{_and(starved)} flatten{'s' if len(starved) == 1 else ''} before the cores run out (below "
                       f"{fmt.pct(NEAR_IDEAL)} of ideal at {where}, the cores busy): memory bandwidth, not cores, "
                       "ran out.")
        if spare:
            out.append(f"{_and([_n(c, r) for r, c in spare])} {'falls' if len(spare) == 1 else 'fall'} below "
                       f"{fmt.pct(NEAR_IDEAL)} of ideal at {where} with cores to spare "
                       f"({_and([fmt.num(busy[r]) for r, _ in spare])} busy): the workers did not keep the cores "
                       "busy, so this does not show that memory bandwidth ran out.")
        if scaled:
            out.append(f"{_and(scaled)} scale{'s' if len(scaled) == 1 else ''} with the cores ({fmt.pct(NEAR_IDEAL)} "
                       f"of ideal or more at {where}): the memory bandwidth did not run out before the cores did.")
        if one_core:
            out.append(f"{_and(one_core)} {'runs' if len(one_core) == 1 else 'run'} on one core: "
                       f"{'its' if len(one_core) == 1 else 'their'} curve is one thread's bandwidth at every level, "
                       "so it cannot show where the memory's runs out.")
    return out


def io_scaling(run: Run) -> list[str]:
    out = []
    for label, series in ex.io_scaling(run).items():
        wait = series[next(iter(series))][0][1].param("wait_us")
        parts, within = [], []
        for runner, points in series.items():
            if len(points) == 1 and len(series) > 1:
                continue  # a single cell (seq at 1 in flight) shows no scaling
            c = points[-1][1]
            share = _rate(c) / ex.io_bound(c)
            text = (f"{runner} reaches {fmt.pct(share)} of the bound at {fmt.count(c.concurrency)} in flight "
                    f"({fmt.count(c.workers)} worker{'s' if c.workers > 1 else ''}, "
                    f"{fmt.num(c.get('busy_cores'))} busy cores, {fmt.num(c.get('rss_peak_mb'))} MB peak RSS, "
                    f"{fmt.count((c.get('ctx_voluntary') or 0) + (c.get('ctx_involuntary') or 0))} "
                    "context switches)")
            parts.append(_n(c, text))
            good = [x for x, p in points if _rate(p) >= NEAR_IDEAL * ex.io_bound(p)]
            within.append(f"{runner} up to {fmt.count(max(good))}" if good else f"{runner} nowhere")
        if not parts:
            continue
        out.append(f"I/O-bound ({label}, {fmt.duration_us(wait)} per request): {_and(parts)}.")
        out.append(f"Within {fmt.pct(NEAR_IDEAL)} of the in flight / wait bound: {_and(within)} in flight.")

        scaling = {r: p for r, p in series.items() if len(p) > 1}
        shared = set.intersection(*({x for x, _ in p} for p in scaling.values())) if len(scaling) > 1 else set()
        if shared:
            x = max(shared)
            cells = [next(c for cx, c in p if cx == x) for p in scaling.values()]
            best, tied = ex.tied_with_best(cells)
            others = [_n(c, f"{c.runner} {fmt.rate(_rate(c))} on {fmt.num(c.get('busy_cores'))}")
                      for c in cells if c is not best]
            out.append(f"At {fmt.count(x)} in flight (the highest concurrency they all ran): "
                       + _n(best, f"{best.runner} delivers {fmt.rate(_rate(best))} on "
                                  f"{fmt.num(best.get('busy_cores'))} busy cores")
                       + f", against {_and(others)}" + _ties(tied, lambda c: c.runner) + ".")
    return out


def _tcp_costs(cell: Cell) -> str:
    """', paying 304 MB of peak RSS, 0.018 context switches per request and 25.4 µs of CPU per request': what the
    cell's numbers say it paid, each left out when its counter is missing."""
    rss, ctx, cpu = cell.get("rss_peak_mb"), ex.ctx_per_request(cell), cell.get("cpu_us_per_request")
    paid = [text for value, text in ((rss, f"{fmt.num(rss)} MB of peak RSS"),
                                     (ctx, f"{fmt.num(ctx)} context switches per request"),
                                     (cpu, f"{fmt.num(cpu)} \u00b5s of CPU per request")) if value is not None]
    text = f", paying {_and(paid)}" if paid else ""
    server = cell.get("server_busy_cores")
    if cell.get("server_bound"):  # then the rate is the server's, and the sentence must say so
        text += f" (server-bound: the tcp server's loop was busy {fmt.num(server)} of the time)"
    return text


def _tcp_serves(cell: Cell) -> str:
    """'60,940/s on 0.85 busy cores': the rate, marked when noisy, and the cores it kept busy when measured."""
    busy = cell.get("busy_cores")
    return _n(cell, fmt.rate(_rate(cell))) + (f" on {fmt.num(busy)} busy cores" if busy is not None else "")


def _tcp_queued(cell: Cell) -> str:
    """'(998 of the 1,000 requests queue behind 2 blocking calls)': a pool with fewer workers than connections."""
    return (f"({cell.concurrency - cell.workers:,} of the {cell.concurrency:,} requests queue behind "
            f"{fmt.plural(cell.workers, 'blocking call')})")


def _loop_threads(cell: Cell) -> str:
    return "one loop thread" if cell.workers == 1 else fmt.plural(cell.workers, "loop thread")


def _tcp_runner(runner: str, cells: list[Cell], loop: bool, conc: int) -> str | None:
    """One runner's sentence at `conc` connections: its loop thread, or its pool with a worker per connection
    and the smaller pools whose requests queue."""
    if loop:
        c = cells[-1]
        return f"{runner} serves {_tcp_serves(c)} with {_loop_threads(c)}{_tcp_costs(c)}"
    full = next((c for c in reversed(cells) if c.workers >= conc), None)
    queued = [c for c in cells if c.workers < conc]
    if full is None:
        return "; ".join(f"{runner} with {fmt.plural(c.workers, 'worker')} serves {_tcp_serves(c)} {_tcp_queued(c)}"
                         for c in queued) or None
    slower = [c for c in queued if _rate(c) < _rate(full)]
    workers = fmt.plural(full.workers, "worker")
    # "needs" only where the data show it: a smaller pool of the same runner served fewer requests/s.
    text = (f"{runner} needs {workers}, one per connection, to serve" if slower else
            f"{runner} with {workers}, one per connection, serves") + f" {_tcp_serves(full)}{_tcp_costs(full)}"
    for c in queued:
        text += (f"; with {fmt.plural(c.workers, 'worker')} it serves {'only ' if c in slower else ''}"
                 f"{_n(c, fmt.rate(_rate(c)))} {_tcp_queued(c)}")
    return text


def tcp(run: Run) -> list[str]:
    out = []
    loops = ex.tcp_event_loops(run)
    of = f", of {fmt.plural(run.cores, 'core')}," if run.cores else ""
    for label, series in ex.tcp_scaling(run).items():
        parts, busy = [], []
        for runner, points in series.items():
            x, c = max(points, key=lambda p: _rate(p[1]))
            top, last = points[-1]
            text = _n(c, f"{runner} {fmt.rate(_rate(c))} at {fmt.count(x)} in flight")
            if top > x:
                text += f" ({_n(last, fmt.rate(_rate(last)))} at {fmt.count(top)})"
            parts.append(text)
            if last.get("busy_cores") is not None:
                busy.append(_n(last, f"{runner} {fmt.num(last.get('busy_cores'))} at {fmt.count(top)}"))
        delay = next(c for p in series.values() for _, c in p).param("delay_us")
        where = f", the server answering after {fmt.duration_us(delay)}" if delay else ""
        on_loops = [r for r in series if r in loops]
        load = "a worker per connection" + (f", {_and(on_loops)} on one loop thread" if on_loops else "")
        out.append(f"Loopback TCP ({label}{where}), the most requests/s each runner served over the connections in "
                   f"flight it ran ({load}): {_and(parts)}.")
        if busy:
            out.append(f"Busy cores{of} at the most connections in flight each runner ran ({label}): {_and(busy)}.")

    conc = ex.TCP_COST_CONCURRENCY
    for label, cells in ex.tcp_cost(run).items():
        ok = [c for c in cells if c.ok and c.get("items_per_second")]
        by_runner = {r: [c for c in ok if c.runner == r] for r in dict.fromkeys(c.runner for c in ok)}
        for runner, mine in by_runner.items():
            text = _tcp_runner(runner, mine, runner in loops, conc)
            if text:
                out.append(f"At {conc:,} connections in flight ({label}), {text}.")

        # Each pool with a worker per connection against the event loop, where both have the numbers.
        loop = next((mine[-1] for r, mine in by_runner.items() if r in loops), None)
        if loop is None:
            continue
        against = []
        for runner, mine in by_runner.items():
            full = next((c for c in reversed(mine) if c.workers >= conc), None)
            if runner in loops or full is None:
                continue
            costs = [f"{fmt.ratio(a / b)} the {what}" for what, a, b in (
                ("CPU", full.get("cpu_us_per_request"), loop.get("cpu_us_per_request")),
                ("context switches", ex.ctx_per_request(full), ex.ctx_per_request(loop))) if a is not None and b]
            against.append(_n(full, f"{runner} with {fmt.plural(full.workers, 'worker')}") +
                           f" serves {_ratio(full, loop)} the requests/s" +
                           (f" at {_and(costs)} per request" if costs else ""))
        if against:
            out.append(_n(loop, f"Against {loop.runner} on {_loop_threads(loop)} at {conc:,} connections in flight "
                                f"({label})") + f": {'; '.join(against)}.")
    return out


def _share(x: float) -> str:
    return f"{100 * x:.0f}%"


def _lead_text(lead: ex.Lead) -> str:
    """'coro leads up to ~35% CPU, threads from there on', 'threads ahead wherever they differ, no significant
    crossing (tied up to 10%)': who leads a pair where, and where they tie."""
    ties = []
    for tied, group in groupby(zip(lead.shares, lead.leaders), key=lambda p: p[1] is None):
        if tied:
            span = [x for x, _ in group]
            lo, hi = span[0], span[-1]
            ties.append(f"at {_share(lo)}" if lo == hi else f"up to {_share(hi)}" if lo == lead.shares[0]
                        else f"from {_share(lo)}" if hi == lead.shares[-1] else f"from {_share(lo)} to {_share(hi)}")
    if not any(lead.leaders):
        return "tied over the whole range"
    if lead.crossings:
        crossings = lead.crossings
        steps = [f"{crossings[0][0]} leads up to ~{_share(crossings[0][2])} CPU"]
        steps += [f"{to} from there to ~{_share(nxt[2])}" for (_, to, _), nxt in zip(crossings, crossings[1:])]
        steps.append(f"{crossings[-1][1]} from there on")
        text = ", ".join(steps)
    elif ties:  # their medians may swap inside a tie, but no lead is significant on both sides of it
        text = f"{next(who for who in lead.leaders if who)} ahead wherever they differ, no significant crossing"
    else:
        text = f"{next(who for who in lead.leaders if who)} ahead over the whole range"
    return text + (f" (tied {_and(ties)})" if ties else "")


def _at_concurrency(series: ex.Series) -> ex.Series:
    """The runners' cells at the group's main concurrency: a 1-in-flight reference (seq) is another load."""
    conc = ex.main_concurrency(series)
    at_conc = {r: [(x, c) for x, c in p if c.concurrency == conc] for r, p in series.items()}
    return {r: p for r, p in at_conc.items() if p}


def _swaps(label: str, series: ex.Series) -> str | None:
    """One sentence: for each pair of runners, where they swap places by throughput as the CPU share grows."""
    conc = ex.main_concurrency(series)
    at_conc = _at_concurrency(series)
    runners = list(at_conc)
    leads = [(a, b, ex.lead(at_conc, a, b)) for i, a in enumerate(runners) for b in runners[i + 1:]]
    leads = [(a, b, lead) for a, b, lead in leads if len(lead.shares) > 1]
    if not leads:
        return None
    parts = [f"{a} vs {b}: {_lead_text(lead)}" for a, b, lead in leads]
    shares = sorted({x for p in at_conc.values() for x, _ in p})
    return (f"Who leads as the CPU share grows ({label}, {conc:,} in flight, {_share(shares[0])} to "
            f"{_share(shares[-1])} CPU; {_tie_rule([lead for _, _, lead in leads])}): {'; '.join(parts)}.")


def _tie_rule(leads: list[ex.Lead]) -> str:
    """What made a tie in these pairs: overlapping intervals where both cells have one, the 5% rule where a cell
    has one repetition (no spread to judge by); both, when the run has both."""
    by_interval = {judged for lead in leads for judged in lead.by_interval}
    medians = f"less than {ex.TIE:.0%} apart, or a noisy cell whose repetitions overlap the other's"
    if True not in by_interval:
        return f"{medians}, is a tie"
    return "overlapping confidence intervals of the medians are a tie" + (
        f" (where a cell has one repetition: {medians})" if False in by_interval else "")


def crossover_swaps(run: Run) -> list[str]:
    """The crossover verdict's swap sentences alone, for the figure's caption."""
    return [s for label, series in ex.crossover(run).items() if (s := _swaps(label, series))]


def crossover(run: Run) -> list[str]:
    out = []
    for label, series in ex.crossover(run).items():
        conc = ex.main_concurrency(series)
        at_conc = _at_concurrency(series)
        shares = sorted({x for p in at_conc.values() for x, _ in p})
        parts = []
        for share in shares:
            cells = [c for p in at_conc.values() for x, c in p if x == share]
            best, tied = ex.tied_with_best(cells)
            rest = [_n(c, f"{c.runner} {fmt.rate(_rate(c))} ({_ratio(c, best)})") for c in cells if c is not best]
            who = (f"{best.runner} leads with" if not tied else
                   f"{_and([best.runner] + [c.runner for c in tied])} tie (intervals overlap), {best.runner}")
            text = _n(best, f"at cpu_share {share:g} {who} {fmt.rate(_rate(best))}")
            parts.append(text + (f", {_and(rest)}" if rest else ""))
        out.append(f"Crossover ({label}, {conc:,} in flight): {'; '.join(parts)}.")

        swaps = _swaps(label, series)
        if swaps:
            out.append(swaps)

        request_us = next(iter(at_conc.values()))[0][1].param("request_us")
        flat = [(r, p) for r, p in at_conc.items() if all((c.get("busy_cores") or 0) < ONE_CORE for _, c in p)]
        for runner, points in flat if request_us else []:
            # One core completes at most 1 / (CPU time per request) requests per second.
            bounded = [(x, c) for x, c in points if x > 0]
            if bounded:
                fractions = [_n(c, fmt.pct(_rate(c) / min(conc * 1e6 / request_us, 1e6 / (x * request_us))))
                             for x, c in bounded]
                shares = _and([f"{x:g}" for x, _ in bounded])
                out.append(f"{runner} runs on one core: {_and(fractions)} of the one-core bound "
                           f"(min(C / request time, 1 / CPU time)) at cpu_share {shares}.")
    return out


def pipeline(run: Run) -> list[str]:
    out = []
    for label, series in ex.pipeline(run).items():
        best_of = {r: max((c for _, c in points), key=_rate) for r, points in series.items()}
        best, tied = ex.tied_with_best(list(best_of.values()))
        seq = best_of.get("seq")
        load = f"{best.concurrency:,} in flight, {fmt.plural(best.workers, 'worker')}"
        if seq is not None and best is not seq:
            load += f", {fmt.ratio(_rate(best) / _rate(seq))} seq"
        others = [_n(c, f"{c.runner} {fmt.rate(_rate(c))}") for c in best_of.values() if c is not best]
        stage, busy = ex.bottleneck(best)
        rest = [f"{s} {fmt.num(ex.stage_busy(best, s))}" for s in ex.stage_names(best) if s != stage]
        out.append(_n(best, f"Pipeline ({label}): {best.runner} moves the most items, {fmt.rate(_rate(best))} ({load})")
                   + (f", against {_and(others)}" if others else "") + _ties(tied, lambda c: c.runner)
                   + f"; its bottleneck is the {stage} stage, busy {fmt.num(busy)} cores"
                   + (f" ({', '.join(rest)})" if rest else "") + ".")
    return out


def _percentile(cell: Cell, key: str, name: str) -> str:
    value = cell.get(key)
    return f"{name} {fmt.num(value)} µs" if value is not None else (
        f"{name} {fmt.MISSING} ({cell.missing.get(key, 'too few samples')})")


def _p99(cell: Cell) -> str:
    return _percentile(cell, "latency_p99_us", "p99")


def _load_note(run: Run, cell: Cell) -> str:
    """' (90.0% of its peak, saturated)': what share of its own peak a cell was offered, and whether it kept up."""
    top = ex.peak(run, cell)
    notes = ([f"{fmt.pct(cell.get('offered_per_second') / top)} of its peak"] if top else []) + (
        ["saturated"] if ex.saturated(cell) else [])
    return f" ({', '.join(notes)})" if notes else ""


def latency_equal(run: Run) -> list[str]:
    out = []
    for label, comparisons in ex.equal_load(run).items():
        fractions = [c for c in comparisons if c.kind == "fraction"]
        if fractions:
            # The fraction nearest half the peak: loaded, yet below every runner's knee.
            cmp = min(fractions, key=lambda c: (abs(c.value - 0.5), c.value))
            parts = [_n(c, f"{c.runner} {_percentile(c, 'latency_p50_us', 'p50')}, {_p99(c)} at "
                           f"{fmt.rate(c.get('offered_per_second'))}" + (" (saturated)" if ex.saturated(c) else ""))
                     for c in cmp.cells]
            same = ex.coinciding(cmp.cells)
            tail = ""
            if len(same) > 1:
                lo = min(c.get("offered_per_second") for c in same)
                hi = max(c.get("offered_per_second") for c in same)
                spread = (f"the same rate ({fmt.rate(lo)})" if fmt.rate(lo) == fmt.rate(hi) else
                          f"within {fmt.pct(hi / lo - 1)} of one rate ({fmt.rate(lo)} to {fmt.rate(hi)})")
                tail = f"; {_and([c.runner for c in same])} are offered {spread}, so this is also an equal absolute rate"
            out.append(f"Latency at equal load ({label}), at {100 * cmp.value:g}% of each runner's own closed-loop "
                       f"peak: {_and(parts)}{tail}.")
        for cmp in comparisons:
            if cmp.kind == "fraction" or len(cmp.cells) < 2:
                continue
            ranked = [c for c in cmp.cells if c.get("latency_p99_us") is not None]
            best = min(ranked, key=lambda c: c.get("latency_p99_us")) if ranked else None
            parts = [_n(c, f"{c.runner} {_p99(c)} at {fmt.rate(c.get('offered_per_second'))}{_load_note(run, c)}")
                     for c in cmp.cells]
            where = (f"{fmt.rate(cmp.value)} offered to each" if cmp.kind == "rate" else
                     f"about one offered rate ({fmt.rate(cmp.value)} to {fmt.rate(max(cmp.rates()))}, within "
                     f"{ex.NEAR:.0%})")
            lowest = f"; lowest p99: {best.runner}" if best is not None and len(ranked) > 1 else ""
            out.append(f"Latency at equal load ({label}), at {where}: {_and(parts)}{lowest}.")
    return out


def _slo_part(run: Run, s: ex.Slo) -> str:
    if s.capacity is None:
        if len(s.no_p99) == len(s.points):
            return f"{s.runner} has no p99 at any offered rate (too few samples), so it never shows holding it"
        measured = [(x, c) for x, c in s.points if c.get("latency_p99_us") is not None]
        x, c = measured[0]
        why = "saturated there" if ex.saturated(c) else _p99(c)
        if s.no_p99:
            return _n(c, f"{s.runner} never holds it (p99 missing at {_and([fmt.rate(x) for x, _ in s.no_p99])}, "
                         f"too few samples; at its lowest offered rate with a p99, {fmt.rate(x)}: {why})")
        return _n(c, f"{s.runner} never holds it (at its lowest offered rate, {fmt.rate(x)}: {why})")
    x, c = s.capacity
    share = f"{fmt.pct(x / s.peak)} of its peak, " if s.peak else ""
    reach = "at every offered rate measured, up to" if s.at_every_rate else "up to"
    return _n(c, f"{s.runner} holds it {reach} {fmt.rate(x)} offered ({share}{_p99(c)})")


def slo(run: Run, label: str, series: ex.Series) -> list[str]:
    target = ex.slo_target_us(series)
    if target is None:
        return [f"SLO capacity ({label}): not judged: the request's own time (work_us + wait_us) is 0, so "
                f"{ex.SLO_FACTOR:g} x it gives no p99 target."]
    limit, request = target
    results = ex.slo(run, series, limit)
    out = [f"SLO capacity ({label}, target p99 <= {fmt.duration_us(limit)}, {ex.SLO_FACTOR:g} x the request's own "
           f"{fmt.duration_us(request)}): {_and([_slo_part(run, s) for s in results])}."]
    uncounted = [_n(c, f"{s.runner} at {fmt.rate(x)} ({_p99(c)}, achieves {fmt.rate(c.get('achieved_per_second'))})")
                 for s in results for x, c in s.saturated_under]
    if uncounted:
        out.append(f"Saturated (achieved < 95% of offered), so not counted as holding the SLO although p99 is under "
                   f"{fmt.duration_us(limit)}: {_and(uncounted)}.")
    return out


def latency(run: Run) -> list[str]:
    out = []
    groups = ex.open_loop(run)
    if not groups:
        out.append("No open-loop data in this run (no cell has offered_per_second): latency under offered load "
                   "is not drawn; the closed-loop percentiles are in the table below.")
    for label, series in groups.items():
        parts = []
        for runner, points in series.items():
            ok = [(x, c) for x, c in points if not ex.saturated(c)]
            sat = [(x, c) for x, c in points if ex.saturated(c)]
            if ok:
                x, c = ok[-1]
                text = _n(c, f"{runner} sustains {fmt.rate(x)} offered with {_p99(c)}")
            else:
                text = f"{runner} saturates at every offered rate"
            if sat:
                x, c = sat[0]
                text += f" and saturates at {fmt.rate(x)} (achieves {fmt.rate(c.get('achieved_per_second'))})"
            parts.append(text)
        out.append(f"Latency under load ({label}): {_and(parts)}.")
        out += slo(run, label, series)

    failed = [c for c in run.cells if not c.ok and c.open_loop]
    if failed:
        out.append(f"{fmt.plural(len(failed), 'open-loop cell')} failed and {'is' if len(failed) == 1 else 'are'} "
                   f"left out of the latency figures: {_and([c.name for c in failed])}.")
    for loop, cells in (("closed-loop", [c for c in run.cells if c.ok and not c.open_loop]),
                        ("open-loop", [c for points in groups.values() for p in points.values() for _, c in p])):
        for key, name in PERCENTILES:
            lacking = [c for c in cells if key in c.missing]
            if not lacking:
                continue
            which = f": {_and([c.name for c in lacking])}" if loop == "open-loop" else ""
            out.append(f"{name} is missing in {len(lacking)} of {len(cells)} {loop} cells{which}: too few samples "
                       "behind it (shown as \u2014).")
    return out


def concurrency_map(run: Run) -> list[str]:
    cells = ex.map_points(run)
    if not cells:
        return []
    parts = []
    for runner in run.runners():
        mine = [c for c in cells if c.runner == runner]
        if not mine:
            continue
        most_in_flight = max(mine, key=lambda c: c.get("in_flight"))
        busiest = max(mine, key=lambda c: c.get("busy_cores"))
        parts.append(f"{runner} up to {fmt.num(most_in_flight.get('in_flight'))} requests in flight and "
                     f"at most {fmt.num(busiest.get('busy_cores'))} busy cores")
    of = f" on {fmt.plural(run.cores, 'core')}" if run.cores else ""
    return [f"Concurrency vs parallelism{of}, achieved (not set): {_and(parts)}."]


def cost(run: Run) -> list[str]:
    out = []
    overhead = [c for c in run.select("cpu") if c.param("work_us") == 0 and c.concurrency == 1
                and c.get("items_per_second")]
    if overhead:
        seq = next((c for c in overhead if c.runner == "seq"), None)
        parts = []
        for c in sorted(overhead, key=lambda c: run.runners().index(c.runner)):
            text = f"{c.runner} {fmt.num(1e6 / _rate(c))} µs"
            if seq and c is not seq:
                text += f" ({fmt.ratio(_rate(seq) / _rate(c))} seq)"
            parts.append(_n(c, text))
        out.append("Per-request overhead (cpu work_us 0, 1 in flight, wall time per request): " + _and(parts) + ".")

    by_shape: dict[str, list[list[Cell]]] = {}
    for cells in ex.cost_groups(run).values():
        if len(cells) > 1:
            by_shape.setdefault(cells[0].shape_label(), []).append(cells)
    for shape, candidates in by_shape.items():
        # The highest concurrency two or more runners share: where the models differ most.
        cells = max(candidates, key=lambda cs: cs[0].concurrency)
        least = min(c.get("cpu_us_per_request") for c in cells)
        cpu = []
        for c in cells:
            us = c.get("cpu_us_per_request")
            relative = f" ({fmt.ratio(us / least)})" if least > 0 and us != least else ""
            cpu.append(_n(c, f"{c.runner} {fmt.num(us)} µs{relative}"))
        rss = [f"{c.runner} {fmt.num(ex.rss_per_in_flight(c))} MB" for c in cells
               if ex.rss_per_in_flight(c) is not None]
        out.append(f"Cost ({shape}, {cells[0].concurrency:,} in flight): CPU per request {_and(cpu)}; "
                   f"peak RSS per request in flight {_and(rss)}.")
    return out


# procs and threads within this of each other in throughput are "alike": nothing to explain.
ALIKE = 0.10
PROCESS_DIFFERENCES_SHOWN = 4


def _why_procs(procs: Cell, threads: Cell) -> str:
    """What the procs cell paid that the threads cell did not, from the counters both carry."""
    paid = []
    for key, unit, per in (("cpu_us_per_request", "µs of CPU", None),
                           ("ctx_voluntary", "context switches", "requests"),
                           ("page_faults", "page faults", "requests")):
        a = procs.get(key) if per is None else ex.per_request(procs, key)
        b = threads.get(key) if per is None else ex.per_request(threads, key)
        if a is not None and b is not None:
            paid.append(f"{fmt.num(a)} {unit} per request (threads {fmt.num(b)})")
    rss_p, rss_t = procs.get("rss_peak_mb"), threads.get("rss_peak_mb")
    if rss_p is not None and rss_t is not None and procs.workers > 1:
        paid.append(f"{fmt.num(rss_p / procs.workers)} MB of peak RSS per worker process "
                    f"(threads {fmt.num(rss_t / threads.workers)} MB per thread)")
    return _and(paid) if paid else "no counter says why"


def processes(run: Run) -> list[str]:
    """Where procs and threads ran the same cell and differ: the measured reason, largest differences first."""
    pairs = []
    for cells in ex.cost_groups(run).values():
        threads = {c.workers: c for c in cells if c.runner == "threads"}
        for p in (c for c in cells if c.runner == "procs"):
            t = threads.get(p.workers)
            if t is None or not _rate(t):
                continue
            ratio = _rate(p) / _rate(t)
            if abs(ratio - 1) > ALIKE and ex.order(p, t) != 0:  # overlapping intervals: no difference to explain
                pairs.append((abs(ratio - 1), ratio, p, t))
    if not pairs:
        return []
    pairs.sort(key=lambda x: -x[0])
    shown = min(len(pairs), PROCESS_DIFFERENCES_SHOWN)
    out = [f"procs against threads on the same cell, where they differ by more than {ALIKE:.0%} in throughput"
           + (", intervals apart" if any(ex.order(p, t) is not None for *_, p, t in pairs) else "") + " "
           f"({fmt.plural(len(pairs), 'cell')}" + (f"; the {shown} largest" if shown < len(pairs) else "") + "): each request is "
           "executed in a worker process with nothing in between, so the difference is what processes cost: a "
           "wake-up of another process switches address spaces (tests/experiments/wakeup_cost measures it)."]
    for _, ratio, p, t in pairs[:PROCESS_DIFFERENCES_SHOWN]:
        out.append(_n(p, f"{p.shape_label()} at {fmt.plural(p.workers, 'worker')}, {p.concurrency:,} in flight: "
                         f"procs {fmt.rate(_rate(p))} against threads {fmt.rate(_rate(t))} ({_ratio(p, t)}), "
                         f"paying {_why_procs(p, t)}") + ".")
    return out


def data_checks(run: Run) -> list[str]:
    """Numbers that contradict each other: said plainly rather than silently drawn."""
    out = []
    cells = [c for c in run.select() if c.get("in_flight") is not None]
    over = [c for c in cells if c.get("in_flight") > 1.005 * c.concurrency]
    if over:
        worst = max(over, key=lambda c: c.get("in_flight") / c.concurrency)
        out.append(f"Achieved in flight exceeds the set concurrency in {fmt.plural(len(over), 'cell')} "
                   f"(worst: {worst.name}, {fmt.num(worst.get('in_flight'))} of {worst.concurrency:,}, "
                   f"+{fmt.pct(worst.get('in_flight') / worst.concurrency - 1)}). A closed loop cannot hold more "
                   "than it issues, so their throughput or mean latency is over-stated by about that much.")
    under = [c for c in cells if c.get("in_flight") < 0.5 * c.concurrency]
    if under:
        out.append(f"Achieved in flight is below half the set concurrency in {fmt.plural(len(under), 'cell')}: "
                   + _and([f"{c.name} ({fmt.num(c.get('in_flight'))})" for c in under])
                   + "; only part of the set concurrency circulated in the measured window.")
    unvalidated = [c for c in run.cells if c.ok and c.get("validated") is not None and c.get("validated") != 1]
    if unvalidated:
        out.append(f"{fmt.plural(len(unvalidated), 'cell')} carry numbers but validated != 1: "
                   f"{_and([c.name for c in unvalidated])}.")
    partial = [c for c in run.cells if any("repetitions" in why for why in c.missing.values())]
    if partial:
        out.append(f"{fmt.plural(len(partial), 'cell')} had a percentile in only some "
                   "repetitions; the report leaves it out rather than cite the median of the few that had it: "
                   + _and([c.name for c in partial]) + ".")
    return out


def trend(run: Run, history: list[Run], folder: str) -> list[str]:
    series = ex.trend(run, history)
    if not series:
        return []
    dates = [when for points in series.values() for when, _, _ in points]
    parts = []
    for name, points in series.items():
        (_, before, b), (_, newest, c) = points[-2:]
        now, then = (statistics.median(x.samples("items_per_second")) for x in (c, b))
        parts.append(_n(c, f"{name} {fmt.rate(now)} at {short_commit(newest.context.get('git_commit'))}, "
                           f"{100 * (now / then - 1):+.1f}% against {short_commit(before.context.get('git_commit'))}"))
    return [f"Trend over {fmt.plural(len(history), 'run')} of machine class {machine_class(run.context)} in {folder} "
            f"({min(dates):%Y-%m-%d} to {max(dates):%Y-%m-%d}), each headline cell's newest run against the one "
            f"before it (median throughput): {'; '.join(parts)}."]
