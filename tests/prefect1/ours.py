"""What our agents build for a flow-run row, in the shapes tests/prefect1/inside.py reports for
Prefect 1.4.1's agents, so the two can be compared field by field.

Rows go through the GraphQL adapter (``flow_run_from_row``), the domain (``build_launch_spec``)
and each platform's own builders: the local platform's base environment, the Docker host
config merge and API address, the Kubernetes Job builder.
"""

from __future__ import annotations

from typing import Any

from prefect_agent.adapters.docker.api_address import container_api_address
from prefect_agent.adapters.docker.host_config import merge_host_config
from prefect_agent.adapters.docker.volumes import parse_volumes
from prefect_agent.adapters.graphql.converters import flow_run_from_row
from prefect_agent.adapters.kubernetes.job_builder import JobTemplate, build_job
from prefect_agent.adapters.kubernetes.job_templates import default_template
from prefect_agent.adapters.local.platform import base_environment
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.flow_run import FlowRun
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.launch_spec import LaunchSpec, build_launch_spec
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.outcomes import UnreadableRun

TENANT = "00000000-0000-4000-8000-00000000aaaa"
"""The tenant both sides use when the agent has an API key (tests/prefect1/inside.py)."""


def read_row(row: dict[str, Any]) -> FlowRun:
    """The row as the GraphQL adapter reads it; a row it cannot read fails the test."""
    run = flow_run_from_row(row)
    assert not isinstance(run, UnreadableRun), run.reason
    return run


def agent_config(agent: dict[str, Any], platform: Any) -> AgentConfig:
    key = agent.get("api_key")
    return AgentConfig(
        platform=platform,
        labels=agent.get("labels") or (),
        env_vars=agent.get("env_vars") or {},
        send_flow_run_logs=not agent.get("no_cloud_logs"),
        api_key=key,
        backend="server",
        api="http://localhost:4200",
    )


def spec_for(run: FlowRun, config: AgentConfig, prefix: tuple[str, ...] = ()) -> LaunchSpec:
    return build_launch_spec(run, config, tenant_id=TENANT, default_command_prefix=prefix)


def local(row: dict[str, Any], agent: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    settings = LocalSettings(import_paths=agent.get("import_paths") or (), hostname_label=False)
    spec = spec_for(read_row(row), agent_config(agent, settings), ("python", "-m"))
    base = base_environment(environ, spec.working_dir, settings.import_paths)
    return {"args": list(spec.command), "env": spec.environment(base), "cwd": spec.working_dir}


def docker(row: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    settings = DockerSettings(
        volumes=agent.get("volumes") or (), networks=agent.get("networks") or ()
    )
    config = agent_config(agent, settings)
    spec = spec_for(read_row(row), config)
    run_config = spec.run_config
    host = merge_host_config(
        volumes=parse_volumes(settings.volumes),
        networks=settings.networks,
        run_host_config=run_config.host_config,  # type: ignore[union-attr]
    )
    api = container_api_address(
        spec.api, network_mode=host.network_mode, networks=settings.networks
    )
    return {
        "image": spec.image,
        "command": list(spec.command),
        "environment": spec.environment({"PREFECT__CLOUD__API": api}),
        "host_config": dict(host.options),
        "ports": list(run_config.ports) or None,  # type: ignore[union-attr]
    }


def kubernetes(row: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    settings = KubernetesSettings(
        service_account_name=agent.get("service_account_name"),
        image_pull_secrets=agent.get("image_pull_secrets") or (),
    )
    config = agent_config(agent, settings)
    run = read_row(row)
    spec = spec_for(run, config)
    run_config = spec.run_config
    template = (
        JobTemplate(body=run_config.job_template, source="run config", from_run_config=True)  # type: ignore[union-attr]
        if run_config.job_template  # type: ignore[union-attr]
        else JobTemplate(body=default_template(), source="default")
    )
    job, _ = build_job(template, run, spec, settings=settings, owner="side-by-side")
    return job
