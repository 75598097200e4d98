"""In-memory fakes of the agent's ports, shipped for your own tests.

They pass the same contract suites as the real adapters (``tests/contract/``), so code tested
against them behaves the same against Prefect Server, Docker or Kubernetes::

    from prefect_agent.testing import FakeClock, FakePlatform, InMemoryRunSource
"""

from prefect_agent.testing.clock import FakeClock
from prefect_agent.testing.executor import InlineExecutor
from prefect_agent.testing.faults import Faults
from prefect_agent.testing.http_transport import MockAnswer, MockTransport, SentRequest
from prefect_agent.testing.platform import FakePlatform
from prefect_agent.testing.run_source import InMemoryRunSource, StoredRun

__all__ = [
    "FakeClock",
    "FakePlatform",
    "Faults",
    "InMemoryRunSource",
    "InlineExecutor",
    "MockAnswer",
    "MockTransport",
    "SentRequest",
    "StoredRun",
]
