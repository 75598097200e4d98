"""Cancellation, verdicts kept until the API has them, and claims resumed after a restart."""

from collections import Counter
from datetime import timedelta

from prefect_agent.domain.errors import ApiUnavailable
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.states import CANCELLED, CANCELLING
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakePlatform, InlineExecutor
from tests.unit.services.conftest import World


class CountingSource:
    """Counts the calls a source gets (wraps an InMemoryRunSource)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self.inner, name)
        if callable(attribute):

            def counted(*args: object, **kwargs: object) -> object:
                self.calls[name] += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute


# -- cancellation --------------------------------------------------------------------------


def test_a_cancelled_running_run_is_stopped_and_ends_cancelled(world: World) -> None:
    run_id = world.launched()
    other = world.launched()
    world.source.set_state(run_id, "Running")
    world.source.set_state(other, "Running")
    assert world.source.cancel(run_id) == CANCELLING
    world.step()
    assert world.platform.stopped == [run_id]
    assert world.source.state_of(run_id) == CANCELLED
    assert world.source.state_of(other) == "Running"
    messages = [log.message for log in world.source.logs(run_id)]
    assert any(
        f"cancelling by its user: agent {world.config.name} stopped fake infrastructure {run_id}"
        in m
        for m in messages
    ), messages
    # The stopped infrastructure's end is not a failure: nothing more is written.
    world.step()
    world.step()
    assert world.source.history(run_id)[-2:] == [CANCELLING, CANCELLED]
    assert world.platform.stopped == [run_id]
    assert run_id in world.platform.acknowledged


def test_a_run_cancelled_before_its_flow_started_is_stopped(world: World) -> None:
    run_id = world.launched()  # Submitted: its container may still be pulling its image
    assert world.source.cancel(run_id) == CANCELLED
    world.step()
    assert world.platform.stopped == [run_id]
    assert world.source.history(run_id) == ["Scheduled", "Submitted", CANCELLED]


def test_a_run_cancelled_while_waiting_for_its_start_time_is_never_launched(
    world: World,
) -> None:
    start = world.clock.now() + timedelta(seconds=5)
    run_id = world.source.add_run(labels=["dev"], start_time=start)
    world.step()  # prefetched: waiting in the agent's timer queue
    assert world.platform.starts[run_id] == 0
    world.source.cancel(run_id)
    for _ in range(30):
        world.step()
    assert world.platform.starts[run_id] == 0
    assert world.source.history(run_id) == ["Scheduled", CANCELLED]


def test_an_adopted_run_is_stopped_when_cancelled() -> None:
    world = World()
    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    restarted = AgentService(
        config=world.config,
        source=world.source,
        platform=world.platform,
        clock=world.clock,
        executor=InlineExecutor(),
    )
    restarted.register()
    assert list(restarted.adopt()) == [run_id]
    world.source.cancel(run_id)
    restarted.step()
    assert world.platform.stopped == [run_id]
    assert world.source.state_of(run_id) == CANCELLED


def test_the_flow_process_setting_cancelled_first_is_left_alone(world: World) -> None:
    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    world.source.cancel(run_id)
    world.source.set_state(run_id, CANCELLED)  # the flow runner got there first
    world.step()
    assert world.source.history(run_id)[-2:] == [CANCELLING, CANCELLED]


def test_one_cancellation_query_per_poll_for_all_running_runs() -> None:
    world = World()
    counting = CountingSource(world.source)
    world.agent = AgentService(
        config=world.config,
        source=counting,  # type: ignore[arg-type]
        platform=world.platform,
        clock=world.clock,
        executor=InlineExecutor(),
    )
    world.agent.register()
    ids = [world.source.add_run(labels=["dev"]) for _ in range(50)]
    world.step()
    world.step()  # the fake API lists 25 runs per poll
    assert sorted(world.platform.launched_ids()) == sorted(ids)
    before = counting.calls["cancelled_among"]
    polls_before = world.agent.poll_loop.polls
    for _ in range(5):
        world.agent.poll_loop.poll_once()
        world.agent.monitor.check()
        world.agent.monitor.check()  # a second check without a poll asks nothing
    assert counting.calls["cancelled_among"] - before == world.agent.poll_loop.polls - polls_before
    assert counting.calls["run_status"] == 0
    world.source.cancel(ids[7])
    world.agent.poll_loop.poll_once()
    world.agent.monitor.check()
    assert world.platform.stopped == [ids[7]]


def test_a_cancellation_the_api_cannot_take_is_settled_later(world: World) -> None:
    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    world.source.cancel(run_id)
    world.source.faults.fail_next("mark_cancelled", 2, ApiUnavailable("down"))
    world.step()
    assert world.platform.stopped == [run_id]
    assert world.source.state_of(run_id) == CANCELLING
    assert run_id in world.platform.acknowledged  # its infrastructure is gone already
    world.step()
    world.step()
    assert world.source.state_of(run_id) == CANCELLED
    assert world.platform.stopped == [run_id]  # stopped once


# -- durable outcomes ----------------------------------------------------------------------


def test_a_failure_is_kept_while_the_api_is_down_for_longer_than_a_minute(world: World) -> None:
    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    world.platform.report_exit(run_id, 3)
    world.source.faults.fail_next("run_status", 400, ApiUnavailable("down"))
    for _ in range(200):  # 200 checks, 100 s with the default monitor interval
        world.step(seconds=2.0)
    assert world.source.state_of(run_id) == "Running"
    assert run_id in world.agent.monitor.pending
    assert run_id not in world.platform.acknowledged  # the verdict stays on the platform
    world.source.faults.clear()
    world.step()
    assert world.source.state_of(run_id) == "Failed"
    assert world.platform.acknowledged == [run_id]


def test_a_failure_is_given_up_after_the_configured_time() -> None:
    world = World(operations=OperationsSettings(report_give_up_seconds=60.0))
    run_id = world.launched()
    world.platform.report_exit(run_id, 3)
    world.source.faults.fail_next("run_status", 1000, ApiUnavailable("down"))
    world.step(seconds=30.0)
    world.step(seconds=30.0)
    assert run_id in world.agent.monitor.pending
    world.step(seconds=1.0)
    assert run_id not in world.agent.monitor.pending
    assert world.platform.acknowledged == [run_id]


def test_a_verdict_that_ended_long_ago_counts_from_its_end() -> None:
    from prefect_agent.domain.outcomes import InfrastructureOutcome

    world = World(operations=OperationsSettings(report_give_up_seconds=60.0))
    run_id = world.launched()
    ended = world.clock.now() - timedelta(seconds=3600)
    world.platform._outcomes.append(  # a verdict kept across a restart, an hour old
        InfrastructureOutcome(run_id=run_id, succeeded=False, reason="exit 3", ended_at=ended)
    )
    world.source.faults.fail_next("run_status", 1, ApiUnavailable("down"))
    world.step()
    assert run_id not in world.agent.monitor.pending


# -- claims surviving restarts -------------------------------------------------------------


def test_runs_claimed_but_never_launched_are_launched_once_after_a_restart() -> None:
    world = World()
    ids = [world.source.add_run(labels=["dev"]) for _ in range(5)]
    runs = world.source.ready_runs(["dev"], before=world.clock.now()).runs
    world.source.claim(runs)  # the killed agent got this far
    assert {world.source.state_of(i) for i in ids} == {"Submitted"}
    platform = FakePlatform()
    restarted = AgentService(
        config=world.config,
        source=world.source,
        platform=platform,
        clock=world.clock,
        executor=InlineExecutor(),
    )
    restarted.register()
    restarted.adopt()
    assert sorted(platform.starts) == sorted(ids)
    assert set(platform.starts.values()) == {1}
    for _ in range(5):
        restarted.step()
    restarted.adopt()  # a second look finds them watched: nothing launched twice
    assert set(platform.starts.values()) == {1}
    assert all(world.source.submissions(i) == 1 for i in ids)
    for run_id in ids:
        assert any("Submitted for execution" in log.message for log in world.source.logs(run_id))


def test_a_claimed_run_with_infrastructure_is_adopted_not_launched_again() -> None:
    world = World()
    run_id = world.launched()
    restarted = AgentService(
        config=world.config,
        source=world.source,
        platform=world.platform,
        clock=world.clock,
        executor=InlineExecutor(),
    )
    restarted.register()
    assert list(restarted.adopt()) == [run_id]
    assert world.platform.starts[run_id] == 1


def test_another_agents_claims_are_not_resumed() -> None:
    world = World()
    run_id = world.source.add_run(labels=["dev"])
    world.source.claimant = "another-agent"
    world.source.claim(world.source.ready_runs(["dev"], before=world.clock.now()).runs)
    world.source.claimant = "in-memory"
    world.agent.adopt()
    assert world.platform.starts[run_id] == 0


def test_a_claimed_run_that_cannot_be_read_is_failed_with_the_reason() -> None:
    world = World()
    run_id = world.source.add_run(labels=["dev"])
    world.source.claim(world.source.ready_runs(["dev"], before=world.clock.now()).runs)
    world.source.run(run_id).unreadable_reason = "run config (DockerRun) is invalid"
    world.agent.adopt()
    assert world.platform.starts[run_id] == 0
    assert world.source.state_of(run_id) == "Failed"
    assert "run config (DockerRun) is invalid" in [log.message for log in world.source.logs(run_id)]


def test_claims_are_not_resumed_onto_an_unavailable_platform() -> None:
    world = World()
    run_id = world.source.add_run(labels=["dev"])
    world.source.claim(world.source.ready_runs(["dev"], before=world.clock.now()).runs)
    world.platform.available = False
    world.agent.adopt()
    assert world.platform.starts[run_id] == 0
    assert world.source.state_of(run_id) == "Submitted"  # for the next start, not Failed
