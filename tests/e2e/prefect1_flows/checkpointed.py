"""Prefect 1.4.1 flow: a task result checkpointed by LocalResult as JSON.

The results directory comes from the run's environment (its run config's ``env``), read when
the flow process loads this script.
"""

import os

from prefect import Flow, task
from prefect.engine.results import LocalResult
from prefect.engine.serializers import JSONSerializer

RESULTS = os.environ.get("E2E_RESULTS_DIR", os.path.expanduser("~/.prefect/e2e-results"))


@task(
    checkpoint=True,
    result=LocalResult(dir=RESULTS, location="{flow_run_id}.json", serializer=JSONSerializer()),
)
def answer() -> dict:
    return {"answer": 42}


with Flow("checkpointed") as flow:
    answer()
