"""Cancellation: the infrastructure of a run its user cancelled is stopped, the run Cancelled."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from prefect_agent.domain.errors import PrefectAgentError, VersionConflict
from prefect_agent.domain.outcomes import RunLog, RunStatus
from prefect_agent.domain.states import CANCELLING
from prefect_agent.ports import Platform, RunSource

logger = logging.getLogger(__name__)

CANCELLED_MESSAGE = "Flow run cancelled; agent {agent} stopped its infrastructure."


class Canceller:
    """Stops the infrastructure of watched runs that a user cancelled.

    ``check(run_ids)`` asks the source once which of the runs are ``Cancelling`` or
    ``Cancelled`` (Prefect 1.4.1's ``cancel_flow_run`` sets the first while the flow process
    runs, the second otherwise; the UI and ``prefect run cancel`` do the same), stops each
    one's infrastructure through ``Platform.stop`` (which escalates to a kill after
    ``stop_grace_seconds`` on its own), writes who stopped what to the run's logs, and sets
    Cancelled on a run still Cancelling. A run is stopped once; the Cancelled state is tried
    again on later checks while the API cannot take it. ``forget`` is called once the run's
    infrastructure ended and its outcome was handled.
    """

    def __init__(self, source: RunSource, platform: Platform, agent_name: str) -> None:
        self._source = source
        self._platform = platform
        self._agent_name = agent_name
        self._stopped: set[str] = set()
        self._unsettled: set[str] = set()
        """Stopped runs still Cancelling because the API could not take Cancelled yet; asked
        about even once their infrastructure is gone and they are no longer watched."""
        self._lock = threading.Lock()

    def check(self, run_ids: Collection[str]) -> list[str]:
        """Stop cancelled runs among ``run_ids``; returns the ids stopped by this call."""
        with self._lock:
            wanted = set(run_ids) | self._unsettled
        if not wanted:
            return []
        try:
            cancelled = self._source.cancelled_among(wanted)
        except PrefectAgentError as exc:
            logger.warning("Could not ask the API which flow runs were cancelled: %s", exc)
            return []
        with self._lock:
            self._unsettled &= {status.run_id for status in cancelled}
        stopped = []
        for status in cancelled:
            with self._lock:
                first = status.run_id not in self._stopped and status.run_id in run_ids
            if first and self._stop(status):
                stopped.append(status.run_id)
            self._settle(status)
        return stopped

    def forget(self, run_id: str) -> None:
        """The run's infrastructure ended and its outcome was handled."""
        with self._lock:
            self._stopped.discard(run_id)

    def _stop(self, status: RunStatus) -> bool:
        run_id = status.run_id
        try:
            what = self._platform.stop(run_id)
        except PrefectAgentError as exc:
            logger.warning("Could not stop cancelled flow run %s yet: %s", run_id, exc)
            return False
        with self._lock:
            self._stopped.add(run_id)
        if what:
            message = f"Flow run {status.state.lower()} by its user: agent {self._agent_name} "
            message += f"stopped {what}"
        else:
            message = (
                f"Flow run {status.state.lower()} by its user: agent {self._agent_name} found "
                "no infrastructure of it left to stop"
            )
        logger.info("Flow run %s: %s", run_id, message)
        try:
            self._source.write_logs([RunLog(run_id=run_id, message=message, name=self._agent_name)])
        except PrefectAgentError as exc:
            logger.warning(
                "Could not write the cancellation of run %s to its logs: %s", run_id, exc
            )
        return True

    def _settle(self, status: RunStatus) -> None:
        """Cancelling becomes Cancelled (unless the flow process got there first)."""
        if status.state != CANCELLING:
            with self._lock:
                self._unsettled.discard(status.run_id)
            return
        message = CANCELLED_MESSAGE.format(agent=self._agent_name)
        version: int | None = status.version
        for attempt in range(2):
            try:
                self._source.mark_cancelled(status.run_id, message, version)
            except VersionConflict:
                try:
                    current = self._source.run_status(status.run_id)
                except PrefectAgentError:
                    break
                if attempt or current.state != CANCELLING:
                    break  # the flow process (or someone) moved it on: its word stands
                version = current.version
                continue
            except PrefectAgentError as exc:
                logger.warning("Could not set flow run %s Cancelled: %s", status.run_id, exc)
                break
            with self._lock:
                self._unsettled.discard(status.run_id)
            return
        with self._lock:
            self._unsettled.add(status.run_id)
