"""MaskedRunSource: what is written to runs (logs, failure messages) never carries a secret,
including the tenant id the source discovers at registration."""

from __future__ import annotations

from prefect_agent.domain.outcomes import RunLog
from prefect_agent.services.masking import MaskedRunSource, masked
from prefect_agent.testing import InMemoryRunSource

TENANT = "0b9a8e8e-4f7e-4d0b-9a1d-2c8f5a0b1c2d"


def test_logs_and_failures_are_masked_and_the_rest_delegated() -> None:
    inner = InMemoryRunSource(tenant_id=TENANT)
    source = MaskedRunSource(inner, ["pcu_key_1234"])
    source.register(agent_type="LocalAgent", name="a", labels=[], agent_config_id=None)
    run_id = source.add_run()  # delegated to the in-memory source
    source.write_logs(
        [
            RunLog(run_id=run_id, message="event: pulled with pcu_key_1234"),
            RunLog(run_id=run_id, message=f"tenant {TENANT}"),
        ]
    )
    source.mark_failed(run_id, "failed: echo pcu_key_1234", None)
    text = "\n".join(log.message for log in inner.logs(run_id))
    assert "pcu_key_1234" not in text and TENANT not in text
    assert inner.state_of(run_id) == "Failed"
    assert source.tenant_id == TENANT


def test_nothing_to_mask_keeps_the_source() -> None:
    inner = InMemoryRunSource()
    assert masked(inner, ()) is inner
