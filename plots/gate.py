#!/usr/bin/python3
"""conpar gate: the pull-request job in one command. Builds two revisions, runs `ab` on the headline cells,
writes a summary fit for a comment, and exits as `compare` does.

    python3 plots/gate.py BASE_REV [HEAD_REV] [--repo DIR] [--work-dir DIR] [--out-dir DIR]
                          [--rounds N] [--seed S] [--filter REGEX] [--duration S]
                          [--threshold [REGEX:]METRIC=PCT]... [--alpha A] [--configure-arg ARG]...

1. Builds the `conpar` target of each revision with that revision's own `release` preset, in one git
   worktree (WORK_DIR/src, default REPO/build/gate/src) checked out at BASE, then at HEAD. The build folder
   stays in the worktree, so HEAD's build after BASE's recompiles only the files the pull request changed,
   and a later gate run on the same machine is incremental too. Each binary is copied to OUT_DIR/bin/.
2. Runs `conpar ab` (plots/ab.py) on the headline cells (HEADLINE_FILTER: cpu at 1 and 2 workers under
   every runner, the coro sleep cell at 1,000 in flight), ROUNDS interleaved rounds, with the thresholds
   README "Comparing runs" measured on a 2-core VM (RECOMMENDED_THRESHOLDS) unless --threshold is given.
3. If that ends "too noisy" (exit 4), runs it once more by itself with twice the rounds and a new seed; the
   second result stands and the summary says so. Only a result still too noisy exits 4.
4. Writes OUT_DIR (default REPO/results/gate): summary.md (at most 60,000 characters: verdict counts, every
   regressed, too-noisy, missing or failed row, unchanged and improved rows only counted), verdicts.json,
   base.json and head.json (the results files), report.html and report.md (head's report), build logs.

Exit codes: compare's: 0 no regression, 1 a regression, 2 bad input (an unknown revision, a revision that
does not build, bad options), 3 benchmark errors, 4 still too noisy after the rerun, 5 a cell of BASE
missing from HEAD, 6 an output could not be written (also head's report); 130/143 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import compare
from atomic import OutputError, check_targets, write_atomic, write_stdout
from fmt import num

PLOTS = Path(__file__).resolve().parent
# The headline cells: cpu up to 2 workers under every runner (the kernel's cost is their whole cost; past the
# 2 cores of the machine the thresholds were measured on, oversubscribed cells swing by +-30% between rounds),
# and coro sleep at 1,000 in flight (no kernel at all: a slower kernel must not show there).
HEADLINE_FILTER = r"^(cpu/[a-z]+/workers:[12]/.*/work_us:100|sleep/coro/workers:1/concurrency:1000/wait_us:10000)$"
RECOMMENDED_THRESHOLDS = ("all=3", "p99=15", "sleep/.*:all=10")
DEFAULT_ROUNDS = 15
DEFAULT_DURATION = "0.3"
SUMMARY_LIMIT = 60_000  # GitHub refuses a comment over 65,536 characters
LISTED = (compare.REGRESSED, compare.TOO_NOISY, compare.NOT_IN_NEW)  # the rows a reviewer must see
SIDES = ("base", "head")


class Stop(Exception):
    """Ends the gate with an exit code and a message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def run_child(cmd: list[str], log: Path | None = None, cwd: Path | None = None) -> int:
    """Runs cmd to completion and returns its exit code; output to log (appended) or inherited. If the gate
    is interrupted meanwhile, the child gets the same signal and is waited for, so nothing outlives it."""
    out = open(log, "a", encoding="utf-8") if log else None
    try:
        child = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT if out else None)
        try:
            return child.wait()
        except Interrupted as e:
            child.send_signal(e.signum)
            child.wait()
            raise
    finally:
        if out:
            out.close()


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise Stop(compare.EXIT_BAD_INPUT, f"gate: git {' '.join(args)} in {repo}: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(repo: Path, rev: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise Stop(compare.EXIT_BAD_INPUT, f"gate: bad input: {rev!r} is not a commit of {repo}")
    return done.stdout.strip()


def check_out(repo: Path, src: Path, sha: str) -> None:
    """One worktree for both revisions: its build folder (ignored by git) survives the checkout."""
    if not (src / ".git").exists():
        git(repo, "worktree", "prune")  # a worktree folder deleted by hand is still registered
        src.parent.mkdir(parents=True, exist_ok=True)
        git(repo, "worktree", "add", "--detach", "--force", str(src), sha)
        return
    git(src, "checkout", "--quiet", "--detach", "--force", sha)  # --force: leftovers never block it
    git(src, "clean", "-fdq")  # untracked files, not ignored ones: the build folder stays


def build(repo: Path, src: Path, sha: str, side: str, out_dir: Path, configure_args: list[str]) -> tuple[Path, float]:
    """Builds `conpar` at sha; returns the copied binary and the build's seconds."""
    log = out_dir / f"build-{side}.log"
    log.write_text(f"gate: building {side} {sha}\n", encoding="utf-8")
    started = time.monotonic()
    check_out(repo, src, sha)
    configure = ["cmake", "--preset", "release", *configure_args]
    for cmd in (configure, ["cmake", "--build", "--preset", "release", "--target", "conpar"]):
        if run_child(cmd, log, cwd=src) != 0:
            raise Stop(compare.EXIT_BAD_INPUT, f"gate: bad input: {side} ({sha[:12]}) does not build: "
                                               f"`{' '.join(cmd)}` failed; see {log}")
    target = out_dir / "bin" / side
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "build" / "release" / "harness" / "conpar", target)  # later builds change nothing here
    return target, time.monotonic() - started


