"""baseline.py: a baseline per machine class, recorded whole, and the gate of a run against its own."""
from __future__ import annotations

import json

import baseline
from conftest import error_row, row, write_repetitions, write_run
from results import machine_class, stored_form

NAME = "cpu/threads/workers:2/concurrency:16/work_us:100"


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
    base = write_repetitions(tmp_path / "base.json", reps([1000.0 + i for i in range(10)]))
    assert baseline.main(["record", str(base), "--baselines-dir", str(tmp_path / "b")]) == 0
    same = write_repetitions(tmp_path / "same.json", reps([1000.5 + i for i in range(10)]))
    slower = write_repetitions(tmp_path / "slower.json", reps([900.0 + i for i in range(10)]))
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
