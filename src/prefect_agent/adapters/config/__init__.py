"""Configuration sources: defaults, TOML file, environment, arguments, flags."""
