"""``python -m prefect_agent`` runs the ``prefect`` command line."""

from prefect_agent.cli.main import main

if __name__ == "__main__":
    main()
