"""TaskManager with the scripted backend: ordering, limits, stop, recovery, close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from open_agent_jupyter.agent.events import LogEntry
from open_agent_jupyter.config import Settings
from open_agent_jupyter.exceptions import ConfigError, TaskNotFoundError
from open_agent_jupyter.tasks.manager import INTERRUPTED, TaskManager
from open_agent_jupyter.tasks.models import Task, TaskStatus
from open_agent_jupyter.tasks.store import TaskStore
from open_agent_jupyter.types import Outcome
from tests.tasks.scripted import ScriptedBackend


async def take(stream, n: int) -> list[dict]:
    """The next ``n`` log entries of a subscription."""
    out = []
    for _ in range(n):
        # A guard, not a speed check: a lost entry fails the test instead of hanging it.
        kind, data = await asyncio.wait_for(anext(stream), 10)
        assert kind == "log"
        out.append(data)
    return out


async def collect(stream) -> list:
    """Every item of a subscription."""
    return [item async for item in stream]


def new_manager(settings: Settings, path: Path, backend: ScriptedBackend,
                max_running: int = 2) -> TaskManager:
    return TaskManager(settings, TaskStore(path), max_running=max_running,
                       backend_factory=lambda name: backend)


async def test_runs_a_task_and_numbers_its_log(manager: TaskManager,
                                               backend: ScriptedBackend) -> None:
    submitted = await manager.submit("hello")
    assert submitted.status is TaskStatus.PENDING and submitted.model == "scripted/model"
    backend.emit("hello", "a", "b")
    backend.finish("hello", "the result")
    final = await manager.wait(submitted.id)

    assert final.status is TaskStatus.COMPLETED and final.result == "the result"
    assert final.iterations == 2 and final.usage.llm_calls == 2
    assert final.started_at and final.finished_at and final.error is None
    log = await manager.get_log(submitted.id)
    assert [(e["seq"], e["entry_type"]) for e in log] == [
        (1, "thinking"), (2, "thinking"), (3, "response")]
    assert [e["seq"] for e in await manager.get_log(submitted.id, after=2)] == [3]
    api = (await manager.get(submitted.id)).to_dict(log)
    assert api["status"] == "completed" and api["usage"]["llm_calls"] == 2
    assert len(api["log"]) == 3


async def test_live_figures_while_running(manager: TaskManager, backend: ScriptedBackend) -> None:
    task = await manager.submit("busy")
    stream = manager.subscribe(task.id)
    backend.emit("busy", "step")
    await take(stream, 1)
    live = await manager.get(task.id)
    assert live.status is TaskStatus.RUNNING
    assert live.iterations == 1 and live.usage.cost_usd == pytest.approx(0.001)
    listed, total = await manager.list_tasks()
    assert total == 1 and listed[0].iterations == 1
    assert (await manager.stats())["total_cost_usd"] == pytest.approx(0.001)
    await stream.aclose()


async def test_concurrency_limit_and_pending_order(manager: TaskManager,
                                                   backend: ScriptedBackend) -> None:
    names = [f"t{i}" for i in range(1, 6)]
    ids = {name: (await manager.submit(name)).id for name in names}
    await backend.wait_started("t1")
    await backend.wait_started("t2")
    assert backend.order == ["t1", "t2"]
    for name in ("t3", "t4", "t5"):
        assert (await manager.get(ids[name])).status is TaskStatus.PENDING

    backend.finish("t2")
    await backend.wait_started("t3")
    backend.finish("t1")
    await backend.wait_started("t4")
    assert (await manager.get(ids["t5"])).status is TaskStatus.PENDING
    for name in ("t3", "t4", "t5"):
        backend.finish(name)
    for name in names:
        assert (await manager.wait(ids[name])).status is TaskStatus.COMPLETED
    assert backend.order == names
    assert backend.most_running == 2


async def test_stop_a_pending_task(manager: TaskManager, backend: ScriptedBackend) -> None:
    ids = [(await manager.submit(name)).id for name in ("a", "b", "c")]
    stopped = await manager.stop(ids[2])
    assert stopped.status is TaskStatus.CANCELLED
    assert stopped.started_at is None and stopped.finished_at
    assert [item async for item in manager.subscribe(ids[2])] == [
        ("done", {"status": "cancelled", "result": None, "error": None, "iterations": 0,
                  "usage": stopped.usage.to_dict()})]
    backend.finish("a")
    backend.finish("b")
    await manager.wait(ids[0])
    await manager.wait(ids[1])
    assert backend.order == ["a", "b"]
    assert (await manager.get(ids[2])).status is TaskStatus.CANCELLED


async def test_stop_a_running_task(manager: TaskManager, backend: ScriptedBackend) -> None:
    task = await manager.submit("long")
    stream = manager.subscribe(task.id)
    backend.emit("long", "working")
    assert [e["content"] for e in await take(stream, 1)] == ["working"]

    stopped = await manager.stop(task.id)
    assert stopped.status is TaskStatus.CANCELLED and stopped.iterations == 1
    assert backend.cancelled == ["long"]
    kind, done = await anext(stream)
    assert kind == "done" and done["status"] == "cancelled"
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    again = await manager.stop(task.id)
    assert again == stopped
    assert (await manager.get(task.id)).status is TaskStatus.CANCELLED


async def test_stop_before_the_run_began(manager: TaskManager, backend: ScriptedBackend) -> None:
    task = await manager.submit("instant")  # its runner exists but has not begun yet
    stopped = await manager.stop(task.id)
    assert stopped.status is TaskStatus.CANCELLED
    assert backend.order == []


async def test_backend_failure_and_crash(manager: TaskManager, backend: ScriptedBackend) -> None:
    failing = await manager.submit("failing")
    crashing = await manager.submit("crashing")
    backend.fail("failing", "no way")
    backend.crash("crashing", KeyError("boom"))
    failed = await manager.wait(failing.id)
    assert (failed.status, failed.error) == (TaskStatus.FAILED, "no way")
    crashed = await manager.wait(crashing.id)
    assert crashed.status is TaskStatus.FAILED
    assert "KeyError" in crashed.error and "boom" in crashed.error
    last = (await manager.get_log(crashing.id))[-1]
    assert last["entry_type"] == "error" and "KeyError" in last["content"]

    odd = await manager.submit("odd")
    backend.commands["odd"].put_nowait(("return", Outcome("done")))  # not a final status
    wrong = await manager.wait(odd.id)
    assert wrong.status is TaskStatus.FAILED and "TypeError" in wrong.error

    after = await manager.submit("after")  # the manager keeps working
    backend.finish("after")
    assert (await manager.wait(after.id)).status is TaskStatus.COMPLETED


async def test_submit_validates(manager: TaskManager, backend: ScriptedBackend) -> None:
    for empty in ("", "   \n"):
        with pytest.raises(ValueError, match="empty"):
            await manager.submit(empty)
    with pytest.raises(ConfigError, match="MAX_ITERATIONS"):
        await manager.submit("x", max_iterations=0)
    with pytest.raises(ConfigError, match="AGENT_BACKEND"):
        await manager.submit("x", backend="nope")
    with pytest.raises(ConfigError, match="api_key"):
        await manager.submit("x", api_key="sneaky")
    assert (await manager.list_tasks())[1] == 0

    task = await manager.submit("tuned", max_iterations=7, model="other/model", budget_cents=5)
    assert (task.max_iterations, task.model, task.budget_cents) == (7, "other/model", 5)
    await backend.wait_started("tuned")
    assert backend.settings["tuned"].max_iterations == 7
    assert backend.settings["tuned"].model == "other/model"


async def test_relative_working_dir_is_taken_from_the_default_one(
        manager: TaskManager, base_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    task = await manager.submit("x", working_dir="sub/../project")
    assert task.working_dir == str(tmp_path / "project")
    elsewhere = await manager.submit("y", working_dir=str(tmp_path.parent))
    assert elsewhere.working_dir == str(tmp_path.parent)
    assert base_settings.working_dir == str(tmp_path)


async def test_a_working_dir_that_is_not_a_directory_is_refused(
        manager: TaskManager, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for folder, why in (("missing", "does not exist"), ("file", "is not a directory"),
                        ("a\x00b", "NUL byte")):
        with pytest.raises(ConfigError, match=f"'working_dir' .*{why}"):
            await manager.submit("x", working_dir=folder)
    assert (await manager.list_tasks())[1] == 0


async def test_unknown_task(manager: TaskManager) -> None:
    for call in (manager.get, manager.stop, manager.get_log, manager.wait):
        with pytest.raises(TaskNotFoundError):
            await call("nope")
    with pytest.raises(TaskNotFoundError):
        await anext(manager.subscribe("nope"))


async def test_list_and_stats(manager: TaskManager, backend: ScriptedBackend) -> None:
    ids = [(await manager.submit(name)).id for name in ("one", "two", "three")]
    backend.emit("one", "x")
    backend.finish("one")
    backend.fail("two", "bad")
    await manager.wait(ids[0])
    await manager.wait(ids[1])

    tasks, total = await manager.list_tasks()
    assert total == 3 and [t.task for t in tasks] == ["three", "two", "one"]
    done, n = await manager.list_tasks(status="completed")
    assert n == 1 and done[0].id == ids[0]
    with pytest.raises(ValueError, match="unknown status"):
        await manager.list_tasks(status="weird")
    stats = await manager.stats()
    assert stats["total"] == 3
    assert stats["by_status"]["completed"] == 1 and stats["by_status"]["failed"] == 1
    assert stats["success_rate"] == 0.5
    assert stats["total_cost_usd"] == pytest.approx(0.001)


async def test_recovery_after_reopening_the_database(base_settings: Settings, db_path: Path,
                                                     backend: ScriptedBackend) -> None:
    # What a server that died leaves behind: one task running (two entries), one pending.
    store = TaskStore(db_path)
    await store.open()
    running = Task(task="was running", model="m", status=TaskStatus.RUNNING)
    pending = Task(task="was pending", model="m", max_iterations=9)
    done = Task(task="was done", model="m", status=TaskStatus.COMPLETED, result="r")
    for task in (running, pending, done):
        await store.insert_task(task)
    await store.append_log(running.id, [LogEntry("thinking", f"e{i}", seq=i).to_dict()
                                        for i in (1, 2)])
    await store.close()

    manager = new_manager(base_settings, db_path, backend)
    await manager.start()
    try:
        failed = await manager.get(running.id)
        assert (failed.status, failed.error) == (TaskStatus.FAILED, INTERRUPTED)
        log = await manager.get_log(running.id)
        assert [(e["seq"], e["entry_type"], e["content"]) for e in log][-1] == (
            3, "error", "interrupted: its server stopped")
        await backend.wait_started("was pending")
        assert backend.settings["was pending"].max_iterations == 9
        backend.finish("was pending")
        assert (await manager.wait(pending.id)).status is TaskStatus.COMPLETED
        assert (await manager.get(done.id)).result == "r"
        assert backend.order == ["was pending"]
    finally:
        await manager.close()


async def test_close_cancels_running_and_keeps_pending(base_settings: Settings, db_path: Path,
                                                       backend: ScriptedBackend) -> None:
    first = new_manager(base_settings, db_path, backend, max_running=1)
    await first.start()
    running = await first.submit("running")
    queued = await first.submit("queued")
    await backend.wait_started("running")
    follower = asyncio.create_task(collect(first.subscribe(queued.id)))
    while first.subscriber_count(queued.id) == 0:
        await asyncio.sleep(0)
    await first.close()
    assert await follower == []  # ends without done: the task is not over
    assert backend.cancelled == ["running"]

    second = new_manager(base_settings, db_path, backend)
    await second.start()
    try:
        assert (await second.get(running.id)).status is TaskStatus.CANCELLED
        await backend.wait_started("queued")
        backend.finish("queued")
        assert (await second.wait(queued.id)).status is TaskStatus.COMPLETED
    finally:
        await second.close()
    with pytest.raises(RuntimeError):
        await second.submit("too late")


async def test_an_entry_json_cannot_encode_is_stored_as_text(manager: TaskManager,
                                                              backend: ScriptedBackend) -> None:
    task = await manager.submit("odd")
    backend.record("odd", LogEntry("tool_call", "call", tool="read_file", call_id="c1",
                                   arguments={"path": Path("/tmp/x")}))  # not a JSON value
    backend.emit("odd", "after")
    backend.finish("odd")
    # A guard, not a speed check: a writer killed by the odd entry would hang here.
    final = await asyncio.wait_for(manager.wait(task.id), 10)
    assert final.status is TaskStatus.COMPLETED
    log = await manager.get_log(task.id)
    assert log[0]["arguments"] == {"path": "/tmp/x"}
    assert [e["content"] for e in log[1:]] == ["after", "ok"]
