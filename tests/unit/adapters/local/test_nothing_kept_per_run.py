"""The local platform holds nothing for a run once its outcome was acknowledged (issue 18)."""

from __future__ import annotations

from functools import partial

from prefect_agent.adapters.local.platform import LocalPlatform
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests.unit.adapters.local.conftest import Harness, eventually, new_run


def test_after_many_runs_ended_and_were_acknowledged_nothing_per_run_is_left(
    harness: Harness,
) -> None:
    platform = harness.platform
    platform._records.spares._keep = 8  # a small bound, to see it hold
    for _wave in range(3):
        runs = [new_run() for _ in range(10)]
        for run in runs:
            platform.launch(run, harness.spec(run, ["/bin/true"]))
        ended: list[InfrastructureOutcome] = []
        eventually(partial(_all_ended, platform, ended, len(runs)), "the outcomes of a wave")
        assert all(outcome.succeeded for outcome in ended)
        for outcome in ended:
            platform.acknowledge(outcome.run_id)
    # Private, but exactly what would grow per run if a path forgot to clear it.
    assert platform._by_run == {} and platform._by_pid == {}
    assert platform._starting == {} and platform._verdicts_reported == set()
    watcher = platform._watcher
    assert watcher._children == set() and watcher._pidfds == {} and watcher._polled == set()
    left = sorted(p.name for p in platform.state_dir.iterdir())
    assert left == ["claimant", "spare"]
    assert len(list((platform.state_dir / "spare").iterdir())) == 8


def _all_ended(platform: LocalPlatform, ended: list[InfrastructureOutcome], count: int) -> bool:
    ended.extend(platform.outcomes())
    return len(ended) == count
