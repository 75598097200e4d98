"""Masking what the agent forwards from runs before it reaches the API.

A run's output tail, its container's last lines, pod events and launch errors are written to
the run's logs, which anyone who can read the API sees. A run that prints
``$PREFECT__CLOUD__API_KEY`` (or the API address with its credentials) and fails must not put
them there, so every message written through the source passes through the masker, including
the tenant id the source discovers when the agent registers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from prefect_agent.domain.outcomes import RunLog
from prefect_agent.domain.output_lines import Masker
from prefect_agent.ports import RunSource


class MaskedRunSource:
    """A ``RunSource`` that masks secrets in what it writes; everything else is delegated."""

    def __init__(self, inner: RunSource, secrets: Sequence[str]) -> None:
        self._inner = inner
        self._secrets = tuple(secrets)
        self._mask = Masker(self._secrets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def tenant_id(self) -> str | None:
        return self._inner.tenant_id

    def register(
        self, *, agent_type: str, name: str, labels: Sequence[str], agent_config_id: str | None
    ) -> str:
        agent_id = self._inner.register(
            agent_type=agent_type, name=name, labels=labels, agent_config_id=agent_config_id
        )
        tenant = self._inner.tenant_id
        if tenant and tenant not in self._secrets:
            self._secrets += (tenant,)
            self._mask = Masker(self._secrets)
        return agent_id

    def mark_failed(self, run_id: str, message: str, version: int | None) -> None:
        self._inner.mark_failed(run_id, self._mask(message), version)

    def write_logs(self, logs: Sequence[RunLog]) -> None:
        mask = self._mask
        self._inner.write_logs(
            [attrs.evolve(log, message=mask(log.message)) if mask else log for log in logs]
        )


def masked(source: RunSource, secrets: Sequence[str]) -> RunSource:
    """``source`` masking ``secrets``; unchanged when there are none (without an API key no
    tenant id reaches a run either)."""
    return MaskedRunSource(source, secrets) if secrets else source
