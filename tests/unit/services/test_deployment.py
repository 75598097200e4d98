from datetime import timedelta

from prefect_agent.domain.errors import ApiUnavailable, PlatformUnavailable
from prefect_agent.domain.run_config import DockerRun, LocalRun
from prefect_agent.testing import FakeClock
from tests.unit.services.conftest import World


def test_a_due_run_is_claimed_launched_and_logged(world):
    run_id = world.source.add_run(labels=["dev"], run_config=LocalRun(env={"X": "1"}))
    world.step()
    assert world.source.history(run_id) == ["Scheduled", "Submitted"]
    (launch,) = world.platform.launches
    assert launch.run.id == run_id
    assert launch.environment["X"] == "1"
    assert [log.message for log in world.source.logs(run_id)] == [
        f"Submitted for execution: Fake {run_id}"
    ]


def test_claims_and_logs_of_one_batch_are_one_request_each(world):
    for _ in range(20):
        world.source.add_run(labels=["dev"])
    world.step()
    assert len(world.platform.launches) == 20
    assert world.source.faults.calls["claim"] == 1
    assert world.source.faults.calls["write_logs"] == 1


def test_submission_lines_carry_their_launch_time_not_their_write_time(world, monkeypatch):
    first, second = (world.source.add_run(labels=["dev"]) for _ in range(2))
    launch = world.platform.launch

    def slow_launch(run, spec):  # each launch takes a second
        world.clock.advance(1)
        return launch(run, spec)

    monkeypatch.setattr(world.platform, "launch", slow_launch)
    start = world.clock.now()
    world.step()  # both lines are written in one request, after the second launch
    stamps = sorted(
        log.timestamp for run_id in (first, second) for log in world.source.logs(run_id)
    )
    assert stamps == [start + timedelta(seconds=1), start + timedelta(seconds=2)]


def test_a_lost_claim_is_silent(world):
    run_id = world.source.add_run(labels=["dev"])
    stale = world.source.ready_runs(["dev"], world.clock.now()).runs[0]
    world.source.set_state(run_id, "Scheduled")  # someone else touched it: version moved on
    world.agent.deployer.deploy([stale])
    assert world.platform.launches == []
    assert world.source.history(run_id) == ["Scheduled", "Scheduled"]
    assert world.source.logs(run_id) == []
    assert run_id not in world.agent.in_flight


def test_a_launch_error_fails_the_run_with_the_reason_at_the_claimed_version(world):
    bad = world.source.add_run(labels=["dev"])
    good = world.source.add_run(labels=["dev"])
    world.platform.fail_launches_of(bad, "image not found: nope:1")
    world.step()
    assert world.source.history(bad) == ["Scheduled", "Submitted", "Failed"]
    assert world.source.run(bad).serialized_state["message"] == "image not found: nope:1"
    assert ("ERROR", "image not found: nope:1") in [
        (log.level, log.message) for log in world.source.logs(bad)
    ]
    assert world.source.history(good) == ["Scheduled", "Submitted"]


def test_an_incompatible_run_config_fails_only_that_run(world):
    bad = world.source.add_run(labels=["dev"], run_config=DockerRun(image="x"))
    good = world.source.add_run(labels=["dev"])
    world.step()
    assert world.source.state_of(bad) == "Failed"
    assert "DockerRun" in world.source.run(bad).serialized_state["message"]
    assert world.platform.launched_ids() == [good]


def test_an_unavailable_platform_claims_nothing_and_recovers():
    world = World()
    run_id = world.source.add_run(labels=["dev"])
    world.platform.available = False
    # The first poll finds the run; it stays reserved while it waits, so later polls do not
    # count it as new again (no 0.25 s polling).
    assert [world.step() for _ in range(4)] == [1, 0, 0, 0]
    assert world.source.state_of(run_id) == "Scheduled"
    assert world.source.faults.calls["claim"] == 0
    assert run_id in world.agent.in_flight
    world.platform.available = True
    for _ in range(8):
        world.step()
    assert world.source.state_of(run_id) == "Submitted"
    assert world.platform.starts[run_id] == 1


def test_a_failed_claim_request_is_tried_again_on_the_backoff_ladder(world):
    run_id = world.source.add_run(labels=["dev"])
    world.source.faults.fail_next("claim", 2, ApiUnavailable("connection reset"))
    world.step()
    assert world.source.state_of(run_id) == "Scheduled"
    assert run_id in world.agent.in_flight  # kept: a later poll must not deploy it twice
    for _ in range(8):  # 0.5 s then 1 s later
        world.step()
    assert world.source.faults.calls["claim"] == 3
    assert world.platform.starts[run_id] == 1
    assert world.source.submissions(run_id) == 1


def test_a_platform_outage_during_launch_fails_the_run_with_the_reason(world):
    run_id = world.source.add_run(labels=["dev"])
    world.platform.faults.fail_next("launch", 1, PlatformUnavailable("engine went away"))
    world.step()
    assert world.source.state_of(run_id) == "Failed"
    assert "engine went away" in world.source.run(run_id).serialized_state["message"]


def test_a_run_is_not_launched_before_its_start_time():
    world = World()
    start = world.clock.now() + timedelta(seconds=5)
    run_id = world.source.add_run(labels=["dev"], start_time=start)
    world.step(4.9)  # prefetched into the timer queue, not yet due
    assert run_id in world.agent.in_flight
    assert world.source.state_of(run_id) == "Scheduled"
    world.agent.scheduler.deploy_due()
    assert world.platform.launches == []
    world.clock.advance(0.1)
    world.agent.scheduler.deploy_due()
    assert world.platform.launched_ids() == [run_id]


def test_a_failed_success_log_does_not_fail_the_launched_run(world):
    run_id = world.source.add_run(labels=["dev"])
    world.source.faults.fail_next("write_logs", 1, ApiUnavailable("down"))
    world.step()
    assert world.source.state_of(run_id) == "Submitted"


def test_fake_clock_rejects_naive_times():
    import datetime

    import pytest

    with pytest.raises(ValueError):
        FakeClock(datetime.datetime(2024, 1, 1))
