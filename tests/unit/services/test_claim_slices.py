"""A large batch of due runs is claimed in slices, each launched as soon as it is claimed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.outcomes import ClaimResult
from prefect_agent.services.agent import AgentService
from prefect_agent.services.deployment import CLAIM_SLICE, claim_slices
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource


class CountingSource(InMemoryRunSource):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.claim_sizes: list[int] = []
        self.launched_before_claim: list[int] = []
        self.platform: FakePlatform | None = None

    def claim(self, runs: Sequence[FlowRun]) -> Sequence[ClaimResult]:
        self.claim_sizes.append(len(runs))
        assert self.platform is not None
        self.launched_before_claim.append(len(self.platform.launches))
        return super().claim(runs)


def test_runs_beyond_one_slice_are_claimed_in_slices_and_all_launched() -> None:
    clock = FakeClock()
    source = CountingSource(clock=clock, scan_limit=None, return_limit=None)
    platform = FakePlatform()
    source.platform = platform
    count = 3 * CLAIM_SLICE + 50
    ids = [source.add_run(labels=["dev"]) for _ in range(count)]
    agent = AgentService(
        config=AgentConfig(labels=["dev"]),
        source=source,
        platform=platform,
        clock=clock,
        executor=InlineExecutor(),
    )
    agent.register()
    agent.step()
    sizes = [len(part) for part in claim_slices(count)]
    assert source.claim_sizes == sizes
    # Each slice is launched before the next one is claimed.
    assert source.launched_before_claim == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sorted(platform.launched_ids()) == sorted(ids)
    assert all(source.submissions(run_id) == 1 for run_id in ids)


def test_slices_cover_the_batch_in_order() -> None:
    assert claim_slices(0) == []
    assert claim_slices(3) == [range(0, 3)]
    parts = claim_slices(2 * CLAIM_SLICE + 1)
    assert [len(part) for part in parts] == [CLAIM_SLICE, CLAIM_SLICE, 1]
    assert all(a.stop == b.start for a, b in itertools.pairwise(parts))
