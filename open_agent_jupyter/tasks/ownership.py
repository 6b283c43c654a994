"""Many servers, one store (DESIGN.md §12.4): leases, recovery, claims and requests.

Each server instance has a row in ``servers`` with a lease it renews every
``TICK_SECONDS`` (valid ``LEASE_SECONDS``); each task row names its owner. An owner on
another host is gone when its lease has expired; an owner on this host when its PID is
gone or has another start time (checked in /proc, which is exact: a server whose event
loop stalls past its lease on a busy machine keeps its tasks instead of having them run
twice); any owner is gone when it has no row at all (a clean stop deletes its row and hands
its pending tasks back). At each tick, in one transaction (so exactly one live server
acts on each gone owner): the gone owners' running tasks become ``failed`` with an
``INTERRUPTED`` entry appended, their recorded processes are handed back for killing,
and their pending tasks become this server's. The same tick takes the open requests
for tasks this server owns.

Requests are how a server that does not own a task acts on it: it stores
``(task_id, kind, payload)`` and the owner carries it out at its next tick. ``stop`` is
the one kind here; another kind (an approval answer, say) needs only a handler
registered with ``TaskManager.on_request(kind, handler)``.

Every function here runs on the store's thread (``TaskStore.call``).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..agent.events import LogEntry, now_iso
from ..procs import boot_id, process_start
from .approvals import cancel_pending
from .models import Task, TaskStatus
from .store import UPDATE_TASK, task_row, transaction

LEASE_SECONDS = 10.0
TICK_SECONDS = 2.0
INTERRUPTED = "interrupted: its server stopped"
_UNFINISHED = (TaskStatus.PENDING.value, TaskStatus.RUNNING.value)


@dataclass(frozen=True)
class Identity:
    """One server instance: a fresh id per start, and the process that runs it."""

    instance: str
    host: str
    pid: int
    started: str

    @classmethod
    def of_this_process(cls) -> Identity:
        """A new instance id for this process."""
        pid = os.getpid()
        return cls(uuid.uuid4().hex, socket.gethostname(), pid,
                   process_start(pid) or f"{boot_id()}:?")


@dataclass
class Tick:
    """What one tick found: work for the server that ran it."""

    failed: list[str] = field(default_factory=list)
    claimed: list[tuple[Task, int]] = field(default_factory=list)  # (task, last seq)
    groups: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def is_alive(row: tuple[Any, ...], me: Identity, now: float) -> bool:
    """Whether the server of a ``servers`` row still holds its tasks."""
    instance, host, pid, started, lease_until = row
    if instance == me.instance:
        return True
    if host == me.host:  # the process itself says it: exact, even while its loop is stalled
        return process_start(pid) == started
    return lease_until >= now


def tick(db: sqlite3.Connection, me: Identity, now: float,
         groups: Iterable[tuple[str, int | None, str | None]] = ()) -> Tick:
    """Renew our lease, record our tasks' new process ``groups`` (task id, PID, start),
    recover gone owners' tasks, take our open requests."""
    found = Tick()
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO servers VALUES (?, ?, ?, ?, ?)",
                   (me.instance, me.host, me.pid, me.started, now + LEASE_SECONDS))
        db.executemany("INSERT OR IGNORE INTO procs (task_id, pid, started, host) "
                       "VALUES (?, ?, ?, ?)", [(*g, me.host) for g in groups])
        rows = db.execute("SELECT * FROM servers").fetchall()
        alive = {row[0] for row in rows if is_alive(row, me, now)}
        gone = [row[0] for row in rows if row[0] not in alive]
        db.executemany("DELETE FROM servers WHERE instance = ?", [(i,) for i in gone])
        for task_id, status, owner, data in db.execute(
                "SELECT id, status, owner, data FROM tasks WHERE status IN (?, ?) ORDER BY num",
                _UNFINISHED).fetchall():
            if owner in alive:
                continue
            task = Task.from_dict(json.loads(data))
            if status == TaskStatus.RUNNING.value:
                _fail(db, task, INTERRUPTED, me)
                found.failed.append(task_id)
                found.groups[task_id] = _groups(db, task_id, me)
            else:
                db.execute("UPDATE tasks SET owner = ? WHERE id = ?", (me.instance, task_id))
                found.claimed.append((task, _last_seq(db, task_id)))
        found.requests = _take_requests(db, me, now)
    return found


def release(db: sqlite3.Connection, me: Identity) -> None:
    """A clean stop: hand our pending tasks back and delete our lease."""
    with transaction(db):
        db.execute("UPDATE tasks SET owner = NULL WHERE owner = ? AND status = ?",
                   (me.instance, TaskStatus.PENDING.value))
        db.execute("DELETE FROM servers WHERE instance = ?", (me.instance,))


def fail_task(db: sqlite3.Connection, task: Task, reason: str, me: Identity) -> None:
    """Mark a stored task ``failed`` with ``reason`` appended to its log (one transaction)."""
    with transaction(db):
        _fail(db, task, reason, me)


def add_request(db: sqlite3.Connection, task_id: str, kind: str,
                payload: dict[str, Any]) -> None:
    """Store a request for the owner of ``task_id``."""
    with transaction(db):
        db.execute("INSERT INTO requests (task_id, kind, payload, created_at) VALUES (?,?,?,?)",
                   (task_id, kind, json.dumps(payload), time.time()))


def forget_groups(db: sqlite3.Connection, task_id: str) -> None:
    """Forget the process groups of a task that has ended."""
    with transaction(db):
        db.execute("DELETE FROM procs WHERE task_id = ?", (task_id,))


def _fail(db: sqlite3.Connection, task: Task, reason: str, me: Identity) -> None:
    seq = cancel_pending(db, task.id, reason, _last_seq(db, task.id) + 1)
    entry = LogEntry("error", reason, seq=seq)
    task.status, task.error, task.finished_at = TaskStatus.FAILED, reason, now_iso()
    db.execute("INSERT OR IGNORE INTO log (task_id, seq, entry) VALUES (?, ?, ?)",
               (task.id, entry.seq, json.dumps(entry.to_dict(), default=str)))
    db.execute(UPDATE_TASK, task_row(task, id_first=False))
    db.execute("UPDATE tasks SET owner = ? WHERE id = ?", (me.instance, task.id))


def _last_seq(db: sqlite3.Connection, task_id: str) -> int:
    row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM log WHERE task_id = ?",
                     (task_id,)).fetchone()
    return int(row[0])


def _groups(db: sqlite3.Connection, task_id: str, me: Identity) -> list[tuple[int, str]]:
    """The task's recorded groups on this host (their rows go: they are killed next)."""
    rows = db.execute("SELECT pid, started FROM procs WHERE task_id = ? AND host = ?",
                      (task_id, me.host)).fetchall()
    db.execute("DELETE FROM procs WHERE task_id = ? AND host = ?", (task_id, me.host))
    return [(int(pid), str(started)) for pid, started in rows]


def _take_requests(db: sqlite3.Connection, me: Identity,
                   now: float) -> list[tuple[str, str, dict[str, Any]]]:
    rows = db.execute(
        "SELECT r.id, r.task_id, r.kind, r.payload FROM requests r JOIN tasks t "
        "ON t.id = r.task_id WHERE r.done_at IS NULL AND t.owner = ? ORDER BY r.id",
        (me.instance,)).fetchall()
    db.executemany("UPDATE requests SET done_at = ? WHERE id = ?", [(now, r[0]) for r in rows])
    return [(task_id, kind, json.loads(payload)) for _, task_id, kind, payload in rows]
