"""The median's order-statistic interval: the rule, and Cell.interval from the harness's ci rows or, in an older
file, from the repetitions, which must agree."""
from __future__ import annotations

import json

import pytest

import intervals
from conftest import FIXTURE, load_fixture, render, row, write_run
from results import load_run


@pytest.mark.parametrize("n, k, cover", [
    (2, 1, 0.5), (3, 1, 0.75), (4, 1, 0.875), (5, 1, 0.9375), (6, 1, 0.96875), (8, 1, 0.9921875),
    (9, 2, 0.9609375), (10, 2, 0.978515625),
])
def test_the_rule_takes_the_largest_k_reaching_95_percent(n, k, cover):
    samples = [float(x) for x in reversed(range(1, n + 1))]  # unsorted: the rule sorts
    assert intervals.median_interval(samples) == (k, n + 1 - k, cover)


def test_n8_stops_at_k1_since_k2_covers_only_93_percent():
    assert intervals.coverage(8, 2) == pytest.approx(0.9297, abs=1e-4)


def test_no_interval_below_two_samples_and_six_are_needed_for_95_percent():
    assert intervals.median_interval([]) is None and intervals.median_interval([5.0]) is None
    assert intervals.needed() == 6


NAME = "cpu/threads/workers:2/concurrency:16/work_us:100"
RATES = [104.0, 100.0, 108.0, 101.0, 107.0, 102.0, 106.0, 103.0, 105.0]  # 9: k = 2, [101, 107]


def cell_rows(with_ci: bool) -> list[dict]:
    reps = [row(NAME, repetitions=9, repetition_index=i, items_per_second=r, busy_cores=1.9 + i / 100)
            for i, r in enumerate(RATES)]
    aggregate = {k: v for k, v in reps[0].items() if k != "repetition_index"}
    rows = reps + [{**aggregate, "name": f"{NAME}_median", "run_type": "aggregate", "aggregate_name": "median",
                    "items_per_second": 104.0, "busy_cores": 1.94}]
    if with_ci:  # as the harness writes them: every numeric field an endpoint, a null where GB writes NaN
        for which, rate, busy in (("ci_low", 101.0, 1.91), ("ci_high", 107.0, 1.97)):
            rows.append({**aggregate, "name": f"{NAME}_{which}", "run_type": "aggregate", "aggregate_name": which,
                         "items_per_second": rate, "busy_cores": busy, "ci_coverage": 0.9609375,
                         "latency_max_us": None})
    return rows


def test_ci_rows_and_repetitions_give_the_same_interval(tmp_path):
    from_rows = load_run(write_run(tmp_path / "ci.json", cell_rows(True), ci_level=0.95)).cell(NAME)
    computed = load_run(write_run(tmp_path / "old.json", cell_rows(False))).cell(NAME)
    for key in ("items_per_second", "busy_cores"):
        assert from_rows.interval(key) == pytest.approx(computed.interval(key))
    assert from_rows.interval("items_per_second") == (101.0, 107.0, 0.9609375)
    assert from_rows.get("items_per_second") == 104.0  # the median row still gives the numbers


def test_the_real_fixture_has_intervals_from_its_five_repetitions():
    run = load_run(FIXTURE)
    cell = run.cell("cpu/seq/workers:1/concurrency:1/work_us:100")
    samples = cell.samples("items_per_second")
    assert len(samples) == 5
    assert cell.interval("items_per_second") == (min(samples), max(samples), 0.9375)


def test_a_single_repetition_has_no_interval(tmp_path):
    run = load_run(write_run(tmp_path / "one.json", [row(NAME)]))
    assert run.cell(NAME).interval("items_per_second") is None


def test_a_ci_row_is_checked_like_any_row(tmp_path, capsys):
    rows = cell_rows(True)
    rows[-1]["items_per_second"] = -1.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"context": load_fixture()["context"], "benchmarks": rows}), encoding="utf-8")
    with pytest.raises(Exception, match=r"aggregate ci_high\): items_per_second is -1.0"):
        load_run(path)


# ---------------------------------------------------------------- verdicts from the intervals

SHARES = (0, 0.25, 0.5, 0.75, 1)
SPREAD = (-1, -0.5, 0, 0, 0.5, 1)  # 6 repetitions: the interval is [min, max], covering 96.9%


def mixed_reps(curves: dict[str, list[tuple[float, float]]]) -> list[dict]:
    """{runner: [(median, half-width of its interval) per share]} as 6 repetitions per cell."""
    rows = []
    for runner, points in curves.items():
        workers = 1 if runner == "coro" else 16
        for share, (median, half) in zip(SHARES, points):
            name = f"mixed/{runner}/workers:{workers}/concurrency:16/request_us:1000/cpu_share:{share:g}"
            rows += [row(name, sweeps=["crossover"], repetitions=6, repetition_index=i,
                         items_per_second=median + half * d) for i, d in enumerate(SPREAD)]
    return rows


