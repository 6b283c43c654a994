"""An approval answered on a server that does not run the task (two managers, one database):
the answer is stored as a request and carried out by the owner at its next tick."""

from __future__ import annotations

import asyncio
from pathlib import Path

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.store import TaskStore
from tests.fakellm import FakeLLM, call, text


async def test_an_answer_reaching_another_server_is_carried_out_by_the_owner(
        settings: Settings, fake_llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    owner, other = TaskManager(settings, TaskStore(path)), TaskManager(settings, TaskStore(path))
    await owner.start()
    await other.start()
    try:
        fake_llm.script(call("run_command", {"command": "echo remote > remote.txt"}), text("ok"))
        task = await owner.submit("write it", approvals="ask")
        for _ in range(750):
            pending = [a for a in await other.get_approvals(task.id) if a["status"] == "pending"]
            if pending:
                break
            await asyncio.sleep(0.04)
        [asked] = pending
        record = await other.answer_approval(task.id, asked["id"], "allow", user="elsewhere")
        assert (record["status"], record["decided_by"]) == ("allowed", "elsewhere")
        done = await asyncio.wait_for(owner.wait(task.id), 30)
        assert done.status.value == "completed"
        assert (Path(settings.working_dir) / "remote.txt").read_text() == "remote\n"
        [stored] = await other.get_approvals(task.id)
        assert (stored["status"], stored["how"], stored["decided_by"]) == (
            "allowed", "person", "elsewhere")
    finally:
        await other.close()
        await owner.close()
