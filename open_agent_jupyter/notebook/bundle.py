"""The one display of a ``%agent`` output, updated in place (DESIGN §12.3).

``task_bundle`` assembles the MIME bundle: the live ipywidgets view
(``application/vnd.jupyter.widget-view+json``), ``application/vnd.open-agent.task+json``
``{"task_id", "base_url", "status"}`` (``base_url``: the server's URL as the kernel
reaches it, ``null`` for the in-kernel engine), ``text/html`` (the static timeline) and
``text/plain`` (a summary). ``TaskDisplay`` shows it once as one ``display_data`` with a
``display_id`` and sends ``update_display_data`` when the status changes and when the
task ends, so a notebook saved afterwards — opened without a kernel, on GitHub or in
nbviewer — still shows what the agent did.

Updates from the follower's thread go out with the kernel's current parent message (the
cell running then): nbclient applies an update to every output with its display id, so a
``--background`` task ending during a later cell still updates its own output there.
JupyterLab applies updates only to the output area of the cell running, so there a
``--background`` output keeps its last shown state (the lab extension renders from the
server instead).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from IPython.display import display, update_display

from ..exceptions import OpenAgentError
from .result import FINAL, AgentResult, TaskAPI
from .static import summary_text, timeline_html

TASK_MIME = "application/vnd.open-agent.task+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Seconds the final update waits for the follower to have read the whole task.
FINAL_WAIT = 30.0


def task_bundle(task: Mapping[str, Any], widget: Any = None,
                base_url: str | None = None) -> dict[str, Any]:
    """The MIME bundle of a task's output (``widget``: its live view, when there is one)."""
    data: dict[str, Any] = {}
    render = getattr(widget, "_repr_mimebundle_", None)  # None once the widget is closed
    view = (render() or {}) if callable(render) else {}
    if WIDGET_MIME in view:
        data[WIDGET_MIME] = view[WIDGET_MIME]
    data[TASK_MIME] = {"task_id": task.get("id"), "base_url": base_url,
                       "status": task.get("status") or "pending"}
    data["text/html"] = timeline_html(task)
    data["text/plain"] = summary_text(task)
    return data


class TaskDisplay:
    """Shows one task's bundle and keeps it up to date (from any thread)."""

    def __init__(self, widget: Any, client: TaskAPI, result: AgentResult) -> None:
        self.widget = widget
        self.client = client
        self.result = result
        self.display_id = f"open-agent-{result.id}"
        self.base_url = None if client.url == "in-process" else client.url
        self._lock = threading.Lock()
        self._sent: tuple[str, bool] | None = None
        self._publisher: Any = None

    def show(self) -> TaskDisplay:
        """Display the bundle; later status changes of the widget update it."""
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and hasattr(shell, "kernel"):  # a kernel: updates have a target
            self._publisher = shell.display_pub
            self.widget.observe(self._on_status, names="status")
        display(self.bundle(self.task()), raw=True, display_id=self.display_id)
        return self

    def _on_status(self, change: dict[str, Any]) -> None:
        """A new status: shown at once; the end once the follower has fetched the whole log."""
        if change.get("new") not in FINAL:
            self.update()
            return
        follower = getattr(self.widget, "follower", None)
        if follower is None or threading.current_thread() is not follower._thread:
            self.update()
            return

        def after_follower() -> None:  # the follower's last act is reading the task with its log
            follower.join(FINAL_WAIT)
            self.update(self.result.data if "log" in self.result.data else None)

        threading.Thread(target=after_follower, daemon=True,
                         name=f"open-agent-display-{self.result.id[:8]}").start()

    def task(self) -> dict[str, Any]:
        """The newest task data: the result's, with the widget's figures while it runs."""
        data = dict(getattr(self.widget, "info", None) or {})
        data.update(self.result.data)
        data["id"] = self.result.id
        status = str(getattr(self.widget, "status", "") or "")
        if status in FINAL or data.get("status") not in FINAL:
            data["status"] = status or data.get("status")
        return data

    def bundle(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """The bundle for ``task`` with this display's widget and server."""
        return task_bundle(task, self.widget, self.base_url)

    def update(self, task: Mapping[str, Any] | None = None) -> None:
        """Send the current bundle in place (the final one carries the whole timeline)."""
        if self._publisher is None:
            return
        data = dict(task) if task is not None else self.task()
        final = data.get("status") in FINAL
        if final and "log" not in data:
            data = self._with_log(data)
        key = (str(data.get("status")), "log" in data)
        with self._lock:
            if key == self._sent and not final:
                return
            self._sent = key
            update_display(self.bundle(data), raw=True, display_id=self.display_id)

    def _with_log(self, data: dict[str, Any]) -> dict[str, Any]:
        try:
            fetched = self.client.get(self.result.id)
        except (OpenAgentError, ValueError):  # the server went away: keep what is known
            return data
        return {**data, **fetched}
