"""Open-loop cells: grouping with their closed-loop shape, latency at equal load, SLO capacity."""
from __future__ import annotations

import json
import re
from html import unescape

import pytest

import experiments as ex
import tables
from conftest import (FIXTURE, error_row, load_fixture, open_loop_rows, open_loop_sweep_rows, render, row, run_report,
                      write_run)
from results import load_run

SLEEP = "sleep wait_us 10000"
MIXED = "mixed request_us 1000 cpu_share 0.5"


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """The fixture plus the default suite's rate_fraction sweeps, loaded."""
    path = tmp_path_factory.mktemp("sweep") / "sweep.json"
    doc = load_fixture()
    doc["benchmarks"] += open_loop_sweep_rows(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return load_run(path)


def closed_loop_groups(run) -> dict:
    return {name: {label: {r: [c.name for _, c in p] for r, p in series.items()} for label, series in make(run).items()}
            for name, make in (("cpu", ex.cpu_scaling), ("io", ex.io_scaling), ("crossover", ex.crossover))}


def verdict(md: str, start: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"- {start}"))


# ---------------------------------------------------------------- grouping

def test_rate_fraction_cells_share_their_closed_loop_shape(sweep_run):
    cell = sweep_run.cell("sleep/coro/workers:1/concurrency:100/rate_fraction:0.5/wait_us:10000")
    closed = sweep_run.cell("sleep/coro/workers:1/concurrency:100/wait_us:10000")
    assert cell.open_loop and not closed.open_loop
    assert cell.shape == closed.shape == (("wait_us", 10000.0),)
    assert cell.shape_label() == closed.shape_label() == SLEEP
    assert cell.rate_fraction == 0.5 and cell.closed_loop_name == closed.name
    assert ex.peak(sweep_run, cell) == pytest.approx(closed.get("items_per_second"))

    groups = ex.open_loop(sweep_run)
    assert list(groups) == [SLEEP, MIXED]
    for series in groups.values():
        assert list(series) == ["seq", "coro", "threads", "procs"]
        for points in series.values():
            assert [c.rate_fraction for _, c in points] == [0.25, 0.5, 0.75, 0.9, 1.0, 1.1]
            assert [x for x, _ in points] == sorted(x for x, _ in points)


def test_open_loop_cells_stay_out_of_the_closed_loop_experiments(sweep_run):
    fixture_only = load_run(FIXTURE)
    assert closed_loop_groups(sweep_run) == closed_loop_groups(fixture_only)
    assert not any(c.open_loop for cells in ex.cost_groups(sweep_run).values() for c in cells)
    assert not any(c.open_loop for c in ex.map_points(sweep_run))


def test_absolute_rate_cells_group_by_shape_and_compare_at_each_rate(tmp_path):
    path = write_run(tmp_path / "rates.json", open_loop_rows())
    run = load_run(path)
    assert list(ex.open_loop(run)) == [SLEEP]
    comparisons = ex.equal_load(run)[SLEEP]
    assert [(c.kind, c.value, [x.runner for x in c.cells]) for c in comparisons] == [
        ("rate", 1000.0, ["coro", "threads"]), ("rate", 10000.0, ["coro", "threads"]),
        ("rate", 50000.0, ["coro", "threads"])]
    html, md = render([path], tmp_path)
    assert "at 10,000/s offered (absolute rate)" in unescape(html)
    assert (f"- Latency at equal load ({SLEEP}), at 50,000/s offered to each: coro p99 13,130 µs at 50,000/s and "
            "threads p99 78,000 µs at 50,000/s (saturated); lowest p99: coro.") in md


def test_a_runner_at_two_load_points_splits_the_group(tmp_path):
    rows = [row(f"sleep/threads/workers:{w}/concurrency:{w}/rate_fraction:{f:g}/wait_us:10000",
                offered_per_second=f * 100 * w, achieved_per_second=f * 100 * w, items_per_second=f * 100 * w,
                rate_fraction=f, peak_per_second=100.0 * w, wait_us=10000.0, latency_p99_us=11000.0)
            for w in (10, 100) for f in (0.5, 1.0)]
    run = load_run(write_run(tmp_path / "two.json", rows))
    groups = ex.open_loop(run)
    assert list(groups) == [f"{SLEEP}, 10 in flight", f"{SLEEP}, 100 in flight"]
    assert all(len(s["threads"]) == 2 for s in groups.values())


