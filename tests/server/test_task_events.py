"""``GET /api/tasks/stream``: task changes and notebook edits pushed to every open list."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from open_agent_jupyter.server.task_events import TaskEventHub, TasksStreamHandler
from tests.fakellm import FakeLLM, call, text
from tests.server.conftest import SPEC, parse_sse, wait_until


class ListStream:
    """An open ``/api/tasks/stream`` read in the background; ``frames`` grows as they come.

    Plain HTTP/1.0 over a socket (so the body is not chunked): closing the socket is the
    client leaving, at once, whatever the client library would do on cancel.
    """

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.head = ""
        self._buffer = ""
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, port: int, path: str, headers: dict[str, str]) -> ListStream:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [f"GET {path} HTTP/1.0", "Host: 127.0.0.1",
                 *(f"{k}: {v}" for k, v in headers.items())]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._reader = asyncio.ensure_future(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            self._buffer += chunk.decode()
            if not self.head and "\r\n\r\n" in self._buffer:
                self.head, self._buffer = self._buffer.split("\r\n\r\n", 1)
            if self.head:
                *blocks, self._buffer = self._buffer.split("\n\n")
                self.frames.extend(parse_sse("\n\n".join(blocks) + "\n\n"))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [f["data"] for f in self.frames if f.get("event") == name]

    def comments(self) -> list[str]:
        return [f["comment"] for f in self.frames if "comment" in f]


async def open_list_stream(port: int, base_url: str, headers: dict[str, str]) -> ListStream:
    """Open ``/api/tasks/stream`` on the test server."""
    return await ListStream().open(port, f"{base_url}api/tasks/stream", headers)


@pytest.fixture
async def list_stream(jp_fetch: Any, jp_http_port: int, jp_auth_header: dict[str, str],
                      jp_base_url: str) -> AsyncIterator[ListStream]:
    """One open list stream for the test, closed at its end."""
    stream = await open_list_stream(jp_http_port, jp_base_url, jp_auth_header)
    yield stream
    await stream.close()


async def _subscribed(extension: Any, count: int = 1) -> None:
    await wait_until(lambda: extension.task_events.subscriber_count == count)


async def test_a_task_is_announced_when_created_started_stepping_and_finished(
        api: Any, extension: Any, fake_llm: FakeLLM, list_stream: ListStream) -> None:
    await _subscribed(extension)
    fake_llm.script(call("run_command", {"command": "echo one"}), text("done"))
    _, created = await api("POST", "api/task", {"task": "echo once"})
    await wait_until(lambda: any(t["status"] == "completed" for t in list_stream.events("task")))
    events = [t for t in list_stream.events("task") if t["id"] == created["id"]]
    statuses = [t["status"] for t in events]
    assert statuses[0] == "pending" and statuses[-1] == "completed"
    assert "running" in statuses and statuses.count("completed") == 1
    assert [t["iterations"] for t in events if t["status"] == "running"][-1] == 2
    _, listed = await api("GET", "api/tasks")
    assert set(events[-1]) == set(listed["tasks"][0])
    assert events[-1]["result"] == "done"
    assert all("id" not in f for f in list_stream.frames)


async def test_notebook_edits_reach_open_lists(extension: Any,
                                               list_stream: ListStream) -> None:
    await _subscribed(extension)
    edit = {"edit_id": "e1", "task_id": "t1", "path": "a.ipynb", "action": "insert",
            "cell_id": None, "index": 0, "source": "print(1)", "cell_type": "code"}
    extension.task_events.publish("notebook_edit", edit)
    await wait_until(lambda: list_stream.events("notebook_edit"))
    assert list_stream.events("notebook_edit") == [edit]


async def test_keep_alive_while_nothing_happens(
        extension: Any, jp_fetch: Any, jp_http_port: int, jp_auth_header: dict[str, str],
        jp_base_url: str) -> None:
    saved = TasksStreamHandler.keepalive_interval
    TasksStreamHandler.keepalive_interval = 0.05
    try:
        stream = await open_list_stream(jp_http_port, jp_base_url, jp_auth_header)
        await wait_until(lambda: "keep-alive" in stream.comments())
        assert "content-type: text/event-stream" in stream.head.lower()
        await stream.close()
    finally:
        TasksStreamHandler.keepalive_interval = saved
    await _subscribed(extension, 0)


async def test_a_client_leaving_frees_its_subscription(
        extension: Any, jp_fetch: Any, jp_http_port: int, jp_auth_header: dict[str, str],
        jp_base_url: str) -> None:
    stream = await open_list_stream(jp_http_port, jp_base_url, jp_auth_header)
    await _subscribed(extension)
    await stream.close()
    await _subscribed(extension, 0)


async def test_the_stream_needs_authentication(jp_fetch: Any, jp_http_port: int,
                                               jp_base_url: str) -> None:
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}api/tasks/stream"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url)
    assert response.status_code == 403
    assert json.loads(response.text)["status"] == 403


async def test_a_subscriber_too_far_behind_is_dropped_not_grown() -> None:
    hub = TaskEventHub(max_backlog=3)
    slow, fresh = hub.subscribe(), hub.subscribe()
    for n in range(3):
        hub.publish("task", {"n": n})
    while not fresh.empty():
        fresh.get_nowait()
    hub.publish("task", {"n": 3})
    assert hub.subscriber_count == 1
    items = [slow.get_nowait() for _ in range(slow.qsize())]
    assert [i[1].get("n") for i in items[:3]] == [0, 1, 2] and items[-1][0] == "end"
    assert fresh.get_nowait() == ("task", {"n": 3})


def test_the_openapi_document_describes_the_stream() -> None:
    operation = SPEC["paths"]["/api/tasks/stream"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
