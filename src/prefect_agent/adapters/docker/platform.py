"""``DockerPlatform``: each flow run in its own container on a Docker engine."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import docker.errors

from prefect_agent.adapters.docker import container_identity as ident
from prefect_agent.adapters.docker.api_address import can_map_hosts, container_api_address
from prefect_agent.adapters.docker.container_outcome import (
    ended_outcome,
    finished_at,
    has_ended,
    killed_without_oom_flag,
    vanished_outcome,
)
from prefect_agent.adapters.docker.engine import DockerEngine, explanation
from prefect_agent.adapters.docker.host_config import HostConfig, merge_host_config
from prefect_agent.adapters.docker.image_reference import ImageReference, parse_image
from prefect_agent.adapters.docker.log_streaming import (
    FlowLogStreamer,
    split_lines,
    write_to_stdout,
)
from prefect_agent.adapters.docker.volumes import Volume, parse_volumes
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.errors import ConfigError, LaunchError, PlatformUnavailable
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_policy import docker_host_config_refusal
from prefect_agent.domain.launch_spec import LaunchSpec
from prefect_agent.domain.outcomes import InfrastructureOutcome, Launched, RunLog
from prefect_agent.domain.output_lines import Masker
from prefect_agent.domain.run_config import DockerRun

logger = logging.getLogger(__name__)

LAST_LINES = 20
"""How many of a failed container's last output lines go to the run's logs."""
OOM_FLAG_GRACE = 2.0
"""Seconds a SIGKILLed container's OOMKilled flag is given to appear before it is reported."""
LIVE_STATES = frozenset({"running", "restarting", "paused"})
START_WAIT = 5.0
"""Seconds a container created by another launch of the same run may take to be started."""
RACE_WAIT = 10.0
"""Seconds to wait for the container of a concurrent launch of the same run to appear."""


@attrs.define
class _Watched:
    container_id: str
    name: str


