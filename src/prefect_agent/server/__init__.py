"""The embedded Prefect-compatible API: its own application; the agent never imports it.

Start it with ``prefect server start`` or, in tests, ``prefect_agent.server.testing.running_server``
(see docs/api.md). Modules: ``store`` (SQLite), ``api`` (GraphQL execution over the SDL in
``schema.graphql``), ``http_server`` (HTTP), ``access`` (the API key, Host/Origin/Content-Type
checks), ``request_limits`` and ``query_limits`` (what one request may cost),
``sql_select`` (queries done in SQL), ``faults`` and ``request_stats`` (for tests); see
docs/security.md.
"""
