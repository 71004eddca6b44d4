"""Writes that never leave a half-written file behind."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename over ``path``.

    The rename is atomic on one file system, so a crash or SIGKILL leaves either
    the old file or the complete new one, never a partial file under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def append_line_atomic(path: Path, line: str) -> None:
    """Append one line by rewriting the whole file atomically (fine for small files).

    After a crash or SIGKILL the file holds every old line and either the whole
    new line or none of it; a plain ``open(..., "a")`` can leave half a line.
    Not for files that several processes append to at once (the last writer wins).
    """
    path = Path(path)
    text = line.rstrip("\n")
    if "\n" in text or "\r" in text:
        raise ValueError("append_line_atomic writes exactly one line")
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    if old and not old.endswith(b"\n"):
        old += b"\n"  # a file edited by hand may lack its last newline
    data = old + text.encode("utf-8") + b"\n"
    write_atomic(path, lambda tmp: tmp.write_bytes(data))
