#!/usr/bin/python3
"""conpar report: one self-contained HTML file (inline SVG figures) and a Markdown summary.

    python3 plots/report.py [--out-html results/report.html] [--out-md results/report.md] [--history DIR] INPUT...

INPUT: conpar results files (results/README.md) or folders of them. Exit codes: 0 written,
1 an output could not be written (checked before any input is read), 2 bad input (the message names
the file and the reason).
The same input gives byte-identical output: no timestamps, fixed SVG ids.
"""
from __future__ import annotations

import argparse
import html
import io
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import figures
import history
import tables
import verdicts
from atomic import OutputError, check_targets, write_atomic
from fmt import plural
from results import InputError, Run, load_runs, machine_class, short_commit
from tables import Table

ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_WRITE_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    draw: Callable
    tables: tuple[Callable, ...]
    verdicts: Callable
    absent: str  # why the figure is missing when the run lacks its data


SECTIONS = (
    Section("cpu-scaling", "CPU scaling", figures.cpu_scaling, (tables.cpu_scaling,), verdicts.cpu_scaling,
            "no successful cpu cell with work_us > 0 outside the granularity sweep's own sizes in this run"),
    Section("granularity", "Granularity", figures.granularity, (tables.granularity,), verdicts.granularity,
            "no successful cell of the granularity sweep with an efficiency in this run"),
    Section("memory", "Memory bandwidth", figures.memory_scaling, (tables.memory_scaling,), verdicts.memory_scaling,
            "no successful memory cell with gb_per_second in this run"),
    Section("io-scaling", "I/O scaling", figures.io_scaling, (tables.io_scaling,), verdicts.io_scaling,
            "no successful sleep cell in this run"),
    Section("tcp", "Real I/O: loopback TCP", figures.tcp_scaling, (tables.tcp_scaling, tables.tcp_cost),
            verdicts.tcp, "no successful closed-loop tcp cell with a worker per connection or on an event loop "
                          "in this run"),
    Section("crossover", "Crossover", figures.crossover, (tables.crossover,), verdicts.crossover,
            "no successful mixed cell in this run"),
    Section("pipeline", "Pipeline", figures.pipeline, (tables.pipeline,), verdicts.pipeline,
            "no successful pipeline cell with stage busy times in this run"),
    Section("latency-equal", "Latency at equal load", figures.latency_equal, (tables.equal_load,),
            verdicts.latency_equal, "no open-loop cell (offered_per_second) in this run"),
    Section("latency", "Latency vs offered rate", figures.latency, (tables.open_loop, tables.slo, tables.latency),
            verdicts.latency, "no open-loop cell (offered_per_second) in this run"),
    Section("map", "Concurrency vs parallelism", figures.concurrency_map, (tables.concurrency_map,),
            verdicts.concurrency_map, "no successful cell with in_flight and busy_cores in this run"),
    Section("cost", "Cost", figures.cost, (tables.cost,), lambda run: verdicts.cost(run) + verdicts.processes(run),
            "no successful cell with cpu_us_per_request in this run"),
)


@dataclass
class Rendered:
    """One section of one run, ready for either output format."""

    title: str
    fig_id: str
    svg: str | None
    caption: str
    verdicts: list[str]
    tables: list[Table]
    absent: str


