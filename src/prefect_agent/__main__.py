"""``python -m prefect_agent`` runs the ``prefect-agent`` command line (all of our commands)."""

from prefect_agent.cli.main import prefect_agent_main

if __name__ == "__main__":
    prefect_agent_main()
