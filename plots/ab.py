#!/usr/bin/python3
"""conpar ab: runs two builds of conpar interleaved on this machine, then judges B against A.

    python3 plots/ab.py CONPAR_A CONPAR_B [--rounds 10] [--seed S] [--out-dir results/ab]
                        [--threshold [REGEX:]METRIC=PCT]... [--alpha A] [--allow-mismatch]
                        [--markdown FILE] [--json FILE] [-- CONPAR_RUN_OPTIONS...]

Why interleave: on a shared, noisy machine the speed of the machine itself drifts (other tenants,
thermal throttling, frequency changes) over minutes. When the rounds of A and B alternate, in an
order drawn afresh each round, that drift hits A and B alike and the comparison stays fair; compared
with a baseline stored last week (or run an hour earlier) it lands on one side only and reads as a
regression or an improvement of the code.

Each round runs `CONPAR_X run --repetitions 1 --out TMP <run options>` once for A and once for B, in a
random order (seeded; the seed and every round's order are recorded). Round r becomes repetition r of
that build in DIR/a.json and DIR/b.json: valid conpar results files (the first round's context plus an
"ab" entry; median/mean/stddev/cv rows recomputed over the rounds; each round's histogram kept on its
row). B is then judged against A exactly as compare.py judges NEW against BASE.

Exit codes: compare.py's (0 ok, 1 regression, 2 bad input, 3 benchmark errors, 4 too noisy, 5 a
benchmark missing from B, 6 an output could not be written: checked before the first round), where
2 also covers a missing or non-executable binary, bad options, and a conpar that exits 2 (bad input;
ab stops at once) or fails in another way; 3 also when a round's conpar exits 3 (cell errors; the
rounds go on); 130/143 when interrupted (SIGINT/SIGTERM to ab or to conpar): the running conpar gets
the signal, ab waits for it and writes nothing. Temporary files are removed on every path.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import compare
from atomic import OutputError, check_targets, write_atomic
from results import InputError, is_number, load_run

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("a", "b")
DEFAULT_ROUNDS = 10
AB_SCHEMA_VERSION = 1

# conpar's own exit codes (README "Exit codes").
CONPAR_OK, CONPAR_WRITE_FAILED, CONPAR_BAD_INPUT, CONPAR_CELL_ERRORS = 0, 1, 2, 3
INTERRUPTS = (signal.SIGINT, signal.SIGTERM)
STDERR_FD = 2

# ab sets these itself: one repetition per round, into its own file.
RESERVED_OPTIONS = ("--out", "--repetitions", "--list", "--benchmark_repetitions", "--benchmark_out")

# Numbers of a row that name it rather than measure it: aggregate rows copy them, not average them.
IDENTITY_KEYS = frozenset({"family_index", "per_family_instance_index", "repetitions", "repetition_index",
                           "threads", "iterations", "noisy"})
AGGREGATES = (("mean", "time"), ("median", "time"), ("stddev", "time"), ("cv", "percentage"))
DEFAULT_NOISE_CV_LIMIT = 0.05  # conpar's k_noise_cv_limit, for a context that does not say


class Stop(Exception):
    """Ends the rounds early with an exit code; the message is printed when there is one."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- signals and the child

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:
    _LIBC = None
PR_SET_PDEATHSIG = 1  # Linux


def _child_setup() -> None:
    """In the child, before exec: take the signals ab held back while starting it, and, should ab die
    without a chance to forward (SIGKILL), get SIGTERM rather than measure on for nobody."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))


class Children:
    """Runs one conpar at a time and forwards SIGINT/SIGTERM received by ab to it. conpar stops its cell
    and exits 128 + N on the first; a second signal to ab kills it outright."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.proc: subprocess.Popen | None = None
        self._forwarded = 0

    def _on_signal(self, sig: int, _frame) -> None:
        if self.signal is None:
            self.signal = sig
        self._forward(sig)

    def _forward(self, sig: int) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        self._forwarded += 1
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig if self._forwarded == 1 else signal.SIGKILL)

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[Children]:
        previous = {s: signal.signal(s, self._on_signal) for s in INTERRUPTS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def run(self, argv: list[str]) -> int:
        """conpar's exit code; a conpar killed by signal N before its handlers were up counts as 128 + N."""
        self._forwarded = 0
        # Held back until self.proc is set, so that a signal is forwarded exactly once.
        signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
        try:
            # conpar's progress and summary lines go to stderr: ab's stdout is the comparison alone.
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=STDERR_FD, preexec_fn=_child_setup)
        except OSError as e:
            raise Stop(compare.EXIT_BAD_INPUT, f"ab: cannot run {argv[0]}: {e.strerror}") from e
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
        try:
            if self.signal is not None and self._forwarded == 0:  # it came before the child existed
                self._forward(self.signal)
            rc = self.proc.wait()
        finally:
            if self.proc.returncode is None:  # only on an exception in ab itself: leave no conpar behind
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        return 128 - rc if rc < 0 else rc


