"""The agent's log handler: the configured format, secrets masked, repeated errors counted."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.output_lines import Masker
from prefect_agent.log_output.json_formatter import JsonFormatter
from prefect_agent.log_output.repeated_errors import RepeatedErrorFilter

TEXT_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


class MaskingFormatter(logging.Formatter):
    """Formats with ``inner``, then replaces every secret with the mask.

    A last line of defence: no code should log a secret, but a library's exception text
    (a URL with credentials, an echoed header) is not ours to control.
    """

    def __init__(self, inner: logging.Formatter, secrets: Sequence[str]) -> None:
        super().__init__()
        self._inner = inner
        self._mask = Masker(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return self._mask(self._inner.format(record))


def log_handler(config: AgentConfig, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stdout by default) for the ``prefect_agent`` logger."""
    handler = logging.StreamHandler(stream or sys.stdout)
    if config.operations.log_format == "json":
        inner: logging.Formatter = JsonFormatter()
    else:
        inner = logging.Formatter(TEXT_FORMAT)
        inner.converter = time.gmtime
    handler.setFormatter(MaskingFormatter(inner, config.secrets))
    handler.addFilter(RepeatedErrorFilter(config.operations.error_repeat_window_seconds))
    return handler