def run_ab(binaries: dict[str, Path], args: argparse.Namespace, rounds: int, seed: int, out_dir: Path) -> int:
    ab_dir = out_dir / "ab"
    cmd = [sys.executable, str(PLOTS / "ab.py"), str(binaries["base"]), str(binaries["head"]),
           "--rounds", str(rounds), "--seed", str(seed), "--out-dir", str(ab_dir),
           "--json", str(out_dir / "verdicts.json"), "--alpha", str(args.alpha)]
    for rule in args.threshold or RECOMMENDED_THRESHOLDS:
        cmd += ["--threshold", rule]
    cmd += ["--", "--filter", args.filter, "--duration", args.duration]
    code = run_child(cmd, out_dir / "ab.log")
    for side, name in (("base", "a"), ("head", "b")):  # ab's names are a and b; the gate's are the sides
        if (ab_dir / f"{name}.json").is_file():
            os.replace(ab_dir / f"{name}.json", out_dir / f"{side}.json")
    with contextlib.suppress(OSError):
        ab_dir.rmdir()
    return code


def rows_table(rows: list[dict], budget: int) -> tuple[str, int]:
    """The listed rows as a Markdown table within budget characters; returns it and how many were left out."""
    lines = ["| verdict | benchmark | metric | base median | head median | change | p | threshold |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    used = sum(len(line) + 1 for line in lines)
    for i, r in enumerate(rows):
        change = "" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%"
        p = "" if r["p"] is None else f"{r['p']:.3g}"
        line = (f"| {r['verdict']} | `{r['benchmark']}` | {r['metric']} | {num(r['base']['median'])} | "
                f"{num(r['new']['median'])} | {change} | {p} | {r['threshold_pct']:g}% |")
        if used + len(line) + 1 > budget:
            return "\n".join(lines), len(rows) - i
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines), 0


def summary_text(doc: dict | None, code: int, shas: dict[str, str], seconds: dict[str, float],
                 reruns: list[str], out_dir: Path) -> str:
    word = {0: "no regression", 1: "REGRESSION", 2: "bad input", 3: "benchmark errors", 4: "too noisy to judge",
            5: "a cell is missing from head", 6: "an output could not be written"}.get(code, f"exit {code}")
    head = [f"## conpar gate: {word} (exit {code})", "",
            f"base `{shas['base'][:12]}` → head `{shas['head'][:12]}`; "
            + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + "."]
    head += [f"- {line}" for line in reruns]
    if doc is None:
        return "\n".join(head + ["", f"No verdicts were written; see {out_dir}/ab.log."]) + "\n"
    s, ab = doc["summary"], doc.get("ab", {})
    thresholds = "; ".join(f"{t['benchmark'] + ':' if t['benchmark'] else ''}{t['metric']}={t['pct']:g}%"
                           for t in doc["thresholds"])
    head += [f"- {s['benchmarks']} cells x 3 metrics, {ab.get('rounds', '?')} interleaved rounds "
             f"(seed {ab.get('seed', '?')}); thresholds {thresholds}; alpha {doc['alpha']:g}.",
             "", "| verdict | count |", "|---|---:|"]
    head += [f"| {v} | {s[v]} |" for v in compare.VERDICTS if s.get(v)]
    if doc["errors"]:
        head += ["", "Benchmark errors: " + "; ".join(f"{e['run']}: `{e['benchmark']}`: {e['message']}"
                                                      for e in doc["errors"])[:4000]]
    if doc["warnings"]:
        head += [""] + [f"- {w}" for w in doc["warnings"]]
    tail = ["", "Unchanged, improved and no-data rows are only counted; every row is in verdicts.json. Files: "
                "verdicts.json, base.json, head.json, report.html (head), build-*.log, ab.log."]
    listed = [c for c in doc["comparisons"] if c["verdict"] in LISTED]
    text = "\n".join(head) + "\n"
    if listed:
        budget = SUMMARY_LIMIT - len(text) - len("\n".join(tail)) - 200
        table, left_out = rows_table(listed, budget)
        text += "\n" + table + "\n"
        if left_out:
            text += f"\n... and {left_out} more rows (the summary stops at {SUMMARY_LIMIT:,} characters).\n"
    return text + "\n".join(tail) + "\n"


