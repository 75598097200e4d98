"""A Prefect 1.4.1 flow with mapped tasks: one task run per number, then their sum."""

import prefect
from prefect import Flow, Parameter, task


@task
def numbers(count: int) -> list:
    return list(range(1, count + 1))


@task
def square(number: int) -> int:
    return number * number


@task
def report(squares: list) -> int:
    total = sum(squares)
    prefect.context.get("logger").info("Sum of %d squares: %d", len(squares), total)
    return total


with Flow("mapped-squares") as flow:
    count = Parameter("count", default=5)
    report(square.map(numbers(count)))
