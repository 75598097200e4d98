"""The configuration keys, derived from the attrs fields of AgentConfig and the settings classes.

Convention (nothing here needs editing when a settings class gains a field):

- A field ``foo`` of ``AgentConfig`` is the key ``agent.foo``; a field of ``LocalSettings``,
  ``DockerSettings``, ``KubernetesSettings``, ``ECSSettings`` or ``VertexSettings`` is
  ``agent.<platform>.foo``; a field of ``OperationsSettings`` is ``agent.operations.foo``.
- Its environment variable is ``PREFECT__`` + the key upper-cased with ``.`` written ``__``
  (``PREFECT__AGENT__DOCKER__FOO``), as Prefect 1 maps every ``PREFECT__*`` variable.
- Its flag is ``--foo`` (underscores become dashes) on the ``start`` and ``config`` commands of
  the platform it belongs to (all three for ``AgentConfig`` and ``OperationsSettings`` fields).
  A ``bool`` field defaulting to False is a switch, one defaulting to True gets
  ``--foo/--no-foo``; a tuple of strings is a repeatable flag; a mapping takes ``KEY=VALUE``
  and repeats.
- Its value type, default and help come from the field: its annotation, its attrs default and
  ``metadata={"help": "one line"}``. A field typed ``Secret`` is masked everywhere.

``PREFECT1_NAMES`` below lists only what differs from the convention: the Prefect 1.4.1 key,
environment variable and flag names that users already have, and the settings that are
constructor-only in 1.4.1 (no flag).
"""

from __future__ import annotations

import enum
import functools
import pathlib
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from prefect_agent.domain.agent_address import AgentAddress
from prefect_agent.domain.agent_config import AgentConfig
from prefect_agent.domain.docker_settings import DockerSettings
from prefect_agent.domain.ecs_settings import ECSSettings
from prefect_agent.domain.kubernetes_settings import KubernetesSettings
from prefect_agent.domain.local_settings import LocalSettings
from prefect_agent.domain.log_levels import FLAG_LOG_LEVELS
from prefect_agent.domain.operations_settings import OperationsSettings
from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import Secret
from prefect_agent.domain.vertex_settings import VertexSettings


class _NoDefault:
    """Marks a key whose default is computed from other settings (it has no fixed one)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


class ValueKind(enum.Enum):
    """How a key's value is written as text (environment, flags, string values in files)."""

    TEXT = "text"
    SECRET = "secret"
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    LIST = "list"
    MAPPING = "mapping"
    COMMAND = "command"
    JSON = "json"


class Section(enum.Enum):
    """Which settings object a key belongs to."""

    AGENT = ""
    LOCAL = "local"
    DOCKER = "docker"
    KUBERNETES = "kubernetes"
    ECS = "ecs"
    VERTEX = "vertex"
    OPERATIONS = "operations"
    AUXILIARY = "auxiliary"
    """Keys that only feed ``${...}`` references (``server.port``), not a field."""


SECTION_CLASSES: dict[Section, type] = {
    Section.AGENT: AgentConfig,
    Section.LOCAL: LocalSettings,
    Section.DOCKER: DockerSettings,
    Section.KUBERNETES: KubernetesSettings,
    Section.ECS: ECSSettings,
    Section.VERTEX: VertexSettings,
    Section.OPERATIONS: OperationsSettings,
}

PLATFORM_SECTIONS = {
    PlatformKind.LOCAL: Section.LOCAL,
    PlatformKind.DOCKER: Section.DOCKER,
    PlatformKind.KUBERNETES: Section.KUBERNETES,
    PlatformKind.ECS: Section.ECS,
    PlatformKind.VERTEX: Section.VERTEX,
}

# Fields that are containers of other settings, not settings themselves.
_NESTED_FIELDS = {"platform", "operations"}


@attrs.frozen
class FlagSpec:
    """A command-line flag. ``switch`` flags take no value; ``inverted`` ones set False."""

    long: str
    short: str | None = None
    multiple: bool = False
    switch: bool = False
    inverted: bool = False
    negatable: bool = False
    """``--foo/--no-foo``."""
    metavar: str | None = None
    help: str | None = None
    """The flag's own help when it reads differently from the setting's (inverted flags)."""


