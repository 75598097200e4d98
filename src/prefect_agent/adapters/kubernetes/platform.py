"""The Kubernetes platform: each flow run as a Job, watched through list-then-watch streams."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import attrs
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prefect_agent.adapters.kubernetes.api_client import cluster_client
from prefect_agent.adapters.kubernetes.job_builder import JobTemplate, build_job
from prefect_agent.adapters.kubernetes.job_fields import unknown_fields
from prefect_agent.adapters.kubernetes.job_naming import (
    LEGACY_LABEL,
    OWNER_LABEL,
    REPORTED_ANNOTATION,
    RUN_ANNOTATION,
    RUN_LABEL,
    label_value,
)
from prefect_agent.adapters.kubernetes.job_status import (
    Verdict,
    container_states,
    event_key,
    event_line,
    is_pending,
    job_name_of,
    job_of_pod,
    judge,
    judged_job,
    judged_pod,
    pods_of,
)
from prefect_agent.adapters.kubernetes.job_templates import (
    TemplateError,
    checked_template,
    default_template,
    load_template,
    parse_template,
    source_refusal,
)
from prefect_agent.adapters.kubernetes.object_watch import ObjectWatch
from prefect_agent.adapters.kubernetes.template_fetch import FetchError, FetchLimits, fetch
from prefect_agent.adapters.sync_thread import SyncThread
from prefect_agent.domain.agent_config import AgentConfig, split_credentials
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_policy import (
    pod_refusal,
    service_account_refusal,
    template_service_account,
)
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.domain.output_lines import Masker
from prefect_agent.domain.run_config import KubernetesRun

logger = logging.getLogger(__name__)

CREATE_ATTEMPTS = 3
INFRA_LOG_NAME = "k8s-infra"
"""The log name of pod events in a run's logs (the name Prefect 1 used)."""
LEGACY_SWEEP_SECONDS = 60.0
"""How often jobs left by Prefect 1.4.1 agents are looked for (1.4.1 cleaned up every 60 s)."""
EVENTS_REFRESH_SECONDS = 60.0
"""How often the events of a job still pending are read again when none of its objects
changed (a scheduler's repeated FailedScheduling changes no pod)."""
KEPT_ANNOTATIONS = (RUN_ANNOTATION, REPORTED_ANNOTATION)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@attrs.define
class _Tracked:
    """What this process knows of one of its jobs between two listings."""

    run_id: str
    pending_since: float | None = None
    events_read_at: float | None = None
    seen_events: set[str] | None = None
    """Keys of the events already logged; made at the first (most jobs never have one)."""


