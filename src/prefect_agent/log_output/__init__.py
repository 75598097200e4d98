"""How the agent's own log lines are written: text or JSON, secrets masked, repeats counted."""

from prefect_agent.log_output.handler import log_handler

__all__ = ["log_handler"]
