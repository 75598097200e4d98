"""How long the poll loop waits between polls (Prefect 1.4.1's backoff ladder)."""

from __future__ import annotations

import attrs

BACKOFF_LADDER: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0)


@attrs.frozen
class PollSchedule:
    """Position on the ladder. A poll that found runs goes back to the first step."""

    step: int = 0
    ladder: tuple[float, ...] = BACKOFF_LADDER

    @property
    def interval(self) -> float:
        return self.ladder[self.step]

    def after_poll(self, found_runs: bool) -> PollSchedule:
        if found_runs:
            return attrs.evolve(self, step=0)
        return attrs.evolve(self, step=min(self.step + 1, len(self.ladder) - 1))
