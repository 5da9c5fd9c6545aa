"""The pipeline section: items/s and each stage's busy time per runner, its table, its verdict, and the sections
around it."""
from __future__ import annotations

import re

import experiments as ex
import tables
from conftest import error_row, render, row, write_run
from results import load_run

SHAPE = "produce_us:2/transform_us:20/consume_us:2"
LABEL = "pipeline produce_us 2 transform_us 20 consume_us 2"

# The default suite's cells on 2 cores: items/s and (produce, transform, consume) busy; seq at 1 in flight, the others
# at 16 (threads and procs with 3 workers, one per stage).
CELLS = {
    "seq": (1, 1, 40000.0, (0.08, 0.82, 0.09), 1.0, 60.0),
    "coro": (1, 16, 41000.0, (0.09, 0.80, 0.08), 0.99, 440.0),
    "threads": (3, 16, 70000.0, (0.15, 1.62, 0.14), 1.95, 310.0),
    "procs": (3, 16, 45000.0, (0.10, 0.93, 0.09), 1.60, 520.0),
}


def pipeline_rows(overrides: dict[str, dict] | None = None) -> list[dict]:
    """One row per runner from CELLS; overrides: {runner: {counter: value}}."""
    rows = []
    for runner, (w, c, rate, busy, cores, p99) in CELLS.items():
        name = f"pipeline/{runner}/workers:{w}/concurrency:{c}/{SHAPE}"
        counters = dict(items_per_second=rate, busy_cores=cores, in_flight=0.95 * c, latency_p99_us=p99,
                        work_us=24.0, **{f"stage_{s}_busy": b for s, b in zip(ex.PIPELINE_STAGES, busy)})
        counters.update((overrides or {}).get(runner, {}))
        rows.append(row(name, **counters))
    return rows


def verdict(md: str) -> str:
    return next(line for line in md.splitlines() if line.startswith("- Pipeline ("))


def test_figure_between_crossover_and_latency(tmp_path):
    html, md = render([write_run(tmp_path / "p.json", pipeline_rows())], tmp_path)
    assert "fig-pipeline" in re.findall(r'<figure id="([^"]+)"', html)
    assert '<a href="#fig-pipeline">Pipeline</a>' in html
    fig = html[html.index('<figure id="fig-pipeline"'):]
    fig = fig[:fig.index("</figure>")]
    assert LABEL in fig and "throughput (items/s)" in fig and "busy (stage time / wall time)" in fig
    assert "one core busy" in fig and "transform" in fig
    assert "the busiest stage is the bottleneck" in fig  # the caption
    assert md.index("### Crossover") < md.index("### Pipeline") < md.index("### Latency at equal load")


def test_table_per_runner_with_each_stage(tmp_path):
    run = load_run(write_run(tmp_path / "p.json", pipeline_rows()))
    (table,) = tables.pipeline(run)
    assert table.title == f"Pipeline: {LABEL}"
    assert table.columns == ["runner", "workers", "in flight", "items/s", "produce busy", "transform busy",
                             "consume busy", "busy cores", "p99 (\u00b5s)", "bottleneck", "flags"]
    assert table.rows == [
        ["seq", "1", "1", "40,000", "0.08", "0.82", "0.09", "1.00", "60.0", "transform", ""],
        ["coro", "1", "16", "41,000", "0.09", "0.8", "0.08", "0.99", "440", "transform", ""],
        ["threads", "3", "16", "70,000", "0.15", "1.62", "0.14", "1.95", "310", "transform", ""],
        ["procs", "3", "16", "45,000", "0.1", "0.93", "0.09", "1.60", "520", "transform", ""],
    ]


def test_verdict_names_the_runner_that_moves_most_and_its_bottleneck(tmp_path):
    _, md = render([write_run(tmp_path / "p.json", pipeline_rows())], tmp_path)
    assert verdict(md) == (
        f"- Pipeline ({LABEL}): threads moves the most items, 70,000/s (16 in flight, 3 workers, 1.75x seq), against "
        "seq 40,000/s, coro 41,000/s and procs 45,000/s; its bottleneck is the transform stage, busy 1.62 cores "
        "(produce 0.15, consume 0.14).")


