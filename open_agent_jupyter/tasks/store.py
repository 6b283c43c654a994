"""TaskStore: tasks and their logs in an embedded SQLite database (DESIGN.md §7).

Every method is a coroutine; the SQLite work itself runs on one dedicated worker
thread (a ``ThreadPoolExecutor`` with one worker), so the event loop never waits on
the disk and writes reach the file in the order they were asked for. ``":memory:"``
works too (one connection, on that thread).

Schema (``PRAGMA user_version`` = ``SCHEMA_VERSION``)::

    tasks(num INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order
          id TEXT UNIQUE, status TEXT, created_at TEXT, cost_usd REAL,
          data TEXT)                              -- Task.summary() as JSON
    log(task_id TEXT, seq INTEGER, entry TEXT,    -- LogEntry.to_dict() as JSON
        PRIMARY KEY (task_id, seq))
    approvals(num, id TEXT UNIQUE, task_id TEXT,  -- each approval's latest state,
              status TEXT, data TEXT)             -- the record as JSON

The schema comes from ``migrations.MIGRATIONS``, run at open: a new file gets every
step, an older one the steps it lacks; a newer file, or a database that is not ours,
is refused with a ``ConfigError`` naming the file.
The database runs in WAL mode with ``synchronous=NORMAL``: readers never wait
for the writer, and a crash loses at most the last commits, never the file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..exceptions import ConfigError
from .migrations import SCHEMA_VERSION, migrate
from .models import Task, TaskStatus

__all__ = ["SCHEMA_VERSION", "TaskStore", "task_row", "transaction"]
UPDATE_TASK = "UPDATE tasks SET status = ?, created_at = ?, cost_usd = ?, data = ? WHERE id = ?"
_T = TypeVar("_T")



class TaskStore:
    """Persistent tasks and logs; open with ``await store.open()``, end with ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # touched only on the worker thread
        self._stale = False  # the last call failed: reopen before the next

    @property
    def is_open(self) -> bool:
        """True between ``open()`` and ``close()``."""
        return self._executor is not None

    async def open(self) -> None:
        """Open (or create) the database; raise ``ConfigError`` for a foreign schema."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="open-agent-store")
        try:
            await self._run(self._connect)
        except (ConfigError, sqlite3.Error, OSError):
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    async def close(self) -> None:
        """Close the database; pending writes finish first (they are queued before)."""
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=False)

    async def insert_task(self, task: Task, owner: str | None = None) -> None:
        """Add a new task, owned by the server instance ``owner`` (DESIGN §12.4)."""
        await self._run(self._insert_task, task, owner)

    async def update_task(self, task: Task) -> None:
        """Store the current fields of a task already inserted."""
        await self._run(self._write_tasks, [task], False)

    async def update_tasks(self, tasks: list[Task]) -> None:
        """Store several tasks' fields in one transaction."""
        await self._run(self._write_tasks, tasks, False)

    async def append_log(self, task_id: str, entries: list[dict[str, Any]]) -> None:
        """Add numbered log entries (dicts with ``seq``) of one task."""
        await self._run(self._write_logs, {task_id: entries}, [])

    async def append_logs(self, batches: dict[str, list[dict[str, Any]]],
                          tasks: Iterable[Task] = ()) -> None:
        """Add entries of several tasks and update ``tasks``' figures, in one transaction."""
        await self._run(self._write_logs, batches, list(tasks))

    async def get_task(self, task_id: str) -> Task | None:
        """The task with that id, or None."""
        rows = await self._run(self._query, "SELECT data FROM tasks WHERE id = ?", (task_id,))
        return Task.from_dict(json.loads(rows[0][0])) if rows else None

    async def get_log(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The task's entries with ``seq > after``, in order."""
        rows = await self._run(
            self._query, "SELECT entry FROM log WHERE task_id = ? AND seq > ? ORDER BY seq",
            (task_id, after))
        return [json.loads(row[0]) for row in rows]

    async def last_seq(self, task_id: str) -> int:
        """The highest ``seq`` stored for the task (0 when it has no entries)."""
        rows = await self._run(
            self._query, "SELECT COALESCE(MAX(seq), 0) FROM log WHERE task_id = ?", (task_id,))
        return int(rows[0][0])

    async def list_tasks(self, status: str | None = None, limit: int = 50,
                         offset: int = 0) -> tuple[list[Task], int]:
        """A page of tasks, newest first, and how many match in all."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        return await self._run(self._page, status, limit, offset)

    async def tasks_with_status(self, status: str) -> list[Task]:
        """Every task with that status, in submission order (oldest first)."""
        rows = await self._run(
            self._query, "SELECT data FROM tasks WHERE status = ? ORDER BY num", (status,))
        return [Task.from_dict(json.loads(row[0])) for row in rows]

    async def put_approval(self, task_id: str, record: dict[str, Any]) -> None:
        """Store an approval record (a new one, or the new state of one stored before)."""
        await self._run(self._write_approval, task_id, record)

    async def get_approvals(self, task_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """The task's approval records, oldest first (only ``status`` ones when given)."""
        sql, params = "SELECT data FROM approvals WHERE task_id = ?", (task_id,)
        if status is not None:
            sql, params = sql + " AND status = ?", (task_id, status)
        rows = await self._run(self._query, sql + " ORDER BY num", params)
        return [json.loads(row[0]) for row in rows]

    async def cost_since(self, since: str) -> float:
        """The cost of the tasks created at or after ``since`` (ISO-8601 UTC), in USD."""
        rows = await self._run(
            self._query, "SELECT COALESCE(SUM(cost_usd), 0) FROM tasks WHERE created_at >= ?",
            (since,))
        return float(rows[0][0])

    async def stats(self) -> dict[str, Any]:
        """``{"total", "by_status": {status: n}, "cost_by_status": {status: usd}}``."""
        rows = await self._run(
            self._query, "SELECT status, COUNT(*), SUM(cost_usd) FROM tasks GROUP BY status", ())
        by_status = {s.value: 0 for s in TaskStatus}
        cost = {s.value: 0.0 for s in TaskStatus}
        for status, count, total in rows:
            by_status[status] = count
            cost[status] = float(total or 0.0)
        return {"total": sum(by_status.values()), "by_status": by_status, "cost_by_status": cost}

    async def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(connection, *args)`` on the store's thread (for modules with their own SQL)."""
        return await self._run(lambda: fn(self._db(), *args))

    # -- the worker thread -------------------------------------------------------

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        if self._executor is None:
            raise RuntimeError("the task store is not open (await store.open() first)")
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._guarded, fn, *args)

    def _guarded(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn`` on a connection that is reopened after a failure.

        A connection SQLite opened read-only (the file was immutable or its mount
        read-only) stays read-only for good: reopening is what lets a fixed file work
        again without a restart.
        """
        if self._stale and self._conn is not None and self.path != ":memory:":
            fresh = self._open_connection()
            self._conn.close()
            self._conn, self._stale = fresh, False
        try:
            return fn(*args)
        except sqlite3.Error:
            self._stale = True
            raise

    def _connect(self) -> None:
        self._conn = self._open_connection()

    def _open_connection(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn, self.path)
        except (ConfigError, sqlite3.Error):
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the task store is closed")
        return self._conn

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._db().execute(sql, params).fetchall()

    def _insert_task(self, task: Task, owner: str | None) -> None:
        with transaction(self._db()) as db:
            db.execute("INSERT INTO tasks (id, status, created_at, cost_usd, data, owner) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (*task_row(task, id_first=True), owner))

    def _write_tasks(self, tasks: list[Task], insert: bool) -> None:
        sql = ("INSERT INTO tasks (id, status, created_at, cost_usd, data) VALUES (?, ?, ?, ?, ?)"
               if insert else UPDATE_TASK)
        rows = [task_row(t, id_first=insert) for t in tasks]
        with transaction(self._db()) as db:
            db.executemany(sql, rows)

    def _write_logs(self, batches: dict[str, list[dict[str, Any]]], tasks: list[Task]) -> None:
        rows = [(task_id, entry["seq"], _json(entry))
                for task_id, entries in batches.items() for entry in entries]
        with transaction(self._db()) as db:
            # Appended, never replaced: an entry already stored under that number stays.
            db.executemany("INSERT OR IGNORE INTO log (task_id, seq, entry) VALUES (?, ?, ?)",
                           rows)
            db.executemany(UPDATE_TASK, [task_row(t, id_first=False) for t in tasks])

    def _write_approval(self, task_id: str, record: dict[str, Any]) -> None:
        with transaction(self._db()) as db:
            db.execute("INSERT INTO approvals (id, task_id, status, data) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                       "data = excluded.data",
                       (record["id"], task_id, record["status"], _json(record)))

    def _page(self, status: str | None, limit: int,
              offset: int) -> tuple[list[Task], int]:
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        db = self._db()
        total = db.execute(f"SELECT COUNT(*) FROM tasks {where}", params).fetchone()[0]
        rows = db.execute(f"SELECT data FROM tasks {where} ORDER BY num DESC LIMIT ? OFFSET ?",
                          (*params, limit, offset)).fetchall()
        return [Task.from_dict(json.loads(row[0])) for row in rows], int(total)


class transaction:
    """``BEGIN … COMMIT`` on an autocommit connection, ``ROLLBACK`` on an error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # SQLite rolls back by itself on a full disk
            self.conn.execute("ROLLBACK")


def _json(data: dict[str, Any]) -> str:
    """JSON text; a value JSON has no type for (a backend's Path, say) is stored as text,
    so one odd entry can never fail the write of a whole batch."""
    return json.dumps(data, ensure_ascii=False, default=str)


def task_row(task: Task, id_first: bool) -> tuple[Any, ...]:
    """The column values of ``task`` (its id first for an INSERT, last for ``UPDATE_TASK``)."""
    data = _json(task.summary())
    values = (task.status.value, task.created_at, task.usage.cost_usd, data)
    return (task.id, *values) if id_first else (*values, task.id)
