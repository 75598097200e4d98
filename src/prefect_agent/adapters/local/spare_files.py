"""Emptied files of finished runs, kept to be renamed into place instead of created anew.

Every run used to create three files in the state directory (output, record, verdict) and
delete them once its outcome was handled; records and verdicts, which only the agent writes,
now come from here (an output file is never reused: a process the run left behind may still
hold it open). On ext4 that churn made inode allocation the local
agent's largest cost in a burst: the allocator skips inodes deleted in the last few seconds,
scanning past more of them the faster runs come and go (measured: more than half of the
agent's CPU, under its launch threads' directory lock). A rename allocates no inode.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from pathlib import Path

SPARE_FILES = 4096
"""Spare files kept at most; beyond that a finished run's files are deleted as before."""


class SpareFiles:
    """A bounded pool of empty files in ``directory`` (the state directory's ``spare``).

    ``give`` empties a file that is no longer needed and moves it into the pool (or deletes
    it when the pool is full); ``take`` moves one to a new name. The lock guards only the
    list of names, never a system call: launch threads take while the monitor gives.
    """

    def __init__(self, directory: Path, keep: int = SPARE_FILES) -> None:
        self.directory = directory
        self._keep = keep
        self._names: list[str] = []
        self._lock = threading.Lock()
        self._serial = itertools.count()
        self._token = uuid.uuid4().hex[:8]  # never a name an earlier agent left behind

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)

    def adopt(self) -> None:
        """Make the pool's directory, and reuse the spare files an earlier process left
        (deleting those beyond the bound)."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        try:
            names = sorted(entry.name for entry in os.scandir(self.directory) if entry.is_file())
        except OSError:
            return
        with self._lock:
            known = set(self._names)  # ensure() runs again if the directory was removed
            names = [name for name in names if name not in known]
            room = max(0, self._keep - len(self._names))
            self._names.extend(names[:room])
        for name in names[room:]:
            (self.directory / name).unlink(missing_ok=True)

    def take(self, path: Path) -> bool:
        """Move a spare file to ``path`` (replacing any file there); False when none is left."""
        while True:
            with self._lock:
                if not self._names:
                    return False
                name = self._names.pop()
            try:
                os.rename(self.directory / name, path)
                return True
            except FileNotFoundError:
                continue  # removed by hand meanwhile: the next one
            except OSError:
                return False

    def give(self, path: Path) -> None:
        """Empty the file at ``path`` and keep it as a spare, or delete it (no file: no-op)."""
        with self._lock:
            full = len(self._names) >= self._keep
            name = "" if full else f"{self._token}-{next(self._serial)}"
        if full:
            path.unlink(missing_ok=True)
            return
        try:
            # Emptied here, off the launch path, and so that no run's output outlives it.
            os.truncate(path, 0)
            os.rename(path, self.directory / name)
        except OSError:
            # No such file (a run that has no verdict), or no pool directory (removed by
            # hand): deleted as before.
            path.unlink(missing_ok=True)
            return
        with self._lock:
            self._names.append(name)
