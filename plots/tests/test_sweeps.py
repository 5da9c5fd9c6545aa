"""The suite's tagged sweeps: granularity (efficiency, METG) and crossover (who leads where), and the CPU-scaling
experiments kept free of the granularity sweep's extra sizes."""
from __future__ import annotations

import re

import pytest

import experiments as ex
import tables
from conftest import error_row, render, row, write_run
from results import load_run

SIZES = (0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000)

# Efficiency per size (as conpar computes it from seq's throughput) and the METG counters it puts on the curve:
# coro keeps 50% from the smallest size on, threads from 0.42 µs, procs never (best 42% at 10 ms).
CURVES = {
    "seq": ((1, 1), [1.0] * len(SIZES), {"metg50_us": 0.1, "metg50_below_sweep": 1.0}),
    "coro": ((1, 16), [0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.99, 0.99, 0.99],
             {"metg50_us": 0.1, "metg50_below_sweep": 1.0}),
    "threads": ((2, 16), [0.2, 0.45, 0.6, 0.75, 0.85, 0.9, 0.93, 0.95, 0.96, 0.97, 0.97], {"metg50_us": 0.42}),
    "procs": ((2, 16), [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.35, 0.38, 0.4, 0.41, 0.42], {}),
}


def seq_rate(size: float) -> float:
    return 1e6 / (size + 0.2)


def granularity_rows(curves=CURVES) -> list[dict]:
    rows = []
    for runner, ((w, c), efficiencies, metg) in curves.items():
        for size, e in zip(SIZES, efficiencies):
            rows.append(row(f"cpu/{runner}/workers:{w}/concurrency:{c}/work_us:{size:g}", sweeps=["granularity"],
                            items_per_second=e * w * seq_rate(size), efficiency=e, busy_cores=float(w),
                            in_flight=float(c), cpu_us_per_request=size + 1, **metg))
    return rows


def scaling_rows() -> list[dict]:
    """The CPU-scaling sweep at 100 µs beside the granularity cells: its cells at the core count (2) are the
    granularity sweep's, already in granularity_rows()."""
    rows = []
    for runner in ("threads", "procs"):
        rows += [row(f"cpu/{runner}/workers:{w}/concurrency:{8 * w}/work_us:100", items_per_second=w * 4000.0,
                     busy_cores=float(min(w, 2)), in_flight=8.0 * w) for w in (1, 4)]
    rows += [row(f"cpu/coro/workers:1/concurrency:{c}/work_us:100", items_per_second=4900.0, in_flight=float(c))
             for c in (8, 32)]
    return rows


@pytest.fixture(scope="module")
def granularity_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("granularity")
    path = write_run(folder / "g.json", granularity_rows() + scaling_rows())
    html, md = render([path], folder)
    return load_run(path), html, md


def verdict(md: str, start: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"- {start}"))


# ---------------------------------------------------------------- granularity

def test_sweeps_are_read_from_the_rows(granularity_report):
    run, _, _ = granularity_report
    assert run.cell("cpu/threads/workers:2/concurrency:16/work_us:0.1").sweeps == ("granularity",)
    assert run.cell("cpu/threads/workers:1/concurrency:8/work_us:100").sweeps == ()


def test_metg_sentence_in_its_three_forms(granularity_report):
    _, _, md = granularity_report
    line = verdict(md, "METG(50%) on 2 cores (cpu)")
    assert (": coro <= 0.1 µs, threads 0.42 µs and procs not reached (best 42.0% at 10,000 µs) "
            "(seq is the reference).") in line
    assert "seq <=" not in line


def test_metg_follows_the_data(tmp_path):
    curves = dict(CURVES)
    curves["threads"] = (CURVES["threads"][0], [0.55] + CURVES["threads"][1][1:],
                         {"metg50_us": 0.1, "metg50_below_sweep": 1.0})
    # 48% at 1 µs, 55% at 3 µs: 50% at 3 ** (2 / 7) = 1.37 µs on log(size)
    curves["procs"] = (CURVES["procs"][0], [0.3, 0.4, 0.48, 0.55, 0.6, 0.65, 0.7, 0.7, 0.7, 0.7, 0.7],
                       {"metg50_us": 3 ** (2 / 7)})
    noisy = [dict(r, noisy=1) if r["name"] == "cpu/coro/workers:1/concurrency:16/work_us:10000" else r
             for r in granularity_rows(curves)]
    _, md = render([write_run(tmp_path / "g.json", noisy)], tmp_path)
    assert "coro <= 0.1 µs (noisy), threads <= 0.1 µs and procs 1.37 µs (seq is the reference)." in md


