"""plots/compare.py on synthetic runs: verdicts, exit codes and their precedence, bad input, outputs."""
from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys

import pytest

import compare
from conftest import ABSENT, PLOTS, error_row, row, write_repetitions, write_run
from mannwhitney import mann_whitney_u

CPU = "cpu/threads/workers:2/concurrency:2/work_us:100"
SLEEP = "sleep/coro/workers:1/concurrency:64/wait_us:1000"
# Nine repetitions: the smallest count the comparison does not warn about.
BASE = [1000.0, 1010, 990, 1005, 995, 1002, 998, 1003, 997]
P99 = [990.0, 995, 985, 1000, 980, 992, 988, 997, 983]
CPU_US = [100.0, 101, 99, 100.5, 99.5, 100.2, 99.8, 100.3, 99.7]


def scaled(values: list[float], factor: float) -> list[float]:
    return [v * factor for v in values]


def cell(throughput=1.0, p99=1.0, cpu=1.0, n=9) -> dict[str, list[float]]:
    """Nine repetitions around the base values, each metric scaled by its factor."""
    return {"items_per_second": scaled(BASE[:n], throughput), "latency_p99_us": scaled(P99[:n], p99),
            "cpu_us_per_request": scaled(CPU_US[:n], cpu)}


def run(tmp_path, capsys, base_cells, new_cells, *options, base_ctx=None, new_ctx=None):
    """Writes both runs, compares them in process; returns (exit code, stdout, stderr, verdict file or None)."""
    base = write_repetitions(tmp_path / "base.json", base_cells, **(base_ctx or {}))
    new = write_repetitions(tmp_path / "new.json", new_cells, **(new_ctx or {}))
    verdict = tmp_path / "verdict.json"
    rc = compare.main([str(base), str(new), "--json", str(verdict), *options])
    out, err = capsys.readouterr()
    return rc, out, err, json.loads(verdict.read_text(encoding="utf-8")) if verdict.exists() else None


def entry(doc: dict, benchmark: str, metric: str) -> dict:
    (found,) = [c for c in doc["comparisons"] if c["benchmark"] == benchmark and c["metric"] == metric]
    return found


def verdicts(doc: dict) -> dict[tuple[str, str], str]:
    return {(c["benchmark"], c["metric"]): c["verdict"] for c in doc["comparisons"]}


def table_rows(markdown: str) -> list[list[str]]:
    lines = [x for x in markdown.splitlines() if x.startswith("| `")]
    return [[c.strip() for c in x.strip("|").split("|")] for x in lines]


# ---------------------------------------------------------------- verdicts and exit codes

def test_identical_runs_exit_0_all_unchanged(tmp_path, capsys):
    cells = {CPU: cell(), SLEEP: cell()}
    rc, out, err, doc = run(tmp_path, capsys, cells, cells)
    assert rc == compare.EXIT_OK == 0
    assert set(verdicts(doc).values()) == {"unchanged"}
    e = entry(doc, CPU, "throughput")
    assert e["base"] == {"median": 1000.0, "n": 9}  # the aggregate row is not a tenth repetition
    assert (e["change_pct"], e["p"], e["threshold_pct"], e["better"]) == (0.0, 1.0, 5.0, "higher")
    assert doc["summary"] == {"benchmarks": 2, "comparisons": 6, "regressed": 0, "too noisy": 0, "improved": 0,
                              "unchanged": 6, "no data": 0, "missing": 0}
    assert doc["exit_code"] == 0 and doc["warnings"] == [] and err == ""
    assert out.splitlines()[2] == ("**No regression** (exit 0): 6 comparisons of 2 benchmarks of base: "
                                   "0 regressed, 0 too noisy, 0 improved, 6 unchanged, 0 no data, 0 missing.")


def test_regression_exits_1(tmp_path, capsys):
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()}, {CPU: cell(throughput=0.9), SLEEP: cell()})
    assert rc == compare.EXIT_REGRESSION == 1
    e = entry(doc, CPU, "throughput")
    assert e["verdict"] == "regressed"
    assert e["change_pct"] == pytest.approx(-10.0)
    assert e["p"] == pytest.approx(mann_whitney_u(BASE, scaled(BASE, 0.9)).p) and e["p"] < 0.001
    assert doc["summary"]["regressed"] == 1 and doc["summary"]["unchanged"] == 5
    assert "**Regression** (exit 1)" in out and "1 regressed" in out
    assert table_rows(out)[0][:2] == [f"`{CPU}`", "throughput"]
    assert table_rows(out)[0][4:] == ["-10.0%", f"{e['p']:.2g}", "**regressed**"]


