"""Shared helpers: the real fixture, synthetic runs, and running the report in or out of process."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLOTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PLOTS))  # the report's modules are plain scripts, not a package

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "default.json"
REPORT = PLOTS / "report.py"


def load_fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def context(**overrides) -> dict:
    ctx = copy.deepcopy(load_fixture()["context"])
    ctx.update(overrides)
    return ctx


def row(name: str, **counters) -> dict:
    """A single-repetition iteration row with plausible counters; keyword arguments override them."""
    base = {
        "name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
        "threads": 1, "iterations": 1, "real_time": 300.0, "cpu_time": 300.0, "time_unit": "ms",
        "items_per_second": 1000.0, "latency_p50_us": 900.0, "latency_p90_us": 950.0, "latency_p99_us": 990.0,
        "latency_p999_us": 999.0, "latency_max_us": 1200.0, "latency_mean_us": 910.0, "busy_cores": 1.0,
        "in_flight": 1.0, "cpu_user_s": 0.3, "cpu_sys_s": 0.01, "cpu_us_per_request": 100.0,
        "ctx_voluntary": 10.0, "ctx_involuntary": 2.0, "rss_peak_mb": 20.0, "requests": 400.0, "wall_s": 0.4,
        "validated": 1.0, "noisy": 0, "work_us": 0.0, "wait_us": 0.0,
    }
    parts = name.split("/")
    for part in parts[2:]:
        key, _, value = part.partition(":")
        base[key] = float(value)
    base.update(counters)
    return base


def error_row(name: str, message: str) -> dict:
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
            "threads": 1, "iterations": 0, "real_time": 0.0, "cpu_time": 0.0, "time_unit": "ms",
            "error_occurred": True, "error_message": message}


def write_run(path: Path, rows: list[dict], **ctx) -> Path:
    path.write_text(json.dumps({"context": context(**ctx), "benchmarks": rows}), encoding="utf-8")
    return path


# In write_repetitions: the counter is left out of that repetition's row (as a p99 with too few samples).
ABSENT = object()


def write_repetitions(path: Path, cells: dict[str, dict[str, list]], **ctx) -> Path:
    """A run with the given per-repetition counter values, {name: {counter: [value per repetition]}}.

    Counters not given keep row()'s constant values. An aggregate row (numbers of the first repetition)
    follows each cell's repetitions, as Google Benchmark writes one: a reader that counts it as a
    repetition gets one too many.
    """
    rows = []
    for name, counters in cells.items():
        n = max(len(v) for v in counters.values())
        reps = []
        for i in range(n):
            values = {k: v[i] for k, v in counters.items()}
            r = row(name, repetitions=n, repetition_index=i, **values)
            reps.append({k: v for k, v in r.items() if v is not ABSENT})
        median = {**reps[0], "name": f"{name}_median", "run_type": "aggregate", "aggregate_name": "median"}
        median.pop("repetition_index")
        rows += reps + [median]
    return write_run(path, rows, **ctx)


def open_loop_rows() -> list[dict]:
    """Open-loop rows as they may come later: offered and achieved rates beside the usual counters."""
    rows = []
    for runner, capacity in (("coro", 90000.0), ("threads", 30000.0)):
        for offered in (1000.0, 10000.0, 50000.0):
            achieved = min(offered, capacity)
            p50 = 10100.0 if achieved == offered else 60000.0
            rows.append(row(f"sleep/{runner}/workers:1/rate:{offered:g}/wait_us:10000",
                            offered_per_second=offered, achieved_per_second=achieved, items_per_second=achieved,
                            latency_p50_us=p50, latency_p90_us=p50 * 1.1, latency_p99_us=p50 * 1.3,
                            latency_p999_us=p50 * 1.6, wait_us=10000.0, concurrency=1.0))
    return rows


FRACTIONS = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1)

# The default suite's open-loop load points per runner: (workers, concurrency) for sleep and for mixed.
SWEEP_LOADS = {"seq": ((1, 1), (1, 1)), "coro": ((1, 100), (1, 16)), "threads": ((100, 100), (16, 16)),
               "procs": ((100, 100), (16, 16))}


def _sleep_p99(runner: str, f: float) -> float:
    """Synthetic p99 (µs) of the sleep sweep: seq and coro hold 15 ms up to their peak, threads up to 90%
    (and under it again when saturated at 110%: not counted), procs never (wake-up stalls)."""
    if runner == "procs":
        return 20000.0 + 10000.0 * f
    if runner == "threads":
        return {1.0: 16000.0, 1.1: 14500.0}.get(f, 10400.0 + 1000.0 * f)
    return {1.0: 14000.0, 1.1: 200000.0}.get(f, 10200.0 + 1000.0 * f)


MIXED_K = {"seq": 0.1, "coro": 0.5, "threads": 0.2, "procs": 0.15}


def _mixed_p99(runner: str, f: float) -> float:
    """Synthetic p99 (µs) of the mixed sweep (request 1 ms): it climbs as f nears the runner's peak."""
    return 1000.0 * (1 + MIXED_K[runner] * f / max(1.02 - f, 0.02))


