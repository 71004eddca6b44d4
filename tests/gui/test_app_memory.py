"""The app caps glibc's malloc arenas: each training run's new thread cannot grow one more (``gui.app``)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

# Eight threads alive at once, each allocating through malloc; then the arenas malloc_info lists.
SCRIPT = """
import ctypes, sys, tempfile, threading
if sys.argv[1] == "app":
    from gui.app import _application
    _application([])
libc = ctypes.CDLL("libc.so.6")
together = threading.Barrier(8)
def work():
    kept = [ctypes.create_string_buffer(1000) for _ in range(50)]  # over pymalloc's 512 bytes: malloc
    together.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r", suffix=".xml") as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(report.read().count("<heap nr="))
"""


def _arenas(how: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | {"QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, how], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return int(run.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
def test_the_app_keeps_threads_to_two_malloc_arenas():
    from gui.app import MALLOC_ARENAS

    assert _arenas("app") <= MALLOC_ARENAS
    assert _arenas("plain") > MALLOC_ARENAS  # without the app's cap, eight threads get arenas of their own