def test_direction_follows_the_metric(tmp_path, capsys):
    # Higher p99 and CPU per request are worse; lower are better: the raw change keeps its sign.
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()},
                        {CPU: cell(p99=1.2), SLEEP: cell(cpu=0.8)})
    assert rc == 1
    assert entry(doc, CPU, "p99")["verdict"] == "regressed"
    assert entry(doc, CPU, "p99")["change_pct"] == pytest.approx(20.0)
    assert entry(doc, SLEEP, "cpu")["verdict"] == "improved"
    assert entry(doc, SLEEP, "cpu")["change_pct"] == pytest.approx(-20.0)


def test_improvement_exits_0(tmp_path, capsys):
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell(throughput=1.1)})
    assert rc == 0
    assert entry(doc, CPU, "throughput")["verdict"] == "improved"
    assert entry(doc, CPU, "throughput")["change_pct"] == pytest.approx(10.0)
    assert "**No regression** (exit 0)" in out and "1 improved" in out


def test_large_but_noisy_change_exits_4(tmp_path, capsys):
    noisy = [700.0, 1300, 750, 1250, 800, 1200, 850, 1150, 890]  # median 890: -11%, spread over the base
    assert mann_whitney_u(BASE, noisy).p > 0.01
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: {**cell(), "items_per_second": noisy}})
    assert rc == compare.EXIT_TOO_NOISY == 4
    e = entry(doc, CPU, "throughput")
    assert e["verdict"] == "too noisy" and e["change_pct"] == pytest.approx(-11.0)
    assert e["p"] == pytest.approx(mann_whitney_u(BASE, noisy).p)
    assert "**Too noisy to judge** (exit 4)" in out


def test_small_change_is_unchanged_however_significant(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell(throughput=0.97)})
    e = entry(doc, CPU, "throughput")
    assert rc == 0 and e["verdict"] == "unchanged" and e["p"] < 0.01


def test_few_repetitions_warn_with_the_smallest_p(tmp_path, capsys):
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell(n=5)}, {CPU: cell(throughput=0.9, n=5)})
    assert rc == 1  # 2/252 = 0.0079 < 0.01: separated 5 vs 5 can still be judged
    assert entry(doc, CPU, "throughput")["p"] == pytest.approx(2 / 252)
    (warning,) = doc["warnings"]
    assert "3 of 3 comparisons have fewer than 9 repetitions" in warning
    assert "with 5 vs 5 the smallest possible p is 0.0079" in warning and "no change there" not in warning
    assert warning in out


def test_too_few_repetitions_can_never_be_significant(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell(n=3)}, {CPU: cell(throughput=0.5, n=3)})
    assert rc == 4
    assert entry(doc, CPU, "throughput")["verdict"] == "too noisy"
    assert "smallest possible p is 0.1, not below alpha 0.01, so no change there can be judged significant" \
        in doc["warnings"][0]


def test_alpha_is_settable(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell(n=3)}, {CPU: cell(throughput=0.5, n=3)}, "--alpha", "0.2")
    assert rc == 1 and doc["alpha"] == 0.2
    assert entry(doc, CPU, "throughput")["verdict"] == "regressed"


# ---------------------------------------------------------------- missing values, errors, benchmark sets

@pytest.mark.parametrize("value, shown", [(math.nan, "NaN"), (math.inf, "Infinity"), ("fast", '"fast"'),
                                          (None, "null"), (-5.0, "-5.0")])
def test_compare_rejects_corrupt_numbers_naming_file_row_and_field(tmp_path, capsys, value, shown):
    # A corrupt number is bad input, not a missing repetition: NaN used to become "no data" (exit 0) and -5 a
    # regression.
    new = cell()
    new["items_per_second"][1] = value
    rc, out, err, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: new})
    assert rc == compare.EXIT_BAD_INPUT and doc is None and out == ""
    assert err == (f"compare: bad input: {tmp_path / 'new.json'}: benchmarks[1] ({CPU}, repetition 1): "
                   f"items_per_second is {shown}, not a finite number >= 0\n")