# ---------------------------------------------------------------- merging rounds into one results file

def _finite(values: list) -> list[float]:
    return [float(v) for v in values if is_number(v) and math.isfinite(v)]


def _stat(name: str, values: list[float]) -> float | None:
    """Google Benchmark's statistics: sample standard deviation; cv = stddev / mean; NaN becomes null,
    as conpar writes it."""
    if not values:
        return None
    if name == "mean":
        return statistics.fmean(values)
    if name == "median":
        return statistics.median(values)
    stddev = statistics.stdev(values) if len(values) > 1 else 0.0
    if name == "stddev":
        return stddev
    mean = statistics.fmean(values)
    return stddev / mean if mean != 0 else None


def aggregate_rows(name: str, rows: list[dict]) -> list[dict]:
    """mean, median, stddev and cv rows over a cell's successful repetitions (two or more, as Google
    Benchmark only aggregates then), each counter over the repetitions that carry it."""
    if len(rows) < 2:
        return []
    keys = list(dict.fromkeys(k for r in rows for k in r))
    measured = [k for k in keys if k not in IDENTITY_KEYS and any(is_number(r.get(k)) for r in rows)]
    template = {k: v for k, v in rows[0].items() if k not in measured and k not in ("histogram", "repetition_index")}
    out = []
    for aggregate, unit in AGGREGATES:
        row = {**template, "name": f"{name}_{aggregate}", "run_name": name, "run_type": "aggregate",
               "aggregate_name": aggregate, "aggregate_unit": unit, "iterations": len(rows)}
        for k in measured:
            row[k] = _stat(aggregate, _finite([r.get(k) for r in rows]))
        out.append(row)
    return out


def merge_rounds(docs: list[dict], meta: dict) -> dict:
    """One results file from one-repetition files: round r's iteration rows become repetition r."""
    rounds = len(docs)
    context = dict(docs[0]["context"])
    context["repetitions"] = rounds
    if "load_avg_after" in docs[-1]["context"]:
        context["load_avg_after"] = docs[-1]["context"]["load_avg_after"]  # after the whole A/B run
    context["ab"] = meta
    limit = context.get("noise_cv_limit")
    limit = float(limit) if is_number(limit) else DEFAULT_NOISE_CV_LIMIT

    cells: dict[str, list[dict]] = {}
    for r, doc in enumerate(docs):
        seen: set[str] = set()
        for row in doc["benchmarks"]:
            if row.get("run_type", "iteration") != "iteration":
                continue
            name = row.get("run_name", row["name"])
            if name in seen:
                raise Stop(compare.EXIT_BAD_INPUT,
                           f"ab: round {r + 1} has more than one repetition of {name}: ab runs one per round "
                           "(do not pass repetition options)")
            seen.add(name)
            cells.setdefault(name, []).append({**row, "repetition_index": r, "repetitions": rounds})

    benchmarks: list[dict] = []
    for name, rows in cells.items():
        aggregates = aggregate_rows(name, [x for x in rows if not x.get("error_occurred")])
        cv = next((a.get("items_per_second") for a in aggregates if a["aggregate_name"] == "cv"), None)
        if aggregates:  # as conpar marks it: every row of a cell whose throughput CV is above the limit
            noisy = 1 if is_number(cv) and cv > limit else 0
            for x in rows + aggregates:
                x["noisy"] = noisy
        benchmarks += rows + aggregates
    return {"context": context, "benchmarks": benchmarks}


