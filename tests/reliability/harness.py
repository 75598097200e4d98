"""What every reliability scenario shares: seeding runs, running agents, counting fates."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import attrs

from prefect_agent.adapters.graphql.run_source import GraphQLRunSource
from prefect_agent.adapters.health.server import HttpHealthReporter
from prefect_agent.adapters.system.clock import SystemClock
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.states import FAILED, SUBMITTED
from prefect_agent.server.testing import RunningServer
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakePlatform
from tests.agent_process import AgentProcess
from tests.polling import poll

SECRET = "pa-reliability-secret-4f1c9e0b7d"
"""The API key every agent of the suite is given; it must never show anywhere."""


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``check`` until it holds or ``timeout`` real seconds pass; True if it held."""
    return bool(poll(check, timeout, step))


def seed_runs(
    api: RunningServer,
    count: int,
    *,
    labels: Sequence[str] = ("reliability",),
    start_time: datetime | None = None,
    spread_seconds: float = 0.0,
    run_config: Any = None,
) -> list[str]:
    """``count`` Scheduled runs of one flow, written straight to the API's store (fast).

    They are due at ``start_time`` (default now), or evenly over the ``spread_seconds``
    that follow it, so the agent polls, claims and launches many times instead of once.
    """
    flow_id = api.store.create_flow({"name": "reliability-flow", "__version__": "1.4.1"})
    first = start_time or datetime.now(timezone.utc)
    step = spread_seconds / count if count else 0.0
    return [
        api.store.create_flow_run(
            flow_id=flow_id,
            labels=list(labels),
            run_config=run_config,
            scheduled_start_time=first + timedelta(seconds=i * step),
        )
        for i in range(count)
    ]


@attrs.define
class Figures:
    """One scenario's outcome, printed by every test (``pytest -s`` shows it)."""

    scenario: str
    runs: int
    launched_once: int = 0
    failed_with_reason: int = 0
    doubled: int = 0
    lost: int = 0
    lost_ids: list[str] = attrs.field(factory=list)
    doubled_ids: list[str] = attrs.field(factory=list)
    seconds: float = 0.0
    extra: dict[str, Any] = attrs.field(factory=dict)

    def show(self) -> None:
        extra = "".join(f", {key}={value}" for key, value in self.extra.items())
        print(
            f"\n[reliability] {self.scenario}: runs={self.runs}, launched once="
            f"{self.launched_once}, failed with reason={self.failed_with_reason}, "
            f"lost={self.lost}, doubled={self.doubled}, took={self.seconds:.1f}s{extra}"
        )


def tally(
    api: RunningServer,
    scenario: str,
    run_ids: Iterable[str],
    starts: Counter[str],
    *,
    began: float,
    **extra: Any,
) -> Figures:
    """Each run must end launched exactly once, or Failed with an ERROR log saying why.

    The figures are printed (with the time since ``began``, a ``time.monotonic()``).
    """
    ids = list(run_ids)
    figures = Figures(scenario=scenario, runs=len(ids), extra=extra)
    figures.seconds = time.monotonic() - began
    runs = {row["id"]: row for row in api.store.rows_by("flow_run", "id", ids)}
    error_logs = Counter(
        row["flow_run_id"]
        for row in api.store.rows_by("log", "flow_run_id", ids)
        if row["level"] == "ERROR"
    )
    for run_id in ids:
        started = starts.get(run_id, 0)
        if started == 1:
            figures.launched_once += 1
        elif started > 1:
            figures.doubled += 1
            figures.doubled_ids.append(run_id)
        elif runs[run_id]["state"] == FAILED and error_logs[run_id]:
            figures.failed_with_reason += 1
        else:
            figures.lost += 1
            figures.lost_ids.append(run_id)
    figures.show()
    return figures


def wait_for_fates(
    api: RunningServer,
    run_ids: Sequence[str],
    launched: Callable[[], Iterable[str]],
    timeout: float,
    settle: float = 5.0,
) -> bool:
    """Wait until every run is launched or Failed (True), or until the only runs left are
    Submitted without a launch and stay so for ``settle`` seconds (False: they are stuck),
    or ``timeout``."""
    stuck_since: float | None = None
    previous: set[str] = set()

    def settled() -> str | None:
        nonlocal stuck_since, previous
        done = set(launched())
        rows = api.store.rows_by("flow_run", "id", run_ids)
        remaining = {r["id"] for r in rows if r["id"] not in done and r["state"] != FAILED}
        if not remaining:
            return "all"
        if remaining == previous and all(
            r["state"] == SUBMITTED for r in rows if r["id"] in remaining
        ):
            stuck_since = stuck_since or time.monotonic()
            if time.monotonic() - stuck_since >= settle:
                return "stuck"
        else:
            stuck_since = None
        previous = remaining
        return None

    return poll(settled, timeout, 0.1) == "all"


