"""Storage faults (a full disk, a read-only or damaged database file), as a mixin.

A write that fails never loses what the server knows: log entries stay queued in the
writer and are retried; a task that ended keeps its final state in memory (readers
see it final, never ``running``) and is written again at each tick until it is stored.
If its log could not be written by the time it ends, it ends ``failed`` saying so.
``storage_error`` says why the database cannot be written (``/api/health`` reports
``error`` then, and a submission is refused with that reason); the first write that
succeeds clears it, so freeing the space heals the server without a restart.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from ..agent.events import LogEntry
from . import ownership
from .models import Task, TaskStatus

if TYPE_CHECKING:
    from .live import LiveTask
    from .store import TaskStore
    from .writer import LogWriter

log = logging.getLogger(__name__)
#: Attempts (``writer.RETRY_SECONDS`` apart) to store a log before its task ends failed.
FINAL_ATTEMPTS = 3


class StorageFaults:
    """What a manager does when its database cannot be written; mixed into ``TaskManager``."""

    store: TaskStore
    _active: dict[str, LiveTask]
    _writer: LogWriter | None
    _unsaved: set[str]
    _store_error: str | None

    @property
    def storage_error(self) -> str | None:
        """Why the task database cannot be written now (None when it can)."""
        writer_error = self._writer.error if self._writer is not None else None
        return self._store_error or writer_error

    def _storage_failed(self, exc: BaseException) -> None:
        if self._store_error is None:
            log.error("the task database %s cannot be written: %s", self.store.path, exc)
        self._store_error = str(exc) or type(exc).__name__

    def _storage_ok(self) -> None:
        if self._store_error is not None:
            log.info("the task database %s can be written again", self.store.path)
        self._store_error = None

    async def _store_final(self, live: LiveTask, task: Task) -> bool:
        """Store the log and final state of a task that has ended; False if not (yet)."""
        assert self._writer is not None
        for _ in range(FINAL_ATTEMPTS):
            if await self._writer.flush():
                break
        else:
            reason = f"its log could not be stored: {self._writer.error}"
            task.status, task.error = TaskStatus.FAILED, reason
            await live.sink(LogEntry("error", reason))  # queued: written once it can be
            self._storage_failed(RuntimeError(self._writer.error))
            return False
        return await self._store_state(task)

    async def _store_state(self, task: Task) -> bool:
        try:
            await self.store.update_task(task)
            await self.store.call(ownership.forget_groups, task.id)
        except (sqlite3.Error, RuntimeError) as exc:  # RuntimeError: the store was closed
            self._storage_failed(exc)
            return False
        return True

    async def _retry_unsaved(self) -> None:
        """Store the tasks that ended while the database could not be written."""
        for task_id in list(self._unsaved):
            live = self._active.get(task_id)
            if live is None:
                self._unsaved.discard(task_id)
                continue
            assert self._writer is not None
            if await self._writer.flush() and await self._store_state(live.task):
                self._unsaved.discard(task_id)
                self._active.pop(task_id, None)
