"""The embedded API's background services, as Prefect Server's "towel" runs them: Lazarus
(runs stuck in Submitted), the scheduler (runs of active schedules created ahead) and the
zombie killer (task runs whose flow run stopped sending heartbeats)."""

from __future__ import annotations

from typing import Any

from prefect_agent.server.lazarus import Lazarus
from prefect_agent.server.periodic import PeriodicService
from prefect_agent.server.scheduler import Scheduler
from prefect_agent.server.zombie_killer import ZombieKiller


class Towel:
    """Start the services that are on (a zero/None setting turns one off); ``stop()`` them."""

    def __init__(
        self,
        store: Any,
        *,
        lazarus_after: float | None = None,
        scheduler_interval: float | None = None,
        zombies_after: float | None = None,
    ) -> None:
        self.services: list[PeriodicService] = []
        if lazarus_after:
            self.services.append(Lazarus(store, after_seconds=lazarus_after))
        if scheduler_interval:
            self.services.append(Scheduler(store, interval_seconds=scheduler_interval))
        if zombies_after:
            self.services.append(
                ZombieKiller(
                    store, after_seconds=zombies_after, interval_seconds=min(120.0, zombies_after)
                )
            )

    def start(self) -> Towel:
        for service in self.services:
            service.start()
        return self

    def stop(self) -> None:
        for service in self.services:
            service.stop()
