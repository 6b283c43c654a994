"""The REST client's stream: reconnects, resumes with Last-Event-ID, backoff grows and resets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from open_agent_jupyter.exceptions import TaskNotFoundError
from open_agent_jupyter.notebook.client import AgentClient, AsyncAgentClient
from open_agent_jupyter.notebook.sse import (
    APIError,
    Backoff,
    ServerUnreachableError,
    SSEEvent,
    SSEParser,
    _Cursor,
)
from tests.notebook.flakysse import FlakySSE, Step

BASE = 0.05


@pytest.fixture
def flaky() -> Iterator[FlakySSE]:
    server = FlakySSE(total=10)
    yield server
    server.close()


def _reopen_when(server: FlakySSE, client_delays: list[float], attempts: int) -> threading.Thread:
    """Listen again once the client has backed off ``attempts`` times."""
    def watch() -> None:
        deadline = time.monotonic() + 20
        while len(client_delays) < attempts and time.monotonic() < deadline:
            time.sleep(0.01)
        server.restart()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_stream_survives_drop_refusal_and_overlap(flaky: FlakySSE) -> None:
    # 1st connection: 4 entries, then the server drops mid-frame and stops listening;
    # 2nd: repeats 2 old entries, sends 3 new, drops; 3rd: repeats 1, sends the rest + done.
    flaky.plan = [Step(4, end="down"), Step(3, overlap=2, end="drop"), Step(10, overlap=1)]
    client = AgentClient(flaky.url, "secret", backoff_base=BASE, backoff_cap=8 * BASE)
    states: list[str] = []
    stream = client.stream("t1", on_state=states.append)
    watcher = _reopen_when(flaky, stream.backoff.delays, attempts=4)

    events = list(stream)
    watcher.join()

    seqs = [data["seq"] for event, data in events if event == "log"]
    assert seqs == list(range(1, 11)), "every entry exactly once, in order"
    assert events[-1] == ("done", {"status": "completed", "result": "ten", "iterations": 3,
                                   "usage": {}})
    streams = [h for method, path, h in flaky.requests if path.endswith("/stream")]
    assert [h.get("Last-Event-ID") for h in streams] == [None, "4", "7"]
    assert all(h["Authorization"] == "token secret" for h in streams)

    delays = stream.backoff.delays
    down = delays[:-1]  # while refused (the last one follows the 2nd drop)
    assert len(down) >= 4
    assert all(b >= a for a, b in zip(down, down[1:], strict=False)), f"backoff must grow: {down}"
    assert max(down) > BASE, "backoff grew past its base while the server was down"
    assert delays[-1] <= BASE, "backoff reset after good events"
    assert states.count("connected") == 3
    assert "reconnecting" in states and states[-1] == "disconnected"
    client.close()


async def test_async_stream_resumes_without_doubles(flaky: FlakySSE) -> None:
    flaky.plan = [Step(5, end="drop"), Step(10, overlap=3)]
    async with AsyncAgentClient(flaky.url, "secret", backoff_base=BASE) as client:
        events = [pair async for pair in client.stream("t1")]
    seqs = [data["seq"] for event, data in events if event == "log"]
    assert seqs == list(range(1, 11))
    assert events[-1][0] == "done"
    streams = [h for method, path, h in flaky.requests if path.endswith("/stream")]
    assert [h.get("Last-Event-ID") for h in streams] == [None, "5"]


def test_close_from_another_thread_ends_a_blocked_stream(flaky: FlakySSE) -> None:
    flaky.plan = [Step(2, end="hang")]
    client = AgentClient(flaky.url, "secret", backoff_base=BASE)
    stream = client.stream("t1")
    seen: list[tuple[str, dict]] = []
    reader = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    reader.start()
    while len(seen) < 2:
        time.sleep(0.01)
    stream.close()
    reader.join(10)
    assert not reader.is_alive()
    assert stream.state == "disconnected"
    assert [d["seq"] for _e, d in seen] == [1, 2]


def test_unknown_task_and_refusals_are_not_retried(flaky: FlakySSE) -> None:
    client = AgentClient(flaky.url, "secret", backoff_base=BASE)
    with pytest.raises(TaskNotFoundError):
        list(client.stream("nope"))
    with pytest.raises(TaskNotFoundError):
        client.get("nope")
    assert client.get("t1")["id"] == "t1"
    assert client.stop("t1")["status"] == "cancelled"
    with pytest.raises(APIError) as info:
        client.list()
    assert info.value.status == 404


def test_unreachable_server_and_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_AGENT_URL", "http://127.0.0.1:9/base")
    monkeypatch.setenv("OPEN_AGENT_TOKEN", "tok")
    client = AgentClient()
    assert client.url == "http://127.0.0.1:9/base/"
    assert client.http.headers["Authorization"] == "token tok"
    with pytest.raises(ServerUnreachableError):
        client.submit("x")
    assert AgentClient("http://127.0.0.1:9/base/").http.headers["Authorization"] == "token tok"
    other = AgentClient("http://127.0.0.1:9/elsewhere")
    assert "Authorization" not in other.http.headers, "the token goes to its own server only"


def test_parser_and_cursor_rules() -> None:
    parser = SSEParser()
    frames = [": keep-alive", "", "id: 3", "event: log", 'data: {"seq": 3}', "",
              "event: done", "data: {}", ""]
    events = [e for e in (parser.feed(line) for line in frames) if e]
    assert [(e.event, e.id) for e in events] == [("log", "3"), ("done", None)]

    backoff = Backoff(base=1.0, cap=30.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.5 * min(30, 2 ** i) <= d <= min(30, 2 ** i) for i, d in enumerate(delays))
    cursor = _Cursor(after=2, backoff=backoff, on_state=None)
    assert cursor.accept(SSEEvent("log", '{"seq": 2}')) is None, "already seen"
    assert cursor.accept(SSEEvent("error", '{"error": "boom"}')) is not None
    assert backoff.failures == 8, "an error event does not reset the backoff"
    assert cursor.accept(SSEEvent("log", '{"seq": 3}')) == ("log", {"seq": 3})
    assert backoff.failures == 0 and cursor.last_seq == 3