def test_a_failed_open_loop_cell_is_no_closed_loop_cell(tmp_path):
    doc = load_fixture()
    doc["benchmarks"] += open_loop_sweep_rows(doc)
    name = "sleep/threads/workers:100/concurrency:100/rate_fraction:0.5/wait_us:10000"
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["name"] != name]
    doc["benchmarks"].append(error_row(name, "no peak to scale from: sleep/threads/... has no successful repetition"))
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    run = load_run(path)
    assert run.cell(name).open_loop and not run.cell(name).ok
    html, md = render([path], tmp_path)
    io_table = md[md.index("<summary>I/O scaling: sleep wait_us 10000</summary>"):]
    assert name not in io_table[:io_table.index("</details>")]
    open_table = md[md.index(f"<summary>Open-loop latency: {SLEEP} (µs)</summary>"):]
    line = next(x for x in open_table.splitlines() if x.startswith("| threads | 100 | 100 | 0.5 |"))
    assert "error: no peak to scale from" in line
    assert f"1 open-loop cell failed and is left out of the latency figures: {name}." in md


# ---------------------------------------------------------------- SLO capacity

def test_slo_sentences_on_the_default_sweep(full_report):
    _, md = full_report
    assert verdict(md, f"SLO capacity ({SLEEP}") == (
        f"- SLO capacity ({SLEEP}, target p99 <= 15 ms, 1.5 x the request's own 10 ms): "
        "seq holds it up to 100/s offered (100.0% of its peak, p99 14,000 µs), "
        "coro holds it up to 10,000/s offered (100.0% of its peak, p99 14,000 µs), "
        "threads holds it up to 8,973/s offered (90.0% of its peak, p99 11,300 µs) "
        "and procs never holds it (at its lowest offered rate, 2,392/s: p99 22,500 µs).")
    # threads at 110% is saturated with a p99 under the target: it does not count.
    assert verdict(md, "Saturated (achieved < 95% of offered), so not counted") == (
        "- Saturated (achieved < 95% of offered), so not counted as holding the SLO although p99 is under 15 ms: "
        "threads at 10,967/s (p99 14,500 µs, achieves 9,651/s).")
    assert verdict(md, f"SLO capacity ({MIXED}") == (
        f"- SLO capacity ({MIXED}, target p99 <= 1.5 ms, 1.5 x the request's own 1 ms): "
        "seq holds it up to 670/s offered (75.0% of its peak, p99 1,278 µs), "
        "coro holds it up to 980/s offered (50.0% of its peak, p99 1,481 µs), "
        "threads holds it up to 1,792/s offered (50.0% of its peak, p99 1,192 µs) "
        "and procs holds it up to 2,410/s offered (75.0% of its peak, p99 1,417 µs).")


def test_slo_table_rows(sweep_run):
    (table,) = tables.slo(sweep_run)
    rows = {(r[0], r[1]): r for r in table.rows}
    assert len(rows) == 8
    assert rows[(SLEEP, "threads")][2:9] == ["15,000", "8,973", "90.0%", "11,300", "8,928", "4 of 6", "10,967"]
    assert "saturated at 10,967/s with p99 under the target: not counted" in rows[(SLEEP, "threads")][9]
    assert rows[(SLEEP, "procs")][3] == "—" and rows[(SLEEP, "procs")][9] == "never holds it"


def sweep_of(runner: str, p99s: list[float | None], saturated: list[bool], wait_us: float = 10000.0,
             work_us: float = 0.0) -> list[dict]:
    rows = []
    for f, p99, sat in zip((0.5, 1.0, 1.1), p99s, saturated):
        offered = 1000.0 * f
        achieved = offered * (0.8 if sat else 1.0)
        r = row(f"sleep/{runner}/workers:10/concurrency:10/rate_fraction:{f:g}/wait_us:{wait_us:g}",
                offered_per_second=offered, achieved_per_second=achieved, items_per_second=achieved,
                saturated=1.0 if sat else 0.0, rate_fraction=f, peak_per_second=1000.0, wait_us=wait_us,
                work_us=work_us, latency_p50_us=min(p99 or 1e9, wait_us), latency_p90_us=min(p99 or 1e9, wait_us),
                latency_p99_us=p99, latency_p999_us=(p99 or 0) * 1.1)
        if p99 is None:
            del r["latency_p99_us"], r["latency_p999_us"]
        rows.append(r)
    return rows


