"""Prefect 1.4.1 flow: its only task raises, so the run ends Failed."""

from prefect import Flow, task


@task
def explode() -> None:
    raise ValueError("boom: the e2e task failed on purpose")


with Flow("always-fails") as flow:
    explode()
