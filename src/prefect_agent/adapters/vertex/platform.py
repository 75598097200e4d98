"""The Vertex AI platform: each flow run as a custom job, through the official client's REST
transport."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import attrs
import google.auth
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.aiplatform_v1.services.job_service import JobServiceClient
from google.cloud.aiplatform_v1.types import CustomJob

from prefect_agent.adapters.sync_thread import SyncThread
from prefect_agent.adapters.vertex.custom_job import (
    OWNER_LABEL,
    RUN_LABEL,
    VERDICT_KEPT,
    VERDICT_LABEL,
    console_url,
    custom_job_for,
    label_value,
)
from prefect_agent.adapters.vertex.job_state import (
    CANCELLING,
    TERMINAL_STATES,
    job_id,
    judge,
)
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.domain.vertex_settings import VertexSettings

logger = logging.getLogger(__name__)

UNREACHABLE = (requests.exceptions.RequestException, auth_exceptions.GoogleAuthError)
# Refusals that say the platform cannot be used now (credentials, quota, outage).
UNAVAILABLE = (
    api_exceptions.Unauthenticated,
    api_exceptions.PermissionDenied,
    api_exceptions.TooManyRequests,
    api_exceptions.ServerError,
)


@attrs.define
class _Tracked:
    run_id: str
    name: str


def _state_name(job: Any) -> str:
    return str(getattr(job.state, "name", job.state))


class VertexPlatform:
    """Implements the ``Platform`` port with Vertex AI custom jobs in one project and region.

    Each job carries the labels ``prefect-flow-run-id`` and ``prefect-agent``: a launch first
    lists the jobs of its run (a retried launch or a restarted agent never creates a second
    one), adoption lists this agent's jobs, and a background thread reads each watched job's
    state (``get_custom_job``). The job's environment is never logged: it holds the API key.
    An ended job is the verdict: it is deleted once its outcome is acknowledged, so a
    restarted agent reports again every ended job of this agent that still exists.
    """

    def __init__(self, config: AgentConfig, client: JobServiceClient, project: str) -> None:
        if not isinstance(config.platform, VertexSettings):
            raise ConfigError("the Vertex platform needs Vertex settings", key="platform")
        self._config = config
        self._settings = attrs.evolve(config.platform, project=project)
        self._client = client
        self.parent = self._settings.parent
        self.owner = label_value(config.name)
        self._timeout = config.request_timeout
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._tracked: dict[str, _Tracked] = {}
        self._unacknowledged: dict[str, _Tracked] = {}
        """Ended jobs whose outcome was reported but not acknowledged yet."""
        self._outcomes: list[InfrastructureOutcome] = []
        self._sync_failing = False
        self._sync_thread = SyncThread(
            "vertex-job-sync",
            self.sync,
            lambda: self._settings.job_sync_interval_seconds,
            "Vertex AI jobs",
        )

    @classmethod
    def from_config(cls, config: AgentConfig) -> VertexPlatform:
        settings = config.platform
        assert isinstance(settings, VertexSettings)
        project = settings.project
        try:
            credentials, found = google.auth.default()
        except auth_exceptions.DefaultCredentialsError as exc:
            raise ConfigError(f"no Google credentials: {exc}", key="agent.vertex.project") from None
        project = project or found
        if not project:
            raise ConfigError(
                "the Google Cloud project could not be determined from the environment; "
                "set it with --project",
                key="agent.vertex.project",
            )
        client = JobServiceClient(
            credentials=credentials,
            transport="rest",
            client_options={"api_endpoint": settings.endpoint},
        )
        return cls(config, client, project)

    # -- the Platform port -------------------------------------------------------------------

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return ()

    def check(self) -> None:
        try:
            self._client.list_custom_jobs(
                request={"parent": self.parent, "page_size": 1}, timeout=self._timeout
            )
        except (api_exceptions.GoogleAPIError, *UNREACHABLE) as exc:
            raise PlatformUnavailable(f"the Vertex AI API cannot be used: {exc}") from None

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        try:
            existing = self._jobs(f'labels.{RUN_LABEL}="{run.id}"', active_only=True)
            if existing:
                name = existing[0].name
                self._track(run.id, name)
                logger.info("Flow run %s already has Vertex AI job %s", run.id, job_id(name))
                return Launched(run.id, f"{console_url(name)} (already created)")
            job = self._client.create_custom_job(
                parent=self.parent,
                custom_job=CustomJob(custom_job_for(run, spec, self._settings, self.owner)),
                timeout=self._timeout,
            )
        except UNAVAILABLE as exc:
            raise PlatformUnavailable(self._problem(run.id, exc)) from None
        except api_exceptions.GoogleAPIError as exc:
            raise LaunchError(self._problem(run.id, exc)) from None
        except UNREACHABLE as exc:
            raise PlatformUnavailable(f"the Vertex AI API is unreachable: {exc}") from None
        except (ValueError, TypeError) as exc:  # the client rejects a malformed job locally
            raise LaunchError(
                f"Flow run {run.id}: the custom job built from its VertexRun is invalid: "
                f"{type(exc).__name__}"
            ) from None
        self._track(run.id, job.name)
        # Only the name: the job's env holds the API key (1.4.1 logged the whole response).
        logger.info("Created Vertex AI custom job %s for flow run %s", job_id(job.name), run.id)
        return Launched(run.id, console_url(job.name))

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        self._sync_thread.ensure_started()
        with self._lock:
            ready, self._outcomes = self._outcomes, []
        return ready

    def infrastructure_logs(self) -> Sequence[RunLog]:
        return ()

    def adopt(self) -> Sequence[str]:
        """Watch this agent's running jobs and its ended jobs whose outcome no agent had
        acknowledged (those still exist and carry the verdict label)."""
        self._sync_thread.ensure_started()
        try:
            jobs = self._jobs(f'labels.{OWNER_LABEL}="{self.owner}"', active_only=False)
        except (api_exceptions.GoogleAPIError, *UNREACHABLE) as exc:
            logger.warning("Could not list this agent's Vertex AI jobs to adopt them: %s", exc)
            return []
        adopted = []
        with self._lock:
            for job in jobs:
                labels = dict(job.labels)
                run_id = labels.get(RUN_LABEL)
                ended = _state_name(job) in TERMINAL_STATES
                if not run_id or (ended and labels.get(VERDICT_LABEL) != VERDICT_KEPT):
                    continue
                self._tracked.setdefault(run_id, _Tracked(run_id, job.name))
                adopted.append(run_id)
        return sorted(set(adopted))

    def stop(self, run_id: str) -> str:
        """Cancel the run's jobs that are not ending yet: Vertex AI stops their replicas and
        the job ends CANCELLED, reported like any other end."""
        cancelled = []
        try:
            for job in self._jobs(f'labels.{RUN_LABEL}="{run_id}"', active_only=True):
                if _state_name(job) == CANCELLING:
                    continue
                try:
                    self._client.cancel_custom_job(name=job.name, timeout=self._timeout)
                except (api_exceptions.NotFound, api_exceptions.FailedPrecondition):
                    continue  # gone, or ended meanwhile: nothing to stop
                cancelled.append(job_id(job.name))
                logger.info("Cancelled Vertex AI job %s of flow run %s", job_id(job.name), run_id)
        except (api_exceptions.GoogleAPIError, *UNREACHABLE) as exc:
            raise PlatformUnavailable(f"could not cancel the job of run {run_id}: {exc}") from None
        if not cancelled:
            return ""
        noun = "job" if len(cancelled) == 1 else "jobs"
        return f"Vertex AI custom {noun} {', '.join(cancelled)} (cancel requested)"

    def acknowledge(self, run_id: str) -> None:
        """Delete the ended job: the only mark Vertex AI lets a restarted agent see."""
        with self._lock:
            item = self._unacknowledged.pop(run_id, None)
        if item is None:
            return
        try:
            self._client.delete_custom_job(name=item.name, timeout=self._timeout)
        except api_exceptions.NotFound:
            pass  # deleted meanwhile (by a user)
        except (api_exceptions.GoogleAPIError, *UNREACHABLE) as exc:
            # Not fatal: a restarted agent reports the run again, and the agent leaves a
            # run that already ended as it is.
            logger.warning("Could not delete Vertex AI job %s: %s", job_id(item.name), exc)
        else:
            logger.debug("Deleted Vertex AI job %s of flow run %s", job_id(item.name), run_id)

    @property
    def claimant(self) -> str:
        # The agent's jobs are found by its owner label in this project and region, so those
        # identify its claims across restarts.
        scope = f"{self.parent}|{self.owner}"
        return "vertex-" + str(uuid.uuid5(uuid.NAMESPACE_URL, scope))

    def close(self) -> None:
        self._sync_thread.close(timeout=self._timeout + 5)

    # -- Vertex calls ------------------------------------------------------------------------

    def _jobs(self, filter_text: str, active_only: bool) -> list[Any]:
        pager = self._client.list_custom_jobs(
            request={"parent": self.parent, "filter": filter_text}, timeout=self._timeout
        )
        jobs = list(pager)
        if active_only:
            jobs = [j for j in jobs if _state_name(j) not in TERMINAL_STATES]
        return jobs

    def _problem(self, run_id: str, exc: api_exceptions.GoogleAPIError) -> str:
        message = getattr(exc, "message", None) or str(exc)
        return f"Vertex AI refused the custom job of flow run {run_id}: {message}"

    def _track(self, run_id: str, name: str) -> None:
        self._sync_thread.ensure_started()
        with self._lock:
            self._tracked[run_id] = _Tracked(run_id, name)

    # -- monitoring --------------------------------------------------------------------------

    def sync(self) -> None:
        """One pass: read each watched job's state, report the ended ones. Never raises."""
        with self._sync_lock:
            with self._lock:
                watched = list(self._tracked.values())
            failing = False
            for item in watched:
                try:
                    job = self._client.get_custom_job(name=item.name, timeout=self._timeout)
                except api_exceptions.NotFound:
                    self._report(
                        item,
                        InfrastructureOutcome(
                            run_id=item.run_id,
                            succeeded=False,
                            reason=f"Vertex AI custom job {job_id(item.name)} no longer exists",
                        ),
                    )
                    continue
                except (api_exceptions.GoogleAPIError, *UNREACHABLE) as exc:
                    if not self._sync_failing:
                        logger.warning("Could not read Vertex AI job %s: %s", item.name, exc)
                    failing = True
                    break
                error = job.error
                outcome = judge(item.run_id, item.name, _state_name(job), error.code, error.message)
                if outcome is not None:
                    self._report(item, outcome)
            if self._sync_failing and not failing:
                logger.info("Reading Vertex AI jobs works again")
            self._sync_failing = failing

    def _report(self, item: _Tracked, outcome: InfrastructureOutcome) -> None:
        with self._lock:
            if self._tracked.get(item.run_id) is not item:
                return
            del self._tracked[item.run_id]
            self._outcomes.append(outcome)
            self._unacknowledged[item.run_id] = item
        if outcome.succeeded:
            logger.info("Vertex AI job %s of flow run %s succeeded", job_id(item.name), item.run_id)
        else:
            logger.warning("Flow run %s: %s", item.run_id, outcome.reason)
