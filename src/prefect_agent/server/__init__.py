"""The embedded Prefect-compatible API: its own application; the agent never imports it."""
