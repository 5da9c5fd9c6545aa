"""End-to-end tests of plots/report.py on the real fixture and small synthetic runs."""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from html import escape as html_escape
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (FIXTURE, REPORT, error_row, load_fixture, open_loop_rows, render, row, run_report,
                      write_run)

FIGURE_IDS = ("fig-cpu-scaling", "fig-io-scaling", "fig-crossover", "fig-latency-equal", "fig-latency", "fig-map",
              "fig-cost")
OPEN_LOOP_FIGURES = ("fig-latency-equal", "fig-latency")
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def figure_ids(html: str) -> list[str]:
    return re.findall(r'<figure id="([^"]+)"', html)


def medians() -> dict[str, dict]:
    """The fixture's median rows by cell name, read without the report's code."""
    return {b["run_name"]: b for b in load_fixture()["benchmarks"] if b.get("aggregate_name") == "median"}


# ---------------------------------------------------------------- figures and self-containment

def test_every_figure_present_when_its_data_is(full_report):
    html, md = full_report
    assert figure_ids(html) == list(FIGURE_IDS)
    assert html.count("<svg") == len(FIGURE_IDS)
    for fig_id in FIGURE_IDS:
        figure = html[html.index(f'<figure id="{fig_id}"'):]
        caption = figure[:figure.index("</figure>")]
        assert "AMD EPYC, 2 cores, Linux 6.18.44" in caption  # machine
        assert "Build: 6217adf (Release" in caption  # build
        assert "2026-11-23T08:43:32+00:00" in caption  # date
    assert "<svg" not in md and "![" not in md


def test_real_run_has_no_open_loop_figure_and_says_so(real_report):
    html, md = real_report
    assert figure_ids(html) == [f for f in FIGURE_IDS if f not in OPEN_LOOP_FIGURES]
    for text in (html, md):
        assert "No open-loop data in this run" in text
        assert "Latency at equal load: no open-loop cell (offered_per_second) in this run." in text
        assert "Latency vs offered rate: no open-loop cell (offered_per_second) in this run." in text
        assert "SLO capacity" not in text


def test_figures_have_axis_labels_with_units_and_legends(full_report):
    html, _ = full_report
    for unit in ("throughput (requests/s)", "requests in flight (concurrency C)", "latency (µs)",
                 "offered rate (requests/s)", "busy cores (CPU time / wall time)", "CPU per request (µs",
                 "peak RSS per request in flight (MB)", "CPU share of the request"):
        assert unit in html, unit
    for fig_id in FIGURE_IDS:
        figure = html[html.index(f'<figure id="{fig_id}"'):]
        assert 'id="' + fig_id + '-legend_1"' in figure[:figure.index("</figure>")], fig_id


def test_output_is_byte_identical_across_processes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert run_report([FIXTURE], a, env={"PYTHONHASHSEED": "1"}).returncode == 0
    assert run_report([FIXTURE], b, env={"PYTHONHASHSEED": "2"}).returncode == 0
    assert (a / "report.html").read_bytes() == (b / "report.html").read_bytes()
    assert (a / "report.md").read_bytes() == (b / "report.md").read_bytes()


def test_nothing_points_outside_the_file(full_report):
    html, _ = full_report
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= NAMESPACES
    refs = re.findall(r'\b(?:src|href|xlink:href)\s*=\s*"([^"]*)"', html)
    assert refs and all(r.startswith("#") for r in refs)
    assert "<script" not in html and "@import" not in html and "url(http" not in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # several inline SVGs, one id space
    for ref in refs:
        assert ref[1:] in ids, ref