def test_compare_rejects_duplicate_rows_naming_the_row(tmp_path, capsys):
    # A copied row used to count as one more repetition: "too noisy" (4) became "regressed" (1).
    path = write_repetitions(tmp_path / "new.json", {CPU: cell(n=3)})
    doc = json.loads(path.read_text())
    doc["benchmarks"].insert(2, doc["benchmarks"][0])
    path.write_text(json.dumps(doc))
    base = write_repetitions(tmp_path / "base.json", {CPU: cell(n=3)})
    assert compare.main([str(base), str(path)]) == compare.EXIT_BAD_INPUT
    assert capsys.readouterr().err == (f"compare: bad input: {path}: benchmarks[2] ({CPU}, repetition 0) appears "
                                       "twice (also benchmarks[0])\n")


def test_null_in_an_aggregate_row_is_googles_nan_not_corrupt(tmp_path, capsys):
    # conpar writes Google Benchmark's NaN (the cv of a counter that is 0 in every repetition) as null.
    path = write_repetitions(tmp_path / "run.json", {CPU: cell()})
    doc = json.loads(path.read_text())
    doc["benchmarks"][-1]["work_us"] = None
    path.write_text(json.dumps(doc))
    assert compare.main([str(path), str(path)]) == compare.EXIT_OK


def test_absent_metric_is_no_data_not_a_failure(tmp_path, capsys):
    new = {**cell(), "latency_p99_us": [ABSENT] * 9}
    no_cpu = {**cell(), "cpu_us_per_request": [ABSENT] * 9}
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()}, {CPU: new, SLEEP: no_cpu})
    assert rc == 0
    p99 = entry(doc, CPU, "p99")
    assert (p99["verdict"], p99["base"]["n"], p99["new"]["n"], p99["change_pct"], p99["p"]) == \
        ("no data", 9, 0, None, None)
    assert p99["new"]["median"] is None and p99["base"]["median"] == pytest.approx(990.0)
    assert entry(doc, SLEEP, "cpu")["verdict"] == "no data"
    assert doc["summary"]["no data"] == 2
    assert table_rows(out)[-1][4:] == ["\u2014", "\u2014", "no data"]


def write_with_error(path, rows_of, failed: str, **ctx):
    write_repetitions(path, rows_of, **ctx)
    doc = json.loads(path.read_text())
    doc["benchmarks"].append(error_row(failed, "validation failed: 99 of 100 requests completed"))
    path.write_text(json.dumps(doc))
    return path


def test_error_rows_exit_3_and_are_named(tmp_path, capsys):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell(), SLEEP: cell()})
    new = write_with_error(tmp_path / "new.json", {CPU: cell(throughput=0.5)}, SLEEP)
    rc = compare.main([str(base), str(new), "--json", str(tmp_path / "v.json")])
    out, err = capsys.readouterr()
    doc = json.loads((tmp_path / "v.json").read_text())
    assert rc == compare.EXIT_BENCHMARK_ERRORS == 3  # above the regression of CPU
    assert err.strip() == f"compare: benchmark errors: new: {SLEEP}"
    assert f"- new: `{SLEEP}` (repetition 0): validation failed: 99 of 100 requests completed" in out
    assert doc["errors"] == [{"run": "new", "benchmark": SLEEP, "repetition": 0,
                              "message": "validation failed: 99 of 100 requests completed"}]
    assert {c["benchmark"] for c in doc["comparisons"]} == {CPU}  # a failed cell has no numbers to judge
    assert doc["exit_code"] == 3


def test_error_rows_in_base_count_too(tmp_path, capsys):
    base = write_with_error(tmp_path / "base.json", {CPU: cell()}, SLEEP)
    new = write_repetitions(tmp_path / "new.json", {CPU: cell(), SLEEP: cell()})
    assert compare.main([str(base), str(new)]) == 3
    assert f"base: {SLEEP}" in capsys.readouterr().err


def test_benchmarks_in_one_run_only_are_listed(tmp_path, capsys):
    only_base, only_new = "cpu/procs/workers:2/concurrency:2/work_us:100", "cpu/seq/workers:1/concurrency:1/work_us:100"
    rc, out, err, doc = run(tmp_path, capsys, {CPU: cell(), only_base: cell()}, {CPU: cell(), only_new: cell()})
    assert rc == compare.EXIT_MISSING
    assert (doc["only_in_base"], doc["only_in_new"]) == ([only_base], [only_new])
    assert f"- only in base: `{only_base}`" in out and f"- only in new: `{only_new}`" in out
    assert doc["summary"]["benchmarks"] == 2 and doc["summary"]["missing"] == 3
    assert err == f"compare: missing from new: {only_base}\n"


