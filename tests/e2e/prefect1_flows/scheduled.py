"""Prefect 1.4.1 flow on a schedule: every minute, the first run a few seconds after
registration (IntervalSchedule allows nothing shorter than a minute)."""

from datetime import timedelta

import pendulum
import prefect
from prefect import Flow, task
from prefect.schedules import IntervalSchedule


@task
def tick() -> None:
    when = prefect.context.get("scheduled_start_time")
    prefect.context.get("logger").info("Scheduled tick for %s", when)


schedule = IntervalSchedule(
    start_date=pendulum.now("UTC").add(seconds=3), interval=timedelta(minutes=1)
)
with Flow("every-minute", schedule=schedule) as flow:
    tick()
