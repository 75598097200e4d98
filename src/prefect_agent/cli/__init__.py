"""The ``prefect`` command line (click). It wires and reports; it decides nothing itself."""
