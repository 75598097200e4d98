"""Running an agent until SIGINT or SIGTERM: the first signal drains, a second exits now."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from prefect_agent.services.agent import AgentService

logger = logging.getLogger(__name__)


def run_until_signalled(agent: AgentService) -> None:
    """Run ``agent`` with SIGINT and SIGTERM both stopping it gracefully.

    Handlers are installed only on the main thread (Python allows no other) and restored
    afterwards, so embedding code keeps its own.
    """
    health = _http_health(agent)
    if health is not None:
        health.start()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stopper(agent))
    try:
        agent.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if health is not None:
            health.stop()


def _http_health(agent: AgentService) -> Any:
    """The agent's HTTP health server, if it has one (it is started and stopped with the run).

    If the server module was never imported no such reporter can exist; importing it only to
    find that out would cost every agent without ``--agent-address`` start-up time."""
    server = sys.modules.get("prefect_agent.adapters.health.server")
    if server is None or not isinstance(agent.health, server.HttpHealthReporter):
        return None
    return agent.health


def stopper(
    agent: AgentService, exit_now: Callable[[int], Any] = os._exit
) -> Callable[[int, Any], None]:
    """The signal handler: the first signal drains ``agent``, a second one exits at once."""

    def handle(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if agent.stopping:
            # A second signal means "now": skip the rest of the drain.
            logger.warning("%s received again; exiting without waiting for launches", name)
            logging.shutdown()
            # SystemExit would still wait for the launch pool's threads at interpreter exit.
            exit_now(128 + signum)
        logger.info(
            "%s received; draining (up to %ss for launches in progress)",
            name,
            agent.config.shutdown_grace_seconds,
        )
        agent.stop()

    return handle
