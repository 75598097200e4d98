"""Flow log streaming: one thread per container, prefixed lines, ended with the stream."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from prefect_agent.adapters.docker.log_streaming import FlowLogStreamer


class FakeStream:
    """Chunks a test feeds in; ends when fed ``None`` or closed (as docker-py's stream is)."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.chunks.get(timeout=10)) is not None:
            yield chunk

    def close(self) -> None:
        self.closed.set()
        self.chunks.put(None)


def test_lines_are_prefixed_and_the_thread_ends_with_the_stream() -> None:
    stream = FakeStream()
    lines: list[str] = []
    streamer = FlowLogStreamer(lambda cid: stream, lines.append)
    streamer.follow("c1", "my-run")
    streamer.follow("c1", "my-run")  # a second follow of one container is ignored
    assert len(streamer.active()) == 1
    stream.chunks.put(b"hello\nwor")
    stream.chunks.put(b"ld\n")
    stream.chunks.put(None)  # the container stopped
    streamer.close()
    assert lines == ["[my-run] hello", "[my-run] world"]
    assert streamer.active() == []


def test_close_stops_streams_of_running_containers() -> None:
    stream = FakeStream()
    first_line = threading.Event()
    streamer = FlowLogStreamer(lambda cid: stream, lambda line: first_line.set())
    streamer.follow("c2", "run")
    stream.chunks.put(b"x\n")
    assert first_line.wait(10)  # the stream is open and being read
    streamer.close(timeout=10)
    assert stream.closed.is_set()
    assert streamer.active() == []
    streamer.follow("c3", "run")  # nothing starts after close
    assert streamer.active() == []
