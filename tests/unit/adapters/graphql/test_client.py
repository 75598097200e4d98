"""GraphQLClient: headers, the retry policy, error mapping, redirects, and the API key kept
secret. Canned answers go through ``MockTransport``; what needs HTTP itself (timeouts, an
unreachable address, Basic credentials across a redirect) runs against a real server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from prefect_agent.adapters.graphql import documents
from prefect_agent.adapters.graphql.client import GraphQLClient, _keeps_credentials_safe
from prefect_agent.adapters.graphql.retry_policy import RetryPolicy, parse_retry_after
from prefect_agent.domain.errors import (
    ApiError,
    ApiUnavailable,
    AuthorizationError,
    RateLimited,
    VersionConflict,
)
from prefect_agent.domain.secret import Secret
from prefect_agent.testing import MockAnswer, MockTransport
from tests.network import free_port
from tests.unit.adapters.graphql.scripted_api import Reply, ScriptedApi, scripted_api

KEY = "pa_super-secret-key-123"


@pytest.fixture
def api() -> Iterator[ScriptedApi]:
    with scripted_api() as server:
        yield server


def client_for(url: str, sleeps: list[float], **kwargs: object) -> GraphQLClient:
    return GraphQLClient(
        url,
        retry=RetryPolicy(attempts=3, backoff_factor=0.1),
        sleep=sleeps.append,
        **kwargs,  # type: ignore[arg-type]
    )


URL = "http://api.example:4200"
HELLO = MockAnswer.json({"data": {"hello": "hi"}})


def mocked(*answers: MockAnswer, **kwargs: object) -> tuple[GraphQLClient, MockTransport]:
    """A client answered by ``answers`` then ``hello: hi``; its sleeps in ``.sleeps``."""
    transport = MockTransport.scripted(*answers, default=HELLO)
    sleeps: list[float] = []
    client = client_for(URL, sleeps, transport=transport, **kwargs)
    client.sleeps = sleeps  # type: ignore[attr-defined]
    return client, transport


def test_headers_follow_prefect_1() -> None:
    plain, sent_plain = mocked()
    plain.execute(documents.HELLO)
    keyed, sent_keyed = mocked(api_key=Secret(KEY), tenant_id="t-1")
    keyed.attach_header("X-PREFECT-AGENT-ID", "agent-1")
    keyed.execute(documents.HELLO, {"a": 1})
    (first,), (second,) = sent_plain.sent, sent_keyed.sent
    assert first.headers["X-PREFECT-CORE-VERSION"] == "1.4.1"
    assert "Authorization" not in first.headers
    assert "X-PREFECT-TENANT-ID" not in first.headers
    assert second.headers["Authorization"] == f"Bearer {KEY}"
    assert second.headers["X-PREFECT-TENANT-ID"] == "t-1"
    assert second.headers["X-PREFECT-AGENT-ID"] == "agent-1"
    assert second.json() == {"query": documents.HELLO.text, "variables": {"a": 1}}
    assert second.url == URL


def test_server_errors_are_retried_for_safe_operations() -> None:
    client, transport = mocked(
        MockAnswer.json({"error": "down"}, status=503), MockAnswer(502, b"bad gateway")
    )
    assert client.execute(documents.HELLO) == {"hello": "hi"}
    assert len(transport.sent) == 3
    assert client.sleeps == [0.1, 0.2]  # type: ignore[attr-defined]


def test_server_errors_are_not_retried_for_unsafe_operations() -> None:
    client, transport = mocked(MockAnswer.json({}, status=500))
    with pytest.raises(ApiUnavailable, match="answered HTTP 500"):
        client.execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}})
    assert len(transport.sent) == 1
    assert client.sleeps == []  # type: ignore[attr-defined]


def test_a_lost_answer_is_not_resent_for_unsafe_operations(api: ScriptedApi) -> None:
    release = threading.Event()
    api.script(Reply(hold=release))
    client = GraphQLClient(
        api.url, timeout=0.2, retry=RetryPolicy(attempts=3), sleep=lambda s: None
    )
    try:
        with pytest.raises(ApiUnavailable, match=r"did not answer within 0\.2s"):
            client.execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}})
    finally:
        release.set()
    assert len(api.received) == 1


def test_rate_limits_are_honoured_then_reported() -> None:
    client, _ = mocked(MockAnswer.json({}, status=429, headers={"retry-after": "7"}))
    client.execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}})
    # Refused requests are safe to resend even for mutations; the header's case is no matter.
    assert client.sleeps == [7.0]  # type: ignore[attr-defined]
    client, _ = mocked(*[MockAnswer.json({}, status=429, headers={"Retry-After": "2"})] * 3)
    with pytest.raises(RateLimited) as caught:
        client.execute(documents.HELLO)
    assert caught.value.retry_after == 2.0


def test_an_unreachable_api_names_its_address_and_is_retried() -> None:
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiUnavailable) as caught:
        client_for(url, sleeps).execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}})
    assert url in str(caught.value)
    assert len(sleeps) == 2  # never sent, so even an unsafe operation is resent


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (MockAnswer.json({"message": "no"}, status=401), AuthorizationError, "HTTP 401"),
        (
            MockAnswer.json(
                {"errors": [{"message": "who?", "extensions": {"code": "UNAUTHENTICATED"}}]}
            ),
            AuthorizationError,
            "refused the credentials",
        ),
        (
            MockAnswer.json(
                {
                    "errors": [
                        {
                            "message": "State update failed: provided version 1",
                            "extensions": {"code": "VERSION_LOCKING_ERROR"},
                        }
                    ]
                },
            ),
            VersionConflict,
            "provided version 1",
        ),
        (MockAnswer.json({"errors": [{"message": "nope"}], "data": None}), ApiError, "nope"),
        (
            MockAnswer.json({"errors": [{"message": "Cannot query field"}]}, status=400),
            ApiError,
            "Cannot query",
        ),
        (MockAnswer(200, b"<html>proxy</html>"), ApiError, "not JSON"),
        (MockAnswer(404, b"missing"), ApiError, "HTTP 404"),
    ],
)
def test_errors_are_typed(
    reply: MockAnswer,
    error: type[Exception],
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = mocked(reply, api_key=Secret(KEY))
    with pytest.raises(error, match=words) as caught:
        client.execute(documents.HELLO)
    assert KEY not in str(caught.value)
    assert KEY not in repr(client)
    assert KEY not in caplog.text


def test_transient_api_errors_are_retried_when_safe() -> None:
    client, transport = mocked(
        MockAnswer.json({"errors": [{"message": "x", "extensions": {"code": "API_ERROR"}}]})
    )
    assert client.execute(documents.HELLO) == {"hello": "hi"}
    assert len(transport.sent) == 2


def test_the_key_stays_out_of_logs_and_errors_when_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(f"http://127.0.0.1:{free_port()}", [], api_key=Secret(KEY))
    with pytest.raises(ApiUnavailable) as caught:
        client.execute(documents.HELLO)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in caplog.text


def test_retry_policy_values() -> None:
    policy = RetryPolicy(attempts=3, backoff_factor=1, backoff_max=3)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]
    assert policy.can_retry(2) and not policy.can_retry(3)
    assert not RetryPolicy.never().can_retry(1)
    assert policy.rate_limit_delay("1000", 1) == policy.max_retry_after
    assert policy.rate_limit_delay(None, 2) == 2
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_requests_name_the_agent() -> None:
    client, transport = mocked()
    client.execute(documents.HELLO)
    assert transport.sent[0].headers["User-Agent"].startswith("prefect-agent/")


def test_a_permanent_redirect_on_the_same_host_is_followed_once_for_good(
    api: ScriptedApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.script(Reply(308, b"", {"Location": "/moved/"}))
    client = client_for(api.url.replace("http://", "http://agent:pw@"), [])
    assert client.execute(documents.WRITE_RUN_LOGS, {"input": {"logs": []}}) == {"hello": "hi"}
    client.execute(documents.HELLO)
    assert [r.path for r in api.received] == ["/", "/moved/", "/moved/"]
    assert client.api == api.url + "/moved/"
    assert api.received[2].headers["Authorization"].startswith("Basic ")  # same host: kept
    assert "moved permanently" in caplog.text and "pw" not in caplog.text


@pytest.mark.parametrize(
    ("status", "location"),
    [(302, "/elsewhere"), (307, "/elsewhere"), (308, "http://other.example/graphql")],
)
def test_other_redirects_are_errors_naming_the_target(status: int, location: str) -> None:
    client, transport = mocked(MockAnswer(status, b"", {"Location": location}))
    with pytest.raises(ApiError, match=f"HTTP {status}, a redirect to .*elsewhere|other.example"):
        client.execute(documents.HELLO)
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    ("old", "new", "safe"),
    [
        ("http://h:4200/", "http://h:4200/graphql", True),
        ("http://h/", "https://h/", True),  # the ingress upgrade, default ports
        ("https://h/", "http://h/", False),  # a downgrade would send the key in clear
        ("https://h/", "https://h:8443/", False),
        ("http://h:4200/", "https://h/", False),
        ("https://h/", "https://other/", False),
    ],
)
def test_credentials_follow_only_safe_redirects(old: str, new: str, safe: bool) -> None:
    assert _keeps_credentials_safe(urlsplit(old), urlsplit(new)) is safe


def test_a_redirect_to_another_port_is_refused() -> None:
    client, _ = mocked(
        MockAnswer(308, b"", {"Location": "http://api.example:1/"}), api_key=Secret(KEY)
    )
    with pytest.raises(ApiError, match=r"a redirect to http://api\.example:1/"):
        client.execute(documents.HELLO)
    assert client.api == URL


def test_a_followed_redirect_keeps_the_credentials_in_the_address_it_posts_to() -> None:
    client, transport = mocked(MockAnswer(301, b"", {"Location": "/graphql"}))
    client = GraphQLClient(
        "http://agent:pw@api.example:4200", transport=transport, sleep=lambda s: None
    )
    client.execute(documents.HELLO)
    assert [r.url for r in transport.sent] == [
        "http://agent:pw@api.example:4200",
        "http://agent:pw@api.example:4200/graphql",
    ]
    assert client.api == "http://api.example:4200/graphql"
    client.close()
    assert transport.closed
