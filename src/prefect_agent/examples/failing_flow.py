"""A Prefect 1.4.1 flow whose task raises: the run ends Failed with the error in its logs."""

from prefect import Flow, task


@task
def divide() -> float:
    return 1 / 0


with Flow("always-fails") as flow:
    divide()
