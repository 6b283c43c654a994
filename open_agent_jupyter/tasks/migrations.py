"""Schema migrations of the task database (DESIGN.md §12.4).

``MIGRATIONS`` is an ordered list of steps; ``PRAGMA user_version`` counts how many a
database has had. At open, a new file gets every step, an older one the steps it lacks
(each in the same transaction as the version bump, so a crash leaves the old version);
a newer one is refused naming the file. Steps are additive: add tables, columns and
indexes; never drop or rewrite what an older version of the package still reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..exceptions import ConfigError

#: A step: SQL statements separated by ``;`` or a function of the connection
#: (called inside the migration's transaction).
Step = str | Callable[[sqlite3.Connection], None]

_V1_TASKS_AND_LOG = """
CREATE TABLE tasks (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    cost_usd REAL NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX tasks_status ON tasks (status, num);
CREATE TABLE log (
    task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
"""

# Many servers on one store (§12.4): each server's lease; each task's owner; requests
# for the owner (stop, approval answers) from other servers; each task's processes.
_V2_OWNERS = """
CREATE TABLE servers (
    instance TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    lease_until REAL NOT NULL
);
ALTER TABLE tasks ADD COLUMN owner TEXT;
CREATE INDEX tasks_owner ON tasks (owner, status);
CREATE TABLE requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX requests_open ON requests (done_at, task_id);
CREATE TABLE procs (
    task_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    host TEXT NOT NULL,
    cgroup TEXT,
    PRIMARY KEY (task_id, pid, started)
);
"""

# Approvals (§9, §12.5): one row per approval record, its latest state.
_V3_APPROVALS = """
CREATE TABLE approvals (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX approvals_task ON approvals (task_id, num);
"""

# Append new migrations at the end (never edit or reorder a step that has landed:
# databases out there already have it). SCHEMA_VERSION follows from the length.
MIGRATIONS: list[Step] = [
    _V1_TASKS_AND_LOG,
    _V2_OWNERS,
    _V3_APPROVALS,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database at ``path`` to ``SCHEMA_VERSION``; return the version it had."""
    if _check(conn, path) == SCHEMA_VERSION:
        return SCHEMA_VERSION  # nothing to write: a read-only file still opens (and says so later)
    conn.execute("BEGIN IMMEDIATE")  # one server migrates; the others wait, then see it done
    try:
        version = _check(conn, path)
        for step in MIGRATIONS[version:]:
            _apply(conn, step)
        if version != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version


def _check(conn: sqlite3.Connection, path: str) -> int:
    """The database's version; ``ConfigError`` for a newer or a foreign database."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"the task database {path} has schema version {version}, made by a newer "
            f"version of open-agent-jupyter; this one reads schema versions up to "
            f"{SCHEMA_VERSION}. Upgrade open-agent-jupyter or point the task database "
            "setting at another file.")
    if version == 0 and conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
        raise ConfigError(
            f"the task database {path} has tables that are not a task database. "
            "Point the task database setting at another file.")
    return version


def _apply(conn: sqlite3.Connection, step: Step) -> None:
    if callable(step):
        step(conn)
        return
    for statement in step.split(";"):
        if statement.strip():
            conn.execute(statement)
