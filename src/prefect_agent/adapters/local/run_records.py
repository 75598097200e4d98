"""The local platform's state directory: one small record per launched run, for restarts."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from prefect_agent.adapters.local.process_identity import ProcessIdentity
from prefect_agent.adapters.local.spare_files import SpareFiles
from prefect_agent.domain.errors import ConfigError

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_RECORD = ".json"
_OUTPUT = ".out"
_VERDICT = ".verdict"
_CLAIMANT = "claimant"
_SPARE_DIR = "spare"


STATE_DIR_KEY = "agent.local.state_dir"


def check_state_dir(directory: str | os.PathLike[str]) -> None:
    """A ``ConfigError`` unless ``directory`` exists or could be created, found without
    creating it (``config`` checks what ``start`` would, and leaves nothing behind): a
    directory is made and removed in its nearest existing ancestor."""
    path = Path(directory).expanduser().absolute()
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{path} is not writable", key=STATE_DIR_KEY)
        return
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".prefect-agent-probe-", dir=ancestor))
    except OSError as exc:
        raise ConfigError(
            f"cannot create {path}: {exc.strerror or exc} in {ancestor}", key=STATE_DIR_KEY
        ) from None


@attrs.frozen(kw_only=True)
class RunRecord:
    """What a restarted agent needs to find a run's process again and read its output."""

    run_id: str
    run_name: str
    process: ProcessIdentity


class RunRecords:
    """Records live in ``<directory>/<run id>.json``; each run's output in ``<run id>.out``.

    A record is written when a run is launched. When its process ends, the verdict (exit
    code, reason, last lines, time) is written beside it in ``<run id>.verdict``; record,
    output and verdict are removed only once the agent acknowledged the outcome (the API has
    the state it caused), so a restarted agent reports a verdict its predecessor could not.
    Removed records and verdicts are kept, emptied, in ``spare/`` and renamed into place for
    later ones (``SpareFiles``: creating files cost more than anything else in a burst). The
    file
    ``claimant`` holds this agent's durable claim name.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()
        self.spares = SpareFiles(self.directory / _SPARE_DIR)

    def ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.spares.adopt()

    def _stem(self, run_id: str) -> str:
        # Run ids are UUIDs; anything else is hashed so it can never escape the directory.
        if _SAFE_NAME.match(run_id):
            return run_id
        return "run-" + hashlib.sha256(run_id.encode()).hexdigest()[:32]

    def open_output(self, run_id: str) -> int:
        """A new, empty output file for the run, as a file descriptor for its process."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        try:
            return os.open(self.output_path(run_id), flags, 0o600)
        except FileNotFoundError:
            self.ensure()
            return os.open(self.output_path(run_id), flags, 0o600)

    def output_path(self, run_id: str) -> Path:
        return self.directory / (self._stem(run_id) + _OUTPUT)

    def record_path(self, run_id: str) -> Path:
        return self.directory / (self._stem(run_id) + _RECORD)

    def verdict_path(self, run_id: str) -> Path:
        return self.directory / (self._stem(run_id) + _VERDICT)

    def write_verdict(self, run_id: str, verdict: dict[str, Any]) -> None:
        self._write_json(self.verdict_path(run_id), verdict)

    def read_verdict(self, run_id: str) -> dict[str, Any] | None:
        try:
            body = json.loads(self.verdict_path(run_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring the unreadable verdict of run %s: %s", run_id, exc)
            return None
        return body if isinstance(body, dict) else None

    def claimant(self) -> str:
        """This agent's durable claim name: made once, then read back by every restart."""
        path = self.directory / _CLAIMANT
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            text = ""
        if not text:
            text = f"local-{uuid.uuid4()}"
            temporary = self.directory / f"{_CLAIMANT}.{uuid.uuid4().hex}.tmp"
            temporary.write_text(text, encoding="ascii")
            try:
                os.link(temporary, path)  # never replaces a name another process just made
            except FileExistsError:
                text = path.read_text(encoding="ascii").strip()
            finally:
                temporary.unlink(missing_ok=True)
        return text

    def write(self, record: RunRecord) -> None:
        body = {
            "run_id": record.run_id,
            "run_name": record.run_name,
            "pid": record.process.pid,
            "started": record.process.started,
            "boot": record.process.boot,
        }
        self._write_json(self.record_path(record.run_id), body)

    def _write_json(self, path: Path, body: dict[str, Any]) -> None:
        temporary = Path(f"{path}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self.spares.take(temporary)
        try:
            fd = os.open(temporary, flags, 0o600)
        except FileNotFoundError:  # the directory was removed under us: make it again
            self.ensure()
            fd = os.open(temporary, flags, 0o600)
        try:
            os.write(fd, json.dumps(body).encode())
        finally:
            os.close(fd)
        # Written aside then renamed, so a crash never leaves a half-written record behind.
        os.replace(temporary, path)

    def read(self, run_id: str) -> RunRecord | None:
        return self._load(self.record_path(run_id))

    def remove(self, run_id: str) -> None:
        self.spares.give(self.record_path(run_id))
        self.spares.give(self.verdict_path(run_id))
        # Never reused: a process the run left behind may still write to it.
        self.output_path(run_id).unlink(missing_ok=True)

    def all(self) -> Iterator[RunRecord]:
        try:
            paths = sorted(self.directory.glob("*" + _RECORD))
        except OSError:
            return
        for path in paths:
            record = self._load(path)
            if record is not None:
                yield record

    def _load(self, path: Path) -> RunRecord | None:
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            return RunRecord(
                run_id=str(body["run_id"]),
                run_name=str(body.get("run_name") or body["run_id"]),
                process=ProcessIdentity(
                    pid=int(body["pid"]), started=body.get("started"), boot=body.get("boot")
                ),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("Ignoring the unreadable run record %s: %s", path, exc)
            return None
