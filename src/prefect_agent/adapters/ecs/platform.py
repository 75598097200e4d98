"""The ECS platform: each flow run as an ECS task, watched with batched ``describe_tasks``."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import boto3
from botocore.exceptions import BotoCoreError, ClientError

from prefect_agent.adapters.ecs.aws_session import client_config, session_for
from prefect_agent.adapters.ecs.documents import (
    DocumentError,
    default_task_definition,
    load_mapping,
)
from prefect_agent.adapters.ecs.task_request import (
    OWNER_TAG,
    RUN_TAG,
    merge_run_task_kwargs,
    run_task_kwargs_for,
    task_definition_for,
)
from prefect_agent.adapters.ecs.task_status import AGENT_STOP_REASON, judge, task_id, vanished
from prefect_agent.adapters.sync_thread import SyncThread
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.ecs_run_config import ECSRun
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.domain.output_lines import Masker

logger = logging.getLogger(__name__)

DEFAULT_CLUSTER = "default"
DESCRIBE_BATCH = 100
"""describe_tasks takes at most 100 tasks per call."""
REPORTED_TAG = "prefect:reported"
# Errors that say the platform cannot be used now, not that this run is wrong.
UNAVAILABLE_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ThrottlingException",
        "ServerException",
        "ServiceUnavailableException",
    }
)


@attrs.define
class _Tracked:
    run_id: str
    cluster: str
    task_arn: str


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _batches(items: Sequence[str], size: int = DESCRIBE_BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class ECSPlatform:
    """Implements the ``Platform`` port with ECS tasks.

    Every task carries ``startedBy=<run id>`` and the tags ``prefect:flow-run-id`` and
    ``prefect:agent``: a launch first looks for a running task of its run (so a retried
    launch or a restarted agent never starts a second one), and adoption finds this agent's
    tasks after a restart. A background thread describes the tasks it watches, 100 per call,
    and turns each STOPPED task into one outcome. The stopped task is the verdict: only once
    the outcome is acknowledged is it tagged ``prefect:reported``, so a restarted agent
    reports again what its predecessor saw end but did not get into the API (ECS keeps a
    stopped task visible for about an hour; a verdict older than that is lost).
    """

    def __init__(
        self,
        config: AgentConfig,
        session: boto3.session.Session,
        *,
        endpoint_url: str | None = None,
    ) -> None:
        if not isinstance(config.platform, ECSSettings):
            raise ConfigError("the ECS platform needs ECS settings", key="platform")
        self._config = config
        self._settings: ECSSettings = config.platform
        self.owner = config.name
        boto_config = client_config(self._settings.botocore_config)
        self._ecs = session.client("ecs", config=boto_config, endpoint_url=endpoint_url)
        self._ec2 = session.client("ec2", config=boto_config, endpoint_url=endpoint_url)
        self._s3 = session.client("s3", config=boto_config, endpoint_url=endpoint_url)
        self._task_definition = self._load(
            self._settings.task_definition_path, "agent.ecs.task_definition_path"
        )
        self._run_task_kwargs = (
            self._load(self._settings.run_task_kwargs_path, "agent.ecs.run_task_kwargs_path")
            if self._settings.run_task_kwargs_path
            else {}
        )
        self.launch_type = self._settings.launch_type
        if not self._run_task_kwargs.get("capacityProviderStrategy"):
            self.launch_type = self.launch_type or "FARGATE"
        self._network_known = not (
            self.launch_type == "FARGATE" and not self._run_task_kwargs.get("networkConfiguration")
        )
        self.cluster = self._settings.cluster or self._run_task_kwargs.get("cluster")
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._tracked: dict[str, _Tracked] = {}
        self._unacknowledged: dict[str, _Tracked] = {}
        """Stopped tasks whose outcome was reported but not acknowledged yet."""
        self._outcomes: list[InfrastructureOutcome] = []
        self._sync_failing = False
        self._sync_thread = SyncThread(
            "ecs-task-sync",
            self.sync,
            lambda: self._settings.task_sync_interval_seconds,
            "ECS tasks",
        )

    @classmethod
    def from_config(cls, config: AgentConfig) -> ECSPlatform:
        assert isinstance(config.platform, ECSSettings)
        return cls(config, session_for(config.platform))

    # -- the Platform port -------------------------------------------------------------------

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return ()

    def check(self) -> None:
        cluster = self.cluster or DEFAULT_CLUSTER
        try:
            found = self._ecs.describe_clusters(clusters=[cluster])
        except (ClientError, BotoCoreError) as exc:
            raise PlatformUnavailable(f"the ECS API cannot be used: {exc}") from None
        active = [c for c in found.get("clusters") or () if c.get("status") == "ACTIVE"]
        if not active:
            raise PlatformUnavailable(f"the ECS cluster {cluster!r} does not exist or is inactive")
        self._ensure_network()

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        run_config = spec.run_config
        assert isinstance(run_config, ECSRun)
        self._ensure_network()
        try:
            return self._launch(run, spec, run_config)
        except ClientError as exc:
            problem = self._masked(f"ECS refused to start flow run {run.id}: {exc}", spec)
            if _code(exc) in UNAVAILABLE_CODES:
                raise PlatformUnavailable(problem) from None
            raise LaunchError(problem) from None
        except BotoCoreError as exc:
            raise PlatformUnavailable(
                self._masked(f"the ECS API is unreachable: {exc}", spec)
            ) from None

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        self._sync_thread.ensure_started()
        with self._lock:
            ready, self._outcomes = self._outcomes, []
        return ready

    def infrastructure_logs(self) -> Sequence[RunLog]:
        return ()

    def adopt(self) -> Sequence[str]:
        self._sync_thread.ensure_started()
        cluster = self.cluster or DEFAULT_CLUSTER
        try:
            tasks = self._describe(cluster, self._list(cluster), tags=True)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("Could not list this agent's ECS tasks to adopt them: %s", exc)
            return []
        adopted = []
        with self._lock:
            for task in tasks:
                tags = {t.get("key"): t.get("value") for t in task.get("tags") or ()}
                run_id = tags.get(RUN_TAG)
                if tags.get(OWNER_TAG) != self.owner or not run_id or REPORTED_TAG in tags:
                    continue
                self._tracked.setdefault(run_id, _Tracked(run_id, cluster, task["taskArn"]))
                adopted.append(run_id)
        return sorted(set(adopted))

    def stop(self, run_id: str) -> str:
        """``stop_task`` on the run's running tasks: ECS sends SIGTERM, then SIGKILL after
        the container's ``stopTimeout``. The STOPPED task is then reported like any other."""
        with self._lock:
            tracked = self._tracked.get(run_id)
        cluster = tracked.cluster if tracked is not None else self.cluster or DEFAULT_CLUSTER
        stopped = []
        try:
            for arn in self._running_of(cluster, run_id):
                self._ecs.stop_task(
                    cluster=cluster, task=arn, reason=f"{AGENT_STOP_REASON} {self.owner}"
                )
                stopped.append(task_id(arn))
                logger.info("Stopped ECS task %s of flow run %s", task_id(arn), run_id)
        except ClientError as exc:
            if _code(exc) in UNAVAILABLE_CODES:
                raise PlatformUnavailable(
                    f"could not stop the task of run {run_id}: {exc}"
                ) from None
            logger.info("ECS task of flow run %s could not be stopped: %s", run_id, exc)
        except BotoCoreError as exc:
            raise PlatformUnavailable(f"the ECS API is unreachable: {exc}") from None
        if not stopped:
            return ""
        noun = "task" if len(stopped) == 1 else "tasks"
        return (
            f"ECS {noun} {', '.join(stopped)} in cluster {cluster} (stop_task: SIGTERM, then "
            "SIGKILL after the container's stopTimeout)"
        )

    def acknowledge(self, run_id: str) -> None:
        """Tag the stopped task ``prefect:reported``: a restarted agent leaves it alone."""
        with self._lock:
            item = self._unacknowledged.pop(run_id, None)
        if item is not None:
            self._mark_reported(item.task_arn)

    @property
    def claimant(self) -> str:
        # The agent's tasks are found by its owner tag in this cluster of this region (the
        # endpoint names the region), so those identify its claims across restarts.
        cluster = self.cluster or DEFAULT_CLUSTER
        scope = f"{self._ecs.meta.endpoint_url}|{cluster}|{self.owner}"
        return "ecs-" + str(uuid.uuid5(uuid.NAMESPACE_URL, scope))

    def close(self) -> None:
        self._sync_thread.close(timeout=self._config.request_timeout + 5)

    # -- launching ---------------------------------------------------------------------------

    def _launch(self, run: FlowRun, spec: LaunchSpec, run_config: ECSRun) -> Launched:
        agent_kwargs = self._agent_kwargs()
        planned = merge_run_task_kwargs(agent_kwargs, run_config.run_task_kwargs or {})
        cluster = planned.get("cluster") or DEFAULT_CLUSTER
        running = self._running_of(cluster, run.id)
        if running:
            self._track(run.id, cluster, running[0])
            logger.info("Flow run %s already has task %s", run.id, task_id(running[0]))
            return Launched(run.id, f"Task {running[0]} (already running)")
        registered = False
        if run_config.task_definition_arn is None:
            template = self._run_template(run_config)
            taskdef = task_definition_for(
                template, run, run_config, self._settings, self.launch_type
            )
            response = self._ecs.register_task_definition(**taskdef)
            taskdef_arn = response["taskDefinition"]["taskDefinitionArn"]
            registered = True
            logger.debug("Registered task definition %s for flow run %s", taskdef_arn, run.id)
        else:
            if run.storage_type == "Docker":
                raise LaunchError(
                    f"Flow run {run.id}: task_definition_arn cannot be used with Docker "
                    "storage (the registered definition fixes the image)"
                )
            taskdef_arn = run_config.task_definition_arn
            taskdef = self._ecs.describe_task_definition(taskDefinition=taskdef_arn)[
                "taskDefinition"
            ]
        kwargs = run_task_kwargs_for(
            agent_kwargs, run_config, taskdef, spec, self._settings, self.owner
        )
        try:
            response = self._ecs.run_task(taskDefinition=taskdef_arn, **kwargs)
        finally:
            if registered:
                # One definition per run: it is not needed once the task is started.
                self._ecs.deregister_task_definition(taskDefinition=taskdef_arn)
        tasks = response.get("tasks") or ()
        if not tasks:
            raise LaunchError(
                f"Failed to start task for flow run {run.id}. Failures: {response.get('failures')}"
            )
        arn = tasks[0]["taskArn"]
        self._track(run.id, cluster, arn)
        logger.info("Started ECS task %s for flow run %s", task_id(arn), run.id)
        return Launched(run.id, f"Task {arn}")

    def _agent_kwargs(self) -> dict[str, Any]:
        out = dict(self._run_task_kwargs)
        if not out.get("capacityProviderStrategy"):
            out["launchType"] = self.launch_type
        if self._settings.cluster:
            out["cluster"] = self._settings.cluster
        return out

    def _run_template(self, run_config: ECSRun) -> Mapping[str, Any]:
        if run_config.task_definition is not None:
            return run_config.task_definition
        if run_config.task_definition_path:
            try:
                return load_mapping(run_config.task_definition_path, self._read_s3)
            except DocumentError as exc:
                raise LaunchError(f"The run config's task definition: {exc}") from None
        return self._task_definition

    def _load(self, location: str | None, key: str) -> dict[str, Any]:
        try:
            if not location:
                return default_task_definition()
            return load_mapping(location, self._read_s3)
        except DocumentError as exc:
            raise ConfigError(str(exc), key=key, value=location) from None

    def _read_s3(self, bucket: str, key: str) -> bytes:
        body: bytes = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _ensure_network(self) -> None:
        """On FARGATE without a networkConfiguration: the default VPC's subnets with a public
        IP (as Prefect 1.4.1), and its default security group (what ECS uses when none is
        named; stated here so emulators that require the key accept the request)."""
        if self._network_known:
            return
        try:
            vpcs = self._ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])
            vpc_ids = [v["VpcId"] for v in vpcs.get("Vpcs") or ()]
            subnets: list[dict[str, Any]] = []
            groups: list[dict[str, Any]] = []
            if vpc_ids:
                in_vpc = [{"Name": "vpc-id", "Values": vpc_ids[:1]}]
                subnets = self._ec2.describe_subnets(Filters=in_vpc).get("Subnets") or []
                groups = (
                    self._ec2.describe_security_groups(
                        Filters=[*in_vpc, {"Name": "group-name", "Values": ["default"]}]
                    ).get("SecurityGroups")
                    or []
                )
        except (ClientError, BotoCoreError) as exc:
            raise PlatformUnavailable(
                f"could not find the default VPC's subnets for FARGATE tasks: {exc}"
            ) from None
        if not subnets:
            raise PlatformUnavailable(
                "Failed to infer default networkConfiguration (no default VPC with subnets), "
                "please explicitly configure using --run-task-kwargs"
            )
        vpc_config: dict[str, Any] = {
            "subnets": [s["SubnetId"] for s in subnets],
            "assignPublicIp": "ENABLED",
        }
        if groups:
            vpc_config["securityGroups"] = [g["GroupId"] for g in groups]
        self._run_task_kwargs["networkConfiguration"] = {"awsvpcConfiguration": vpc_config}
        self._network_known = True
        logger.debug("Using networkConfiguration=%r", self._run_task_kwargs["networkConfiguration"])

    def _masked(self, text: str, spec: LaunchSpec) -> str:
        return Masker([spec.api_key.reveal() if spec.api_key else None])(text)

    # -- ECS calls ---------------------------------------------------------------------------

    def _running_of(self, cluster: str, run_id: str) -> list[str]:
        response = self._ecs.list_tasks(cluster=cluster, startedBy=run_id, desiredStatus="RUNNING")
        return list(response.get("taskArns") or ())

    def _list(self, cluster: str) -> list[str]:
        arns: list[str] = []
        paginator = self._ecs.get_paginator("list_tasks")
        for status in ("RUNNING", "STOPPED"):
            for page in paginator.paginate(cluster=cluster, desiredStatus=status):
                arns.extend(page.get("taskArns") or ())
        return arns

    def _describe(
        self, cluster: str, arns: Sequence[str], *, tags: bool = False
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for batch in _batches(arns):
            extra = {"include": ["TAGS"]} if tags else {}
            found.extend(
                self._ecs.describe_tasks(cluster=cluster, tasks=batch, **extra).get("tasks") or ()
            )
        return found

    def _mark_reported(self, arn: str) -> None:
        try:
            self._ecs.tag_resource(resourceArn=arn, tags=[{"key": REPORTED_TAG, "value": "true"}])
        except (ClientError, BotoCoreError) as exc:
            # Not fatal: a restarted agent reports the run again, and the agent leaves a
            # run that already ended as it is.
            logger.warning("Could not tag ECS task %s as reported: %s", task_id(arn), exc)

    def _track(self, run_id: str, cluster: str, arn: str) -> None:
        self._sync_thread.ensure_started()
        with self._lock:
            self._tracked[run_id] = _Tracked(run_id, cluster, arn)

    # -- monitoring --------------------------------------------------------------------------

    def sync(self) -> None:
        """One pass over the watched tasks, 100 per describe_tasks call. Never raises."""
        with self._sync_lock:
            try:
                self._sync()
            except (ClientError, BotoCoreError) as exc:
                if not self._sync_failing:
                    logger.warning("Could not describe this agent's ECS tasks: %s", exc)
                self._sync_failing = True
                return
            if self._sync_failing:
                logger.info("Describing this agent's ECS tasks works again")
            self._sync_failing = False

    def _sync(self) -> None:
        with self._lock:
            watched = list(self._tracked.values())
        by_cluster: dict[str, list[_Tracked]] = {}
        for item in watched:
            by_cluster.setdefault(item.cluster, []).append(item)
        for cluster, items in by_cluster.items():
            described = {
                task["taskArn"]: task
                for task in self._describe(cluster, [i.task_arn for i in items])
            }
            for item in items:
                task = described.get(item.task_arn)
                outcome = (
                    vanished(item.run_id, item.task_arn)
                    if task is None
                    else judge(item.run_id, task)
                )
                if outcome is not None:
                    self._report(item, outcome)

    def _report(self, item: _Tracked, outcome: InfrastructureOutcome) -> None:
        with self._lock:
            if self._tracked.get(item.run_id) is not item:
                return  # stopped or relaunched meanwhile
            del self._tracked[item.run_id]
            self._outcomes.append(outcome)
            self._unacknowledged[item.run_id] = item
        if outcome.succeeded:
            logger.info("ECS task %s of flow run %s exited 0", task_id(item.task_arn), item.run_id)
        else:
            logger.warning("Flow run %s: %s", item.run_id, outcome.reason)
