"""Failing a run with a reason: log records, then a version-locked Failed state."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence

from prefect_agent.domain.errors import PrefectAgentError, VersionConflict
from prefect_agent.domain.outcomes import RunLog
from prefect_agent.domain.states import is_finished
from prefect_agent.ports import RunSource

logger = logging.getLogger(__name__)


class FailResult(enum.Enum):
    WRITTEN = "written"
    """The run is now Failed."""
    NOT_NEEDED = "not needed"
    """The run had already finished (the flow reported its own fate), or kept changing."""
    UNREACHABLE = "unreachable"
    """The API could not be reached: worth trying again later."""


class RunFailer:
    """The one way the agent fails runs: the reason in the run's logs, and a version-locked
    Failed state. One instance is shared by the poll loop (unreadable rows), the backlog
    policy (runs too late), the deployer (runs that cannot launch) and the monitor (dead
    infrastructure).

    ``fail`` is for a run this agent holds: when the version is stale (the flow process moved
    the run on meanwhile) it reads the run again; a run that already finished is left alone,
    otherwise Failed is retried once at the current version. ``fail_unless_changed`` is for a
    run the agent has not claimed: a run that changed since it was read belongs to whoever
    changed it. Errors are logged, never raised: failing one run must not stop the agent from
    serving the others.
    """

    def __init__(self, source: RunSource, agent_name: str) -> None:
        self._source = source
        self._agent_name = agent_name

    def fail(
        self,
        run_id: str,
        reason: str,
        version: int | None,
        details: Sequence[str] = (),
    ) -> FailResult:
        """Log the reason (and details) to the run, then set it Failed."""
        self.write_reason(run_id, reason, details)
        return self.set_failed(run_id, reason, version)

    def fail_unless_changed(self, run_id: str, reason: str, version: int) -> FailResult:
        """Set Failed only if the run is still at ``version``, then log the reason to it (a run
        left as it was gets no log line: it is decided again when it is read again)."""
        try:
            self._source.mark_failed(run_id, reason, version)
        except VersionConflict:
            logger.debug("Flow run %s changed meanwhile; leaving it alone", run_id)
            return FailResult.NOT_NEEDED
        except PrefectAgentError as exc:
            logger.warning("Could not mark flow run %s Failed (%s): %s", run_id, reason, exc)
            return FailResult.UNREACHABLE
        logger.warning("Flow run %s: %s", run_id, reason)
        self.write_reason(run_id, reason)
        return FailResult.WRITTEN

    def write_reason(self, run_id: str, reason: str, details: Sequence[str] = ()) -> bool:
        """The reason, and the details as one record, in the run's logs; False if not written."""
        name = self._agent_name
        logs = [RunLog(run_id=run_id, message=reason, level="ERROR", name=name)]
        if details:
            logs.append(RunLog(run_id=run_id, message="\n".join(details), level="ERROR", name=name))
        try:
            self._source.write_logs(logs)
        except PrefectAgentError as exc:
            logger.warning("Could not write the failure reason to run %s: %s", run_id, exc)
            return False
        return True

    def set_failed(self, run_id: str, reason: str, version: int | None) -> FailResult:
        for attempt in range(2):
            try:
                self._source.mark_failed(run_id, reason, version)
                logger.error("Flow run %s failed: %s", run_id, reason)
                return FailResult.WRITTEN
            except VersionConflict:
                if attempt:
                    break
                try:
                    status = self._source.run_status(run_id)
                except PrefectAgentError as exc:
                    logger.warning(
                        "Could not read run %s after a version conflict: %s", run_id, exc
                    )
                    return FailResult.UNREACHABLE
                if is_finished(status.state):
                    logger.info(
                        "Flow run %s already finished (%s); not marking it Failed",
                        run_id,
                        status.state,
                    )
                    return FailResult.NOT_NEEDED
                version = status.version
            except PrefectAgentError as exc:
                logger.error("Could not mark flow run %s Failed (%s): %s", run_id, reason, exc)
                return FailResult.UNREACHABLE
        logger.warning("Flow run %s kept changing; gave up marking it Failed", run_id)
        return FailResult.NOT_NEEDED
