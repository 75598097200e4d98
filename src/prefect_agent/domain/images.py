"""Which container image a run uses (Prefect 1.4.1's precedence)."""

from __future__ import annotations

from prefect_agent.domain.flow_run import FlowRun

DEFAULT_IMAGE_REPOSITORY = "prefecthq/prefect"


def default_image(core_version: str | None) -> str:
    """``prefecthq/prefect:<core version without any +local suffix>``, or ``:latest``."""
    if not core_version:
        return f"{DEFAULT_IMAGE_REPOSITORY}:latest"
    return f"{DEFAULT_IMAGE_REPOSITORY}:{core_version.split('+', 1)[0]}"


def flow_image(
    run: FlowRun, run_config_image: str | None, template_image: str | None = None
) -> str:
    """Docker storage image, else the run config's image, else the template's, else the default."""
    return (
        run.storage_image or run_config_image or template_image or default_image(run.core_version)
    )


def storage_image_name(registry_url: str | None, image_name: str, image_tag: str | None) -> str:
    """The image a flow's Docker storage was built into: ``<registry>/<name>:<tag>``."""
    name = f"{registry_url.rstrip('/')}/{image_name}" if registry_url else image_name
    return f"{name}:{image_tag}" if image_tag else name
