"""The procs-against-threads verdict: where the two differ on one cell, it says by how much and what procs paid."""
from __future__ import annotations

from conftest import row, write_run

import verdicts
from results import load_run

SLEEP = "sleep/{}/workers:1000/concurrency:1000/wait_us:10000"
CPU = "cpu/{}/workers:2/concurrency:16/work_us:100"


def _run(tmp_path, procs_rate: float):
    rows = [
        row(SLEEP.format("threads"), items_per_second=60000.0, cpu_us_per_request=47.0, ctx_voluntary=62000.0,
            page_faults=900.0, rss_peak_mb=77.0, requests=66000.0),
        row(SLEEP.format("procs"), items_per_second=procs_rate, cpu_us_per_request=139.0, ctx_voluntary=43000.0,
            page_faults=41000.0, rss_peak_mb=2817.0, requests=31000.0),
        row(CPU.format("threads"), items_per_second=20000.0),
        row(CPU.format("procs"), items_per_second=19800.0),
    ]
    return load_run(write_run(tmp_path / "run.json", rows))


def test_a_procs_cell_that_differs_from_threads_is_explained_with_its_counters(tmp_path):
    out = verdicts.processes(_run(tmp_path, 28470.0))
    assert len(out) == 2, out  # the headline and the one cell that differs; the cpu cells are alike (1%)
    assert "more than 10% in throughput (1 cell)" in out[0], out[0]
    line = out[1]
    assert "procs 28,470/s against threads 60,000/s (0.47x)" in line, line
    assert "139 µs of CPU per request (threads 47.0)" in line, line
    assert "1.32 page faults per request (threads 0.014)" in line, line
    assert "MB of peak RSS per worker process" in line, line


def test_procs_and_threads_alike_say_nothing(tmp_path):
    assert verdicts.processes(_run(tmp_path, 57000.0)) == []
