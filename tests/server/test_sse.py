"""The SSE stream: a real task through the local backend, resume, keep-alive, disconnect."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.server import sse
from open_agent_jupyter.server.sse import TaskStreamHandler
from tests.fakellm import FakeLLM, call, text
from tests.server.conftest import parse_sse, read_stream, wait_until


async def _run_write_task(api: Any, extension: Any, fake_llm: FakeLLM) -> str:
    fake_llm.script(call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                    text("Wrote hello.py."))
    _, created = await api("POST", "api/task", {"task": "write hello.py"})
    return created["id"]


async def test_a_full_task_streams_every_entry_then_done(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM, work_dir: Path) -> None:
    task_id = await _run_write_task(api, extension, fake_llm)
    frames = await read_stream(jp_fetch, task_id)
    logs = [f for f in frames if f.get("event") == "log"]
    assert [int(f["id"]) for f in logs] == list(range(1, len(logs) + 1))
    assert [f["data"]["seq"] for f in logs] == [int(f["id"]) for f in logs]
    types = [f["data"]["entry_type"] for f in logs]
    assert "tool_call" in types and "tool_result" in types and types[-1] == "response"
    call_entry = next(f["data"] for f in logs if f["data"]["entry_type"] == "tool_call")
    assert call_entry["tool"] == "write_file" and call_entry["arguments"]["path"] == "hello.py"
    assert frames[-1]["event"] == "done" and "id" not in frames[-1]
    assert frames[-1]["data"]["status"] == "completed"
    assert frames[-1]["data"]["result"] == "Wrote hello.py."
    assert (work_dir / "hello.py").read_text() == "print('hi')\n"
    _, task = await api("GET", f"api/task/{task_id}")
    assert [e["seq"] for e in task["log"]] == [f["data"]["seq"] for f in logs]


async def test_resume_with_last_event_id_gets_the_rest_once(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM) -> None:
    task_id = await _run_write_task(api, extension, fake_llm)
    full = await read_stream(jp_fetch, task_id)
    seqs = [f["data"]["seq"] for f in full if f.get("event") == "log"]
    assert len(seqs) >= 3
    rest = await read_stream(jp_fetch, task_id, headers={"Last-Event-ID": str(seqs[1])})
    assert [f["data"]["seq"] for f in rest if f.get("event") == "log"] == seqs[2:]
    assert rest[-1]["event"] == "done"
    by_query = await read_stream(jp_fetch, task_id, params={"last_event_id": str(seqs[-1])})
    assert [f["event"] for f in by_query] == ["done"]


async def test_resume_live_mid_task(api: Any, jp_fetch: Any, extension: Any,
                                    fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo one"}),
                    call("run_command", {"command": "echo two"}, delay=0.5),
                    text("both done"))
    _, created = await api("POST", "api/task", {"task": "echo twice"})
    manager = await extension.ensure_started()

    async def has_two_entries() -> bool:
        return len(await manager.get_log(created["id"])) >= 2

    await wait_until(has_two_entries)
    rest = await read_stream(jp_fetch, created["id"], headers={"Last-Event-ID": "2"})
    seqs = [f["data"]["seq"] for f in rest if f.get("event") == "log"]
    assert seqs == list(range(3, 3 + len(seqs))) and seqs
    assert rest[-1]["data"]["status"] == "completed"


async def test_keep_alive_comments_while_silent(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM,
        short_keepalive: None) -> None:
    fake_llm.script(text("slow answer", delay=0.6))
    _, created = await api("POST", "api/task", {"task": "think slowly"})
    frames = await read_stream(jp_fetch, created["id"])
    assert any(f.get("comment") == "keep-alive" for f in frames)
    assert frames[-1]["event"] == "done"


async def test_a_client_that_leaves_frees_its_subscription(
        api: Any, jp_serverapp: Any, jp_base_url: str, extension: Any, fake_llm: FakeLLM,
        jp_auth_header: dict[str, str]) -> None:
    fake_llm.script(text("never read", delay=20.0))  # the task stays silent meanwhile
    _, created = await api("POST", "api/task", {"task": "slow"})
    manager = await extension.ensure_started()
    before = TaskStreamHandler.open_streams
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_serverapp.port)
    path = f"{jp_base_url}api/task/{created['id']}/stream".replace("@", "%40")
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n")[0]
    assert b"X-Accel-Buffering: no" in head and b"Cache-Control: no-cache" in head
    await wait_until(lambda: TaskStreamHandler.open_streams == before + 1)
    assert manager.subscriber_count(created["id"]) == 1
    writer.close()
    await wait_until(lambda: TaskStreamHandler.open_streams == before, timeout=5)
    assert manager.subscriber_count(created["id"]) == 0
    assert (await manager.get(created["id"])).status.value == "running"  # freed, not ended


async def test_stream_errors(api: Any, jp_fetch: Any, extension: Any) -> None:
    _, created = await api("POST", "api/task", {"task": "x"})
    status, body = await api("GET", "api/task/00000000-0000-4000-8000-000000000000/stream")
    assert (status, body["status"]) == (404, 404)
    status, _ = await api("GET", "api/task/not-a-uuid/stream")
    assert status == 404
    status, body = await api("GET", f"api/task/{created['id']}/stream",
                             headers={"Last-Event-ID": "abc"})
    assert status == 400 and "Last-Event-ID" in body["error"]
    status, body = await api("GET", f"api/task/{created['id']}/stream",
                             headers={"Last-Event-ID": "9" * 20})  # past SQLite's integers
    assert status == 400 and "Last-Event-ID" in body["error"]


@pytest.fixture
def tight_streams() -> Iterator[None]:
    """Small bounds so that a stalled reader is found in about a second."""
    saved = (TaskStreamHandler.max_buffer, TaskStreamHandler.write_timeout,
             TaskStreamHandler.keepalive_interval)
    TaskStreamHandler.max_buffer, TaskStreamHandler.write_timeout = 64 * 1024, 1.0
    TaskStreamHandler.keepalive_interval = 0.2
    yield
    (TaskStreamHandler.max_buffer, TaskStreamHandler.write_timeout,
     TaskStreamHandler.keepalive_interval) = saved


async def _stalled_reader(port: int, path: str, auth: str) -> tuple[socket.socket, bytes]:
    """A raw client that sends the request, reads the response head, then stops reading.

    Returns the socket and the body bytes that came with the head."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: stalls soon
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  f"Authorization: {auth}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1024)
    assert b" 200 " in head.split(b"\r\n")[0]
    return sock, head.partition(b"\r\n\r\n")[2]


