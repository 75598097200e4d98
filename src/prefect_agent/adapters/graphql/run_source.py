"""``GraphQLRunSource``: the RunSource port over the Prefect GraphQL API (Server or Cloud)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from prefect_agent.adapters.graphql import documents
from prefect_agent.adapters.graphql.client import GraphQLClient, error_code, error_for
from prefect_agent.adapters.graphql.converters import (
    RowError,
    flow_run_from_row,
    parse_timestamp,
    run_config_from_json,
)
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import (
    ApiError,
    AuthorizationError,
    ConfigError,
    PrefectAgentError,
)
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.log_levels import api_log_level
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
from prefect_agent.domain.run_config import RunConfig
from prefect_agent.domain.states import (
    CANCELLED_BY_USER,
    SCHEDULED_FAMILY,
    SUBMITTED,
    cancelled_state,
    failed_state,
    is_scheduled,
    submitted_state,
)

logger = logging.getLogger(__name__)

RETRY_BUFFER = timedelta(seconds=3)
"""A Running run's task retries are taken over only this long after they were due (spec 3.4),
so a live flow process retries its own tasks first."""

AGENT_ID_HEADER = "X-PREFECT-AGENT-ID"

CLAIM_TOKEN_KEY = "prefect_agent_claim"
"""Key of the Submitted state's ``context`` holding the claim token of the source that wrote it.

