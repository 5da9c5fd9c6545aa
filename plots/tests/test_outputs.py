"""The one way every tool writes (atomic.py): an output target is checked before any work, a device, a FIFO, a
folder or a symbolic link is never replaced, a failed write is named by its target (never a temp file, never
"None") and has the tool's own exit code; stdout takes any text in any locale and a full stdout is an output
error, not a regression."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import ab
import atomic
import baseline
import compare
import export
import history
import report
from conftest import FIXTURE, PLOTS
from fake_conpar import calls, make_fake
from results import load_run, machine_class


class Tool:
    """One output option of one tool: run(target) runs the tool with that output at target and, where the tool
    has another, that one at other.json, which must stay unwritten when the target is refused before the work."""

    def __init__(self, name: str, exit_code: int, argv) -> None:
        self.name, self.exit_code, self.argv = name, exit_code, argv

    def run(self, tmp_path: Path, target: Path) -> int:
        main = {"report": report.main, "export": export.main, "compare": compare.main, "ab": ab.main,
                "baseline": baseline.main}[self.name.split()[0]]
        return main(self.argv(tmp_path, str(target)))


def _ab(option: str):
    def argv(tmp_path: Path, target: str) -> list[str]:
        a, b = make_fake(tmp_path, "a", 1000.0), make_fake(tmp_path, "b", 1000.0)
        return [str(a), str(b), "--rounds", "1", "--seed", "1", "--out-dir", str(tmp_path / "ab"),
                option, target, "--json" if option != "--json" else "--markdown", str(tmp_path / "other.json")]
    return argv


TOOLS = [
    Tool("report --out-html", 1, lambda t, x: ["--out-html", x, "--out-md", str(t / "other.json"), str(FIXTURE)]),
    Tool("report --out-md", 1, lambda t, x: ["--out-html", str(t / "other.json"), "--out-md", x, str(FIXTURE)]),
    Tool("export --bmf", 1, lambda t, x: [str(FIXTURE), "--bmf", x, "--github-action-smaller", str(t / "other.json")]),
    Tool("export --github-action-bigger", 1,
         lambda t, x: [str(FIXTURE), "--github-action-bigger", x, "--bmf", str(t / "other.json")]),
    Tool("export --github-action-smaller", 1, lambda t, x: [str(FIXTURE), "--github-action-smaller", x]),
    Tool("compare --markdown", 6, lambda t, x: [str(FIXTURE), str(FIXTURE), "--markdown", x,
                                                "--json", str(t / "other.json")]),
    Tool("compare --json", 6, lambda t, x: [str(FIXTURE), str(FIXTURE), "--json", x,
                                            "--markdown", str(t / "other.json")]),
    Tool("ab --markdown", 6, _ab("--markdown")),
    Tool("ab --json", 6, _ab("--json")),
]

FIXTURE_BASELINE = Path(machine_class(load_run(FIXTURE).context)) / "default.json"


def make_special(path: Path, kind: str) -> None:
    if kind == "device":
        try:  # the numbers of /dev/full: what the issue saw replaced, made here so no real device is at stake
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        except PermissionError:
            pytest.skip("mknod needs root")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        real = path.parent / "real.txt"
        real.write_text("kept")
        path.symlink_to(real)


def kind_of(path: Path) -> str:
    mode = os.lstat(path).st_mode
    return {stat.S_IFCHR: "device", stat.S_IFIFO: "fifo", stat.S_IFDIR: "directory",
            stat.S_IFLNK: "symlink"}.get(stat.S_IFMT(mode), "regular file")


REASONS = {"device": "not a regular file (a device, a FIFO or a socket), which is never replaced",
           "fifo": "not a regular file (a device, a FIFO or a socket), which is never replaced",
           "directory": "it is a directory",
           "symlink": "it is a symbolic link (to {real}): writing would replace the link, not the file it points "
                      "to; give that file's path"}


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp"))


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "symlink"])
@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_every_tool_refuses_a_device_fifo_folder_or_symlink_target_before_any_work(tmp_path, capsys, tool, kind):
    # report --out-html /dev/full, as root, used to exit 0 and leave /dev/full a regular file; so did export
    # and compare's outputs.
    target = tmp_path / "target"
    make_special(target, kind)
    rc = tool.run(tmp_path, target)
    out, err = capsys.readouterr()
    reason = REASONS[kind].format(real=tmp_path / "real.txt")
    assert rc == tool.exit_code
    assert f"{tool.name.split()[0]}: cannot write {target}: {reason}" in err.splitlines()
    assert kind_of(target) == kind
    assert kind != "symlink" or (tmp_path / "real.txt").read_text() == "kept"
    assert not (tmp_path / "other.json").exists() and out == ""  # nothing done: no output, no summary
    assert not (tmp_path / "ab").exists() and calls(tmp_path) == []  # ab ran no round
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_every_tool_refuses_an_output_in_a_file_or_unwritable_folder(tmp_path, capsys, monkeypatch, tool):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert tool.run(tmp_path, blocker / "out.json") == tool.exit_code
    assert f"cannot write {blocker / 'out.json'}: {blocker} is not a directory" in capsys.readouterr().err

    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access  # root may write anywhere; pretend it may not, as for any other user
    monkeypatch.setattr(os, "access", lambda p, m: real_access(p, m) and Path(p) != locked)
    assert tool.run(tmp_path, locked / "out.json") == tool.exit_code
    assert f"cannot write {locked / 'out.json'}: the folder {locked} is not writable" in capsys.readouterr().err
    assert not (tmp_path / "other.json").exists() and calls(tmp_path) == []


@pytest.mark.parametrize("tool", [t for t in TOOLS if t.name != "export --github-action-smaller"],
                         ids=lambda t: t.name)
def test_every_tool_refuses_two_outputs_at_one_path(tmp_path, capsys, tool):
    # The later output would silently replace the earlier one.
    target = tmp_path / "other.json"
    assert tool.run(tmp_path, target) == tool.exit_code
    assert f"{tool.name.split()[0]}: cannot write {target}: it is also the target of another output ({target})" \
        in capsys.readouterr().err.splitlines()
    assert not target.exists() and calls(tmp_path) == []


def test_baseline_record_refuses_a_device_node_at_the_baseline(tmp_path, capsys):
    target = tmp_path / "b" / FIXTURE_BASELINE
    target.parent.mkdir(parents=True)
    make_special(target, "device")
    assert baseline.main(["record", str(FIXTURE), "--baselines-dir", str(tmp_path / "b")]) == 1
    assert capsys.readouterr().err == f"baseline: cannot write {target}: {REASONS['device']}\n"
    assert kind_of(target) == "device"


def test_history_append_refuses_a_history_folder_that_is_a_file_or_unwritable(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert history.main(["append", str(FIXTURE), "--history-dir", str(blocker)]) == 1
    assert capsys.readouterr().err == f"history: cannot write {blocker}: {blocker} is not a directory\n"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: real_access(p, m) and Path(p) != locked)
    assert history.main(["append", str(FIXTURE), "--history-dir", str(locked)]) == 1
    assert capsys.readouterr().err == f"history: cannot write {locked}: the folder {locked} is not writable\n"
    assert list(locked.iterdir()) == []


# ---------------------------------------------------------------- a write that fails half-way

def disk_full_in(folder: Path, monkeypatch, name_the_temp: bool) -> None:
    """A rename (or link) into folder fails as on a full disk; with name_the_temp the error names the temp
    file, as os.replace's own errors do."""
    for func in ("replace", "link"):
        real = getattr(os, func)

        def failing(src, dst, *a, _real=real, **kw):
            if Path(dst).parent == folder:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *([src, dst] if name_the_temp else []))
            return _real(src, dst, *a, **kw)
        monkeypatch.setattr(os, func, failing)


