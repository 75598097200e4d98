"""The local agent's process caps glibc's malloc arenas (issue 18: flat memory over time)."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

# Counts the arenas glibc reports (malloc_info's <heap nr=...> elements) after eight
# threads each allocated and kept blocks outside the Python allocator.
COUNT_ARENAS = textwrap.dedent(
    """
    import ctypes, os, sys, tempfile, threading
    from prefect_agent.adapters.local.malloc_arenas import limit_malloc_arenas
    if sys.argv[1] == "limit":
        assert limit_malloc_arenas()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.fdopen.restype = ctypes.c_void_p
    kept = []
    barrier = threading.Barrier(8)
    def work():
        barrier.wait()  # all eight allocate at once, so they cannot share by taking turns
        for _ in range(200):
            kept.append(libc.malloc(4096))
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    with tempfile.TemporaryFile() as out:
        stream = libc.fdopen(os.dup(out.fileno()), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        out.seek(0)
        print(out.read().decode().count("<heap nr="))
    """
)


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="not glibc")
def test_threads_share_two_arenas_once_limited() -> None:
    assert _arenas("limit") <= 2
    assert _arenas("default") > 2  # the check itself can tell the difference
