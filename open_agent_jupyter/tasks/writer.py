"""LogWriter: batches log entries into the store off the path of live delivery.

The manager's sink hands each numbered entry to ``enqueue()`` (no await, no I/O) and
pushes it to subscribers at once; one background coroutine writes whatever has piled
up in a single transaction, so a slow disk makes batches larger, never delivery later.
A batch that cannot be written (a full disk, a read-only or damaged file) stays queued
and is tried again every ``RETRY_SECONDS``; ``error`` says why until a write succeeds.
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
#: Seconds between attempts to write a batch that failed.
RETRY_SECONDS = 1.0


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
        self._failures = 0
        #: why the last write failed; None once a write has succeeded
        self.error: str | None = None

    def start(self) -> None:
        """Start the background writer on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="open-agent-log-writer")

    def enqueue(self, task_id: str, entry: dict[str, Any]) -> None:
        """Queue one numbered entry for writing (returns at once)."""
        self._rows.append((task_id, entry))
        self._enqueued += 1
        self._wake.set()

    async def flush(self) -> bool:
        """Wait until every entry queued before this call is committed, or a write fails;
        True when they are all stored (a failed batch stays queued for the next attempt)."""
        target, failures = self._enqueued, self._failures
        if self._written >= target:
            return True
        if self._task is None:
            raise RuntimeError("the log writer is not running")
        self._hurry.set()
        async with self._progress:
            await self._progress.wait_for(
                lambda: self._written >= target or self._failures > failures)
        return self._written >= target

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
                stored = await self._write(batch)
                if stored:  # only appends happened meanwhile: the batch is still in front
                    del self._rows[:len(batch)]
                    self._written += len(batch)
                else:
                    self._failures += 1
                async with self._progress:
                    self._progress.notify_all()
                if not stored:
                    await asyncio.sleep(RETRY_SECONDS)

    async def _write(self, batch: list[tuple[str, dict[str, Any]]]) -> bool:
        groups: dict[str, list[dict[str, Any]]] = {}
        for task_id, entry in batch:
            groups.setdefault(task_id, []).append(entry)
        figures = [t for t in map(self._snapshot, groups) if t is not None]
        try:
            await self._store.append_logs(groups, figures)
        except (sqlite3.Error, RuntimeError) as exc:
            # sqlite3.Error: a full, read-only or damaged file; RuntimeError: the store was
            # closed. The entries were delivered live; they stay queued (and in their
            # task's memory) and are written by a later attempt.
            if self.error is None:
                log.error("could not store %d log entries (will retry): %s", len(batch), exc)
            self.error = str(exc)
            return False
        if self.error is not None:
            log.info("log entries are stored again")
        self.error = None
        for task_id, entries in groups.items():
            self._on_written(task_id, {entry["seq"] for entry in entries})
        return True
