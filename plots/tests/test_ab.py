"""plots/ab.py with fake conpar binaries: interleaving, merged files, verdicts, exit codes, signals."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time

import pytest

import ab
import compare
from conftest import PLOTS, load_fixture
from fake_conpar import BENCHMARKS, calls, make_fake
from results import load_run

CPU, SLEEP = BENCHMARKS


def run_ab(tmp_path, *options, rounds=10, seed=7, a_rate=1000.0, b_rate=1000.0, a_plan=None, b_plan=None,
           b_context=None):
    """Two fakes in tmp_path, ab.main in process; returns (exit code, out dir)."""
    a = make_fake(tmp_path, "a", a_rate, plan=a_plan)
    b = make_fake(tmp_path, "b", b_rate, plan=b_plan, context=b_context)
    out = tmp_path / "out"
    rc = ab.main([str(a), str(b), "--rounds", str(rounds), "--seed", str(seed), "--out-dir", str(out), *options])
    return rc, out


def doc(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def iterations(d: dict, name: str) -> list[dict]:
    return [r for r in d["benchmarks"] if r["run_name"] == name and r["run_type"] == "iteration"]


# ---------------------------------------------------------------- interleaving and the merged files

def test_rounds_are_interleaved_in_the_recorded_random_order(tmp_path, capfd):
    rc, out = run_ab(tmp_path, "--json", str(tmp_path / "v.json"), "--", "--filter", "cpu/.*", "--duration", "0.2")
    assert rc == 0
    ab_meta = doc(out / "a.json")["context"]["ab"]
    orders = ab_meta["order"]
    assert len(orders) == 10 and all(sorted(o) == ["a", "b"] for o in orders)
    assert {tuple(o) for o in orders} == {("a", "b"), ("b", "a")}  # randomised, not always A first
    assert [c["label"] for c in calls(tmp_path)] == [side for o in orders for side in o]
    assert ab_meta["seed"] == 7 and ab_meta["rounds"] == 10 and ab_meta["build"] == "a"
    assert ab_meta["binaries"] == {"a": str(tmp_path / "conpar-a"), "b": str(tmp_path / "conpar-b")}
    assert doc(out / "b.json")["context"]["ab"]["order"] == orders
    assert doc(tmp_path / "v.json")["ab"]["order"] == orders
    for c in calls(tmp_path):
        argv = c["argv"]
        assert argv[:3] == ["run", "--repetitions", "1"] and argv[3] == "--out"
        assert argv[5:] == ["--filter", "cpu/.*", "--duration", "0.2"]
    assert len({c["argv"][4] for c in calls(tmp_path)}) == 20  # one file per run


def test_same_seed_same_order_other_seed_other_order(tmp_path):
    orders = []
    for i, seed in enumerate((7, 7, 8)):
        folder = tmp_path / str(i)
        folder.mkdir()
        rc, out = run_ab(folder, seed=seed, rounds=6)
        assert rc == 0
        orders.append(doc(out / "a.json")["context"]["ab"]["order"])
    assert orders[0] == orders[1] != orders[2]


def test_merged_files_hold_one_repetition_per_round(tmp_path):
    rc, out = run_ab(tmp_path, rounds=9)
    assert rc == 0
    for side in ("a", "b"):
        merged = doc(out / f"{side}.json")
        assert merged["context"]["repetitions"] == 9
        assert merged["context"]["git_commit"] == side * 40  # the first round's context
        assert merged["context"]["load_avg_after"] == [8.0, 0.5, 0.5]  # the last round's
        for name in BENCHMARKS:
            rows = iterations(merged, name)
            assert [r["repetition_index"] for r in rows] == list(range(9))
            assert [r["fake_call"] for r in rows] == list(range(9))  # round r is this build's r-th run
            assert [r["histogram"]["count"] for r in rows] == [100 + i for i in range(9)]  # carried, in order
            assert all(r["repetitions"] == 9 for r in rows)
            aggregates = {r["aggregate_name"]: r for r in merged["benchmarks"]
                          if r["run_name"] == name and r["run_type"] == "aggregate"}
            assert list(aggregates) == ["mean", "median", "stddev", "cv"]
            rates = [r["items_per_second"] for r in rows]
            assert aggregates["median"]["items_per_second"] == pytest.approx(statistics.median(rates))
            assert aggregates["mean"]["items_per_second"] == pytest.approx(statistics.fmean(rates))
            assert aggregates["stddev"]["items_per_second"] == pytest.approx(statistics.stdev(rates))
            assert aggregates["cv"]["items_per_second"] == pytest.approx(statistics.stdev(rates)
                                                                         / statistics.fmean(rates))
            assert aggregates["median"]["iterations"] == 9 and "histogram" not in aggregates["median"]
        run = load_run(out / f"{side}.json")  # what the report and compare read
        assert [len(c.repetitions) for c in run.cells] == [9, 9]
        assert run.cells[0].get("items_per_second") == pytest.approx(
            statistics.median(r["items_per_second"] for r in iterations(merged, CPU)))


def test_aggregates_match_google_benchmarks_on_the_real_fixture():
    """Split the real run into one-repetition rounds, merge them back: the median and cv rows and the
    noisy flags must be the ones Google Benchmark and conpar wrote."""
    real = load_fixture()
    rounds = []
    for r in range(5):
        rows = [{**x, "repetition_index": 0, "repetitions": 1} for x in real["benchmarks"]
                if x["run_type"] == "iteration" and x["repetition_index"] == r]
        rounds.append({"context": real["context"], "benchmarks": rows})
    merged = ab.merge_rounds(rounds, {"rounds": 5})
    ours = {(x["run_name"], x.get("aggregate_name")): x for x in merged["benchmarks"] if x["run_type"] == "aggregate"}
    theirs = [x for x in real["benchmarks"] if x["run_type"] == "aggregate"]
    assert len(theirs) == 86
    for x in theirs:
        mine = ours[(x["run_name"], x["aggregate_name"])]
        for key, value in x.items():
            if key in ab.IDENTITY_KEYS or isinstance(value, str):
                continue
            if value is None:  # a cv over a zero mean: null, as conpar writes NaN
                assert mine[key] is None, (x["name"], key)
                continue
            # Google Benchmark's stddev, sqrt(n/(n-1) (mean of squares - squared mean)), loses digits:
            # 1.5e-8 for a cv of five equal values. The fixture has median and cv rows only.
            tolerance = {"rel": 1e-9} if x["aggregate_name"] == "median" else {"rel": 1e-6, "abs": 1e-6}
            assert mine[key] == pytest.approx(value, **tolerance), (x["name"], key)
        assert mine["noisy"] == x["noisy"], x["name"]
    reread = json.loads(ab.results_text(merged))  # strict JSON: no NaN
    assert [x["histogram"]["count"] for x in reread["benchmarks"] if "histogram" in x] == \
        [x["histogram"]["count"] for x in real["benchmarks"] if "histogram" in x]


# ---------------------------------------------------------------- verdicts and exit codes

def test_planted_slowdown_of_b_is_a_regression(tmp_path, capfd):
    rc, out = run_ab(tmp_path, "--threshold", "all=2", "--json", str(tmp_path / "v.json"),
                     "--markdown", str(tmp_path / "s.md"), b_rate=950.0)
    stdout = capfd.readouterr().out
    assert rc == compare.EXIT_REGRESSION == 1
    verdict = doc(tmp_path / "v.json")
    (tp,) = [c for c in verdict["comparisons"] if c["benchmark"] == CPU and c["metric"] == "throughput"]
    assert tp["verdict"] == "regressed" and tp["change_pct"] == pytest.approx(-5.0, abs=1.0)
    assert tp["base"]["n"] == tp["new"]["n"] == 10 and tp["p"] < 0.001
    assert verdict["base"]["file"] == str(out / "a.json") and verdict["new"]["file"] == str(out / "b.json")
    assert stdout.startswith("# conpar compare\n\n**Regression** (exit 1)")
    assert "## A/B run" in stdout and "10 interleaved rounds" in stdout
    assert (tmp_path / "s.md").read_text(encoding="utf-8") == stdout


def test_a_against_a_is_ok(tmp_path, capfd):
    a = make_fake(tmp_path, "a", 1000.0)
    rc = ab.main([str(a), str(a), "--rounds", "9", "--seed", "3", "--out-dir", str(tmp_path / "out")])
    assert rc == compare.EXIT_OK == 0
    assert "**No regression** (exit 0)" in capfd.readouterr().out
    assert len(calls(tmp_path)) == 18


def test_cell_errors_in_one_round_go_on_and_exit_3(tmp_path, capfd):
    rc, out = run_ab(tmp_path, b_plan={2: "exit3"})
    err = capfd.readouterr().err
    assert rc == compare.EXIT_BENCHMARK_ERRORS == 3
    assert len(calls(tmp_path)) == 20  # every round ran
    rows = iterations(doc(out / "b.json"), SLEEP)
    assert [r.get("error_occurred", False) for r in rows] == [i == 2 for i in range(10)]
    assert rows[2]["repetition_index"] == 2
    assert "exited 3 (cell errors); going on" in err


def test_exit_3_without_error_rows_still_exits_3(tmp_path, capfd):
    # compare alone would say 0 here: the 3 comes from the round's exit code.
    rc, _ = run_ab(tmp_path, a_plan={4: "exit3-no-row"})
    assert rc == 3 and len(calls(tmp_path)) == 20
    assert "cell errors in 1 runs: A" in capfd.readouterr().err


def test_bad_input_exit_2_stops_at_once(tmp_path, capfd):
    rc, out = run_ab(tmp_path, b_plan={1: "exit2"})
    err = capfd.readouterr().err
    assert rc == 2
    log = [c["label"] for c in calls(tmp_path)]
    assert log.count("b") == 2 and log[-1] == "b"  # nothing ran after B's second call
    assert "exited 2 (bad input); stopping" in err and str(tmp_path / "conpar-b") in err
    assert not out.exists()


def test_other_failures_stop_with_exit_2(tmp_path, capfd):
    rc, out = run_ab(tmp_path, a_plan={0: "exit1"})
    assert rc == 2 and not out.exists()
    assert [c["label"] for c in calls(tmp_path)][-1] == "a"  # A's first run, and nothing after it
    assert "failed with exit code 1 (its results could not be written)" in capfd.readouterr().err


def test_builds_from_different_machines_stop_after_the_first_round(tmp_path, capfd):
    rc, out = run_ab(tmp_path, b_context={"build_type": "Debug"})
    assert rc == 2 and len(calls(tmp_path)) == 2 and not out.exists()
    assert 'build_type: A "Release", B "Debug"' in capfd.readouterr().err
    folder = tmp_path / "allowed"
    folder.mkdir()
    rc, out = run_ab(folder, "--allow-mismatch", b_context={"build_type": "Debug"})
    assert rc == 0 and "context differs, compared anyway" in capfd.readouterr().out


@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("problem", ["missing", "not executable", "folder"])
def test_unusable_binary_exits_2(tmp_path, capfd, which, problem):
    good = make_fake(tmp_path, "good", 1000.0)
    bad = tmp_path / "conpar-bad"
    if problem == "not executable":
        bad.write_text("#!/bin/sh\n")
        bad.chmod(0o644)
    elif problem == "folder":
        bad.mkdir()
    argv = [str(bad), str(good)] if which == "a" else [str(good), str(bad)]
    rc = ab.main([*argv, "--out-dir", str(tmp_path / "out")])
    err = capfd.readouterr().err
    assert rc == 2 and str(bad) in err and f"CONPAR_{which.upper()}" in err
    assert {"missing": "no such file", "not executable": "not executable", "folder": "not a file"}[problem] in err
    assert calls(tmp_path) == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("options", [["--rounds", "0"], ["--rounds", "x"], ["--alpha", "2"],
                                     ["--threshold", "p50=3"], ["--", "--out", "x.json"],
                                     ["--", "--repetitions=3"], ["--", "--list"]])
def test_bad_options_exit_2_before_any_round(tmp_path, capfd, options):
    a = make_fake(tmp_path, "a", 1000.0)
    with pytest.raises(SystemExit) as e:
        ab.main([str(a), str(a), *options])
    assert e.value.code == 2 and calls(tmp_path) == []


# ---------------------------------------------------------------- the command line and signals

def ab_process(tmp_path, *argv, env_tmp=None) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(env_tmp)} if env_tmp else None
    return subprocess.Popen([sys.executable, str(PLOTS / "ab.py"), *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_command_line_exit_code_and_no_temp_files(tmp_path):
    a, b = make_fake(tmp_path, "a", 1000.0), make_fake(tmp_path, "b", 900.0)
    temp = tmp_path / "tmp"
    temp.mkdir()
    p = ab_process(tmp_path, a, b, "--rounds", "9", "--out-dir", tmp_path / "out", env_tmp=temp)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 1, stderr
    assert stdout.startswith("# conpar compare\n\n**Regression** (exit 1)")
    assert "ab: 9 rounds, seed " in stderr  # a seed drawn at random is still told
    assert list(temp.iterdir()) == []
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["a.json", "b.json"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_is_forwarded_and_nothing_is_written(tmp_path, sig):
    a = make_fake(tmp_path, "a", 1000.0, plan={1: "hang"})
    b = make_fake(tmp_path, "b", 1000.0, plan={1: "hang"})
    temp = tmp_path / "tmp"
    temp.mkdir()
    p = ab_process(tmp_path, a, b, "--rounds", "4", "--out-dir", tmp_path / "out", env_tmp=temp)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(sig)  # to ab only: the fake hears of it only if ab forwards it
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, stderr
    assert (tmp_path / "signals.log").read_text().split()[1:] == [str(int(sig))]
    assert f"interrupted by {sig.name}" in stderr and "nothing written" in stderr
    assert not (tmp_path / "out").exists()
    assert list(temp.iterdir()) == []  # the rounds' files, the fake's partial one included, are gone


def test_second_signal_kills_a_conpar_that_does_not_stop(tmp_path):
    a = make_fake(tmp_path, "a", 1000.0, plan={0: "hang-ignore"})
    b = make_fake(tmp_path, "b", 1000.0, plan={0: "hang-ignore"})
    p = ab_process(tmp_path, a, b, "--rounds", "2", "--out-dir", tmp_path / "out")
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    while not (tmp_path / "signals.log").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    assert p.returncode == 143  # the first signal names the exit
    assert not (tmp_path / "out").exists() and len(calls(tmp_path)) == 1