Agent replicas can share an agent id (Prefect Server deduplicates agents), so only a token
unique to one source instance proves that a Submitted state is this agent process's own. The
token stays the same across claim attempts, so a claim re-sent later (after an answer that
was lost or unreadable) recognises a state its earlier attempt wrote."""

CLAIMANT_KEY = "prefect_agent_claimant"
"""Key of the Submitted state's ``context`` holding the claimant: the platform's durable name
for this agent (``Platform.claimant``), the same after a restart, so a restarted agent finds
the runs an earlier process claimed and never launched (``claimed_runs``)."""


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


class GraphQLRunSource:
    """Implements ``RunSource`` against Prefect Server, Prefect Cloud or the embedded API.

    Start-up (``register``) follows Prefect 1.4.1: the tenant (configured, ``tenant`` on
    Server, ``auth_info`` on Cloud), ``register_agent``, the ``X-PREFECT-AGENT-ID`` header on
    every later request, then a ``hello`` connectivity check. Each poll is two requests
    (``get_runs_in_queue`` and the ``flow_run`` metadata query); each batch of claims is one
    request; each batch of logs is one request.
    """

    def __init__(
        self,
        client: GraphQLClient,
        *,
        backend: str = "server",
        tenant_id: str | None = None,
        now: Callable[[], datetime] = _utc_now,
        claimant: str = "",
    ) -> None:
        self.client = client
        self.backend = backend
        self._tenant_id = tenant_id
        self._now = now
        self.agent_id: str | None = None
        self._claim_token = str(uuid.uuid4())
        self.claimant = claimant
        self._uncertain: set[str] = set()
        """Runs whose last claim request ended without a usable answer (it may have applied)."""

    @classmethod
    def from_config(cls, config: AgentConfig, *, claimant: str = "") -> GraphQLRunSource:
        client = GraphQLClient(
            config.api,
            api_key=config.api_key,
            tenant_id=config.tenant_id,
            timeout=config.request_timeout,
            retry=RetryPolicy(),
            pool_size=max(8, config.deploy_concurrency + 4),
        )
        return cls(client, backend=config.backend, tenant_id=config.tenant_id, claimant=claimant)

    def close(self) -> None:
        self.client.close()

    # -- start-up ----------------------------------------------------------------------------

    @property
    def tenant_id(self) -> str | None:
        return self._tenant_id

    def _resolve_tenant(self) -> str:
        if self._tenant_id:
            return self._tenant_id
        if self.backend == "cloud":
            if not self.client.has_api_key:
                raise ConfigError(
                    "the cloud backend needs an API key", source="config", key="cloud.api_key"
                )
            data = self.client.execute(documents.AUTH_INFO)
            tenant = (data.get("auth_info") or {}).get("tenant_id")
            if not tenant:
                raise AuthorizationError(
                    f"The Prefect API at {self.client.api} returned no tenant for this key; "
                    "an API key (not a legacy token) is required"
                )
        else:
            tenants = self.client.execute(documents.TENANT).get("tenant") or []
            if not tenants:
                raise ApiError(
                    f"The Prefect API at {self.client.api} has no tenant; create one with "
                    "`prefect server create-tenant`"
                )
            tenant = tenants[0]["id"]
        self._tenant_id = str(tenant)
        self.client.set_tenant(self._tenant_id)
        return self._tenant_id

    def register(
        self, *, agent_type: str, name: str, labels: Sequence[str], agent_config_id: str | None
    ) -> str:
        tenant_id = self._resolve_tenant()
        data = self.client.execute(
            documents.REGISTER_AGENT,
            {
                "input": {
                    "type": agent_type,
                    "name": name,
                    "labels": list(labels),
                    "tenant_id": tenant_id,
                    "agent_config_id": agent_config_id,
                }
            },
        )
        agent_id = (data.get("register_agent") or {}).get("id")
        if not agent_id:
            raise ApiError(
                f"The Prefect API at {self.client.api} registered the agent without an id"
            )
        self.agent_id = str(agent_id)
        self.client.attach_header(AGENT_ID_HEADER, self.agent_id)
        self.client.execute(documents.HELLO)
        return self.agent_id

    def agent_config_settings(self, agent_config_id: str) -> Mapping[str, Any]:
        data = self.client.execute(documents.AGENT_CONFIG, {"id": agent_config_id})
        found = data.get("agent_config") or []
        if not found:
            raise ApiError(f"No agent config with id {agent_config_id} at {self.client.api}")
        settings = found[0].get("settings")
        return dict(settings) if isinstance(settings, Mapping) else {}

    # -- polling -----------------------------------------------------------------------------

    def ready_runs(
        self, labels: Sequence[str], before: datetime, known: Collection[str] = frozenset()
    ) -> ReadyRuns:
        data = self.client.execute(
            documents.GET_RUNS_IN_QUEUE,
            {
                "input": {
                    "before": _iso(before),
                    "labels": list(labels),
                    "tenant_id": self._tenant(),
                }
            },
        )
        ids = list((data.get("get_runs_in_queue") or {}).get("flow_run_ids") or [])
        # Runs the agent is deploying already: the next poll of a burst would read up to a
        # thousand of them again while their claims are still being applied.
        ids = [run_id for run_id in ids if run_id not in known]
        if not ids:
            return ReadyRuns()
        buffer = self._now() - RETRY_BUFFER
        rows = (
            self.client.execute(
                documents.FLOW_RUN_METADATA,
                {"ids": ids, "family": sorted(SCHEDULED_FAMILY), "buffer": _iso(buffer)},
            ).get("flow_run")
            or []
        )
        runs: list[FlowRun] = []
        unreadable: list[UnreadableRun] = []
        for row in rows:
            try:
                result = flow_run_from_row(row)
            except RowError as exc:
                logger.error("Skipping a flow run row without an id: %s", exc)
                continue
            if isinstance(result, FlowRun):
                runs.append(result)
            else:
                unreadable.append(result)
        now = self._now()
        runs.sort(key=lambda run: (run.due_at(now), run.id))
        return ReadyRuns(runs=tuple(runs), unreadable=tuple(unreadable))

    def _tenant(self) -> str:
        if self._tenant_id is None:
            return self._resolve_tenant()
        return self._tenant_id

    # -- claims, failures, logs --------------------------------------------------------------

    def claim(self, runs: Sequence[FlowRun]) -> Sequence[ClaimResult]:
        if not runs:
            return []
        flow_claims: list[int] = []
        task_claims: list[tuple[int, int]] = []
        variables: dict[str, Any] = {}
        token = self._claim_token
        for i, run in enumerate(runs):
            if is_scheduled(run.state):
                flow_claims.append(i)
                state = submitted_state(run.serialized_state)
                state["context"] = {CLAIM_TOKEN_KEY: token}
                if self.claimant:
                    state["context"][CLAIMANT_KEY] = self.claimant
                variables[documents.flow_claim_alias(i)] = {
                    "states": [{"flow_run_id": run.id, "version": run.version, "state": state}]
                }
            for j, task in enumerate(run.task_runs_due):
                if not is_scheduled(task.state):
                    continue
                task_claims.append((i, j))
                variables[documents.task_claim_alias(i, j)] = {
                    "states": [
                        {
                            "task_run_id": task.id,
                            "version": task.version,
                            "state": submitted_state(
                                task.serialized_state, "Submitted for execution."
                            ),
                        }
                    ]
                }
        if not variables:
            return [ClaimLost(run.id, f"the run is {run.state}") for run in runs]
        try:
            response = self.client.send(documents.claims(flow_claims, task_claims), variables)
            unplaced = response.unplaced_errors()
            if unplaced:
                raise error_for(unplaced, self.client.api)
        except AuthorizationError:
            raise
        except PrefectAgentError as exc:
            # No usable answer: the API may still have applied some claims. Read them back.
            self._uncertain.update(runs[i].id for i in flow_claims)
            return self._settle_unanswered(runs, exc)
        data = response.data or {}
        results = [self._claim_result(i, run, response, data) for i, run in enumerate(runs)]
        if response.attempts > 1 or self._uncertain:
            resent = response.attempts > 1
            if resent:
                # Until the read-back below answers, these claims' outcome is unknown.
                self._uncertain.update(runs[i].id for i in flow_claims)
            results = self._recover_own_claims(runs, results, token, check_all=resent)
        self._uncertain.difference_update(run.id for run in runs)
        return results

    def _settle_unanswered(
        self, runs: Sequence[FlowRun], error: PrefectAgentError
    ) -> Sequence[ClaimResult]:
        """Claims of a request that got no usable answer: ours where our token shows, else lost
        (a run the request did not reach is still Scheduled and comes back with the next poll).
        When even the read-back fails the error is raised and the runs stay uncertain, so the
        next claim of them recognises what this one wrote."""
        try:
            results = self._recover_own_claims(
                runs,
                [ClaimLost(run.id, f"the claim request failed: {error}") for run in runs],
                self._claim_token,
                check_all=True,
            )
        except PrefectAgentError:
            raise error from None
        self._uncertain.difference_update(run.id for run in runs)
        return results

    def _recover_own_claims(
        self,
        runs: Sequence[FlowRun],
        results: list[ClaimResult],
        token: str,
        *,
        check_all: bool = False,
    ) -> list[ClaimResult]:
        """Claims reported lost after a resend, or after an earlier attempt without a usable
        answer, may have been applied by that attempt: a run one version on, Submitted with
        this source's token, is ours."""
        lost = {
            run.id: run
            for run, result in zip(runs, results, strict=True)
            if isinstance(result, ClaimLost)
            and is_scheduled(run.state)
            and (check_all or run.id in self._uncertain)
        }
        if not lost:
            return results
        rows = self.client.execute(documents.CLAIM_CHECK, {"ids": list(lost)}).get("flow_run") or []
        ours = set()
        for row in rows:
            state = row.get("serialized_state")
            context = state.get("context") if isinstance(state, Mapping) else None
            run = lost.get(row.get("id"))
            if (
                run is not None
                and row.get("version") == run.version + 1
                and isinstance(context, Mapping)
                and context.get(CLAIM_TOKEN_KEY) == token
            ):
                ours.add(run.id)
        if ours:
            logger.info("%d claim(s) whose answer was lost turned out to be ours", len(ours))
        return [
            Claimed(result.run_id, lost[result.run_id].version + 1)
            if result.run_id in ours
            else result
            for result in results
        ]

    def _claim_result(
        self, index: int, run: FlowRun, response: Any, data: Mapping[str, Any]
    ) -> ClaimResult:
        if is_scheduled(run.state):
            alias = documents.flow_claim_alias(index)
            errors = response.errors_at(alias)
            if errors or not data.get(alias):
                self._raise_unless_lost(errors)
                return ClaimLost(run.id, _reason(errors))
            # Version locking: our state was applied on top of the version we read.
            return Claimed(run.id, run.version + 1)
        won = [
            documents.task_claim_alias(index, j)
            for j in range(len(run.task_runs_due))
            if data.get(documents.task_claim_alias(index, j))
        ]
        if won:
            return Claimed(run.id, run.version)
        errors = [
            e
            for j in range(len(run.task_runs_due))
            for e in response.errors_at(documents.task_claim_alias(index, j))
        ]
        self._raise_unless_lost(errors)
        return ClaimLost(run.id, _reason(errors) if errors else f"the run is {run.state}")

    def _raise_unless_lost(self, errors: Sequence[Mapping[str, Any]]) -> None:
        """A refused credential is not a lost race: it must surface."""
        if any(error_code(e) in ("UNAUTHENTICATED", "FORBIDDEN") for e in errors):
            raise error_for(errors, self.client.api)

    def mark_failed(self, run_id: str, message: str, version: int | None) -> None:
        self.client.execute(
            documents.SET_FLOW_RUN_STATES,
            {
                "input": {
                    "states": [
                        {"flow_run_id": run_id, "version": version, "state": failed_state(message)}
                    ]
                }
            },
            # Without a version a resend could store Failed twice; with one it cannot.
            retry_safe=version is not None,
        )

    def write_logs(self, logs: Sequence[RunLog]) -> None:
        if not logs:
            return
        records = []
        for log in logs:
            record: dict[str, Any] = {
                "flow_run_id": log.run_id,
                "name": log.name,
                "message": log.message,
                "level": api_log_level(log.level),
            }
            if log.timestamp is not None:
                record["timestamp"] = _iso(log.timestamp)
            if log.task_run_id:
                record["task_run_id"] = log.task_run_id
            records.append(record)
        data = self.client.execute(documents.WRITE_RUN_LOGS, {"input": {"logs": records}})
        if not (data.get("write_run_logs") or {}).get("success"):
            raise ApiError(f"The Prefect API at {self.client.api} did not store {len(logs)} logs")

    def mark_cancelled(self, run_id: str, message: str, version: int | None) -> None:
        self.client.execute(
            documents.SET_FLOW_RUN_STATES,
            {
                "input": {
                    "states": [
                        {
                            "flow_run_id": run_id,
                            "version": version,
                            "state": cancelled_state(message),
                        }
                    ]
                }
            },
            retry_safe=version is not None,
        )

    def cancelled_among(self, run_ids: Collection[str]) -> Sequence[RunStatus]:
        if not run_ids:
            return []
        rows = (
            self.client.execute(
                documents.CANCELLED_AMONG,
                {"ids": sorted(run_ids), "states": sorted(CANCELLED_BY_USER)},
            ).get("flow_run")
            or []
        )
        return [
            RunStatus(run_id=str(row["id"]), state=str(row["state"]), version=int(row["version"]))
            for row in rows
            if isinstance(row, Mapping)
            and row.get("id") in run_ids
            and row.get("state") in CANCELLED_BY_USER
            and isinstance(row.get("version"), int)
        ]

    def claimed_runs(self) -> ReadyRuns:
        if not self.claimant or not self.agent_id:
            return ReadyRuns()
        rows = (
            self.client.execute(documents.CLAIMED_RUNS, {"agent": self.agent_id}).get("flow_run")
            or []
        )
        runs: list[FlowRun] = []
        unreadable: list[UnreadableRun] = []
        for row in rows:
            state = row.get("serialized_state")
            context = state.get("context") if isinstance(state, Mapping) else None
            if (
                row.get("state") != SUBMITTED
                or not isinstance(context, Mapping)
                or context.get(CLAIMANT_KEY) != self.claimant
            ):
                continue  # a replica's, or another agent's under a shared agent id
            try:
                result = flow_run_from_row(row)
            except RowError as exc:
                logger.error("Skipping a claimed flow run row: %s", exc)
                continue
            if isinstance(result, FlowRun):
                # Read back at the version it was claimed at (the claim added one).
                runs.append(attrs.evolve(result, version=result.version - 1))
            else:
                unreadable.append(result)
        return ReadyRuns(runs=tuple(runs), unreadable=tuple(unreadable))

    def run_status(self, run_id: str) -> RunStatus:
        data = self.client.execute(documents.RUN_STATUS, {"id": run_id})
        row = data.get("flow_run_by_pk")
        if not row:
            raise ApiError(f"No flow run with id {run_id} at {self.client.api}")
        labels = row.get("labels")
        state = str(row.get("state"))
        return RunStatus(
            run_id=run_id,
            state=state,
            version=int(row.get("version") or 0),
            labels=tuple(labels) if isinstance(labels, list) else (),
            details=_status_details(run_id, state, row),
        )


def _status_details(run_id: str, state: str, row: Mapping[str, Any]) -> RunDetails:
    """What ``explain`` judges besides state and labels: the run config (or why it cannot be
    read), the flow's storage type and, while the run is scheduled, its start time."""
    run_config: RunConfig | None = None
    error = None
    try:
        run_config = run_config_from_json(row.get("run_config"), run_id)
    except RowError as exc:
        error = str(exc)
    flow = row.get("flow")
    storage = flow.get("storage") if isinstance(flow, Mapping) else None
    storage_type = storage.get("type") if isinstance(storage, Mapping) else None
    start_time = None
    serialized = row.get("serialized_state")
    if is_scheduled(state) and isinstance(serialized, Mapping) and serialized.get("start_time"):
        with contextlib.suppress(RowError):
            start_time = parse_timestamp(serialized["start_time"], "start_time")
    return RunDetails(
        run_config=run_config,
        run_config_error=error,
        storage_type=str(storage_type) if storage_type else None,
        start_time=start_time,
    )


def _reason(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return "the API did not apply the claim"
    return "; ".join(str(e.get("message", "")) for e in errors)
