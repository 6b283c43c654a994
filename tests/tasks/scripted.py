"""A scripted Backend for the task-layer tests.

It stands in for the LLM-driven backend so a test controls timing exactly: each run
waits for commands the test sends (emit an entry, finish, fail, crash) and reports
when it starts, so ordering, concurrency and cancellation can be checked without
sleeps. It is a real implementation of ``types.Backend``: it writes through the
manager's sink, updates the RunState and honours cancellation like the real ones.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from open_agent_jupyter.agent.events import LogEntry
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import LogSink, Outcome, RunState, Usage


class ScriptedBackend:
    """Runs each task by following the commands queued for its task text."""

    def __init__(self) -> None:
        self.commands: defaultdict[str, asyncio.Queue[tuple[str, Any]]] = defaultdict(asyncio.Queue)
        self.started: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.order: list[str] = []
        self.cancelled: list[str] = []
        self.settings: dict[str, Settings] = {}
        self.running = 0
        self.most_running = 0

    # what a test calls
    def emit(self, task: str, *contents: str) -> None:
        """Have the run of ``task`` record one thinking entry per content."""
        for content in contents:
            self.commands[task].put_nowait(("emit", content))

    def record(self, task: str, entry: LogEntry) -> None:
        """Have the run of ``task`` record ``entry`` as it is."""
        self.commands[task].put_nowait(("entry", entry))

    def finish(self, task: str, result: str = "ok") -> None:
        """Have the run of ``task`` end completed with ``result``."""
        self.commands[task].put_nowait(("finish", result))

    def fail(self, task: str, error: str) -> None:
        """Have the run of ``task`` end failed (an ordinary failure)."""
        self.commands[task].put_nowait(("fail", error))

    def crash(self, task: str, exc: Exception) -> None:
        """Have the run of ``task`` raise ``exc`` (a bug in a backend)."""
        self.commands[task].put_nowait(("crash", exc))

    async def wait_started(self, task: str) -> None:
        """Wait until the run of ``task`` has begun."""
        await self.started[task].wait()

    # the Backend protocol
    async def run(self, task: str, settings: Settings, sink: LogSink, state: RunState) -> Outcome:
        """Follow the commands for ``task`` until one ends the run."""
        self.order.append(task)
        self.settings[task] = settings
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.started[task].set()
        try:
            while True:
                kind, arg = await self.commands[task].get()
                if kind == "emit":
                    state.iterations += 1
                    state.usage.add(Usage(prompt_tokens=10, completion_tokens=2,
                                          cost_usd=0.001, llm_calls=1))
                    await sink(LogEntry("thinking", arg))
                elif kind == "entry":
                    await sink(arg)
                elif kind == "finish":
                    await sink(LogEntry("response", arg))
                    return Outcome("completed", result=arg)
                elif kind == "fail":
                    await sink(LogEntry("error", arg))
                    return Outcome("failed", error=arg)
                elif kind == "return":  # whatever the test wants returned, right or wrong
                    return arg
                else:
                    raise arg
        except asyncio.CancelledError:
            self.cancelled.append(task)
            raise
        finally:
            self.running -= 1