class DockerPlatform:
    """Implements the ``Platform`` port with the docker SDK's low-level ``APIClient``.

    A run's container is named ``prefect-<run id>`` and labelled with the run, flow and
    agent; ``launch`` looks for it first, so a second launch, a restarted agent or a racing
    agent finds it instead of starting another. ``outcomes()`` reads each ended container's
    exit status and last lines, then removes it per ``container_removal``.
    """

    def __init__(
        self,
        settings: DockerSettings,
        *,
        agent_name: str = "agent",
        volume_base_dir: str | None = None,
        write_flow_log: Callable[[str], None] = write_to_stdout,
        secrets: Sequence[str] = (),
    ) -> None:
        self._settings = settings
        self._agent = agent_name
        self._volumes: tuple[Volume, ...] = parse_volumes(
            settings.volumes, base_dir=volume_base_dir
        )
        self._engine = DockerEngine(settings.base_url, settings.docker_client_timeout)
        self._watched: dict[str, _Watched] = {}
        self._pending: list[InfrastructureOutcome] = []
        self._adoption_pending = False
        self._killed_at: dict[str, float] = {}
        self._stopping: dict[str, float] = {}
        """Containers sent SIGTERM by ``stop``, with when they get SIGKILL (monotonic)."""
        self._ended: dict[str, tuple[_Watched, InfrastructureOutcome]] = {}
        """Ended containers whose outcome awaits ``acknowledge`` (then they are removed)."""
        self._lock = threading.Lock()
        self._logs = FlowLogStreamer(self._open_log_stream, write_flow_log, Masker(secrets))

    @classmethod
    def from_config(cls, config: AgentConfig) -> DockerPlatform:
        if not isinstance(config.platform, DockerSettings):
            raise ConfigError(
                f"a Docker agent needs Docker settings, not {type(config.platform).__name__}"
            )
        return cls(config.platform, agent_name=config.name, secrets=config.secrets)

    @property
    def default_command_prefix(self) -> Sequence[str]:
        return ()

    @property
    def engine_url(self) -> str:
        return self._engine.url

    # -- the Platform port -------------------------------------------------------------------

    def check(self) -> None:
        self._engine.ping()

    def launch(self, run: FlowRun, spec: LaunchSpec) -> Launched:
        api = self._engine.api()
        try:
            with self._engine.translated("launch on"):
                existing = self._find(api, run.id)
                if existing is not None:
                    reused = self._reuse(api, run, existing)
                    if reused is not None:
                        return reused
                return self._create(api, run, spec)
        except docker.errors.APIError as exc:
            # Anything the engine refused that the steps above did not explain themselves.
            raise LaunchError(
                f"Docker refused a request while launching flow run {run.id}: {explanation(exc)}"
            ) from exc

    def infrastructure_logs(self) -> Sequence[RunLog]:
        # Exit status, OOMKilled and the last output lines travel with the outcome instead.
        return ()

    def outcomes(self) -> Sequence[InfrastructureOutcome]:
        if self._adoption_pending:
            self._adopt_now()
        with self._lock:
            watched = dict(self._watched)
        if watched:
            api = self._engine.api()
            with self._engine.translated("watch containers on"):
                self._escalate_stops(api)
                self._collect(api, watched)
        with self._lock:
            ready, self._pending = self._pending, []
        return ready

    def adopt(self) -> Sequence[str]:
        """Watch this agent's containers; with the engine down, adopt once it answers."""
        try:
            return self._adopt_now()
        except (PlatformUnavailable, docker.errors.APIError) as exc:
            logger.warning("Cannot look for earlier containers yet (%s); will retry", exc)
            self._adoption_pending = True
            return []

    def _adopt_now(self) -> list[str]:
        api = self._engine.api()
        adopted = []
        with self._engine.translated("list containers on"):
            for summary in api.containers(all=True, filters=ident.agent_filter(self._agent)):
                labels = summary.get("Labels") or {}
                run_id = labels.get(ident.RUN_ID)
                if not run_id:
                    continue
                name = _name_of(summary)
                if summary.get("State") == "created":
                    # Claimed and created, but the previous agent died before starting it.
                    try:
                        self._start(api, summary["Id"], run_id, name)
                    except LaunchError as exc:
                        self._report(
                            InfrastructureOutcome(run_id=run_id, succeeded=False, reason=exc.reason)
                        )
                        continue
                self._watch(run_id, summary["Id"], name, labels.get(ident.RUN_NAME) or run_id)
                adopted.append(run_id)
        self._adoption_pending = False
        return sorted(set(adopted))

    def _report(self, outcome: InfrastructureOutcome) -> None:
        with self._lock:
            self._pending.append(outcome)

    def stop(self, run_id: str) -> str:
        """SIGTERM now, SIGKILL from ``outcomes()`` once the grace period passed; a container
        that never started is removed at once. The ended container is removed once its
        outcome is acknowledged, whatever ``container_removal`` says."""
        api = self._engine.api()
        grace = self._settings.stop_grace_seconds
        with self._engine.translated("stop a container on"):
            summary = self._find(api, run_id)
            if summary is None:
                return ""
            cid, name, state = summary["Id"], _name_of(summary), summary.get("State")
            try:
                if state == "created":
                    api.remove_container(cid, force=True)
                    return f"container {name}, which had not started, and removed it"
                if state not in LIVE_STATES:
                    return ""
                if state == "paused":
                    api.unpause(cid)
                with self._lock:
                    self._stopping.setdefault(cid, time.monotonic() + grace)
                api.kill(cid, signal="SIGTERM" if grace > 0 else "SIGKILL")
            except docker.errors.NotFound:
                return ""
            except docker.errors.APIError as exc:
                if exc.status_code == 409:  # not running any more (it ended meanwhile)
                    return ""
                raise
        return f"container {name} (SIGTERM, then SIGKILL after {grace:g} s if still running)"

    def acknowledge(self, run_id: str) -> None:
        with self._lock:
            ended = self._ended.get(run_id)
        if ended is None:
            return
        item, outcome = ended
        with self._lock:
            stopped = item.container_id in self._stopping
        api = self._engine.api()  # engine down: kept; a restarted agent reports it again
        with self._engine.translated("remove a container on"):
            self._remove_after(api, item, outcome, stopped=stopped)
        with self._lock:
            self._ended.pop(run_id, None)
            self._stopping.pop(item.container_id, None)

    @property
    def claimant(self) -> str:
        # The agent's containers are found by its name on this engine, so the name and the
        # engine identify its claims across restarts (and replicas meet at the same names).
        return "docker-" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._engine.url}|{self._agent}"))

    def _escalate_stops(self, api: Any) -> None:
        now = time.monotonic()
        with self._lock:
            due = [cid for cid, at in self._stopping.items() if at <= now]
            for cid in due:
                self._stopping[cid] = float("inf")
        for cid in due:
            # Gone or ended meanwhile: its outcome says so.
            with contextlib.suppress(docker.errors.APIError):
                api.kill(cid, signal="SIGKILL")

    def close(self) -> None:
        self._logs.close()
        self._engine.close()

    # -- launching ---------------------------------------------------------------------------

    def _find(self, api: Any, run_id: str) -> dict[str, Any] | None:
        found = api.containers(all=True, filters=ident.run_filter(run_id))
        if not found:
            return None
        # Prefer a live container if (against all odds) more than one exists.
        found.sort(key=lambda c: c.get("State") != "running")
        return dict(found[0])

    def _find_racer(self, api: Any, run_id: str) -> dict[str, Any] | None:
        """The container a concurrent launch is creating: the engine reserves its name
        before the container shows up in listings, so look again for a few seconds."""
        deadline = time.monotonic() + RACE_WAIT
        while True:
            found = self._find(api, run_id)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def _reuse(self, api: Any, run: FlowRun, summary: dict[str, Any]) -> Launched | None:
        """The existing container of ``run`` if it is live; None if a new one is needed."""
        cid, name = summary["Id"], _name_of(summary)
        state: str | None = summary.get("State")
        if state == "created":
            # Most likely a concurrent launch is about to start it: give it the time to.
            state = self._settled_state(api, cid)
            if state == "created":  # abandoned between create and start: start it here
                self._start(api, cid, run.id, name)
                state = "running"
        if state is None:
            return None  # it vanished meanwhile: create a new one
        if state in LIVE_STATES:
            self._watch(run.id, cid, name, run.display_name)
            logger.info("Flow run %s already has container %s; not starting another", run.id, name)
            return Launched(run.id, f"Container ID: {cid[:12]} ({name}, already running)")
        # It ended: a redeploy of the run (task runs due for a retry) gets a new container,
        # after the old one's outcome is recorded if it was still being watched.
        self._collect(api, {run.id: _Watched(cid, name)})
        self._make_way(api, cid, name)
        return None

    def _settled_state(self, api: Any, cid: str) -> str | None:
        """The container's state once it left ``created`` (or as it is after a while).

        A container still being created by a concurrent launch is listed before the engine
        can inspect or start it (it answers "no such container"), so a missing container
        counts as not settled yet either.
        """
        deadline = time.monotonic() + START_WAIT
        while True:
            state = _state_of(api, cid)
            if state not in (None, "created") or time.monotonic() > deadline:
                return state
            time.sleep(0.05)

    def _make_way(self, api: Any, cid: str, name: str) -> None:
        """Free the run's container name: remove the ended container, or rename a kept one."""
        try:
            if self._settings.container_removal == "never":
                api.rename(cid, f"{name}-{cid[:12]}")
            else:
                api.remove_container(cid, force=True)
        except docker.errors.NotFound:
            pass

    def _create(self, api: Any, run: FlowRun, spec: LaunchSpec) -> Launched:
        run_config = spec.run_config
        assert isinstance(run_config, DockerRun)
        refusal = docker_host_config_refusal(
            run_config.host_config, self._settings.run_host_config_permissions
        )
        if refusal:
            raise LaunchError(refusal)
        if not spec.image:
            raise LaunchError(f"Flow run {run.id} has no image to run")
        image = parse_image(spec.image)
        self._ensure_image(api, image)
        self._ensure_named_volumes(api)
        host = merge_host_config(
            volumes=self._volumes,
            networks=self._settings.networks,
            run_host_config=run_config.host_config,
        )
        api_url = container_api_address(
            spec.api,
            network_mode=host.network_mode,
            networks=self._settings.networks,
            override=self._settings.container_api_url,
        )
        name = ident.container_name(run.id)
        try:
            host_config = api.create_host_config(**host.options)
        except (TypeError, docker.errors.DockerException) as exc:
            raise LaunchError(f"Flow run {run.id} has an invalid host_config: {exc}") from exc
        try:
            created = api.create_container(
                image=str(image),
                command=list(spec.command),
                environment=spec.environment({"PREFECT__CLOUD__API": api_url}),
                name=name,
                labels=ident.container_labels(spec, flow_name=run.flow_name, agent=self._agent),
                host_config=host_config,
                networking_config=self._networking_config(api, host),
                ports=list(run_config.ports) or None,
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                # Another launch of this run got there first: use its container.
                existing = self._find_racer(api, run.id)
                if existing is not None:
                    reused = self._reuse(api, run, existing)
                    if reused is not None:
                        return reused
            raise LaunchError(
                f"Docker could not create the container for flow run {run.id}: {explanation(exc)}"
            ) from exc
        cid = created["Id"]
        self._connect_networks(api, cid, host)
        self._start(api, cid, run.id, name)
        for note in host.notes:
            logger.warning("Flow run %s: %s", run.id, note)
        self._watch(run.id, cid, name, run.display_name)
        return Launched(run.id, f"Container ID: {cid[:12]} ({name})")

    def _start(self, api: Any, cid: str, run_id: str, name: str) -> None:
        try:
            api.start(cid)
        except docker.errors.APIError as exc:
            state = _state_of(api, cid)
            if state not in (None, "created"):
                return  # a concurrent launch of the same run started it first
            if state == "created":
                try:
                    api.remove_container(cid, force=True)
                except docker.errors.APIError:
                    logger.warning("Could not remove container %s that failed to start", name)
            raise LaunchError(
                f"Docker could not start container {name} for flow run {run_id}: {explanation(exc)}"
            ) from exc

    def _networking_config(self, api: Any, host: HostConfig) -> Any:
        networks = self._settings.networks
        if not networks or host.network_mode:
            return None
        return api.create_networking_config({networks[0]: api.create_endpoint_config()})

    def _connect_networks(self, api: Any, cid: str, host: HostConfig) -> None:
        mode = host.network_mode
        if mode and not can_map_hosts(mode):
            # A container in the host's (or none, or another container's) network namespace
            # cannot join other networks: the engine would refuse every one.
            return
        first = 0 if mode else 1
        for network in self._settings.networks[first:]:
            if network in ("host", "none") or network == mode:
                continue
            try:
                api.connect_container_to_network(cid, network)
            except docker.errors.APIError as exc:
                api.remove_container(cid, force=True)
                raise LaunchError(
                    f"Docker could not connect the container to network {network!r}: "
                    f"{explanation(exc)}"
                ) from exc

    def _check_registry(self, image: ImageReference) -> None:
        allowed = self._settings.reg_allow_list
        if allowed is not None and not image.allowed_by(allowed):
            raise LaunchError(
                f"Image {image} comes from registry {image.registry}, which is not in the "
                f"agent's registry allow list ({', '.join(allowed) or 'empty'})"
            )

    def _ensure_image(self, api: Any, image: ImageReference) -> None:
        """Pull per the policy; the allow list applies to what is pulled (as in 1.4.1)."""
        policy = self._settings.effective_pull_policy
        if policy == "Prefect1":
            pull = "/" in str(image)
        elif policy == "IfNotPresent":
            pull = not _present(api, image)
        else:
            pull = policy == "Always"
        if not pull:
            if policy != "IfNotPresent" and not _present(api, image):
                why = (
                    "images without '/' are never pulled (pull_policy Prefect1)"
                    if policy == "Prefect1"
                    else "pulling is disabled (--no-pull or pull_policy Never)"
                )
                raise LaunchError(f"Image {image} is not on the Docker engine and {why}")
            return
        self._check_registry(image)
        try:
            self._pull(api, image)
        except LaunchError as exc:
            # Prefect 1.4.1 failed the run here. A registry that cannot be reached should not
            # stop runs whose image is already on the engine: use it, and say so.
            if policy != "Prefect1" or not _present(api, image):
                raise
            logger.warning("%s; running the copy already on the engine", exc.reason)

    def _pull(self, api: Any, image: ImageReference) -> None:
        logger.info("Pulling image %s...", image)
        try:
            for event in api.pull(image.repository, tag=image.pull_tag, stream=True, decode=True):
                if "error" in event:
                    raise LaunchError(f"Could not pull image {image}: {event['error']}")
                logger.debug("Pull %s: %s", image, event.get("status", event))
        except docker.errors.APIError as exc:
            raise LaunchError(f"Could not pull image {image}: {explanation(exc)}") from exc
        logger.info("Successfully pulled image %s", image)

    def _ensure_named_volumes(self, api: Any) -> None:
        for volume in self._volumes:
            if not volume.named:
                continue
            try:
                api.inspect_volume(volume.source)
            except docker.errors.NotFound:
                api.create_volume(
                    volume.source, driver="local", labels=ident.volume_labels(self._agent)
                )

    # -- watching ----------------------------------------------------------------------------

    def _watch(self, run_id: str, cid: str, name: str, run_name: str) -> None:
        with self._lock:
            self._watched[run_id] = _Watched(cid, name)
        if self._settings.show_flow_logs:
            self._logs.follow(cid, run_name)

    def _collect(self, api: Any, watched: dict[str, _Watched]) -> None:
        """Record the outcome of every watched container that ended or vanished."""
        live = {c["Id"]: c for c in api.containers(all=True, filters={"label": [ident.RUN_ID]})}
        for run_id, item in watched.items():
            summary = live.get(item.container_id)
            if summary is not None and summary.get("State") not in ("exited", "dead"):
                continue
            outcome = self._read_outcome(api, run_id, item)
            if outcome is None:
                continue
            with self._lock:
                current = self._watched.get(run_id)
                if current is None or current.container_id != item.container_id:
                    continue  # reported already, or a newer container of the run is watched
                del self._watched[run_id]
                self._pending.append(outcome)
                # The container is the verdict: it stays until the outcome is acknowledged.
                self._ended[run_id] = (item, outcome)

    def _read_outcome(self, api: Any, run_id: str, item: _Watched) -> InfrastructureOutcome | None:
        try:
            inspect = api.inspect_container(item.container_id)
        except docker.errors.NotFound:
            return vanished_outcome(run_id, item.name)
        if not has_ended(inspect):
            return None
        if killed_without_oom_flag(inspect):
            # The engine may record the OOM kill just after the exit: look again shortly
            # (on a later call, so this one does not block) before calling it a plain kill.
            first_seen = self._killed_at.setdefault(item.container_id, time.monotonic())
            if time.monotonic() - first_seen < OOM_FLAG_GRACE:
                return None
        self._killed_at.pop(item.container_id, None)
        try:
            tail = api.logs(item.container_id, stdout=True, stderr=True, tail=LAST_LINES)
        except docker.errors.APIError:
            tail = b""
        outcome = ended_outcome(run_id, item.name, inspect, list(split_lines([tail])))
        return attrs.evolve(outcome, ended_at=finished_at(inspect))

    def _remove_after(
        self, api: Any, item: _Watched, outcome: InfrastructureOutcome, *, stopped: bool = False
    ) -> None:
        policy = self._settings.container_removal
        if not stopped and (
            policy == "never" or (policy == "on-success" and not outcome.succeeded)
        ):
            return
        try:
            api.remove_container(item.container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            logger.warning("Could not remove container %s: %s", item.name, explanation(exc))

    def _open_log_stream(self, cid: str) -> Any:
        return self._engine.api().logs(cid, stdout=True, stderr=True, stream=True, follow=True)


def _name_of(summary: dict[str, Any]) -> str:
    names = summary.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(summary["Id"])[:12]


def _present(api: Any, image: ImageReference) -> bool:
    try:
        api.inspect_image(str(image))
    except docker.errors.NotFound:  # ImageNotFound is a NotFound
        return False
    return True


def _state_of(api: Any, cid: str) -> str | None:
    """The container's state (``created``, ``running``, ``exited``...), None once it is gone."""
    try:
        return str(api.inspect_container(cid)["State"]["Status"])
    except docker.errors.NotFound:
        return None
