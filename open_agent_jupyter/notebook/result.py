"""``AgentResult``: what ``%agent`` returns — a handle on one task, usable in the next cell."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

FINAL = frozenset({"completed", "failed", "cancelled"})
#: One mark per status, from glyphs that plain fonts have (emoji fonts are often missing).
STATUS_MARKS = {"completed": "✔", "failed": "✘", "cancelled": "■", "running": "◐",
                "pending": "○"}


class TaskAPI(Protocol):
    """What the notebook surfaces need from a client (``AgentClient`` or ``LocalRunner``)."""

    url: str

    def submit(self, task: str, **overrides: Any) -> dict[str, Any]: ...
    def get(self, task_id: str, log: bool = True) -> dict[str, Any]: ...
    def list(self, status: str | None = None, limit: int = 50,
             offset: int = 0) -> dict[str, Any]: ...
    def stop(self, task_id: str) -> dict[str, Any]: ...
    def approve(self, task_id: str, approval_id: str, message: str | None = None,
                remember: bool = False) -> dict[str, Any]: ...
    def deny(self, task_id: str, approval_id: str,
             message: str | None = None) -> dict[str, Any]: ...
    def stream(self, task_id: str, after: int = 0, on_state: Any = None) -> Any: ...


class AgentResult:
    """One task: ``id``, ``status``, ``result``, ``error``, ``log``, ``usage``, ``estimate``.

    The figures are those last seen; ``refresh()`` fetches them again, ``wait()`` blocks
    until the task is final, ``stop()`` stops it.
    """

    def __init__(self, client: TaskAPI, task_id: str, data: dict[str, Any] | None = None) -> None:
        self.client = client
        self.id = task_id
        self._data: dict[str, Any] = dict(data or {"id": task_id, "status": "pending"})
        self._final = threading.Event()
        if self.status in FINAL and "log" in self._data:
            self._final.set()

    # figures -----------------------------------------------------------------
    @property
    def data(self) -> dict[str, Any]:
        """The task as the API returns it."""
        return self._data

    @property
    def status(self) -> str:
        """pending | running | completed | failed | cancelled."""
        return str(self._data.get("status", "pending"))

    @property
    def done(self) -> bool:
        """Whether the task has reached a final status."""
        return self.status in FINAL

    @property
    def result(self) -> str | None:
        """The agent's final answer (Markdown), once completed."""
        return self._data.get("result")

    @property
    def error(self) -> str | None:
        """Why the task failed, when it did."""
        return self._data.get("error")

    @property
    def log(self) -> list[dict[str, Any]]:
        """The log entries seen so far (all of them once the task is final)."""
        return list(self._data.get("log") or [])

    @property
    def usage(self) -> dict[str, Any]:
        """Tokens and cost: prompt_tokens, completion_tokens, cost_usd, ..."""
        return dict(self._data.get("usage") or {})

    @property
    def estimate(self) -> dict[str, Any] | None:
        """The expected iterations/tokens/cost made at the start, when there is one."""
        return self._data.get("estimate")

    @property
    def iterations(self) -> int:
        """LLM steps taken."""
        return int(self._data.get("iterations") or 0)

    @property
    def approvals(self) -> list[dict[str, Any]]:
        """The task's approval records (pending and decided), oldest first."""
        return list(self._data.get("approvals") or [])

    @property
    def pending_approvals(self) -> list[dict[str, Any]]:
        """The approvals waiting for an answer now (as last seen)."""
        return [a for a in self.approvals if a.get("status") == "pending"]

    # actions -----------------------------------------------------------------
    def approve(self, approval_id: str | None = None, *, remember: bool = False,
                message: str | None = None) -> dict[str, Any]:
        """Allow a pending tool call (default: the oldest pending); the decided record."""
        record = self.client.approve(self.id, self._pending_id(approval_id), message, remember)
        self._take_figures()
        return record

    def deny(self, approval_id: str | None = None, *,
             message: str | None = None) -> dict[str, Any]:
        """Deny a pending tool call (default: the oldest pending); ``message`` goes to the model."""
        record = self.client.deny(self.id, self._pending_id(approval_id), message)
        self._take_figures()
        return record

    def _take_figures(self) -> None:
        """Fetch the figures and approvals again (a cheap poll; the log stays as it was)."""
        self._data = {**self._data, **self.client.get(self.id, log=False)}

    def _pending_id(self, approval_id: str | None) -> str:
        if approval_id is not None:
            return approval_id
        self._take_figures()
        pending = self.pending_approvals
        if not pending:
            raise ValueError(f"task {self.id} has no approval waiting for an answer")
        return str(pending[0]["id"])

    def refresh(self) -> AgentResult:
        """Fetch the task again."""
        self.update(self.client.get(self.id))
        return self

    def update(self, data: dict[str, Any]) -> None:
        """Take newer task data (from a refresh or from the widget's follower)."""
        self._data = dict(data)
        if self.done and "log" in self._data:
            self._final.set()

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> AgentResult:
        """Block until the task is final (or ``timeout`` seconds pass); returns self."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._final.is_set():
            if self._final.wait(poll):
                break
            self.update(self.client.get(self.id, log=False))  # a cheap poll of the figures
            if self.done:
                self.refresh()  # once, with the log
            if deadline is not None and time.monotonic() >= deadline:
                break
        return self

    def stop(self) -> AgentResult:
        """Stop the task; returns self with the final figures."""
        self.update(self.client.stop(self.id))
        if self.done and "log" not in self._data:
            self.refresh()
        return self

    def to_notebook(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the task as a notebook (``.ipynb``, see ``tasks.export``); returns its path.

        ``path`` defaults to a name made from the task, in the current folder; a folder
        gets that name inside it. The log is fetched first unless the task is final and
        its log is here already.
        """
        from ..tasks.export import dumps, filename, task_notebook

        if not (self.done and "log" in self._data):
            self.refresh()
        target = Path(path) if path is not None else Path(filename(self._data))
        if target.is_dir():
            target = target / filename(self._data)
        target.write_text(dumps(task_notebook(self._data)), encoding="utf-8")
        return target

    # display -----------------------------------------------------------------
    def summary_line(self) -> str:
        """status · iterations · tokens · cost, one line."""
        usage = self.usage
        tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
        cost = float(usage.get("cost_usd") or 0.0)
        return (f"{STATUS_MARKS.get(self.status, '')} **{self.status}** · {self.iterations} iterations"
                f" · {tokens:,} tokens · ${cost:.4f}")

    #: The cell (execution count) whose ``%agent`` output already shows this task: the
    #: value is not shown a second time as that cell's ``Out[]`` (DESIGN §12.3).
    shown_in: int | None = None

    def _ipython_display_(self) -> None:
        """Show the summary and the answer, except as the value of the cell that shows them."""
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if self.shown_in is not None and getattr(shell, "execution_count", None) == self.shown_in:
            return
        display({"text/markdown": self._repr_markdown_(), "text/plain": repr(self)}, raw=True)

    def _repr_markdown_(self) -> str:
        lines = [f"{self.summary_line()} · task `{self.id}`", ""]
        if self.result:
            lines += [self.result]
        elif self.error:
            lines += [f"**Error:** {self.error}"]
        elif not self.done:
            lines += ["_still running — `.wait()` blocks until it ends, `.stop()` stops it_"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<AgentResult {self.id} {self.status}>"