def test_slo_never_held_saturated_and_missing_p99(tmp_path):
    rows = (sweep_of("coro", [10500.0, 12000.0, 14000.0], [False, False, False])  # holds at every rate
            + sweep_of("threads", [14000.0, 13000.0, 12000.0], [True, True, True])  # under target, all saturated
            + sweep_of("procs", [None, None, 30000.0], [False, False, False]))  # p99 missing, then over
    _, md = render([write_run(tmp_path / "slo.json", rows)], tmp_path)
    assert verdict(md, "SLO capacity") == (
        f"- SLO capacity ({SLEEP}, target p99 <= 15 ms, 1.5 x the request's own 10 ms): "
        "coro holds it at every offered rate measured, up to 1,100/s offered (110.0% of its peak, p99 14,000 µs), "
        "threads never holds it (at its lowest offered rate, 500/s: saturated there) "
        "and procs never holds it (p99 missing at 500/s and 1,000/s, too few samples; at its lowest offered rate "
        "with a p99, 1,100/s: p99 30,000 µs).")
    assert verdict(md, "Saturated") == (
        "- Saturated (achieved < 95% of offered), so not counted as holding the SLO although p99 is under 15 ms: "
        "threads at 500/s (p99 14,000 µs, achieves 400/s), threads at 1,000/s (p99 13,000 µs, achieves 800/s) "
        "and threads at 1,100/s (p99 12,000 µs, achieves 880/s).")
    names = ", ".join(f"sleep/procs/workers:10/concurrency:10/rate_fraction:{f}/wait_us:10000" for f in ("0.5", "1"))
    assert f"p99 is missing in 2 of 9 open-loop cells: {names.replace(', ', ' and ')}: too few samples" in md
    open_table = md[md.index(f"<summary>Open-loop latency: {SLEEP} (µs)</summary>"):]
    line = next(x for x in open_table.splitlines() if x.startswith("| procs | 10 | 10 | 0.5 |"))
    assert "| — | — |" in line and "p99: too few samples; p99.9: too few samples" in line


def test_slo_without_a_request_time_is_not_judged(tmp_path):
    rows = [row(f"cpu/threads/workers:2/concurrency:2/rate_fraction:{f:g}/work_us:0", offered_per_second=1e5 * f,
                achieved_per_second=1e5 * f, rate_fraction=f, work_us=0.0, wait_us=0.0) for f in (0.5, 1.0)]
    _, md = render([write_run(tmp_path / "zero.json", rows)], tmp_path)
    assert ("- SLO capacity (cpu work_us 0): not judged: the request's own time (work_us + wait_us) is 0, so "
            "1.5 x it gives no p99 target.") in md
    assert "SLO capacity: the highest offered rate" not in md  # no table rows without a target


def test_slo_follows_the_data(tmp_path):
    """The same sweep with the runners' curves swapped: the sentence changes with them."""
    a = sweep_of("coro", [10500.0, 20000.0, 30000.0], [False, False, True]) + \
        sweep_of("threads", [10500.0, 12000.0, 30000.0], [False, False, True])
    b = sweep_of("coro", [10500.0, 12000.0, 30000.0], [False, False, True]) + \
        sweep_of("threads", [10500.0, 20000.0, 30000.0], [False, False, True])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, md_a = render([write_run(tmp_path / "a" / "run.json", a)], tmp_path / "a")
    _, md_b = render([write_run(tmp_path / "b" / "run.json", b)], tmp_path / "b")
    assert "coro holds it up to 500/s offered" in verdict(md_a, "SLO capacity")
    assert "threads holds it up to 1,000/s offered" in verdict(md_a, "SLO capacity")
    assert "coro holds it up to 1,000/s offered" in verdict(md_b, "SLO capacity")
    assert "threads holds it up to 500/s offered" in verdict(md_b, "SLO capacity")


# ---------------------------------------------------------------- latency at equal load

def test_equal_load_comparisons_on_the_default_sweep(sweep_run):
    groups = ex.equal_load(sweep_run)
    sleep, mixed = groups[SLEEP], groups[MIXED]
    # sleep: the three pool/loop runners' peaks lie within 10%, so every equal absolute rate is one of the
    # shared fractions (seq, at 1 in flight, is a hundred times slower): no extra panel.
    assert [(c.kind, c.value) for c in sleep] == [("fraction", f) for f in (0.25, 0.5, 0.75, 0.9, 1.0, 1.1)]
    assert all([x.runner for x in c.cells] == ["seq", "coro", "threads", "procs"] for c in sleep)
    assert [x.runner for x in ex.coinciding(sleep[1].cells)] == ["coro", "threads", "procs"]
    # mixed: peaks differ, so equal absolute rates pair different fractions, the most runners first.
    near = [c for c in mixed if c.kind == "near"]
    assert [[(x.runner, x.rate_fraction) for x in c.cells] for c in near] == [
        [("seq", 0.9), ("procs", 0.25)],
        [("seq", 1.1), ("coro", 0.5), ("threads", 0.25)],
        [("threads", 0.9), ("procs", 1.0)]]
    for c in near:
        assert max(c.rates()) <= 1.1 * min(c.rates())