@attrs.frozen
class ConfigKey:
    """One setting: where it lives in ``AgentConfig``, how it is spelled in each layer."""

    key: str
    section: Section
    field: str | None
    kind: ValueKind
    optional: bool
    env: tuple[str, ...]
    """Environment variables, the canonical ``PREFECT__*`` one first, then aliases."""
    flag: FlagSpec | None
    help: str
    default: Any = NO_DEFAULT
    choices: tuple[str, ...] | None = None

    @property
    def secret(self) -> bool:
        return self.kind is ValueKind.SECRET

    @property
    def argument(self) -> str:
        """The constructor argument (facades) and the attribute name of the field."""
        return self.field or self.key.replace(".", "_")


@attrs.frozen
class Prefect1Name:
    """What differs from the convention for one field (``None`` keeps the derived value)."""

    key: str | None = None
    env_aliases: tuple[str, ...] = ()
    flag: FlagSpec | None = None
    no_flag: bool = False
    kind: ValueKind | None = None
    choices: tuple[str, ...] | None = None


ECS_NAMES = {
    "task_definition_path": Prefect1Name(flag=FlagSpec("--task-definition")),
    "run_task_kwargs_path": Prefect1Name(flag=FlagSpec("--run-task-kwargs")),
    "aws_access_key_id": Prefect1Name(no_flag=True),
    "aws_secret_access_key": Prefect1Name(no_flag=True),
    "aws_session_token": Prefect1Name(no_flag=True),
    "region_name": Prefect1Name(no_flag=True),
    "botocore_config": Prefect1Name(no_flag=True),
    # Prefect 1 reads it from context.secrets; the secret's name keeps its case there.
    "aws_credentials": Prefect1Name(key="context.secrets.aws_credentials", no_flag=True),
}
"""The ECS agent's 1.4.1 flags and constructor-only arguments."""

