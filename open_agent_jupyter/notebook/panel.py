"""``TaskPanel``: the task list, a submit box and the chosen task's live log with Stop.

``%agent_panel`` shows it in the output area; ``agent_panel()`` returns it, so it can go
into a JupyterLab side panel::

    from sidecar import Sidecar
    from open_agent_jupyter.notebook import agent_panel

    with Sidecar(title="Open Agent"):
        display(agent_panel())
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets

from ..exceptions import OpenAgentError
from .result import STATUS_MARKS, TaskAPI
from .widgets import TaskWidget, close_tree

STATUSES = ("all", "pending", "running", "completed", "failed", "cancelled")
#: Characters of a task-list line (fits a 300 px side area).
LABEL_CHARS = 42


def age(created_at: str | None, now: datetime | None = None) -> str:
    """How long ago an ISO-8601 time was, short ("12 s ago", "3 min ago")."""
    if not created_at:
        return ""
    try:
        then = datetime.fromisoformat(created_at)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def task_label(task: dict[str, Any], width: int = LABEL_CHARS) -> str:
    """One line of the task list: status mark, task text, age, iterations, cost.

    Short enough for a 300 px side area (``width`` characters); the chosen task's view
    below the list shows every figure in full.
    """
    status = str(task.get("status", ""))
    cost = float((task.get("usage") or {}).get("cost_usd") or 0.0)
    when = age(task.get("created_at")).replace(" ago", "")
    tail = f" · {when} · {int(task.get('iterations') or 0)} it · ${cost:.2f}".replace(" ·  ·", " ·")
    text = " ".join(str(task.get("task", "")).split())
    if task.get("submitted_by"):
        text = f"{task['submitted_by']}: {text}"
    room = max(8, width - len(tail) - 2)
    text = text if len(text) <= room else text[:room - 1] + "…"
    return f"{STATUS_MARKS.get(status, '·')} {text}{tail}"


class TaskPanel(widgets.VBox):
    """Lists tasks, submits new ones, follows the chosen one; refreshes every few seconds."""

    def __init__(self, client: TaskAPI, *, limit: int = 50, auto_refresh: float = 5.0) -> None:
        self.client = client
        self.limit = limit
        self.tasks: list[dict[str, Any]] = []
        self.current: TaskWidget | None = None
        self._updating = False
        self._stop_refresh = threading.Event()
        self.title = widgets.HTML(f"<b>Open Agent tasks</b> · <code style='overflow-wrap: "
                                  f"anywhere'>{client.url}</code>")
        self.status_filter = widgets.Dropdown(options=STATUSES, value="all",
                                              layout=widgets.Layout(width="120px"))
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                             layout=widgets.Layout(width="auto"))
        self.task_list = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="auto"))
        self.task_input = widgets.Textarea(placeholder="Describe a task, e.g. "
                                           "“Create hello.py that prints Hello World”",
                                           layout=widgets.Layout(width="auto", height="60px"))
        self.submit_button = widgets.Button(description="Submit", button_style="primary",
                                            icon="play", layout=widgets.Layout(width="auto"))
        self.message = widgets.HTML()
        self.detail = widgets.VBox()
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.submit_button.on_click(lambda _b: self.submit())
        self.status_filter.observe(lambda _c: self.refresh(), names="value")
        self.task_list.observe(self._on_select, names="value")
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        super().__init__([
            self.title, widgets.HBox([self.status_filter, self.refresh_button], layout=wrap),
            self.task_list, self.task_input, widgets.HBox([self.submit_button], layout=wrap),
            self.message, self.detail], layout=widgets.Layout(min_width="0"))
        self.add_class("open-agent-panel")
        self.refresh()
        if auto_refresh > 0:
            threading.Thread(target=self._refresh_loop, args=(auto_refresh,), daemon=True,
                             name="open-agent-panel").start()

    def refresh(self) -> None:
        """Fetch the task list again (keeping the chosen task selected)."""
        status = None if self.status_filter.value == "all" else self.status_filter.value
        try:
            self.tasks = self.client.list(status=status, limit=self.limit)["tasks"]
        except OpenAgentError as exc:  # the panel shows a failed refresh instead of raising
            self.message.value = f"<span style='color: #c00'>could not list tasks: {exc}</span>"
            return
        chosen = self.task_list.value
        self._updating = True
        try:
            self.task_list.options = [(task_label(t), t["id"]) for t in self.tasks]
            ids = {t["id"] for t in self.tasks}
            self.task_list.value = chosen if chosen in ids else None
        finally:
            self._updating = False

    def submit(self) -> str | None:
        """Submit the text in the box as a new task and open it; returns its id."""
        text = self.task_input.value.strip()
        if not text:
            self.message.value = "<span style='color: #c00'>type a task first</span>"
            return None
        try:
            created = self.client.submit(text)
        except (OpenAgentError, ValueError) as exc:  # a refused task is shown in the panel
            self.message.value = f"<span style='color: #c00'>not submitted: {exc}</span>"
            return None
        self.task_input.value = ""
        self.message.value = ""
        self.refresh()
        self.task_list.value = created["id"]  # opens it through _on_select
        return str(created["id"])

    def _on_select(self, change: dict[str, Any]) -> None:
        if not self._updating and change["new"]:
            self.open_task(change["new"])

    def open_task(self, task_id: str) -> TaskWidget:
        """Show the live log of ``task_id`` (closing the one shown before)."""
        from .follow import follow

        if self.current is not None:
            self.current.close()
        self.current = follow(self.client, task_id)
        self.detail.children = (self.current,)
        return self.current

    def _refresh_loop(self, every: float) -> None:
        while not self._stop_refresh.wait(every):
            self.refresh()

    def close(self) -> None:
        """Stop refreshing and following, then close."""
        self._stop_refresh.set()
        if self.current is not None:
            self.current.close()
        close_tree(self)


def agent_panel(client: TaskAPI | None = None, *, server: str | None = None,
                token: str | None = None, auto_refresh: float = 5.0) -> TaskPanel:
    """The task panel for ``client`` (default: OPEN_AGENT_URL's server, else in-process)."""
    if client is None:
        if server or os.environ.get("OPEN_AGENT_URL"):
            from .client import AgentClient

            client = AgentClient(server, token)
        else:
            from .local import local_runner

            client = local_runner()
    return TaskPanel(client, auto_refresh=auto_refresh)