def _json_safe(x):
    """NaN and infinities become null, as conpar writes them: the file stays strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


def results_text(doc: dict) -> str:
    return json.dumps(_json_safe(doc), indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


# ---------------------------------------------------------------- the rounds

def check_binary(label: str, path: Path) -> str:
    """The absolute path of an executable file, or Stop(2) naming the problem."""
    if not path.exists():
        raise Stop(compare.EXIT_BAD_INPUT, f"ab: {label} {path}: no such file")
    if not path.is_file():
        raise Stop(compare.EXIT_BAD_INPUT, f"ab: {label} {path}: not a file")
    if not os.access(path, os.X_OK):
        raise Stop(compare.EXIT_BAD_INPUT, f"ab: {label} {path}: not executable")
    return str(path.absolute())


def read_round(path: Path, what: str) -> dict:
    try:
        load_run(path)  # the same checks every reader of results files makes
        return json.loads(path.read_text(encoding="utf-8"))
    except InputError as e:
        raise Stop(compare.EXIT_BAD_INPUT, f"ab: {what} wrote no usable results: {e}") from e


def run_rounds(children: Children, binaries: dict[str, str], orders: list[list[str]], run_options: list[str],
               tmp: Path, allow_mismatch: bool) -> tuple[dict[str, list[dict]], list[str]]:
    """Every round's results per build, and the rounds whose conpar reported cell errors."""
    docs: dict[str, list[dict]] = {s: [] for s in SIDES}
    cell_errors: list[str] = []
    for r, order in enumerate(orders):
        for side in order:
            what = f"{side.upper()} ({binaries[side]}) in round {r + 1} of {len(orders)}"
            if children.signal is not None:
                raise Stop(128 + children.signal, f"ab: interrupted by {signal.Signals(children.signal).name} "
                                                  f"before {what}; nothing written")
            out = tmp / f"round-{r + 1}-{side}.json"
            print(f"ab: round {r + 1}/{len(orders)}: {side.upper()}", file=sys.stderr, flush=True)
            rc = children.run([binaries[side], "run", "--repetitions", "1", "--out", str(out), *run_options])
            if children.signal is not None:
                raise Stop(128 + children.signal, f"ab: interrupted by {signal.Signals(children.signal).name} "
                                                  f"during {what}; nothing written")
            if rc in (128 + s for s in INTERRUPTS):
                raise Stop(rc, f"ab: conpar {what} was interrupted (exit {rc}); nothing written")
            if rc == CONPAR_BAD_INPUT:
                raise Stop(compare.EXIT_BAD_INPUT, f"ab: conpar {what} exited 2 (bad input); stopping")
            if rc not in (CONPAR_OK, CONPAR_CELL_ERRORS):
                why = " (its results could not be written)" if rc == CONPAR_WRITE_FAILED else ""
                raise Stop(compare.EXIT_BAD_INPUT, f"ab: conpar {what} failed with exit code {rc}{why}; stopping")
            if rc == CONPAR_CELL_ERRORS:
                cell_errors.append(what)
                print(f"ab: conpar {what} exited 3 (cell errors); going on", file=sys.stderr)
            docs[side].append(read_round(out, f"conpar {what}"))
            out.unlink()
        if r == 0 and not allow_mismatch:
            # The builds' contexts are known after one round: refuse now rather than after all of them.
            diffs = compare.context_differences(docs["a"][0]["context"], docs["b"][0]["context"])
            if diffs:
                raise Stop(compare.EXIT_BAD_INPUT,
                           "ab: the builds' runs are not comparable (--allow-mismatch compares them anyway):\n"
                           + "\n".join(f"  {field}: A {compare.show_value(a)}, B {compare.show_value(b)}"
                                        for field, a, b in diffs))
    return docs, cell_errors


def appendix(meta: dict, files: dict[str, Path]) -> str:
    orders = " ".join("".join(s.upper() for s in o) for o in meta["order"])
    return "\n".join([
        "## A/B run", "",
        f"B is judged against A, both run on this machine in {meta['rounds']} interleaved rounds, the order drawn "
        f"per round (seed {meta['seed']}): {orders}.", "",
        *[f"- {s.upper()}: {compare.md_code(meta['binaries'][s])} ({meta['commits'][s]}), merged rounds in "
          f"{compare.md_code(str(files[s]))}" for s in SIDES],
    ]) + "\n"


# ---------------------------------------------------------------- command line

