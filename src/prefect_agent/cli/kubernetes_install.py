"""``prefect agent kubernetes install``: print the manifests that deploy a Kubernetes agent."""

from __future__ import annotations

import uuid
from typing import Any

import click

from prefect_agent import __version__
from prefect_agent.adapters.kubernetes.install_manifests import (
    InstallOptions,
    install_manifests,
    render,
)
from prefect_agent.adapters.kubernetes.job_checks import is_quantity
from prefect_agent.cli.groups import CONTEXT_SETTINGS, agent_kubernetes
from prefect_agent.domain.kubernetes_settings import DNS_1123_LABEL
from prefect_agent.domain.run_config import IMAGE_PULL_POLICIES
from prefect_agent.domain.secret import Secret
from prefect_agent.domain.validators import ENV_NAME


def _quantity(_: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_quantity(value):
        raise click.BadParameter(
            f"{value!r} is not a Kubernetes quantity (examples: 500m, 0.5, 256Mi, 1Gi)"
        )
    return value


def _tenant(_: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            uuid.UUID(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a UUID") from None
    return value


def _namespace(_: click.Context, param: click.Parameter, value: str) -> str:
    if len(value) > 63 or not DNS_1123_LABEL.match(value):
        raise click.BadParameter(f"{value!r} is not a valid namespace name (DNS-1123 label)")
    return value


def _env(_: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in value:
        name, sep, val = item.partition("=")
        if not sep or not ENV_NAME.match(name):
            raise click.BadParameter(f"{item!r} must be KEY=VALUE with a variable name as KEY")
        env[name] = val
    return env


def _api(_: click.Context, param: click.Parameter, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} must be an http:// or https:// URL")
    return value.rstrip("/")


@agent_kubernetes.command("install", context_settings=CONTEXT_SETTINGS)
@click.option(
    "-k",
    "--key",
    envvar="PREFECT__CLOUD__API_KEY",
    help="API key, put in a Secret the agent and its jobs reference (or PREFECT__CLOUD__API_KEY).",
)
@click.option("--tenant-id", callback=_tenant, help="Tenant id (a UUID) the agent works for.")
@click.option("-l", "--label", "labels", multiple=True, help="Agent label (repeatable).")
@click.option(
    "-e", "--env", "env_vars", multiple=True, callback=_env, help="KEY=VALUE for every flow run."
)
@click.option("--agent-config-id", help="Agent configuration id (Prefect Cloud automations).")
@click.option(
    "-a",
    "--api",
    default="https://api.prefect.io",
    show_default=True,
    callback=_api,
    help="Prefect API the agent polls.",
)
@click.option(
    "-n",
    "--namespace",
    default="default",
    show_default=True,
    callback=_namespace,
    help="Namespace of the agent and of its flow-run jobs.",
)
@click.option(
    "-i", "--image-pull-secrets", help="Secret the agent pod and flow-run jobs pull images with."
)
@click.option(
    "--rbac/--no-rbac",
    default=True,
    show_default=True,
    help="Also print a ServiceAccount, a least-privilege Role and a RoleBinding.",
)
@click.option("--latest", is_flag=True, help="Use the agent image tagged latest (pulled Always).")
@click.option("--image", help="Agent image (default: prefect-agent:<this version>).")
@click.option("--mem-request", callback=_quantity, help="Memory request of the agent container.")
@click.option("--mem-limit", callback=_quantity, help="Memory limit of the agent container.")
@click.option("--cpu-request", callback=_quantity, help="CPU request of the agent container.")
@click.option("--cpu-limit", callback=_quantity, help="CPU limit of the agent container.")
@click.option(
    "--image-pull-policy",
    type=click.Choice(IMAGE_PULL_POLICIES),
    help="Pull policy of the agent container.",
)
@click.option(
    "--service-account-name", help="Default service account of flow-run jobs (not the agent)."
)
@click.option(
    "-b",
    "--backend",
    type=click.Choice(("cloud", "server")),
    default="cloud",
    show_default=True,
    help="Prefect backend the agent talks to.",
)
def install(**flags: Any) -> None:
    """Print Kubernetes manifests (YAML) that deploy a Kubernetes agent.

    Apply them with: prefect agent kubernetes install [OPTIONS] | kubectl apply -f -
    """
    key = flags.pop("key")
    options = InstallOptions(
        api_key=Secret(key) if key else None,
        labels=tuple(sorted(set(flags.pop("labels")))),
        agent_version=__version__,
        **flags,
    )
    try:
        manifests = install_manifests(options)
    except ValueError as exc:  # a request above its limit: the API server would refuse it
        raise click.UsageError(
            f"--mem-request/--cpu-request may not exceed --mem-limit/--cpu-limit: {exc}"
        ) from None
    click.echo(render(manifests), nl=False)