def test_benchmark_missing_from_new_is_its_own_verdict_and_exit_5(tmp_path, capsys):
    # It used to be "No regression" (exit 0): a benchmark that vanished may be the worst regression of all.
    gone = "cpu/procs/workers:2/concurrency:2/work_us:100"
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell(), gone: cell()}, {CPU: cell()})
    assert rc == compare.EXIT_MISSING == 5 and doc["exit_code"] == 5
    assert {m: entry(doc, gone, m)["verdict"] for m in ("throughput", "p99", "cpu")} == dict.fromkeys(
        ("throughput", "p99", "cpu"), "missing")
    assert entry(doc, gone, "throughput")["base"] == {"median": 1000.0, "n": 9}
    assert out.splitlines()[2].startswith("**Benchmarks missing from new** (exit 5)")
    assert [r[6] for r in table_rows(out) if r[0] == f"`{gone}`"] == ["missing"] * 3


def test_only_new_benchmarks_are_not_a_failure(tmp_path, capsys):
    added = "cpu/seq/workers:1/concurrency:1/work_us:100"
    rc, *_ = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell(), added: cell()})
    assert rc == compare.EXIT_OK


def test_nothing_comparable_is_bad_input_not_no_regression(tmp_path, capsys):
    # Every comparison "no data" used to be "No regression" (exit 0).
    none = {"items_per_second": [ABSENT] * 9, "latency_p99_us": [ABSENT] * 9, "cpu_us_per_request": [ABSENT] * 9}
    rc, out, err, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()}, {CPU: none, SLEEP: none})
    assert rc == compare.EXIT_BAD_INPUT and doc["exit_code"] == 2 and doc["summary"]["no data"] == 6
    assert out.splitlines()[2].startswith("**Nothing comparable** (exit 2)")
    assert "nothing comparable" in err


def test_no_benchmark_in_common_is_bad_input(tmp_path, capsys):
    rc, _, err, doc = run(tmp_path, capsys, {CPU: cell()}, {SLEEP: cell()})
    assert rc == 2 and "no benchmark in common" in err and doc is None


# ---------------------------------------------------------------- precedence

@pytest.mark.parametrize("new_cells, mismatch, errors, expected", [
    ({CPU: cell(throughput=0.9), SLEEP: cell()}, True, True, 2),
    ({CPU: cell(throughput=0.9), SLEEP: cell()}, False, True, 3),
    ({CPU: cell(throughput=0.9), SLEEP: {**cell(), "items_per_second": [700.0, 1300, 750, 1250, 800, 1200,
                                                                        850, 1150, 890]}}, False, False, 1),
    ({CPU: cell(), SLEEP: {**cell(), "items_per_second": [700.0, 1300, 750, 1250, 800, 1200, 850, 1150, 890]}},
     False, False, 4),
])
def test_exit_code_precedence(tmp_path, capsys, new_cells, mismatch, errors, expected):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell(), SLEEP: cell()})
    new_ctx = {"cpu_model": "Other CPU"} if mismatch else {}
    new = (write_with_error(tmp_path / "new.json", new_cells, "cpu/seq/workers:1/concurrency:1/work_us:1", **new_ctx)
           if errors else write_repetitions(tmp_path / "new.json", new_cells, **new_ctx))
    assert compare.main([str(base), str(new)]) == expected


# ---------------------------------------------------------------- context and bad input

@pytest.mark.parametrize("field, value", [("cpu_model", "Intel Xeon"), ("cores", 16), ("build_type", "Debug"),
                                          ("sanitizers", "address,undefined")])
def test_context_mismatch_refused_naming_the_field(tmp_path, capsys, field, value):
    rc, out, err, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell()}, new_ctx={field: value})
    base_value = json.loads((tmp_path / "base.json").read_text())["context"][field]
    assert rc == 2 and doc is None and out == ""
    assert f"{field}: base {json.dumps(base_value)}, new {json.dumps(value)}" in err
    assert "--allow-mismatch" in err


