"""plots/history.py (entry names, no overwrite, bad input, machine class) and the report's trend figure."""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys

import pytest

import history
import report
from conftest import FIXTURE, PLOTS, context, load_fixture
from results import machine_class, stored_form

HEADLINE = [
    "cpu/coro/workers:1/concurrency:16/work_us:100",  # the CPU verdict's level: the core count (2)
    "cpu/threads/workers:2/concurrency:16/work_us:100",
    "cpu/procs/workers:2/concurrency:16/work_us:100",
    "sleep/coro/workers:1/concurrency:10000/wait_us:10000",  # the I/O verdict's: each runner's highest
    "sleep/threads/workers:1000/concurrency:1000/wait_us:10000",
    "sleep/procs/workers:1000/concurrency:1000/wait_us:10000",
]


def variant(path, date="2026-11-23T08:43:32+00:00", commit="6217adf0b1835d0b008cd4446a34242d1eb04f83",
            factor=1.0, **ctx):
    """The real run with another date and commit, its throughputs scaled."""
    doc = load_fixture()
    doc["context"].update(date=date, git_commit=commit, **ctx)
    for row in doc["benchmarks"]:
        if row.get("aggregate_name") != "cv" and isinstance(row.get("items_per_second"), float):
            row["items_per_second"] *= factor
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def append(path, folder, capsys) -> tuple[int, str, str]:
    rc = history.main(["append", str(path), "--history-dir", str(folder)])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- append

def test_append_names_the_entry_by_date_commit_and_machine(tmp_path, capsys):
    rc, out, err = append(FIXTURE, tmp_path / "h", capsys)
    entry = tmp_path / "h" / "20261123T084332Z_6217adf_amd-epyc-2c.json"
    assert rc == 0 and err == "" and out == f"{entry}\n"
    assert entry.read_text(encoding="utf-8") == stored_form(FIXTURE)  # a copy, less the histograms
    assert '"histogram"' not in entry.read_text(encoding="utf-8")
    assert [p.name for p in (tmp_path / "h").iterdir()] == [entry.name]  # no temp file left


