"""results.load_run, the one loader of every tool: a corrupt number (NaN, an infinity, a string, null, a
negative value) or a duplicate (name, repetition) row is bad input, exit 2, naming the file, the row and the
field, in report, compare, export, history, baseline and ab alike."""
from __future__ import annotations

import json
import math

import pytest

import ab
import baseline
import compare
import export
import history
import report
from conftest import FIXTURE, load_fixture
from fake_conpar import BENCHMARKS, make_fake

# Each tool reading one results file, with the prefix of its messages.
TOOLS = {
    "report": lambda t, p: report.main(["--out-html", str(t / "r.html"), "--out-md", str(t / "r.md"), str(p)]),
    "compare": lambda t, p: compare.main([str(FIXTURE), str(p), "--json", str(t / "v.json")]),
    "export": lambda t, p: export.main([str(p), "--bmf", str(t / "bmf.json")]),
    "history": lambda t, p: history.main(["append", str(p), "--history-dir", str(t / "h")]),
    "baseline": lambda t, p: baseline.main(["record", str(p), "--baselines-dir", str(t / "b")]),
}
CORRUPT = [(math.nan, "NaN"), (math.inf, "Infinity"), ("12000", '"12000"'), (None, "null"), (-5.0, "-5.0")]


def first(doc: dict, run_type: str) -> int:
    return next(i for i, r in enumerate(doc["benchmarks"])
                if r["run_type"] == run_type and r.get("aggregate_name", "median") == "median"
                and "items_per_second" in r)


def corrupted(tmp_path, edit) -> tuple:
    doc = load_fixture()
    label = edit(doc)
    path = tmp_path / "corrupt.json"
    path.write_text(json.dumps(doc), encoding="utf-8")  # json writes NaN and Infinity as the bare tokens
    return path, label


def assert_refused(tmp_path, capsys, tool: str, path, problem: str) -> None:
    assert TOOLS[tool](tmp_path, path) == 2
    out, err = capsys.readouterr()
    assert err == f"{tool}: bad input: {path}: {problem}\n" and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.json"]  # nothing written


@pytest.mark.parametrize("value, shown", CORRUPT, ids=[c[1] for c in CORRUPT])
@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_rejects_a_corrupt_number_naming_file_row_and_field(tmp_path, capsys, tool, value, shown):
    # compare used to exit 0 with "no data", report to publish "nanx seq" and "inf/s", export to drop the
    # metric; -5 was judged "regressed" and exported as -5 req/s.
    def edit(doc):
        i = first(doc, "iteration")
        doc["benchmarks"][i]["items_per_second"] = value
        r = doc["benchmarks"][i]
        return f"benchmarks[{i}] ({r['run_name']}, repetition {r['repetition_index']})"
    path, row = corrupted(tmp_path, edit)
    assert_refused(tmp_path, capsys, tool, path, f"{row}: items_per_second is {shown}, not a finite number >= 0")


@pytest.mark.parametrize("value, shown", [c for c in CORRUPT if c[0] is not None], ids=lambda v: str(v))
def test_report_rejects_a_corrupt_number_in_the_median_row_it_reads(tmp_path, capsys, value, shown):
    def edit(doc):
        i = first(doc, "aggregate")
        doc["benchmarks"][i]["latency_p99_us"] = value
        return f"benchmarks[{i}] ({doc['benchmarks'][i]['run_name']}, aggregate median)"
    path, row = corrupted(tmp_path, edit)
    assert_refused(tmp_path, capsys, "report", path, f"{row}: latency_p99_us is {shown}, not a finite number >= 0")


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_rejects_a_duplicate_name_and_repetition(tmp_path, capsys, tool):
    # A copied row became one more repetition: "too noisy" (exit 4) turned into "regressed" (exit 1).
    def edit(doc):
        i = first(doc, "iteration")
        doc["benchmarks"].append(dict(doc["benchmarks"][i]))
        r = doc["benchmarks"][i]
        return (f"benchmarks[{len(doc['benchmarks']) - 1}] ({r['run_name']}, repetition {r['repetition_index']}) "
                f"appears twice (also benchmarks[{i}])")
    path, problem = corrupted(tmp_path, edit)
    assert_refused(tmp_path, capsys, tool, path, problem)


def test_a_duplicate_aggregate_row_is_refused_too(tmp_path, capsys):
    def edit(doc):
        i = first(doc, "aggregate")
        doc["benchmarks"].insert(i + 1, dict(doc["benchmarks"][i]))
        return (f"benchmarks[{i + 1}] ({doc['benchmarks'][i]['run_name']}, aggregate median) appears twice "
                f"(also benchmarks[{i}])")
    path, problem = corrupted(tmp_path, edit)
    assert_refused(tmp_path, capsys, "export", path, problem)


def test_ab_rejects_a_round_with_a_corrupt_number(tmp_path, capsys):
    a, b = make_fake(tmp_path, "a", 1000.0), make_fake(tmp_path, "b", 1000.0, plan={0: "nan"})
    rc = ab.main([str(a), str(b), "--rounds", "2", "--seed", "1", "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp_path / "out").exists()
    assert f"benchmarks[0] ({BENCHMARKS[0]}, repetition 0): items_per_second is NaN, not a finite number >= 0" in err