def test_allow_mismatch_compares_with_a_warning(tmp_path, capsys):
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell()}, "--allow-mismatch",
                          new_ctx={"cpu_model": "Intel Xeon", "cores": 16})
    assert rc == 0
    assert doc["context_differences"] == [{"field": "cpu_model", "base": "AMD EPYC", "new": "Intel Xeon"},
                                          {"field": "cores", "base": 2, "new": 16}]
    assert ('context differs, compared anyway (--allow-mismatch): cpu_model: base "AMD EPYC", new "Intel Xeon"'
            in out)


def test_absent_context_field_is_a_difference(tmp_path, capsys):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell()})
    doc = json.loads(base.read_text())
    del doc["context"]["sanitizers"]
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    assert compare.main([str(base), str(new)]) == 2
    assert 'sanitizers: base "", new (absent)' in capsys.readouterr().err


BAD_INPUTS = {
    "missing": (None, "no such file|cannot read"),
    "truncated": ('{"context": {"schema_version": 1}, "benchmarks": [{"name": "cpu/seq', "not JSON"),
    "not JSON": ("cpu/seq 1000 req/s\n", "not JSON"),
    "empty": ("", "not JSON"),
    "plain Google Benchmark": (json.dumps({"context": {"num_cpus": 2}, "benchmarks": []}), "no schema_version"),
    "no benchmarks list": (json.dumps({"context": {"schema_version": 1}}), "not a conpar results file"),
    "a list": ("[1, 2]", "not a conpar results file"),
}


@pytest.mark.parametrize("side", ["base", "new"])
@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_exits_2_naming_file_and_problem(tmp_path, capsys, side, kind):
    content, reason = BAD_INPUTS[kind]
    good = write_repetitions(tmp_path / "good.json", {CPU: cell()})
    bad = tmp_path / f"{side}.json"
    if content is not None:
        bad.write_text(content)
    files = [bad, good] if side == "base" else [good, bad]
    rc = compare.main([*map(str, files), "--json", str(tmp_path / "v.json"), "--markdown", str(tmp_path / "s.md")])
    err = capsys.readouterr().err
    assert rc == 2
    assert str(bad) in err
    assert any(r in err for r in reason.split("|")), err
    assert not (tmp_path / "v.json").exists() and not (tmp_path / "s.md").exists()


@pytest.mark.parametrize("option", [
    ["--threshold", "p50=3"], ["--threshold", "throughput"], ["--threshold", "throughput=abc"],
    ["--threshold", "throughput=-1"], ["--threshold", "(:p99=3"], ["--threshold", ":p99=3"],
    ["--alpha", "0"], ["--alpha", "1.5"], ["--alpha", "x"],
])
def test_bad_options_exit_2(tmp_path, capsys, option):
    files = [str(write_repetitions(tmp_path / f"{n}.json", {CPU: cell()})) for n in ("base", "new")]
    with pytest.raises(SystemExit) as e:
        compare.main([*files, *option])
    assert e.value.code == 2
    assert option[1] in capsys.readouterr().err


# ---------------------------------------------------------------- thresholds

def test_threshold_per_metric(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell()}, {CPU: cell(throughput=0.9, p99=1.1)},
                        "--threshold", "throughput=15")
    assert rc == 1
    assert entry(doc, CPU, "throughput")["verdict"] == "unchanged"
    assert entry(doc, CPU, "throughput")["threshold_pct"] == 15.0
    assert (entry(doc, CPU, "p99")["verdict"], entry(doc, CPU, "p99")["threshold_pct"]) == ("regressed", 5.0)
    assert doc["thresholds"] == [{"benchmark": None, "metric": "all", "pct": 5.0},
                                 {"benchmark": None, "metric": "throughput", "pct": 15.0}]


def test_threshold_per_benchmark_regex(tmp_path, capsys):
    rc, out, _, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()},
                          {CPU: cell(throughput=0.9), SLEEP: cell(throughput=0.9)},
                          "--threshold", "sleep/.*:throughput=15")
    assert rc == 1
    assert verdicts(doc)[(SLEEP, "throughput")] == "unchanged"
    assert verdicts(doc)[(CPU, "throughput")] == "regressed"
    assert "Thresholds (the last that applies wins): all=5, sleep/.*:throughput=15;" in out


def test_threshold_regex_may_hold_colons_and_must_match_the_whole_name(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {CPU: cell(), SLEEP: cell()},
                        {CPU: cell(throughput=0.9), SLEEP: cell(throughput=0.9)},
                        "--threshold", "cpu/threads/workers:2/.*:all=15", "--threshold", "sleep:all=15")
    assert verdicts(doc)[(CPU, "throughput")] == "unchanged"
    assert verdicts(doc)[(SLEEP, "throughput")] == "regressed"  # "sleep" is a prefix, not the whole name
    assert rc == 1


