"""Prefect 1.4.1's backoff ladder: the waits between polls, and between retries of a request."""

from __future__ import annotations

import attrs

BACKOFF_LADDER: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0)


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before try ``attempt`` + 1 (0-based), the last step repeating."""
    return BACKOFF_LADDER[min(max(0, attempt), len(BACKOFF_LADDER) - 1)]


@attrs.frozen
class PollInterval:
    """The poll loop's position on the ladder. A poll that found runs goes back to the first
    step; an empty or failed poll climbs one."""

    step: int = 0
    ladder: tuple[float, ...] = BACKOFF_LADDER

    @property
    def seconds(self) -> float:
        return self.ladder[self.step]

    def after_poll(self, found_runs: bool) -> PollInterval:
        if found_runs:
            return attrs.evolve(self, step=0)
        return attrs.evolve(self, step=min(self.step + 1, len(self.ladder) - 1))