def expect_nothing_lost(api: RunningServer, figures: Figures) -> None:
    """No run started twice, none lost (left Scheduled or stuck in Submitted)."""
    assert figures.doubled == 0, figures
    assert figures.lost == 0, figures


def states_of(api: RunningServer, run_ids: Iterable[str]) -> Counter[str]:
    return Counter(row["state"] for row in api.store.rows_by("flow_run", "id", list(run_ids)))


class CapturedLogs(logging.Handler):
    """Every record of the agent's loggers, formatted raw (no masking), for secret checks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._guard:
            self.lines.append(text)

    def text(self) -> str:
        with self._guard:
            return "\n".join(self.lines)


class InProcessAgent:
    """An ``AgentService`` on real HTTP (through ``api_url``) with a ``FakePlatform``, or
    the platform ``make_platform(config)`` builds (a real Docker or Kubernetes one).

    The fake platform counts starts per run, which is what "doubled" means; the health
    server runs too, so its bodies can be checked for secrets and its readiness for outages.
    """

    def __init__(
        self,
        api_url: str,
        *,
        name: str = "reliability",
        make_platform: Callable[[AgentConfig], Any] | None = None,
        **settings: Any,
    ) -> None:
        base: dict[str, Any] = {
            "name": name,
            "api": api_url,
            "api_key": SECRET,
            "labels": ("reliability",),
            "agent_address": "http://127.0.0.1:0",
            # The product default: a shorter one turns slow answers into uncertain claims.
            "request_timeout": 15.0,
            "prefetch_seconds": 1.0,
            "shutdown_grace_seconds": 10.0,
        }
        base.update(settings)
        self.config = AgentConfig(**base)
        self.platform = FakePlatform() if make_platform is None else make_platform(self.config)
        self.source = GraphQLRunSource.from_config(self.config, claimant=self.platform.claimant)
        self.clock = SystemClock()
        self.health = HttpHealthReporter.from_config(
            self.config, wake=self.wake, now=self.clock.now, monotonic=self.clock.monotonic
        )
        self.agent = AgentService(
            config=self.config,
            source=self.source,
            platform=self.platform,
            clock=self.clock,
            health=self.health,
        )
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"agent-{name}", daemon=True)

    def wake(self) -> None:
        self.agent.wake()

    def start(self) -> InProcessAgent:
        self.health.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.agent.run()
        except BaseException as exc:  # reported by stop(); a test must not hang on it
            self.error = exc

    def stop(self) -> None:
        self.agent.stop()
        self._thread.join(timeout=30)
        self.health.stop()
        self.source.close()
        assert not self._thread.is_alive(), "the agent did not stop within 30 s"
        assert self.error is None, f"the agent crashed: {self.error!r}"

    def __enter__(self) -> InProcessAgent:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def total_starts(agents: Sequence[InProcessAgent]) -> Counter[str]:
    starts: Counter[str] = Counter()
    for agent in agents:
        starts.update(agent.platform.starts)
    return starts


CHILD = Path(__file__).with_name("child_flow.py")


def start_cli_agent(
    api_url: str,
    tmp: Path,
    log: IO[bytes],
    *flags: str,
    child_seconds: float = 1.0,
    child_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``prefect agent local start`` in a subprocess whose runs execute ``child_flow.py``
    (``child_env`` reaches them through the agent's environment), its output in ``log``."""
    env = {
        "PREFECT__USER_CONFIG_PATH": str(tmp / "no-config.toml"),
        "RELIABILITY_MARKERS": str(markers_file(tmp)),
        "RELIABILITY_CHILD_SECONDS": str(child_seconds),
        **(child_env or {}),
    }
    return AgentProcess(
        "local", api_url, tmp,
        "--no-hostname-label",
        "--state-dir", str(tmp / "state"),
        "--flow-run-command", f"{sys.executable} {CHILD}",
        "--log-level", "DEBUG",
        *flags,
        labels=["reliability"], api_key=SECRET, env=env, output=log,
    ).process  # fmt: skip


def markers_file(tmp: Path) -> Path:
    return tmp / "markers.jsonl"


def markers(tmp: Path) -> list[dict[str, Any]]:
    """What each started child recorded: its run id and its argv."""
    path = markers_file(tmp)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


SET_STATES = (
    "mutation($input: set_flow_run_states_input!) "
    "{ set_flow_run_states(input: $input) { states { id status } } }"
)


def set_states(api: RunningServer, run_ids: Iterable[str], state: dict[str, Any]) -> None:
    """What a user's cancellation writes: the state, without a version (as Prefect Server's
    ``cancel_flow_run`` and the UI do), in one request."""
    states = [{"flow_run_id": run_id, "state": state} for run_id in run_ids]
    api.graphql(SET_STATES, {"input": {"states": states}})


def run_logs(api: RunningServer, run_id: str) -> list[str]:
    return [row["message"] for row in api.store.rows_by("log", "flow_run_id", [run_id])]
