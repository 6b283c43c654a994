"""The in-process engine: a ``TaskManager`` on a private event loop in a daemon thread.

Used when no Open Agent server is known (plain IPython, a kernel whose server lacks the
extension, or ``--local``). It offers the same methods as ``AgentClient`` and returns the
same JSON shapes, so the magic, the widget and the panel do not care where tasks run.
The loop has its own thread so it works inside a kernel whose loop is already running.
Tasks are kept in memory by default (``OPEN_AGENT_LOCAL_DB`` names a SQLite file instead).
The engine writes nothing to the cell's stderr: its news goes through the task's log.
Each submission rereads the kernel's environment, so a variable set after a failed task
(``os.environ["OPENROUTER_API_KEY"] = ...``) counts from the next task on.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import getpass
import logging
import os
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from ..config import Settings
from ..exceptions import OpenAgentError
from .sse import CONNECTED, CONNECTING, DISCONNECTED, StateCallback

T = TypeVar("T")

_lock = threading.Lock()
_runner: LocalRunner | None = None


class LocalRunner:
    """Runs tasks in this process; thread-safe, blocking methods like ``AgentClient``."""

    url = "in-process"

    def __init__(self, settings: Settings | None = None, store_path: str | None = None) -> None:
        from ..tasks.manager import TaskManager
        from ..tasks.store import TaskStore

        quiet_engine_logs()
        #: settings given by the caller stay; otherwise each submission rereads the environment
        self.from_env = settings is None
        self.settings = settings or Settings.from_env()
        path = store_path or os.environ.get("OPEN_AGENT_LOCAL_DB") or ":memory:"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="open-agent-local")
        self._thread.start()
        self.manager = TaskManager(self.settings, TaskStore(path), notebook_tools=_tools())
        try:
            self._call(self.manager.start())
        except BaseException:
            self._stop_loop()  # a runner that failed to start must not leave its thread behind
            raise

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self.loop.is_closed() or not self._thread.is_alive():
            coro.close()
            raise OpenAgentError("the in-process engine was closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, task: str, **overrides: Any) -> dict[str, Any]:
        """Start a task; returns ``{"id", "status"}``."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        created = self._call(self._submit(task, clean))
        return {"id": created.id, "status": str(getattr(created.status, "value", created.status))}

    async def _submit(self, task: str, overrides: dict[str, Any]) -> Any:
        """Submit with the kernel's environment as it is now (a key set after a failed task)."""
        if self.from_env:
            fresh = Settings.from_env()  # ConfigError names a bad variable: a usage error
            if fresh != self.manager.settings:
                from ..tasks.redact import secret_values

                self.settings = self.manager.settings = fresh
                self.manager.secrets = secret_values([fresh.api_key, *self.manager.secrets])
        return await self.manager.submit(task, **overrides)

    def get(self, task_id: str, log: bool = True) -> dict[str, Any]:
        """The task with its log (``log=False``: without it)."""
        return self._call(self._get(task_id, log))

    async def _get(self, task_id: str, log: bool = True) -> dict[str, Any]:
        task = await self.manager.get(task_id)
        approvals = await self.manager.get_approvals(task_id)
        if not log:
            return {**task.summary(), "approvals": approvals}
        return task.to_dict(log=await self.manager.get_log(task_id), approvals=approvals)

    def list(self, status: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{"tasks": [summary, ...], "total": N}``, newest first."""
        tasks, total = self._call(self.manager.list_tasks(status, limit, offset))
        return {"tasks": [t.summary() for t in tasks], "total": total}

    def stop(self, task_id: str) -> dict[str, Any]:
        """Stop a task and return it once it is final."""
        return self._call(self._stop(task_id))

    async def _stop(self, task_id: str) -> dict[str, Any]:
        await self.manager.stop(task_id)
        return await self._get(task_id)

    def approve(self, task_id: str, approval_id: str, message: str | None = None,
                remember: bool = False) -> dict[str, Any]:
        """Allow a pending tool call (``remember``: and the same ones for the rest of the task)."""
        return self._call(self.manager.answer_approval(task_id, approval_id, "allow", message,
                                                       remember, _user()))

    def deny(self, task_id: str, approval_id: str, message: str | None = None) -> dict[str, Any]:
        """Deny a pending tool call; ``message`` is what the model reads."""
        return self._call(self.manager.answer_approval(task_id, approval_id, "deny", message,
                                                       False, _user()))

    def stats(self) -> dict[str, Any]:
        """Totals by status, total cost, success rate."""
        return self._call(self.manager.stats())

    def stream(self, task_id: str, after: int = 0,
               on_state: StateCallback | None = None) -> LocalStream:
        """Follow the task's events straight from the manager."""
        return LocalStream(self, task_id, after, on_state)

    def close(self) -> None:
        """Stop running tasks, close the store and the loop thread."""
        if self.loop.is_closed():
            return
        try:
            self._call(self.manager.close(), timeout=30)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class LocalStream:
    """A blocking iterator over ``TaskManager.subscribe``; ``close()`` ends it from any thread."""

    def __init__(self, runner: LocalRunner, task_id: str, after: int,
                 on_state: StateCallback | None) -> None:
        self.runner = runner
        self.task_id = task_id
        self.after = after
        self.on_state = on_state
        self.state = CONNECTING
        self._pending: concurrent.futures.Future[Any] | None = None
        self._closed = threading.Event()

    def _set_state(self, state: str) -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        subscription = self.runner.manager.subscribe(self.task_id, self.after)
        self._set_state(CONNECTED)
        try:
            while not self._closed.is_set():
                self._pending = asyncio.run_coroutine_threadsafe(
                    subscription.__anext__(), self.runner.loop)
                if self._closed.is_set():  # close() came before _pending was set: it saw none
                    self._pending.cancel()
                try:
                    event, data = self._pending.result()
                except (StopAsyncIteration, concurrent.futures.CancelledError):
                    return
                yield event, data
                if event == "done":
                    return
        finally:
            self._pending = None
            closing = asyncio.run_coroutine_threadsafe(subscription.aclose(), self.runner.loop)
            # RuntimeError: the generator was still busy in another call; the manager frees it.
            with contextlib.suppress(RuntimeError, concurrent.futures.TimeoutError):
                closing.result(timeout=5)
            self._set_state(DISCONNECTED)

    def close(self) -> None:
        """Stop following; the task itself keeps running."""
        self._closed.set()
        pending = self._pending
        if pending is not None:
            pending.cancel()
        self._set_state(DISCONNECTED)


def _tools() -> Any:
    """Notebook tools on this process's IPython shell (none outside IPython)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return None
    from .inprocess import in_process_tools

    return in_process_tools(shell)


def _user() -> str:
    """Who answers in the in-process engine: this process's user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return str(os.getuid())


def quiet_engine_logs() -> None:
    """Keep the engine's log records out of the cell's stderr (Python's last-resort handler).

    In a kernel, what the person should know reaches them through the task's log
    (``notice`` and ``error`` entries); a handler the user configures still gets the records.
    """
    logger = logging.getLogger("open_agent_jupyter")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


def local_runner() -> LocalRunner:
    """The process-wide in-process engine, started on first use."""
    global _runner
    with _lock:
        if _runner is None:
            _runner = LocalRunner()
            atexit.register(_runner.close)
        return _runner


def close_local_runner() -> None:
    """Stop the in-process engine; the next use starts a new one that rereads the environment."""
    global _runner
    with _lock:
        runner, _runner = _runner, None
    if runner is not None:
        atexit.unregister(runner.close)
        runner.close()
