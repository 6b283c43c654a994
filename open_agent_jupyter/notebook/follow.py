"""``Follower``: a daemon thread that feeds a ``TaskWidget`` (and an ``AgentResult``).

It reads the client's event stream, applies every event to the widget, and refreshes the
header figures (iterations, tokens, cost) from ``GET /api/task/{id}`` at most every
``refresh_every`` seconds while events arrive, and once at the end. Running in a thread
lets the widget update while the cell that started the task is still executing (the
kernel sends widget messages from any thread), and after a ``--background`` cell returned.
"""

from __future__ import annotations

import threading
import time

from .result import AgentResult, TaskAPI
from .widgets import TaskWidget


class Follower:
    """Follows one task into one widget; ``done`` is set when the stream has ended."""

    def __init__(self, client: TaskAPI, task_id: str, widget: TaskWidget,
                 result: AgentResult | None = None, refresh_every: float = 2.0) -> None:
        self.client = client
        self.task_id = task_id
        self.widget = widget
        self.result = result
        self.refresh_every = refresh_every
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._last_refresh = 0.0
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"open-agent-follow-{task_id[:8]}")

    def start(self) -> Follower:
        """Start following in the background; returns self."""
        self._thread.start()
        return self

    def run(self) -> None:
        """Follow until the task is done or the widget is closed."""
        try:
            self._refresh()
            stream = self.client.stream(self.task_id, on_state=self.widget.set_connection)
            if not self.widget.attach(stream):
                return  # closed before the stream began: never start it
            for event, data in stream:
                self.widget.apply(event, data)
                if event == "log" and time.monotonic() - self._last_refresh > self.refresh_every:
                    self._refresh(log=False)  # the figures only: the stream brings the entries
            if self.widget.stream is stream:  # not closed by the user: take the final figures
                self._refresh()
        # boundary: a background thread must report any failure in the widget, not die silently
        except Exception as exc:  # noqa: BLE001
            self.error = exc
            self.widget.show_message(f"lost the task: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def _refresh(self, log: bool = True) -> None:
        self._last_refresh = time.monotonic()
        data = self.client.get(self.task_id, log=log)
        self.widget.apply_task(data)
        if self.result is not None:
            self.result.update(data)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the stream to end; True when it has."""
        return self.done.wait(timeout)


def follow(client: TaskAPI, task_id: str, result: AgentResult | None = None) -> TaskWidget:
    """A live widget for ``task_id`` (its follower is ``widget.follower``)."""
    widget = TaskWidget(client, task_id)
    widget.follower = Follower(client, task_id, widget, result).start()
    return widget