WRITERS = [
    ("report", 1, lambda t: ["--out-html", str(t / "r.html"), "--out-md", str(t / "out" / "r.md"), str(FIXTURE)],
     "out/r.md"),
    ("export", 1, lambda t: [str(FIXTURE), "--bmf", str(t / "out" / "bmf.json")], "out/bmf.json"),
    ("compare", 6, lambda t: [str(FIXTURE), str(FIXTURE), "--json", str(t / "out" / "v.json")], "out/v.json"),
    ("ab", 6, lambda t: [str(make_fake(t, "a", 1000.0)), str(make_fake(t, "b", 1000.0)), "--rounds", "1",
                         "--seed", "1", "--out-dir", str(t / "out")], "out/a.json"),
    ("baseline", 1, lambda t: ["record", str(FIXTURE), "--baselines-dir", str(t / "out")],
     f"out/{FIXTURE_BASELINE}"),
]


@pytest.mark.parametrize("name_the_temp", [False, True], ids=["no-name", "temp-name"])
@pytest.mark.parametrize("tool, code, argv, target", WRITERS, ids=[w[0] for w in WRITERS])
def test_failed_write_names_the_target_and_exits_with_the_write_code(tmp_path, capsys, monkeypatch, tool, code,
                                                                     argv, target, name_the_temp):
    # Used to print "cannot write None" (no file name in the error) or the temp file's name; compare exited 2,
    # "bad input", for its own output.
    target = tmp_path / target
    target.parent.mkdir(parents=True, exist_ok=True)
    args = argv(tmp_path)
    disk_full_in(target.parent, monkeypatch, name_the_temp)
    rc = getattr(sys.modules[tool], "main")(args)
    err = capsys.readouterr().err
    assert rc == code
    assert f"{tool}: cannot write {target}: No space left on device" in err.splitlines()
    assert ".tmp" not in err and "None" not in err
    assert temp_files(tmp_path) == [] and not target.exists()