async def _read_to_eof(sock: socket.socket, timeout: float = 60.0) -> bytes:
    """Everything the server still sends, until it closes the connection."""
    loop = asyncio.get_running_loop()
    chunks = []
    async with asyncio.timeout(timeout):
        while chunk := await loop.sock_recv(sock, 1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_a_reader_that_stops_reading_is_dropped_and_resumes(
        api: Any, jp_fetch: Any, jp_serverapp: Any, jp_base_url: str, extension: Any,
        fake_llm: FakeLLM, jp_auth_header: dict[str, str], tight_streams: None) -> None:
    big = "x" * 2_000_000  # each tool_call entry carries it: more than the socket buffers hold
    fake_llm.script(*[call("write_file", {"path": f"big{i}.txt", "content": big}, delay=0.3)
                      for i in range(5)], text("wrote them"))
    _, created = await api("POST", "api/task", {"task": "write big files"})
    task_id = created["id"]
    before = (TaskStreamHandler.open_streams, TaskStreamHandler.dropped)
    path = f"{jp_base_url}api/task/{task_id}/stream".replace("@", "%40")
    stalled, early = await _stalled_reader(jp_serverapp.port, path,
                                           jp_auth_header["Authorization"])
    normal = asyncio.ensure_future(read_stream(jp_fetch, task_id))
    try:
        await wait_until(lambda: TaskStreamHandler.dropped == before[1] + 1, timeout=60)
        frames = await normal
        logs = [f["data"]["seq"] for f in frames if f.get("event") == "log"]
        assert logs == list(range(1, len(logs) + 1)) and frames[-1]["event"] == "done"
        assert frames[-1]["data"]["status"] == "completed"
        await wait_until(lambda: TaskStreamHandler.open_streams == before[0], timeout=10)
        assert extension.manager.subscriber_count(task_id) == 0
        # The server closed the stalled connection (its buffer given back): what was in
        # flight arrives, then EOF, without done; Last-Event-ID then gets the rest.
        received = parse_sse(_sse_body(early + await _read_to_eof(stalled)))
        assert not any(f.get("event") == "done" for f in received)
        got = [int(f["id"]) for f in received if f.get("event") == "log"]
        assert got == list(range(1, len(got) + 1)) and len(got) < len(logs)
        rest = await read_stream(jp_fetch, task_id,
                                 headers={"Last-Event-ID": str(got[-1] if got else 0)})
        seqs = [f["data"]["seq"] for f in rest if f.get("event") == "log"]
        assert got + seqs == logs and rest[-1]["event"] == "done"
    finally:
        stalled.close()


async def test_a_stream_closes_after_done_even_if_unread(
        api: Any, jp_serverapp: Any, jp_base_url: str, extension: Any, fake_llm: FakeLLM,
        jp_auth_header: dict[str, str], tight_streams: None) -> None:
    fake_llm.script(text("short answer", delay=0.5))
    _, created = await api("POST", "api/task", {"task": "answer"})
    path = f"{jp_base_url}api/task/{created['id']}/stream".replace("@", "%40")
    sock, early = await _stalled_reader(jp_serverapp.port, path,
                                        jp_auth_header["Authorization"])
    try:
        await extension.manager.wait(created["id"])
        frames = parse_sse(_sse_body(early + await _read_to_eof(sock, timeout=20)))
        assert frames[-1]["event"] == "done"
    finally:
        sock.close()


async def test_a_crowd_of_streams_each_gets_every_entry_once(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "CROWD", 2)  # so that 6 streams write in gathered pieces
    fake_llm.script(*[call("run_command", {"command": f"echo {i}"}, delay=0.3)
                      for i in range(4)], text("all echoed"))
    _, created = await api("POST", "api/task", {"task": "echo four times"})
    readers = [asyncio.ensure_future(read_stream(jp_fetch, created["id"])) for _ in range(6)]
    results = await asyncio.gather(*readers)
    _, task = await api("GET", f"api/task/{created['id']}")
    expected = [e["seq"] for e in task["log"]]
    for frames in results:
        assert [f["data"]["seq"] for f in frames if f.get("event") == "log"] == expected
        assert frames[-1]["event"] == "done" and frames[-1]["data"]["result"] == "all echoed"


def _sse_body(raw: bytes) -> str:
    """The SSE text of a chunked HTTP body (possibly cut short, head already read)."""
    text, body = raw, b""
    while text:
        size_line, sep, rest = text.partition(b"\r\n")
        if not sep or not size_line.strip():
            break
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += rest[:size]
        text = rest[size + 2:]
    complete = body.decode(errors="replace").rpartition("\n\n")[0]
    return complete + "\n\n" if complete else ""


def test_parse_sse_reads_frames() -> None:
    frames = parse_sse('id: 1\nevent: log\ndata: {"seq": 1}\n\n: keep-alive\n\n')
    assert frames == [{"id": "1", "event": "log", "data": {"seq": 1}}, {"comment": "keep-alive"}]
