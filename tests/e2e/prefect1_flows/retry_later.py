"""Prefect 1.4.1 flow whose task's retry is due more than 10 minutes later.

Prefect's CloudTaskRunner waits in-process for a retry due within 10 minutes; a later one
ends the flow process with the run Running and its task run Retrying, and an agent starts the
run again when the retry is due (the API lists it in ``get_runs_in_queue``).
"""

from datetime import timedelta

import prefect
from prefect import Flow, task


@task(max_retries=1, retry_delay=timedelta(minutes=11))
def flaky() -> str:
    attempt = prefect.context.get("task_run_count", 1)
    if attempt < 2:
        raise RuntimeError(f"Attempt {attempt} fails on purpose; the retry will succeed")
    prefect.context.get("logger").info("Attempt %d succeeded", attempt)
    return "ok"


with Flow("retry-later") as flow:
    flaky()
