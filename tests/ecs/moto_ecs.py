"""moto in server mode (real HTTP, real boto3) as the ECS and EC2 APIs of the ECS tests.

moto runs no containers: a task stays RUNNING until stopped. The tests play the ECS
scheduler: ``finish`` gives the flow container an exit code (and a reason) in moto's own
model, in this process, then stops the task as ECS would when its essential container exits.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ESSENTIAL_EXITED = "Essential container in task exited"

# The packaged default task definition plus a container memory: moto's run_task fails
# without one (an emulator quirk; ECS takes task-level memory for FARGATE).
TASK_DEFINITION = {
    "networkMode": "awsvpc",
    "cpu": 1024,
    "memory": 2048,
    "containerDefinitions": [{"name": "flow", "memory": 2048}],
}


class MotoEcs:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = boto3.session.Session(region_name=REGION, **CREDENTIALS)
        self.ecs = self.session.client("ecs", endpoint_url=url)

    @property
    def environ(self) -> dict[str, str]:
        """What a boto3 in another process needs to reach this moto."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        }

    def reset(self) -> None:
        self._post("/moto-api/reset", None)
        # By default moto moves a task one step towards STOPPED each time it is described:
        # tasks here stop only when a test ends them (or the agent stops them).
        self._post(
            "/moto-api/state-manager/set-transition",
            {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}},
        )
        self.ecs.create_cluster(clusterName="default")

    def _post(self, path: str, body: Any) -> None:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def default_subnets(self) -> set[str]:
        ec2 = self.session.client("ec2", endpoint_url=self.url)
        (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
        return {s["SubnetId"] for s in subnets["Subnets"]}

    def task_definition_file(self, directory: Path) -> Path:
        path = directory / "task-definition.yaml"
        path.write_text(yaml.safe_dump(TASK_DEFINITION))
        return path

    def tasks_of(self, run_id: str, cluster: str = "default") -> list[dict[str, Any]]:
        """Every task started for ``run_id`` (running or stopped), described with tags."""
        arns = []
        for status in ("RUNNING", "STOPPED"):
            arns += self.ecs.list_tasks(cluster=cluster, startedBy=run_id, desiredStatus=status)[
                "taskArns"
            ]
        if not arns:
            return []
        return self.ecs.describe_tasks(cluster=cluster, tasks=arns, include=["TAGS"])["tasks"]

    def task_of(self, run_id: str, cluster: str = "default") -> dict[str, Any]:
        (task,) = self.tasks_of(run_id, cluster)
        return task

    def finish(
        self,
        task_arn: str,
        code: int | None,
        *,
        reason: str = ESSENTIAL_EXITED,
        container_reason: str | None = None,
        cluster: str = "default",
    ) -> None:
        """End a task as ECS would: the flow container's exit code, then STOPPED."""
        task = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks[cluster][task_arn]
        container = task.containers[0]
        if code is None:
            del container.exitCode
        else:
            container.exitCode = code
        if container_reason:
            container.reason = container_reason
        self.ecs.stop_task(cluster=cluster, task=task_arn, reason=reason)


@contextlib.contextmanager
def running_moto() -> Iterator[MotoEcs]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoEcs(f"http://{host}:{port}")
    finally:
        server.stop()