def test_writes_atomically_and_leaves_no_temp_file(tmp_path):
    render([FIXTURE], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_unwritable_output_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run([sys.executable, str(REPORT), "--out-html", str(blocker / "report.html"),
                             "--out-md", str(tmp_path / "r.md"), str(FIXTURE)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "cannot write" in result.stderr


# ---------------------------------------------------------------- robustness

def test_one_runner_only(tmp_path):
    rows = [row(f"cpu/threads/workers:{w}/concurrency:{8 * w}/work_us:100", items_per_second=9000.0 * min(w, 2),
                busy_cores=float(min(w, 2)), in_flight=float(w), work_us=100.0) for w in (1, 2, 4)]
    rows += [row(f"sleep/threads/workers:{c}/concurrency:{c}/wait_us:10000", items_per_second=99.0 * c,
                 in_flight=float(c), wait_us=10000.0) for c in (1, 10)]
    html, md = render([write_run(tmp_path / "one.json", rows)], tmp_path)
    assert figure_ids(html) == ["fig-cpu-scaling", "fig-io-scaling", "fig-map", "fig-cost"]
    assert "runners: threads;" in md
    assert "threads 2.00x (100.0% of ideal, 2.00 busy cores)" in md  # no seq: no "x seq" comparison
    assert "seq" not in md.split("### CPU scaling")[1].split("### I/O scaling")[0].replace("requests/s", "")
    assert "Crossover: no successful mixed cell in this run." in md


def test_only_some_workloads(tmp_path):
    doc = load_fixture()
    doc["benchmarks"] = [b for b in doc["benchmarks"] if b["name"].startswith("sleep/")]
    path = tmp_path / "sleep.json"
    path.write_text(json.dumps(doc))
    html, md = render([path], tmp_path)
    assert figure_ids(html) == ["fig-io-scaling", "fig-map", "fig-cost"]
    for text in ("CPU scaling: no successful cpu cell with work_us > 0 outside the granularity sweep's own sizes "
                 "in this run.",
                 "Crossover: no successful mixed cell in this run."):
        assert text in md and html_escape(text) in html


def test_error_rows_are_listed_and_flagged(tmp_path):
    rows = [row("cpu/seq/workers:1/concurrency:1/work_us:100", items_per_second=10000.0, work_us=100.0),
            row("cpu/procs/workers:1/concurrency:8/work_us:100", items_per_second=9000.0, work_us=100.0),
            error_row("cpu/procs/workers:2/concurrency:16/work_us:100", "worker 1 died: signal 9 (Killed)"),
            error_row("sleep/procs/workers:10/concurrency:10/wait_us:10000", "checksum mismatch | 3 != 4")]
    html, md = render([write_run(tmp_path / "err.json", rows)], tmp_path)
    assert "2 of 4 cells failed and carry no numbers" in md
    assert "worker 1 died: signal 9 (Killed)" in html and "checksum mismatch | 3 != 4" in html
    assert "checksum mismatch \\| 3 != 4" in md  # escaped inside a Markdown table
    failed = html[html.index("<summary>Failed rows</summary>"):]
    assert "cpu/procs/workers:2/concurrency:16/work_us:100" in failed
    cpu_table = html[html.index("<summary>CPU scaling: cpu work_us 100</summary>"):]
    cpu_table = cpu_table[:cpu_table.index("</table>")]
    assert 'class="flag-error">error: worker 1 died' in cpu_table
    assert "I/O scaling: no successful sleep cell in this run." in md  # its only cell failed


def test_missing_percentiles_show_as_missing(tmp_path):
    few = row("sleep/coro/workers:1/concurrency:1/wait_us:10000", items_per_second=99.0, wait_us=10000.0)
    del few["latency_p99_us"], few["latency_p999_us"]
    html, md = render([write_run(tmp_path / "few.json", [few])], tmp_path)
    line = next(x for x in md.splitlines() if x.startswith("| sleep/coro/workers:1/concurrency:1/wait_us:10000 |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1:5] == ["900", "950", "—", "—"]
    assert "p99: too few samples; p99.9: too few samples" in cells[-1]
    assert "p99 is missing in 1 of 1 closed-loop cells: too few samples" in md
    assert "too few samples" in html


def test_percentile_in_only_some_repetitions_is_left_out(real_report):
    _, md = real_report
    name = "mixed/procs/workers:16/concurrency:16/request_us:1000/cpu_share:0.5"
    line = next(x for x in md.splitlines() if x.startswith(f"| {name} |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == "—"  # Google Benchmark's median here is one repetition's p99.9, below the p99
    assert "p99.9: too few samples in 4 of 5 repetitions" in cells[-1]


def test_noisy_cells_are_flagged(real_report):
    html, md = real_report
    noisy = [n for n, b in medians().items() if b.get("noisy")]
    assert noisy
    line = next(x for x in md.splitlines() if f"{len(noisy)} of 43 cells are noisy" in x)
    assert not any(n in line for n in noisy)  # counts only: the names are folded into the tables' marks
    runners = Counter(n.split("/")[1] for n in noisy)
    assert all(f"{r} {k}" in line for r, k in runners.items())
    assert "(noisy)" in md.split("### I/O scaling")[1]
    assert 'class="flag-noisy">noisy</td>' in html


def test_folder_input_renders_every_json_in_it(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "a.json")
    write_run(folder / "b.json", [row("cpu/seq/workers:1/concurrency:1/work_us:100", work_us=100.0)])
    (folder / "notes.txt").write_text("not read")
    html, md = render([folder], tmp_path)
    assert md.count("\n## ") == 2
    assert "fig-cpu-scaling" in figure_ids(html) and "fig-map-2" in figure_ids(html)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, reason", [
    (lambda d: d / "absent.json", "no such file or folder"),
    (lambda d: (d / "bad.json").write_text("{ not json") and d / "bad.json", "not JSON"),
    (lambda d: (d / "gb.json").write_text(json.dumps({"context": {"date": "x"}, "benchmarks": []}))
     and d / "gb.json", "not a conpar results file"),
    (lambda d: (d / "list.json").write_text("[1, 2]") and d / "list.json", "not a conpar results file"),
    (lambda d: (d / "future.json").write_text(json.dumps({"context": {"schema_version": 99}, "benchmarks": []}))
     and d / "future.json", "schema_version 99"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "folder holds no *.json file"),
])
def test_bad_input_exits_2_naming_file_and_reason(tmp_path, make, reason):
    path = make(tmp_path)
    out = tmp_path / "out"
    result = run_report([FIXTURE, path], out)
    assert result.returncode == 2
    assert str(path) in result.stderr and reason in result.stderr
    assert not out.exists()  # nothing written on bad input


# ---------------------------------------------------------------- verdicts cite the data

def test_cpu_verdict_numbers_match_the_data(real_report):
    _, md = real_report
    m = medians()
    t1 = m["cpu/threads/workers:1/concurrency:8/work_us:100"]["items_per_second"]
    t2 = m["cpu/threads/workers:2/concurrency:16/work_us:100"]["items_per_second"]
    seq = m["cpu/seq/workers:1/concurrency:1/work_us:100"]["items_per_second"]
    coro = m["cpu/coro/workers:1/concurrency:16/work_us:100"]["items_per_second"]
    verdict = next(x for x in md.splitlines() if x.startswith("- CPU-bound (cpu work_us 100)"))
    assert f"threads {t2 / t1:.2f}x [" in verdict and f"] ({100 * t2 / t1 / 2:.1f}% of ideal" in verdict
    assert f"{t2 / seq:.2f}x [" in verdict
    assert f"coro {coro / m['cpu/coro/workers:1/concurrency:8/work_us:100']['items_per_second']:.2f}x" in verdict
    assert "coro stays on one core" in md


def test_io_and_crossover_verdict_numbers_match_the_data(real_report):
    _, md = real_report
    m = medians()
    coro = m["sleep/coro/workers:1/concurrency:10000/wait_us:10000"]
    share = coro["items_per_second"] / (10000 * 1e6 / 10000)
    assert f"coro reaches {100 * share:.1f}% of the bound at 10,000 in flight" in md
    threads = m["sleep/threads/workers:1000/concurrency:1000/wait_us:10000"]
    ctx = threads["ctx_voluntary"] + threads["ctx_involuntary"]
    assert f"{threads['rss_peak_mb']:.1f} MB peak RSS, {ctx:,.0f} context switches" in md

    c01 = m["mixed/coro/workers:1/concurrency:16/request_us:1000/cpu_share:0.1"]["items_per_second"]
    t01 = m["mixed/threads/workers:16/concurrency:16/request_us:1000/cpu_share:0.1"]["items_per_second"]
    leader, other = ("threads", "coro") if t01 > c01 else ("coro", "threads")
    hi, lo = max(t01, c01), min(t01, c01)
    assert f"at cpu_share 0.1 {leader} leads with {hi:,.0f}/s" in md
    assert f"{other} {lo:,.0f}/s ({lo / hi:.2f}x [" in md  # the ratio with its interval (5 repetitions each)


def test_verdicts_follow_the_data_not_fixed_text(tmp_path):
    """Swap which runner scales: the sentences must change with it."""
    rows = [row("cpu/seq/workers:1/concurrency:1/work_us:100", items_per_second=10000.0, work_us=100.0)]
    for runner, rates in (("threads", (10000.0, 11000.0)), ("procs", (9000.0, 18000.0))):
        rows += [row(f"cpu/{runner}/workers:{w}/concurrency:{8 * w}/work_us:100", items_per_second=r,
                     busy_cores=float(w), work_us=100.0) for w, r in zip((1, 2), rates)]
    _, md = render([write_run(tmp_path / "swap.json", rows)], tmp_path)
    assert "threads 1.10x (55.0% of ideal" in md and "procs 2.00x (100.0% of ideal" in md
    assert "Most requests/s: procs with 18,000/s" in md
    assert "One procs worker delivers 0.90x of seq" in md


def test_open_loop_verdict_names_saturation(tmp_path):
    _, md = render([write_run(tmp_path / "rates.json", open_loop_rows())], tmp_path)
    assert "coro sustains 50,000/s offered" in md
    assert "threads sustains 10,000/s offered" in md and "saturates at 50,000/s (achieves 30,000/s)" in md


# ---------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)

# Appended to a copy of the report (never to the report itself): after load, it writes what the browser laid
# out into the DOM, which --dump-dom then prints: each figure's drawn size, and every resource the page fetched.
PROBE = """<script>
addEventListener("load", () => {
  const figures = [...document.querySelectorAll("figure")].map(f => {
    const svgs = f.querySelectorAll("svg");
    if (svgs.length !== 1) return {id: f.id, svgs: svgs.length};
    const box = svgs[0].getBoundingClientRect(), drawn = svgs[0].getBBox();
    return {id: f.id, svgs: 1, width: box.width, height: box.height, drawn_width: drawn.width,
            drawn_height: drawn.height, marks: svgs[0].querySelectorAll("path, use, text").length};
  });
  const out = document.createElement("pre");
  out.id = "conpar-probe";
  out.textContent = JSON.stringify({figures, resources: performance.getEntriesByType("resource").map(e => e.name),
                                    images: document.images.length});
  document.body.appendChild(out);
});
</script>"""


def chromium_dom(page: Path, profile: Path, net_log: Path | None = None) -> str:
    """The DOM of page after load, from headless Chromium, with name resolution off (nothing can be fetched)."""
    flags = ["--headless=new", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    if net_log is not None:
        flags.append(f"--log-net-log={net_log}")
    result = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    return result.stdout


def page_requests(net_log: Path) -> list[str]:
    """The URLs the PAGE asked the network for. Chromium itself calls home (component updates, time, accounts)
    even with background networking off; those requests have no initiating origin and are not the page's."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start_job and "url" in params:
            from_page = params.get("initiator") != "not an origin" or "file://" in str(
                params.get("network_isolation_key", ""))
            if from_page:
                urls.append(params["url"])
    return urls


def probe(dom: str) -> dict:
    found = re.search(r'<pre id="conpar-probe">(.*?)</pre>', dom, re.S)
    assert found, "the probe script did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&amp;", "&"))


def svg_size(svg_tag: str) -> tuple[float, float]:
    width = re.search(r'\bwidth="([\d.]+)(?:pt|px)?"', svg_tag)
    height = re.search(r'\bheight="([\d.]+)(?:pt|px)?"', svg_tag)
    return float(width.group(1)) if width else 0.0, float(height.group(1)) if height else 0.0


@pytest.mark.skipif(CHROMIUM is None, reason="the chromium binary is not installed (Debian package: chromium); "
                                              "CI installs it")
def test_report_renders_in_headless_chromium_and_fetches_nothing(tmp_path, full_report):
    html, _ = full_report
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    assert figure_ids(html) == list(FIGURE_IDS)

    # The report as it is: every figure holds one inline SVG of nonzero size, and the page asks the network
    # for nothing.
    net_log = tmp_path / "net.json"
    dom = chromium_dom(page, tmp_path / "profile-1", net_log)
    figures = re.findall(r'<figure id="([^"]+)">\s*(<svg\b[^>]*>)', dom)
    assert [fig_id for fig_id, _ in figures] == list(FIGURE_IDS)
    assert dom.count("<svg") == len(FIGURE_IDS)
    for fig_id, tag in figures:
        width, height = svg_size(tag)
        assert width > 0 and height > 0, (fig_id, tag)
    assert page_requests(net_log) == []

    # A copy with the probe: the browser laid out and drew every figure, and fetched no resource.
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    seen = probe(chromium_dom(probed, tmp_path / "profile-2"))
    assert [f["id"] for f in seen["figures"]] == list(FIGURE_IDS)
    for f in seen["figures"]:
        assert f["svgs"] == 1, f
        assert f["width"] > 300 and f["height"] > 100, f  # laid out at a readable size
        assert f["drawn_width"] > 100 and f["drawn_height"] > 50 and f["marks"] > 20, f  # and something drawn in it
    assert seen["resources"] == [] and seen["images"] == 0

    # The checks can fail: a page with one outside image is caught by both.
    control = tmp_path / "control.html"
    control.write_text(html.replace("</body>", '<img src="http://conpar.invalid/x.png" alt="">' + PROBE
                                    + "\n</body>"), encoding="utf-8")
    control_log = tmp_path / "control-net.json"
    caught = probe(chromium_dom(control, tmp_path / "profile-3", control_log))
    assert caught["resources"] == ["http://conpar.invalid/x.png"]
    assert page_requests(control_log) == ["http://conpar.invalid/x.png"]


def test_no_absolute_path_of_the_machine_appears(tmp_path):
    path = write_run(tmp_path / "mine.json", [row("cpu/seq/workers:1/concurrency:1/work_us:100", work_us=100.0)])
    html, md = render([path], tmp_path)
    for text in (html, md):
        assert str(tmp_path) not in text and "mine.json" in text
    import report
    assert report.input_name(str(report.ROOT / "results" / "latest" / "default.json")) == "results/latest/default.json"