def test_last_applicable_threshold_wins(tmp_path, capsys):
    rc, _, _, doc = run(tmp_path, capsys, {SLEEP: cell()}, {SLEEP: cell(throughput=0.9)},
                        "--threshold", "sleep/.*:throughput=15", "--threshold", "all=3")
    assert rc == 1 and entry(doc, SLEEP, "throughput")["threshold_pct"] == 3.0
    rc, _, _, doc = run(tmp_path, capsys, {SLEEP: cell()}, {SLEEP: cell(throughput=0.9)},
                        "--threshold", "all=3", "--threshold", "sleep/.*:throughput=15")
    assert rc == 0 and entry(doc, SLEEP, "throughput")["threshold_pct"] == 15.0


# ---------------------------------------------------------------- outputs

def test_table_is_sorted_worst_regression_first(tmp_path, capsys):
    names = [f"cpu/threads/workers:{w}/concurrency:{w}/work_us:100" for w in (1, 2, 3, 4)]
    base = {n: cell() for n in names}
    new = {names[0]: cell(throughput=0.9), names[1]: cell(p99=1.3), names[2]: cell(cpu=0.8), names[3]: cell()}
    rc, out, _, doc = run(tmp_path, capsys, base, new)
    rows = table_rows(out)
    assert [(r[0], r[1], r[6]) for r in rows[:3]] == [
        (f"`{names[1]}`", "p99 latency", "**regressed**"), (f"`{names[0]}`", "throughput", "**regressed**"),
        (f"`{names[2]}`", "CPU per request", "improved")]
    assert rows[0][2:5] == ["990 µs", "1,287 µs", "+30.0%"]
    assert [r[6] for r in rows[3:]] == ["unchanged"] * 9
    assert [(c["benchmark"], c["metric"]) for c in doc["comparisons"][:3]] == [
        (names[1], "p99"), (names[0], "throughput"), (names[2], "cpu")]
    assert "2 regressed, 0 too noisy, 1 improved, 9 unchanged, 0 no data" in out and rc == 1


def test_outputs_are_written_atomically(tmp_path, capsys):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell()})
    new = write_repetitions(tmp_path / "new.json", {CPU: cell(throughput=0.9)})
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "verdict.json").write_text("old")
    rc = compare.main([str(base), str(new), "--json", str(out_dir / "verdict.json"),
                       "--markdown", str(out_dir / "summary.md")])
    stdout = capsys.readouterr().out
    assert rc == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["summary.md", "verdict.json"]  # no temp file left
    assert (out_dir / "summary.md").read_text(encoding="utf-8") == stdout
    doc = json.loads((out_dir / "verdict.json").read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1 and doc["exit_code"] == 1
    assert doc["base"] == {"file": str(base), "git_commit": "6217adf0b1835d0b008cd4446a34242d1eb04f83"}


def test_unwritable_output_exits_6_not_bad_input_and_leaves_nothing(tmp_path, capsys):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell()})
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    rc = compare.main([str(base), str(base), "--json", str(blocker / "verdict.json")])
    out, err = capsys.readouterr()
    assert rc == compare.EXIT_OUTPUT_FAILED == 6 and out == ""  # refused before any work
    assert err == f"compare: cannot write {blocker / 'verdict.json'}: {blocker} is not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.json", "not-a-folder"]


def test_command_line_exit_code(tmp_path):
    base = write_repetitions(tmp_path / "base.json", {CPU: cell()})
    new = write_repetitions(tmp_path / "new.json", {CPU: cell(throughput=0.9)})
    done = subprocess.run([sys.executable, str(PLOTS / "compare.py"), str(base), str(new)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("# conpar compare\n\n**Regression** (exit 1)")


def test_single_repetition_runs_compare(tmp_path, capsys):
    # A run without --repetitions: one row per cell; the comparison works and says it cannot judge.
    base = write_run(tmp_path / "base.json", [row(CPU)])
    new = write_run(tmp_path / "new.json", [row(CPU, items_per_second=500.0)])
    rc = compare.main([str(base), str(new)])
    out = capsys.readouterr().out
    assert rc == 4 and "with 1 vs 1 the smallest possible p is 1" in out
