"""Settings only the ECS platform uses (Prefect 1.4.1's ``ECSAgent`` arguments and more)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args

import attrs

from prefect_agent.domain.platform_kind import PlatformKind
from prefect_agent.domain.secret import Secret
from prefect_agent.domain.validators import positive

LaunchType = Literal["FARGATE", "EC2"]
LAUNCH_TYPES: tuple[str, ...] = get_args(LaunchType)
CREDENTIAL_KEYS = ("ACCESS_KEY", "SECRET_ACCESS_KEY", "SESSION_TOKEN")


def _upper(value: object) -> object:
    # 1.4.1's --launch-type choice is case-insensitive and upper-cased.
    return value.upper() if isinstance(value, str) else value


def _launch_type(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in LAUNCH_TYPES:
        raise ValueError(f"{attribute.name} must be FARGATE or EC2, not {value!r}")


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Secret) else Secret(value)


def parse_aws_credentials(secret: Secret) -> dict[str, str]:
    """The ``AWS_CREDENTIALS`` secret (JSON: ACCESS_KEY, SECRET_ACCESS_KEY[, SESSION_TOKEN]).

    Errors name the keys only, never the values.
    """
    try:
        data = json.loads(secret.reveal())
    except ValueError:
        raise ValueError("aws_credentials must be a JSON object (its text is not JSON)") from None
    if not isinstance(data, Mapping):
        raise ValueError(
            "aws_credentials must be a JSON object with ACCESS_KEY and SECRET_ACCESS_KEY"
        )
    missing = [k for k in CREDENTIAL_KEYS[:2] if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise ValueError(f"aws_credentials lacks {' and '.join(missing)}")
    unknown = sorted(set(data) - set(CREDENTIAL_KEYS))
    if unknown:
        raise ValueError(f"aws_credentials has unknown keys: {', '.join(unknown)}")
    return {k: str(data[k]) for k in CREDENTIAL_KEYS if data.get(k)}


def _credentials(_: object, attribute: attrs.Attribute[Any], value: Secret | None) -> None:
    if value is not None:
        parse_aws_credentials(value)


@attrs.frozen(kw_only=True)
class ECSSettings:
    kind: ClassVar[PlatformKind] = PlatformKind.ECS

    cluster: str | None = attrs.field(
        default=None, metadata={"help": "The ECS cluster of flow-run tasks (default: default)."}
    )
    launch_type: LaunchType | None = attrs.field(
        default=None,
        converter=_upper,
        validator=_launch_type,
        metadata={
            "help": "FARGATE or EC2 (default FARGATE unless run_task kwargs name a "
            "capacityProviderStrategy)."
        },
    )
    task_role_arn: str | None = attrs.field(
        default=None, metadata={"help": "The default task role ARN of flow-run tasks."}
    )
    execution_role_arn: str | None = attrs.field(
        default=None, metadata={"help": "The default execution role ARN of flow-run tasks."}
    )
    task_definition_path: str | None = attrs.field(
        default=None,
        metadata={"help": "Path or URL of the default task definition YAML (s3:// too)."},
    )
    run_task_kwargs_path: str | None = attrs.field(
        default=None,
        metadata={"help": "Path or URL of a YAML mapping of extra run_task arguments."},
    )
    aws_access_key_id: str | None = attrs.field(
        default=None, metadata={"help": "AWS access key id (default: boto's credential chain)."}
    )
    aws_secret_access_key: Secret | None = attrs.field(
        default=None, converter=_secret, metadata={"help": "AWS secret access key."}
    )
    aws_session_token: Secret | None = attrs.field(
        default=None, converter=_secret, metadata={"help": "AWS session token."}
    )
    aws_credentials: Secret | None = attrs.field(
        default=None,
        converter=_secret,
        validator=_credentials,
        metadata={
            "help": "The AWS_CREDENTIALS secret, JSON with ACCESS_KEY and SECRET_ACCESS_KEY "
            "(wins over the aws_* keys, as in Prefect 1.4.1)."
        },
    )
    region_name: str | None = attrs.field(
        default=None, metadata={"help": "AWS region (default: AWS_DEFAULT_REGION, ~/.aws)."}
    )
    botocore_config: Mapping[str, Any] | None = attrs.field(
        default=None,
        metadata={"help": "botocore Config arguments (retries default to standard mode)."},
    )
    task_sync_interval_seconds: float = attrs.field(
        default=5.0,
        validator=positive,
        metadata={"help": "Seconds between two describe_tasks passes over launched tasks."},
    )
