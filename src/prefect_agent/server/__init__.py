"""The embedded Prefect-compatible API: its own application; the agent never imports it.

Start it with ``prefect server start`` or, in tests, ``prefect_agent.server.testing.running_server``
(see docs/api.md). Modules: ``store`` (SQLite), ``api`` (GraphQL execution over the SDL in
``schema.graphql``), ``http_server`` (HTTP), ``faults`` and ``request_stats`` (for tests).
"""
