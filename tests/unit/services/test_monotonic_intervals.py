"""Intervals follow the monotonic clock: a wall clock stepped back an hour (an NTP step, a
restored VM) must not stop the infrastructure checks (it stopped them for an hour before)."""

import threading

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.services.agent import AgentService
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource
from tests import polling


def test_infrastructure_checks_go_on_after_the_wall_clock_steps_back() -> None:
    clock = FakeClock()
    source = InMemoryRunSource(clock=clock)
    platform = FakePlatform()
    agent = AgentService(
        config=AgentConfig(labels=["dev"], monitor_interval=2.0),
        source=source,
        platform=platform,
        clock=clock,
        executor=InlineExecutor(),
    )
    run_id = source.add_run(labels=["dev"])
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        polling.eventually(lambda: platform.launched_ids() == [run_id], "the launch")
        clock.wait_for_waiters(2)
        clock.jump(-3600)
        platform.report_exit(run_id, 3, details=["boom"])
        for _ in range(3):  # a few monitor intervals of monotonic time
            clock.wait_for_waiters(2)
            clock.advance(2.0)
        polling.eventually(lambda: source.state_of(run_id) == "Failed", "the run failed")
    finally:
        agent.stop()
        thread.join(timeout=10)


def test_the_fake_clock_keeps_monotonic_time_apart_from_wall_time() -> None:
    clock = FakeClock()
    start_wall, start_mono = clock.now(), clock.monotonic()
    clock.jump(-3600)
    assert clock.monotonic() == start_mono
    assert (clock.now() - start_wall).total_seconds() == -3600
    clock.advance(5)
    assert clock.monotonic() == start_mono + 5
    done = threading.Event()
    timed_out: list[bool] = []
    waiter = threading.Thread(target=lambda: timed_out.append(not clock.wait(done, 10)))
    waiter.start()
    clock.wait_for_waiters(1)
    clock.jump(+7200)  # a wall step forward does not end a wait
    clock.advance(9)
    assert waiter.is_alive()
    clock.advance(1)
    waiter.join(5)
    assert timed_out == [True]