def who_leads(tmp_path, curves) -> str:
    _, md = render([write_run(tmp_path / "x.json", mixed_reps(curves))], tmp_path)
    line = next(x for x in md.splitlines() if x.startswith("- Who leads"))
    assert "overlapping confidence intervals of the medians are a tie)" in line and "5%" not in line
    return line[line.index("): ") + 3:]


def test_separated_intervals_are_a_lead(tmp_path):
    assert who_leads(tmp_path, {"coro": [(1000, 10)] * 5, "threads": [(960, 10)] * 5}) == (
        "coro vs threads: coro ahead over the whole range.")  # 4% apart: a tie by the old 5% rule


def test_overlapping_intervals_are_a_tie_however_far_apart_the_medians(tmp_path):
    assert who_leads(tmp_path, {"coro": [(1000, 150)] * 5, "threads": [(850, 150)] * 5}) == (
        "coro vs threads: tied over the whole range.")  # 15% apart: a lead by the old rule


def test_a_crossing_is_named_where_the_order_is_significant_on_both_sides(tmp_path):
    coro = [(1000, 10), (900, 10), (700, 100), (500, 10), (300, 10)]
    threads = [(800, 10), (750, 10), (700, 100), (650, 10), (600, 10)]
    # Significant at 25% (coro) and 75% (threads), a tie at 50%: the crossing lies between, where the
    # relative difference crosses zero: 0.25 + 0.5 * (150/900) / (150/900 + 150/650).
    at = 0.25 + 0.5 * (150 / 900) / (150 / 900 + 150 / 650)
    assert who_leads(tmp_path, {"coro": coro, "threads": threads}) == (
        f"coro vs threads: coro leads up to ~{100 * at:.0f}% CPU, threads from there on (tied at 50%).")


def test_no_crossing_where_the_medians_swap_but_one_side_is_a_tie(tmp_path):
    coro = [(1000, 10), (900, 10), (700, 100), (600, 100), (500, 100)]
    threads = [(800, 10), (750, 10), (780, 100), (680, 100), (560, 100)]  # ahead by the medians from 50% on
    assert who_leads(tmp_path, {"coro": coro, "threads": threads}) == (
        "coro vs threads: coro ahead wherever they differ, no significant crossing (tied from 50%).")


def test_a_share_where_the_intervals_overlap_names_the_tie(tmp_path):
    _, md = render([write_run(tmp_path / "x.json", mixed_reps(
        {"coro": [(1000, 150)] * 5, "threads": [(850, 150)] * 4 + [(500, 10)]}))], tmp_path)
    line = next(x for x in md.splitlines() if x.startswith("- Crossover ("))
    assert "at cpu_share 0 coro and threads tie (intervals overlap), coro 1,000/s, threads 850/s (0.85x [" in line
    assert "at cpu_share 1 coro leads with 1,000/s, threads 500/s (0.50x [0.43x–0.60x])" in line


def test_tables_show_the_interval_and_say_once_that_5_repetitions_cover_less():
    import tables
    run = load_run(FIXTURE)
    (cpu,) = tables.cpu_scaling(run)
    ci = cpu.columns.index("95% CI")
    assert cpu.columns[ci - 1] == "requests/s"
    seq = run.cell("cpu/seq/workers:1/concurrency:1/work_us:100").samples("items_per_second")
    assert cpu.rows[0][ci] == f"{min(seq):,.0f}\u2013{max(seq):,.0f}"
    assert cpu.notes == [
        "95% CI (also [in brackets]): the distribution-free interval of the median requests/s over the repetitions, "
        "from order statistics; none with one repetition; here the intervals cover 93.8% with 5 repetitions; 6 are "
        "needed for 95%."]
    (cross,) = tables.crossover(run)
    assert cross.rows[-1][-1] == "threads (tie: procs)"


def test_single_repetition_cells_keep_the_old_verdicts_and_say_nothing_of_intervals(tmp_path):
    _, md = render([write_run(tmp_path / "one.json", [row(NAME, items_per_second=100.0)])], tmp_path)
    assert "confidence interval" not in md and "intervals overlap" not in md and "x [" not in md


def test_the_run_says_once_how_runners_are_compared_and_what_the_intervals_cover(real_report):
    _, md = real_report
    assert md.count("- Runners are compared by the distribution-free confidence interval") == 1
    assert ("here the intervals cover 93.8% with 5 repetitions; 6 are needed for 95%, so a tie or a lead is judged "
            "on narrower intervals than 95%.") in md
