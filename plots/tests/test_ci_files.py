"""The copy-ready CI files (.github/workflows/conpar-gate.yml, .ci/gitlab-gate.yml) cannot run here, so
this checks what can be checked: the YAML parses (Debian's python3-yaml), every repository path their
commands name exists, their gate command parses with gate.py's own options, and the outputs they publish
are the ones the gate writes."""
from __future__ import annotations

import shlex
from pathlib import Path

import gate
import pytest
import yaml

from conftest import PLOTS

ROOT = PLOTS.parent
GITHUB = ROOT / ".github" / "workflows" / "conpar-gate.yml"
GITLAB = ROOT / ".ci" / "gitlab-gate.yml"
TOP_LEVEL = {p.name for p in ROOT.iterdir()}
# What the CI systems substitute before the shell sees a command.
SAMPLE_ENV = {"$GITHUB_BASE_REF": "main", "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}


def github_commands() -> list[str]:
    jobs = yaml.safe_load(GITHUB.read_text())["jobs"]
    return [s["run"] for job in jobs.values() for s in job["steps"] if "run" in s]


def gitlab_commands() -> list[str]:
    job = yaml.safe_load(GITLAB.read_text())["conpar-gate"]
    return [*job["before_script"], *job["script"]]


def words(commands: list[str]) -> list[list[str]]:
    out = []
    for command in commands:
        for line in command.splitlines():
            for var, value in SAMPLE_ENV.items():
                line = line.replace(var, value)
            out.append(shlex.split(line, comments=True))
    return out


def repo_paths(commands: list[str]) -> list[str]:
    """Words that name a file of this repository: a relative path whose first part is a top-level entry."""
    return [w for ws in words(commands) for w in ws
            if "/" in w and not w.startswith(("-", "$", "/", "origin/")) and w.split("/")[0] in TOP_LEVEL]


def gate_argv(commands: list[str]) -> list[str]:
    calls = [ws for ws in words(commands) if "plots/gate.py" in ws]
    assert len(calls) == 1, calls
    ws = calls[0]
    return ws[ws.index("plots/gate.py") + 1:]


@pytest.mark.parametrize("commands", [github_commands, gitlab_commands], ids=["github", "gitlab"])
def test_every_path_the_commands_name_exists(commands):
    paths = repo_paths(commands())
    assert "cmake/install-deps.sh" in paths and "plots/gate.py" in paths
    missing = [p for p in paths if not (ROOT / p).exists() and not p.startswith("results/")]  # results: outputs
    assert not missing


@pytest.mark.parametrize("commands", [github_commands, gitlab_commands], ids=["github", "gitlab"])
def test_the_gate_command_parses_and_writes_where_the_files_are_published(commands):
    args = gate.parse_args(gate_argv(commands()))
    assert args.base == "origin/main" and args.head == "HEAD" and str(args.out_dir) == "results/gate"


def test_github_runs_on_pull_requests_in_debian_12_and_publishes_everything():
    doc = yaml.safe_load(GITHUB.read_text())
    assert "pull_request" in doc[True]  # YAML 1.1 reads the key `on` as true
    job = doc["jobs"]["gate"]
    assert job["container"] == "debian:12"
    steps = job["steps"]
    gate_step = next(s for s in steps if s.get("id") == "gate")
    assert "$GITHUB_STEP_SUMMARY" in gate_step["run"] and "results/gate/summary.md" in gate_step["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"].rstrip("/") == "results/gate" and upload["if"] == "always()"
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert "results/gate/summary.md" in comment["with"]["script"]
    assert doc["permissions"]["pull-requests"] == "write"
    assert steps[-1]["run"] == "exit ${{ steps.gate.outputs.code }}"  # the check fails as the gate does


def test_gitlab_runs_on_merge_requests_in_debian_12_and_keeps_the_outputs():
    job = yaml.safe_load(GITLAB.read_text())["conpar-gate"]
    assert job["image"] == "debian:12"
    assert any("merge_request_event" in r["if"] for r in job["rules"])
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == ["results/gate/"]