def open_loop_sweep_rows(doc: dict | None = None) -> list[dict]:
    """Open-loop rows as the C++ side writes them for the default suite: per runner, a rate_fraction sweep
    of sleep (wait_us 10000) and mixed (request_us 1000, cpu_share 0.5), each scaled from the median
    throughput of its closed-loop cell in the fixture (which must be in the same run)."""
    doc = doc or load_fixture()
    peaks = {b["run_name"]: b["items_per_second"] for b in doc["benchmarks"] if b.get("aggregate_name") == "median"}
    rows = []
    for workload, shape, p99_of, load_index, work, wait in (
            ("sleep", "wait_us:10000", _sleep_p99, 0, 0.0, 10000.0),
            ("mixed", "request_us:1000/cpu_share:0.5", _mixed_p99, 1, 500.0, 500.0)):
        for runner, loads in SWEEP_LOADS.items():
            w, c = loads[load_index]
            base = f"{workload}/{runner}/workers:{w}/concurrency:{c}"
            peak = peaks[f"{base}/{shape}"]
            for f in FRACTIONS:
                offered = f * peak
                achieved = 0.88 * offered if f > 1.0 else 0.995 * offered  # every runner saturates past its peak
                p99 = p99_of(runner, f)
                p50 = min(p99, (work + wait) * 1.01)
                rows.append(row(f"{base}/rate_fraction:{f:g}/{shape}", workers=float(w), concurrency=float(c),
                                offered_per_second=offered, achieved_per_second=achieved, items_per_second=achieved,
                                saturated=1.0 if achieved < 0.95 * offered else 0.0, rate_fraction=f,
                                peak_per_second=peak, latency_p50_us=p50, latency_p90_us=(p50 + p99) / 2,
                                latency_p99_us=p99, latency_p999_us=p99 * 1.2, latency_max_us=p99 * 1.5,
                                service_p50_us=work + wait, service_p99_us=(work + wait) * 1.05,
                                measured_requests=round(achieved * 0.3), work_us=work, wait_us=wait,
                                in_flight=achieved * p50 * 1e-6, busy_cores=0.1))
    return rows


def run_report(inputs: list[Path | str], out: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPORT), "--out-html", str(out / "report.html"), "--out-md", str(out / "report.md"),
         *map(str, inputs)],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def render(inputs: list[Path | str], out: Path) -> tuple[str, str]:
    """Runs the report in process (faster) and returns (html, markdown)."""
    import report

    rc = report.main(["--out-html", str(out / "report.html"), "--out-md", str(out / "report.md"),
                      *map(str, inputs)])
    assert rc == 0
    return (out / "report.html").read_text(encoding="utf-8"), (out / "report.md").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def full_report(tmp_path_factory) -> tuple[str, str]:
    """The real fixture plus the default suite's open-loop sweeps (synthetic): every figure has data."""
    folder = tmp_path_factory.mktemp("full")
    doc = load_fixture()
    doc["benchmarks"] += open_loop_sweep_rows(doc)
    (folder / "full.json").write_text(json.dumps(doc), encoding="utf-8")
    return render([folder / "full.json"], folder)


@pytest.fixture(scope="session")
def real_report(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("real")
    return render([FIXTURE], folder)
