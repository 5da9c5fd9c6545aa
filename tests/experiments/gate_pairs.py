#!/usr/bin/python3
"""The gate's figures for README "The pull-request gate": `conpar gate` with its defaults (the headline
cells, 15 rounds of 0.3 s windows, the recommended thresholds) on a temporary copy of this tree with a
commit that plants a 5% slower kernel and one that changes only README.md (tests/gate_test.py makes both).
Prints each pair's exit code, wall time and summary size. Takes about 8 minutes on 2 cores; needs a quiet
machine.

    python3 tests/experiments/gate_pairs.py CONPAR [OUT_DIR]   (default results/experiments/gate_pairs)
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import gate_test  # noqa: E402

PERCENT = 5


def main() -> int:
    conpar = sys.argv[1]
    out = Path(sys.argv[2] if len(sys.argv) > 2 else gate_test.ROOT / "results" / "experiments" / "gate_pairs")
    shutil.rmtree(out, ignore_errors=True)
    repo = out / "repo"
    repo.mkdir(parents=True)
    gate_test.make_repo(repo, PERCENT)
    for head in ("planted", "docs"):
        started = time.monotonic()
        done = subprocess.run([conpar, "gate", "base", head, "--repo", str(repo), "--out-dir", str(out / head),
                               "--seed", "1"], capture_output=True, text=True)
        seconds = time.monotonic() - started
        summary = (out / head / "summary.md").read_text()
        print(f"gate base {head} ({PERCENT}% planted)" if head == "planted" else "gate base docs (unchanged code)",
              f"exit {done.returncode}, {seconds:.0f} s wall, summary {len(summary)} characters")
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