@pytest.mark.parametrize("ctx, name", [
    ({"date": "2026-11-23T10:43:32+02:00"}, "20261123T084332Z_6217adf_amd-epyc-2c.json"),  # in UTC
    ({"date": "2026-01-02T03:04:05"}, "20260102T030405Z_6217adf_amd-epyc-2c.json"),  # no offset: UTC
    ({"git_commit": "6217adf0b1835d0b008cd4446a34242d1eb04f83-dirty"},
     "20261123T084332Z_6217adf-dirty_amd-epyc-2c.json"),
    ({"git_commit": None}, "20261123T084332Z_unknown_amd-epyc-2c.json"),
    ({"cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 4},
     "20261123T084332Z_6217adf_intel-xeon-cpu-2-20ghz-4c.json"),
])
def test_entry_name_follows_the_context(tmp_path, capsys, ctx, name):
    doc = load_fixture()
    doc["context"].update(ctx)
    if ctx.get("git_commit", "") is None:
        del doc["context"]["git_commit"]
    src = tmp_path / "run.json"
    src.write_text(json.dumps(doc))
    rc, out, _ = append(src, tmp_path / "h", capsys)
    assert rc == 0 and out.strip() == str(tmp_path / "h" / name)
    assert history.ENTRY.fullmatch(name)


def test_append_never_overwrites(tmp_path, capsys):
    folder = tmp_path / "h"
    folder.mkdir()
    taken = folder / "20261123T084332Z_6217adf_amd-epyc-2c.json"
    taken.write_text("someone else's")
    names = [append(FIXTURE, folder, capsys)[1].strip() for _ in range(2)]
    assert names == [str(folder / "20261123T084332Z_6217adf_amd-epyc-2c_2.json"),
                     str(folder / "20261123T084332Z_6217adf_amd-epyc-2c_3.json")]
    assert taken.read_text() == "someone else's"
    assert sorted(p.name for p in folder.iterdir()) == sorted([taken.name] + [n.rsplit("/", 1)[1] for n in names])
    assert all(history.ENTRY.fullmatch(p.name)["machine"] == "amd-epyc-2c" for p in folder.iterdir())


@pytest.mark.parametrize("content, reason", [
    (None, "No such file"),
    ("cpu/seq 1000 req/s\n", "not JSON"),
    (json.dumps({"context": {"num_cpus": 2, "date": "2026-11-23T08:43:32+00:00"}, "benchmarks": []}),
     "no schema_version"),
    (json.dumps([1, 2]), "not a conpar results file"),
    (json.dumps({"context": context(date="yesterday"), "benchmarks": []}), "no readable date"),
], ids=["missing", "not JSON", "no schema_version", "a list", "no readable date"])
def test_foreign_file_exits_2_and_adds_nothing(tmp_path, capsys, content, reason):
    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    rc, out, err = append(src, tmp_path / "h", capsys)
    assert rc == 2 and out == ""
    assert str(src) in err and reason in err
    assert not (tmp_path / "h").exists() or list((tmp_path / "h").iterdir()) == []


def test_unwritable_history_exits_1(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, _, err = append(FIXTURE, blocker, capsys)
    assert rc == 1 and "cannot write" in err


# ---------------------------------------------------------------- machine class

@pytest.mark.parametrize("ctx, expected", [
    ({"cpu_model": "AMD EPYC 7B13", "cores": 2}, "amd-epyc-7b13-2c"),
    ({"cpu_model": "AMD EPYC", "cores": 2}, "amd-epyc-2c"),
    ({"cpu_model": "  AMD   EPYC 7B13 ", "cores": 2}, "amd-epyc-7b13-2c"),
    ({"cpu_model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "cores": 8},
     "intel-xeon-platinum-8375c-cpu-2-90ghz-8c"),
    ({"cpu_model": "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "cores": 12}, "intel-core-i7-8700-cpu-3-20ghz-12c"),
    ({"cpu_model": "AMD EPYC", "num_cpus": 4}, "amd-epyc-4c"),  # Google Benchmark's count when ours is absent
    ({}, "unknown-cpu-unknown-cores"),
])
def test_machine_class_slug_is_stable(ctx, expected):
    assert machine_class(ctx) == expected
    assert machine_class({**ctx, "date": "other", "git_commit": "other", "build_type": "Debug"}) == expected
    assert re.fullmatch(r"[0-9a-z]+(-[0-9a-z]+)*", expected)


def test_machine_class_command(tmp_path):
    done = subprocess.run([sys.executable, str(PLOTS / "history.py"), "machine-class", str(FIXTURE)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "amd-epyc-2c\n", "")
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    done = subprocess.run([sys.executable, str(PLOTS / "history.py"), "machine-class", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and str(bad) in done.stderr and done.stdout == ""


# ---------------------------------------------------------------- the trend in the report

def history_of(tmp_path, capsys, *runs: dict):
    folder = tmp_path / "history"
    for i, kw in enumerate(runs):
        assert append(variant(tmp_path / f"run{i}.json", **kw), folder, capsys)[0] == 0
    return folder


def render_with(tmp_path, folder) -> tuple[str, str]:
    out = tmp_path / "out"
    assert report.main(["--out-html", str(out / "r.html"), "--out-md", str(out / "r.md"), "--history", str(folder),
                        str(FIXTURE)]) == 0
    return (out / "r.html").read_text(encoding="utf-8"), (out / "r.md").read_text(encoding="utf-8")


TWO = ({"date": "2026-11-20T08:00:00+00:00", "commit": "a" * 40, "factor": 0.9},
       {"date": "2026-11-22T08:00:00+00:00", "commit": "b" * 40})


def test_trend_figure_with_two_runs(tmp_path, capsys):
    html, md = render_with(tmp_path, history_of(tmp_path, capsys, *TWO))
    assert re.findall(r'<figure id="([^"]+)"', html)[-1] == "fig-trend"
    figure = html[html.index('<figure id="fig-trend"'):]
    figure = figure[:figure.index("</figure>")]
    for name in HEADLINE:
        assert f"{name} (closed loop)" in figure
    assert figure.count("(closed loop)</text>") == len(HEADLINE)  # one panel per headline cell, no other
    assert "throughput (requests/s)" in figure and "run date (UTC)" in figure
    assert 'id="fig-trend-legend_1"' in figure
    assert "aaaaaaa" in figure and "bbbbbbb" in figure  # the x axis names the commits
    caption = figure[figure.index("<figcaption>"):]
    assert "over the 2 runs of machine class amd-epyc-2c in " in caption
    assert "Machine: AMD EPYC, 2 cores" in caption and "Build: 6217adf (Release" in caption
    assert "2026-11-23T08:43:32+00:00" in caption
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))

    # The table and verdict cite each run's median over its repetitions.
    rows = [r for r in load_fixture()["benchmarks"] if r["run_name"] == HEADLINE[1] and r["run_type"] == "iteration"]
    median = statistics.median(r["items_per_second"] for r in rows)
    lines = [x for x in md.splitlines() if x.startswith(f"| {HEADLINE[1]} |")
             and "amd-epyc-2c.json" in x]
    assert len(lines) == 2
    first, second = ([c.strip() for c in x.strip("|").split("|")] for x in lines)
    assert first[1:4] == ["2026-11-20 08:00:00", "aaaaaaa", "20261120T080000Z_aaaaaaa_amd-epyc-2c.json"]
    assert first[5] == f"{0.9 * median:,.0f}" and second[5] == f"{median:,.0f}"
    assert second[8] == f"{100 * (1 / 0.9 - 1):+.1f}%"
    assert f"{HEADLINE[1]} {median:,.0f}/s at bbbbbbb, +11.1% against aaaaaaa" in md
    assert "Trend over 2 runs of machine class amd-epyc-2c" in md


@pytest.mark.parametrize("runs", [
    TWO[:1],  # one run
    (TWO[0], {**TWO[1], "cpu_model": "Intel Xeon"}),  # another machine
    (TWO[0], {**TWO[1], "cores": 16}),
    (TWO[0], {**TWO[1], "build_type": "Debug"}),  # another build
    (TWO[0], {**TWO[1], "suite": "smoke"}),
])
def test_no_trend_without_two_comparable_runs(tmp_path, capsys, runs):
    folder = history_of(tmp_path, capsys, *runs)
    html, md = render_with(tmp_path, folder)
    assert "fig-trend" not in html and "### Trend" in md
    assert (f"Trend: fewer than two runs of machine class amd-epyc-2c with this run's suite and build carry a "
            f"headline cell in {folder}.") in md


def test_bad_history_entries_are_skipped_not_fatal(tmp_path, capsys):
    folder = history_of(tmp_path, capsys, *TWO)
    (folder / "notes.json").write_text("{ not json")
    (folder / "20261121T080000Z_ccccccc_amd-epyc-2c.json").write_text(json.dumps({"context": {}, "benchmarks": []}))
    html, _ = render_with(tmp_path, folder)
    err = capsys.readouterr().err
    assert "fig-trend" in html
    assert "history: skipped" in err and "notes.json" in err and "ccccccc" in err


def test_missing_history_folder_is_no_trend_and_no_error(tmp_path):
    html, md = render_with(tmp_path, tmp_path / "absent")
    assert "fig-trend" not in html and "Trend: fewer than two runs" in md


def test_without_history_option_nothing_changes(real_report):
    html, md = real_report
    assert "fig-trend" not in html and "Trend" not in md


def test_report_with_history_is_byte_identical_across_processes(tmp_path, capsys):
    folder = history_of(tmp_path, capsys, *TWO, {"date": "2026-11-23T08:43:32+00:00"})
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        result = subprocess.run(
            [sys.executable, str(PLOTS / "report.py"), "--out-html", str(out / "r.html"), "--out-md",
             str(out / "r.md"), "--history", str(folder), str(FIXTURE)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs.append(((out / "r.html").read_bytes(), (out / "r.md").read_bytes()))
    assert outputs[0] == outputs[1]
    assert b'<figure id="fig-trend"' in outputs[0][0] and b"over the 3 runs of machine class" in outputs[0][0]