def read_verdicts(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def gate(args: argparse.Namespace) -> int:
    repo = Path(git(args.repo, "rev-parse", "--show-toplevel"))
    out_dir = (args.out_dir or repo / "results" / "gate").resolve()
    src = (args.work_dir or repo / "build" / "gate").resolve() / "src"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Stop(compare.EXIT_OUTPUT_FAILED, f"gate: the output folder {out_dir}: {e.strerror}") from e
    outputs = ["summary.md", "verdicts.json", "base.json", "head.json", "report.html", "report.md"]
    try:
        check_targets([out_dir / name for name in outputs])  # before the builds, which take minutes
    except OutputError as e:
        raise Stop(compare.EXIT_OUTPUT_FAILED, f"gate: {e}") from e
    for name in outputs:  # nothing of an earlier gate run may pass for this one's
        (out_dir / name).unlink(missing_ok=True)
    shas = {"base": resolve(repo, args.base), "head": resolve(repo, args.head)}
    seconds: dict[str, float] = {}
    binaries: dict[str, Path] = {}
    for side in SIDES:
        if side == "head" and shas["head"] == shas["base"]:
            binaries["head"] = out_dir / "bin" / "head"
            shutil.copy2(binaries["base"], binaries["head"])
            continue
        binaries[side], seconds[f"build {side}"] = build(repo, src, shas[side], side, out_dir, args.configure_arg)
    print(f"gate: built base {shas['base'][:12]} and head {shas['head'][:12]}; ab: {args.rounds} rounds",
          file=sys.stderr, flush=True)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    started = time.monotonic()
    code = run_ab(binaries, args, args.rounds, seed, out_dir)
    reruns = []
    if code == compare.EXIT_TOO_NOISY:
        reruns.append(f"the first ab ({args.rounds} rounds, seed {seed}) was too noisy to judge; "
                      f"this is the rerun with {2 * args.rounds} rounds, seed {seed + 1}")
        print(f"gate: too noisy; running ab once more with {2 * args.rounds} rounds", file=sys.stderr, flush=True)
        code = run_ab(binaries, args, 2 * args.rounds, seed + 1, out_dir)
    seconds["ab"] = time.monotonic() - started
    if (out_dir / "head.json").is_file():
        report = [sys.executable, str(PLOTS / "report.py"), str(out_dir / "head.json"),
                  "--out-html", str(out_dir / "report.html"), "--out-md", str(out_dir / "report.md")]
        if run_child(report, out_dir / "report.log") != 0 and code == compare.EXIT_OK:
            print(f"gate: head's report was not written; see {out_dir / 'report.log'}", file=sys.stderr)
            code = compare.EXIT_OUTPUT_FAILED
    text = summary_text(read_verdicts(out_dir / "verdicts.json"), code, shas, seconds, reruns, out_dir)
    try:
        write_atomic(out_dir / "summary.md", text)
        write_stdout(text)
    except OutputError as e:
        raise Stop(compare.EXIT_OUTPUT_FAILED, f"gate: {e}") from e
    return code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build two revisions' conpar, run ab on the headline cells, write a PR-sized summary.",
        epilog="exit codes: 0 ok, 1 regression, 2 bad input (also a revision that does not build), "
               "3 benchmark errors, 4 still too noisy after one rerun with twice the rounds, 5 a cell missing "
               "from head, 6 an output could not be written, 130/143 interrupted")
    parser.add_argument("base", metavar="BASE_REV", help="the revision judged against (e.g. origin/main)")
    parser.add_argument("head", metavar="HEAD_REV", nargs="?", default="HEAD", help="the revision judged (HEAD)")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the git repository (default: here)")
    parser.add_argument("--work-dir", type=Path, help="worktree and build folder (default REPO/build/gate)")
    parser.add_argument("--out-dir", type=Path, help="outputs (default REPO/results/gate)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"ab rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument("--seed", type=int, help="seed of ab's round order (default: random, recorded)")
    parser.add_argument("--filter", default=HEADLINE_FILTER, help="the cells (default: the headline cells)")
    parser.add_argument("--duration", default=DEFAULT_DURATION, help=f"window seconds (default {DEFAULT_DURATION})")
    parser.add_argument("--threshold", type=compare.parse_rule, action="append", default=[],
                        metavar="[REGEX:]METRIC=PCT",
                        help="replaces the recommended " + " ".join(RECOMMENDED_THRESHOLDS))
    parser.add_argument("--alpha", type=compare.parse_alpha, default=compare.DEFAULT_ALPHA)
    parser.add_argument("--configure-arg", action="append", default=[], metavar="ARG",
                        help="passed to both revisions' `cmake --preset release` (e.g. "
                             "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache for a CI cache); repeatable")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: must be >= 1")
    args.threshold = [r.text() for r in args.threshold] if args.threshold else []
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)
    try:
        return gate(args)
    except Stop as stop:
        print(stop, file=sys.stderr)
        return stop.code
    except Interrupted as e:
        print(f"gate: interrupted by {signal.Signals(e.signum).name}", file=sys.stderr)
        return 128 + e.signum


if __name__ == "__main__":
    sys.exit(main())
