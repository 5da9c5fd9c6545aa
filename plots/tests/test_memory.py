"""The memory-bandwidth section: read GB/s against workers beside one thread's memcpy, its table and verdicts,
and the other sections left as they were."""
from __future__ import annotations

import re

import experiments as ex
import tables
from conftest import error_row, render, row, write_run
from results import load_run

SHAPE = "array_mib:256/slice_kib:1024"
LABEL = "memory array_mib 256 slice_kib 1024"
BYTES = 1024.0 * 1024  # slice_kib 1024
MEMCPY = 14.87  # GB/s copied: 29.74 GB/s of traffic

# GB/s at workers 1, 2 (the fixture's 2 cores) and 4 (2 x cores); coro at 8, 16, 32 in flight on its one thread.
FLAT = {"coro": (12.0, 12.1, 12.0), "threads": (12.0, 15.0, 15.5), "procs": (11.5, 14.0, 14.2)}
SCALING = {"coro": (12.0, 12.1, 12.0), "threads": (10.0, 19.5, 20.0), "procs": (10.0, 15.0, 15.5)}


def memory_rows(gbps: dict[str, tuple[float, ...]]) -> list[dict]:
    """The default suite's memory cells on 2 cores: seq at 1/1, the others at workers 1, 2, 4 with 8 in flight
    per worker (coro: one worker, the same in flight)."""
    rows = [row(f"memory/seq/workers:1/concurrency:1/{SHAPE}", items_per_second=11.0e9 / BYTES,
                gb_per_second=11.0, bytes_per_request=BYTES, rss_peak_mb=280.0)]
    for runner, values in gbps.items():
        for w, gb in zip((1, 2, 4), values):
            workers = 1 if runner == "coro" else w
            busy = 1.0 if runner == "coro" else float(min(w, 2))
            rss = 280.0 * workers if runner == "procs" else 290.0  # the array counts once per process
            rows.append(row(f"memory/{runner}/workers:{workers}/concurrency:{8 * w}/{SHAPE}",
                            items_per_second=gb * 1e9 / BYTES, gb_per_second=gb, bytes_per_request=BYTES,
                            busy_cores=busy, in_flight=8.0 * w, rss_peak_mb=rss))
    return rows


def cpu_rows() -> list[dict]:
    rows = [row("cpu/seq/workers:1/concurrency:1/work_us:100", items_per_second=10000.0)]
    rows += [row(f"cpu/threads/workers:{w}/concurrency:{8 * w}/work_us:100", items_per_second=9000.0 * min(w, 2),
                 busy_cores=float(min(w, 2)), in_flight=8.0 * w) for w in (1, 2, 4)]
    return rows


def figure(html: str, fig_id: str) -> str:
    found = html[html.index(f'<figure id="{fig_id}"'):]
    return found[:found.index("</figure>")]


def verdict(md: str, start: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"- {start}"))


def test_figure_with_the_memcpy_lines_after_cpu_scaling(tmp_path):
    html, md = render([write_run(tmp_path / "m.json", cpu_rows() + memory_rows(FLAT), memcpy_gb_per_s=MEMCPY)],
                      tmp_path)
    assert re.findall(r'<figure id="([^"]+)"', html)[:2] == ["fig-cpu-scaling", "fig-memory"]
    assert '<a href="#fig-memory">Memory bandwidth</a>' in html
    fig = figure(html, "fig-memory")
    assert f"Memory bandwidth: {LABEL} (closed loop)" in fig and "read bandwidth (GB/s)" in fig
    assert "memcpy, 1 thread: 14.9 GB/s copied" in fig and "its traffic (read + write): 29.7 GB/s" in fig
    assert "threads ideal (W x 1-worker)" in fig and "seq (1 worker)" in fig and "2 cores" in fig
    assert "dash-dot-dotted: its memory traffic, twice that" in fig  # the caption
    assert "AMD EPYC, 2 cores" in fig
    assert "GB/s" not in figure(html, "fig-cpu-scaling")
    assert "### Memory bandwidth" in md and "<td>memcpy_gb_per_s</td><td>14.87</td>" in html  # the run context


def test_table_per_runner_and_workers(tmp_path):
    run = load_run(write_run(tmp_path / "m.json", memory_rows(FLAT), memcpy_gb_per_s=MEMCPY))
    (table,) = tables.memory_scaling(run)
    assert table.title == f"Memory bandwidth: {LABEL}"
    assert table.columns == ["runner", "sweep W", "workers", "in flight", "GB/s read", "speed-up vs own 1 worker",
                             "% of ideal", "busy cores", "peak RSS (MB)", "flags"]
    assert [r[:2] for r in table.rows] == [["seq", "1"], ["coro", "1"], ["coro", "2"], ["coro", "4"],
                                           ["threads", "1"], ["threads", "2"], ["threads", "4"],
                                           ["procs", "1"], ["procs", "2"], ["procs", "4"]]
    assert table.rows[3] == ["coro", "4", "1", "32", "12.0", "1.00x", "25.0%", "1.00", "290", ""]
    assert table.rows[5] == ["threads", "2", "2", "16", "15.0", "1.25x", "62.5%", "2.00", "290", ""]
    assert table.rows[9] == ["procs", "4", "4", "32", "14.2", "1.23x", "30.9%", "2.00", "1,120", ""]
    assert table.notes[1] == ("One thread's memcpy in the same run: 14.9 GB/s copied, 29.7 GB/s of memory traffic "
                              "(read + write).")


