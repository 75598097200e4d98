"""An agent that has launched many runs holds nothing for any of them once they ended.

Issue 18: a long-running agent's memory must not grow with every run it ever launched; each
structure that tracks runs (in flight, watched, failures pending, claim attempts, the
canceller's) must forget a run once its outcome is handled.
"""

from __future__ import annotations

from tests.unit.services.conftest import World


def test_every_per_run_structure_is_empty_after_runs_succeed_fail_and_are_cancelled() -> None:
    world = World(monitor_interval=0.25)
    agent = world.agent
    for wave in range(3):
        ids = [world.source.add_run(labels=["dev"]) for _ in range(40)]
        while len(world.platform.launched_ids()) < 40 * (wave + 1):
            world.step()
        cancelled = ids[0]
        world.source.cancel(cancelled)
        world.step()  # the canceller stops it
        for index, run_id in enumerate(ids):
            world.platform.report_exit(run_id, 0 if index % 2 else 1)
        world.step()  # outcomes handled: failures written, everything acknowledged
        world.step()

        assert len(agent.in_flight) == 0
        assert len(agent.scheduler) == 0
        assert agent.monitor.watched == frozenset()
        assert agent.monitor.pending == frozenset()
        assert world.platform.unacknowledged() == []
        # Private, but exactly what would grow per run if a path forgot to clear it.
        assert agent.deployer._claim_attempts == {}
        assert agent.monitor._canceller._stopped == set()
        assert agent.monitor._canceller._unsettled == set()
