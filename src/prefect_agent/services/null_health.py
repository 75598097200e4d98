"""A HealthReporter that ignores everything, for agents without a health server."""

from __future__ import annotations

from datetime import datetime


class NullHealthReporter:
    def poll_succeeded(self, at: datetime, runs_found: int, next_poll_in: float) -> None:
        pass

    def poll_failed(self, at: datetime, error: BaseException, next_poll_in: float) -> None:
        pass

    def platform_checked(self, ok: bool, reason: str = "") -> None:
        pass

    def claims(self, won: int, lost: int) -> None:
        pass

    def launched(self, run_id: str, lateness_seconds: float) -> None:
        pass

    def launch_failed(self, run_id: str, reason: str) -> None:
        pass

    def infrastructure_failed(self, run_id: str, reason: str) -> None:
        pass

    def in_flight(self, count: int) -> None:
        pass
