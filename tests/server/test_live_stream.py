"""The live stream through a real server: progress frames, streamed output, notices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.agent.output import STREAM_LIMIT
from open_agent_jupyter.server.sse import TaskStreamHandler
from tests.fakellm import FakeLLM, call, fault, text
from tests.server.conftest import read_stream, wait_until


@pytest.fixture
def agent_config(agent_config: dict[str, Any]) -> dict[str, Any]:
    """Retries on (with no wait: the fake LLM's Retry-After is 0)."""
    return {**agent_config, "max_retries": 2}


@pytest.fixture
def short_progress() -> Iterator[None]:
    """Progress frames every 100 ms instead of 2 s."""
    saved = TaskStreamHandler.progress_interval
    TaskStreamHandler.progress_interval = 0.1
    yield
    TaskStreamHandler.progress_interval = saved


async def test_progress_frames_while_calls_are_in_flight(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM,
        short_progress: None) -> None:
    fake_llm.script(call("run_command", {"command": "sleep 0.8"}, delay=0.5), text("slept"))
    _, created = await api("POST", "api/task", {"task": "sleep a bit"})
    frames = await read_stream(jp_fetch, created["id"])
    progress = [f for f in frames if f.get("event") == "progress"]
    assert all("id" not in f for f in progress)
    phases = {f["data"]["phase"] for f in progress}
    assert phases == {"llm", "tool"}
    tool_call = next(f["data"] for f in frames if f.get("event") == "log"
                     and f["data"]["entry_type"] == "tool_call")
    assert {f["data"].get("call_id") for f in progress if f["data"]["phase"] == "tool"} == {
        tool_call["call_id"]}
    assert all(f["data"]["since"] for f in progress)
    _, task = await api("GET", f"api/task/{created['id']}")
    logged = [f["data"]["seq"] for f in frames if f.get("event") == "log"]
    assert [e["seq"] for e in task["log"]] == logged  # progress is never stored


async def test_a_50_mb_command_is_capped_and_the_server_keeps_answering(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM, work_dir: Path) -> None:
    flood = ("python3 -c \"import sys; [sys.stdout.write('z' * 99 + '\\n') "
             "for _ in range(500000)]\"; while [ ! -f release ]; do sleep 0.05; done")
    fake_llm.script(call("run_command", {"command": flood}), text("flooded"))
    _, created = await api("POST", "api/task", {"task": "print 50 MB"})
    manager = await extension.ensure_started()

    async def capped() -> bool:
        log = await manager.get_log(created["id"])
        return any("live output stopped" in e["content"] for e in log
                   if e["entry_type"] == "tool_output")

    await wait_until(capped, timeout=60)
    status, health = await api("GET", "api/health")  # answered while the command still runs
    assert status == 200 and health["status"] == "ok"
    _, running = await api("GET", f"api/task/{created['id']}", params={"log": "false"})
    assert running["status"] == "running"
    (work_dir / "release").touch()
    frames = await read_stream(jp_fetch, created["id"])
    assert frames[-1]["data"]["status"] == "completed"
    _, task = await api("GET", f"api/task/{created['id']}")
    outputs = [e for e in task["log"] if e["entry_type"] == "tool_output"]
    assert sum(len(e["content"]) for e in outputs) < STREAM_LIMIT + 1000
    assert len(outputs) < 100
    result = next(e for e in task["log"] if e["entry_type"] == "tool_result")
    assert len(result["content"]) < 40_000 and "characters cut" in result["content"]


async def test_a_retry_is_a_notice_on_the_stream(
        api: Any, jp_fetch: Any, extension: Any, fake_llm: FakeLLM) -> None:
    fake_llm.script(fault(429, "busy", headers={"Retry-After": "0"}), text("answered"))
    _, created = await api("POST", "api/task", {"task": "hello"})
    frames = await read_stream(jp_fetch, created["id"])
    notices = [f["data"] for f in frames if f.get("event") == "log"
               and f["data"]["entry_type"] == "notice"]
    assert [n["kind"] for n in notices] == ["retry"]
    assert notices[0]["details"]["attempt"] == 1 and "429" in notices[0]["details"]["reason"]
    assert frames[-1]["data"]["status"] == "completed"