def input_name(path: str) -> str:
    """The input as a reader can place it without learning this machine's folders: relative to the project
    (results/latest/default.json) when it lies inside it, else its file name."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name


def machine_line(ctx: dict) -> str:
    cores = ctx.get("cores", ctx.get("num_cpus"))
    cores_text = plural(cores, "core") if isinstance(cores, (int, float)) else "unknown cores"
    return (f"Machine: {ctx.get('cpu_model', 'unknown CPU')}, {cores_text}, "
            f"{ctx.get('kernel', 'unknown kernel')}. Build: {short_commit(ctx.get('git_commit'))} "
            f"({ctx.get('build_type', 'unknown build type')}, {ctx.get('compiler', 'unknown compiler')}). "
            f"Run date: {ctx.get('date', 'unknown')}.")


def to_svg(fig, fig_id: str, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # The RDF metadata block names outside vocabularies by URL; a figure needs none of it.
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    # matplotlib's ids are unique within one figure only; several share this document.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{fig_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{fig_id}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{fig_id}-\1"', svg)
    return svg.replace("<svg ", f'<svg class="figure" role="img" aria-label="{html.escape(title)}" ', 1).strip()


def trend_section(run: Run, folder: Path) -> Section:
    """The trend of the headline cells over the history: drawn only where it holds two comparable runs."""
    runs = history.load_history(folder, run)
    return Section("trend", "Trend", lambda r: figures.trend(r, runs, str(folder)),
                   (lambda r: tables.trend(r, runs),), lambda r: verdicts.trend(r, runs, str(folder)),
                   f"fewer than two runs of machine class {machine_class(run.context)} with this run's suite and "
                   f"build carry a headline cell in {folder}")


def render_run(run: Run, index: int, history_dir: Path | None = None) -> list[Rendered]:
    suffix = "" if index == 0 else f"-{index + 1}"
    out = []
    sections = SECTIONS if history_dir is None else (*SECTIONS, trend_section(run, history_dir))
    for s in sections:
        fig_id = f"fig-{s.key}{suffix}"
        drawn = s.draw(run)
        svg, caption = None, ""
        if drawn is not None:
            fig, what = drawn
            svg = to_svg(fig, fig_id, s.title)
            caption = f"{what} {machine_line(run.context)}"
        out.append(Rendered(s.title, fig_id, svg, caption, s.verdicts(run),
                            [t for make in s.tables for t in make(run)], s.absent))
    return out


def context_rows(run: Run) -> list[list[str]]:
    ctx = run.context
    keys = ("suite", "cpu_model", "cores", "kernel", "git_commit", "build_type", "compiler", "cxx_flags",
            "sanitizers", "date", "host_name", "duration_s", "warmup_s", "repetitions", "noise_cv_limit",
            "load_avg_before", "load_avg_after", "other_busy_cores", "steal_fraction", "iterations_per_us",
            "memcpy_gb_per_s", "syscall_ns", "futex_round_trip_us", "schema_version",
            "conpar_version")
    rows = []
    for k in keys:
        if k in ctx:
            v = ctx[k]
            rows.append([k, ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
                         if isinstance(v, list) else str(v)])
    if isinstance(ctx.get("libraries"), dict):
        rows.append(["libraries", ", ".join(f"{k} {v}" for k, v in sorted(ctx["libraries"].items()))])
    return rows


def summary_line(run: Run) -> str:
    ok = sum(c.ok for c in run.cells)
    workloads = sorted({c.workload for c in run.cells})
    return (f"{len(run.cells)} cells ({ok} succeeded, {len(run.cells) - ok} failed); runners: "
            f"{', '.join(run.runners()) or 'none'}; workloads: {', '.join(workloads) or 'none'}.")


def missing_sections(rendered: list[Rendered]) -> list[str]:
    return [f"{r.title}: {r.absent}." for r in rendered if r.svg is None]


# ---------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1rem 1.5rem 3rem; color: #1a1a1a; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { margin-top: 1.6rem; }
figure { margin: 1rem 0; } figcaption { font-size: 0.9rem; color: #444; margin-top: 0.3rem; }
svg.figure { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.flag-noisy { background: #fff4d6; } td.flag-error { background: #fde2e2; }
.verdicts li { margin: 0.25rem 0; } .note { font-size: 0.85rem; color: #555; } .absent { color: #8a4b00; }
details { margin: 0.4rem 0; } summary { cursor: pointer; font-weight: 600; }
nav ul { columns: 2; }
"""


TEXT_LAST = ("flags", "note")  # a last column of words after the numbers


def _html_table(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
    body = []
    for row in t.rows:
        cells = []
        for i, text in enumerate(row):
            cls = []
            if i >= t.text_columns and i < len(t.columns) - (1 if t.columns[-1] in TEXT_LAST else 0):
                cls.append("num")
            if t.columns[i] == "flags" and text.startswith("error"):
                cls.append("flag-error")
            elif t.columns[i] == "flags" and text:
                cls.append("flag-noisy")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in t.notes)
    return (f"<details open><summary>{e(t.title)}</summary><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{notes}</details>")


def _html_list(items: list[str], cls: str = "verdicts") -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>" if items else ""


