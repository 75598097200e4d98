"""A large batch of due runs is claimed in slices, each launched as soon as it is claimed."""

from __future__ import annotations

from collections.abc import Sequence

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.outcomes import ClaimResult
from prefect_agent.services.agent import AgentService
from prefect_agent.services.deployment import CLAIM_SLICE
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
    count = 2 * CLAIM_SLICE + 50
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
    assert source.claim_sizes == [CLAIM_SLICE, CLAIM_SLICE, 50]
    # Each slice is launched before the next one is claimed.
    assert source.launched_before_claim == [0, CLAIM_SLICE, 2 * CLAIM_SLICE]
    assert sorted(platform.launched_ids()) == sorted(ids)
    assert all(source.submissions(run_id) == 1 for run_id in ids)
