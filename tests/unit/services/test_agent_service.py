"""AgentService with its real threads, driven by a FakeClock: no real sleeps."""

import threading
from datetime import timedelta

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.errors import ApiUnavailable, StoppedBeforeStart
from prefect_agent.services.agent import AgentService
from prefect_agent.services.deployment import claim_slices
from prefect_agent.testing import FakeClock, FakePlatform, InlineExecutor, InMemoryRunSource
from tests.polling import eventually


def make(clock, **config):
    config.setdefault("labels", ["dev"])
    source = InMemoryRunSource(clock=clock, scan_limit=None, return_limit=None)
    platform = FakePlatform()
    agent = AgentService(
        config=AgentConfig(**config), source=source, platform=platform, clock=clock
    )
    return agent, source, platform


def test_1000_runs_are_each_launched_exactly_once():
    clock = FakeClock()
    source = InMemoryRunSource(
        clock=clock, return_limit=25
    )  # Server's page: many overlapping polls
    platform = FakePlatform()
    ids = [source.add_run(labels=["dev"]) for _ in range(1000)]
    # Runs that must not be touched: other labels, unlabeled.
    others = [source.add_run(labels=["prod"]) for _ in range(20)] + [
        source.add_run() for _ in range(5)
    ]
    agent = AgentService(
        config=AgentConfig(labels=["dev"]),
        source=source,
        platform=platform,
        clock=clock,
        executor=InlineExecutor(),
    )
    agent.register()
    for _ in range(200):
        agent.step()
        clock.advance(0.25)
        if len(platform.launches) == 1000:
            break
    assert sorted(platform.launched_ids()) == sorted(ids)
    assert max(platform.starts.values()) == 1
    assert all(source.submissions(i) == 1 for i in ids)
    assert all(source.state_of(i) == "Scheduled" for i in others)


def test_threaded_agent_launches_a_burst_and_stops_cleanly():
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock, deploy_concurrency=4)
    ids = [source.add_run(labels=["dev"]) for _ in range(300)]
    thread = threading.Thread(target=agent.run)
    thread.start()
    eventually(lambda: len(platform.launches) == 300, "300 launches", 10)
    agent.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert max(platform.starts.values()) == 1
    assert sorted(platform.launched_ids()) == sorted(ids)
    assert platform.closed


def test_the_scheduler_launches_on_time_without_a_thread_per_run():
    clock = FakeClock()
    agent, source, platform = make(clock)
    due = clock.now() + timedelta(seconds=5)
    ids = [source.add_run(labels=["dev"], start_time=due) for _ in range(50)]
    threads_before = threading.active_count()
    thread = threading.Thread(target=agent.run, daemon=True)  # a failure must not hang pytest
    thread.start()
    eventually(lambda: len(agent.scheduler) == 50, "50 timers", 10)
    # poll loop and scheduler both wait on the clock; no extra thread per waiting run
    clock.wait_for_waiters(2)
    assert threading.active_count() <= threads_before + 3
    assert platform.launches == []
    clock.advance(4.9)
    clock.wait_for_waiters(2)
    assert platform.launches == []
    clock.advance(0.1)
    eventually(lambda: len(platform.launches) == 50, "50 launches", 10)
    # All due at one instant: deployed as one batch (in its claim slices), not run by run.
    assert source.faults.calls["claim"] == len(claim_slices(50))
    agent.stop()
    thread.join(timeout=10)
    assert sorted(platform.launched_ids()) == sorted(ids)


def test_stop_leaves_not_yet_due_runs_unclaimed():
    clock = FakeClock()
    agent, source, platform = make(clock)
    later = source.add_run(labels=["dev"], start_time=clock.now() + timedelta(seconds=8))
    thread = threading.Thread(target=agent.run)
    thread.start()
    eventually(lambda: len(agent.scheduler) == 1, "one timer", 10)
    agent.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert source.state_of(later) == "Scheduled"
    assert platform.launches == []
    assert len(agent.in_flight) == 0


def test_max_polls_deploys_what_it_accepted_before_returning():
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock, max_polls=1)
    run_id = source.add_run(labels=["dev"], start_time=clock.now() + timedelta(seconds=3))
    agent.run()
    assert platform.launched_ids() == [run_id]
    assert source.faults.calls["ready_runs"] == 1


def test_registration_retries_while_the_api_is_unreachable(caplog):
    clock = FakeClock(auto_advance=True)
    agent, source, _ = make(clock, max_polls=5)
    source.faults.fail_next("register", 3, ApiUnavailable("API at http://localhost:4200 is down"))
    agent.run()
    assert agent.agent_id
    assert source.faults.calls["register"] == 4
    warnings = [r.getMessage() for r in caplog.records if "Could not register" in r.getMessage()]
    assert len(warnings) == 3
    # The error names the address; the warning does not repeat it.
    assert all(w.count("http://localhost:4200") == 1 for w in warnings)


@pytest.mark.parametrize(("max_polls", "attempts"), [(0, 1), (1, 1), (3, 3)])
def test_max_polls_bounds_registration_attempts_too(max_polls, attempts):
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock, max_polls=max_polls)
    source.faults.fail_next("register", 1000, ApiUnavailable("connection refused"))
    with pytest.raises(ApiUnavailable):
        agent.run()
    assert source.faults.calls["register"] == attempts
    assert platform.launches == []


def test_registration_gives_up_when_stopped():
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock)
    source.faults.fail_next("register", 1000, ApiUnavailable("connection refused"))
    agent.stop()
    with pytest.raises(StoppedBeforeStart, match="http://localhost:4200"):
        agent.register()
    agent.run()  # a stop before start-up completes is a clean exit, not an error
    assert platform.closed
    assert source.faults.calls["ready_runs"] == 0


def test_agent_config_settings_are_read_when_an_id_is_given(caplog):
    clock = FakeClock(auto_advance=True)
    agent, source, _ = make(clock, max_polls=0, agent_config_id="cfg-1")
    source.agent_configs["cfg-1"] = {"foo": "bar"}
    with caplog.at_level("DEBUG", logger="prefect_agent.services.agent"):
        agent.run()
    assert "Loaded agent config cfg-1: {'foo': 'bar'}" in caplog.text


def test_the_scheduler_survives_a_bug_in_a_platform():
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock)
    platform.faults.fail_next("outcomes", 1, RuntimeError("bug in the platform"))
    platform.faults.fail_next("check", 1, RuntimeError("another bug"))
    run_id = source.add_run(labels=["dev"])
    thread = threading.Thread(target=agent.run)
    thread.start()
    eventually(lambda: platform.starts[run_id] == 1, "the launch", 10)
    agent.stop()
    thread.join(timeout=10)
    assert source.submissions(run_id) == 1


def test_stop_during_a_slow_claim_launches_what_was_claimed_and_claims_nothing_more():
    clock = FakeClock(auto_advance=True)
    agent, source, platform = make(clock, shutdown_grace_seconds=0)
    source.faults.delay("claim", 1.0)  # a slow API: the stop lands during the first slice
    ids = [source.add_run(labels=["dev"]) for _ in range(250)]  # three claim slices
    thread = threading.Thread(target=agent.run)
    thread.start()
    eventually(lambda: source.faults.calls["claim"] >= 1, "a claim", 10)
    agent.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    states = [source.state_of(i) for i in ids]
    launched = set(platform.launched_ids())
    # every claimed run was started; the rest were never claimed
    assert all((s == "Submitted") == (i in launched) for i, s in zip(ids, states, strict=True))
    assert set(states) <= {"Submitted", "Scheduled"}
    assert "Scheduled" in states
