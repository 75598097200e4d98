"""Everything an agent is configured with, validated when it is built."""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from prefect_agent.domain.agent_address import AgentAddress
from prefect_agent.domain.command_line import command_words
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.frozen import frozen_map, unique
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.log_levels import LOG_LEVELS
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.output_lines import address_secrets
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import MASK, Secret
from prefect_agent.domain.validators import (
    env_mapping,
    non_empty_strings,
    non_negative,
    optional_uuid,
    positive,
)
from prefect_agent.domain.vertex_settings import VertexSettings

PlatformSettings = (
    LocalSettings | DockerSettings | KubernetesSettings | ECSSettings | VertexSettings
)

BACKENDS = ("server", "cloud")
DEFAULT_API = {"server": "http://localhost:4200", "cloud": "https://api.prefect.io"}


DRAIN_MARGIN_SECONDS = 30
"""Past ``shutdown_grace_seconds`` a stopping agent still launches every run it had claimed and
closes its platform (docs/operations.md, "Stopping"); this is the time allowed for that."""


def stop_timeout_seconds(shutdown_grace_seconds: float) -> int:
    """How long whatever supervises the agent (supervisord ``stopwaitsecs``, Kubernetes
    ``terminationGracePeriodSeconds``) should wait after SIGTERM before it kills the agent, so
    a drain is never cut short."""
    return math.ceil(shutdown_grace_seconds) + DRAIN_MARGIN_SECONDS


def _level(value: str) -> str:
    return value.upper() if isinstance(value, str) else value


def _check_level(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in LOG_LEVELS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(LOG_LEVELS)}, not {value!r}")


