"""A Prefect 1.4.1 flow whose task fails on its first attempt and succeeds on its retry.

The task run goes Retrying with a start time ``retry_delay`` later. Prefect's task runner
waits for a retry due within 10 minutes in the same flow process; a later one ends the
process with the run still Running, and an agent starts the run again when the retry is due.
"""

from datetime import timedelta

import prefect
from prefect import Flow, task


@task(max_retries=1, retry_delay=timedelta(seconds=2))
def flaky() -> str:
    attempt = prefect.context.get("task_run_count", 1)
    if attempt < 2:
        raise RuntimeError(f"Attempt {attempt} fails on purpose; the retry will succeed")
    prefect.context.get("logger").info("Attempt %d succeeded", attempt)
    return "ok"


with Flow("retry-once") as flow:
    flaky()
