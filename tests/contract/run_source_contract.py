"""The RunSource contract, written once and run against every implementation.

A subclass provides the fixtures and hooks below; every test here must pass unchanged.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from prefect_agent.domain.errors import VersionConflict
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.outcomes import Claimed, ClaimLost, RunLog
from prefect_agent.domain.run_config import LocalRun
from prefect_agent.ports import RunSource


class RunSourceContract:
    """Hooks: ``source`` fixture (registered or not), ``seed``, ``move``, ``logs_of``."""

    agent_type = "LocalAgent"

    @pytest.fixture
    def source(self) -> RunSource:
        raise NotImplementedError

    def seed(
        self,
        source: RunSource,
        *,
        labels: list[str],
        start_time: datetime | None = None,
        run_config: Any = None,
    ) -> str:
        """Create a Scheduled run and return its id."""
        raise NotImplementedError

    def move(self, source: RunSource, run_id: str, state: str) -> None:
        """Change a run's state as a flow process would (bumping its version)."""
        raise NotImplementedError

    def logs_of(self, source: RunSource, run_id: str) -> list[tuple[str, str]]:
        """(level, message) of every log record of the run."""
        raise NotImplementedError

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    # -- helpers -----------------------------------------------------------------------------

    def register(self, source: RunSource, labels: list[str]) -> str:
        return source.register(
            agent_type=self.agent_type, name="contract", labels=labels, agent_config_id=None
        )

    def ready(self, source: RunSource, labels: list[str], ahead: float = 10) -> list[FlowRun]:
        return list(source.ready_runs(labels, self.now() + timedelta(seconds=ahead)).runs)

    def ready_ids(self, source: RunSource, labels: list[str], ahead: float = 10) -> set[str]:
        return {run.id for run in self.ready(source, labels, ahead)}

    # -- the contract ------------------------------------------------------------------------

    def test_register_returns_an_id_and_resolves_the_tenant(self, source: RunSource) -> None:
        agent_id = self.register(source, ["a"])
        assert agent_id
        assert source.tenant_id

    def test_label_rule(self, source: RunSource) -> None:
        self.register(source, ["a", "b"])
        only_a = self.seed(source, labels=["a"])
        a_and_b = self.seed(source, labels=["a", "b"])
        unlabeled = self.seed(source, labels=[])
        needs_c = self.seed(source, labels=["a", "c"])
        assert self.ready_ids(source, ["a", "b"]) == {only_a, a_and_b}
        assert self.ready_ids(source, []) == {unlabeled}
        assert self.ready_ids(source, ["a", "b", "c"]) == {only_a, a_and_b, needs_c}

    def test_prefetch_window(self, source: RunSource) -> None:
        self.register(source, ["w"])
        soon = self.seed(source, labels=["w"], start_time=self.now() + timedelta(seconds=5))
        later = self.seed(source, labels=["w"], start_time=self.now() + timedelta(seconds=120))
        assert self.ready_ids(source, ["w"], ahead=10) == {soon}
        assert self.ready_ids(source, ["w"], ahead=300) == {soon, later}

    def test_runs_the_agent_already_holds_are_left_out(self, source: RunSource) -> None:
        self.register(source, ["k"])
        held, other = (self.seed(source, labels=["k"]) for _ in range(2))
        ready = source.ready_runs(["k"], self.now() + timedelta(seconds=10), known={held})
        assert [run.id for run in ready.runs] == [other]

    def test_a_status_carries_what_explain_judges(self, source: RunSource) -> None:
        self.register(source, ["e"])
        start = self.now() + timedelta(seconds=90)
        run_id = self.seed(
            source, labels=["e"], run_config=LocalRun(env={"K": "V"}), start_time=start
        )
        status = source.run_status(run_id)
        assert (status.state, status.labels) == ("Scheduled", ("e",))
        assert status.details is not None
        assert status.details.run_config == LocalRun(env={"K": "V"})
        assert status.details.run_config_error is None
        when = status.details.start_time
        assert isinstance(when, datetime) and abs((when - start).total_seconds()) < 0.01

    def test_a_ready_run_carries_what_the_agent_needs(self, source: RunSource) -> None:
        self.register(source, ["x"])
        run_id = self.seed(source, labels=["x"], run_config=LocalRun(env={"K": "V"}))
        (run,) = self.ready(source, ["x"])
        assert run.id == run_id
        assert run.state == "Scheduled"
        assert run.labels == ("x",)
        assert isinstance(run.run_config, LocalRun)
        assert dict(run.run_config.env or {}) == {"K": "V"}
        assert run.serialized_state.get("type") == "Scheduled"
        assert run.flow_id

    def test_claim_once(self, source: RunSource) -> None:
        self.register(source, ["c"])
        run_id = self.seed(source, labels=["c"])
        (run,) = self.ready(source, ["c"])
        (first,) = source.claim([run])
        assert isinstance(first, Claimed)
        assert first.run_id == run_id
        assert first.version > run.version
        assert source.run_status(run_id).state == "Submitted"
        (second,) = source.claim([run])
        assert isinstance(second, ClaimLost)
        assert run_id not in self.ready_ids(source, ["c"])

    def test_claims_are_answered_per_run_in_one_call(self, source: RunSource) -> None:
        self.register(source, ["b"])
        ids = {self.seed(source, labels=["b"]) for _ in range(5)}
        runs = self.ready(source, ["b"])
        results = source.claim(runs)
        assert {r.run_id for r in results} == ids
        assert all(isinstance(r, Claimed) for r in results)

    def test_a_stale_version_loses_the_claim(self, source: RunSource) -> None:
        self.register(source, ["s"])
        run_id = self.seed(source, labels=["s"])
        (run,) = self.ready(source, ["s"])
        self.move(source, run_id, "Scheduled")  # someone rescheduled it: version moved on
        (result,) = source.claim([run])
        assert isinstance(result, ClaimLost)
        assert source.run_status(run_id).state == "Scheduled"

    def test_mark_failed_is_version_locked(self, source: RunSource) -> None:
        self.register(source, ["f"])
        run_id = self.seed(source, labels=["f"])
        (run,) = self.ready(source, ["f"])
        (claim,) = source.claim([run])
        assert isinstance(claim, Claimed)
        with pytest.raises(VersionConflict):
            source.mark_failed(run_id, "stale", claim.version - 1)
        source.mark_failed(run_id, "it broke: exit code 3", claim.version)
        status = source.run_status(run_id)
        assert status.state == "Failed"
        assert status.version > claim.version

    def test_logs_are_written_to_their_run(self, source: RunSource) -> None:
        self.register(source, ["l"])
        run_id = self.seed(source, labels=["l"])
        other = self.seed(source, labels=["l"])
        source.write_logs(
            [
                RunLog(run_id=run_id, message="Submitted for execution: PID 1", level="INFO"),
                RunLog(run_id=run_id, message="boom", level="ERROR"),
                RunLog(run_id=other, message="elsewhere"),
            ]
        )
        logs = self.logs_of(source, run_id)
        assert ("INFO", "Submitted for execution: PID 1") in logs
        assert ("ERROR", "boom") in logs
        assert all(message != "elsewhere" for _, message in logs)

    def test_run_status_follows_the_run(self, source: RunSource) -> None:
        self.register(source, ["r"])
        run_id = self.seed(source, labels=["r"])
        before = source.run_status(run_id)
        assert before.state == "Scheduled"
        self.move(source, run_id, "Running")
        after = source.run_status(run_id)
        assert after.state == "Running"
        assert after.version > before.version

    # -- cancellation and claims that outlive the process --------------------------------------

    def restarted(self, source: RunSource, claimant: str) -> RunSource:
        """A source as a restarted agent builds it: same agent, ``claimant`` (registered)."""
        raise NotImplementedError

    def test_cancelled_among_lists_only_the_runs_a_user_cancelled(self, source: RunSource) -> None:
        self.register(source, ["a"])
        cancelling, cancelled, running = (self.seed(source, labels=["a"]) for _ in range(3))
        self.move(source, cancelling, "Cancelling")
        self.move(source, cancelled, "Cancelled")
        self.move(source, running, "Running")
        statuses = source.cancelled_among([cancelling, cancelled, running])
        found = {status.run_id: status.state for status in statuses}
        assert found == {cancelling: "Cancelling", cancelled: "Cancelled"}
        assert source.cancelled_among([]) == []

    def test_mark_cancelled_is_version_locked(self, source: RunSource) -> None:
        self.register(source, ["a"])
        run_id = self.seed(source, labels=["a"])
        self.move(source, run_id, "Cancelling")
        version = source.run_status(run_id).version
        with pytest.raises(VersionConflict):
            source.mark_cancelled(run_id, "stopped", version - 1)
        source.mark_cancelled(run_id, "stopped by the agent", version)
        assert source.run_status(run_id).state == "Cancelled"

    def test_claims_are_found_again_by_a_restarted_source_with_the_same_claimant(
        self, source: RunSource
    ) -> None:
        first = self.restarted(source, "claimant-1")
        claimed, other, unclaimed = (self.seed(first, labels=["a"]) for _ in range(3))
        runs = {run.id: run for run in self.ready(first, ["a"])}
        (won,) = first.claim([runs[claimed]])
        assert isinstance(won, Claimed)
        stranger = self.restarted(source, "claimant-2")
        stranger.claim([runs[other]])
        again = self.restarted(source, "claimant-1")
        found = again.claimed_runs().runs
        assert [run.id for run in found] == [claimed]
        # At the version it was claimed at: the claim itself added one.
        assert found[0].version == won.version - 1
        assert unclaimed not in {run.id for run in stranger.claimed_runs().runs}
