"""TaskManager with the real LocalBackend against the loopback fake LLM."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.models import TaskStatus
from open_agent_jupyter.tasks.store import TaskStore
from tests.fakellm import FakeLLM, call, text

pytest.importorskip("open_agent_jupyter.agent.loop")


@pytest.fixture
async def local_manager(settings: Settings, tmp_path: Path) -> AsyncIterator[TaskManager]:
    """A manager with the default backend factory (``backends.make_backend``)."""
    manager = TaskManager(settings, TaskStore(tmp_path / "tasks.sqlite"))
    await manager.start()
    yield manager
    await manager.close()


async def test_a_local_task_end_to_end(local_manager: TaskManager, fake_llm: FakeLLM,
                                       settings: Settings) -> None:
    fake_llm.script(call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                    text("Created hello.py"))
    task = await local_manager.submit("Create hello.py")
    items = [item async for item in local_manager.subscribe(task.id)]

    kind, done = items[-1]
    assert kind == "done" and done["status"] == "completed", done
    assert done["result"] == "Created hello.py"
    entries = [data for kind, data in items[:-1]]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    types = [e["entry_type"] for e in entries]
    assert types.index("tool_call") < types.index("tool_result") < types.index("response")
    call_entry = entries[types.index("tool_call")]
    assert call_entry["tool"] == "write_file" and call_entry["arguments"]["path"] == "hello.py"
    assert (Path(settings.working_dir) / "hello.py").read_text() == "print('hi')\n"

    final = await local_manager.get(task.id)
    assert final.usage.llm_calls == 2 and final.usage.prompt_tokens == 200
    assert final.iterations >= 1 and final.estimate is not None
    assert await local_manager.get_log(task.id) == entries


async def test_without_an_api_key_the_task_fails_with_the_reason(
        fake_llm: FakeLLM, settings: Settings, tmp_path: Path) -> None:
    manager = TaskManager(replace(settings, api_key=None), TaskStore(tmp_path / "t.sqlite"))
    await manager.start()
    try:
        task = await manager.submit("anything")
        final = await manager.wait(task.id)
        assert final.status is TaskStatus.FAILED and "OPENROUTER_API_KEY" in final.error
        log = await manager.get_log(task.id)
        assert log[-1]["entry_type"] == "error" and "OPENROUTER_API_KEY" in log[-1]["content"]
        assert fake_llm.chat_requests() == []
    finally:
        await manager.close()


async def test_stop_kills_the_running_command(local_manager: TaskManager, fake_llm: FakeLLM,
                                              settings: Settings) -> None:
    pid_file = Path(settings.working_dir) / "pid"
    fake_llm.script(call("run_command", {"command": f"echo $$ > {pid_file}; exec sleep 60",
                                         "timeout_secs": 120}))
    task = await local_manager.submit("Sleep for a minute")
    stream = local_manager.subscribe(task.id)
    async for kind, data in stream:
        if kind == "log" and data["entry_type"] == "tool_call":
            break
    while not pid_file.exists() or not pid_file.read_text().strip():
        await asyncio.sleep(0.02)  # the shell writes its pid as its first act
    pid = int(pid_file.read_text())
    assert _alive(pid)

    stopped = await local_manager.stop(task.id)
    assert stopped.status is TaskStatus.CANCELLED
    # SIGKILL is delivered asynchronously: the tool sends it on cancel and does not
    # wait for the kernel to end the process, so allow it a moment (a guard, not a speed check).
    await asyncio.wait_for(_ended(pid), 5)
    rest = [item async for item in stream]
    assert rest[-1][0] == "done" and rest[-1][1]["status"] == "cancelled"


async def _ended(pid: int) -> None:
    while _alive(pid):
        await asyncio.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGCONT)  # signal 0 would also see a zombie as alive
    except ProcessLookupError:
        return False
    try:  # a zombie still answers to kill(); it counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class SlowFinalStore(TaskStore):
    """A real store whose write of a task's final state waits until the test releases it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.holding, self.release = asyncio.Event(), asyncio.Event()

    async def update_task(self, task: Any) -> None:
        if task.status.is_final:
            self.holding.set()
            await self.release.wait()
        await super().update_task(task)


async def test_a_task_is_reported_final_only_once_stored(settings: Settings, fake_llm: FakeLLM,
                                                         tmp_path: Path) -> None:
    store = SlowFinalStore(tmp_path / "tasks.sqlite")
    manager = TaskManager(settings, store)
    await manager.start()
    try:
        fake_llm.script(text("listed"))
        task = await manager.submit("List the files")
        await store.holding.wait()
        # A crash now would lose the final state: readers must not see it yet.
        assert not (await manager.get(task.id)).status.is_final
        store.release.set()
        assert (await manager.wait(task.id)).status == TaskStatus.COMPLETED
    finally:
        store.release.set()
        await manager.close()
