"""How the agent's own log lines are written: text or JSON, secrets masked, repeats counted."""

from prefect_agent.log_output.handler import log_handler
from prefect_agent.log_output.setup import configure_logging

__all__ = ["configure_logging", "log_handler"]
