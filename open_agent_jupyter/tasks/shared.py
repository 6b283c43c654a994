"""The many-servers side of ``TaskManager`` (DESIGN.md §12.4), as a mixin.

Every ``TICK_SECONDS`` the manager renews its lease and acts on what ``ownership.tick``
found: it kills what gone owners' interrupted tasks left running, admits the pending
tasks it claimed and carries out the requests stored for its tasks.

The request seam: a server that does not own a task calls ``request(task_id, kind,
payload)``; the owner runs the handler registered with ``on_request(kind, handler)`` at
its next tick (``stop`` is registered by the manager; approval answers can be another
kind). A request for a task that has ended is taken and ignored by its handler.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigError
from ..procs import ProcessWatch, kill_task
from ..reaper import Reaper, is_subreaper
from . import ownership
from .ownership import TICK_SECONDS

if TYPE_CHECKING:
    from ..config import Settings
    from .live import LiveTask
    from .models import Task
    from .ownership import Identity
    from .store import TaskStore

log = logging.getLogger(__name__)
RequestHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class SharedStore:
    """Lease, recovery and requests; mixed into ``TaskManager``."""

    store: TaskStore
    settings: Settings
    identity: Identity
    _active: dict[str, LiveTask]
    _handlers: dict[str, RequestHandler]
    _background: set[asyncio.Future[Any]]
    _reaper: Reaper

    def _admit(self, task: Task, settings: Settings, last_seq: int = 0) -> None:
        raise NotImplementedError

    def _pump(self) -> None:
        raise NotImplementedError

    async def stop(self, task_id: str) -> Task:
        raise NotImplementedError

    if TYPE_CHECKING:  # from the StorageFaults mixin
        def _storage_failed(self, exc: BaseException) -> None: ...
        def _storage_ok(self) -> None: ...
        async def _retry_unsaved(self) -> None: ...

    def on_request(self, kind: str, handler: RequestHandler) -> None:
        """Carry out requests of ``kind`` (stored by other servers) for tasks owned here."""
        self._handlers[kind] = handler

    async def request(self, task_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Store a request for the owner of ``task_id`` (it acts at its next tick)."""
        await self.store.call(ownership.add_request, task_id, kind, payload)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await self._tick()
            except (sqlite3.Error, RuntimeError) as exc:  # e.g. a full disk: said by health
                self._storage_failed(exc)
                continue
            await self._retry_unsaved()

    async def _tick(self) -> None:
        """Renew the lease; recover gone owners' tasks; carry out requests for ours."""
        # Groups are recorded at the tick, not per command: no store write on a command's
        # path; one that dies within a tick needs no record, and what it left carries
        # its marker, which recovery finds without a record.
        new = [(live.task.id, c) for live in self._active.values() for c in live.watch.unstored()]
        groups = [(task_id, c.pid, c.started) for task_id, c in new]
        found = await self.store.call(ownership.tick, self.identity, time.time(), groups)
        for _, command in new:
            command.stored = True
        self._storage_ok()  # the lease was written: so can the rest be
        if is_subreaper() and self._reaper.due(time.monotonic()):
            await asyncio.to_thread(self._reaper.sweep)
        for task_id, groups in found.groups.items():
            await asyncio.to_thread(kill_task, task_id, groups)
        for task, last_seq in found.claimed:
            if task.id in self._active:
                continue
            try:
                settings = self.settings.with_overrides(**task.overrides)
            except ConfigError as exc:  # a setting that was valid when it was submitted
                await self.store.call(ownership.fail_task, task, str(exc), self.identity)
                continue
            self._admit(task, settings, last_seq)
        for task_id, kind, payload in found.requests:
            handler = self._handlers.get(kind)
            if handler is None:
                log.warning("task %s: no handler for a %r request", task_id, kind)
                continue
            self._spawn(handler(task_id, payload))
        self._pump()

    async def _stop_request(self, task_id: str, payload: dict[str, Any]) -> None:
        if task_id in self._active:
            await self.stop(task_id)

    def _spawn(self, work: Awaitable[Any]) -> None:
        """Run ``work`` in the background, keeping a reference until it ends."""
        future = asyncio.ensure_future(work)
        self._background.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._background.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("background work failed: %r", future.exception())

    def _watch(self, task_id: str) -> ProcessWatch:
        """A task's process watch (its new command groups are stored at each tick)."""
        return ProcessWatch(task_id)
