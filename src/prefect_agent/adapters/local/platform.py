"""``LocalPlatform``: each flow run as a subprocess of the agent, watched until it ends."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import attrs

from prefect_agent.adapters.local.flow_log_stream import FlowLogStream
from prefect_agent.adapters.local.malloc_arenas import limit_malloc_arenas
from prefect_agent.adapters.local.output_cap import cap_output
from prefect_agent.adapters.local.output_tail import last_lines
from prefect_agent.adapters.local.process_identity import ProcessIdentity, parent_pid
from prefect_agent.adapters.local.process_watcher import ProcessWatcher
from prefect_agent.adapters.local.run_records import RunRecord, RunRecords
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.domain.output_lines import Masker

logger = logging.getLogger(__name__)

STREAM_INTERVAL = 0.1
OUTPUT_CHECK_INTERVAL = 1.0
"""Seconds between two checks of running runs' output sizes against the cap."""
MIN_FREE_BYTES = 1024 * 1024
"""Below this much free space in the state directory nothing is claimed (runs stay Scheduled)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_state_dir(agent_name: str) -> Path:
    """``~/.prefect/agents/local/<agent name>``: one directory per agent, so agents sharing a
    machine never adopt each other's runs."""
    safe = _UNSAFE.sub("_", agent_name).strip("._") or "agent"
    return Path("~/.prefect/agents/local").expanduser() / safe


@attrs.define
class _Child:
    run_id: str
    run_name: str
    process: ProcessIdentity
    own: bool
    stop_deadline: float | None = None


