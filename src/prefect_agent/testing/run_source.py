"""An in-memory Prefect API with Prefect Server's queue semantics and enforced version locks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from prefect_agent.domain.errors import ApiError, VersionConflict
from prefect_agent.domain.flow_run import FlowRun, TaskRun
from prefect_agent.domain.labels import LabelPolicy
from prefect_agent.domain.outcomes import (
    Claimed,
    ClaimLost,
    ClaimResult,
    ReadyRuns,
    RunDetails,
    RunLog,
    RunStatus,
    UnreadableRun,
)
from prefect_agent.domain.queue_limits import PREFECT_SERVER_RETURN_LIMIT, PREFECT_SERVER_SCAN_LIMIT
from prefect_agent.domain.run_config import RunConfig
from prefect_agent.domain.states import (
    CANCELLED,
    CANCELLED_BY_USER,
    CANCELLING,
    FAILED,
    RUNNING,
    SCHEDULED,
    SUBMITTED,
    cancelled_state,
    failed_state,
    is_finished,
    is_scheduled,
    serialized_state,
    submitted_state,
)
from prefect_agent.ports import Clock
from prefect_agent.testing.clock import FakeClock
from prefect_agent.testing.faults import Faults

RETRY_BUFFER = timedelta(seconds=3)
"""Task runs are redeployed only once their start time is this far in the past (Prefect 1)."""


@attrs.define
class StoredTaskRun:
    id: str
    version: int
    state: str
    start_time: datetime | None
    serialized_state: dict[str, Any]
    task_id: str = ""


@attrs.define
class StoredRun:
    """One run as the fake stores it. Tests may read anything; change it via the source."""

    id: str
    flow_id: str
    flow_name: str
    name: str
    version: int
    state: str
    serialized_state: dict[str, Any]
    start_time: datetime | None
    labels: tuple[str, ...]
    run_config: RunConfig | None = None
    core_version: str | None = "1.4.1"
    storage_type: str | None = None
    storage_image: str | None = None
    task_runs: list[StoredTaskRun] = attrs.field(factory=list)
    history: list[str] = attrs.field(factory=list)
    unreadable_reason: str | None = None
    claimant: str | None = None


class InMemoryRunSource:
    """Implements the ``RunSource`` port in memory.

    Like Prefect Server, ``ready_runs`` looks at the ``scan_limit`` earliest eligible runs,
    applies the label rule, and returns at most ``return_limit`` of them (None: no limit).
    Unlike Prefect Server, version locking is enforced: a claim or a Failed at a stale
    version loses, as on Prefect Cloud. Seed runs with ``add_run``; read their fate with
    ``state_of``, ``history``, ``logs`` and ``submissions``. ``faults`` injects errors.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        tenant_id: str | None = None,
        scan_limit: int | None = PREFECT_SERVER_SCAN_LIMIT,
        return_limit: int | None = PREFECT_SERVER_RETURN_LIMIT,
        claimant: str = "in-memory",
    ) -> None:
        self.clock: Clock = clock or FakeClock()
        self._tenant_id = tenant_id or str(uuid.uuid4())
        self._registered = False
        self.claimant = claimant
        """Recorded with each claim; ``claimed_runs`` lists the runs Submitted under it."""
        self.scan_limit = scan_limit
        self.return_limit = return_limit
        self.faults = Faults()
        self.agents: dict[str, dict[str, Any]] = {}
        self.agent_configs: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, StoredRun] = {}
        self._logs: list[RunLog] = []
        self._lock = threading.RLock()

    # -- seeding and inspection (for tests) ------------------------------------------------

    def add_run(
        self,
        *,
        run_id: str | None = None,
        labels: Iterable[str] = (),
        run_config: RunConfig | None = None,
        start_time: datetime | None = None,
        state: str = SCHEDULED,
        flow_id: str | None = None,
        flow_name: str = "flow",
        name: str | None = None,
        core_version: str | None = "1.4.1",
        storage_type: str | None = None,
        storage_image: str | None = None,
        task_runs_due: int = 0,
    ) -> str:
        """Store a run (Scheduled now by default) and return its id."""
        run_id = run_id or str(uuid.uuid4())
        start = start_time or self.clock.now()
        task_runs = [
            StoredTaskRun(
                id=str(uuid.uuid4()),
                version=1,
                state="Retrying",
                start_time=start,
                serialized_state=serialized_state(
                    "Retrying", "Retrying task run", start_time=start.isoformat()
                ),
            )
            for _ in range(task_runs_due)
        ]
        with self._lock:
            self._runs[run_id] = StoredRun(
                id=run_id,
                flow_id=flow_id or str(uuid.uuid4()),
                flow_name=flow_name,
                name=name or f"run-{len(self._runs) + 1}",
                version=1,
                state=state,
                serialized_state=serialized_state(
                    state, f"Flow run {state.lower()}.", start_time=start.isoformat()
                ),
                start_time=start,
                labels=tuple(sorted(set(labels))),
                run_config=run_config,
                core_version=core_version,
                storage_type=storage_type,
                storage_image=storage_image,
                task_runs=task_runs,
                history=[state],
            )
        return run_id

    def add_unreadable_run(
        self, reason: str, *, labels: Iterable[str] = (), run_id: str | None = None
    ) -> str:
        """A run whose stored data cannot be read (as a malformed API row would be)."""
        run_id = self.add_run(labels=labels, run_id=run_id)
        with self._lock:
            self._runs[run_id].unreadable_reason = reason
        return run_id

    def set_state(self, run_id: str, state: str, message: str = "") -> int:
        """Move a run to ``state`` as the flow process would; returns the new version."""
        with self._lock:
            run = self._get(run_id)
            self._set(run, state, serialized_state(state, message or f"{state}."))
            return run.version

    def run(self, run_id: str) -> StoredRun:
        with self._lock:
            return self._get(run_id)

    def state_of(self, run_id: str) -> str:
        return self.run(run_id).state

    def history(self, run_id: str) -> list[str]:
        return list(self.run(run_id).history)

    def submissions(self, run_id: str) -> int:
        """How many times the run entered Submitted (1 for a run launched exactly once)."""
        return self.history(run_id).count(SUBMITTED)

    def logs(self, run_id: str | None = None) -> list[RunLog]:
        with self._lock:
            return [log for log in self._logs if run_id is None or log.run_id == run_id]

    def run_ids(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    # -- the RunSource port ----------------------------------------------------------------

    @property
    def tenant_id(self) -> str | None:
        return self._tenant_id if self._registered else None

    def register(
        self, *, agent_type: str, name: str, labels: Sequence[str], agent_config_id: str | None
    ) -> str:
        self.faults.enter("register")
        key = (agent_type, name, tuple(sorted(labels)))
        with self._lock:
            self._registered = True
            for agent_id, agent in self.agents.items():
                if agent["key"] == key:
                    return agent_id
            agent_id = str(uuid.uuid4())
            self.agents[agent_id] = {
                "key": key,
                "type": agent_type,
                "name": name,
                "labels": sorted(labels),
                "agent_config_id": agent_config_id,
                "last_queried": None,
            }
            return agent_id

    def agent_config_settings(self, agent_config_id: str) -> Mapping[str, Any]:
        self.faults.enter("agent_config_settings")
        with self._lock:
            if agent_config_id not in self.agent_configs:
                raise ApiError(f"No agent config with id {agent_config_id}")
            return dict(self.agent_configs[agent_config_id])

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns:
        self.faults.enter("ready_runs")
        retry_cutoff = min(before, self.clock.now() - RETRY_BUFFER)
        with self._lock:
            eligible = [
                run
                for run in self._runs.values()
                if (
                    is_scheduled(run.state)
                    and run.start_time is not None
                    and run.start_time <= before
                )
                or (run.state == RUNNING and self._due_tasks(run, retry_cutoff))
            ]
            eligible.sort(key=lambda r: (r.start_time or before, r.id))
            if self.scan_limit is not None:
                eligible = eligible[: self.scan_limit]
            matching = [r for r in eligible if LabelPolicy.matches(r.labels, labels)]
            if self.return_limit is not None:
                matching = matching[: self.return_limit]
            matching = [r for r in matching if r.id not in known]
            runs, unreadable = [], []
            for run in matching:
                if run.unreadable_reason:
                    unreadable.append(
                        UnreadableRun(
                            run_id=run.id, reason=run.unreadable_reason, version=run.version
                        )
                    )
                else:
                    runs.append(self._to_flow_run(run, retry_cutoff))
            return ReadyRuns(runs=runs, unreadable=unreadable)

    def claim(self, runs: Sequence[FlowRun]) -> Sequence[ClaimResult]:
        self.faults.enter("claim")
        results: list[ClaimResult] = []
        with self._lock:
            for wanted in runs:
                stored = self._runs.get(wanted.id)
                if stored is None:
                    results.append(ClaimLost(wanted.id, "the run no longer exists"))
                elif stored.version != wanted.version:
                    reason = f"read at version {wanted.version}, now at {stored.version}"
                    results.append(ClaimLost(wanted.id, reason))
                elif is_scheduled(stored.state):
                    self._set(stored, SUBMITTED, submitted_state(stored.serialized_state))
                    stored.claimant = self.claimant
                    self._submit_tasks(stored, wanted.task_runs_due)
                    results.append(Claimed(wanted.id, stored.version))
                elif wanted.task_runs_due and self._submit_tasks(stored, wanted.task_runs_due):
                    results.append(Claimed(wanted.id, stored.version))
                else:
                    results.append(ClaimLost(wanted.id, f"the run is {stored.state}"))
        return results

    def mark_failed(self, run_id: str, message: str, version: int | None) -> None:
        self.faults.enter("mark_failed")
        with self._lock:
            run = self._get(run_id)
            if version is not None and version != run.version:
                raise VersionConflict(
                    f"State update failed for flow run {run_id}: provided version {version} "
                    f"but current version is {run.version}"
                )
            self._set(run, FAILED, failed_state(message))

    def mark_cancelled(self, run_id: str, message: str, version: int | None) -> None:
        self.faults.enter("mark_cancelled")
        with self._lock:
            run = self._get(run_id)
            if version is not None and version != run.version:
                raise VersionConflict(
                    f"State update failed for flow run {run_id}: provided version {version} "
                    f"but current version is {run.version}"
                )
            self._set(run, CANCELLED, cancelled_state(message))

    def cancelled_among(self, run_ids: Collection[str]) -> Sequence[RunStatus]:
        self.faults.enter("cancelled_among")
        with self._lock:
            return [
                RunStatus(run_id=run.id, state=run.state, version=run.version, labels=run.labels)
                for run_id in run_ids
                if (run := self._runs.get(run_id)) is not None and run.state in CANCELLED_BY_USER
            ]

    def claimed_runs(self) -> ReadyRuns:
        self.faults.enter("claimed_runs")
        with self._lock:
            mine = [
                run
                for run in self._runs.values()
                if run.state == SUBMITTED and run.claimant == self.claimant
            ]
            return ReadyRuns(
                runs=[
                    attrs.evolve(self._to_flow_run(run, self.clock.now()), version=run.version - 1)
                    for run in mine
                    if not run.unreadable_reason
                ],
                unreadable=[
                    UnreadableRun(run_id=run.id, reason=run.unreadable_reason, version=run.version)
                    for run in mine
                    if run.unreadable_reason
                ],
            )

    def cancel(self, run_id: str) -> str:
        """What Prefect 1.4.1's ``cancel_flow_run`` does: Cancelling while the flow process
        runs, Cancelled before; returns the state set (a finished run is left alone)."""
        with self._lock:
            run = self._get(run_id)
            if is_finished(run.state):
                return run.state
            state = CANCELLING if run.state == RUNNING else CANCELLED
            self._set(run, state, serialized_state(state, "Flow run cancelled."))
            return state

    def write_logs(self, logs: Sequence[RunLog]) -> None:
        self.faults.enter("write_logs")
        with self._lock:
            for log in logs:
                self._get(log.run_id)
            self._logs.extend(
                attrs.evolve(log, timestamp=log.timestamp or self.clock.now()) for log in logs
            )

    def run_status(self, run_id: str) -> RunStatus:
        self.faults.enter("run_status")
        with self._lock:
            run = self._get(run_id)
            return RunStatus(
                run_id=run.id,
                state=run.state,
                version=run.version,
                labels=run.labels,
                details=RunDetails(
                    run_config=None if run.unreadable_reason else run.run_config,
                    run_config_error=run.unreadable_reason,
                    storage_type=run.storage_type,
                    start_time=run.start_time if is_scheduled(run.state) else None,
                ),
            )

    # -- internals ---------------------------------------------------------------------------

    def _get(self, run_id: str) -> StoredRun:
        try:
            return self._runs[run_id]
        except KeyError:
            raise ApiError(f"No flow run with id {run_id}") from None

    def _set(self, run: StoredRun, state: str, serialized: dict[str, Any]) -> None:
        run.state = state
        run.serialized_state = serialized
        run.version += 1
        run.history.append(state)

    @staticmethod
    def _due_tasks(run: StoredRun, cutoff: datetime) -> list[StoredTaskRun]:
        return [
            t
            for t in run.task_runs
            if is_scheduled(t.state) and t.start_time is not None and t.start_time <= cutoff
        ]

    def _submit_tasks(self, run: StoredRun, wanted: Sequence[TaskRun]) -> bool:
        by_id = {t.id: t for t in run.task_runs}
        submitted = False
        for task in wanted:
            stored = by_id.get(task.id)
            if stored is not None and stored.version == task.version and is_scheduled(stored.state):
                stored.state = SUBMITTED
                stored.serialized_state = submitted_state(
                    stored.serialized_state, "Submitted for execution."
                )
                stored.version += 1
                submitted = True
        return submitted

    def _to_flow_run(self, run: StoredRun, retry_cutoff: datetime) -> FlowRun:
        tasks = self._due_tasks(run, retry_cutoff) if run.state == RUNNING else []
        return FlowRun(
            id=run.id,
            version=run.version,
            state=run.state,
            flow_id=run.flow_id,
            flow_name=run.flow_name,
            name=run.name,
            serialized_state=run.serialized_state,
            start_time=run.start_time if is_scheduled(run.state) else None,
            labels=run.labels,
            run_config=run.run_config,
            core_version=run.core_version,
            storage_type=run.storage_type,
            storage_image=run.storage_image,
            task_runs_due=[
                TaskRun(
                    id=t.id,
                    version=t.version,
                    task_id=t.task_id,
                    state=t.state,
                    serialized_state=t.serialized_state,
                )
                for t in tasks
            ],
        )
