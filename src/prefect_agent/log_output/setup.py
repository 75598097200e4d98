"""Installing the agent's log handler on the ``prefect_agent`` logger."""

from __future__ import annotations

import logging
import sys

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.log_output.handler import log_handler

_OWN_HANDLER = "_prefect_agent_cli"


def configure_logging(config: AgentConfig) -> None:
    """Agent log lines to stdout at the configured level, timestamps in UTC (as Prefect 1).

    The handler installed by an earlier call is replaced, so it always writes to the current
    ``sys.stdout``; handlers added by embedding code are left alone.
    """
    logger = logging.getLogger("prefect_agent")
    logger.setLevel(config.log_level)
    for old in [h for h in logger.handlers if getattr(h, _OWN_HANDLER, False)]:
        logger.removeHandler(old)
    # Text or JSON lines, the API key masked, repeated errors counted (handler.py).
    handler = log_handler(config, sys.stdout)
    setattr(handler, _OWN_HANDLER, True)
    logger.addHandler(handler)
