#!/usr/bin/python3
"""Google Benchmark's own compare.py reads conpar's rows (issue 14, point 1).

    gb_compare_test.py CONPAR COMPARE_PY

Runs one cpu cell at work_us=10 and at work_us=12.5 (throughput 20% lower, time per request 25% higher)
and checks that GB's tools/compare.py (Debian libbenchmark-tools) shows the change in its CPU column
(+25% +- 12%) and Time column (+10% .. +100%: wall time also holds preemptions by other tests), and shows
no change when a file is compared with itself: GB tools read real_time and cpu_time, so these must be the
time and CPU per request. Exit 0 pass, 1 fail (the reason on stderr).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CELL = "cpu/seq/workers:1/concurrency:1/work_us:{}"
BASE_US, SLOW_US = 10, 12.5
EXPECTED = SLOW_US / BASE_US - 1  # +25% time per request; the harness's fixed cost per request moves it a little
TOLERANCE = 0.12  # rounds of noise on a busy 2-core machine, and ASan's heavier per-request cost
TIME_RANGE = (0.10, 1.0)


def fail(message: str) -> None:
    print(f"gb_compare_test: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def run_cell(conpar: str, work_us: float, out: Path) -> dict:
    name = CELL.format(work_us)
    subprocess.run([conpar, "run", "--filter", f"^{name}$", "--param", f"work_us={work_us}",
                    "--repetitions", "5", "--duration", "0.2", "--warmup", "0.05", "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    rows = [r for r in json.loads(out.read_text())["benchmarks"] if r.get("run_type") == "iteration"]
    if len(rows) != 5:
        fail(f"{out}: expected 5 repetitions of {name}, found {len(rows)}")
    for r in rows:  # the premise: GB's time fields are the time per request (ns, as time_unit says)
        per_request_ns = 1e9 / r["items_per_second"]
        if r.get("time_unit") != "ns" or abs(r["real_time"] / per_request_ns - 1) > 0.01:
            fail(f"{out}: real_time {r['real_time']} {r.get('time_unit')} is not the time per request "
                 f"({per_request_ns:.0f} ns)")
    return {"file": out, "filter": f"work_us:{work_us}"}


def median_change(compare_py: str, a: dict, b: dict, tmp: Path) -> tuple[float, float, str]:
    dump = tmp / f"diff_{len(list(tmp.iterdir()))}.json"
    text = subprocess.run([sys.executable, compare_py, "--no-color", "-d", str(dump), "benchmarksfiltered",
                           str(a["file"]), a["filter"], str(b["file"]), b["filter"]],
                          check=True, capture_output=True, text=True).stdout
    medians = [d for d in json.loads(dump.read_text()) if d.get("aggregate_name") == "median"]
    if len(medians) != 1:
        fail(f"compare.py's output has {len(medians)} median rows, expected 1:\n{text}")
    m = medians[0]["measurements"][0]
    line = next((ln for ln in text.splitlines() if "_median" in ln), "")
    return m["time"], m["cpu"], line


def main() -> int:
    conpar, compare_py = sys.argv[1], sys.argv[2]
    if not Path(compare_py).is_file():
        fail(f"{compare_py} is missing: install Debian's libbenchmark-tools (bash cmake/install-deps.sh)")
    with tempfile.TemporaryDirectory(prefix="gb_compare.") as d:
        tmp = Path(d)
        base = run_cell(conpar, BASE_US, tmp / "base.json")
        slow = run_cell(conpar, SLOW_US, tmp / "slow.json")
        time, cpu, line = median_change(compare_py, base, slow, tmp)
        print(f"compare.py, work_us 10 -> 12.5: {line.strip()}")
        # CPU per request is the work itself; the wall time per request also holds every preemption by
        # whatever else runs (ctest runs two tests at once), so only its direction and size are checked.
        if abs(cpu - EXPECTED) > TOLERANCE:
            fail(f"compare.py's median CPU change is {cpu:+.4f}, expected {EXPECTED:+.2f} +- {TOLERANCE}:\n{line}")
        if not TIME_RANGE[0] <= time <= TIME_RANGE[1]:
            fail(f"compare.py's median Time change is {time:+.4f}, expected within {TIME_RANGE}:\n{line}")
        if f"{time:+.4f}" not in line:
            fail(f"compare.py's printed median line does not show {time:+.4f}: {line}")
        same_time, same_cpu, line = median_change(compare_py, base, base, tmp)
        print(f"compare.py, a file against itself: {line.strip()}")
        if same_time != 0 or same_cpu != 0:
            fail(f"a file against itself shows Time {same_time:+.4f}, CPU {same_cpu:+.4f}")
    print("gb_compare_test: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
