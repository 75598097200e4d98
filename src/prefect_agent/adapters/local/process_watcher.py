"""One thread that learns the moment a watched process ends, and reaps it at once.

Each process is watched through a pidfd in a selector (Linux 5.3+), so no thread or process
per run is needed and no SIGCHLD handler has to be installed. Where pidfds are missing the
thread checks the watched pids every ``FALLBACK_INTERVAL`` seconds instead.

When the agent runs as PID 1 (in a container), orphaned grandchildren are re-parented to it;
with ``reap_orphans`` the thread also collects any exited child every ``ORPHAN_INTERVAL``
seconds, so none stays a zombie. Only this thread ever calls ``waitpid``.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

FALLBACK_INTERVAL = 0.2
ORPHAN_INTERVAL = 0.5
_KEPT_ORPHAN_EXITS = 4096

# (pid, exit code or None when the process was not our child and its code is unknowable)
ExitCallback = Callable[[int, "int | None"], None]


def exit_code_of(status: int) -> int:
    """A wait status as an exit code; a signal ``n`` becomes ``-n`` as in ``subprocess``."""
    return os.waitstatus_to_exitcode(status)


class ProcessWatcher:
    """Calls ``on_exit(pid, code)`` on its own thread once for each watched process that ends.

    ``tick()`` is called after every wake-up and returns how soon it wants the next one
    (None: only when something happens); the platform streams output and escalates stops
    there.
    """

    def __init__(
        self,
        on_exit: ExitCallback,
        *,
        tick: Callable[[], float | None] = lambda: None,
        reap_orphans: bool = False,
        use_pidfd: bool | None = None,
    ) -> None:
        self._on_exit = on_exit
        self._tick = tick
        self._reap_orphans = reap_orphans
        self._use_pidfd = hasattr(os, "pidfd_open") if use_pidfd is None else use_pidfd
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pidfds: dict[int, int] = {}
        self._polled: set[int] = set()
        self._children: set[int] = set()
        self._orphan_exits: dict[int, int] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="local-processes", daemon=True)
        self._thread.start()

    def watch(self, pid: int, *, own_child: bool) -> None:
        """Watch ``pid``; ``own_child`` says whether this process started it (and can reap it).

        The lock is held only around the shared sets, never around a system call: launches
        on other threads call this while the watching thread reaps.
        """
        if own_child:
            with self._lock:
                status = self._orphan_exits.pop(pid, None)
                if status is None:
                    self._children.add(pid)
            if status is not None:
                # The orphan reaper collected it before we were told it is ours.
                self._on_exit(pid, exit_code_of(status))
                return
        if self._use_pidfd:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                with self._lock:
                    code = self._collect_locked(pid)
                self._on_exit(pid, code)
                return
            except OSError:
                pass  # out of file descriptors: this one is checked on the fallback interval
            else:
                with self._lock:
                    if self._closed:
                        os.close(fd)
                        return
                    # epoll sees a registration made while the thread waits: no wake-up.
                    self._pidfds[pid] = fd
                    self._selector.register(fd, selectors.EVENT_READ, pid)
                return
        with self._lock:
            self._polled.add(pid)
        self.wake()

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # already awake-pending
        except OSError:
            pass

    def close(self) -> None:
        """Stop watching; the processes go on running."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        with self._lock:
            for fd in self._pidfds.values():
                os.close(fd)
            self._pidfds.clear()
            self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the thread ---------------------------------------------------------------------------

    def _loop(self) -> None:
        timeout: float | None = None
        while True:
            with self._lock:
                if self._closed:
                    return
                if self._polled:
                    timeout = _earliest(timeout, FALLBACK_INTERVAL)
                if self._reap_orphans:
                    timeout = _earliest(timeout, ORPHAN_INTERVAL)
            try:
                events = self._selector.select(timeout)
            except (OSError, ValueError):
                if self._closed:
                    return
                raise
            ended: list[tuple[int, int | None]] = []
            with self._lock:
                if self._closed:
                    return
                for key, _mask in events:
                    if key.data is None:
                        _drain(self._wake_r)
                        continue
                    pid = key.data
                    fd = self._pidfds.pop(pid, None)
                    if fd is not None:
                        self._selector.unregister(fd)
                        os.close(fd)
                        ended.append((pid, self._collect_locked(pid)))
                for pid in list(self._polled):
                    code = self._poll_locked(pid)
                    if code is not _RUNNING:
                        self._polled.discard(pid)
                        ended.append((pid, code))  # type: ignore[arg-type]
                if self._reap_orphans:
                    ended.extend(self._reap_any_locked())
            for pid, code in ended:
                try:
                    self._on_exit(pid, code)
                except Exception:  # one bad callback must not end the watching of the others
                    logger.exception("Error handling the end of process %s", pid)
            try:
                timeout = self._tick()
            except Exception:
                logger.exception("Error in the local platform's periodic work")
                timeout = None

    def _collect_locked(self, pid: int) -> int | None:
        """Reap ``pid`` if it is our child; its exit code, or None when it is not ours."""
        if pid not in self._children:
            return None
        self._children.discard(pid)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status_kept = self._orphan_exits.pop(pid, None)
            return None if status_kept is None else exit_code_of(status_kept)
        return exit_code_of(status)

    def _poll_locked(self, pid: int) -> int | object | None:
        if pid in self._children:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                self._children.discard(pid)
                return None
            if done == 0:
                return _RUNNING
            self._children.discard(pid)
            return exit_code_of(status)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError as exc:
            if exc.errno != errno.EPERM:
                return None
        return _RUNNING

    def _reap_any_locked(self) -> list[tuple[int, int | None]]:
        ended: list[tuple[int, int | None]] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in self._children:
                self._children.discard(pid)
                fd = self._pidfds.pop(pid, None)
                if fd is not None:
                    self._selector.unregister(fd)
                    os.close(fd)
                self._polled.discard(pid)
                ended.append((pid, exit_code_of(status)))
            else:
                # An orphan, or a child we are about to be told about by watch().
                self._orphan_exits[pid] = status
                while len(self._orphan_exits) > _KEPT_ORPHAN_EXITS:
                    del self._orphan_exits[next(iter(self._orphan_exits))]
        return ended


_RUNNING = object()


def _earliest(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, OSError):
        pass
