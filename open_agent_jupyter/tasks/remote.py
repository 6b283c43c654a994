"""Tasks another server owns, served from the store (DESIGN.md §12.4).

Only the owner runs a task and pushes its entries to its own subscribers as they
happen; any other server reads the store every ``POLL_SECONDS``. The owner commits
entries within ``writer.BATCH_DELAY`` (50 ms), so such a stream is at most 250 ms behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from .live import Event
from .models import Task
from .store import TaskStore

POLL_SECONDS = 0.2


async def follow_stored(store: TaskStore, task: Task, after: int) -> AsyncIterator[Event]:
    """``("log", entry)`` for each stored entry after ``after`` until the task ends, then done."""
    last = after
    while True:
        # The status first: an owner stores every entry before the final status, so
        # once the status read is final, the log read after it is complete.
        final = task.status.is_final
        for entry in await store.get_log(task.id, last):
            last = entry["seq"]
            yield ("log", entry)
        if final:
            yield ("done", task.done_info())
            return
        await asyncio.sleep(POLL_SECONDS)
        task = await store.get_task(task.id) or task


async def wait_stored(store: TaskStore, task: Task, timeout: float | None = None) -> Task:
    """The task once the store shows it final (or as it is when ``timeout`` has passed)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not task.status.is_final and (deadline is None or loop.time() < deadline):
        await asyncio.sleep(POLL_SECONDS)
        task = await store.get_task(task.id) or task
    return task
