"""Configuration sources: defaults, TOML file, environment, arguments, flags."""

from prefect_agent.adapters.config.argument_source import ArgumentSource
from prefect_agent.adapters.config.defaults_source import DefaultsSource
from prefect_agent.adapters.config.env_source import EnvSource
from prefect_agent.adapters.config.file_source import FileSource, user_config_path
from prefect_agent.adapters.config.flag_source import FlagSource
from prefect_agent.adapters.config.resolution import (
    ResolvedConfig,
    ResolvedEntry,
    resolve,
    standard_layers,
)

__all__ = [
    "ArgumentSource",
    "DefaultsSource",
    "EnvSource",
    "FileSource",
    "FlagSource",
    "ResolvedConfig",
    "ResolvedEntry",
    "resolve",
    "standard_layers",
    "user_config_path",
]
