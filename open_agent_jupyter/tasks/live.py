"""LiveTask: a pending or running task held in memory, and following its log.

Only tasks that have not ended live here (finished ones are read back from the
store), so memory does not grow with the number of finished tasks. A live task
keeps the entries not yet committed to the store (``unflushed``) and one
``Subscription`` per follower, filled by the sink the moment an entry exists.

Every follower gets the same entry dict (one object, never copied), so a surface that
encodes it can encode it once for all. A subscription holds at most ``limit`` entries
(the server's streams set one); past that it is marked ``overflowed`` and emptied, and
its follower resumes from the store. A follower may instead take each item as it comes
(``on_push``): then nothing is held here at all.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
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
        self.subscribers: set[Subscription] = set()
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
        item = ("log", data)
        for subscription in list(self.subscribers):
            subscription.push(item)
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
        for subscription in list(self.subscribers):
            subscription.push(item)
        self.finished.set()

    def subscribe(self, limit: int | None = None) -> Subscription:
        """A new follower of the items from now on (at most ``limit`` held)."""
        subscription = Subscription(self, limit)
        self.subscribers.add(subscription)
        if self.finished.is_set():  # it ended before (its final state not stored yet)
            subscription.push(("done", self.task.done_info()))
        return subscription


class Subscription:
    """One follower of a live task: the items pushed since it began, bounded."""

    def __init__(self, live: LiveTask, limit: int | None) -> None:
        self.limit = limit
        self.items: deque[Event] = deque()
        self.ready = asyncio.Event()
        #: more than ``limit`` entries were waiting: they were dropped (resume from the store)
        self.overflowed = False
        #: when set, each item goes straight to it instead of into ``items``
        self.on_push: Callable[[Event], None] | None = None
        self._live = live

    def push(self, item: Event) -> None:
        """Deliver one item (the sink calls this)."""
        if self.on_push is not None:
            self.on_push(item)
            return
        if self.overflowed:
            return
        if item[0] == "log" and self.limit is not None and len(self.items) >= self.limit:
            self.overflowed = True
            self.items.clear()  # given back now, not when the follower gets round to it
        else:
            self.items.append(item)
        self.ready.set()

    def take(self) -> list[Event]:
        """The items waiting, oldest first; the subscription is empty afterwards."""
        items = list(self.items)
        self.items.clear()
        self.ready.clear()
        return items

    def peers(self) -> int:
        """How many subscriptions follow the task now (this one included)."""
        return len(self._live.subscribers)

    def close(self) -> None:
        """Stop following (idempotent)."""
        self._live.subscribers.discard(self)
        self.items.clear()
        self.on_push = None


def merge_entries(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries from several sources, one per ``seq``, in order."""
    by_seq = {entry["seq"]: entry for entries in lists for entry in entries}
    return [by_seq[seq] for seq in sorted(by_seq)]


async def follow(live: LiveTask, store: TaskStore, after: int) -> AsyncIterator[Event]:
    """Replay ``live``'s entries after ``after``, then follow it live until it ends."""
    # Subscribe before reading the store: an entry is either committed before the
    # read starts, still in ``unflushed`` now, or created later and so pushed to us.
    subscription = live.subscribe()
    tail = live.unflushed_after(after)
    try:
        last = after
        for entry in merge_entries(await store.get_log(live.task.id, after), tail):
            last = entry["seq"]
            yield ("log", entry)
        while True:
            await subscription.ready.wait()
            for kind, data in subscription.take():
                if kind == "log":
                    if data["seq"] > last:
                        last = data["seq"]
                        yield ("log", data)
                    continue
                if kind == "done":
                    yield ("done", data)
                return
    finally:
        subscription.close()
