import threading

from prefect_agent.domain.errors import ApiUnavailable
from tests.unit.services.conftest import World


class RecordingClock:
    """Wraps a FakeClock and records each wait's timeout, returning at once (time jumps)."""

    def __init__(self, clock):
        self.clock = clock
        self.timeouts = []

    def now(self):
        return self.clock.now()

    def wait(self, event, timeout):
        self.timeouts.append(timeout)
        if event.is_set():
            return True
        self.clock.advance(timeout)
        return False


def loop_for(world, max_polls, health=None):
    import attrs

    from prefect_agent.services.poll_loop import PollLoop

    clock = RecordingClock(world.clock)
    loop = PollLoop(
        config=attrs.evolve(world.config, max_polls=max_polls),
        source=world.source,
        clock=clock,
        health=health or world.agent.health,
        in_flight=world.agent.in_flight,
        failer=world.agent.failer,
        on_found=world.agent.scheduler.enqueue,
    )
    return loop, clock


def test_empty_polls_back_off_along_the_ladder():
    world = World()
    loop, clock = loop_for(world, 9)
    loop.run()
    assert loop.polls == 9
    assert clock.timeouts == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_finding_runs_resets_the_interval():
    world = World()
    loop, clock = loop_for(world, 4)
    loop.poll_once()
    loop.interval = loop.interval.after_poll(False).after_poll(False)
    world.source.add_run(labels=["dev"])
    loop.run()
    assert clock.timeouts[0] == 0.25


def test_max_polls_zero_never_polls():
    world = World()
    loop, _ = loop_for(world, 0)
    loop.run()
    assert world.source.faults.calls["ready_runs"] == 0


def test_wake_ends_the_wait_at_once():
    world = World()
    loop, _ = loop_for(world, 2)
    event_waits = []

    class WakingClock:
        def now(self):
            return world.clock.now()

        def wait(self, event, timeout):
            loop.wake()
            event_waits.append(event.is_set())
            return event.is_set()

    loop._clock = WakingClock()
    loop.run()
    assert event_waits == [True]
    assert loop.polls == 2


def test_a_failing_poll_is_logged_and_the_loop_goes_on(caplog):
    world = World()
    world.source.faults.fail_next("ready_runs", 2, ApiUnavailable("HTTP 502 from http://api"))
    run_id = world.source.add_run(labels=["dev"])
    loop, _ = loop_for(world, 3)
    loop.run()
    assert "Failed to query for ready flow runs" in caplog.text
    assert run_id in world.agent.in_flight  # the third poll found it


def test_two_polls_never_deploy_one_run_twice():
    world = World()
    run_id = world.source.add_run(labels=["dev"], start_time=world.clock.now())
    loop, _ = loop_for(world, 5)
    for _ in range(5):
        loop.poll_once()  # the run is listed every time until it is claimed
    assert len(world.agent.scheduler) == 1
    world.agent.scheduler.deploy_due()
    loop.poll_once()
    assert world.platform.starts[run_id] == 1
    assert world.source.submissions(run_id) == 1


def test_unreadable_runs_fail_with_their_reason_and_the_rest_are_served():
    world = World()
    bad = world.source.add_unreadable_run("run_config has unknown type 'ECSRun'", labels=["dev"])
    good = world.source.add_run(labels=["dev"])
    world.step()
    assert world.source.state_of(bad) == "Failed"
    assert "ECSRun" in world.source.run(bad).serialized_state["message"]
    assert world.platform.launched_ids() == [good]


def test_stop_ends_the_loop_from_another_thread():
    world = World()
    loop, _ = loop_for(world, None)
    loop._clock = world.clock  # a real wait on the fake clock: blocks until woken
    thread = threading.Thread(target=loop.run)
    thread.start()
    world.clock.wait_for_waiters(1)
    loop.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_health_is_told_the_interval_the_loop_waits():
    """The liveness allowance follows the loop's own interval, not one derived again."""
    from prefect_agent.services.null_health import NullHealthReporter

    class Recording(NullHealthReporter):
        def __init__(self):
            self.intervals = []

        def poll_succeeded(self, at, runs_found, next_poll_in):
            self.intervals.append(next_poll_in)

        def poll_failed(self, at, error, next_poll_in):
            self.intervals.append(next_poll_in)

    world = World()
    world.source.faults.fail_next("ready_runs", 1, ApiUnavailable("HTTP 502 from http://api"))
    world.source.add_run(labels=["dev"])
    health = Recording()
    loop, clock = loop_for(world, 4, health)
    loop.run()
    # failed poll, a poll that found the run, then two empty polls (the run is in flight)
    assert health.intervals[:-1] == clock.timeouts == [0.5, 0.25, 0.5]
    assert health.intervals[-1] == 1.0