PREFECT1_NAMES: dict[tuple[Section, str], Prefect1Name] = {
    (Section.AGENT, "name"): Prefect1Name(key="cloud.agent.name", flag=FlagSpec("--name", "-n")),
    (Section.AGENT, "labels"): Prefect1Name(
        key="cloud.agent.labels",
        flag=FlagSpec("--label", "-l", multiple=True),
    ),
    (Section.AGENT, "env_vars"): Prefect1Name(
        key="cloud.agent.env_vars",
        flag=FlagSpec("--env", "-e", multiple=True, metavar="KEY=VALUE"),
    ),
    (Section.AGENT, "backend"): Prefect1Name(key="backend"),
    (Section.AGENT, "api"): Prefect1Name(key="cloud.api", flag=FlagSpec("--api", "-a")),
    (Section.AGENT, "api_key"): Prefect1Name(key="cloud.api_key", flag=FlagSpec("--key", "-k")),
    (Section.AGENT, "tenant_id"): Prefect1Name(
        key="cloud.tenant_id",
        flag=FlagSpec("--tenant-id"),
    ),
    (Section.AGENT, "agent_config_id"): Prefect1Name(
        flag=FlagSpec("--agent-config-id"),
    ),
    (Section.AGENT, "agent_address"): Prefect1Name(
        key="cloud.agent.agent_address",
        flag=FlagSpec("--agent-address"),
    ),
    (Section.AGENT, "max_polls"): Prefect1Name(
        flag=FlagSpec("--max-polls", metavar="INTEGER"),
    ),
    (Section.AGENT, "log_level"): Prefect1Name(
        key="cloud.agent.level",
        flag=FlagSpec("--log-level", metavar="[DEBUG|INFO|WARNING|ERROR]"),
        choices=FLAG_LOG_LEVELS,
    ),
    (Section.AGENT, "flow_log_level"): Prefect1Name(
        key="logging.level",
        no_flag=True,
    ),
    (Section.AGENT, "send_flow_run_logs"): Prefect1Name(
        key="cloud.send_flow_run_logs",
        flag=FlagSpec(
            "--no-cloud-logs",
            switch=True,
            inverted=True,
            help="Do not send flow run logs to the API.",
        ),
    ),
    (Section.AGENT, "request_timeout"): Prefect1Name(key="cloud.request_timeout"),
    (Section.AGENT, "flow_run_command"): Prefect1Name(
        kind=ValueKind.COMMAND,
    ),
    (Section.LOCAL, "import_paths"): Prefect1Name(
        flag=FlagSpec("--import-path", "-p", multiple=True),
    ),
    (Section.LOCAL, "show_flow_logs"): Prefect1Name(
        flag=FlagSpec("--show-flow-logs", "-f", switch=True),
    ),
    (Section.LOCAL, "hostname_label"): Prefect1Name(
        flag=FlagSpec("--hostname-label", negatable=True, switch=True),
    ),
    (Section.DOCKER, "base_url"): Prefect1Name(
        key="context.base_url",
        flag=FlagSpec("--base-url", "-b"),
    ),
    (Section.DOCKER, "no_pull"): Prefect1Name(
        key="context.no_pull",
        flag=FlagSpec("--no-pull", switch=True),
    ),
    (Section.DOCKER, "show_flow_logs"): Prefect1Name(
        flag=FlagSpec("--show-flow-logs", "-f", switch=True),
    ),
    (Section.DOCKER, "volumes"): Prefect1Name(
        flag=FlagSpec("--volume", multiple=True),
    ),
    (Section.DOCKER, "networks"): Prefect1Name(
        flag=FlagSpec("--network", multiple=True),
    ),
    (Section.DOCKER, "reg_allow_list"): Prefect1Name(no_flag=True),
    (Section.DOCKER, "docker_client_timeout"): Prefect1Name(
        flag=FlagSpec("--docker-client-timeout", metavar="INTEGER"),
    ),
    (Section.KUBERNETES, "namespace"): Prefect1Name(
        env_aliases=("NAMESPACE",),
        flag=FlagSpec("--namespace"),
    ),
    (Section.KUBERNETES, "job_template_path"): Prefect1Name(flag=FlagSpec("--job-template")),
    (Section.KUBERNETES, "service_account_name"): Prefect1Name(
        env_aliases=("SERVICE_ACCOUNT_NAME",),
        flag=FlagSpec("--service-account-name"),
    ),
    (Section.KUBERNETES, "image_pull_secrets"): Prefect1Name(
        env_aliases=("IMAGE_PULL_SECRETS",),
        flag=FlagSpec("--image-pull-secrets", metavar="NAME[,NAME...]"),
    ),
    (Section.KUBERNETES, "delete_finished_jobs"): Prefect1Name(
        env_aliases=("DELETE_FINISHED_JOBS",),
        flag=FlagSpec(
            "--disable-job-deletion",
            switch=True,
            inverted=True,
            help="Keep the jobs of finished flow runs instead of deleting them.",
        ),
    ),
    (Section.KUBERNETES, "keep_alive"): Prefect1Name(
        key="cloud.agent.kubernetes_keep_alive",
        no_flag=True,
    ),
    (Section.KUBERNETES, "volume_mounts"): Prefect1Name(no_flag=True),
    (Section.KUBERNETES, "volumes"): Prefect1Name(no_flag=True),
    **{(Section.ECS, name): flag for name, flag in ECS_NAMES.items()},
}

AUXILIARY_KEYS = (
    ConfigKey(
        key="server.host",
        section=Section.AUXILIARY,
        field=None,
        kind=ValueKind.TEXT,
        optional=False,
        env=("PREFECT__SERVER__HOST",),
        flag=None,
        help="Host of Prefect Server, used by the default API address.",
        default="http://localhost",
    ),
    ConfigKey(
        key="server.port",
        section=Section.AUXILIARY,
        field=None,
        kind=ValueKind.TEXT,
        optional=False,
        env=("PREFECT__SERVER__PORT",),
        flag=None,
        help="Port of Prefect Server, used by the default API address.",
        default="4200",
    ),
    ConfigKey(
        key="server.endpoint",
        section=Section.AUXILIARY,
        field=None,
        kind=ValueKind.TEXT,
        optional=False,
        env=("PREFECT__SERVER__ENDPOINT",),
        flag=None,
        help="Prefect Server's API address when backend is server.",
        default="${server.host}:${server.port}",
    ),
    ConfigKey(
        key="cloud.endpoint",
        section=Section.AUXILIARY,
        field=None,
        kind=ValueKind.TEXT,
        optional=False,
        env=("PREFECT__CLOUD__ENDPOINT",),
        flag=None,
        help="Prefect Cloud's API address when backend is cloud.",
        default="https://api.prefect.io",
    ),
)

# The API address follows the backend through references, as Prefect 1's packaged file does.
_REFERENCE_DEFAULTS = {"cloud.api": "${${backend}.endpoint}"}


