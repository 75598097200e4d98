from tests.unit.services.conftest import World


def test_a_non_zero_exit_fails_the_run_with_the_code_and_last_lines(world):
    run_id = world.launched()
    world.platform.report_exit(
        run_id, 3, details=["Traceback (most recent call last):", "ValueError: x"]
    )
    world.step()
    assert world.source.state_of(run_id) == "Failed"
    assert world.source.run(run_id).serialized_state["message"] == "exited with code 3"
    messages = [log.message for log in world.source.logs(run_id)]
    assert "exited with code 3" in messages
    assert "Traceback (most recent call last):\nValueError: x" in messages


def test_an_exit_after_the_run_finished_changes_nothing(world):
    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    world.source.set_state(run_id, "Success")
    world.platform.report_exit(run_id, 1)
    world.step()
    assert world.source.history(run_id)[-1] == "Success"


def test_a_run_that_moved_on_is_failed_at_its_current_version(world):
    run_id = world.launched()
    world.source.set_state(run_id, "Running")  # the flow process started, then died
    world.platform.report_exit(run_id, 137, reason="OOMKilled (exit code 137)")
    world.step()
    assert world.source.history(run_id) == ["Scheduled", "Submitted", "Running", "Failed"]
    assert world.source.run(run_id).serialized_state["message"] == "OOMKilled (exit code 137)"


def cancellation_queries(world, steps=3):
    """How many times the agent asks the API about cancelled runs over ``steps`` steps (it
    asks only while it watches some run)."""
    before = world.source.faults.calls["cancelled_among"]
    for _ in range(steps):
        world.step()
    return world.source.faults.calls["cancelled_among"] - before


def test_a_clean_exit_stops_watching(world):
    run_id = world.launched()
    assert cancellation_queries(world) == 3  # one per poll while the run is watched
    world.platform.report_exit(run_id, 0)
    world.step()
    assert world.platform.acknowledged == [run_id]
    assert cancellation_queries(world) == 0  # nothing watched is left to ask about
    assert world.source.state_of(run_id) == "Submitted"  # the run reports its own end


def test_runs_launched_before_a_restart_are_adopted_and_watched():
    world = World()
    run_id = world.source.add_run(labels=["dev"])
    world.step()
    successor = World()
    successor.source, successor.platform = world.source, world.platform
    from prefect_agent.services.agent import AgentService
    from prefect_agent.testing import InlineExecutor

    agent = AgentService(
        config=world.config,
        source=world.source,
        platform=world.platform,
        clock=world.clock,
        executor=InlineExecutor(),
    )
    assert list(agent.adopt()) == [run_id]
    world.platform.report_exit(run_id, 2)
    agent.step()
    assert world.source.state_of(run_id) == "Failed"
    assert world.platform.starts[run_id] == 1


def test_infrastructure_events_reach_the_run_logs_as_they_happen(world):
    run_id = world.launched()
    world.platform.report_log(run_id, "Event: 'Pulling' on pod p-1: pulling image")
    world.step()
    assert ("fake-infra", "Event: 'Pulling' on pod p-1: pulling image") in [
        (log.name, log.message) for log in world.source.logs(run_id)
    ]
    world.step()
    assert len([log for log in world.source.logs(run_id) if log.name == "fake-infra"]) == 1


def test_a_failure_that_meets_an_unreachable_api_is_reported_on_a_later_check(world):
    from prefect_agent.domain.errors import ApiUnavailable

    run_id = world.launched()
    world.source.set_state(run_id, "Running")
    world.platform.report_exit(run_id, 137, reason="OOMKilled")
    world.source.faults.fail_next("run_status", 2, ApiUnavailable("down"))
    world.step()
    world.step()
    assert world.source.state_of(run_id) == "Running"
    world.step()
    assert world.source.state_of(run_id) == "Failed"
    assert [log.message for log in world.source.logs(run_id)].count("OOMKilled") == 1


def test_a_run_scheduled_again_is_not_failed_for_its_old_infrastructure(world):
    run_id = world.launched()
    world.source.set_state(run_id, "Scheduled")  # e.g. rescheduled by Lazarus
    world.platform.report_exit(run_id, 1, reason="exit code is unknown")
    world.agent.monitor.check()
    assert world.source.state_of(run_id) == "Scheduled"