def test_equal_load_figure_and_sentences(full_report):
    html, md = full_report
    figure = html[html.index('<figure id="fig-latency-equal"'):]
    figure = unescape(figure[:figure.index("</figure>")])
    for text in ("at 50% of each runner's peak", "at 110% of each runner's peak",
                 "(equal rate ±10%: coro, threads, procs)", "at equal rate: 896 to 983/s",
                 "percentile (one step per nine)", "latency (µs)", "p99.9", "coro 980/s", "seq 983/s saturated"):
        assert text in figure, text
    assert "the same fraction of each runner's own closed-loop peak" in figure
    assert "coincide within 10%" in figure
    assert verdict(md, f"Latency at equal load ({SLEEP})") == (
        f"- Latency at equal load ({SLEEP}), at 50% of each runner's own closed-loop peak: "
        "seq p50 10,100 µs, p99 10,700 µs at 50.0/s, coro p50 10,100 µs, p99 10,700 µs at 5,000/s, "
        "threads p50 10,100 µs, p99 10,900 µs at 4,985/s and procs p50 10,100 µs, p99 25,000 µs at 4,785/s; "
        "coro, threads and procs are offered within 4.5% of one rate (4,785/s to 5,000/s), so this is also an "
        "equal absolute rate.")
    assert (f"- Latency at equal load ({MIXED}), at about one offered rate (896/s to 983/s, within 10%): "
            "seq p99 6,500 µs at 983/s (110.0% of its peak, saturated), coro p99 1,481 µs at 980/s (50.0% of its "
            "peak) and threads p99 1,065 µs at 896/s (25.0% of its peak); lowest p99: threads.") in md


def test_equal_load_with_one_runner_only(tmp_path):
    rows = sweep_of("threads", [10500.0, 12000.0, 30000.0], [False, False, True])
    rows.append(row("sleep/threads/workers:10/concurrency:10/wait_us:10000", items_per_second=1000.0,
                    wait_us=10000.0, in_flight=10.0))
    html, md = render([write_run(tmp_path / "one.json", rows)], tmp_path)
    assert re.findall(r'<figure id="([^"]+)"', html) == ["fig-io-scaling", "fig-latency-equal", "fig-latency",
                                                         "fig-map", "fig-cost"]
    assert "runners: threads;" in md
    assert verdict(md, "Latency at equal load") == (
        f"- Latency at equal load ({SLEEP}), at 50% of each runner's own closed-loop peak: "
        "threads p50 10,000 µs, p99 10,500 µs at 500/s.")
    assert verdict(md, "SLO capacity") == (
        f"- SLO capacity ({SLEEP}, target p99 <= 15 ms, 1.5 x the request's own 10 ms): "
        "threads holds it up to 1,000/s offered (100.0% of its peak, p99 12,000 µs).")


def test_open_loop_report_is_byte_identical_across_processes(tmp_path):
    doc = load_fixture()
    doc["benchmarks"] += open_loop_sweep_rows(doc)
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        out.mkdir()
        assert run_report([path], out, env={"PYTHONHASHSEED": seed}).returncode == 0
        outs.append(((out / "report.html").read_bytes(), (out / "report.md").read_bytes()))
    assert outs[0] == outs[1]


def test_open_loop_cell_without_any_percentile_still_renders(tmp_path):
    rows = sweep_of("coro", [10500.0, 12000.0, 30000.0], [False, False, True])
    bare = sweep_of("threads", [10500.0, 12000.0, 30000.0], [False, False, True])
    for r in bare[:1]:
        for key in ("latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_p999_us"):
            del r[key]
    html, md = render([write_run(tmp_path / "bare.json", rows + bare)], tmp_path)
    figure = unescape(html[html.index('<figure id="fig-latency-equal"'):])
    assert "threads: no percentile (too few samples)" in figure[:figure.index("</figure>")]
    assert (f"- Latency at equal load ({SLEEP}), at 50% of each runner's own closed-loop peak: coro p50 10,000 µs, "
            "p99 10,500 µs at 500/s and threads p50 — (too few samples), p99 — (too few samples) at 500/s; coro and "
            "threads are offered the same rate (500/s), so this is also an equal absolute rate.") in md
    name = "sleep/threads/workers:10/concurrency:10/rate_fraction:0.5/wait_us:10000"
    for p in ("p50", "p90", "p99", "p99.9"):
        assert f"- {p} is missing in 1 of 6 open-loop cells: {name}: too few samples" in md
