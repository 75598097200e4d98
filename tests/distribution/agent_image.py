"""Building the repository's Dockerfile on the real engine, from a locally made base image."""

from __future__ import annotations

import contextlib
import re
import subprocess
import uuid
from collections.abc import Mapping
from typing import Any

from tests.distribution.venvs import ROOT

BASE_SCRIPT = ROOT / "scripts" / "python-base-image.sh"


def local_base_image() -> str:
    """The debootstrapped Python base (no registry is reachable): built once, cached by tag."""
    done = subprocess.run(
        [str(BASE_SCRIPT)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{BASE_SCRIPT.name} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


class BuiltImage:
    """One build of the Dockerfile, tagged uniquely; ``remove`` deletes it and the untagged
    image the classic builder leaves for the builder stage."""

    def __init__(self, client: Any, build_args: Mapping[str, str]) -> None:
        self.client = client
        self.tag = f"local/prefect-agent-test:{uuid.uuid4().hex[:12]}"
        self.log: list[str] = []
        # The classic builder (the engine's API): pip inside the build reaches the package
        # index through the host's network.
        try:
            for chunk in client.api.build(
                path=str(ROOT), tag=self.tag, buildargs=dict(build_args), network_mode="host",
                rm=True, forcerm=True, decode=True,
            ):  # fmt: skip
                if "error" in chunk:
                    log = self.text()[-4000:]
                    raise AssertionError(f"docker build failed: {chunk['error']}\n{log}")
                self.log.append(chunk.get("stream", ""))
        except BaseException:
            self.remove()  # what a failed or interrupted build left behind
            raise
        self.image = client.images.get(self.tag)

    def text(self) -> str:
        return "".join(self.log)

    def builder_stage(self) -> str | None:
        """The last image id printed before the final stage's FROM."""
        before_final = self.text().rsplit(" : FROM ", 1)[0]
        ids = re.findall(r"^ ---> ([0-9a-f]{12})$", before_final, flags=re.M)
        return ids[-1] if ids else None

    def remove(self) -> None:
        import docker

        for ref in (self.tag, self.builder_stage()):
            if ref is None:
                continue
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.client.images.remove(ref, force=True)
