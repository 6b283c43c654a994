"""LogWriter: batches log entries into the store off the path of live delivery.

The manager's sink hands each numbered entry to ``enqueue()`` (no await, no I/O) and
pushes it to subscribers at once; one background coroutine writes whatever has piled
up in a single transaction, so a slow disk makes batches larger, never delivery later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from .models import Task
from .store import TaskStore

log = logging.getLogger(__name__)

#: Most entries written in one transaction (bounds the time one write holds the worker).
MAX_BATCH = 1000
#: How long entries may pile up before a transaction: a busy task then costs a commit
#: every 50 ms instead of one per entry. Live delivery never waits for the disk.
BATCH_DELAY = 0.05


class LogWriter:
    """Writes queued entries in batches; ``flush()`` waits until all queued so far are stored."""

    def __init__(self, store: TaskStore, on_written: Callable[[str, set[int]], None],
                 snapshot: Callable[[str], Task | None]) -> None:
        """``on_written(task_id, seqs)`` after a commit; ``snapshot(id)`` gives live figures."""
        self._store = store
        self._on_written = on_written
        self._snapshot = snapshot
        self._rows: list[tuple[str, dict[str, Any]]] = []
        self._enqueued = 0
        self._written = 0
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()  # a flush() is waiting: write without the batch delay
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background writer on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="open-agent-log-writer")

    def enqueue(self, task_id: str, entry: dict[str, Any]) -> None:
        """Queue one numbered entry for writing (returns at once)."""
        self._rows.append((task_id, entry))
        self._enqueued += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every entry queued before this call is committed (or failed)."""
        target = self._enqueued
        if self._written >= target:
            return
        if self._task is None:
            raise RuntimeError("the log writer is not running")
        self._hurry.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)

    async def close(self) -> None:
        """Flush, then stop the background writer."""
        if self._task is None:
            return
        await self.flush()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), BATCH_DELAY)
            self._wake.clear()
            self._hurry.clear()
            while self._rows:
                batch = self._rows[:MAX_BATCH]
                del self._rows[:MAX_BATCH]
                await self._write(batch)
                self._written += len(batch)
                async with self._progress:
                    self._progress.notify_all()

    async def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        groups: dict[str, list[dict[str, Any]]] = {}
        for task_id, entry in batch:
            groups.setdefault(task_id, []).append(entry)
        figures = [t for t in map(self._snapshot, groups) if t is not None]
        try:
            await self._store.append_logs(groups, figures)
        except (sqlite3.Error, RuntimeError):
            # sqlite3.Error: a full or broken disk; RuntimeError: the store was closed.
            # The entries were delivered live and stay in the manager's memory while
            # their task runs (not retried: a broken disk would only fail again);
            # the writer must keep going for the other tasks.
            log.exception("could not store %d log entries", len(batch))
            return
        for task_id, entries in groups.items():
            self._on_written(task_id, {entry["seq"] for entry in entries})
