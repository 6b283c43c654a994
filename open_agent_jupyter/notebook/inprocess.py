"""The in-kernel engine's notebook tools: code runs in this process, in the user's namespace.

``InProcessKernel`` (a ``types.KernelAccess``) executes the agent's code on a thread of its
own with the user's variables (``shell.user_ns``), so it runs while the ``%agent`` cell
waits, and what it defines is there in the next cell. Its stdout, stderr and
``display()`` calls are captured for that thread only (other threads, the waiting cell's
widget included, write as before). The last expression's value is the result, formatted by
IPython's display formatter. ``interrupt`` raises ``KeyboardInterrupt`` in that thread
between bytecodes (a long call in C ends first). ``in_process_tools`` is the task
manager's ``NotebookContextFactory``.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import contextlib
import ctypes
import itertools
import linecache
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..access.notebooks import FileNotebooks
from ..config import Settings
from ..tools.variables import describe_variables
from ..types import CodeRun, NotebookContext, OutputSink
from .capture import Capture, install_capture

_counter = itertools.count(1)


class InProcessKernel:
    """``KernelAccess`` on this process's IPython shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._thread: int | None = None

    async def run(self, code: str, sink: OutputSink | None = None) -> CodeRun:
        """Run ``code`` on a new thread in the user's namespace."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[CodeRun] = loop.create_future()
        capture = Capture(_threadsafe(sink, loop))

        def target() -> None:
            try:
                result = self._execute(code, capture)
            except BaseException as exc:  # noqa: BLE001 - an interrupt that came late
                result = CodeRun([*capture.finish(), _error_output(exc)], "error")
            loop.call_soon_threadsafe(_settle, done, result)

        threading.Thread(target=target, daemon=True, name="open-agent-python").start()
        return await done

    def _execute(self, code: str, capture: Capture) -> CodeRun:
        install_capture(self.shell)
        with capture.active():
            try:
                self._thread = threading.get_ident()
                try:
                    value = _run_source(self.shell, code)
                finally:
                    self._thread = None
                if value is not None:
                    data, metadata = self.shell.display_formatter.format(value)
                    capture.outputs.append({"output_type": "execute_result", "data": data,
                                            "metadata": metadata, "execution_count": None})
                status = "ok"
            except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
                capture.outputs.append(_error_output(exc))
                status = "error"
        return CodeRun(capture.finish(), status)

    async def interrupt(self) -> None:
        """Raise KeyboardInterrupt in the thread running the code, if any."""
        thread = self._thread
        if thread is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread),
                                                       ctypes.py_object(KeyboardInterrupt))

    async def variables(self) -> list[dict[str, Any]]:
        """The user's variables."""
        hidden = getattr(self.shell, "user_ns_hidden", {})
        return await asyncio.to_thread(describe_variables, dict(self.shell.user_ns), hidden)

    async def last_error(self) -> str | None:
        """``ename: evalue`` of the last error IPython showed (``sys.last_value``)."""
        error = getattr(sys, "last_value", None)
        return None if error is None else f"{type(error).__name__}: {error}"

    async def close(self) -> None:
        """Nothing to release: the kernel is this process."""


def _settle(future: asyncio.Future[CodeRun], result: CodeRun) -> None:
    if not future.done():
        future.set_result(result)


def _threadsafe(sink: OutputSink | None, loop: asyncio.AbstractEventLoop
                ) -> Callable[[str, str], None] | None:
    if sink is None:
        return None

    def emit(name: str, text: str) -> None:
        # Wait until the sink took the piece: it stays before the call's result in the log.
        future = asyncio.run_coroutine_threadsafe(sink(name, text), loop)
        with contextlib.suppress(concurrent.futures.TimeoutError):
            future.result(timeout=5)

    return emit


def _run_source(shell: Any, code: str) -> Any:
    """Execute ``code`` (magics allowed) in the user namespace; the last expression's value."""
    source = shell.transform_cell(code) if hasattr(shell, "transform_cell") else code
    filename = f"<agent-input-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    namespace = shell.user_ns
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - running code is the tool
    if last is None:
        return None
    value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)  # noqa: S307
    return value


def _error_output(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if f.filename.startswith("<agent-input-")
            or not f.filename.startswith(str(Path(__file__).parent))]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(user)]
    lines += traceback.format_exception_only(type(exc), exc)
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": [line.rstrip("\n") for line in lines]}


def in_process_tools(shell: Any) -> Callable[..., NotebookContext]:
    """The task manager's factory: every task gets this shell and files under its dir."""

    def make(kernel_id: str | None, notebook: str | None, settings: Settings,
             task_id: str = "") -> NotebookContext:
        base = os.path.expanduser(settings.working_dir)
        return NotebookContext(InProcessKernel(shell), FileNotebooks(base), notebook,
                               attached=True)

    return make

