"""End to end against the kmock Kubernetes emulator: every default and fully populated run
config a Kubernetes agent runs, as Prefect 1.4.1 registers it, is read by the GraphQL adapter
and launched as a Job the API server stores; its fields reach the Job and the finished Job is
reported."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import build_launch_spec
from prefect_agent.domain.outcomes import InfrastructureOutcome
from tests.kubernetes.emulator import Emulator, JobController
from tests.polling import eventually
from tests.prefect1 import cases
from tests.prefect1.ours import read_row
from tests.prefect1.venv import Prefect1

pytestmark = pytest.mark.kubernetes

from prefect_agent.adapters.kubernetes.platform import KubernetesPlatform  # noqa: E402


@pytest.fixture(scope="module")
def rows(prefect1: Prefect1) -> list[tuple[str, dict[str, Any]]]:
    return cases.e2e_rows(prefect1, "kubernetes")


def test_every_default_and_full_run_config_runs_on_the_kubernetes_agent(
    rows: list[tuple[str, dict[str, Any]]], emulator: Emulator
) -> None:
    config = AgentConfig(
        name="prefect1-e2e",
        api="http://prefect-api:4200",
        env_vars={"GONE": "set by the agent"},
        platform=KubernetesSettings(
            job_sync_interval_seconds=0.05,
            service_account_name="agent-sa",
            image_pull_secrets=("agent-secret",),
            # The full KubernetesRun asks for its own service account: the operator allows it
            # (by default a run config may not pick one; docs/security.md).
            run_service_accounts=("*",),
        ),
    )
    platform = KubernetesPlatform(config, emulator.api_client())
    controller = JobController(emulator.api_client())
    names = {}
    try:
        for name, row in rows:
            run = read_row(row)
            platform.launch(run, build_launch_spec(run, config, tenant_id=None))
            names[run.id] = name
            job = controller.job_of(run.id)
            pod = job["spec"]["template"]["spec"]
            container = pod["containers"][0]
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["PREFECT__CONTEXT__FLOW_RUN_ID"] == run.id
            run_env = (row["run_config"] or {}).get("env") or {}
            for variable, value in run_env.items():
                assert env.get(variable) == value, (name, variable)
            if name == "KubernetesRun-full":
                assert container["image"] == cases.IMAGE
                assert container["imagePullPolicy"] == "IfNotPresent"
                assert container["resources"] == {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                }
                assert pod["serviceAccountName"] == "runner"
                assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
                assert env["TEMPLATE_ONLY"] == "t"  # the run config's template, kept
                assert job["metadata"]["labels"]["team"] == "data"
            else:
                assert container["image"] == "prefecthq/prefect:1.4.1"
                assert pod["serviceAccountName"] == "agent-sa"
                assert pod["imagePullSecrets"] == [{"name": "agent-secret"}]
            controller.finish(job, 0)
        seen: dict[str, InfrastructureOutcome] = {}

        def all_reported() -> bool:
            seen.update((o.run_id, o) for o in platform.outcomes())
            return set(seen) == set(names)

        eventually(all_reported, "every run's finished job to be reported", 30)
        assert all(outcome.succeeded for outcome in seen.values()), seen
        assert len(names) == 5
    finally:
        platform.close()
