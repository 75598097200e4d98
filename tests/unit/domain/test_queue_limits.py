import pytest

from prefect_agent.domain.queue_limits import QueueLimits
from prefect_agent.testing import InMemoryRunSource


def test_the_fake_queue_uses_prefect_servers_limits() -> None:
    server = QueueLimits.prefect_server()
    fake = InMemoryRunSource()
    assert (fake.scan_limit, fake.return_limit) == (server.scan, server.returned) == (75, 25)


def test_the_return_limit_cannot_exceed_the_scan_limit() -> None:
    expected = r"the return limit \(30\) cannot exceed the scan limit \(20\)"
    with pytest.raises(ValueError, match=expected):
        QueueLimits(scan=20, returned=30)