def env_name(key: str) -> str:
    return "PREFECT__" + key.upper().replace(".", "__")


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return (rest[0] if len(rest) == 1 else typing.Union[rest]), True  # noqa: UP007
    return tp, False


def _kind_of(tp: Any) -> ValueKind:
    origin = typing.get_origin(tp)
    if tp is bool:
        return ValueKind.BOOL
    if tp is int:
        return ValueKind.INT
    if tp is float:
        return ValueKind.FLOAT
    if tp is Secret:
        return ValueKind.SECRET
    if tp in (str, AgentAddress, pathlib.Path):
        return ValueKind.TEXT
    if origin is typing.Literal and all(isinstance(a, str) for a in typing.get_args(tp)):
        return ValueKind.TEXT
    args = typing.get_args(tp)
    if origin in (tuple, list, frozenset, set) and args and args[0] is str:
        return ValueKind.LIST
    is_mapping = isinstance(origin, type) and issubclass(origin, Mapping)
    if is_mapping and args == (str, str):
        return ValueKind.MAPPING
    return ValueKind.JSON


def _prefix(section: Section) -> str:
    return "agent." + section.value + "." if section.value else "agent."


def _default_of(attribute: attrs.Attribute[Any]) -> Any:
    default: Any = attribute.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return NO_DEFAULT if default.takes_self else default.factory()
    return default


def _derived_flag(
    name: str, kind: ValueKind, default: Any, choices: tuple[str, ...] | None
) -> FlagSpec | None:
    long = "--" + name.replace("_", "-")
    if choices:
        return FlagSpec(long, metavar="[" + "|".join(choices) + "]")
    if kind is ValueKind.BOOL:
        return FlagSpec(long, switch=True, negatable=default is True)
    if kind is ValueKind.LIST:
        return FlagSpec(long, multiple=True)
    if kind is ValueKind.MAPPING:
        return FlagSpec(long, multiple=True, metavar="KEY=VALUE")
    metavar = {
        ValueKind.INT: "INTEGER",
        ValueKind.FLOAT: "NUMBER",
        ValueKind.JSON: "JSON",
        ValueKind.COMMAND: "COMMAND",
    }.get(kind, "TEXT")
    return FlagSpec(long, metavar=metavar)


def _keys_of(section: Section, cls: type) -> list[ConfigKey]:
    hints = typing.get_type_hints(cls)
    keys = []
    for attribute in attrs.fields(cls):
        if section is Section.AGENT and attribute.name in _NESTED_FIELDS:
            continue
        tp, optional = _unwrap_optional(hints[attribute.name])
        known = PREFECT1_NAMES.get((section, attribute.name), Prefect1Name())
        kind = known.kind or _kind_of(tp)
        literal = typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else None
        choices = known.choices or literal
        key = known.key or _prefix(section) + attribute.name
        default = _REFERENCE_DEFAULTS.get(key, _default_of(attribute))
        derived = known.flag or _derived_flag(attribute.name, kind, default, choices)
        flag = None if known.no_flag else derived
        help_text = attribute.metadata.get("help") or f"Sets {key}."
        canonical = env_name(key)
        keys.append(
            ConfigKey(
                key=key,
                section=section,
                field=attribute.name,
                kind=kind,
                optional=optional,
                env=(canonical, *(a for a in known.env_aliases if a != canonical)),
                flag=flag,
                help=help_text,
                default=default,
                choices=choices,
            )
        )
    return keys


def all_keys() -> tuple[ConfigKey, ...]:
    """Every key of every section, derived from the settings classes."""
    return _derived(tuple(SECTION_CLASSES.items()))


# Cached per set of settings classes: the CLI and every configuration layer ask for the keys,
# and deriving them costs ~10 ms of start-up each time.
@functools.cache
def _derived(sections: tuple[tuple[Section, type], ...]) -> tuple[ConfigKey, ...]:
    keys: list[ConfigKey] = []
    for section, cls in sections:
        keys.extend(_keys_of(section, cls))
    keys.extend(AUXILIARY_KEYS)
    return tuple(keys)


def keys_for(kind: PlatformKind) -> tuple[ConfigKey, ...]:
    """The keys an agent of ``kind`` reads: common, operations, auxiliary and its platform's."""
    wanted = {Section.AGENT, Section.OPERATIONS, Section.AUXILIARY, PLATFORM_SECTIONS[kind]}
    return tuple(k for k in all_keys() if k.section in wanted)
