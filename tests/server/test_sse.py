"""The SSE stream: a real task through the local backend, resume, keep-alive, disconnect."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

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


def test_parse_sse_reads_frames() -> None:
    frames = parse_sse('id: 1\nevent: log\ndata: {"seq": 1}\n\n: keep-alive\n\n')
    assert frames == [{"id": "1", "event": "log", "data": {"seq": 1}}, {"comment": "keep-alive"}]