def test_verdict_when_bandwidth_runs_out(tmp_path):
    _, md = render([write_run(tmp_path / "m.json", memory_rows(FLAT), memcpy_gb_per_s=MEMCPY)], tmp_path)
    assert verdict(md, "Memory bandwidth (") == (
        f"- Memory bandwidth ({LABEL}), read at 2 workers on 2 cores: coro 12.1 GB/s (1.01x of 1 worker, 50.4% of "
        "ideal, 1.00 busy cores), threads 15.0 GB/s (1.25x of 1 worker, 62.5% of ideal, 2.00 busy cores) and procs "
        "14.0 GB/s (1.22x of 1 worker, 60.9% of ideal, 2.00 busy cores); one thread's memcpy copies 14.9 GB/s "
        "(29.7 GB/s of traffic).")
    assert ("- threads and procs flatten before the cores run out (below 90.0% of ideal at 2 workers on 2 cores, "
            "the cores busy): memory bandwidth, not cores, ran out.") in md
    assert "- coro runs on one core: its curve is one thread's bandwidth at every level" in md
    assert "scale with the cores" not in md and "scales with the cores" not in md


def test_verdict_when_it_scales_with_the_cores(tmp_path):
    rows = [dict(r, noisy=1) if r["name"] == f"memory/procs/workers:2/concurrency:16/{SHAPE}" else r
            for r in memory_rows(SCALING)]
    _, md = render([write_run(tmp_path / "m.json", rows, memcpy_gb_per_s=MEMCPY)], tmp_path)
    assert "threads 19.5 GB/s (1.95x of 1 worker, 97.5% of ideal, 2.00 busy cores)" in md
    assert ("- threads scales with the cores (90.0% of ideal or more at 2 workers on 2 cores): the memory bandwidth "
            "did not run out before the cores did.") in md
    assert "procs 15.0 GB/s (1.50x of 1 worker, 75.0% of ideal, 2.00 busy cores) (noisy)" in md
    assert "- procs (noisy) flattens before the cores run out" in md  # 1.50x: below 1.8x


def test_flat_with_idle_cores_is_not_blamed_on_bandwidth(tmp_path):
    # threads keep only 1.6 of the 2 cores busy at 2 workers: a core stalled on memory would count as busy.
    rows = [dict(r, busy_cores=1.6) if r["name"] == f"memory/threads/workers:2/concurrency:16/{SHAPE}" else r
            for r in memory_rows(FLAT)]
    _, md = render([write_run(tmp_path / "m.json", rows, memcpy_gb_per_s=MEMCPY)], tmp_path)
    assert "- procs flattens before the cores run out" in md and "memory bandwidth, not cores, ran out." in md
    assert ("- threads falls below 90.0% of ideal at 2 workers on 2 cores with cores to spare (1.60 busy): the "
            "workers did not keep the cores busy, so this does not show that memory bandwidth ran out.") in md


def test_without_memcpy_in_the_context(tmp_path):
    path = write_run(tmp_path / "m.json", memory_rows(FLAT))  # a file from before memcpy_gb_per_s
    html, md = render([path], tmp_path)
    fig = figure(html, "fig-memory")
    assert "threads ideal (W x 1-worker)" in fig
    assert "memcpy" not in fig
    assert verdict(md, "Memory bandwidth (").endswith(
        "; the run's context has no memcpy_gb_per_s to set it beside (an older file).")
    assert "memory bandwidth, not cores, ran out." in md
    (table,) = tables.memory_scaling(load_run(path))
    assert len(table.notes) == 1 and "memcpy" not in table.notes[0]


def test_failed_cell_is_listed(tmp_path):
    rows = memory_rows(FLAT) + [error_row(f"memory/threads/workers:8/concurrency:64/{SHAPE}", "out of memory")]
    (table,) = tables.memory_scaling(load_run(write_run(tmp_path / "m.json", rows)))
    assert table.rows[-1] == ["threads", "—", "8", "64", "—", "—", "—", "—", "—", "error: out of memory"]


def test_other_sections_keep_their_cells(tmp_path):
    run = load_run(write_run(tmp_path / "m.json", cpu_rows() + memory_rows(FLAT), memcpy_gb_per_s=MEMCPY))
    assert list(ex.cpu_scaling(run)) == ["cpu work_us 100"]
    assert list(ex.memory_scaling(run)) == [LABEL]
    assert {c.workload for c in ex.headline(run)} == {"cpu"}
    assert [label for label in ex.cost_groups(run) if label.startswith("memory")] == [
        f"{LABEL}, 1 in flight", f"{LABEL}, 8 in flight", f"{LABEL}, 16 in flight", f"{LABEL}, 32 in flight"]
    assert all(len({c.runner for c in cells}) == len(cells) for cells in ex.cost_groups(run).values())
    assert {c.workload for c in ex.map_points(run)} == {"cpu", "memory"}


def test_no_memory_cells_no_section(real_report):
    html, md = real_report
    assert 'id="fig-memory"' not in html and "GB/s" not in md
    assert "Memory bandwidth: no successful memory cell with gb_per_second in this run." in md
