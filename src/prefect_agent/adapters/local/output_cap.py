"""Keeping each run's output file within a size cap, tail kept, while the run still writes it.

Children write their output straight to a file (never a pipe the agent must drain), so the
agent cannot refuse bytes; it frees the head of the file instead. On Linux file systems that
can punch holes (ext4, xfs, btrfs, tmpfs) the head's blocks are released in place: the run's
file descriptor, its offset and any reader's offset stay valid. Elsewhere the file is cut to
its tail with a copy, and bytes written during that copy may be lost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

_PUNCH_HOLE = 0x02  # FALLOC_FL_PUNCH_HOLE
_KEEP_SIZE = 0x01  # FALLOC_FL_KEEP_SIZE
_BLOCK = 4096


def _load_fallocate() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        function = libc.fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


_fallocate = _load_fallocate()


def stored_bytes(path: Path) -> int:
    """Bytes the file really occupies (a punched head no longer counts)."""
    try:
        info = os.stat(path)
    except OSError:
        return 0
    return min(info.st_size, info.st_blocks * 512)


def cap_output(path: Path, max_bytes: int) -> bool:
    """Free the head of ``path`` when it stores more than ``max_bytes``, keeping about the
    last half. Returns whether anything was freed; never raises."""
    if stored_bytes(path) <= max_bytes:
        return False
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        keep = max_bytes // 2
        head = (size - keep) // _BLOCK * _BLOCK
        if head <= 0:
            return False
        if _fallocate is not None and _fallocate(fd, _PUNCH_HOLE | _KEEP_SIZE, 0, head) == 0:
            return True
        if _fallocate is not None and ctypes.get_errno() not in (errno.EOPNOTSUPP, errno.ENOSYS):
            return False
        tail = os.pread(fd, size - head, head)
        os.ftruncate(fd, 0)
        os.pwrite(fd, tail, 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
