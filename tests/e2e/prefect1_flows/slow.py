"""Prefect 1.4.1 flow: a task that works for up to two minutes, to be cancelled meanwhile."""

import time

import prefect
from prefect import Flow, task


@task
def work() -> None:
    prefect.context.get("logger").info("Working until cancelled")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)


with Flow("slow-for-cancel") as flow:
    work()
