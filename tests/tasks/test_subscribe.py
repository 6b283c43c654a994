"""Following a task's log: replay from the store, then live, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.store import TaskStore
from tests.tasks.scripted import ScriptedBackend
from tests.tasks.test_manager import take


class ControlledStore(TaskStore):
    """A real TaskStore whose log writes can be held back (a stuck disk) and whose
    replay read runs a hook first, so a test can emit entries exactly while a
    subscriber is between registering and reading."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes_open = asyncio.Event()
        self.writes_open.set()
        self.before_read: Callable[[], Awaitable[None]] | None = None
        self.fail_next_write = False

    async def append_logs(self, batches: dict[str, list[dict[str, Any]]], tasks: Any = ()) -> None:
        await self.writes_open.wait()
        if self.fail_next_write:  # what SQLite raises for a full disk
            self.fail_next_write = False
            raise sqlite3.OperationalError("database or disk is full")
        await super().append_logs(batches, tasks)

    async def get_log(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        hook, self.before_read = self.before_read, None
        if hook is not None:
            await hook()
        return await super().get_log(task_id, after)


async def start_manager(settings: Settings, path: Path,
                        backend: ScriptedBackend) -> tuple[TaskManager, ControlledStore]:
    store = ControlledStore(path)
    manager = TaskManager(settings, store, backend_factory=lambda name: backend)
    await manager.start()
    return manager, store


async def test_replay_after_n_then_live(manager: TaskManager, backend: ScriptedBackend) -> None:
    task = await manager.submit("t")
    watcher = manager.subscribe(task.id)
    backend.emit("t", "e1", "e2", "e3", "e4")
    await take(watcher, 4)
    await manager.flush()

    stream = manager.subscribe(task.id, after=2)
    assert [e["seq"] for e in await take(stream, 2)] == [3, 4]
    backend.emit("t", "e5")
    backend.finish("t", "fin")
    rest = [item async for item in stream]
    assert [(k, d["seq"]) for k, d in rest[:-1]] == [("log", 5), ("log", 6)]
    assert rest[-1][0] == "done" and rest[-1][1]["status"] == "completed"
    assert rest[-1][1]["result"] == "fin" and rest[-1][1]["iterations"] == 5
    await watcher.aclose()


async def test_entries_emitted_during_the_replay_read(base_settings: Settings, db_path: Path,
                                                      backend: ScriptedBackend) -> None:
    manager, store = await start_manager(base_settings, db_path, backend)
    try:
        task = await manager.submit("t")
        watcher = manager.subscribe(task.id)
        backend.emit("t", "e1", "e2")
        await take(watcher, 2)
        await manager.flush()                     # 1, 2: in the store

        store.writes_open.clear()                 # the disk is stuck from here
        backend.emit("t", "e3")
        assert [e["seq"] for e in await take(watcher, 1)] == [3]  # delivered all the same
        assert [e["seq"] for e in await store.get_log(task.id)] == [1, 2]

        async def meanwhile() -> None:            # between registering and reading
            backend.emit("t", "e4", "e5")
            await take(watcher, 2)
            store.writes_open.set()
            await manager.flush()                 # 3, 4, 5 reach the store now
            backend.emit("t", "e6")               # only live
            await take(watcher, 1)

        store.before_read = meanwhile
        stream = manager.subscribe(task.id, after=1)
        seqs = [e["seq"] for e in await take(stream, 5)]
        backend.finish("t")
        rest = [item async for item in stream]
        seqs += [d["seq"] for k, d in rest if k == "log"]
        assert seqs == [2, 3, 4, 5, 6, 7]
        assert rest[-1][0] == "done"
        await watcher.aclose()
    finally:
        store.writes_open.set()
        await manager.close()


async def test_replay_while_the_disk_is_stuck(base_settings: Settings, db_path: Path,
                                              backend: ScriptedBackend) -> None:
    manager, store = await start_manager(base_settings, db_path, backend)
    try:
        task = await manager.submit("t")
        watcher = manager.subscribe(task.id)
        backend.emit("t", "e1")
        await take(watcher, 1)
        await manager.flush()                     # 1: in the store
        store.writes_open.clear()
        backend.emit("t", "e2", "e3")
        await take(watcher, 2)                    # 2, 3: only in memory

        async def meanwhile() -> None:
            backend.emit("t", "e4")               # only live
            await take(watcher, 1)

        store.before_read = meanwhile
        stream = manager.subscribe(task.id)
        assert [e["seq"] for e in await take(stream, 4)] == [1, 2, 3, 4]
        assert [e["seq"] for e in await store.get_log(task.id)] == [1]
        assert [e["seq"] for e in await manager.get_log(task.id)] == [1, 2, 3, 4]
        store.writes_open.set()
        backend.finish("t")
        assert [k for k, _ in [item async for item in stream]] == ["log", "done"]
        assert [e["seq"] for e in await store.get_log(task.id)] == [1, 2, 3, 4, 5]
        await watcher.aclose()
    finally:
        store.writes_open.set()
        await manager.close()


async def test_a_finished_task_replays_then_done(base_settings: Settings, db_path: Path,
                                                 backend: ScriptedBackend) -> None:
    manager, _ = await start_manager(base_settings, db_path, backend)
    task = await manager.submit("t")
    backend.emit("t", "e1", "e2")
    backend.finish("t", "answer")
    await manager.wait(task.id)
    await manager.close()

    reopened, _ = await start_manager(base_settings, db_path, backend)
    try:
        items = [item async for item in reopened.subscribe(task.id, after=1)]
        assert [(k, d.get("seq")) for k, d in items[:-1]] == [("log", 2), ("log", 3)]
        assert items[-1] == ("done", {"status": "completed", "result": "answer", "error": None,
                                      "iterations": 2,
                                      "usage": (await reopened.get(task.id)).usage.to_dict()})
    finally:
        await reopened.close()


async def test_leaving_early_frees_the_subscription(manager: TaskManager,
                                                    backend: ScriptedBackend) -> None:
    task = await manager.submit("t")
    stream = manager.subscribe(task.id)
    other = manager.subscribe(task.id)
    backend.emit("t", "e1")
    await take(stream, 1)
    await take(other, 1)
    assert manager.subscriber_count(task.id) == 2
    await stream.aclose()
    assert manager.subscriber_count(task.id) == 1
    backend.emit("t", "e2")
    async for _kind, _data in other:
        break  # leaving an `async for` and closing the generator frees it too
    await other.aclose()
    assert manager.subscriber_count(task.id) == 0
    backend.finish("t")
    await manager.wait(task.id)


async def test_a_failed_write_is_retried_and_its_entries_stay_readable_meanwhile(
        base_settings: Settings, db_path: Path, backend: ScriptedBackend) -> None:
    manager, store = await start_manager(base_settings, db_path, backend)
    try:
        task = await manager.submit("t")
        watcher = manager.subscribe(task.id)
        store.fail_next_write = True
        backend.emit("t", "e1")
        await take(watcher, 1)
        await manager.flush()                     # 1: its write failed
        assert await store.get_log(task.id) == []
        assert manager.storage_error is not None  # what /api/health reports
        assert [e["seq"] for e in await manager.get_log(task.id)] == [1]
        backend.emit("t", "e2")
        await take(watcher, 1)
        await manager.flush()                     # 1 again, and 2: stored
        assert [e["seq"] for e in await store.get_log(task.id)] == [1, 2]
        assert [e["seq"] for e in await manager.get_log(task.id)] == [1, 2]
        assert manager.storage_error is None
        replay = manager.subscribe(task.id)
        assert [e["seq"] for e in await take(replay, 2)] == [1, 2]
        await replay.aclose()
        await watcher.aclose()
        backend.finish("t")
        await manager.wait(task.id)
    finally:
        await manager.close()