class LocalPlatform:
    """Implements the ``Platform`` port with subprocesses, never through a shell.

    A run's process gets the environment of spec 7.1 over a copy of the agent's own (taken
    when the platform is built) with PYTHONPATH set to the working directory, the agent's
    PYTHONPATH and ``import_paths``. It starts in a session of its own (so stopping it stops
    what it started, and a Ctrl-C meant for the agent does not reach it) with stdin closed
    and stdout and stderr written to ``<state_dir>/<run id>.out``.

    One thread watches every process through pidfds and reaps it the moment it exits; with
    ``show_flow_logs`` it also copies new output lines to ``output``. A small record per run
    in ``state_dir`` lets a restarted agent find the runs still running (``adopt``); their
    exit code is unknowable then (they are no longer our children), so one that ends
    reports ``exit_code=None`` and the monitor decides from the run's state.
    """

    def __init__(
        self,
        *,
        state_dir: str | os.PathLike[str],
        import_paths: Iterable[str] = (),
        show_flow_logs: bool = False,
        python: str = sys.executable,
        environment: Mapping[str, str] | None = None,
        output: TextIO | None = None,
        tail_lines: int = 20,
        stop_grace_seconds: float = 10.0,
        output_max_bytes: int = 64 * 1024 * 1024,
        secrets: Sequence[str] = (),
        reap_orphans: bool | None = None,
    ) -> None:
        self._records = RunRecords(state_dir)
        self._import_paths = tuple(import_paths)
        self._show_flow_logs = show_flow_logs
        self._prefix = (python, "-m")
        self._environment = dict(os.environ if environment is None else environment)
        self._tail_lines = tail_lines
        self._stop_grace = stop_grace_seconds
        self._output_max_bytes = output_max_bytes
        self._next_output_check = 0.0
        self._lock = threading.Lock()
        self._launching = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
        self._starting: dict[str, threading.Event] = {}
        self._by_run: dict[str, _Child] = {}
        self._by_pid: dict[int, _Child] = {}
        self._outcomes: list[InfrastructureOutcome] = []
        self._verdicts_reported: set[str] = set()
        """Runs whose kept verdict this process reported (until it is acknowledged)."""
        self._mask = Masker(secrets)
        self._stream = FlowLogStream(output if output is not None else sys.stdout, self._mask)
        # Every run's stdin; opened once instead of once per launch.
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._records.ensure()
        except OSError as exc:
            raise PlatformUnavailable(
                f"Cannot create the local agent's state directory {self._records.directory}: "
                f"{exc.strerror or exc}"
            ) from exc
        try:
            self._claimant = self._records.claimant()
        except OSError as exc:
            raise PlatformUnavailable(
                f"Cannot keep the local agent's claim name in {self._records.directory}: "
                f"{exc.strerror or exc}"
            ) from exc
        self._watcher = ProcessWatcher(
            self._on_exit,
            tick=self._tick,
            reap_orphans=os.getpid() == 1 if reap_orphans is None else reap_orphans,
        )

    @classmethod
    def from_config(cls, config: AgentConfig) -> LocalPlatform:
        settings = config.platform
        if not isinstance(settings, LocalSettings):
            raise TypeError(f"LocalPlatform needs LocalSettings, not {type(settings).__name__}")
        # The agent's process (not an embedder's LocalPlatform(...)): its launch threads,
        # created after this, share two allocator arenas (see malloc_arenas.py).
        limit_malloc_arenas()
        return cls(
            state_dir=settings.state_dir or default_state_dir(config.name),
            import_paths=settings.import_paths,
            show_flow_logs=settings.show_flow_logs,
            tail_lines=settings.output_tail_lines,
            stop_grace_seconds=settings.stop_grace_seconds,
            output_max_bytes=settings.output_max_bytes,
            secrets=config.secrets,
        )

    @property
    def state_dir(self) -> Path:
        return self._records.directory

    # -- the Platform port -------------------------------------------------------------------

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return self._prefix

    def check(self) -> None:
        if not os.access(self._records.directory, os.W_OK | os.X_OK):
            raise PlatformUnavailable(
                f"The local agent's state directory {self._records.directory} is not writable"
            )
        try:
            stats = os.statvfs(self._records.directory)
        except OSError:
            return
        free = stats.f_bavail * stats.f_frsize
        # A claimed run would fail at once ("No space left on device"): claim none. Running
        # out of inodes gives the same error with bytes to spare.
        if free < MIN_FREE_BYTES or (stats.f_files > 0 and stats.f_favail == 0):
            raise PlatformUnavailable(
                f"The local agent's state directory {self._records.directory} is out of space "
                f"({free} bytes, {stats.f_favail} inodes free)"
            )

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        # Starting a process is CPU work under the GIL: more launches at once than cores
        # only adds switching (measured: 16 at once is 20% slower than 2 on 2 cores).
        with self._lock:
            starting = self._starting.get(run.id)
            if starting is None:
                self._starting[run.id] = threading.Event()
        if starting is not None:
            # The same run is being started by another thread right now: wait for that one.
            starting.wait()
            running = self._running_launch(run.id)
            if running is not None:
                return running
            return self.launch(run, spec)  # that start failed: try on our own
        try:
            with self._launching:
                return self._launch(run, spec)
        finally:
            with self._lock:
                self._starting.pop(run.id).set()

    def _launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        running = self._running_launch(run.id)
        if running is not None:
            return running
        if not spec.command:
            raise LaunchError(f"Flow run {run.id} has an empty launch command")
        if spec.working_dir and not os.path.isdir(spec.working_dir):
            raise LaunchError(
                f"Flow run {run.id} has a working_dir that does not exist: {spec.working_dir}"
            )
        environment = spec.environment(base=self._base_environment(spec.working_dir))
        # A verdict of an earlier launch of this run (a redeploy for task retries) is old news.
        self._records.verdict_path(run.id).unlink(missing_ok=True)
        try:
            output = self._records.open_output(run.id)
        except OSError as exc:
            raise PlatformUnavailable(
                f"Cannot write run output under {self._records.directory}: {exc.strerror}"
            ) from exc
        try:
            process = subprocess.Popen(
                list(spec.command),
                stdin=self._devnull,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=spec.working_dir or None,
                start_new_session=True,
            )
        except OSError as exc:
            self._records.remove(run.id)
            raise LaunchError(
                f"Flow run {run.id} could not start {spec.command[0]!r}: {exc.strerror or exc}"
            ) from exc
        finally:
            os.close(output)
        # This platform reaps its children itself (see ProcessWatcher). Marking the Popen
        # finished keeps subprocess's clean-up of dropped Popen objects from reaping them.
        process.returncode = 0
        pid = process.pid
        child = _Child(run.id, spec.run_name, ProcessIdentity.of(pid), own=True)
        try:
            self._records.write(
                RunRecord(run_id=run.id, run_name=spec.run_name, process=child.process)
            )
        except OSError as exc:
            # The run is started; failing it now would orphan a live process. It is watched
            # as usual, only a restarted agent would not find it.
            logger.warning(
                "Could not record flow run %s in %s (%s); a restarted agent will not find it",
                run.id, self._records.directory, exc.strerror or exc,
            )  # fmt: skip
        self._start_watching(child)
        logger.debug("Started flow run %s as PID %s: %s", run.id, pid, list(spec.command))
        return Launched(run.id, f"PID: {pid}")

    def infrastructure_logs(self) -> Sequence[RunLog]:
        # The exit code and the last output lines travel with the outcome instead.
        return ()

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        with self._lock:
            ready, self._outcomes = self._outcomes, []
        return ready

    def acknowledge(self, run_id: str) -> None:
        with self._lock:
            self._verdicts_reported.discard(run_id)
            if run_id in self._by_run:
                return  # launched again meanwhile (a redeploy): its record is the new one's
        self._records.remove(run_id)

    @property
    def claimant(self) -> str:
        return self._claimant

    def adopt(self) -> Sequence[str]:
        adopted: list[str] = []
        for record in self._records.all():
            with self._lock:
                known = record.run_id in self._by_run
            if known:
                adopted.append(record.run_id)
                continue
            if record.run_id in self._verdicts_reported:
                continue  # reported by this process already; kept until acknowledged
            verdict = self._records.read_verdict(record.run_id)
            if verdict is not None:
                # Ended under an earlier agent, which could not report it: report it now.
                outcome = _outcome_from(record.run_id, verdict)
                if outcome is not None:
                    with self._lock:
                        self._outcomes.append(outcome)
                        self._verdicts_reported.add(record.run_id)
                    adopted.append(record.run_id)
                    continue
            if self._adopt(record):
                adopted.append(record.run_id)
            else:
                # It ended while no agent watched it: report that once, then forget it.
                self._report(
                    _Child(record.run_id, record.run_name, record.process, own=False), None
                )
                adopted.append(record.run_id)
        return adopted

    def stop(self, run_id: str) -> str:
        with self._lock:
            child = self._by_run.get(run_id)
            if child is None:
                return ""
            if child.stop_deadline is None:
                child.stop_deadline = time.monotonic() + self._stop_grace
        self._signal(child, signal.SIGTERM)
        self._watcher.wake()
        return (
            f"process group {child.process.pid} (SIGTERM, then SIGKILL after "
            f"{self._stop_grace:g} s if still running)"
        )

    def close(self) -> None:
        self._watcher.close()
        self._stream.close()
        if self._devnull >= 0:
            os.close(self._devnull)
            self._devnull = -1

    # -- helpers -----------------------------------------------------------------------------

    def _base_environment(self, working_dir: str | None) -> dict[str, str]:
        return base_environment(self._environment, working_dir, self._import_paths)

    def _running_launch(self, run_id: str) -> Launched | None:
        """The existing launch of ``run_id``, adopting one a previous agent left running."""
        with self._lock:
            child = self._by_run.get(run_id)
        if child is None:
            record = self._records.read(run_id)
            if record is None or not self._adopt(record):
                return None
            with self._lock:
                child = self._by_run.get(run_id)
            if child is None:
                return None
        pid = child.process.pid
        return Launched(run_id, f"PID: {pid} (already running)")

    def _adopt(self, record: RunRecord) -> bool:
        if not record.process.is_running():
            return False
        own = parent_pid(record.process.pid) == os.getpid()
        child = _Child(record.run_id, record.run_name, record.process, own=own)
        self._start_watching(child)
        return True

    def _start_watching(self, child: _Child) -> None:
        with self._lock:
            first = not self._by_run
            self._by_run[child.run_id] = child
            self._by_pid[child.process.pid] = child
        if self._show_flow_logs:
            self._stream.follow(
                child.run_id, self._records.output_path(child.run_id), child.run_name
            )
        self._watcher.watch(child.process.pid, own_child=child.own)
        if first:
            # A wake-up runs _tick, which schedules the output checks (and, with
            # --show-flow-logs, the streaming interval); a watcher with nothing to watch
            # would otherwise sleep until some process ends. While others run it ticks
            # every OUTPUT_CHECK_INTERVAL (STREAM_INTERVAL) already, and takes this run
            # along: a wake-up per launch cost a thread switch each in a burst.
            self._watcher.wake()

    def _on_exit(self, pid: int, exit_code: int | None) -> None:
        with self._lock:
            child = self._by_pid.pop(pid, None)
            if child is not None:
                self._by_run.pop(child.run_id, None)
        if child is not None:
            self._report(child, exit_code)

    def _report(self, child: _Child, exit_code: int | None) -> None:
        if self._show_flow_logs:
            self._stream.finish(child.run_id)
        succeeded = exit_code == 0
        details = (
            ()
            if succeeded
            else tuple(
                self._mask(line)
                for line in last_lines(self._records.output_path(child.run_id), self._tail_lines)
            )
        )
        outcome = InfrastructureOutcome(
            run_id=child.run_id,
            succeeded=succeeded,
            reason=_reason(child, exit_code),
            exit_code=exit_code,
            details=details,  # type: ignore[arg-type]  # attrs converter=tuple
            ended_at=datetime.now(timezone.utc),
        )
        try:
            # Kept until acknowledged, so a restarted agent can still report it.
            self._records.write_verdict(child.run_id, _verdict_of(outcome))
        except OSError as exc:
            logger.warning(
                "Could not keep the verdict of flow run %s on disk (%s); a restarted agent "
                "will not report it", child.run_id, exc.strerror or exc,
            )  # fmt: skip
        if not succeeded:
            logger.info("Flow run %s: %s", child.run_id, outcome.reason)
        with self._lock:
            self._outcomes.append(outcome)
            self._verdicts_reported.add(child.run_id)

    def _tick(self) -> float | None:
        wait: float | None = None
        if self._show_flow_logs and len(self._stream):
            self._stream.pump()
            wait = STREAM_INTERVAL
        now = time.monotonic()
        with self._lock:
            running = list(self._by_run)
            stopping = [c for c in self._by_run.values() if c.stop_deadline is not None]
        if running:
            if now >= self._next_output_check:
                self._next_output_check = now + OUTPUT_CHECK_INTERVAL
                for run_id in running:
                    if cap_output(self._records.output_path(run_id), self._output_max_bytes):
                        logger.info(
                            "Flow run %s wrote more than %d bytes of output; keeping its tail",
                            run_id,
                            self._output_max_bytes,
                        )
            left = max(0.0, self._next_output_check - now)
            wait = left if wait is None else min(wait, left)
        for child in stopping:
            assert child.stop_deadline is not None
            if child.stop_deadline <= now:
                self._signal(child, signal.SIGKILL)
                child.stop_deadline = float("inf")
            elif child.stop_deadline != float("inf"):
                left = child.stop_deadline - now
                wait = left if wait is None else min(wait, left)
        return wait

    def _signal(self, child: _Child, signum: signal.Signals) -> None:
        # An adopted pid is checked again first: it may have been reused by now. Our own
        # children cannot be: an unreaped pid is never handed out again.
        if not child.own and not child.process.is_running():
            return
        try:
            os.killpg(child.process.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError as exc:
            logger.warning(
                "Cannot stop flow run %s (PID %s): %s", child.run_id, child.process.pid, exc
            )


def _verdict_of(outcome: InfrastructureOutcome) -> dict[str, Any]:
    return {
        "succeeded": outcome.succeeded,
        "reason": outcome.reason,
        "exit_code": outcome.exit_code,
        "details": list(outcome.details),
        "ended_at": outcome.ended_at.isoformat() if outcome.ended_at else None,
    }


def _outcome_from(run_id: str, verdict: Mapping[str, Any]) -> InfrastructureOutcome | None:
    try:
        ended = verdict.get("ended_at")
        code = verdict.get("exit_code")
        return InfrastructureOutcome(
            run_id=run_id,
            succeeded=bool(verdict["succeeded"]),
            reason=str(verdict.get("reason") or ""),
            exit_code=None if code is None else int(code),
            details=[str(line) for line in verdict.get("details") or ()],  # type: ignore[arg-type]
            ended_at=datetime.fromisoformat(ended) if ended else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("Ignoring the unreadable verdict of flow run %s: %s", run_id, exc)
        return None


def base_environment(
    agent_environment: Mapping[str, str], working_dir: str | None, import_paths: Iterable[str]
) -> dict[str, str]:
    """A run's base environment: the agent's own, with PYTHONPATH the working directory (or
    the agent's), then the agent's PYTHONPATH, then ``import_paths`` (as Prefect 1.4.1)."""
    environment = dict(agent_environment)
    paths = [working_dir or os.getcwd()]
    if agent_environment.get("PYTHONPATH"):
        paths.append(agent_environment["PYTHONPATH"])
    paths.extend(import_paths)
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def _reason(child: _Child, exit_code: int | None) -> str:
    pid = child.process.pid
    if exit_code is None:
        return (
            f"The flow run process (PID {pid}) ended while this agent was not its parent "
            "(it was started before the agent restarted), so its exit code is unknown"
        )
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"The flow run process (PID {pid}) was killed by {name} (exit code {exit_code})"
    return f"The flow run process (PID {pid}) exited with code {exit_code}"
