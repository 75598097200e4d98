"""Building this package's sdist and wheel once, and throwaway virtualenvs to install them in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFECT_CORE = ("prefect==1.4.1", "marshmallow<3.20", "marshmallow-oneofschema<3.1")
"""Prefect 1.4.1 as scripts/prefect1-venv.sh installs it (later marshmallows break it)."""


def run(
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def source_copy(target: Path) -> Path:
    """The files git would ship (tracked or new, not ignored), so builds never write into the
    working tree and never pick up venvs or caches."""
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


class Dist:
    """The sdist and wheel ``python -m build`` made from a copy of the source tree."""

    def __init__(self, workdir: Path) -> None:
        self.out = workdir / "dist"
        source = source_copy(workdir / "source")
        # The default build makes the sdist first and the wheel from it: a file missing from
        # the sdist is missing from the wheel too.
        run([sys.executable, "-m", "build", "--outdir", self.out, source])
        (self.sdist,) = self.out.glob("*.tar.gz")
        (self.wheel,) = self.out.glob("*.whl")


class Venv:
    """A fresh virtualenv; commands run with a private HOME and no PREFECT__ variables."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bin = path / "bin"
        self.python = self.bin / "python"
        self.home = path / "home"
        if not self.python.exists():
            # The base interpreter, not the test suite's venv, so nothing leaks in.
            run([Path(sys.base_prefix) / "bin" / "python3", "-m", "venv", path])
        self.home.mkdir(exist_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def pip_install(self, *requirements: str | Path) -> None:
        run([self.python, "-m", "pip", "install", "-q", *requirements], env=self.env())

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT__", "VIRTUAL"))}
        env.pop("PYTHONPATH", None)
        env["HOME"] = str(self.home)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **extra}

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``args[0]`` is a command of this venv's bin directory."""
        command = [str(self.bin / args[0]), *args[1:]]
        if check:
            return run(command, env=self.env(**env), cwd=self.home, timeout=timeout)
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout,
            env=self.env(**env), cwd=self.home, check=False,
        )  # fmt: skip
