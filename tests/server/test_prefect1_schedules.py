"""Schedules as Prefect 1.4.1 writes them: the embedded API computes the same next start times
as Prefect's own ``Schedule.next``, and the scheduler creates a registered flow's next runs."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from prefect_agent.server import timestamps
from prefect_agent.server.lazarus import RESCHEDULED, Lazarus
from prefect_agent.server.scheduler import Scheduler
from prefect_agent.server.schedules import ScheduleError, next_events
from prefect_agent.server.testing import RunningServer
from prefect_agent.server.zombie_killer import ZombieKiller
from tests.polling import eventually
from tests.prefect1.venv import Prefect1
from tests.server.prefect1_client import Prefect1Client

SCHEDULES = {
    "interval": "IntervalSchedule(interval=timedelta(minutes=7), start_date=start)",
    "interval_days_dst": (
        "Schedule(clocks=[IntervalClock(timedelta(days=1), "
        "start_date=pendulum.datetime(2026, 3, 20, 9, 30, tz='Europe/Paris'))])"
    ),
    "cron": "CronSchedule('*/15 9-17 * * mon-fri', start_date=start)",
    "cron_tz_day_or": (
        "Schedule(clocks=[CronClock('0 6 1,15 * 0', "
        "start_date=pendulum.datetime(2026, 1, 1, tz='America/New_York'), day_or=True)])"
    ),
    "cron_day_and": "Schedule(clocks=[CronClock('30 2 1-7 * 1', day_or=False)])",
    "clocks_with_parameters": (
        "Schedule(clocks=[IntervalClock(timedelta(hours=5), parameter_defaults={'x': 1}), "
        "CronClock('0 0 * * *', labels=['night']), "
        "DatesClock([start.add(days=2), start.add(days=40)])])"
    ),
    "interval_with_end": (
        "IntervalSchedule(interval=timedelta(hours=1), start_date=start, "
        "end_date=start.add(hours=5, minutes=30))"
    ),
}

PREFECT_NEXT = """
import json
from datetime import timedelta
import pendulum
from prefect.schedules import Schedule, IntervalSchedule, CronSchedule
from prefect.schedules.clocks import IntervalClock, CronClock, DatesClock
from prefect.serialization.schedule import ScheduleSchema
# The venv's pendulum 3 renamed a class CronClock checks against; alias it to compute.
pendulum.tz._Timezone = getattr(pendulum.tz, "_Timezone", pendulum.tz.Timezone)
start = pendulum.datetime(2026, 2, 3, 4, 5, 6, tz="UTC")
after = pendulum.datetime(2026, 5, 1, 12, 0, tz="UTC")
out = {}
for name, text in SCHEDULES.items():
    schedule = eval(text)
    events = schedule.next(12, after=after, return_events=True)
    out[name] = {
        "serialized": ScheduleSchema().dump(schedule),
        "events": [[e.start_time.in_tz("UTC").isoformat(), e.parameter_defaults, e.labels]
                   for e in events],
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def prefect_schedules(prefect1: Prefect1) -> dict[str, dict]:
    return dict(prefect1.json_of(f"SCHEDULES = {SCHEDULES!r}\n" + PREFECT_NEXT))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_next_start_times_are_prefects_own(name: str, prefect_schedules: dict) -> None:
    expected = prefect_schedules[name]
    after = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

    events = next_events(expected["serialized"], 12, after)

    assert [
        [timestamps.to_text(e.start_time), dict(e.parameter_defaults), e.labels] for e in events
    ] == [[timestamps.normalize(t), params, labels] for t, params, labels in expected["events"]]


def test_a_schedule_with_filters_is_refused_with_the_reason(prefect1: Prefect1) -> None:
    serialized = prefect1.json_of(
        "import json\nfrom datetime import timedelta\n"
        "from prefect.schedules import Schedule, filters\n"
        "from prefect.schedules.clocks import IntervalClock\n"
        "from prefect.serialization.schedule import ScheduleSchema\n"
        "schedule = Schedule(clocks=[IntervalClock(timedelta(hours=1))], "
        "filters=[filters.is_weekday])\n"
        "print(json.dumps(ScheduleSchema().dump(schedule)))"
    )
    with pytest.raises(ScheduleError, match="filters are not supported"):
        next_events(serialized, 3, datetime.now(timezone.utc))


SCHEDULED = """
    from datetime import timedelta
    import pendulum
    from prefect import Flow, Parameter, task
    from prefect.schedules import Schedule
    from prefect.schedules.clocks import DatesClock, IntervalClock

    @task
    def show(x):
        return x

    # Every minute from an hour on, and once soon (a run the test can start when due).
    soon, later = pendulum.now("UTC").add(seconds=20), pendulum.now("UTC").add(hours=1)
    schedule = Schedule(clocks=[IntervalClock(timedelta(minutes=1), start_date=later),
                                DatesClock([soon])])
    with Flow("scheduled", storage=STORAGE, schedule=schedule) as flow:
        show(Parameter("x", default=3))
"""

SCHEDULED_RUNS = (
    "query($id: uuid!) { flow_run(where: {flow_id: {_eq: $id}}, "
    "order_by: {scheduled_start_time: asc}) { id state auto_scheduled scheduled_start_time "
    "parameters } }"
)


def test_a_registered_schedule_gets_its_next_runs_and_they_run(
    client: Prefect1Client, api: RunningServer
) -> None:
    flow_id = client.register(client.write_flow("scheduled", SCHEDULED))

    runs = api.graphql(SCHEDULED_RUNS, {"id": flow_id})["flow_run"]
    assert len(runs) == 10
    assert all(r["auto_scheduled"] and r["state"] == "Scheduled" for r in runs)
    starts = [timestamps.parse(r["scheduled_start_time"]) for r in runs]
    assert starts[1] - starts[0] > timedelta(minutes=50)
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(starts[1:]))
    assert runs[0]["parameters"] == {"x": 3}
    # The scheduler's next passes create nothing twice.
    assert Scheduler(api.store).sweep() == 0
    assert len(api.graphql(SCHEDULED_RUNS, {"id": flow_id})["flow_run"]) == 10

    # A flow process started before its run's time ends at once: start it when due.
    eventually(lambda: starts[0] <= datetime.now(timezone.utc), "the first run to be due", 40)
    assert client.execute(runs[0]["id"]).returncode == 0
    assert api.state_of(runs[0]["id"]) == "Success"

    flag = api.graphql(
        "mutation($input: set_schedule_inactive_input!) { set_schedule_inactive(input: $input)"
        " { success } }",
        {"input": {"flow_id": flow_id}},
    )
    assert flag["set_schedule_inactive"]["success"] is True
    left = api.graphql(SCHEDULED_RUNS, {"id": flow_id})["flow_run"]
    assert [r["id"] for r in left] == [runs[0]["id"]]  # the runs not started are gone
    assert Scheduler(api.store).sweep() == 0
    api.graphql(
        "mutation($input: set_schedule_active_input!) { set_schedule_active(input: $input)"
        " { success } }",
        {"input": {"flow_id": flow_id}},
    )
    assert len(api.graphql(SCHEDULED_RUNS, {"id": flow_id})["flow_run"]) > 1


