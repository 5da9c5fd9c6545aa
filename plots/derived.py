"""Metrics that cancel the machine: each cell's numbers over a reference measured in the same run.

A stored baseline was measured on another VM of the same class, and a fresh VM of that class can be 30%
slower on throughput and 40-90% dearer in CPU per request. A ratio of two numbers of the same run keeps
the code's behaviour and drops most of the machine's: this is what `baseline gate` judges, whatever the
calibration says (baseline.py). Each metric is computed per repetition, so compare.py's threshold and
Mann-Whitney U test apply to it unchanged:

- speedup (every workload but sleep): items_per_second over the seq cell's of the same workload and
  request (the same name without its load); seq is what this machine does with one core and no runtime.
- bound (sleep): the cell's share of Little's bound (in flight / wait, as the report's "% of the bound")
  over the seq cell's share of its own bound (1 / wait): how close the runtime comes to the bound against
  how close one plain sleeper comes on this machine. The raw share is not machine-free: a VM's timer slack
  and CPU cost lower seq's share too (10 ms waits take 10.1 ms on the 2-core VM). It is a constant multiple
  of the speed-up (C), so sleep cells get this one and not the speed-up, which would judge it twice.
- efficiency: the row's own `efficiency` (granularity cells: throughput over seq's x workers), which
  conpar already computes from the same run.
- cpu_floor: cpu_us_per_request over the seq cell's: the CPU a runtime adds per request beyond the work
  itself, which the seq loop does on the same machine.

conpar runs a cell's repetitions in a row, so repetition i of a cell and of its seq reference are not
simultaneous; pairing them by repetition_index only gives one ratio per repetition for the U test.
"""
from __future__ import annotations

import dataclasses

from compare import Metric
from results import Cell, Run

SEQ = "seq"
SLEEP = "sleep"

# Optional: a cell without a seq reference, or a cpu cell's "bound", has no such number, and is no "no data" row.
SPEEDUP = Metric("speedup", "speedup_vs_seq", "speed-up over seq", "x", True, optional=True)
BOUND = Metric("bound", "bound_pct_vs_seq", "% of Little's bound over seq's", "%", True, optional=True)
EFFICIENCY = Metric("efficiency", "efficiency", "efficiency", "x", True, optional=True)
CPU_FLOOR = Metric("cpu_floor", "cpu_vs_seq", "CPU per request over seq's", "x", False, optional=True)
METRICS = (SPEEDUP, BOUND, EFFICIENCY, CPU_FLOOR)


def seq_reference(run: Run, cell: Cell) -> Cell | None:
    """The closed-loop seq cell of the same workload and request shape (as the harness's sweeps pick it)."""
    return next((c for c in run.cells if c.runner == SEQ and c.ok and not c.open_loop
                 and c.workload == cell.workload and c.shape == cell.shape), None)


def by_repetition(cell: Cell) -> dict[float, dict[str, float]]:
    return {r["repetition_index"]: r for r in cell.repetitions if "repetition_index" in r}


def ratio(value: float | None, floor: float | None) -> float | None:
    return value / floor if value is not None and floor else None


def derived_counters(rep: dict[str, float], ref: dict[str, float] | None, cell: Cell) -> dict[str, float]:
    """The derived metrics of one repetition, given its seq reference's repetition (None: no reference)."""
    if ref is None:
        return {}
    speedup = ratio(rep.get("items_per_second"), ref.get("items_per_second"))
    out = {CPU_FLOOR.counter: ratio(rep.get("cpu_us_per_request"), ref.get("cpu_us_per_request"))}
    if cell.workload == SLEEP:
        # (ips / (C / wait)) / (seq's ips / (1 / wait)): the wait cancels.
        out[BOUND.counter] = None if speedup is None else 100 * speedup / cell.concurrency
    else:
        out[SPEEDUP.counter] = speedup
    return {k: v for k, v in out.items() if v is not None}


def derive_cell(run: Run, cell: Cell) -> Cell:
    """The cell with its repetitions' derived counters added (its own counters kept, so the absolute metrics
    can still be judged on it)."""
    if cell.runner == SEQ:
        # The reference itself: its ratios to itself are 1 by definition, and so is its efficiency.
        reps = [{k: v for k, v in r.items() if k != EFFICIENCY.counter} for r in cell.repetitions]
        return dataclasses.replace(cell, repetitions=reps)
    ref = seq_reference(run, cell)
    refs = by_repetition(ref) if ref is not None else {}
    reps = []
    for r in cell.repetitions:
        paired = refs.get(r.get("repetition_index"))
        reps.append({**r, **derived_counters(r, paired, cell)})
    return dataclasses.replace(cell, repetitions=reps)


# A ratio to seq cancels the kernel's speed, not every cost of the machine. A request with under 1 µs of
# compute (sleep, tcp, the finest cpu requests) costs mostly the runtime's overhead: system calls, wake-ups,
# hand-offs between workers, the loopback stack; a request that waits (sleep, mixed) pays the timer's slack
# and a wake-up per wait. Its ratio to seq then measures those, which differ between VMs of one class as
# much as absolute numbers do (the futex round trip: 5 µs on one VM, 15 µs on another; the mixed cells'
# speed-ups moved by up to 27% between two VMs, same code).
# A memory request's cost is the memory bandwidth (memcpy: 14.4 GB/s on one VM, 19.3 on another). Such a
# cell's ratios are judged only when the calibration of that cost matches (baseline.py). One exception:
# a sleep cell's share of Little's bound, which depends on the wait, not on the overhead (across two VMs of
# the 2-core class: median change 0.5%, 90th percentile 4%).
OVERHEAD_BOUND_US = 1.0
OVERHEAD, BANDWIDTH = "overhead", "bandwidth"


def machine_cost(cell: Cell) -> str | None:
    """The machine cost a cell's ratios measure besides the kernel's speed: OVERHEAD, BANDWIDTH or None."""
    if cell.get("bytes_per_request"):
        return BANDWIDTH
    if (cell.get("work_us") or 0) < OVERHEAD_BOUND_US or (cell.get("wait_us") or 0) > 0:
        return OVERHEAD  # a wait's cost is the timer's slack and a wake-up: the mixed requests' too
    return None


def derive_run(run: Run, unmatched: frozenset[str] = frozenset()) -> Run:
    """Every cell with its derived counters; the ratios of a cell whose machine cost is in `unmatched` (its
    calibration differs from the baseline's) are left out, but a sleep cell's bound."""
    def cell_of(c: Cell) -> Cell:
        d = derive_cell(run, c)
        if machine_cost(c) not in unmatched:
            return d
        keep = {BOUND.counter}
        dropped = {m.counter for m in METRICS} - keep
        return dataclasses.replace(d, repetitions=[{k: v for k, v in r.items() if k not in dropped}
                                                   for r in d.repetitions])
    return dataclasses.replace(run, cells=[cell_of(c) for c in run.cells])
