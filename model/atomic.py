"""Writes that never leave a half-written file behind."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def _current_umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide, racy with threads)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (POSIX only)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else, or cannot tell: leave it
    return True


_TEMP_FOLDER = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")  # .NAME.PID.RANDOM.tmp, as write_atomic makes


def _remove_abandoned(folder: Path) -> None:
    """Delete the temporary folders in ``folder`` of processes that died while writing (a kill, a crash)."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return
    with suppress(OSError):
        for entry in folder.glob(".*.tmp"):
            match = _TEMP_FOLDER.match(entry.name)
            if not match or int(match.group(1)) == os.getpid() or _pid_alive(int(match.group(1))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: without it a power cut can undo the rename (POSIX only)."""
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, write: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename over ``path``.

    The rename is atomic on one file system, so a crash or SIGKILL leaves either
    the old file or the complete new one, never a partial file under ``path``.
    ``tmp`` has ``path``'s own name (so ``suffix`` is no longer needed) inside a
    hidden folder ``.NAME.PID.XXXX.tmp``: a half-written file never matches a
    pattern such as ``*.keras``, and the next write in the same folder removes
    what a killed process left behind. The new file keeps the old one's permissions, or
    gets the usual ones (0666 less the umask) rather than ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path.parent)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    tmp = folder / path.name
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_UMASK
        with suppress(OSError):
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
