"""A stand-in for the conpar binary in ab.py's tests: `run --repetitions 1 --out FILE ...` writes a small,
plausible results file whose throughput is set per build, with a little deterministic noise.

make_fake() writes it as an executable script with its build baked in. Every call is appended to
STATE/calls.log, so a test sees which build ran when and with which arguments; `plan` makes chosen
calls of this build misbehave (exit 3 with an error row, exit 2, hang until signalled, a NaN, ...).
"""
from __future__ import annotations

import json
from pathlib import Path

BENCHMARKS = ("cpu/threads/workers:2/concurrency:16/work_us:100", "sleep/coro/workers:1/concurrency:100/wait_us:10000")

TEMPLATE = r'''#!/usr/bin/python3
import json, os, random, signal, sys, time

LABEL, RATE, NOISE, STATE, PLAN, CONTEXT = {label!r}, {rate!r}, {noise!r}, {state!r}, {plan!r}, {context!r}
BENCHMARKS = {benchmarks!r}

args = sys.argv[1:]
log = os.path.join(STATE, "calls.log")
with open(log, "a") as f:
    f.write(json.dumps({{"label": LABEL, "argv": args}}) + "\n")
with open(log) as f:
    call = sum(1 for line in f if json.loads(line)["label"] == LABEL) - 1  # this build's call, from 0
action = PLAN.get(str(call), "ok")
if args[:1] != ["run"] or "--out" not in args:
    sys.exit(2)
out = args[args.index("--out") + 1]


def results(rows):
    context = {{"schema_version": 1, "cpu_model": "Fake CPU 9000", "cores": 2, "build_type": "Release",
               "sanitizers": "", "git_commit": LABEL * 40, "date": "2026-11-23T08:%02d:00+00:00" % call,
               "noise_cv_limit": 0.05, "repetitions": 1, "load_avg_before": [0.5, 0.5, 0.5],
               "load_avg_after": [float(call), 0.5, 0.5], **CONTEXT}}
    with open(out, "w") as f:
        json.dump({{"context": context, "benchmarks": rows}}, f)


def row(name, i):
    rng = random.Random(f"{{LABEL}}-{{call}}-{{i}}")
    rate = RATE * (1 + i) * (1 + rng.uniform(-NOISE, NOISE))
    return {{"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1, "repetition_index": 0,
            "family_index": i, "per_family_instance_index": 0, "threads": 1, "iterations": 1,
            "real_time": 300.0, "cpu_time": 1.0e5 / rate, "time_unit": "ms", "items_per_second": rate,
            "latency_p50_us": 9.0e5 / rate, "latency_p99_us": 1.0e6 / rate, "cpu_us_per_request": 1.0e6 / RATE,
            "busy_cores": 1.0, "in_flight": 16.0, "validated": 1.0, "noisy": 0, "fake_call": call,
            "histogram": {{"count": 100 + call, "unit": "ns", "buckets": [[1000, 1000, 100 + call]]}}}}


rows = [row(name, i) for i, name in enumerate(BENCHMARKS)]
if action == "exit2":
    print("conpar run: --filter matches no cell", file=sys.stderr)
    sys.exit(2)
if action == "exit1":
    sys.exit(1)
if action in ("hang", "hang-ignore"):
    def stop(sig, frame):
        with open(os.path.join(STATE, "signals.log"), "a") as f:
            f.write(f"{{LABEL}} {{sig}}\n")
        if action == "hang":
            results(rows[:1])  # what conpar does: the cells run so far, then 128 + N
            sys.exit(128 + sig)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    open(os.path.join(STATE, "started"), "w").close()
    time.sleep(60)
    sys.exit(0)
if action == "exit3":
    rows[1] = {{"name": BENCHMARKS[1], "run_name": BENCHMARKS[1], "run_type": "iteration", "repetitions": 1,
               "repetition_index": 0, "threads": 1, "iterations": 0, "real_time": 0.0, "cpu_time": 0.0,
               "time_unit": "ms", "error_occurred": True, "error_message": "worker 1 died: signal 9 (Killed)"}}
if action == "nan":
    rows[0]["items_per_second"] = float("nan")
results(rows)
sys.exit(3 if action in ("exit3", "exit3-no-row") else 0)
'''


def make_fake(folder: Path, label: str, rate: float, noise: float = 0.005, plan: dict[int, str] | None = None,
              context: dict | None = None) -> Path:
    """An executable fake conpar for build `label`; state (the call log) is shared by every fake in folder."""
    path = folder / f"conpar-{label}"
    path.write_text(TEMPLATE.format(label=label, rate=rate, noise=noise, state=str(folder),
                                    plan={str(k): v for k, v in (plan or {}).items()}, context=context or {},
                                    benchmarks=BENCHMARKS), encoding="utf-8")
    path.chmod(0o755)
    return path


def calls(folder: Path) -> list[dict]:
    log = folder / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
