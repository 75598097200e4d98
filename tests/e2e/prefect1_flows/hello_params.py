"""Prefect 1.4.1 flow: a parameter reaches the task and the task's log line."""

import prefect
from prefect import Flow, Parameter, task


@task
def greet(name: str) -> str:
    greeting = f"Hello, {name}!"
    prefect.context.get("logger").info(greeting)
    return greeting


with Flow("hello-params") as flow:
    greet(Parameter("name", default="world"))
