"""TaskStore against real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from open_agent_jupyter.agent.events import LogEntry
from open_agent_jupyter.exceptions import ConfigError
from open_agent_jupyter.tasks.migrations import MIGRATIONS
from open_agent_jupyter.tasks.models import Task, TaskStatus
from open_agent_jupyter.tasks.store import SCHEMA_VERSION, TaskStore
from open_agent_jupyter.types import Usage


def make_task(text: str, status: TaskStatus = TaskStatus.PENDING, cost: float = 0.0) -> Task:
    return Task(task=text, model="m", status=status, usage=Usage(cost_usd=cost))


def entries(*seqs: int) -> list[dict]:
    return [LogEntry("thinking", f"entry {s}", seq=s).to_dict() for s in seqs]


@pytest.fixture
async def store(tmp_path: Path):
    s = TaskStore(tmp_path / "db" / "tasks.sqlite")
    await s.open()
    yield s
    await s.close()


async def test_new_file_is_wal_with_schema_version(store: TaskStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"tasks", "log"} <= tables
    finally:
        conn.close()


async def test_reopen_keeps_tasks_and_logs(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite"
    first = TaskStore(path)
    await first.open()
    task = make_task("keep me", TaskStatus.COMPLETED, cost=0.25)
    task.result, task.estimate = "kept", {"iterations": 3}
    await first.insert_task(task)
    await first.append_log(task.id, entries(1, 2, 3))
    await first.close()

    second = TaskStore(path)
    await second.open()
    try:
        again = await second.get_task(task.id)
        assert again == task
        assert [e["seq"] for e in await second.get_log(task.id)] == [1, 2, 3]
        assert [e["content"] for e in await second.get_log(task.id, after=2)] == ["entry 3"]
        assert await second.last_seq(task.id) == 3
        assert await second.last_seq("unknown") == 0
        assert await second.get_task("unknown") is None
    finally:
        await second.close()


async def test_update_task_and_figures_with_log(store: TaskStore) -> None:
    task = make_task("t")
    await store.insert_task(task)
    task.status, task.iterations = TaskStatus.RUNNING, 2
    task.usage = Usage(prompt_tokens=5, cost_usd=0.5)
    await store.append_logs({task.id: entries(1)}, [task])
    stored = await store.get_task(task.id)
    assert stored is not None
    assert (stored.status, stored.iterations, stored.usage.prompt_tokens) == (
        TaskStatus.RUNNING, 2, 5)
    task.status = TaskStatus.FAILED
    await store.update_task(task)
    assert (await store.tasks_with_status("failed"))[0].id == task.id


async def test_list_pages_newest_first_with_status_filter(store: TaskStore) -> None:
    statuses = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.COMPLETED,
                TaskStatus.PENDING, TaskStatus.COMPLETED]
    tasks = [make_task(f"task {i}", s, cost=0.1) for i, s in enumerate(statuses)]
    for task in tasks:
        await store.insert_task(task)

    page, total = await store.list_tasks(limit=2, offset=1)
    assert total == 5
    assert [t.task for t in page] == ["task 3", "task 2"]
    done, total_done = await store.list_tasks(status="completed", limit=10)
    assert total_done == 3
    assert [t.task for t in done] == ["task 4", "task 2", "task 0"]
    empty, total_none = await store.list_tasks(status="cancelled")
    assert (empty, total_none) == ([], 0)
    assert [t.task for t in await store.tasks_with_status("completed")] == [
        "task 0", "task 2", "task 4"]
    with pytest.raises(ValueError):
        await store.list_tasks(limit=-1)

    stats = await store.stats()
    assert stats["total"] == 5
    assert stats["by_status"] == {"pending": 1, "running": 0, "completed": 3, "failed": 1,
                                  "cancelled": 0}
    assert stats["cost_by_status"]["completed"] == pytest.approx(0.3)


async def test_memory_database() -> None:
    store = TaskStore(":memory:")
    await store.open()
    try:
        task = make_task("in memory")
        await store.insert_task(task)
        await store.append_log(task.id, entries(1))
        assert (await store.get_task(task.id)) == task
        assert len(await store.get_log(task.id)) == 1
    finally:
        await store.close()


async def test_work_runs_on_one_worker_thread(store: TaskStore) -> None:
    # sqlite3 connections refuse use from another thread than the one that opened them,
    # so every call succeeding proves they all ran on the store's own worker thread.
    main = threading.get_ident()
    seen = {await store._run(threading.get_ident) for _ in range(5)}
    assert len(seen) == 1 and main not in seen
    await store.insert_task(make_task("x"))


async def test_refuses_a_newer_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError, match=rf"future\.sqlite has schema version "
                       rf"{SCHEMA_VERSION + 1}, made by a newer version"):
        await TaskStore(path).open()


# The version-1 schema exactly as the first release made it (tasks and log only).
_V1_SCHEMA = """
CREATE TABLE tasks (num INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, created_at TEXT NOT NULL, cost_usd REAL NOT NULL DEFAULT 0,
    data TEXT NOT NULL);
CREATE INDEX tasks_status ON tasks (status, num);
CREATE TABLE log (task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (task_id, seq)) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


async def test_version_1_database_is_migrated_and_keeps_its_tasks(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    task = make_task("from the first release", TaskStatus.COMPLETED, cost=0.5)
    conn = sqlite3.connect(path)
    conn.executescript(_V1_SCHEMA)
    conn.execute("INSERT INTO tasks (id, status, created_at, cost_usd, data) VALUES (?,?,?,?,?)",
                 (task.id, "completed", task.created_at, 0.5, json.dumps(task.summary())))
    conn.execute("INSERT INTO log VALUES (?, 1, ?)", (task.id, json.dumps(entries(1)[0])))
    conn.commit()
    conn.close()
    store = TaskStore(path)
    await store.open()
    try:
        assert await store.get_task(task.id) == task
        assert [e["seq"] for e in await store.get_log(task.id)] == [1]
        await store.insert_task(make_task("after the migration"))
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION > 1
        columns = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
        assert "owner" in columns  # a column migration 2 added to the old table
    finally:
        conn.close()


def test_every_migration_step_counts_in_the_version() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1


async def test_refuses_a_foreign_database(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.close()
    with pytest.raises(ConfigError, match="not a task database"):
        await TaskStore(path).open()


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "t.sqlite")
    with pytest.raises(RuntimeError, match="not open"):
        await store.get_task("x")
    await store.open()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await store.insert_task(make_task("late"))


async def test_log_rows_are_appended_never_replaced(store: TaskStore) -> None:
    task = make_task("t")
    await store.insert_task(task)
    await store.append_log(task.id, entries(1, 2))
    late = LogEntry("error", "a second writer's entry 2", seq=2).to_dict()
    await store.append_log(task.id, [late, *entries(3)])
    assert [e["content"] for e in await store.get_log(task.id)] == [
        "entry 1", "entry 2", "entry 3"]
