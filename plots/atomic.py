"""The one way plots/ writes an output: the target is checked before any work (a bad path costs nothing),
the content goes to a temp file beside it and is renamed over it (a reader never sees half a file), a
device, a folder or a symbolic link is never replaced, and every error names the target as given."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path


class OutputError(Exception):
    """An output that cannot be written; the message names the target, never a temp file."""

    def __init__(self, target: Path | str, reason: str) -> None:
        super().__init__(f"cannot write {target}: {reason}")


def _reason(e: OSError) -> str:
    return e.strerror or str(e)


def check_folder(folder: Path, target: Path | str) -> None:
    """The folder, or the nearest ancestor that exists (write_atomic makes the rest), is a writable directory."""
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(target, f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(target, f"the folder {existing} is not writable")


def check_target(path: Path) -> None:
    """Raises OutputError unless write_atomic could put a regular file at path. rename() would replace a
    device node (as root: /dev/full becomes a plain file), a FIFO or a symbolic link without a word."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None  # a new file; check_folder says what is wrong with its folder
    except OSError as e:
        raise OutputError(path, _reason(e)) from e
    if mode is None or stat.S_ISREG(mode):
        check_folder(path.parent, path)
    elif stat.S_ISLNK(mode):
        raise OutputError(path, f"it is a symbolic link (to {os.readlink(path)}): writing would replace the link, "
                                "not the file it points to; give that file's path")
    elif stat.S_ISDIR(mode):
        raise OutputError(path, "it is a directory")
    else:
        raise OutputError(path, "not a regular file (a device, a FIFO or a socket), which is never replaced")


def check_targets(paths: Iterable[Path | None]) -> None:
    """check_target for each output a tool was given (None: not asked for); two outputs at one path would
    leave only the last one written."""
    seen: dict[Path, Path] = {}
    for path in paths:
        if path is None:
            continue
        check_target(path)
        same = seen.setdefault(path.absolute(), path)
        if same is not path:
            raise OutputError(path, f"it is also the target of another output ({same})")


def _write_temp(path: Path, content: str | bytes) -> str:
    """A complete temp file beside path (so the rename stays on one file system); returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape"))
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; an output is for everyone to read
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, content: str | bytes) -> None:
    """Temp file in the same folder, then rename over path. Checks path again: it may have become a device
    or a link since the tool started."""
    check_target(path)
    try:
        tmp = _write_temp(path, content)
        try:
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise OutputError(path, _reason(e)) from e


def write_new(path: Path, content: str | bytes) -> bool:
    """Like write_atomic, but never replaces a file: False, and nothing written, if path exists, even when
    another writer creates it meanwhile (link() refuses an existing name where rename() replaces it)."""
    check_folder(path.parent, path)
    try:
        tmp = _write_temp(path, content)
    except OSError as e:
        raise OutputError(path, _reason(e)) from e
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise OutputError(path, _reason(e)) from e
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_stdout(text: str) -> None:
    """text on stdout as UTF-8, whatever the locale: a summary holds "µ", which an ASCII stdout cannot
    encode. A stdout that cannot take it (full, a closed pipe) raises OutputError naming stdout."""
    if sys.stdout is None:
        raise OutputError("stdout", "it is closed")
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))  # surrogates: undecodable path bytes
        sys.stdout.flush()
    except OSError as e:
        _discard_stdout()
        raise OutputError("stdout", _reason(e)) from e


def _discard_stdout() -> None:
    """Points stdout's descriptor at /dev/null: what stays buffered would fail again when Python flushes at
    exit, print a traceback and turn the exit code into 120."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both: a captured stdout has no descriptor
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)
