"""Stopping a task kills the command it runs, with its whole process tree."""

from __future__ import annotations

import asyncio
from typing import Any

from open_agent_jupyter.server.sse import TaskStreamHandler
from tests.fakellm import FakeLLM, call, text
from tests.process_utils import processes_running
from tests.server.conftest import read_stream, wait_until


async def test_stop_kills_a_running_sleep(api: Any, jp_fetch: Any, extension: Any,
                                          fake_llm: FakeLLM) -> None:
    marker = "sleep 30.4242"
    # setsid: one of them leaves the process group and session; Stop still finds it.
    command = f"setsid {marker} >/dev/null 2>&1 & {marker}; echo never"
    fake_llm.script(call("run_command", {"command": command}), text("unreachable"))
    _, created = await api("POST", "api/task", {"task": "sleep a while"})
    await wait_until(lambda: processes_running(marker))
    watching = asyncio.ensure_future(read_stream(jp_fetch, created["id"]))
    await wait_until(lambda: TaskStreamHandler.open_streams > 0)
    status, task = await api("POST", f"api/task/{created['id']}/stop")
    assert status == 200 and task["status"] == "cancelled"
    await wait_until(lambda: not processes_running(marker), timeout=5)
    frames = await asyncio.wait_for(watching, 30)  # the live subscriber got its done
    assert frames[-1]["event"] == "done" and frames[-1]["data"]["status"] == "cancelled"
    assert fake_llm.pending == 1  # the loop asked nothing after the stop


async def test_stop_a_pending_task(api: Any, extension: Any, fake_llm: FakeLLM,
                                   agent_config: dict[str, Any]) -> None:
    manager = await extension.ensure_started()
    fake_llm.script(*[text("slow", delay=1.0) for _ in range(4)])
    ids = [(await api("POST", "api/task", {"task": f"t{i}"}))[1]["id"] for i in range(5)]
    _, last = await api("GET", f"api/task/{ids[-1]}")
    assert last["status"] == "pending"  # max_running is 4
    status, task = await api("POST", f"api/task/{ids[-1]}/stop")
    assert (status, task["status"], task["started_at"]) == (200, "cancelled", None)
    for task_id in ids[:-1]:
        await manager.stop(task_id)