def test_efficiency_table(granularity_report):
    run, _, _ = granularity_report
    (table,) = tables.granularity(run)
    assert table.title == "Granularity: cpu (efficiency by request size)"
    assert table.columns == ["request size (µs)", "seq (1 W, 1 in flight)", "coro (1 W, 16 in flight)",
                             "threads (2 W, 16 in flight)", "procs (2 W, 16 in flight)"]
    assert [r[0] for r in table.rows] == ["0.1", "0.3", "1", "3", "10", "30", "100", "300", "1,000", "3,000",
                                          "10,000", "METG(50%)"]
    assert table.rows[1] == ["0.3", "100.0%", "70.0%", "45.0%", "2.0%"]
    assert table.rows[-1] == ["METG(50%)", "<= 0.1 µs", "<= 0.1 µs", "0.42 µs", "not reached"]


def test_granularity_figure_present_with_links_and_caption(granularity_report):
    _, html, md = granularity_report
    ids = re.findall(r'<figure id="([^"]+)"', html)
    assert ids[:2] == ["fig-cpu-scaling", "fig-granularity"]
    assert '<a href="#fig-granularity">Granularity</a>' in html
    figure = html[html.index('<figure id="fig-granularity"'):]
    figure = figure[:figure.index("</figure>")]
    assert "Granularity: efficiency vs request size (cpu, closed loop)" in figure
    assert "request size: compute time per request (µs)" in figure
    assert "threads (2 workers, 16 in flight): METG 0.42 µs" in figure  # the legend
    assert "procs (2 workers, 16 in flight): never 50%" in figure
    assert "AMD EPYC, 2 cores" in figure and "Build: 6217adf" in figure
    assert "### Granularity" in md and "<summary>Granularity: cpu (efficiency by request size)</summary>" in md


def test_no_granularity_rows_no_section(real_report):
    html, md = real_report
    assert 'id="fig-granularity"' not in html and "METG" not in md
    assert "Granularity: no successful cell of the granularity sweep with an efficiency in this run." in md


def test_granularity_without_seq_has_no_efficiency_and_says_so(tmp_path):
    rows = [{k: v for k, v in r.items() if not k.startswith(("efficiency", "metg"))}
            for r in granularity_rows() if "/seq/" not in r["name"]]
    html, md = render([write_run(tmp_path / "g.json", rows)], tmp_path)
    assert 'id="fig-granularity"' not in html
    assert "its seq reference cells did not run, so there is no METG" in md


def test_cpu_scaling_ignores_the_granularity_sizes(granularity_report):
    run, _, md = granularity_report
    groups = ex.cpu_scaling(run)
    assert list(groups) == ["cpu work_us 100"]
    assert {r: [w for w, _ in p] for r, p in groups["cpu work_us 100"].items()} == {
        "seq": [1.0], "coro": [1.0, 2.0, 4.0], "threads": [1.0, 2.0, 4.0], "procs": [1.0, 2.0, 4.0]}
    assert sorted(c.name for c in ex.headline(run)) == [
        "cpu/coro/workers:1/concurrency:16/work_us:100", "cpu/procs/workers:2/concurrency:16/work_us:100",
        "cpu/threads/workers:2/concurrency:16/work_us:100"]
    assert list(ex.cost_groups(run)) == ["cpu work_us 100, 1 in flight", "cpu work_us 100, 16 in flight",
                                         "cpu work_us 100, 8 in flight", "cpu work_us 100, 32 in flight"]
    assert {c.param("work_us") for c in ex.map_points(run)} == {100.0}
    assert [line for line in md.splitlines() if line.startswith("- CPU-bound (")] == [
        verdict(md, "CPU-bound (cpu work_us 100)")]
    assert "<summary>CPU scaling: cpu work_us 0.1</summary>" not in md


def test_a_failed_scaling_cell_keeps_its_size_in_cpu_scaling(tmp_path):
    rows = [r for r in granularity_rows() if r["name"].endswith("/work_us:100")]
    rows.append(error_row("cpu/threads/workers:1/concurrency:8/work_us:100", "worker died"))
    groups = ex.cpu_scaling(load_run(write_run(tmp_path / "g.json", rows)))
    assert list(groups) == ["cpu work_us 100"]


# ---------------------------------------------------------------- crossover

SHARES = [i / 10 for i in range(11)]
CORO = [16000, 15500, 15000, 9000, 5000, 2000, 1600, 1400, 1200, 1100, 1000]
THREADS = [12000, 12500, 13000, 12000, 8000, 3600, 3000, 2600, 2250, 2000, 1800]