SLEEPY = """
    import datetime, time
    from prefect import Flow, task

    @task(max_retries=2, retry_delay=datetime.timedelta(minutes=5))
    def sleepy():
        time.sleep(600)

    @task
    def plain():
        time.sleep(600)

    with Flow("sleepy", storage=STORAGE) as flow:
        sleepy()
        plain()
"""


def test_the_zombie_killer_retries_or_fails_task_runs_whose_heartbeat_stopped(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("sleepy", SLEEPY)))
    process = client.start(run_id)
    try:
        eventually(lambda: "Running" in client.task_states(run_id).values(), "a task to run", 60)
    finally:
        process.kill()  # the flow process dies: no more heartbeats
        process.wait()
    running = [key for key, state in client.task_states(run_id).items() if state == "Running"]
    assert len(running) == 1
    killer = ZombieKiller(api.store, after_seconds=0)

    assert killer.sweep() == (1, 0)

    # A task with retries left is retried (the run goes back to the queue); one without fails.
    expected = "Retrying" if running[0] == ("sleepy", -1) else "Failed"
    assert client.task_states(run_id)[running[0]] == expected
    messages = [log["message"] for log in api.logs(run_id) if log["level"] == "ERROR"]
    assert any("No heartbeat detected from the remote task" in m for m in messages)
    assert killer.sweep() == (0, 0)


ONE_SLOW = """
    import time
    from prefect import Flow, task

    @task
    def plain():
        time.sleep(600)

    with Flow("one-slow", storage=STORAGE) as flow:
        plain()
"""


def test_lazarus_reschedules_a_running_flow_run_left_with_nothing_to_do(
    client: Prefect1Client, api: RunningServer
) -> None:
    run_id = client.create_flow_run(client.register(client.write_flow("one", ONE_SLOW)))
    process = client.start(run_id)
    try:
        eventually(lambda: client.task_states(run_id)[("plain", -1)] == "Running", "the task", 60)
    finally:
        process.kill()
        process.wait()
    lazarus = Lazarus(api.store, after_seconds=0)
    assert lazarus.sweep() == ([], [])  # a task run is still Running: the zombie killer's job
    assert ZombieKiller(api.store, after_seconds=0).sweep() == (1, 0)
    assert client.task_states(run_id)[("plain", -1)] == "Failed"

    assert lazarus.sweep() == ([run_id], [])

    assert api.state_of(run_id) == "Scheduled"
    assert f"{RESCHEDULED} This is attempt 1." in [log["message"] for log in api.logs(run_id)]
    # Started again, the flow run ends with the task's outcome.
    client.execute(run_id)
    assert api.state_of(run_id) == "Failed"
