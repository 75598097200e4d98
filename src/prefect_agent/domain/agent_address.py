"""The health server address (``--agent-address``), parsed as Prefect 1 parses it."""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs


@attrs.frozen
class AgentAddress:
    """Where the health server listens. ``host`` ``""`` means every interface."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> AgentAddress:
        """``http://:8080`` (all interfaces) or ``http://127.0.0.1:8080``.

        A scheme and a port are required, as in Prefect 1.4.1; ``localhost:8080`` is an error.
        """
        if "://" not in text:
            raise ValueError(
                f"agent address {text!r} needs a scheme and a port, e.g. http://:8080 "
                "or http://127.0.0.1:8080"
            )
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"agent address {text!r} must use http://, e.g. http://:8080")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"agent address {text!r} has an invalid port") from None
        if port is None:
            raise ValueError(f"agent address {text!r} must specify a port, e.g. http://:8080")
        return cls(host=parts.hostname or "", port=port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
