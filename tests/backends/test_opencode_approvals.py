"""OpenCode's permission requests through our approvals, against a real ``opencode serve``:
the task layer's policy asks, a person answers (allow / deny with a message), OpenCode
gets the reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.store import TaskStore
from tests.fakellm import FakeLLM, call, text

opencode = pytest.mark.opencode


@pytest.fixture
async def manager(oc_settings: Settings, tmp_path: Path) -> AsyncIterator[TaskManager]:
    mgr = TaskManager(oc_settings, TaskStore(tmp_path / "tasks.db"))
    await mgr.start()
    yield mgr
    await mgr.close()


async def pending(manager: TaskManager, task_id: str) -> dict[str, Any]:
    for _ in range(1500):
        waiting = [a for a in await manager.get_approvals(task_id) if a["status"] == "pending"]
        if waiting:
            return waiting[0]
        await asyncio.sleep(0.04)
    raise AssertionError("no approval became pending")


@opencode
@pytest.mark.parametrize("decision", ["allow", "deny"])
async def test_a_permission_request_is_answered_by_a_person(
        manager: TaskManager, oc_settings: Settings, llm: FakeLLM, decision: str) -> None:
    work = Path(oc_settings.working_dir)
    llm.script(call("bash", {"command": "touch made.txt", "description": "make it"}),
               text("Finished."))
    task = await manager.submit("make the file", approvals="ask")
    asked = await pending(manager, task.id)
    assert asked["tool"] == "run_command" and asked["arguments"]["command"] == "touch made.txt"
    await manager.answer_approval(task.id, asked["id"], decision,
                                  None if decision == "allow" else "use the other folder",
                                  user="someone")
    done = await asyncio.wait_for(manager.wait(task.id), 90)
    assert done.status.value == "completed"
    assert (work / "made.txt").exists() == (decision == "allow")
    [record] = await manager.get_approvals(task.id)
    assert (record["status"], record["decided_by"]) == (
        "allowed" if decision == "allow" else "denied", "someone")
    if decision == "deny":  # the reason reached the model through OpenCode
        last = llm.chat_requests()[-1]["messages"]
        assert any("use the other folder" in str(m.get("content")) for m in last)


@opencode
async def test_read_only_alias_denies_without_asking(manager: TaskManager,
                                                     oc_settings: Settings,
                                                     llm: FakeLLM) -> None:
    manager.settings = oc_settings.with_overrides(opencode_permissive=False)
    llm.script(call("bash", {"command": "touch never.txt", "description": "x"}),
               text("Could not."))
    task = await manager.submit("make the file")
    done = await asyncio.wait_for(manager.wait(task.id), 90)
    assert done.status.value == "completed" and done.approval_policy == "read-only"
    assert not (Path(oc_settings.working_dir) / "never.txt").exists()
    [record] = await manager.get_approvals(task.id)
    assert (record["status"], record["how"]) == ("denied", "rule")
