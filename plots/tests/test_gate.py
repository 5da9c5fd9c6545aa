"""conpar gate's summary and its refusals; the end-to-end run (two builds, planted slowdown) is
tests/gate_test.py, a CTest test of its own."""
from __future__ import annotations

import subprocess
import sys

import gate
import pytest

from conftest import PLOTS


def comparison(i: int, verdict: str) -> dict:
    return {"benchmark": f"cpu/threads/workers:{i}/concurrency:{i}/work_us:100", "metric": "throughput",
            "counter": "items_per_second", "better": "higher", "threshold_pct": 3.0,
            "base": {"median": 10000.0, "n": 15}, "new": {"median": 9000.0, "n": 15}, "change_pct": -10.0,
            "p": 0.0001, "verdict": verdict}


def verdicts(rows: list[dict]) -> dict:
    summary = {"benchmarks": len(rows), "comparisons": len(rows)}
    summary.update({v: sum(r["verdict"] == v for r in rows) for v in ("regressed", "too noisy", "improved",
                                                                       "unchanged", "no data", "missing")})
    return {"summary": summary, "thresholds": [{"benchmark": None, "metric": "all", "pct": 3.0}], "alpha": 0.01,
            "comparisons": rows, "errors": [], "warnings": [], "ab": {"rounds": 15, "seed": 1}}


SHAS = {"base": "a" * 40, "head": "b" * 40}


def test_summary_lists_regressed_and_noisy_rows_and_only_counts_the_rest(tmp_path):
    rows = [comparison(1, "regressed"), comparison(2, "too noisy")] + [comparison(3 + i, "unchanged")
                                                                      for i in range(50)]
    text = gate.summary_text(verdicts(rows), 1, SHAS, {"ab": 100.0}, [], tmp_path)
    assert text.startswith("## conpar gate: REGRESSION (exit 1)")
    assert "| unchanged | 50 |" in text and "| regressed | 1 |" in text
    assert "workers:1/" in text and "workers:2/" in text and "workers:3/" not in text


def test_summary_stays_under_the_comment_limit(tmp_path):
    rows = [comparison(i, "regressed") for i in range(5000)]
    text = gate.summary_text(verdicts(rows), 1, SHAS, {"ab": 100.0}, [], tmp_path)
    assert len(text) <= gate.SUMMARY_LIMIT
    left_out = int(text.split("... and ")[1].split(" more rows")[0])
    assert 0 < left_out < 5000 and text.count("| regressed | `") == 5000 - left_out


def test_summary_without_verdicts_points_at_the_log(tmp_path):
    text = gate.summary_text(None, 2, SHAS, {}, [], tmp_path)
    assert "bad input (exit 2)" in text and "ab.log" in text


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    r.mkdir()
    for cmd in (["init", "-q"], ["config", "user.email", "t@t.invalid"], ["config", "user.name", "t"],
                ["commit", "-q", "--allow-empty", "-m", "one"]):
        subprocess.run(["git", "-C", str(r), *cmd], check=True)
    return r


def run_gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PLOTS / "gate.py"), *args], capture_output=True, text=True)


def test_an_unknown_revision_is_bad_input_before_any_build(repo, tmp_path):
    done = run_gate("no-such-rev", "--repo", str(repo), "--out-dir", str(tmp_path / "out"))
    assert done.returncode == 2 and "'no-such-rev' is not a commit" in done.stderr
    assert not (repo / "build").exists()


def test_an_output_folder_that_is_a_file_is_exit_6(repo, tmp_path):
    (tmp_path / "file").write_text("x")
    done = run_gate("HEAD", "--repo", str(repo), "--out-dir", str(tmp_path / "file"))
    assert done.returncode == 6 and "file" in done.stderr


def test_a_revision_that_does_not_build_is_exit_2(repo, tmp_path):
    done = run_gate("HEAD", "--repo", str(repo), "--out-dir", str(tmp_path / "out"))
    assert done.returncode == 2 and "does not build" in done.stderr and "build-base.log" in done.stderr