def _check_backend(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in BACKENDS:
        raise ValueError(f"{attribute.name} must be 'server' or 'cloud', not {value!r}")


def split_credentials(url: str) -> tuple[str, str, str]:
    """``url`` as (what comes before its credentials, the credentials, the rest), with or
    without a scheme. The credentials end at the last ``@`` before any query or fragment, so
    an unencoded ``/`` or ``@`` in a password is still counted as part of it."""
    scheme, sep, rest = url.partition("://")
    head = f"{scheme}{sep}" if sep else ""
    rest = rest if sep else url
    address = rest.split("?", 1)[0].split("#", 1)[0]
    if "@" not in address:
        return head, "", rest
    at = address.rindex("@")
    return head, rest[:at], rest[at + 1 :]


def without_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` it may carry (for anything shown)."""
    head, credentials, rest = split_credentials(url)
    return f"{head}{rest}" if credentials else url


def masked_url(text: str, *, keep_user: bool = False) -> str:
    """``text`` with the credentials of a ``scheme://user:password@host`` address replaced by
    the mask: all of them (reprs show where, never who), or with ``keep_user`` only the
    password, a user name standing alone being masked too (often a token). Text that is not
    an address (a label like team@corp) stays as it is."""
    if "://" not in text:
        return text
    head, credentials, rest = split_credentials(text)
    if not credentials:
        return text
    user, colon, _ = credentials.partition(":")
    shown = f"{user}:{MASK}" if colon and keep_user else MASK
    return f"{head}{shown}@{rest}"


def masked_url_repr(url: str) -> str:
    return repr(masked_url(url))


def env_names_repr(env: Mapping[str, str]) -> str:
    """Environment values may be secrets (``--env PREFECT__CLOUD__API_KEY=...``)."""
    return "{" + ", ".join(f"{name!r}: {MASK!r}" for name in env) + "}"


def _check_api(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.startswith(("http://", "https://")):
        shown = without_credentials(value)
        raise ValueError(f"{attribute.name} must be an http:// or https:// URL, not {shown!r}")


def _strip_slash(value: str) -> str:
    return value.rstrip("/") if isinstance(value, str) else value


def _address(value: AgentAddress | str | None) -> AgentAddress | None:
    if value is None or value == "":
        return None
    if isinstance(value, AgentAddress):
        return value
    return AgentAddress.parse(value)


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Secret) else Secret(value)


@attrs.frozen(kw_only=True)
class AgentConfig:
    """One agent's whole configuration. Invalid values raise ``ValueError`` naming the field.

    Configuration adapters turn those into ``ConfigError``s that also name the source.
    """

    platform: PlatformSettings = attrs.field(factory=LocalSettings)
    name: str = attrs.field(default="agent", metadata={"help": "The agent's name."})
    # In the order configured, as Prefect 1.4.1 passes them on to runs (its CLI sorts the
    # --label values; that is the flag layer's business).
    labels: tuple[str, ...] = attrs.field(
        default=(),
        converter=unique,
        validator=non_empty_strings,
        metadata={
            "help": "A label of this agent (repeatable); runs must carry only labels it has."
        },
    )
    env_vars: Mapping[str, str] = attrs.field(
        factory=dict,
        converter=frozen_map,
        validator=env_mapping,
        repr=env_names_repr,
        metadata={"help": "An environment variable for every flow run, KEY=VALUE (repeatable)."},
    )
    backend: str = attrs.field(
        default="server",
        validator=_check_backend,
        metadata={"help": "server or cloud; selects the default API address."},
    )
    api: str = attrs.field(
        default=attrs.Factory(
            lambda self: DEFAULT_API.get(self.backend, DEFAULT_API["server"]), takes_self=True
        ),
        converter=_strip_slash,
        validator=_check_api,
        repr=masked_url_repr,
        metadata={"help": "The Prefect API address."},
    )
    api_key: Secret | None = attrs.field(
        default=None, converter=_secret, metadata={"help": "The API key (Prefect Cloud)."}
    )
    tenant_id: str | None = attrs.field(
        default=None,
        validator=optional_uuid,
        metadata={"help": "The tenant to use (a UUID); discovered from the API when not set."},
    )
    agent_config_id: str | None = attrs.field(
        default=None,
        metadata={"help": "The agent configuration id to register with (for automations)."},
    )
    agent_address: AgentAddress | None = attrs.field(
        default=None,
        converter=_address,
        metadata={"help": "Address of the health server, e.g. http://:8080 (off when empty)."},
    )
    max_polls: int | None = attrs.field(
        default=None,
        validator=non_negative,
        metadata={"help": "Stop after this many polls (default: poll forever)."},
    )
    """None polls forever; 0 never polls."""
    log_level: str = attrs.field(
        default="INFO",
        converter=_level,
        validator=_check_level,
        metadata={"help": "The agent's log level."},
    )
    flow_log_level: str = attrs.field(
        default="INFO",
        converter=_level,
        validator=_check_level,
        metadata={"help": "The log level handed to flow runs (PREFECT__LOGGING__LEVEL)."},
    )
    """``logging.level``, handed to each flow run as PREFECT__LOGGING__LEVEL."""
    send_flow_run_logs: bool = attrs.field(
        default=True, metadata={"help": "Send flow run logs to the API."}
    )
    """Whether flow runs send their logs to the API (``--no-cloud-logs`` turns it off)."""
    request_timeout: float = attrs.field(
        default=15.0, validator=positive, metadata={"help": "Seconds each API request may take."}
    )
    prefetch_seconds: float = attrs.field(
        default=10.0,
        validator=non_negative,
        metadata={"help": "Fetch runs due within this many seconds, so they launch on time."},
    )
    deploy_concurrency: int = attrs.field(
        default=16,
        validator=positive,
        metadata={"help": "How many launches may be in progress at once."},
    )
    """How many launches may be in progress at once (not how many runs may run)."""
    flow_run_command: tuple[str, ...] | None = attrs.field(
        default=None,
        converter=command_words,
        metadata={
            "help": "The command flow runs are launched with (default: prefect execute flow-run)."
        },
    )
    """The command a run is launched with; None uses the platform's Prefect 1 default."""
    monitor_interval: float = attrs.field(
        default=2.0,
        validator=positive,
        metadata={"help": "Seconds between checks on launched infrastructure."},
    )
    shutdown_grace_seconds: float = attrs.field(
        default=30.0,
        validator=non_negative,
        metadata={"help": "On SIGINT/SIGTERM, seconds launches in progress may take to finish."},
    )
    operations: OperationsSettings = attrs.field(factory=OperationsSettings)

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"name must be a non-empty string, got {value!r}")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value masked in what the agent logs and forwards from runs: the API key,
        the tenant id and the credentials in the API address."""
        key = self.api_key.reveal() if self.api_key else ""
        found = (key, self.tenant_id or "", *address_secrets(split_credentials(self.api)[1]))
        return tuple(s for s in found if s)

    @property
    def api_display(self) -> str:
        """The API address as logs and messages show it: any credentials removed."""
        return without_credentials(self.api)

    @property
    def kind(self) -> PlatformKind:
        return self.platform.kind
