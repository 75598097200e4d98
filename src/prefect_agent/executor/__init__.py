"""An example flow-run executor for demos and tests. It is NOT Prefect core.

Executing real Prefect flows (loading them from storage, running their tasks) is Prefect
core's job (``prefect execute flow-run``). This small program stands in for it so the agent
can be shown and tested end to end without Prefect installed: launched by an agent with
``python -m prefect_agent.executor``, it reads ``PREFECT__CONTEXT__FLOW_RUN_ID`` and
``PREFECT__CLOUD__API`` from its environment, sets the run Running, does what the run's
parameters ask (``seconds`` to wait, ``fail`` to end Failed, ``exit_code`` to crash without
reporting), sets Success or Failed, and writes a log line for each step. Every state change
is version-locked, as Prefect's flow runner does against Prefect Cloud.

It imports nothing else from prefect_agent, so it starts fast and shows that a flow process
needs only the environment an agent gives it.
"""
