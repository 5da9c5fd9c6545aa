"""baseline.py: a baseline per machine class, recorded whole, and the gate of a run against its own."""
from __future__ import annotations

import json

import pytest

import baseline
import compare
from conftest import error_row, row, write_repetitions, write_run
from results import machine_class, stored_form

NAME = "cpu/threads/workers:2/concurrency:16/work_us:100"
# The machine's calibration as conpar writes it into the context (the 2-core VM's figures).
CALIBRATION = {"iterations_per_us": 380.0, "syscall_ns": 950.0, "futex_round_trip_us": 5.2}


def reps(values):
    return {NAME: {"items_per_second": values}}


def test_record_stores_under_the_machine_class_and_suite(tmp_path, capsys):
    run = write_repetitions(tmp_path / "run.json", reps([1000.0 + i for i in range(10)]), suite="default")
    assert baseline.main(["record", str(run), "--baselines-dir", str(tmp_path / "b")]) == 0
    ctx = json.loads(run.read_text())["context"]
    stored = tmp_path / "b" / machine_class(ctx) / "default.json"
    assert json.loads(stored.read_text()) == json.loads(stored_form(run))
    assert baseline.main(["path", str(run), "--baselines-dir", str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out.strip().endswith(str(stored))


def test_record_warns_below_nine_repetitions(tmp_path, capsys):
    run = write_repetitions(tmp_path / "run.json", reps([1000.0, 1001.0, 999.0]))
    assert baseline.main(["record", str(run), "--baselines-dir", str(tmp_path / "b")]) == 0
    assert "3 repetitions per cell" in capsys.readouterr().err


def test_record_refuses_error_rows_and_keeps_the_old_baseline(tmp_path, capsys):
    good = write_repetitions(tmp_path / "good.json", reps([1000.0] * 10))
    assert baseline.main(["record", str(good), "--baselines-dir", str(tmp_path / "b")]) == 0
    bad = write_run(tmp_path / "bad.json", [row(NAME), {**error_row(NAME, "validation failed"), "repetition_index": 1}])
    assert baseline.main(["record", str(bad), "--baselines-dir", str(tmp_path / "b")]) == 2
    assert "error rows" in capsys.readouterr().err
    stored = next((tmp_path / "b").rglob("*.json"))
    assert stored.read_text() == stored_form(good)
    assert [p.name for p in stored.parent.iterdir()] == [stored.name], "no temporary file left"


def test_record_refuses_a_foreign_file(tmp_path, capsys):
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"benchmarks": []}')
    assert baseline.main(["record", str(foreign), "--baselines-dir", str(tmp_path / "b")]) == 2
    assert "not a conpar results file" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_gate_uses_the_baseline_of_the_machine_class(tmp_path, capsys):
    base = write_repetitions(tmp_path / "base.json", reps([1000.0 + i for i in range(10)]), **CALIBRATION)
    assert baseline.main(["record", str(base), "--baselines-dir", str(tmp_path / "b")]) == 0
    same = write_repetitions(tmp_path / "same.json", reps([1000.5 + i for i in range(10)]), **CALIBRATION)
    slower = write_repetitions(tmp_path / "slower.json", reps([900.0 + i for i in range(10)]), **CALIBRATION)
    assert baseline.main(["gate", str(same), "--baselines-dir", str(tmp_path / "b")]) == 0
    assert baseline.main(["gate", str(slower), "--baselines-dir", str(tmp_path / "b")]) == 1
    other_machine = write_repetitions(tmp_path / "other.json", reps([1000.0] * 10), cores=64)
    assert baseline.main(["gate", str(other_machine), "--baselines-dir", str(tmp_path / "b")]) == 2
    assert "no baseline for this machine class" in capsys.readouterr().err


def test_record_leaves_the_histograms_out_and_keeps_every_counter(tmp_path):
    run = write_repetitions(tmp_path / "run.json", reps([1000.0 + i for i in range(10)]))
    doc = json.loads(run.read_text())
    for r in doc["benchmarks"]:
        r["histogram"] = {"count": 3, "buckets": [[1, 2, 3]]}
    run.write_text(json.dumps(doc))
    assert baseline.main(["record", str(run), "--baselines-dir", str(tmp_path / "b")]) == 0
    stored = json.loads(next((tmp_path / "b").rglob("*.json")).read_text())
    assert all("histogram" not in r for r in stored["benchmarks"])
    assert [{k: v for k, v in r.items() if k != "histogram"} for r in doc["benchmarks"]] == stored["benchmarks"]
    assert stored["context"] == doc["context"]


# ---------------------------------------------------------------- baseline mode: metrics that cancel the machine

SEQ_CPU = "cpu/seq/workers:1/concurrency:1/work_us:100"
THREADS_CPU = NAME
CORO_CPU = "cpu/coro/workers:1/concurrency:16/work_us:100"
SEQ_SLEEP = "sleep/seq/workers:1/concurrency:1/wait_us:10000"
CORO_SLEEP = "sleep/coro/workers:1/concurrency:1000/wait_us:10000"
THREADS_SLEEP = "sleep/threads/workers:100/concurrency:100/wait_us:10000"
# name -> (throughput req/s, CPU µs per request, p99 µs); the sleep cells are at their timer's bound
CELLS = {
    SEQ_CPU: (10000.0, 100.0, 150.0),
    THREADS_CPU: (19500.0, 102.0, 900.0),
    CORO_CPU: (9900.0, 101.0, 1700.0),
    SEQ_SLEEP: (99.0, 8.0, 10100.0),
    CORO_SLEEP: (97000.0, 6.0, 10500.0),
    THREADS_SLEEP: (9800.0, 12.0, 10300.0),
}
NOISE = [1.0, 1.01, 0.99, 1.005, 0.995, 1.002, 0.998, 1.003, 0.997, 1.001]  # ten repetitions


def noisy(value: float, k: int) -> list[float]:
    """Ten repetitions around value; k rotates the pattern, so no two cells move in step (their ratios vary)."""
    return [value * NOISE[(i + k) % len(NOISE)] for i in range(len(NOISE))]


def suite(throughput=None, cpu=None, p99=None) -> dict[str, dict[str, list[float]]]:
    """The cells above with each metric scaled per cell: {name: factor}, or one factor for every cell."""
    def factor(f, name):
        return f.get(name, 1.0) if isinstance(f, dict) else (1.0 if f is None else f)

    cells = {name: {"items_per_second": noisy(ips * factor(throughput, name), k),
                    "cpu_us_per_request": noisy(cpu_us * factor(cpu, name), k + 3),
                    "latency_p99_us": noisy(p99_us * factor(p99, name), k + 5)}
             for k, (name, (ips, cpu_us, p99_us)) in enumerate(CELLS.items())}
    # A granularity cell's efficiency, as conpar writes it: throughput over seq's median x workers.
    seq = sorted(cells[SEQ_CPU]["items_per_second"])[len(NOISE) // 2]
    cells[THREADS_CPU]["efficiency"] = [ips / (seq * 2) for ips in cells[THREADS_CPU]["items_per_second"]]
    return cells


def gate(tmp_path, capsys, base_cells, new_cells, base_ctx=CALIBRATION, new_ctx=CALIBRATION, *options):
    """Records base, gates new against it; returns (exit code, stdout, stderr, verdict file)."""
    base = write_repetitions(tmp_path / "base.json", base_cells, **base_ctx)
    assert baseline.main(["record", str(base), "--baselines-dir", str(tmp_path / "b")]) == 0
    new = write_repetitions(tmp_path / "new.json", new_cells, **new_ctx)
    capsys.readouterr()
    rc = baseline.main(["gate", str(new), "--baselines-dir", str(tmp_path / "b"), "--json",
                        str(tmp_path / "v.json"), *options])
    out, err = capsys.readouterr()
    return rc, out, err, json.loads((tmp_path / "v.json").read_text())


def verdicts(doc: dict, verdict: str) -> set[tuple[str, str]]:
    return {(c["benchmark"], c["metric"]) for c in doc["comparisons"] if c["verdict"] == verdict}


def judged_metrics(doc: dict) -> set[str]:
    return {c["metric"] for c in doc["comparisons"]}


# A fresh VM of the class: 30% less throughput everywhere, 60% more CPU per request, 40% higher p99; its
# syscalls and wake-ups dearer, its kernel slower. Every ratio to the same run's seq holds.
SLOWER_VM = {"iterations_per_us": 300.0, "syscall_ns": 1400.0, "futex_round_trip_us": 8.1}


def test_a_slower_machine_whose_ratios_hold_passes(tmp_path, capsys):
    rc, out, err, doc = gate(tmp_path, capsys, suite(), suite(throughput=0.7, cpu=1.6, p99=1.4), new_ctx=SLOWER_VM)
    assert rc == 0, out
    assert verdicts(doc, compare.REGRESSED) == set()
    assert judged_metrics(doc) == {"speedup", "bound", "efficiency", "cpu_floor"}, "absolute metrics not judged"
    assert (CORO_SLEEP, "bound") in verdicts(doc, compare.UNCHANGED)
    assert (THREADS_CPU, "speedup") in verdicts(doc, compare.UNCHANGED)
    # The same pair judged on absolute numbers (compare, and the gate before baseline mode) calls regressions.
    assert compare.main([str(tmp_path / "base.json"), str(tmp_path / "new.json")]) == 1


def test_a_runner_whose_speedup_drops_20_percent_fails_naming_the_cell(tmp_path, capsys):
    rc, out, _, doc = gate(tmp_path, capsys, suite(),
                           suite(throughput={**{n: 0.7 for n in CELLS}, THREADS_CPU: 0.7 * 0.8}, cpu=1.6),
                           new_ctx=SLOWER_VM)
    assert rc == compare.EXIT_REGRESSION
    assert verdicts(doc, compare.REGRESSED) == {(THREADS_CPU, "speedup"), (THREADS_CPU, "efficiency")}
    (speedup,) = [c for c in doc["comparisons"] if c["benchmark"] == THREADS_CPU and c["metric"] == "speedup"]
    assert speedup["change_pct"] == pytest.approx(-20, abs=1.5)
    assert f"| `{THREADS_CPU}` | speed-up over seq | 1.95 x | 1.56 x | -20.0% |" in out


def test_a_sleep_runner_further_from_the_bound_fails(tmp_path, capsys):
    rc, _, _, doc = gate(tmp_path, capsys, suite(), suite(throughput={CORO_SLEEP: 0.85}))
    assert rc == compare.EXIT_REGRESSION
    assert (CORO_SLEEP, "bound") in verdicts(doc, compare.REGRESSED)


def test_cpu_per_request_over_seqs_floor_catches_a_dearer_runtime(tmp_path, capsys):
    rc, _, _, doc = gate(tmp_path, capsys, suite(), suite(cpu={**{n: 1.6 for n in CELLS}, CORO_CPU: 1.6 * 1.2}),
                         new_ctx=SLOWER_VM)
    assert rc == compare.EXIT_REGRESSION
    assert verdicts(doc, compare.REGRESSED) == {(CORO_CPU, "cpu_floor")}


# Every throughput 10% lower, every ratio kept: only the absolute metrics can see it.
UNIFORMLY_SLOWER = {"throughput": 0.9}


def test_a_calibration_mismatch_skips_the_absolute_metrics_and_says_why(tmp_path, capsys):
    other = {**CALIBRATION, "syscall_ns": 950.0 * 1.25}
    rc, out, err, doc = gate(tmp_path, capsys, suite(), suite(**UNIFORMLY_SLOWER), new_ctx=other)
    assert rc == compare.EXIT_OK
    assert judged_metrics(doc) == {"speedup", "bound", "efficiency", "cpu_floor"}
    line = ("Absolute metrics (throughput, p99 latency, CPU per request) not judged: the calibration differs from "
            "the baseline's")
    detail = "syscall_ns: baseline 950, new 1188 ns (+25.0%, tolerance +-10%)"
    for text in (out, err, " ".join(doc["notes"])):
        assert line in text and detail in text and "not a regression" in text
    assert "iterations_per_us" not in " ".join(doc["notes"]), "figures that match are not named as differing"


def test_a_calibration_match_judges_the_absolute_metrics_too(tmp_path, capsys):
    close = {"iterations_per_us": 385.0, "syscall_ns": 930.0, "futex_round_trip_us": 5.4}  # within 4%
    rc, out, err, doc = gate(tmp_path, capsys, suite(), suite(**UNIFORMLY_SLOWER), new_ctx=close)
    assert rc == compare.EXIT_REGRESSION
    assert verdicts(doc, compare.REGRESSED) == {(n, "throughput") for n in CELLS}
    assert "Calibration matches the baseline's within +-10%" in out and "absolute metrics judged too" in err


def test_the_tolerance_is_an_option(tmp_path, capsys):
    other = {**CALIBRATION, "syscall_ns": 950.0 * 1.25}
    rc, *_ = gate(tmp_path, capsys, suite(), suite(**UNIFORMLY_SLOWER), CALIBRATION, other,
                  "--calibration-tolerance", "30")
    assert rc == compare.EXIT_REGRESSION


def test_a_baseline_without_the_calibration_figures_is_judged_on_ratios_only(tmp_path, capsys):
    old = {"syscall_ns": None, "futex_round_trip_us": None}  # a baseline recorded before they were measured
    base = write_repetitions(tmp_path / "base.json", suite(), iterations_per_us=380.0)
    doc = json.loads(base.read_text())
    assert all(k not in doc["context"] for k in old)
    assert baseline.main(["record", str(base), "--baselines-dir", str(tmp_path / "b")]) == 0
    new = write_repetitions(tmp_path / "new.json", suite(**UNIFORMLY_SLOWER), **CALIBRATION)
    capsys.readouterr()
    assert baseline.main(["gate", str(new), "--baselines-dir", str(tmp_path / "b")]) == compare.EXIT_OK
    out, err = capsys.readouterr()
    assert "not judged" in err and "syscall_ns: the baseline has none" in out
    assert "futex_round_trip_us: the baseline has none" in out


@pytest.mark.parametrize("base_memcpy, new_memcpy, differs", [
    (14.4, None, False),  # NEW ran no memory cell: nothing of it depends on memory bandwidth
    (None, 14.4, True),   # NEW's memory cells cannot be judged against a baseline that never measured it
    (14.4, 14.9, False),
    (14.4, 18.5, True),
])
def test_memcpy_is_compared_when_the_new_run_measured_it(base_memcpy, new_memcpy, differs):
    def ctx(memcpy):
        return {**CALIBRATION, **({"memcpy_gb_per_s": memcpy} if memcpy else {})}

    found = baseline.calibration_mismatches(ctx(base_memcpy), ctx(new_memcpy), 10)
    assert bool(found) == differs and all(f.startswith("memcpy_gb_per_s") for f in found)


def test_derived_metrics_take_thresholds_in_the_gate_only(tmp_path, capsys):
    rc, *_ = gate(tmp_path, capsys, suite(), suite(throughput={THREADS_CPU: 0.8}), CALIBRATION, SLOWER_VM,
                  "--threshold", "speedup=30", "--threshold", "efficiency=30")
    assert rc == compare.EXIT_OK
    with pytest.raises(SystemExit):
        compare.main([str(tmp_path / "base.json"), str(tmp_path / "new.json"), "--threshold", "speedup=30"])


def test_a_seq_cell_missing_from_new_is_missing_though_no_ratio_applies_to_it(tmp_path, capsys):
    new = {n: v for n, v in suite().items() if n != SEQ_CPU}
    rc, _, err, doc = gate(tmp_path, capsys, suite(), new, new_ctx=SLOWER_VM)
    assert rc == compare.EXIT_MISSING and SEQ_CPU in err
    assert (SEQ_CPU, "speedup") in verdicts(doc, compare.NOT_IN_NEW)
    assert (THREADS_CPU, "speedup") in verdicts(doc, compare.NO_DATA), "its reference is gone: no ratio in new"


def test_a_sleep_cells_cpu_ratio_is_judged_only_when_the_overhead_calibration_matches(tmp_path, capsys):
    # A sleep request's CPU is system calls and wake-ups: dearer on a VM with dearer ones, whatever the code.
    dearer = suite(cpu={THREADS_SLEEP: 1.3})
    rc, out, _, doc = gate(tmp_path, capsys, suite(), dearer, new_ctx=SLOWER_VM)
    assert rc == compare.EXIT_OK
    judged = {(c["benchmark"], c["metric"]) for c in doc["comparisons"]}
    assert (THREADS_SLEEP, "cpu_floor") not in judged and (THREADS_SLEEP, "bound") in judged
    assert (THREADS_CPU, "speedup") in judged  # 100 µs of compute: its ratios cancel the machine
    assert "Ratios of cells whose requests wait or have under 1 µs of compute" in out and "syscall_ns" in out
    rc, _, _, doc = gate(tmp_path, capsys, suite(), dearer)  # the same machine: the overhead is the code's
    assert rc == compare.EXIT_REGRESSION and (THREADS_SLEEP, "cpu_floor") in verdicts(doc, compare.REGRESSED)


@pytest.mark.parametrize("drop, verdict", [(0.94, compare.UNCHANGED), (0.90, compare.REGRESSED)])
def test_a_ratio_has_sqrt2_times_the_default_threshold(tmp_path, capsys, drop, verdict):
    rc, _, _, doc = gate(tmp_path, capsys, suite(), suite(throughput={THREADS_CPU: drop}))
    (speedup,) = [c for c in doc["comparisons"] if c["benchmark"] == THREADS_CPU and c["metric"] == "speedup"]
    assert speedup["threshold_pct"] == baseline.DERIVED_THRESHOLD_PCT == 7.1
    assert speedup["verdict"] == verdict
