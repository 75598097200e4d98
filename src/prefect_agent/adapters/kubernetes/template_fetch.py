"""Reading a job template's bytes from a path or URL, within a byte cap and a total deadline.

Prefect 1.4.1 reads templates from local paths (``file://``, ``agent://``), ``http(s)://``,
``s3://`` (boto3) and ``gcs://``/``gs://`` (google-cloud-storage); so does this module, with
two differences: nothing is read past ``max_bytes``, and no fetch outlives ``timeout`` seconds
in total (a server that drips one byte a second cannot hold a launch thread, or shutdown, for
ever). Errors name the location and the problem, never what was read.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlparse

import attrs

REDIRECTS = 3
_CHUNK = 64 * 1024


class FetchError(Exception):
    """The template could not be read; the message names the location, never the content."""


@attrs.frozen
class FetchLimits:
    max_bytes: int = 1024 * 1024
    timeout: float = 10.0


def is_url(location: str) -> bool:
    scheme = urlparse(location).scheme.lower()
    return len(scheme) > 1 and scheme not in ("file", "agent", "local")


def local_path(location: str) -> Path:
    """The agent-host path ``location`` names (a path, ``file://``, ``agent://``)."""
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme == "agent":  # agent:///abs/path and agent://rel/path both mean the agent's host
        return Path(parsed.netloc + parsed.path).expanduser()
    if scheme in ("file", "local"):
        return Path(parsed.path).expanduser()
    return Path(location).expanduser()


def fetch(
    location: str,
    limits: FetchLimits,
    *,
    allow_redirect: Callable[[str], bool] = lambda _: True,
) -> bytes:
    """The bytes at ``location``; ``FetchError`` when missing, too big or too slow."""
    scheme = urlparse(location).scheme.lower()
    deadline = time.monotonic() + limits.timeout
    if scheme in ("http", "https"):
        return _http(location, limits, deadline, allow_redirect)
    if scheme == "s3":
        return _in_thread(location, limits, deadline, _s3)
    if scheme in ("gs", "gcs"):
        return _in_thread(location, limits, deadline, _gcs)
    if is_url(location):
        raise FetchError(
            f"job template {location}: the {scheme}:// scheme is not supported (use a local "
            "path, agent://, file://, http://, https://, s3://, gs:// or gcs://)"
        )
    return _file(location, limits)


def _too_big(location: str, limits: FetchLimits) -> FetchError:
    return FetchError(
        f"job template {location} is larger than {limits.max_bytes} bytes "
        "(agent.kubernetes.job_template_max_bytes)"
    )


def _timed_out(location: str, limits: FetchLimits) -> FetchError:
    return FetchError(
        f"job template {location} could not be read within {limits.timeout:g}s "
        "(agent.kubernetes.job_template_timeout_seconds)"
    )


def _file(location: str, limits: FetchLimits) -> bytes:
    path = local_path(location)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FetchError(f"could not read the job template {location}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FetchError(f"job template {location} is not a regular file")
        data = os.read(fd, limits.max_bytes + 1)
        while len(data) <= limits.max_bytes:
            more = os.read(fd, limits.max_bytes + 1 - len(data))
            if not more:
                break
            data += more
    except OSError as exc:
        raise FetchError(f"could not read the job template {location}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > limits.max_bytes:
        raise _too_big(location, limits)
    return data


def _http(
    location: str, limits: FetchLimits, deadline: float, allow_redirect: Callable[[str], bool]
) -> bytes:
    url = location
    for _ in range(REDIRECTS + 1):
        status, body, redirect = _http_once(url, location, limits, deadline)
        if redirect is None:
            if status != 200:
                raise FetchError(f"could not fetch the job template {location}: HTTP {status}")
            return body
        target = urljoin(url, redirect)
        if urlparse(target).scheme.lower() not in ("http", "https") or not allow_redirect(target):
            raise FetchError(
                f"job template {location} redirects to an address this agent's policy refuses "
                "(agent.kubernetes.run_template_urls)"
            )
        url = target
    raise FetchError(f"job template {location}: more than {REDIRECTS} redirects")


def _http_once(
    url: str, location: str, limits: FetchLimits, deadline: float
) -> tuple[int, bytes, str | None]:
    parsed = urlparse(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timed_out(location, limits)
    connection: http.client.HTTPConnection
    if parsed.scheme.lower() == "https":
        connection = http.client.HTTPSConnection(
            parsed.hostname or "",
            parsed.port,
            timeout=remaining,
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(
            parsed.hostname or "", parsed.port, timeout=remaining
        )
    expired = threading.Event()

    def cut() -> None:
        # Each byte of a dripping answer resets a socket timeout; this bounds the whole fetch.
        expired.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        path = parsed.path or "/"
        if parsed.query:
            path += "?" + parsed.query
        connection.request("GET", path, headers={"Accept": "application/yaml, */*"})
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308):
            return response.status, b"", response.getheader("Location") or ""
        if response.status != 200:
            return response.status, b"", None
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise _too_big(location, limits)
        data = b""
        while True:
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            data += chunk
            if len(data) > limits.max_bytes:
                raise _too_big(location, limits)
        if expired.is_set():
            raise _timed_out(location, limits)
        return 200, data, None
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise _timed_out(location, limits) from None
        problem = getattr(exc, "strerror", None) or type(exc).__name__
        raise FetchError(f"could not fetch the job template {location}: {problem}") from None
    finally:
        watchdog.cancel()
        connection.close()


def _in_thread(
    location: str,
    limits: FetchLimits,
    deadline: float,
    read: Callable[[str, FetchLimits, float], bytes],
) -> bytes:
    """Run an SDK's read in a daemon thread: the caller returns by the deadline regardless."""
    result: list[bytes] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(read(location, limits, max(0.1, deadline - time.monotonic())))
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    worker = threading.Thread(target=work, name="job-template-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise _timed_out(location, limits)
    if failure:
        exc = failure[0]
        if isinstance(exc, FetchError):
            raise exc
        raise FetchError(
            f"could not read the job template {location}: {type(exc).__name__}"
        ) from None
    data = result[0]
    if len(data) > limits.max_bytes:
        raise _too_big(location, limits)
    return data


def _bucket_and_key(location: str) -> tuple[str, str]:
    parsed = urlparse(location)
    return parsed.netloc, parsed.path.lstrip("/")


def _s3(location: str, limits: FetchLimits, timeout: float) -> bytes:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise FetchError(
            f"job template {location}: reading s3:// templates needs boto3: "
            "pip install 'prefect-agent[s3]'"
        ) from None
    bucket, key = _bucket_and_key(location)
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    try:
        client = boto3.client("s3", config=config)
        answer = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limits.max_bytes}")
        data: bytes = answer["Body"].read(limits.max_bytes + 1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise FetchError(
            f"could not read the job template {location}: S3 answered {code}"
        ) from None
    except BotoCoreError as exc:
        raise FetchError(
            f"could not read the job template {location}: {type(exc).__name__}"
        ) from None
    return data


def _gcs(location: str, limits: FetchLimits, timeout: float) -> bytes:
    try:
        from google.api_core import exceptions as gcs_errors
        from google.cloud import storage
    except ImportError:
        raise FetchError(
            f"job template {location}: reading {urlparse(location).scheme}:// templates needs "
            "google-cloud-storage: pip install 'prefect-agent[gcs]'"
        ) from None
    bucket, key = _bucket_and_key(location)
    try:
        client = storage.Client()
        blob = client.bucket(bucket).blob(key)
        data: bytes = blob.download_as_bytes(start=0, end=limits.max_bytes, timeout=timeout)
    except gcs_errors.NotFound:
        raise FetchError(f"job template {location} does not exist") from None
    except gcs_errors.GoogleAPIError as exc:
        raise FetchError(
            f"could not read the job template {location}: {type(exc).__name__}"
        ) from None
    return data
