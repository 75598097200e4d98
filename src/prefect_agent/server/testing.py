"""The embedded API for tests: ``running_server()``, ``start_server()`` and ``RunningServer``
(defined in ``prefect_agent.server.embedded``; docs/api.md)::

    from prefect_agent.server.testing import running_server

    with running_server() as api:
        run_id = api.create_run(labels=["dev"], run_config={"type": "LocalRun"})
"""

from prefect_agent.server.embedded import (
    ApiRequestFailed,
    RunningServer,
    running_server,
    start_server,
)

__all__ = ["ApiRequestFailed", "RunningServer", "running_server", "start_server"]