def test_the_verdict_follows_the_data(tmp_path):
    # procs ahead, with its consume stage the slowest (say, a consume of 30 us): the sentence says so.
    rows = pipeline_rows(overrides={"procs": {"items_per_second": 90000.0, "stage_consume_busy": 0.97, "noisy": 1}})
    _, md = render([write_run(tmp_path / "p.json", rows)], tmp_path)
    assert verdict(md).startswith(f"- Pipeline ({LABEL}): procs moves the most items, 90,000/s (16 in flight, "
                                  "3 workers, 2.25x seq) (noisy), against seq 40,000/s")
    assert verdict(md).endswith("its bottleneck is the consume stage, busy 0.97 cores (produce 0.1, transform 0.93).")


def test_stages_in_pipeline_order_and_unknown_ones_after(tmp_path):
    rows = pipeline_rows(overrides={"coro": {"stage_audit_busy": 0.01}})
    run = load_run(write_run(tmp_path / "p.json", rows))
    coro = run.cell(f"pipeline/coro/workers:1/concurrency:16/{SHAPE}")
    assert ex.stage_names(coro) == ["produce", "transform", "consume", "audit"]
    (table,) = tables.pipeline(run)
    assert table.columns[4:8] == ["produce busy", "transform busy", "consume busy", "audit busy"]
    assert table.rows[0][7] == "\u2014"  # seq has no such stage


def test_failed_cell_is_listed(tmp_path):
    rows = pipeline_rows() + [error_row(f"pipeline/procs/workers:2/concurrency:16/{SHAPE}",
                                        "procs failed: procs: a pipeline of 3 stages runs one worker process per stage; "
                                        "this cell has 2")]
    (table,) = tables.pipeline(load_run(write_run(tmp_path / "p.json", rows)))
    assert table.rows[-1][:4] == ["procs", "2", "16", "\u2014"]
    assert table.rows[-1][-1].startswith("error: procs failed: procs: a pipeline of 3 stages")


def test_several_loads_per_runner(tmp_path):
    more = {f"{r}@64": (w, 64 if r != "seq" else 1, rate * 1.05, busy, cores, p99 * 4)
            for r, (w, _, rate, busy, cores, p99) in CELLS.items() if r != "seq"}
    rows = pipeline_rows()
    for key, (w, c, rate, busy, cores, p99) in more.items():
        runner = key.split("@")[0]
        rows.append(row(f"pipeline/{runner}/workers:{w}/concurrency:{c}/{SHAPE}", items_per_second=rate,
                        busy_cores=cores, latency_p99_us=p99, in_flight=0.95 * c,
                        **{f"stage_{s}_busy": b for s, b in zip(ex.PIPELINE_STAGES, busy)}))
    html, md = render([write_run(tmp_path / "p.json", rows)], tmp_path)
    (table,) = tables.pipeline(load_run(tmp_path / "p.json"))
    assert [r[:3] for r in table.rows] == [["seq", "1", "1"], ["coro", "1", "16"], ["coro", "1", "64"],
                                           ["threads", "3", "16"], ["threads", "3", "64"], ["procs", "3", "16"],
                                           ["procs", "3", "64"]]
    assert "threads moves the most items, 73,500/s (64 in flight, 3 workers" in verdict(md)
    assert "16 in flight" in html[html.index('<figure id="fig-pipeline"'):]


def test_other_sections_keep_their_cells(tmp_path):
    run = load_run(write_run(tmp_path / "p.json", pipeline_rows()))
    assert list(ex.pipeline(run)) == [LABEL]
    assert {c.workload for c in ex.map_points(run)} == {"pipeline"}
    assert [label for label in ex.cost_groups(run)] == [f"{LABEL}, 1 in flight", f"{LABEL}, 16 in flight"]
    assert ex.cpu_scaling(run) == {} and ex.headline(run) == []


def test_no_pipeline_cells_no_section(real_report):
    html, md = real_report
    assert 'id="fig-pipeline"' not in html and "- Pipeline (" not in md
    assert "Pipeline: no successful pipeline cell with stage busy times in this run." in md
