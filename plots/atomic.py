"""Atomic file writes shared by every output of plots/: a reader never sees a half-written file."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _write_temp(path: Path, content: str | bytes) -> str:
    """A complete temp file beside path (so the rename stays on one file system); returns its name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if isinstance(content, bytes):
            with os.fdopen(fd, "wb") as f:
                f.write(content)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(content)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; an output is for everyone to read
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, content: str | bytes) -> None:
    """Temp file in the same folder, then rename over path."""
    tmp = _write_temp(path, content)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new(path: Path, content: str | bytes) -> bool:
    """Like write_atomic, but never replaces a file: False, and nothing written, if path exists, even when
    another writer creates it meanwhile (link() refuses an existing name where rename() replaces it)."""
    tmp = _write_temp(path, content)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
