import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource


class World:
    """A fake API, platform and clock around one AgentService, stepped deterministically."""

    def __init__(self, source_type=InMemoryRunSource, **config):
        self.clock = FakeClock()
        self.source = source_type(clock=self.clock)
        self.platform = FakePlatform()
        config.setdefault("labels", ["dev"])
        self.config = AgentConfig(**config)
        self.agent = AgentService(
            config=self.config,
            source=self.source,
            platform=self.platform,
            clock=self.clock,
            executor=InlineExecutor(),
        )
        self.agent.register()

    def step(self, seconds: float = 0.25) -> int:
        found = self.agent.step()
        self.clock.advance(seconds)
        return found

    def launched(self, **run: object) -> str:
        """A new run with the agent's label, launched by one step; its id."""
        run_id = self.source.add_run(labels=["dev"], **run)
        self.step()
        assert self.platform.starts[run_id] == 1
        return run_id


@pytest.fixture
def world():
    return World()
