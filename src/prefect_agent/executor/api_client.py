"""The few GraphQL calls the example executor makes, over the standard library's HTTP client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ApiCallFailed(Exception):
    """The API could not be reached or answered with errors."""

    def __init__(self, message: str, *, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.codes = codes


class ApiClient:
    """POSTs GraphQL documents to ``api`` with the agent-provided key and tenant, if any."""

    def __init__(
        self,
        api: str,
        *,
        api_key: str | None = None,
        tenant_id: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._api = api.rstrip("/") or api
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
            if tenant_id:
                self._headers["X-PREFECT-TENANT-ID"] = tenant_id
        self._timeout = timeout

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self._api, data=body, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read())
            except ValueError:
                raise ApiCallFailed(f"the API answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ApiCallFailed(f"could not reach the API at {self._api}: {exc}") from None
        errors = answer.get("errors") or []
        if errors:
            codes = tuple(str((error.get("extensions") or {}).get("code", "")) for error in errors)
            messages = "; ".join(str(error.get("message", error)) for error in errors)
            raise ApiCallFailed(messages, codes=codes)
        return dict(answer.get("data") or {})
