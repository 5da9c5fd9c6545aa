"""The loopback TCP section: throughput and busy cores against connections in flight, what 1,000 connections
cost each runner, the verdicts citing the run's numbers, and the sections around it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import experiments as ex
import tables
import verdicts
from conftest import error_row, render, row, write_run
from results import load_run

TCP_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tcp.json"
SHAPE = "delay_us:1000/response_bytes:1024"
LABEL = "tcp delay_us 1000 response_bytes 1024"
AT_1000 = f"At 1,000 connections in flight ({LABEL}), "


def name(runner: str, workers: int, concurrency: int) -> str:
    return f"tcp/{runner}/workers:{workers}/concurrency:{concurrency}/{SHAPE}"


def fixture_doc() -> dict:
    return json.loads(TCP_FIXTURE.read_text(encoding="utf-8"))


def raw() -> dict[str, dict]:
    """The fixture's rows by cell name, read without the report's code (one repetition: the iteration row)."""
    return {b["run_name"]: b for b in fixture_doc()["benchmarks"]}


def write_doc(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def edited(path: Path, edit) -> Path:
    """The fixture with edit(rows) -> rows applied."""
    doc = fixture_doc()
    doc["benchmarks"] = edit(doc["benchmarks"])
    return write_doc(path, doc)


def figure(html: str, fig_id: str) -> str:
    found = html[html.index(f'<figure id="{fig_id}"'):]
    return found[:found.index("</figure>")]


def verdict_lines(md: str) -> list[str]:
    section = md[md.index("### Real I/O: loopback TCP"):]
    section = section[:section.index("\n### ")]  # up to the next section
    section = section.split("<details>")[0]  # the verdicts come before the tables
    return [line[2:] for line in section.splitlines() if line.startswith("- ")]


def table_row(table: tables.Table, runner: str, workers: str) -> list[str]:
    return next(r for r in table.rows if r[0] == runner and r[1] == workers)


def test_section_figure_and_tables_with_the_fixture(tmp_path):
    html, md = render([TCP_FIXTURE], tmp_path)
    assert re.findall(r'<figure id="([^"]+)"', html) == ["fig-tcp", "fig-map", "fig-cost"]
    assert '<a href="#fig-tcp">Real I/O: loopback TCP</a>' in html
    fig = figure(html, "fig-tcp")
    for text in (f"Real I/O: {LABEL} (closed loop): throughput", f"Real I/O: {LABEL} (closed loop): parallelism",
                 "throughput (requests/s)", "busy cores (CPU time / wall time)",
                 "connections in flight (concurrency C, one request each)", "coro (1 loop thread)",
                 "threads (a worker per connection)", "seq (1 worker)", "bound: in flight / delay (1 ms)", "2 cores",
                 "AMD EPYC, 2 cores", "Build: a1887e1-dirty (Release", "2026-11-23T19:45:06+00:00"):
        assert text in fig, text
    assert 'id="fig-tcp-legend_1"' in fig and 'id="fig-tcp-legend_2"' in fig  # both panels
    assert "### Real I/O: loopback TCP" in md
    assert f"<summary>Real I/O: {LABEL}</summary>" in md
    assert f"<summary>What 1,000 connections in flight cost: {LABEL}</summary>" in md
    assert "Real I/O: loopback TCP:" not in md  # not listed as missing


def test_curve_has_a_worker_per_connection_or_the_loop_only():
    series = ex.tcp_scaling(load_run(TCP_FIXTURE))[LABEL]
    assert {r: [x for x, _ in p] for r, p in series.items()} == {
        "seq": [1], "coro": [1, 100, 1000, 10000], "threads": [1, 100, 1000], "procs": [1, 100, 1000]}
    assert all(c.workers == c.concurrency for r, p in series.items() if r != "coro" for _, c in p)
    assert ex.tcp_event_loops(load_run(TCP_FIXTURE)) == {"coro"}


def test_cost_table_matches_the_fixture():
    m = raw()
    (curve, cost) = tables.tcp_scaling(load_run(TCP_FIXTURE)) + tables.tcp_cost(load_run(TCP_FIXTURE))[:1]
    assert curve.title == f"Real I/O: {LABEL}" and len(curve.rows) == 11
    assert cost.title == f"What 1,000 connections in flight cost: {LABEL}"
    assert cost.columns == ["runner", "workers", "requests/s", "busy cores", "server busy cores", "CPU µs/request",
                            "peak RSS (MB)",
                            "voluntary ctx sw/request", "involuntary ctx sw/request", "p99 (µs)", "flags"]
    assert [r[:2] for r in cost.rows] == [["coro", "1"], ["threads", "2"], ["threads", "1,000"], ["procs", "2"],
                                          ["procs", "1,000"]]
    t = m[name("threads", 1000, 1000)]
    assert table_row(cost, "threads", "1,000") == [
        "threads", "1,000", f"{t['items_per_second']:,.0f}", f"{t['busy_cores']:.2f}", "—",  # a fixture from before
        f"{t['cpu_us_per_request']:.0f}",
        f"{t['rss_peak_mb']:.0f}", f"{t['ctx_voluntary'] / t['requests']:.2f}",
        f"{t['ctx_involuntary'] / t['requests']:.2f}", f"{t['latency_p99_us']:,.0f}", ""]
    c = m[name("coro", 1, 1000)]
    assert table_row(cost, "coro", "1")[2:7] == [f"{c['items_per_second']:,.0f}", f"{c['busy_cores']:.2g}", "—",
                                                 f"{c['cpu_us_per_request']:.1f}", f"{c['rss_peak_mb']:.0f}"]
    assert "latency_p99_us" not in m[name("threads", 2, 1000)]  # too few samples: shown as missing
    assert table_row(cost, "threads", "2")[9] == "—"


def test_verdict_numbers_match_the_fixture(tmp_path):
    _, md = render([TCP_FIXTURE], tmp_path)
    lines = verdict_lines(md)
    m = raw()
    coro = m[name("coro", 1, 1000)]
    ctx = (coro["ctx_voluntary"] + coro["ctx_involuntary"]) / coro["requests"]
    assert f"{AT_1000}coro serves {coro['items_per_second']:,.0f}/s on {coro['busy_cores']:.2g} busy cores with one " \
           f"loop thread, paying {coro['rss_peak_mb']:.0f} MB of peak RSS, {ctx:.2g} context switches per request " \
           f"and {coro['cpu_us_per_request']:.1f} µs of CPU per request." in lines
    for runner in ("threads", "procs"):
        full, two = m[name(runner, 1000, 1000)], m[name(runner, 2, 1000)]
        ctx = (full["ctx_voluntary"] + full["ctx_involuntary"]) / full["requests"]
        assert f"{AT_1000}{runner} needs 1,000 workers, one per connection, to serve " \
               f"{full['items_per_second']:,.0f}/s on {full['busy_cores']:.2f} busy cores, paying " \
               f"{full['rss_peak_mb']:,.0f} MB of peak RSS, {ctx:.2f} context switches per request and " \
               f"{full['cpu_us_per_request']:.0f} µs of CPU per request; with 2 workers it serves only " \
               f"{two['items_per_second']:,.0f}/s (998 of the 1,000 requests queue behind 2 blocking calls)." in lines
    against = next(line for line in lines if line.startswith("Against coro"))
    t = m[name("threads", 1000, 1000)]
    assert f"threads with 1,000 workers serves {t['items_per_second'] / coro['items_per_second']:.2f}x the " \
           f"requests/s at {t['cpu_us_per_request'] / coro['cpu_us_per_request']:.1f}x the CPU" in against
    peak = max((b for n, b in m.items() if n.startswith("tcp/coro/")), key=lambda b: b["items_per_second"])
    assert f"coro {peak['items_per_second']:,.0f}/s at {peak['concurrency']:,.0f} in flight" in lines[0]
    assert f"coro {m[name('coro', 1, 10000)]['busy_cores']:.2f} at 10,000" in lines[1]


def test_no_tcp_rows_no_section_and_no_crash(real_report):
    html, md = real_report
    assert 'id="fig-tcp"' not in html and "What 1,000 connections" not in md and "Loopback TCP" not in md
    assert verdict_lines(md) == []
    assert ("Real I/O: loopback TCP: no successful closed-loop tcp cell with a worker per connection or on an "
            "event loop in this run.") in md


def test_failed_cell_at_1000_has_no_numbers(tmp_path):
    failed = name("threads", 1000, 1000)
    message = "too few descriptors: 1064 needed, soft limit 1024"
    path = edited(tmp_path / "t.json",
                  lambda rows: [error_row(failed, message) if r["name"] == failed else r for r in rows])
    run = load_run(path)
    _, cost = tables.tcp_scaling(run) + tables.tcp_cost(run)
    assert table_row(cost, "threads", "1,000") == ["threads", "1,000", *["—"] * 8, f"error: {message}"]
    assert [x for x, _ in ex.tcp_scaling(run)[LABEL]["threads"]] == [1, 100]
    _, md = render([path], tmp_path)
    lines = verdict_lines(md)
    two = raw()[name("threads", 2, 1000)]
    assert f"{AT_1000}threads with 2 workers serves {two['items_per_second']:,.0f}/s on {two['busy_cores']:.2g} " \
           "busy cores (998 of the 1,000 requests queue behind 2 blocking calls)." in lines
    assert not any("threads needs" in line or "threads with 1,000 workers" in line for line in lines)
    hundred = raw()[name("threads", 100, 100)]
    assert f"threads {hundred['items_per_second']:,.0f}/s at 100 in flight and procs" in lines[0]  # nothing at 1,000
    assert f"error: {message}" in md  # under Failed rows too


def test_missing_inputs_leave_their_words_out(tmp_path):
    full = name("procs", 1000, 1000)

    def edit(rows):
        out = []
        for r in rows:
            if r["name"].startswith("tcp/coro/"):
                continue  # no event loop: no loop sentence, nothing to set the pools against
            if r["name"] == full:
                r = {k: v for k, v in r.items() if k not in ("rss_peak_mb", "ctx_voluntary")}
            out.append(r)
        return out

    _, md = render([edited(tmp_path / "t.json", edit)], tmp_path)
    lines = verdict_lines(md)
    assert not any("coro" in line for line in lines)
    procs = next(line for line in lines if line.startswith(f"{AT_1000}procs"))
    assert "MB of peak RSS" not in procs and "context switches" not in procs
    assert f"paying {raw()[full]['cpu_us_per_request']:.0f} µs of CPU per request; with 2 workers" in procs
    assert not any("None" in line or "nan" in line for line in lines)


def test_noisy_cell_is_marked(tmp_path):
    noisy = name("coro", 1, 1000)
    path = edited(tmp_path / "t.json", lambda rows: [dict(r, noisy=1) if r["name"] == noisy else r for r in rows])
    _, md = render([path], tmp_path)
    assert f"{AT_1000}coro serves 60,940/s (noisy) on" in md
    assert "- Against coro on one loop thread at 1,000 connections in flight (" in md
    assert f"({LABEL}) (noisy): threads" in md
    (_, cost) = tables.tcp_scaling(load_run(path)) + tables.tcp_cost(load_run(path))
    assert table_row(cost, "coro", "1")[-1] == "noisy"


def test_other_sections_take_the_tcp_cells_as_any_others():
    run = load_run(TCP_FIXTURE)
    assert ex.io_scaling(run) == {} and ex.headline(run) == []
    assert {c.workload for c in ex.map_points(run)} == {"tcp"}
    assert f"{LABEL}, 1,000 in flight" in ex.cost_groups(run)
    assert verdicts.io_scaling(run) == []


def test_a_server_bound_cell_is_flagged_in_the_cost_table_and_its_verdict(tmp_path):
    cell = "tcp/coro/workers:1/concurrency:1000/delay_us:1000/response_bytes:1024"
    bound = row(cell, items_per_second=90000.0, server_busy_cores=0.97, server_bound=1, server_cpu_s=0.4)
    run = load_run(write_run(tmp_path / "t.json", [bound]))
    cost = next(t for t in tables.tcp_cost(run))
    r = cost.rows[0]
    assert r[cost.columns.index("server busy cores")] == "0.97" and r[-1] == "server-bound"
    assert any("server-bound" in s for s in verdicts.tcp(run))
    free = row(cell, items_per_second=40000.0, server_busy_cores=0.4, server_bound=0, server_cpu_s=0.2)
    run = load_run(write_run(tmp_path / "f.json", [free]))
    assert tables.tcp_cost(run)[0].rows[0][-1] == "" and not any("server-bound" in s for s in verdicts.tcp(run))
