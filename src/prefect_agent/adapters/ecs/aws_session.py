"""The boto3 session and clients of the ECS platform, with Prefect 1.4.1's credential rules."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from prefect_agent.domain.ecs_settings import ECSSettings, parse_aws_credentials


def session_for(settings: ECSSettings) -> boto3.session.Session:
    """A session from, in order: the ``AWS_CREDENTIALS`` context secret, the ``aws_*``
    settings, then boto's default chain (environment, ~/.aws, instance roles)."""
    key_id = settings.aws_access_key_id
    secret = settings.aws_secret_access_key.reveal() if settings.aws_secret_access_key else None
    token = settings.aws_session_token.reveal() if settings.aws_session_token else None
    if settings.aws_credentials is not None:
        given = parse_aws_credentials(settings.aws_credentials)
        key_id = given["ACCESS_KEY"]
        secret = given["SECRET_ACCESS_KEY"]
        token = given.get("SESSION_TOKEN")
    return boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=settings.region_name,
    )


def client_config(
    botocore_config: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> Config:
    """botocore ``Config(**botocore_config)``; retries in standard mode unless the
    configuration or ``AWS_RETRY_MODE`` says otherwise (Prefect 1.4.1's default)."""
    config = Config(**dict(botocore_config or {}))
    env = os.environ if environ is None else environ
    if not config.retries and not env.get("AWS_RETRY_MODE"):
        config.retries = {"mode": "standard"}
    return config
