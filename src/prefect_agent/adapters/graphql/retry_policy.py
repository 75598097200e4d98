"""When and how long to wait before re-sending a request to the Prefect API, as a value."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import attrs

RETRYABLE_STATUSES = (500, 502, 503, 504)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """An immutable retry policy, in the spirit of urllib3's ``Retry``.

    - ``attempts``: sends in all, including the first.
    - A request that never reached the server (connection refused, DNS failure, connect
      timeout) is always safe to re-send.
    - A request that may have been applied (read timeout, connection reset after sending,
      HTTP 5xx, a GraphQL ``API_ERROR``) is re-sent only when the operation is retry-safe
      (``Operation.retry_safe``; each operation says why it is or is not).
    - HTTP 429 means the server refused the request: always re-sent, after its
      ``Retry-After`` delay when it gives one (capped at ``max_retry_after``).
    - Waits grow as ``backoff_factor * 2 ** n`` up to ``backoff_max`` seconds.
    """

    # Short on purpose: the agent's own loops (start-up, polling) back off for longer outages.
    attempts: int = 3
    backoff_factor: float = 0.25
    backoff_max: float = 5.0
    max_retry_after: float = 30.0
    retry_statuses: tuple[int, ...] = RETRYABLE_STATUSES

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(attempts=1)

    def can_retry(self, attempt: int) -> bool:
        """Whether another send may follow send number ``attempt`` (1-based)."""
        return attempt < self.attempts

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (attempt - 1)))

    def rate_limit_delay(self, retry_after: str | None, attempt: int) -> float:
        """Seconds to wait after a 429: the server's ``Retry-After`` (seconds or a date)."""
        parsed = parse_retry_after(retry_after)
        if parsed is None:
            return self.backoff(attempt)
        return min(parsed, self.max_retry_after)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
