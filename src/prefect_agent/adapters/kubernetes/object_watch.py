"""A local copy of one kind of this agent's objects, kept by list-then-watch from a version.

The cost of watching does not grow with the number of jobs: one paged listing at start (and
after 410 Gone), then one long-lived watch stream that carries only changes, resumed from the
last resource version seen (bookmarks keep that version fresh while nothing of ours changes).
Only the fields the agent judges by are kept (``job_status``' trimming), so 5000 jobs fit
in a few megabytes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
"""Objects per listing page: a relist of 5000 jobs never holds more than one page's JSON."""
WATCH_SECONDS = 290
"""Server-side length of one watch stream (an API server ends streams after 30-60 min)."""
READ_SLACK_SECONDS = 60.0
"""Read timeout beyond the stream's length: bookmarks arrive about every minute."""
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits between attempts while the API fails, longest last (kept)."""

Lister = Callable[..., Any]
"""A ``list_namespaced_*`` call of the kubernetes client, bound to namespace and selector."""
Trim = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""The fields kept of an object, or None for one that is not this agent's."""
Changed = Callable[[str, "dict[str, Any] | None", "dict[str, Any] | None"], None]
"""Called with (name, old copy, new copy or None once deleted) under no lock of ours."""


class GoneError(Exception):
    """The version to resume from is older than the API server keeps (HTTP 410 Gone)."""


def _lines(response: Any) -> Iterator[bytes]:
    pending = b""
    for chunk in response.stream(None, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


class ObjectWatch:
    """The objects one listing selects, by name, kept current on a thread of its own.

    ``relist()`` replaces the copy with a fresh paged listing (the sync pass calls it when the
    thread is not running); the thread lists once, then watches from the listing's version,
    and lists again only when the API answers 410 Gone (events were compacted away while it
    was disconnected: the listing recovers them). ``changed`` hears every difference.
    """

    def __init__(
        self,
        kind: str,
        lister: Lister,
        trim: Trim,
        changed: Changed,
        *,
        timeout: float,
        stopped: threading.Event,
    ) -> None:
        self.kind = kind
        self._lister = lister
        self._trim = trim
        self._changed = changed
        self._timeout = timeout
        self._stopped = stopped
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Any]] = {}
        self.version: str | None = None
        self.synced = threading.Event()
        self.relists = 0
        self._thread: threading.Thread | None = None
        self._response: Any = None

    # -- reading the copy ----------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get(name)

    def values(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._objects.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)

    # -- keeping it current --------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"kubernetes-watch-{self.kind}", daemon=True
            )
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        """End the stream in progress (the thread sees ``stopped`` and returns)."""
        response = self._response
        if response is not None:
            try:
                response.shutdown()
            except Exception:  # an already closed stream
                logger.debug("Could not shut the %s watch stream down", self.kind)

    def relist(self) -> None:
        """Replace the copy with a paged listing; raises the API's errors."""
        fresh: dict[str, dict[str, Any]] = {}
        token: str | None = None
        version = ""
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            response = self._lister(
                _preload_content=False, _request_timeout=self._timeout, **kwargs
            )
            page = json.loads(response.data)
            metadata = page.get("metadata") or {}
            version = version or str(metadata.get("resourceVersion") or "")
            for item in page.get("items") or ():
                trimmed = self._trim(item)
                if trimmed is not None:
                    fresh[trimmed["metadata"]["name"]] = trimmed
            del page
            token = metadata.get("continue")
            if not token:
                break
        with self._lock:
            old, self._objects = self._objects, fresh
            self.version = version or None
        self.relists += 1
        for name in old.keys() | fresh.keys():
            if old.get(name) != fresh.get(name):
                self._changed(name, old.get(name), fresh.get(name))
        self.synced.set()

    def _run(self) -> None:
        failures = 0
        failing = False
        while not self._stopped.is_set():
            try:
                if self.version is None or not self.synced.is_set():
                    self.relist()
                self._watch()
                failures = 0
                if failing:
                    logger.info("Watching this agent's %s works again", self.kind)
                failing = False
            except GoneError:
                logger.info("The %s watch expired (410 Gone): listing them again", self.kind)
                self.version = None
            except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                if isinstance(exc, ApiException) and exc.status == 410:
                    self.version = None
                    continue
                if self._stopped.is_set():
                    return
                if not failing:
                    logger.warning("Could not watch this agent's %s: %s", self.kind, exc)
                failing = True
                self._stopped.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1

    def _watch(self) -> None:
        """One watch stream from ``version`` until the server ends it."""
        response = self._lister(
            watch=True,
            resource_version=self.version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(self._timeout, WATCH_SECONDS + READ_SLACK_SECONDS),
        )
        self._response = response
        try:
            for line in _lines(response):
                if self._stopped.is_set():
                    return
                self._apply(json.loads(line))
        finally:
            self._response = None
            response.release_conn()

    def _apply(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        metadata = obj.get("metadata") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise GoneError(obj.get("message") or "410 Gone")
            raise ValueError(f"watch error {obj.get('code')}: {obj.get('message')}")
        version = metadata.get("resourceVersion")
        if kind == "BOOKMARK":
            if version:
                self.version = str(version)
            return
        name = metadata.get("name")
        if not name:
            return
        trimmed = None if kind == "DELETED" else self._trim(obj)
        with self._lock:
            old = self._objects.get(name)
            if trimmed is None:
                self._objects.pop(name, None)
            else:
                self._objects[name] = trimmed
            if version:
                self.version = str(version)
        if old != trimmed:
            self._changed(name, old, trimmed)
