"""LiveTask: a pending or running task held in memory, and following its log.

Only tasks that have not ended live here (finished ones are read back from the
store), so memory does not grow with the number of finished tasks. A live task
keeps the entries not yet committed to the store (``unflushed``) and one
``asyncio.Queue`` per subscriber, filled by the sink the moment an entry exists.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..agent.events import LogEntry
from ..config import Settings
from ..procs import ProcessWatch
from ..types import RunState
from .approvals import TaskDesk
from .models import Task
from .redact import redact_entry
from .store import TaskStore

#: Queue item that ends a subscription without a ``done`` event (the manager closed).
CLOSED = ("closed", {})
Event = tuple[str, dict[str, Any]]


class LiveTask:
    """The in-memory side of a task that has not ended yet."""

    def __init__(self, task: Task, settings: Settings,
                 enqueue: Callable[[str, dict[str, Any]], None], last_seq: int = 0,
                 secrets: tuple[str, ...] = ()) -> None:
        self.task = task
        self.secrets = secrets
        self.settings = settings
        self.state = RunState()
        self.last_seq = last_seq
        self.unflushed: list[dict[str, Any]] = []
        self.subscribers: set[asyncio.Queue[Event]] = set()
        self.finished = asyncio.Event()
        self.runner: asyncio.Task[None] | None = None
        #: the backend's run inside the runner (what the daily cap cancels)
        self.work: asyncio.Future[Any] | None = None
        #: the runner coroutine has begun / a stop was asked for / the backend has returned
        self.started = False
        self.stop_requested = False
        self.finishing = False
        #: called after each entry (the manager announces changed figures from it)
        self.on_entry: Callable[[LiveTask], None] | None = None
        #: the (iterations, cost) last announced to the task list's listeners
        self.announced: tuple[int, float] = (0, 0.0)
        #: the commands the task starts (the manager binds it to the store)
        self.watch = ProcessWatch(task.id)
        #: why the server stopped it (the daily cap): the task ends failed, not cancelled
        self.fail_reason: str | None = None
        #: where its approvals wait while it runs (set as it starts)
        self.desk: TaskDesk | None = None
        self._enqueue = enqueue

    async def sink(self, entry: LogEntry) -> None:
        """The backend's LogSink: number the entry, deliver it live, queue its write."""
        self.last_seq += 1
        entry.seq = self.last_seq
        data = redact_entry(entry.to_dict(), self.secrets)
        self.unflushed.append(data)
        for queue in self.subscribers:
            queue.put_nowait(("log", data))
        self._enqueue(self.task.id, data)
        if self.on_entry is not None:
            self.on_entry(self)

    def written(self, seqs: set[int]) -> None:
        """Forget the entries numbered ``seqs``: they are in the store now.

        Only those: entries of an earlier batch whose write failed stay here (and so in
        ``get_log`` and replays) while the task runs.
        """
        self.unflushed = [e for e in self.unflushed if e["seq"] not in seqs]

    def unflushed_after(self, after: int) -> list[dict[str, Any]]:
        """The entries not yet stored with ``seq > after``."""
        return [e for e in self.unflushed if e["seq"] > after]

    def snapshot(self) -> Task:
        """A copy of the task with the live figures the backend has reported."""
        task = self.task.snapshot()
        if self.started:
            task.iterations = self.state.iterations
            task.usage = copy.deepcopy(self.state.usage)
            task.estimate = copy.deepcopy(self.state.estimate)
        return task

    def end(self, item: Event) -> None:
        """Give every subscriber its last item and mark the task finished."""
        for queue in self.subscribers:
            queue.put_nowait(item)
        self.finished.set()


def merge_entries(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries from several sources, one per ``seq``, in order."""
    by_seq = {entry["seq"]: entry for entries in lists for entry in entries}
    return [by_seq[seq] for seq in sorted(by_seq)]


async def follow(live: LiveTask, store: TaskStore, after: int) -> AsyncIterator[Event]:
    """Replay ``live``'s entries after ``after``, then follow it live until it ends."""
    # Register before reading the store: an entry is either committed before the
    # read starts, still in ``unflushed`` now, or created later and so queued to us.
    queue: asyncio.Queue[Event] = asyncio.Queue()
    live.subscribers.add(queue)
    tail = live.unflushed_after(after)
    try:
        last = after
        for entry in merge_entries(await store.get_log(live.task.id, after), tail):
            last = entry["seq"]
            yield ("log", entry)
        if live.finished.is_set() and queue.empty():  # it ended before we came (not stored)
            yield ("done", live.task.done_info())
            return
        while True:
            kind, data = await queue.get()
            if kind == "log":
                if data["seq"] > last:
                    last = data["seq"]
                    yield ("log", data)
                continue
            if kind == "done":
                yield ("done", data)
            return
    finally:
        live.subscribers.discard(queue)
