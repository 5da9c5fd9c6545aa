"""plots/export.py: the shapes Bencher and github-action-benchmark read, from synthetic and real runs."""
from __future__ import annotations

import json
import math

import pytest

import export
from conftest import ABSENT, FIXTURE, error_row, write_repetitions

CPU = "cpu/threads/workers:2/concurrency:2/work_us:100"
SLEEP = "sleep/coro/workers:1/concurrency:64/wait_us:1000"
FAILED = "cpu/procs/workers:2/concurrency:2/work_us:100"


@pytest.fixture
def exported(tmp_path):
    """A run with one failed cell, a missing p99 and a repetition without a throughput, exported to all three
    formats."""
    path = write_repetitions(tmp_path / "run.json", {
        CPU: {"items_per_second": [1000.0, 1100, 900], "latency_p99_us": [150.0, 140, 160],
              "cpu_us_per_request": [100.0, 101, 99]},
        SLEEP: {"items_per_second": [6000.0, ABSENT, 6200], "latency_p99_us": [ABSENT] * 3,
                "cpu_us_per_request": [5.0, 6, 7]},
    })
    doc = json.loads(path.read_text())
    doc["benchmarks"].append(error_row(FAILED, "worker died"))
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    rc = export.main([str(path), "--bmf", str(out / "bmf.json"), "--github-action-bigger", str(out / "bigger.json"),
                      "--github-action-smaller", str(out / "smaller.json")])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["bigger.json", "bmf.json", "smaller.json"]
    return {name: json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("bmf", "bigger", "smaller")}


def test_bmf_shape_and_values(exported):
    bmf = exported["bmf"]
    assert list(bmf) == [CPU, SLEEP]  # file order; the failed cell is left out
    assert bmf[CPU] == {
        "throughput": {"value": 1000.0, "lower_value": 900.0, "upper_value": 1100.0},
        "latency": {"value": 150_000.0, "lower_value": 140_000.0, "upper_value": 160_000.0},  # Bencher's unit: ns
        "cpu-per-request": {"value": 100_000.0, "lower_value": 99_000.0, "upper_value": 101_000.0},
    }
    # NaN is a missing repetition; an absent p99 is no measure at all.
    assert bmf[SLEEP] == {
        "throughput": {"value": 6100.0, "lower_value": 6000.0, "upper_value": 6200.0},
        "cpu-per-request": {"value": 6000.0, "lower_value": 5000.0, "upper_value": 7000.0},
    }


def test_github_action_bigger_is_throughput(exported):
    assert exported["bigger"] == [
        {"name": f"{CPU} throughput", "unit": "req/s", "value": 1000.0, "range": "± 100",
         "extra": "median of 3 repetitions, min 900, max 1100; commit 6217adf"},
        {"name": f"{SLEEP} throughput", "unit": "req/s", "value": 6100.0, "range": "± 100",
         "extra": "median of 2 repetitions, min 6000, max 6200; commit 6217adf"},
    ]


def test_github_action_smaller_is_latency_and_cpu(exported):
    smaller = exported["smaller"]
    assert [(e["name"], e["unit"], e["value"]) for e in smaller] == [
        (f"{CPU} p99 latency", "µs", 150.0), (f"{CPU} CPU per request", "µs", 100.0),
        (f"{SLEEP} CPU per request", "µs", 6.0)]
    assert smaller[0]["range"] == "± 10"
    assert all(set(e) == {"name", "unit", "value", "range", "extra"} for e in smaller)


def test_real_run_exports_every_successful_cell(tmp_path):
    assert export.main([str(FIXTURE), "--bmf", str(tmp_path / "bmf.json")]) == 0
    bmf = json.loads((tmp_path / "bmf.json").read_text())
    fixture = json.loads(FIXTURE.read_text())
    assert set(bmf) == {b["run_name"] for b in fixture["benchmarks"]}
    name = "cpu/threads/workers:1/concurrency:1/work_us:0"
    reps = sorted(b["items_per_second"] for b in fixture["benchmarks"]
                  if b["run_name"] == name and b["run_type"] == "iteration")
    assert bmf[name]["throughput"] == {"value": reps[2], "lower_value": reps[0], "upper_value": reps[-1]}
    # Every value is a plain finite number: Bencher rejects NaN.
    assert all(math.isfinite(v) for m in bmf.values() for metric in m.values() for v in metric.values())


def test_bad_input_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"context": ')
    assert export.main([str(bad), "--bmf", str(tmp_path / "bmf.json")]) == 2
    assert str(bad) in capsys.readouterr().err
    assert not (tmp_path / "bmf.json").exists()


def test_nothing_to_write_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        export.main([str(FIXTURE)])
    assert e.value.code == 2 and "nothing to write" in capsys.readouterr().err


def test_unwritable_output_exits_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert export.main([str(FIXTURE), "--bmf", str(blocker / "bmf.json")]) == 1
    assert "cannot write" in capsys.readouterr().err
