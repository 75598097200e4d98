"""A run's output as lines: what the agent forwards from a run (flow logs on stdout, output
tails, container logs, pod events) is cut into lines here and masked before it goes anywhere.

``\\r`` ends a line as ``\\n`` does (a progress bar redraws its line with ``\\r`` and might
never write ``\\n``), and a line longer than ``max_line`` bytes is cut, so the agent never
holds more than one capped line of a run's output in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from prefect_agent.domain.secret import MASK

MAX_LINE_BYTES = 64 * 1024
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked: replacing every "ab" in a run's output would hide nothing."""

_END = re.compile(rb"\r\n|\r|\n")


class LineSplitter:
    """Whole lines from arbitrary chunks of bytes, fed as they arrive."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._pending = b""
        self._after_cr = False

    @property
    def pending(self) -> int:
        """Bytes held for the current partial line."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[str]:
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the second half of a \r\n split across two chunks
        if data:
            self._after_cr = data.endswith(b"\r")
        buffer = self._pending + data
        lines = []
        start = 0
        for match in _END.finditer(buffer):
            lines.append(buffer[start : match.start()])
            start = match.end()
        rest = buffer[start:]
        while len(rest) > self._max:
            lines.append(rest[: self._max])
            rest = rest[self._max :]
        self._pending = rest
        return [line.decode("utf-8", errors="replace") for line in lines]

    def finish(self) -> list[str]:
        """The last line, when the output ended without a line end."""
        rest, self._pending = self._pending, b""
        return [rest.decode("utf-8", errors="replace")] if rest else []


def split_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterable[str]:
    splitter = LineSplitter(max_line)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()


class Masker:
    """Replaces every secret in a text with the mask (longest first, so none shows in part)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(found, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def address_secrets(credentials: str) -> tuple[str, ...]:
    """What to mask of ``user:password`` from an address: the pair and the password, as
    written and percent-decoded (a run may print either)."""
    if not credentials:
        return ()
    _, _, password = credentials.partition(":")
    shapes = {credentials, unquote(credentials), password, unquote(password)}
    return tuple(s for s in shapes if s)