def render_html(runs: list[tuple[Run, list[Rendered]]]) -> str:
    e = html.escape
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
             '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
             f"<title>conpar report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>conpar report</h1>\n"]
    for index, (run, rendered) in enumerate(runs):
        suffix = "" if index == 0 else f"-{index + 1}"
        parts.append(f'<section id="run{suffix}">\n<h2>{e(input_name(run.path))}</h2>\n<p>{e(summary_line(run))}<br>'
                     f"{e(machine_line(run.context))}</p>\n")
        nav = [f'<li><a href="#{r.fig_id}">{e(r.title)}</a></li>' for r in rendered if r.svg]
        nav += [f'<li><a href="#checks{suffix}">Failed rows and data checks</a></li>',
                f'<li><a href="#context{suffix}">Run context</a></li>']
        parts.append(f"<nav><ul>{''.join(nav)}</ul></nav>\n")
        parts.append(f"<h3>Verdicts</h3>\n{_html_list(verdicts.general(run))}\n")
        absent = missing_sections(rendered)
        if absent:
            parts.append('<p class="absent">Not in this run:</p>\n' + _html_list(absent, "absent") + "\n")
        for r in rendered:
            parts.append(f"<h3>{e(r.title)}</h3>\n{_html_list(r.verdicts)}\n")
            if r.svg:
                parts.append(f'<figure id="{r.fig_id}">\n{r.svg}\n<figcaption>{e(r.caption)}</figcaption>\n'
                             "</figure>\n")
            else:
                parts.append(f'<p class="absent">No figure: {e(r.absent)}.</p>\n')
            parts.extend(_html_table(t) + "\n" for t in r.tables)
        parts.append(f'<h3 id="checks{suffix}">Failed rows and data checks</h3>\n')
        error_tables = tables.errors(run)
        parts.append("".join(_html_table(t) for t in error_tables) if error_tables else "<p>No failed rows.</p>")
        checks = verdicts.data_checks(run)
        parts.append("\n" + (_html_list(checks) if checks else "<p>No inconsistent numbers found.</p>") + "\n")
        parts.append(f'<h3 id="context{suffix}">Run context</h3>\n'
                     + _html_table(Table("Context", ["key", "value"], context_rows(run), text_columns=2))
                     + "\n</section>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)


# ---------------------------------------------------------------- Markdown

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    # Collapsed: a CI step summary shows the verdicts first; the numbers are one click away.
    align = ["---" if i < t.text_columns or c in TEXT_LAST else "---:" for i, c in enumerate(t.columns)]
    lines = [f"<details><summary>{html.escape(t.title)}</summary>", "",
             "| " + " | ".join(_md_escape(c) for c in t.columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(x) for x in row) + " |" for row in t.rows]
    lines += [""] + [f"_{_md_escape(n)}_" for n in t.notes] + ["", "</details>", ""]
    return "\n".join(lines)


def render_md(runs: list[tuple[Run, list[Rendered]]]) -> str:
    out = ["# conpar report", ""]
    for run, rendered in runs:
        out += [f"## {input_name(run.path)}", "", summary_line(run), "", machine_line(run.context), ""]
        out += [f"- {v}" for v in verdicts.general(run)] + [""]
        absent = missing_sections(rendered)
        if absent:
            out += ["Not in this run:", ""] + [f"- {a}" for a in absent] + [""]
        for r in rendered:
            out += [f"### {r.title}", ""] + [f"- {v}" for v in r.verdicts] + [""]
            out += [_md_table(t) for t in r.tables]
        out += ["### Failed rows and data checks", ""]
        error_tables = tables.errors(run)
        out += [_md_table(t) for t in error_tables] if error_tables else ["No failed rows.", ""]
        checks = verdicts.data_checks(run)
        out += ([f"- {c}" for c in checks] if checks else ["No inconsistent numbers found."]) + [""]
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render conpar results as an HTML report and a Markdown summary.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="results JSON files or folders of them")
    parser.add_argument("--out-html", type=Path, default=ROOT / "results" / "report.html",
                        help="HTML report (default: results/report.html in the repository)")
    parser.add_argument("--out-md", type=Path, default=ROOT / "results" / "report.md",
                        help="Markdown summary (default: results/report.md in the repository)")
    parser.add_argument("--history", type=Path, metavar="DIR",
                        help="history folder (history.py append): adds the trend of the headline cells over the "
                             "runs there of the same machine class, suite and build, when it holds two or more")
    args = parser.parse_args(argv)
    try:
        check_targets([args.out_html, args.out_md])  # before the rendering, which takes a while
        runs = load_runs(args.inputs)
        rendered = [(run, render_run(run, i, args.history)) for i, run in enumerate(runs)]
        write_atomic(args.out_html, render_html(rendered))
        write_atomic(args.out_md, render_md(rendered))
    except InputError as e:
        print(f"report: bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as e:
        print(f"report: {e}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
