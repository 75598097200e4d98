"""The realistic child: a Python program of about 10 ms of CPU, launched for every run.

``/bin/true`` flatters an agent: starting it costs almost nothing, so an agent that waits
instead of working between launches still looks fast. A real run starts a Python
interpreter (``prefect execute flow-run`` spends far more). Both agents launch the very
same executable file: ours as its ``--flow-run-command``; Prefect 1.4.1's local agent always
runs ``sys.executable -m prefect execute flow-run``, so its launcher points ``sys.executable``
at the file, whose ``#!`` line starts the interpreter and whose body ignores the arguments.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

CPU_SECONDS = 0.010
"""CPU time the child spends in all, interpreter start-up included (``process_time``
counts from the process's start), so it costs the same on a fast or a loaded machine."""

_BODY = f"""import time
while time.process_time() < {CPU_SECONDS!r}:
    pass
"""
_SHEBANG_MAX = 127  # the kernel truncates longer #! lines (BINPRM_BUF_SIZE on older kernels)


def write_python_child(directory: Path, python: str = sys.executable) -> Path:
    """An executable Python script in ``directory``. ``-I`` keeps the agents' environments
    (PYTHONPATH, user site) from changing what it costs; ``-S`` skips ``site`` (a
    virtualenv's site alone costs about 10 ms here), so start-up stays under the budget.
    The kernel passes everything after the interpreter as one argument: hence ``-IS``."""
    shebang = f"#!{python} -IS"
    if len(shebang) > _SHEBANG_MAX:
        raise RuntimeError(f"the interpreter path is too long for a #! line: {python}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "python-child"
    path.write_text(f"{shebang}\n{_BODY}", encoding="utf-8")
    path.chmod(0o755)
    return path


def child_cpu_ms(path: Path, runs: int = 20) -> float:
    """Mean CPU (user + system, start-up included) of one run of ``path``, in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(runs):
        subprocess.run([str(path)], check=True, stdin=subprocess.DEVNULL, env=dict(os.environ))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return spent * 1000.0 / runs
