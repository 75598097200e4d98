"""Telling whether a process id still names the process the agent started (not a reused pid)."""

from __future__ import annotations

import functools
import os

import attrs

_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


@functools.cache
def boot_id() -> str | None:
    """This boot's id (Linux); a record from an earlier boot names no living process.

    Read once: it cannot change while this process lives (and it saves a read per launch).
    """
    text = _read(_BOOT_ID)
    return text.strip() if text else None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (field n is at index n - 3), or None."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def _stat_field(pid: int, number: int) -> int | None:
    fields = _stat_fields(pid)
    try:
        return int(fields[number - 3]) if fields else None
    except (IndexError, ValueError):
        return None


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    return _stat_field(pid, 22)


def parent_pid(pid: int) -> int | None:
    """The parent of ``pid`` (field 4 of /proc/<pid>/stat), or None when unknown."""
    return _stat_field(pid, 4)


def is_alive(pid: int) -> bool:
    """True while ``pid`` exists (a zombie still counts: it is not reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.frozen
class ProcessIdentity:
    """A pid plus what makes it unique over time: its start tick and the boot it ran in."""

    pid: int
    started: int | None
    boot: str | None

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        return cls(pid=pid, started=start_ticks(pid), boot=boot_id())

    def is_running(self) -> bool:
        """Whether this very process still exists (False once the pid was reused)."""
        if self.boot is not None and self.boot != boot_id():
            return False
        if not is_alive(self.pid):
            return False
        if self.started is None:
            return True  # no /proc here: the pid is all we can go by
        return start_ticks(self.pid) == self.started