def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    cut = argv.index("--") if "--" in argv else len(argv)
    own, run_options = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(
        prog="ab.py",
        usage="%(prog)s CONPAR_A CONPAR_B [options] [-- CONPAR_RUN_OPTIONS...]",
        description="Run two conpar builds interleaved on this machine (one repetition each per round, the "
                    "order random per round) and judge B against A as compare.py does. Options after -- go "
                    "to each `conpar run` (e.g. --filter REGEX --duration 0.2).",
        epilog="exit codes: 0 ok, 1 regression, 2 bad input (a missing binary, a conpar that exits 2 or fails), "
               "3 benchmark errors (also a round whose conpar exits 3), 4 too noisy, 5 a benchmark missing from B, "
               "6 an output could not be written, 130/143 interrupted")
    parser.add_argument("conpar_a", type=Path, metavar="CONPAR_A", help="the base build's conpar binary")
    parser.add_argument("conpar_b", type=Path, metavar="CONPAR_B", help="the build judged against it")
    parser.add_argument("--rounds", type=_positive, default=DEFAULT_ROUNDS,
                        help=f"rounds, each one repetition of A and of B (default {DEFAULT_ROUNDS}; "
                             f"the U test wants at least {compare.MIN_REPETITIONS})")
    parser.add_argument("--seed", type=int, help="seed of the per-round order (default: a random one, recorded)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "results" / "ab",
                        help="where a.json and b.json go (default: results/ab in the repository)")
    compare.add_options(parser)
    args = parser.parse_args(own)
    for option in run_options:
        if option.split("=", 1)[0] in RESERVED_OPTIONS:
            parser.error(f"{option}: ab sets the run's repetitions and output itself; leave it out after --")
    return args, run_options


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args, run_options = parse_args(sys.argv[1:] if argv is None else argv)
    children = Children()
    try:
        with children.handling_signals():
            return _main(args, run_options, children)
    except Stop as stop:
        if str(stop):
            print(stop, file=sys.stderr)
        return stop.code


def _main(args: argparse.Namespace, run_options: list[str], children: Children) -> int:
    binaries = {"a": check_binary("CONPAR_A", args.conpar_a), "b": check_binary("CONPAR_B", args.conpar_b)}
    files = {s: args.out_dir / f"{s}.json" for s in SIDES}
    try:
        check_targets([*files.values(), args.markdown, args.json])  # before the rounds, which take minutes
    except OutputError as e:
        raise Stop(compare.EXIT_OUTPUT_FAILED, f"ab: {e}") from e
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 32)
    rng = random.Random(seed)
    orders = [rng.sample(SIDES, 2) for _ in range(args.rounds)]
    print(f"ab: {args.rounds} rounds, seed {seed}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="conpar-ab-") as tmp:
        docs, cell_errors = run_rounds(children, binaries, orders, run_options, Path(tmp), args.allow_mismatch)

    meta = {"schema_version": AB_SCHEMA_VERSION, "rounds": args.rounds, "seed": seed, "order": orders,
            "binaries": binaries, "run_options": run_options,
            "commits": {s: compare.short_commit(docs[s][0]["context"]) for s in SIDES}}
    merged = {s: merge_rounds(docs[s], {**meta, "build": s,
                                        "round_dates": [d["context"].get("date") for d in docs[s]]})
              for s in SIDES}
    # From here on a signal waits until the outputs are complete: all of them or, before, none.
    signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        if children.signal is not None:
            raise Stop(128 + children.signal, f"ab: interrupted by {signal.Signals(children.signal).name}; "
                                              "nothing written")
        try:
            for s in SIDES:
                write_atomic(files[s], results_text(merged[s]))
        except OutputError as e:
            raise Stop(compare.EXIT_OUTPUT_FAILED, f"ab: {e}") from e
        code = compare.gate(files["a"], files["b"], args, appendix=appendix(meta, files),
                            extra={"ab": {**meta, "files": {s: str(files[s]) for s in SIDES}}})
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
    if children.signal is not None:
        return 128 + children.signal
    if cell_errors and code not in (compare.EXIT_BAD_INPUT, compare.EXIT_OUTPUT_FAILED):
        print(f"ab: cell errors in {len(cell_errors)} runs: " + "; ".join(cell_errors), file=sys.stderr)
        return compare.EXIT_BENCHMARK_ERRORS
    return code


if __name__ == "__main__":
    sys.exit(main())
