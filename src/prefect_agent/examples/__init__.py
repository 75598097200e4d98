"""Example Prefect 1.4.1 flows and the script that registers them (``prefect demo``, tests).

Nothing here is imported by prefect-agent: these files are run by a Python that has Prefect
1.4.1 (``scripts/prefect1-venv.sh``), which is why they import ``prefect`` and not
``prefect_agent``.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
REGISTER_SCRIPT = HERE / "prefect1_register.py"
"""Registers flows and creates runs through Prefect 1.4.1's own client (JSON in, JSON out)."""
DEMO_FLOWS = (HERE / "mapped_flow.py", HERE / "retry_flow.py")
"""The flows ``prefect demo`` registers and runs."""
FAILING_FLOW = HERE / "failing_flow.py"
"""Added by ``prefect demo --with-failure``."""
