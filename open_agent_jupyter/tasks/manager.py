"""TaskManager: runs tasks on the event loop, stores them, fans their logs out.

Tasks run as asyncio tasks on the running loop, at most ``max_running`` at once;
the others wait as ``pending`` in submission order. Each task's backend gets a
sink that numbers entries (seq 1, 2, …), pushes them to subscribers at once and
queues them for a batched write (``LogWriter``), so a slow disk never delays a
stream. Only tasks that have not ended are kept in memory.

Many servers may share one store (``ownership``): each task is run only by its
owner; at start and every 2 s the manager renews its lease, fails the running tasks of
gone owners ("interrupted: its server stopped"), kills what their commands left and
claims their pending tasks; other servers' tasks are read and followed from the store
(``remote``), and a stop for one of them is stored as a request its owner carries out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from typing import Any

from ..agent.approval import Gate
from ..agent.events import LogEntry, now_iso
from ..backends import make_backend
from ..config import TASK_OVERRIDES, Settings
from ..exceptions import ConfigError, OpenAgentError, StorageError, TaskNotFoundError
from ..procs import set_watch
from ..reaper import Reaper
from ..types import Backend, NotebookContextFactory, Outcome
from . import ownership
from .approvals import TaskDesk
from .approving import Approvals
from .faults import StorageFaults
from .limits import DailySpend, check_model, policy_for, today
from .live import CLOSED, Event, LiveTask, Subscription, follow, merge_entries
from .models import FINAL, Task, TaskStatus
from .ownership import INTERRUPTED, TICK_SECONDS, Identity
from .redact import redact_text, secret_values
from .remote import follow_stored, wait_stored
from .shared import RequestHandler, SharedStore
from .store import TaskStore
from .workdir import check_working_dir
from .writer import LogWriter

log = logging.getLogger(__name__)

__all__ = ["INTERRUPTED", "SHUTTING_DOWN", "TaskManager"]
SHUTTING_DOWN = "server shutting down"
#: How long a stop of another server's task waits for its owner (which acts each tick).
REMOTE_STOP_WAIT = 5 * TICK_SECONDS + 20
#: Seconds a task's end waits for its kernel to be released (shut down).
RELEASE_TIMEOUT = 30.0
_FINAL_VALUES = frozenset(s.value for s in FINAL)


class TaskManager(SharedStore, StorageFaults, Approvals):
    """Submits, runs, stops and follows tasks; the one object the surfaces talk to."""

    def __init__(self, settings: Settings, store: TaskStore, *, max_running: int = 4,
                 backend_factory: Callable[[str], Backend] = make_backend,
                 secrets: Iterable[str] = (),
                 notebook_tools: NotebookContextFactory | None = None) -> None:
        """``secrets`` (e.g. the Jupyter token) are masked in logs, with the LLM key;
        ``notebook_tools`` gives each task its kernel and notebooks (none: no notebook tools)."""
        if max_running < 1:
            raise ValueError("max_running must be at least 1")
        self.settings = settings
        self.secrets = secret_values([settings.api_key, *secrets])
        self.store = store
        self.max_running = max_running
        self._backend_factory = backend_factory
        self.notebook_tools = notebook_tools
        self._active: dict[str, LiveTask] = {}
        self._queue: deque[str] = deque()
        self._running = 0
        self._writer: LogWriter | None = None
        self._closed = False
        self._listeners: list[Callable[[Task], None]] = []
        self.identity = Identity.of_this_process()
        self._ticker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._reaper = Reaper()  # sweeps at each tick when this process is a subreaper
        self._unsaved: set[str] = set()  # ended, kept in _active until stored
        self._store_error: str | None = None
        self._handlers: dict[str, RequestHandler] = {"stop": self._stop_request,
                                                     "approval": self._approval_request}
        self.spend = DailySpend(settings.daily_budget_cents)

    # -- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, recover tasks of a previous run, start queued ones."""
        if self._writer is not None:
            return
        await self.store.open()
        self._writer = LogWriter(self.store, self._written, self._figures)
        self._writer.start()
        self.identity = Identity.of_this_process()  # a fresh instance at each start
        try:
            await self._tick()
        except sqlite3.Error as exc:  # a read-only or full file: reads work, health says why
            self._storage_failed(exc)
        self._ticker = asyncio.create_task(self._tick_loop(), name="open-agent-lease")
        day = today()
        self.spend.reset(day, await self.store.cost_since(day))

    async def close(self) -> None:
        """Cancel running tasks (they end ``cancelled``), flush the log, close the store."""
        if self._closed:
            return
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        running = [live.task.id for live in self._active.values()
                   if live.runner is not None and not live.finished.is_set()]
        for task_id in running:  # said before the cancel: the log tells why the task ended
            await self._active[task_id].sink(LogEntry("error", SHUTTING_DOWN))
        await asyncio.gather(*(self.stop(task_id) for task_id in running))
        for live in list(self._active.values()):  # still pending: kept for the next start
            live.end(CLOSED)
        self._active.clear()
        self._queue.clear()
        if self._writer is not None:
            await self._writer.close()
        try:
            await self.store.call(ownership.release, self.identity)
        except (sqlite3.Error, RuntimeError):
            log.exception("could not hand back this server's pending tasks")
        await self.store.close()

    # -- the API -------------------------------------------------------------------

    async def submit(self, task: str, kernel_id: str | None = None, notebook: str | None = None,
                     submitted_by: str | None = None, **overrides: Any) -> Task:
        """Queue a new task; ``ConfigError`` for a bad option, ``ValueError`` if empty.

        ``kernel_id`` and ``notebook`` attach it to a kernel and notebook (checked by the
        surface that knows them); ``submitted_by`` names the person (the Jupyter user)."""
        if self._writer is None or self._closed:
            raise RuntimeError("the task manager is not running (await start() first)")
        if not isinstance(task, str) or not task.strip():
            raise ValueError("the task must not be empty")
        unknown = set(overrides) - set(TASK_OVERRIDES)
        if unknown:
            raise ConfigError(f"unknown task option(s): {', '.join(sorted(unknown))}; "
                              f"allowed: {', '.join(TASK_OVERRIDES)}")
        overrides = self._absolute(overrides)
        await check_working_dir(overrides.get("working_dir"))
        settings = self.settings.with_overrides(**overrides)
        check_model(settings)
        policy = policy_for(self.settings, settings)
        self.spend.check(self._running_tasks())
        record = Task.from_settings(task, settings, policy.preset)
        record.kernel_id, record.notebook = kernel_id, notebook
        record.submitted_by = submitted_by
        try:
            await self.store.insert_task(record, owner=self.identity.instance)
        except sqlite3.Error as exc:
            self._storage_failed(exc)
            raise StorageError(f"the task database {self.store.path} cannot be written: "
                               f"{exc}") from None
        self._admit(record, settings)
        submitted = record.snapshot()
        self._announce(submitted)
        self._pump()
        return submitted

    def _absolute(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """A relative ``working_dir`` is taken from the default one (the server's root dir)."""
        folder = overrides.get("working_dir")
        if isinstance(folder, str) and folder and not os.path.isabs(os.path.expanduser(folder)):
            base = os.path.expanduser(self.settings.working_dir)
            return {**overrides, "working_dir": os.path.normpath(os.path.join(base, folder))}
        return overrides

    async def get(self, task_id: str) -> Task:
        """The task, with live figures while it runs; ``TaskNotFoundError`` if unknown."""
        live = self._active.get(task_id)
        if live is not None:
            return live.snapshot()
        task = await self.store.get_task(task_id)
        if task is None:
            raise TaskNotFoundError(f"no task with id {task_id!r}")
        return task

    async def get_log(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The task's log entries with ``seq > after``."""
        live = self._active.get(task_id)
        if live is None:
            await self.get(task_id)  # raises for an unknown id
            return await self.store.get_log(task_id, after)
        tail = live.unflushed_after(after)  # taken before the read: see live.follow
        return merge_entries(await self.store.get_log(task_id, after), tail)

    async def list_tasks(self, status: str | None = None, limit: int = 50,
                         offset: int = 0) -> tuple[list[Task], int]:
        """A page of tasks, newest first, and the number matching ``status`` in all."""
        if status is not None and status not in {s.value for s in TaskStatus}:
            raise ValueError(f"unknown status {status!r}; use one of "
                             f"{', '.join(s.value for s in TaskStatus)}")
        tasks, total = await self.store.list_tasks(status, limit, offset)
        live = self._active
        return [live[t.id].snapshot() if t.id in live else t for t in tasks], total

    async def stop(self, task_id: str) -> Task:
        """Cancel a task and wait until it has ended; a final task is returned unchanged."""
        live = self._active.get(task_id)
        if live is None:
            task = await self.get(task_id)
            if task.status.is_final:
                return task
            await self.request(task_id, "stop", {})  # another server owns it
            return await wait_stored(self.store, task, REMOTE_STOP_WAIT)
        if live.stop_requested or live.finishing:
            await live.finished.wait()
        elif live.runner is None:  # still queued: it never started
            live.stop_requested = True
            self._queue.remove(task_id)
            await asyncio.shield(self._finish(live, Outcome("cancelled")))
        else:
            live.stop_requested = True
            if live.started:  # else the runner sees stop_requested as it begins
                live.runner.cancel()
            await live.finished.wait()
        return live.task.snapshot()

    async def wait(self, task_id: str) -> Task:
        """Wait until the task has ended and return it."""
        live = self._active.get(task_id)
        if live is None:
            return await wait_stored(self.store, await self.get(task_id))
        await live.finished.wait()
        return live.task.snapshot()

    async def stats(self) -> dict[str, Any]:
        """``{"total", "by_status", "total_cost_usd", "success_rate"}`` over every task."""
        stored = await self.store.stats()
        cost = sum(stored["cost_by_status"][s.value] for s in FINAL)
        cost += sum(live.snapshot().usage.cost_usd for live in self._active.values()
                    if not live.task.status.is_final)
        by_status = stored["by_status"]
        ended = sum(by_status[s.value] for s in FINAL)
        rate = by_status[TaskStatus.COMPLETED.value] / ended if ended else 0.0
        spent = self.spend.spent(self._running_tasks())
        return {"total": stored["total"], "by_status": by_status,
                "total_cost_usd": round(cost, 6), "success_rate": round(rate, 4),
                "today": {"cost_usd": round(spent, 6), "cap_usd": self.spend.cap_usd}}

    async def subscribe(self, task_id: str, after: int = 0) -> AsyncIterator[Event]:
        """``("log", entry)`` for each entry after ``after``, live, then ``("done", {...})``."""
        live = self._active.get(task_id)
        if live is None:  # finished, or run by another server: read from the store
            task = await self.get(task_id)  # raises for an unknown id
            async with aclosing(follow_stored(self.store, task, after)) as items:
                async for item in items:
                    yield item
            return
        # aclosing: leaving this generator early must close the inner one at once,
        # which is what frees the subscription (not whenever it is garbage-collected).
        async with aclosing(follow(live, self.store, after)) as items:
            async for item in items:
                yield item

    def watch(self, task_id: str, limit: int) -> Subscription | None:
        """A bounded subscription to a task this server runs, else None (read the store).

        Items come from the moment of the call: read ``get_log`` after it to replay the
        entries before (an entry may come both ways; ``seq`` tells)."""
        live = self._active.get(task_id)
        return live.subscribe(limit) if live is not None else None

    async def flush(self) -> None:
        """Wait until every log entry recorded so far is committed to the store."""
        if self._writer is not None:
            await self._writer.flush()

    def add_listener(self, listener: Callable[[Task], None]) -> None:
        """Call ``listener(task)`` when a task is created or its status, iterations or cost change."""
        self._listeners.append(listener)

    def _announce(self, task: Task) -> None:
        for listener in list(self._listeners):
            listener(task)

    def _entry_recorded(self, live: LiveTask) -> None:
        """Announce the task when an entry comes with new iterations or cost."""
        if not self._listeners or not live.started:
            return
        figures = (live.state.iterations, live.state.usage.cost_usd)
        if figures != live.announced:
            live.announced = figures
            self._announce(live.snapshot())

    def in_flight(self, task_id: str) -> list[dict[str, Any]]:
        """The task's LLM / tool calls in flight now: ``{"phase", "call_id"?, "since"}`` each."""
        live = self._active.get(task_id)
        if live is None or not live.started:
            return []
        return [dict(call) for call in live.state.in_flight.values()]

    def subscriber_count(self, task_id: str) -> int:
        """How many streams follow the task now (0 once it has ended)."""
        live = self._active.get(task_id)
        return len(live.subscribers) if live is not None else 0

    # -- running -------------------------------------------------------------------

    def _admit(self, task: Task, settings: Settings, last_seq: int = 0) -> None:
        assert self._writer is not None
        live = LiveTask(task, settings, self._writer.enqueue, last_seq, self.secrets)
        live.on_entry = self._entry_recorded
        live.watch = self._watch(task.id)
        self._active[task.id] = live
        self._queue.append(task.id)

    def _pump(self) -> None:
        while not self._closed and self._queue and self._running < self.max_running:
            live = self._active[self._queue.popleft()]
            self._running += 1
            live.runner = asyncio.create_task(self._run(live), name=f"open-agent-task-{live.task.id}")

    async def _run(self, live: LiveTask) -> None:
        live.started = True
        outcome = Outcome("cancelled")
        try:
            if not live.stop_requested:
                outcome = await self._execute(live)
        finally:
            live.finishing = True
            self._running -= 1
            await self._finish(live, outcome)
            self._pump()

    async def _execute(self, live: LiveTask) -> Outcome:
        task = live.task
        task.status = TaskStatus.RUNNING
        task.started_at = now_iso()
        set_watch(live.watch)  # this runner's context: the commands it starts are recorded
        try:
            await self.store.update_task(live.snapshot())
            self._announce(live.snapshot())
            backend = self._backend_factory(task.backend)
            if self.notebook_tools is not None:
                live.state.notebook = self.notebook_tools(task.kernel_id, task.notebook,
                                                          live.settings, task.id)
            sink = self._capped(live)
            live.desk = TaskDesk(task.id, self.store)
            live.state.approver = Gate(policy_for(self.settings, live.settings), live.desk, sink,
                                       live.settings.approval_timeout)
            # Its own asyncio task, so the daily cap can cancel the run without the runner.
            live.work = asyncio.ensure_future(
                backend.run(task.task, live.settings, sink, live.state))
            outcome = await live.work
            if not isinstance(outcome, Outcome) or outcome.status not in _FINAL_VALUES:
                raise TypeError(f"run() returned {outcome!r}, not an Outcome with a final status")
            return outcome
        except asyncio.CancelledError:
            if live.fail_reason:  # stopped by the server (daily budget), not by a person
                await live.sink(LogEntry("error", live.fail_reason))
                return Outcome("failed", error=live.fail_reason)
            return Outcome("cancelled")
        except Exception as exc:  # noqa: BLE001 — the backend boundary: a bug in a backend
            # (or its import) fails this one task with the reason instead of killing the manager.
            log.exception("task %s: the %s backend failed", task.id, task.backend)
            message = f"internal error in the {task.backend} backend: {type(exc).__name__}: {exc}"
            await live.sink(LogEntry("error", message))
            return Outcome("failed", error=message)
        finally:
            await _release(live.state.notebook)

    async def _finish(self, live: LiveTask, outcome: Outcome) -> None:
        if live.started and outcome.status == "cancelled":
            # Stopped: what its commands left running (setsid and double forks too) goes.
            # A task that ended by itself leaves its background jobs to the user.
            await asyncio.to_thread(live.watch.kill)
        task = live.snapshot()
        task.status = TaskStatus(outcome.status)
        task.result = redact_text(outcome.result, self.secrets)
        task.error = redact_text(outcome.error, self.secrets)
        task.finished_at = now_iso()
        stored = False
        try:
            if live.desk is not None:
                await live.desk.flush()  # its approvals are stored before it reads as ended
            stored = await self._store_final(live, task)
        finally:
            self.spend.finished(task)
            # Readers see the final status only now, once it is on disk (a task reported
            # finished survives a crash as finished) — or, when the disk fails, from
            # memory until a later tick stores it (``faults``).
            live.task = task
            if stored:
                self._active.pop(task.id, None)
            else:
                self._unsaved.add(task.id)
            live.end(("done", task.done_info()))
            self._announce(task.snapshot())

    def _written(self, task_id: str, seqs: set[int]) -> None:
        live = self._active.get(task_id)
        if live is not None:
            live.written(seqs)

    def _figures(self, task_id: str) -> Task | None:
        live = self._active.get(task_id)
        return live.snapshot() if live is not None and live.started else None


async def _release(context: Any) -> None:
    """Close a task's kernel access (its subshell; a kernel started for it) at its end."""
    if context is None:
        return
    try:
        await asyncio.shield(asyncio.wait_for(context.kernel.close(), RELEASE_TIMEOUT))
    except (OpenAgentError, OSError, asyncio.TimeoutError) as exc:
        log.warning("could not release a task's kernel: %s", exc)