def mixed_rows(rates: dict[str, list[float]], noisy: tuple[str, float] | None = None) -> list[dict]:
    rows = []
    for runner, values in rates.items():
        workers = 1 if runner == "coro" else 16
        for share, rate in zip(SHARES, values):
            rows.append(row(f"mixed/{runner}/workers:{workers}/concurrency:16/request_us:1000/cpu_share:{share:g}",
                            sweeps=["crossover"], items_per_second=float(rate), noisy=int(noisy == (runner, share))))
    return rows


def swaps(tmp_path, rates, **kw) -> str:
    _, md = render([write_run(tmp_path / "x.json", mixed_rows(rates, **kw))], tmp_path)
    return verdict(md, "Who leads as the CPU share grows (mixed request_us 1000, 16 in flight, 0% to 100% CPU; "
                       "less than 5% apart, or a noisy cell whose repetitions overlap the other's, is a tie): ")


def test_crossover_swap_is_placed_between_the_last_and_first_lead(tmp_path):
    line = swaps(tmp_path, {"coro": CORO, "threads": THREADS})
    d_last = (15000 - 13000) / 15000  # share 0.2: coro's last lead
    d_first = (9000 - 12000) / 12000  # share 0.3: threads' first
    at = 0.2 + 0.1 * d_last / (d_last - d_first)
    assert f"coro vs threads: coro leads up to ~{100 * at:.0f}% CPU, threads from there on." in line
    assert "~23%" in line


def test_crossover_tie_and_no_swap(tmp_path):
    procs = [t * (1.03 if s <= 0.1 else 0.8) for s, t in zip(SHARES, THREADS)]
    line = swaps(tmp_path, {"threads": THREADS, "procs": procs})
    assert line.endswith(": threads vs procs: threads ahead wherever they differ, no significant crossing "
                         "(tied up to 10%).")

    line = swaps(tmp_path, {"threads": THREADS, "procs": [0.8 * t for t in THREADS]})
    assert line.endswith(": threads vs procs: threads ahead over the whole range.")

    line = swaps(tmp_path, {"threads": THREADS, "procs": [0.98 * t for t in THREADS]})
    assert line.endswith(": threads vs procs: tied over the whole range.")


def test_crossover_noisy_cell_is_a_tie_only_where_its_repetitions_overlap(tmp_path):
    procs = [0.8 * t for t in THREADS]
    rows = mixed_rows({"threads": THREADS, "procs": procs}, noisy=("procs", 0.5))
    # A second repetition of procs at 50% reaching past threads' there: the two cannot be told apart.
    name = "mixed/procs/workers:16/concurrency:16/request_us:1000/cpu_share:0.5"
    rows.append(row(name, sweeps=["crossover"], items_per_second=THREADS[5] * 1.1, noisy=1, repetition_index=1))
    _, md = render([write_run(tmp_path / "x.json", rows)], tmp_path)
    assert verdict(md, "Who leads").endswith(
        ": threads vs procs: threads ahead wherever they differ, no significant crossing (tied at 50%).")
    # Noisy but 20% behind in its only repetition: still behind.
    line = swaps(tmp_path, {"threads": THREADS, "procs": procs}, noisy=("procs", 0.5))
    assert line.endswith(": threads vs procs: threads ahead over the whole range.")


def test_crossover_leads_can_swap_back(tmp_path):

    back = CORO[:8] + [3000, 3000, 3000]  # coro ahead again from 0.8 on
    line = swaps(tmp_path, {"coro": back, "threads": THREADS})
    assert "coro vs threads: coro leads up to ~23% CPU, threads from there to ~" in line
    assert line.endswith(", coro from there on.")


def test_crossover_prefers_the_tagged_sweep_and_says_so_below_the_figure(tmp_path):
    rows = mixed_rows({"coro": CORO, "threads": THREADS})
    # A mixed cell of another experiment (untagged) that would hand threads the lead at 0.1 if it counted.
    rows.append(row("mixed/threads/workers:8/concurrency:16/request_us:1000/cpu_share:0.1",
                    items_per_second=99000.0))
    html, md = render([write_run(tmp_path / "x.json", rows)], tmp_path)
    assert "coro vs threads: coro leads up to ~23% CPU, threads from there on." in md
    figure = html[html.index('<figure id="fig-crossover"'):]
    assert "coro vs threads: coro leads up to ~23% CPU, threads from there on." in figure[:figure.index("</figure>")]


def test_crossover_of_an_untagged_older_run(real_report):
    _, md = real_report
    line = verdict(md, "Who leads as the CPU share grows (mixed request_us 1000, 16 in flight, 10% to 90% CPU")
    assert "coro vs threads: threads ahead over the whole range;" in line