def _wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def _rejection(exc: ValueError) -> str:
    """What the client's validation found, by field path only: values may hold secrets."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return type(exc).__name__
    found = []
    for error in errors(include_input=False, include_url=False):
        # The first path element is the argument position of the body.
        path = ".".join(str(part) for part in error.get("loc", ())[1:])
        found.append(f"{path}: {error.get('msg')}")
    return "; ".join(found) or type(exc).__name__


def _check_api_credentials(config: AgentConfig, settings: KubernetesSettings) -> None:
    """Credentials in the API address reach Jobs only through the Secret, or not at all."""
    if split_credentials(config.api)[1] and not settings.api_key_secret_name:
        raise ConfigError(
            "carries credentials, which every flow-run Job would hold in plain text: set "
            "agent.kubernetes.api_key_secret_name to a Secret holding the address under "
            f"{settings.api_address_secret_key!r} (and the key under "
            f"{settings.api_key_secret_key!r}), or remove the credentials",
            key="cloud.api",
            value=config.api_display,
        )


def _finished(job: Mapping[str, Any]) -> bool:
    status = job.get("status") or {}
    return bool(status.get("succeeded") or status.get("failed")) or any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.data)
    return data


class KubernetesPlatform:
    """Implements the ``Platform`` port with batch/v1 Jobs in one namespace.

    Two ``ObjectWatch`` threads keep a copy of this agent's jobs and pods (a paged listing,
    then a watch stream resumed from its resource version; a listing again only after 410
    Gone), so monitoring costs requests and bytes by changes, not by jobs. A sync thread
    judges, every ``job_sync_interval_seconds``, the jobs whose objects changed (and those
    still pending, for the deadline) without calling the API, turns finished or hopeless jobs
    into outcomes, writes the pod events and container states into the outcome's details,
    and deletes finished jobs by the cleanup policy. Only jobs labelled with this agent's
    owner value are ever touched.
    """

    def __init__(
        self,
        config: AgentConfig,
        api: client.ApiClient,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        if not isinstance(config.platform, KubernetesSettings):
            raise ConfigError("the Kubernetes platform needs Kubernetes settings", key="platform")
        _check_api_credentials(config, config.platform)
        self._config = config
        self._settings: KubernetesSettings = config.platform
        self._api = api
        self._batch = client.BatchV1Api(api)
        self._core = client.CoreV1Api(api)
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self.owner = label_value(self._settings.job_owner or config.name)
        self._selector = f"{OWNER_LABEL}={self.owner}"
        self._limits = FetchLimits(
            max_bytes=self._settings.job_template_max_bytes,
            timeout=self._settings.job_template_timeout_seconds,
        )
        self._template = self._agent_template()
        self._timeout = config.request_timeout
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._tracked: dict[str, _Tracked] = {}
        self._reported: set[str] = set()
        self._unacknowledged: dict[str, tuple[dict[str, Any], Verdict]] = {}
        """Run id -> its reported job and verdict, until ``acknowledge`` marks the job."""
        self._outcomes: list[InfrastructureOutcome] = []
        self._events_forbidden = False
        self._event_logs: list[RunLog] = []
        self._sync_failing = False
        self._next_legacy_sweep: float | None = None
        self._sync_thread = SyncThread(
            "kubernetes-job-sync",
            self.sync,
            lambda: self._settings.job_sync_interval_seconds,
            "Kubernetes jobs",
        )
        self._stop = self._sync_thread.stopped
        namespace = self._settings.namespace
        self._dirty: set[str] = set()
        """Jobs whose Job or pods changed since the last pass."""
        self._kept: set[str] = set()
        """Reported jobs the cleanup policy keeps for now (a failed job's TTL)."""
        self._deleting: set[str] = set()
        self._pods_by_job: dict[str, set[str]] = {}
        self._jobs = ObjectWatch(
            "jobs",
            partial(self._batch.list_namespaced_job, namespace, label_selector=self._selector),
            self._trim_job,
            self._job_changed,
            timeout=self._timeout,
            stopped=self._stop,
        )
        self._pods = ObjectWatch(
            "pods",
            partial(self._core.list_namespaced_pod, namespace, label_selector=self._selector),
            self._trim_pod,
            self._pod_changed,
            timeout=self._timeout,
            stopped=self._stop,
        )
        if urlsplit(config.api).hostname in LOOPBACK_HOSTS:
            logger.warning(
                "The Prefect API address %s is this machine's loopback: flow-run pods cannot "
                "reach it there. Set the API (--api, PREFECT__CLOUD__API) to an address pods "
                "can reach, such as a Service name.",
                config.api_display,
            )

    @classmethod
    def from_config(cls, config: AgentConfig) -> KubernetesPlatform:
        if isinstance(config.platform, KubernetesSettings):
            _check_api_credentials(config, config.platform)  # before any cluster is contacted
        keep_alive = isinstance(config.platform, KubernetesSettings) and config.platform.keep_alive
        return cls(config, cluster_client(keep_alive=keep_alive))

    # -- the Platform port -------------------------------------------------------------------

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return ()

    def check(self) -> None:
        try:
            self._list_jobs(limit=1)
        except ApiException as exc:
            raise PlatformUnavailable(self._api_problem("list jobs", exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise PlatformUnavailable(f"the Kubernetes API is unreachable: {exc}") from None

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        assert isinstance(spec.run_config, KubernetesRun)
        refusal = service_account_refusal(
            spec.run_config.service_account_name,
            "service_account_name",
            agent_account=self._settings.service_account_name,
            allowed=self._settings.run_service_accounts,
        )
        if refusal:
            raise LaunchError(refusal)
        template = self._run_template(spec.run_config)
        job, _ = build_job(template, run, spec, settings=self._settings, owner=self.owner)
        unknown = unknown_fields(job)
        if unknown:
            raise LaunchError(
                f"The job built from {template.source} for flow run {run.id} is not a valid "
                f"Job: {'; '.join(f'{path}: unknown field' for path in unknown)}"
            )
        name = job["metadata"]["name"]
        self._ensure_watching()
        with self._lock:
            self._tracked.setdefault(name, _Tracked(run.id, pending_since=self._monotonic()))
        mask = Masker([spec.api_key.reveal() if spec.api_key else None])
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                # A plain dict body is validated by the client against V1Job all the same.
                # The answer is not read into a V1Job: the create is all a launch needs.
                self._batch.create_namespaced_job(
                    self._settings.namespace,
                    job,  # type: ignore[arg-type]
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
                logger.info("Created job %s for flow run %s", name, run.id)
                return Launched(run.id, f"Job {name}")
            except ApiException as exc:
                if exc.status == 409:
                    logger.info("Job %s of flow run %s already exists", name, run.id)
                    return Launched(run.id, f"Job {name} (already created)")
                if exc.status not in RETRYABLE_STATUSES or attempt == CREATE_ATTEMPTS:
                    self._forget(name)
                    problem = mask(self._api_problem(f"create job {name}", exc))
                    if exc.status in (401, 403):
                        raise PlatformUnavailable(problem) from None
                    raise LaunchError(problem) from None
            except ValueError as exc:
                # The client checks the body against V1Job before sending it.
                self._forget(name)
                raise LaunchError(
                    f"The job built from {template.source} for flow run {run.id} is not a valid "
                    f"Job: {_rejection(exc)}"
                ) from None
            except urllib3.exceptions.HTTPError as exc:
                if attempt == CREATE_ATTEMPTS:
                    self._forget(name)
                    raise PlatformUnavailable(
                        f"could not create job {name}: the Kubernetes API is unreachable: {exc}"
                    ) from None
            # A lost answer may hide a created job: the next attempt then meets 409.
            logger.warning("Creating job %s failed (attempt %d); retrying", name, attempt)
            self._stop.wait(0.5 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def infrastructure_logs(self) -> Sequence[RunLog]:
        with self._lock:
            ready, self._event_logs = self._event_logs, []
        return ready

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        self._ensure_watching()
        with self._lock:
            ready, self._outcomes = self._outcomes, []
        return ready

    def adopt(self) -> Sequence[str]:
        """Watch this agent's jobs whose outcome no agent had acknowledged (the annotation is
        written only then), finished or not: the sync thread reports those that ended."""
        try:
            # The listing seeds the watched copy: the watch thread resumes from its version.
            self._jobs.relist()
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            # Not fatal: the sync thread watches every job of this agent once the API answers.
            logger.warning("Could not list this agent's jobs to adopt them: %s", exc)
            return []
        finally:
            self._ensure_watching()
        adopted = []
        with self._lock:
            for job in self._jobs.values():
                name = job_name_of(job)
                annotations = job["metadata"].get("annotations") or {}
                run_id = annotations.get(RUN_ANNOTATION)
                if run_id and REPORTED_ANNOTATION not in annotations:
                    self._tracked.setdefault(name, _Tracked(run_id))
                    adopted.append(run_id)
        return sorted(set(adopted))

    def stop(self, run_id: str) -> str:
        """Delete the run's Job (propagation Foreground) and its pods (with
        ``stop_grace_seconds`` when set: SIGTERM, then SIGKILL after it); the end is reported
        as an outcome at once, since a deleted Job tells nothing more."""
        # Selected by the run's label: a few objects, however many jobs this agent has.
        selector = f"{self._selector},{RUN_LABEL}={label_value(run_id)}"
        try:
            jobs = self._list(self._batch.list_namespaced_job, selector)
            pods = self._list(self._core.list_namespaced_pod, selector)
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            raise PlatformUnavailable(f"could not list this agent's jobs: {exc}") from None
        stopped = []
        for job in jobs:
            if (job["metadata"].get("annotations") or {}).get(RUN_ANNOTATION) != run_id:
                continue
            name = job_name_of(job)
            with self._lock:
                self._reported.add(name)
                self._tracked.pop(name, None)
            own_pods = pods_of(job, pods)
            self._delete(name, propagation="Foreground")
            for pod in own_pods:
                self._delete_pod(str((pod.get("metadata") or {}).get("name")))
            count = len(own_pods)
            stopped.append(f"job {name} and its {count} pod{'s' if count != 1 else ''}")
        if not stopped:
            return ""
        grace = self._settings.stop_grace_seconds
        how = (
            f"grace period {grace:g} s"
            if grace is not None
            else "each pod's own termination grace period"
        )
        with self._lock:
            self._outcomes.append(
                InfrastructureOutcome(
                    run_id=run_id,
                    succeeded=False,
                    reason=f"Kubernetes {', '.join(stopped)} deleted by the agent",
                    ended_at=self._wall_clock(),
                )
            )
        return f"{', '.join(stopped)} (deleted, {how})"

    def acknowledge(self, run_id: str) -> None:
        """The API has the outcome: mark the job reported, then clean up by the policy."""
        with self._lock:
            entry = self._unacknowledged.pop(run_id, None)
        if entry is None:
            return
        job, verdict = entry
        name = job_name_of(job)
        stamp = self._wall_clock().isoformat()
        try:
            # Recorded on the job so a restarted agent does not report it a second time.
            self._batch.patch_namespaced_job(
                name,
                self._settings.namespace,
                {"metadata": {"annotations": {REPORTED_ANNOTATION: stamp}}},
                _request_timeout=self._timeout,
            )
        except ApiException as exc:
            if exc.status == 404:
                return  # deleted meanwhile (by a user, a TTL or a stop)
            logger.warning("Could not mark job %s as reported: %s", name, exc)
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Could not mark job %s as reported: %s", name, exc)
        if verdict.still_active and self._settings.delete_finished_jobs:
            # The pod would retry the pull or wait for capacity forever.
            self._delete(name)
        else:
            job["metadata"].setdefault("annotations", {})[REPORTED_ANNOTATION] = stamp
            self._clean_up(job, stamp)

    @property
    def claimant(self) -> str:
        # The agent's jobs are found by their owner label in its namespace, so those identify
        # its claims across restarts (and replicas meet at the same job names).
        scope = f"{self._api.configuration.host}|{self._settings.namespace}|{self.owner}"
        return "kubernetes-" + str(uuid.uuid5(uuid.NAMESPACE_URL, scope))

    def close(self) -> None:
        self._stop.set()
        self._jobs.close()
        self._pods.close()
        self._sync_thread.close(timeout=self._timeout + 5)

    # -- monitoring --------------------------------------------------------------------------

    def sync(self) -> None:
        """One pass: judge the jobs that changed, report what ended, clean up. Never raises.
        Before the watch threads run (a caller's pass), the jobs and pods are listed first."""
        with self._sync_lock:  # the thread and a caller must not report one job twice
            self._sync()

    def _sync(self) -> None:
        if not self._jobs.running:
            try:
                self._jobs.relist()
                self._pods.relist()
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                if not self._sync_failing:
                    logger.warning("Could not list this agent's jobs and pods: %s", exc)
                self._sync_failing = True
                return
            if self._sync_failing:
                logger.info("Listing this agent's jobs works again")
            self._sync_failing = False
        elif not (self._jobs.synced.is_set() and self._pods.synced.is_set()):
            return  # the watch threads have not listed yet
        self._sweep_legacy_jobs()
        with self._lock:
            changed, self._dirty = self._dirty, set()
            pending = {n for n, t in self._tracked.items() if t.pending_since is not None}
            names = changed | pending | self._kept
        for name in sorted(names):
            job = self._jobs.get(name)
            if job is None:
                continue  # not seen yet (just created) or gone (forgotten on its deletion)
            with self._lock:
                pod_names = sorted(self._pods_by_job.get(name, ()))
            pods = [pod for pod in map(self._pods.get, pod_names) if pod is not None]
            try:
                self._sync_job(job, pods, changed=name in changed)
            except (ApiException, urllib3.exceptions.HTTPError) as exc:
                logger.warning("Could not handle job %s: %s", name, exc)

    def _trim_job(self, job: Mapping[str, Any]) -> dict[str, Any] | None:
        return judged_job(job, KEPT_ANNOTATIONS) if self._owned(job) else None

    def _trim_pod(self, pod: Mapping[str, Any]) -> dict[str, Any] | None:
        return judged_pod(pod) if self._owned(pod) else None

    def _job_changed(
        self, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        with self._lock:
            if new is not None:
                self._dirty.add(name)
                return
            # Gone from the cluster (deleted by us, a user or a TTL): no memory of it is kept.
            self._tracked.pop(name, None)
            self._reported.discard(name)
            self._kept.discard(name)
            self._deleting.discard(name)
            self._dirty.discard(name)

    def _pod_changed(
        self, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        job = job_of_pod(new or old or {})
        if job is None:
            return
        with self._lock:
            if new is None:
                names = self._pods_by_job.get(job, set())
                names.discard(name)
                if not names:
                    self._pods_by_job.pop(job, None)
            else:
                self._pods_by_job.setdefault(job, set()).add(name)
            self._dirty.add(job)

    def _sync_job(
        self, job: dict[str, Any], pods: Sequence[Mapping[str, Any]], *, changed: bool
    ) -> None:
        name = job_name_of(job)
        annotations = job["metadata"].get("annotations") or {}
        run_id = annotations.get(RUN_ANNOTATION)
        if REPORTED_ANNOTATION in annotations or name in self._reported or not run_id:
            wait = self._clean_up(job, annotations.get(REPORTED_ANNOTATION))
            with self._lock:
                if wait:
                    self._kept.add(name)
                else:
                    self._kept.discard(name)
            return
        now = self._monotonic()
        with self._lock:
            tracked = self._tracked.setdefault(name, _Tracked(run_id))
            if is_pending(pods):
                if tracked.pending_since is None:
                    tracked.pending_since = now
            else:
                tracked.pending_since = None
            pending_for = None if tracked.pending_since is None else now - tracked.pending_since
        verdict = judge(
            job,
            pods,
            pending_for=pending_for,
            pending_deadline=self._settings.pending_deadline_seconds,
        )
        troubled = [
            p for p in pods if (p.get("status") or {}).get("phase") in (None, "Pending", "Failed")
        ]
        due = (
            changed
            or tracked.events_read_at is None
            or now - tracked.events_read_at >= EVENTS_REFRESH_SECONDS
        )
        if due and (troubled or (verdict is not None and not verdict.succeeded)):
            tracked.events_read_at = now
            self._collect_events(tracked, troubled or pods)
        if verdict is not None:
            self._report(job, tracked, verdict, pods)

    def _report(
        self,
        job: dict[str, Any],
        tracked: _Tracked,
        verdict: Verdict,
        pods: Sequence[Mapping[str, Any]],
    ) -> None:
        name = job_name_of(job)
        # Pod events already went to the run's logs as they happened (infrastructure_logs).
        details = tuple(container_states(pods))
        outcome = InfrastructureOutcome(
            run_id=tracked.run_id,
            succeeded=verdict.succeeded,
            reason=verdict.reason,
            exit_code=verdict.exit_code,
            details=details,
        )
        with self._lock:
            self._outcomes.append(attrs.evolve(outcome, ended_at=self._wall_clock()))
            self._reported.add(name)
            self._tracked.pop(name, None)
            # A copy: acknowledge() marks it, and the watched copy must only follow the API.
            self._unacknowledged[tracked.run_id] = (copy.deepcopy(job), verdict)
        if verdict.succeeded:
            logger.info("Job %s of flow run %s completed", name, tracked.run_id)
        else:
            logger.warning("Job %s of flow run %s failed: %s", name, tracked.run_id, verdict.reason)

    def _collect_events(self, tracked: _Tracked, pods: Sequence[Mapping[str, Any]]) -> None:
        if self._events_forbidden:
            return
        for pod in pods:
            pod_name = (pod.get("metadata") or {}).get("name")
            try:
                response = self._core.list_namespaced_event(
                    self._settings.namespace,
                    field_selector=f"involvedObject.name={pod_name}",
                    _preload_content=False,
                    _request_timeout=self._timeout,
                )
            except ApiException as exc:
                if exc.status in (401, 403):
                    self._events_forbidden = True
                    logger.warning(
                        "Not allowed to list events in namespace %s (HTTP %s): pod events will "
                        "not appear in flow run logs. Grant 'list' on events to the agent's "
                        "service account to get them.",
                        self._settings.namespace,
                        exc.status,
                    )
                    return
                logger.debug("Could not list events of pod %s: %s", pod_name, exc)
                continue
            events = [
                e
                for e in _body(response).get("items") or ()
                if (e.get("involvedObject") or {}).get("name") == pod_name
            ]
            events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
            with self._lock:
                for event in events:
                    key = event_key(event)
                    if tracked.seen_events is None:
                        tracked.seen_events = set()
                    if key not in tracked.seen_events:
                        tracked.seen_events.add(key)
                        self._event_logs.append(
                            RunLog(
                                run_id=tracked.run_id,
                                message=event_line(event),
                                name=INFRA_LOG_NAME,
                            )
                        )

    def _sweep_legacy_jobs(self) -> None:
        """Delete finished jobs left by Prefect 1.4.1 agents, as those agents did, so an
        upgrade leaves none behind. Their running jobs are left alone (their flow runners
        report their states). Once a minute, the interval of 1.4.1's own cleanup."""
        now = self._monotonic()
        if not self._settings.delete_finished_jobs or (
            self._next_legacy_sweep is not None and now < self._next_legacy_sweep
        ):
            return
        self._next_legacy_sweep = now + LEGACY_SWEEP_SECONDS
        try:
            response = self._batch.list_namespaced_job(
                self._settings.namespace,
                label_selector=f"{LEGACY_LABEL},!{OWNER_LABEL}",
                _preload_content=False,
                _request_timeout=self._timeout,
            )
        except (ApiException, urllib3.exceptions.HTTPError) as exc:
            logger.debug("Could not list jobs left by Prefect 1 agents: %s", exc)
            return
        for job in _body(response).get("items") or ():
            labels = (job.get("metadata") or {}).get("labels") or {}
            if LEGACY_LABEL in labels and OWNER_LABEL not in labels and _finished(job):
                logger.info("Deleting finished job %s left by a Prefect 1 agent", job_name_of(job))
                self._delete(job_name_of(job))

    def _clean_up(self, job: Mapping[str, Any], reported_at: str | None) -> bool:
        """Delete a finished job of this agent when the policy says so; True while the
        policy keeps it for a while (a failed job's TTL), so later passes look again."""
        if not self._settings.delete_finished_jobs or reported_at is None:
            return False
        if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None:
            return False  # Kubernetes' TTL controller deletes it
        verdict_ok = (
            any(
                c.get("type") == "Complete" and c.get("status") == "True"
                for c in (job.get("status") or {}).get("conditions") or ()
            )
            or ((job.get("status") or {}).get("succeeded") or 0) >= 1
        )
        if not verdict_ok:
            try:
                age = (self._wall_clock() - datetime.fromisoformat(reported_at)).total_seconds()
            except ValueError:
                age = float("inf")
            if age < self._settings.failed_job_ttl_seconds:
                return True
        self._delete(job_name_of(job))
        return False

    # -- API calls ---------------------------------------------------------------------------

    def _owned(self, item: Mapping[str, Any]) -> bool:
        # Label selectors narrow the listing; this check is what guarantees it (an emulator or
        # a proxy that ignores selectors must never make us touch another agent's job).
        return ((item.get("metadata") or {}).get("labels") or {}).get(OWNER_LABEL) == self.owner

    def _list_jobs(self, limit: int) -> list[dict[str, Any]]:
        return self._list(self._batch.list_namespaced_job, self._selector, limit=limit)

    def _list(
        self, lister: Callable[..., Any], selector: str, **kwargs: Any
    ) -> list[dict[str, Any]]:
        response = lister(
            self._settings.namespace,
            label_selector=selector,
            _preload_content=False,
            _request_timeout=self._timeout,
            **kwargs,
        )
        return [item for item in _body(response).get("items") or () if self._owned(item)]

    def _delete(self, name: str, *, propagation: str = "Background") -> None:
        with self._lock:
            if name in self._deleting:
                return  # asked already; its DELETED event forgets it
            self._deleting.add(name)
        try:
            self._batch.delete_namespaced_job(
                name,
                self._settings.namespace,
                propagation_policy=propagation,
                _request_timeout=self._timeout,
            )
            logger.info("Deleted job %s", name)
        except ApiException as exc:
            if exc.status != 404:
                logger.error("Could not delete job %s: %s", name, self._api_problem("delete", exc))
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Could not delete job %s: %s", name, exc)

    def _delete_pod(self, name: str) -> None:
        grace = self._settings.stop_grace_seconds
        extra: dict[str, Any] = {} if grace is None else {"grace_period_seconds": int(grace)}
        try:
            self._core.delete_namespaced_pod(
                name, self._settings.namespace, _request_timeout=self._timeout, **extra
            )
        except ApiException as exc:
            if exc.status != 404:
                logger.error("Could not delete pod %s: %s", name, self._api_problem("delete", exc))
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Could not delete pod %s: %s", name, exc)

    def _forget(self, name: str) -> None:
        with self._lock:
            self._tracked.pop(name, None)

    def _api_problem(self, action: str, exc: ApiException) -> str:
        message = exc.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message") or message
        return (
            f"the Kubernetes API refused to {action} in namespace {self._settings.namespace} "
            f"(HTTP {exc.status}): {message}"
        )

    # -- templates and the sync thread ---------------------------------------------------------

    def _agent_template(self) -> JobTemplate:
        """The agent's template, read now; a start-up with an unreadable one fails."""
        path = self._settings.job_template_path
        if not path:
            return JobTemplate(body=default_template(), source="the default job template")
        try:
            return JobTemplate(body=load_template(path, self._limits), source=path)
        except TemplateError as exc:
            raise ConfigError(
                str(exc), key="agent.kubernetes.job_template_path", value=path
            ) from None

    def _current_agent_template(self) -> JobTemplate:
        """The agent's template read again for this run, as Prefect 1.4.1 does (an edited
        template applies without a restart); the last good copy when it cannot be read."""
        path = self._settings.job_template_path
        if not path:
            return self._template
        try:
            self._template = JobTemplate(body=load_template(path, self._limits), source=path)
        except TemplateError as exc:
            logger.warning("%s; using the copy read before", exc)
        return self._template

    def _run_template(self, run_config: object) -> JobTemplate:
        assert isinstance(run_config, KubernetesRun)
        settings = self._settings
        try:
            if run_config.job_template is not None:
                body = checked_template(run_config.job_template, "the run config's job_template")
                template = JobTemplate(
                    body=body, source="the run config's job_template", from_run_config=True
                )
            elif run_config.job_template_path:
                location = run_config.job_template_path

                def allowed(url: str) -> bool:
                    return not source_refusal(
                        url, allowed_dir=None, allowed_urls=settings.run_template_urls
                    )

                refusal = source_refusal(
                    location,
                    allowed_dir=settings.run_template_dir,
                    allowed_urls=settings.run_template_urls,
                )
                if refusal:
                    raise LaunchError(refusal)
                try:
                    data = fetch(location, self._limits, allow_redirect=allowed)
                except FetchError as exc:
                    raise TemplateError(str(exc)) from None
                template = JobTemplate(
                    body=parse_template(data.decode("utf-8", errors="replace"), location),
                    source=location,
                    from_run_config=True,
                )
            else:
                return self._current_agent_template()
        except TemplateError as exc:
            raise LaunchError(str(exc)) from None
        refusal = pod_refusal(template.body, settings.run_pod_permissions) or (
            service_account_refusal(
                template_service_account(template.body),
                "job template's serviceAccountName",
                agent_account=settings.service_account_name,
                allowed=settings.run_service_accounts,
            )
        )
        if refusal:
            raise LaunchError(refusal)
        return template

    def _ensure_watching(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._jobs.start()
            self._pods.start()
        self._sync_thread.ensure_started()
