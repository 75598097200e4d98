"""The agent's log handler: text or JSON, secrets masked, repeats rate-limited."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.log_output import log_handler

KEY = "pa-secret-key-987654321"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("prefect_agent.test_handler")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()


def attach(logger: logging.Logger, **ops: object) -> io.StringIO:
    stream = io.StringIO()
    config = AgentConfig(api_key=KEY, operations=OperationsSettings(**ops))  # type: ignore[arg-type]
    logger.addHandler(log_handler(config, stream))
    return stream


def test_json_lines_carry_level_logger_message_extras_and_exceptions(
    logger: logging.Logger,
) -> None:
    stream = attach(logger, log_format="json")
    logger.info("Deploying flow run %s", "r1", extra={"run_id": "r1"})
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("Launch failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO"
    assert first["logger"] == "prefect_agent.test_handler"
    assert first["message"] == "Deploying flow run r1"
    assert first["run_id"] == "r1"
    assert first["time"].endswith("+00:00")
    assert second["level"] == "ERROR"
    assert "ValueError: bad value" in second["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_every_format(logger: logging.Logger, fmt: str) -> None:
    stream = attach(logger, log_format=fmt)
    logger.warning("request to http://user:%s@api failed", KEY)
    try:
        raise RuntimeError(f"header Authorization: Bearer {KEY}")
    except RuntimeError:
        logger.exception("boom")
    out = stream.getvalue()
    assert KEY not in out
    assert "********" in out


def test_text_format_is_prefect_like_and_repeats_are_limited(logger: logging.Logger) -> None:
    stream = attach(logger, error_repeat_window_seconds=60)
    for _ in range(100):
        logger.error("Failed to query for ready flow runs: %s", "connection refused")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        "ERROR - prefect_agent.test_handler | Failed to query for ready flow runs: "
        "connection refused"
    )