def test_history_failed_write_names_the_entry(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "h"
    folder.mkdir()
    disk_full_in(folder, monkeypatch, name_the_temp=False)
    assert history.main(["append", str(FIXTURE), "--history-dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"history: cannot write {folder}/2") and err.endswith(".json: No space left on device\n")
    assert ".tmp" not in err and list(folder.iterdir()) == []


# ---------------------------------------------------------------- stdout

def run_compare(*args: str, stdout=subprocess.PIPE, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PLOTS / "compare.py"), str(FIXTURE), str(FIXTURE), *args],
                          stdout=stdout, stderr=subprocess.PIPE, env={**os.environ, **env}, timeout=120)


def test_compare_in_an_ascii_locale_prints_utf8_not_exit_1(tmp_path):
    # "µs" on an ASCII stdout used to raise UnicodeEncodeError: exit 1, which reads as "regression".
    done = run_compare("--markdown", str(tmp_path / "s.md"), LC_ALL="C", LANG="C", PYTHONIOENCODING="ascii")
    assert done.returncode == compare.EXIT_OK, done.stderr
    assert done.stderr == b""
    assert done.stdout == (tmp_path / "s.md").read_bytes() and "µs".encode() in done.stdout


def test_compare_with_stdout_full_exits_6_naming_stdout_and_keeps_the_files(tmp_path):
    # > /dev/full used to end in a traceback with exit 1 ("regression"). Opening /dev/full to write is safe.
    with open("/dev/full", "wb") as full:
        done = run_compare("--json", str(tmp_path / "v.json"), stdout=full)
    assert done.returncode == compare.EXIT_OUTPUT_FAILED == 6
    assert done.stderr.decode() == "compare: cannot write stdout: No space left on device\n"
    assert (tmp_path / "v.json").exists()


def test_history_machine_class_with_stdout_full_exits_1(tmp_path):
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, str(PLOTS / "history.py"), "machine-class", str(FIXTURE)],
                              stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 1 and done.stderr.decode() == "history: cannot write stdout: No space left on device\n"


# ---------------------------------------------------------------- atomic.py itself

def test_write_atomic_replaces_a_regular_file_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "new" / "folder" / "out.txt"
    atomic.write_atomic(target, "µ first")
    atomic.write_atomic(target, "second")
    assert target.read_text() == "second" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert temp_files(tmp_path) == []


def test_write_new_never_replaces_even_a_device(tmp_path):
    target = tmp_path / "entry.json"
    make_special(target, "device")
    assert atomic.write_new(target, "x") is False and kind_of(target) == "device"
    assert temp_files(tmp_path) == []
