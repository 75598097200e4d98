"""The Platform contract, written once and run against every implementation.

A subclass provides the ``platform`` fixture and the hooks; each real adapter runs real
commands (a subprocess, a container, a Job) that exit with the code the test asks for.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs
import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.launch_spec import LaunchSpec, build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome
from prefect_agent.ports import Platform
from tests.polling import eventually, poll

OUTCOME_DEADLINE = 60.0


class PlatformContract:
    """Hooks: ``platform`` fixture, ``config``, ``exit_command``, ``blocking_command``,
    ``release``, ``finish``, ``restarted``, ``starts``."""

    @pytest.fixture
    def platform(self) -> Platform:
        raise NotImplementedError

    def config(self) -> AgentConfig:
        """The agent configuration the platform was built from."""
        raise NotImplementedError

    def exit_command(self, code: int) -> Sequence[str]:
        """A command that exits with ``code`` promptly."""
        raise NotImplementedError

    def blocking_command(self, run_id: str) -> Sequence[str]:
        """A command that runs until ``release(platform, run_id)``."""
        raise NotImplementedError

    def release(self, platform: Platform, run_id: str) -> None:
        """Let a ``blocking_command`` finish with exit code 0."""
        raise NotImplementedError

    def finish(self, platform: Platform, run_id: str, code: int) -> None:
        """For fakes: make the launched run end with ``code``. Real platforms do nothing."""

    def restarted(self, platform: Platform) -> Platform:
        """A new platform instance, as a restarted agent would build it."""
        raise NotImplementedError

    def starts(self, platform: Platform, run_id: str) -> int:
        """How many times the run's infrastructure was really started."""
        raise NotImplementedError

    def leftovers(self, platform: Platform, run_id: str) -> int:
        """How much of the run's infrastructure still exists (processes, containers, Jobs
        and pods)."""
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------------

    def new_run(self) -> FlowRun:
        run_id = str(uuid.uuid4())
        return FlowRun(
            id=run_id,
            version=2,
            state="Submitted",
            flow_id=str(uuid.uuid4()),
            flow_name="contract-flow",
            name=f"contract-{run_id[:8]}",
        )

    def spec(self, run: FlowRun, command: Sequence[str]) -> LaunchSpec:
        config = attrs.evolve(self.config(), flow_run_command=tuple(command))
        return build_launch_spec(run, config, tenant_id=None)

    def wait_for_outcome(self, platform: Platform, run_id: str) -> InfrastructureOutcome:
        def found() -> InfrastructureOutcome | None:
            return next((o for o in platform.outcomes() if o.run_id == run_id), None)

        return eventually(found, f"the outcome of run {run_id}", OUTCOME_DEADLINE, step=0.02)

    # -- the contract ------------------------------------------------------------------------

    def test_check_passes_when_available(self, platform: Platform) -> None:
        platform.check()

    def test_launch_reports_success(self, platform: Platform) -> None:
        run = self.new_run()
        launched = platform.launch(run, self.spec(run, self.exit_command(0)))
        assert launched.run_id == run.id
        assert launched.info
        self.finish(platform, run.id, 0)
        outcome = self.wait_for_outcome(platform, run.id)
        assert outcome.succeeded
        assert outcome.exit_code in (0, None)

    def test_a_non_zero_exit_is_a_failed_outcome_with_the_code(self, platform: Platform) -> None:
        run = self.new_run()
        platform.launch(run, self.spec(run, self.exit_command(3)))
        self.finish(platform, run.id, 3)
        outcome = self.wait_for_outcome(platform, run.id)
        assert not outcome.succeeded
        assert outcome.exit_code == 3
        assert "3" in outcome.reason

    def test_each_outcome_is_reported_once(self, platform: Platform) -> None:
        run = self.new_run()
        platform.launch(run, self.spec(run, self.exit_command(0)))
        self.finish(platform, run.id, 0)
        self.wait_for_outcome(platform, run.id)
        assert all(o.run_id != run.id for o in platform.outcomes())

    def test_launching_a_running_run_again_does_not_start_it_twice(
        self, platform: Platform
    ) -> None:
        run = self.new_run()
        spec = self.spec(run, self.blocking_command(run.id))
        platform.launch(run, spec)
        again = platform.launch(run, spec)
        assert again.run_id == run.id
        assert self.starts(platform, run.id) == 1
        self.release(platform, run.id)
        self.finish(platform, run.id, 0)
        assert self.wait_for_outcome(platform, run.id).succeeded

    def test_a_restarted_platform_adopts_running_runs(self, platform: Platform) -> None:
        run = self.new_run()
        spec = self.spec(run, self.blocking_command(run.id))
        platform.launch(run, spec)
        platform.close()
        successor = self.restarted(platform)
        try:
            assert run.id in successor.adopt()
            successor.launch(run, spec)
            assert self.starts(successor, run.id) == 1
            self.release(successor, run.id)
            self.finish(successor, run.id, 0)
            assert self.wait_for_outcome(successor, run.id).succeeded
        finally:
            successor.close()

    def test_stop_is_idempotent(self, platform: Platform) -> None:
        run = self.new_run()
        platform.launch(run, self.spec(run, self.blocking_command(run.id)))
        assert platform.stop(run.id)
        platform.stop(run.id)  # again while it ends: harmless
        assert platform.stop("never-launched") == ""
        assert not self.wait_for_outcome(platform, run.id).succeeded
        assert [o for o in platform.outcomes() if o.run_id == run.id] == []  # reported once

    def test_stop_ends_a_running_run_and_its_end_is_reported(self, platform: Platform) -> None:
        run = self.new_run()
        platform.launch(run, self.spec(run, self.blocking_command(run.id)))
        what = platform.stop(run.id)
        assert what  # says what it stopped, for the run's logs
        outcome = self.wait_for_outcome(platform, run.id)
        assert not outcome.succeeded
        assert platform.stop(run.id) == ""
        platform.acknowledge(run.id)
        poll(lambda: self.leftovers(platform, run.id) == 0, OUTCOME_DEADLINE, step=0.02)
        assert self.leftovers(platform, run.id) == 0

    def test_a_verdict_is_reported_again_after_a_restart_until_acknowledged(
        self, platform: Platform
    ) -> None:
        run = self.new_run()
        platform.launch(run, self.spec(run, self.exit_command(3)))
        self.finish(platform, run.id, 3)
        self.wait_for_outcome(platform, run.id)
        platform.close()  # killed before the API took the failure
        successor = self.restarted(platform)
        try:
            assert run.id in successor.adopt()
            again = self.wait_for_outcome(successor, run.id)
            assert not again.succeeded
            assert again.exit_code in (3, None)
            successor.acknowledge(run.id)
        finally:
            successor.close()
        third = self.restarted(successor)
        try:
            assert run.id not in third.adopt()
        finally:
            third.close()

    def test_the_claimant_outlives_the_process(self, platform: Platform) -> None:
        assert platform.claimant
        successor = self.restarted(platform)
        try:
            assert successor.claimant == platform.claimant
        finally:
            successor.close()
