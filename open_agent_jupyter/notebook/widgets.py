"""``TaskWidget``: the live view of one task (header, tool-call rows, answer, Stop).

The widget only *shows*: ``apply(event, data)`` takes one stream event, ``apply_task``
takes the task JSON. ``follow(client, task_id)`` runs a ``Follower`` thread that feeds it
from a client's stream. Rows go into pages of ``page_size``; only the newest
``visible_pages`` pages are on screen (a button shows earlier ones), so each new row
sends a few dozen ids to the front end however long the task is.

The rows sit in a box of bounded height (``TIMELINE_HEIGHT``) under the header, which
stays visible. The box lays its content out bottom-up (``column-reverse``), so the
browser keeps it scrolled to the newest row, and leaves it where it is once the person
has scrolled up. While the task runs a ticker thread re-renders the elapsed time and
the running rows every second. Widgets are only ever updated by setting their traits
(never inside an ``Output`` context), so a background thread can update them under
nbclient/papermill, where no cell's message is the parent.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets
import traitlets

from ..exceptions import OpenAgentError
from .approvals import ApprovalRow
from .header import header_html
from .rows import ToolRow, text_row
from .sse import CONNECTING, DISCONNECTED

_CONN = {"connecting": "◌ connecting", "connected": "● connected",
         "reconnecting": "◐ reconnecting", "disconnected": "○ disconnected"}
_FINAL = ("completed", "failed", "cancelled")
#: Most height the timeline takes before it scrolls (CSS length).
TIMELINE_HEIGHT = "420px"
#: Seconds between re-renders of the elapsed time while the task runs.
TICK = 1.0


def close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` and every widget it holds (``Widget.close`` closes only itself)."""
    for name in widget.keys:
        value = getattr(widget, name, None)
        for child in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(child, widgets.Widget) and child.comm is not None:
                close_tree(child)
    widgets.Widget.close(widget)


class TaskWidget(widgets.VBox):
    """Live view of one task; ``stop_button.click()`` stops it through its client."""

    status = traitlets.Unicode("pending")
    connection = traitlets.Unicode(CONNECTING)

    def __init__(self, client: Any = None, task_id: str | None = None, *,
                 page_size: int = 50, visible_pages: int = 4) -> None:
        self.client = client
        self.task_id = task_id
        self.page_size = page_size
        self.visible_pages = visible_pages
        self.info: dict[str, Any] = {"status": "pending"}
        self.rows: list[widgets.Widget] = []
        self.tool_rows: dict[str, ToolRow] = {}
        self.approval_rows: dict[str, ApprovalRow] = {}
        self.pages: list[widgets.VBox] = []
        self.show_all = False
        self.stream: Any = None
        self.follower: Any = None
        self.answer_text: str | None = None
        self.errors_shown: set[str] = set()
        self.message_text = ""
        self.ticker: threading.Thread | None = None
        self.closed = False
        self._lock = threading.Lock()  # the follower thread attaches while the user may close
        self.header = widgets.HTML()
        self.conn_label = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="stop the task",
                                          layout=widgets.Layout(width="auto"))
        self.stop_button.on_click(lambda _b: self.stop())
        self.earlier_button = widgets.Button(layout=widgets.Layout(width="auto", display="none"))
        self.earlier_button.on_click(lambda _b: self.show_earlier())
        self.pages_box = widgets.VBox()
        self.answer = widgets.Output()
        self.message = widgets.HTML()
        from .export_bar import ExportBar

        self.export_bar = ExportBar(self)
        self.export_bar.layout.flex_flow = "row wrap"  # a narrow side area wraps its link
        self.stop_note = widgets.HTML()
        self.bar = widgets.HBox([self.stop_button, self.stop_note, self.conn_label,
                                 self.export_bar],
                                layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        inner = widgets.VBox([self.earlier_button, self.pages_box],
                             layout=widgets.Layout(flex="0 0 auto"))
        self.timeline = widgets.Box([inner], layout=widgets.Layout(
            display="flex", flex_flow="column-reverse", max_height=TIMELINE_HEIGHT,
            overflow="hidden auto"))
        self.timeline.add_class("open-agent-timeline")
        super().__init__([self.header, self.bar, self.timeline, self.answer, self.message])
        self.add_class("open-agent-task")
        self._render_header()
        self.set_connection(CONNECTING)

    # feeding -----------------------------------------------------------------
    def apply(self, event: str, data: dict[str, Any]) -> None:
        """Take one stream event: ``log`` (an entry), ``done``, or ``error``."""
        if self.closed:
            return
        if event == "log":
            self._apply_entry(data)
            self._start_ticker()
        elif event == "done":
            self.info.update({k: v for k, v in data.items() if v is not None})
            self._finish(data.get("status", "completed"), data.get("result"), data.get("error"))
        elif event == "error":
            self.show_message(str(data.get("error") or data.get("content") or data))
        self._render_header()

    def apply_task(self, task: dict[str, Any]) -> None:
        """Take the task JSON (``GET /api/task/{id}``) for the header figures."""
        if self.closed:
            return
        self.task_id = task.get("id", self.task_id)
        self.export_bar.show_link()
        self.info.update({k: v for k, v in task.items() if k != "log"})
        status = str(task.get("status") or self.status)
        if status in ("completed", "failed", "cancelled"):
            self._finish(status, task.get("result"), task.get("error"))
        else:
            self.status = status
            if status == "running":
                self._start_ticker()
        self._render_header()

    def _start_ticker(self) -> None:
        """Re-render the elapsed time (header, running rows) every second while running."""
        if self.ticker is None and self.status not in _FINAL and not self.closed:
            self.ticker = threading.Thread(target=self._tick, daemon=True,
                                           name=f"open-agent-tick-{(self.task_id or '')[:8]}")
            self.ticker.start()

    def _tick(self) -> None:
        while not self.closed and self.status not in _FINAL:
            time.sleep(TICK)
            if self.closed or self.status in _FINAL:
                return
            self._render_header()
            for row in self.tool_rows.values():
                row.tick()

    def _apply_entry(self, entry: dict[str, Any]) -> None:
        kind = entry.get("entry_type")
        if self.status == "pending":
            self.status = self.info["status"] = "running"
        if kind == "tool_call":
            row = ToolRow(entry)
            if row.call_id:
                self.tool_rows[str(row.call_id)] = row
            self._append(row)
        elif kind == "tool_result":
            row = self.tool_rows.get(str(entry.get("call_id")))
            if row is None:  # a result without its call (joined late): show it on its own
                row = ToolRow(entry)
                self._append(row)
            row.set_result(entry)
        elif kind == "tool_output":
            row = self.tool_rows.get(str(entry.get("call_id")))
            if row is not None:
                row.add_output(entry)
        elif kind == "response":
            self._show_answer(str(entry.get("content") or ""))
        elif kind in ("thinking", "error", "notice") and entry.get("content"):
            if kind == "error":
                self.errors_shown.add(str(entry["content"]))
                if self.message_text == entry["content"]:  # shown from the task JSON first
                    self.show_message("")
            self._append(text_row(str(entry["content"]), kind))
        elif kind == "approval":
            self._apply_approval(entry.get("approval") or {})

    def _apply_approval(self, record: dict[str, Any]) -> None:
        """A new approval gets a row with Allow / Deny; a decision updates its row."""
        row = self.approval_rows.get(str(record.get("id")))
        if row is None:
            row = ApprovalRow(record, self.answer_approval)
            self.approval_rows[row.id] = row
            self._append(row)
        else:
            row.update(record)

    def answer_approval(self, approval_id: str, decision: str, message: str | None = None,
                        remember: bool = False) -> dict[str, Any]:
        """Allow or deny a pending approval of this task through the client."""
        if self.client is None or self.task_id is None:
            raise ValueError("this view is not connected to a task")
        if decision == "allow":
            return self.client.approve(self.task_id, approval_id, message, remember)
        return self.client.deny(self.task_id, approval_id, message)

    def _finish(self, status: str, result: str | None, error: str | None) -> None:
        self.status = self.info["status"] = status
        if result and self.answer_text is None:
            self._show_answer(result)
        if error and status != "completed" and error not in self.errors_shown:
            self.errors_shown.add(error)  # once: the error row already says it otherwise
            self.show_message(error)
        self.stop_button.disabled = True
        self.stop_button.layout.display = "none"  # nothing left to stop
        self.stop_note.value = ""
        self.conn_label.layout.display = "none"  # the stream's end is no news
        for row in self.tool_row_list:
            row.mark_unfinished()

    def _show_answer(self, text: str) -> None:
        if not text.strip() or text == self.answer_text:
            return
        self.answer_text = text
        # Set the outputs, never ``clear_output()``: that enters the Output context, which
        # from a background thread has no parent message (nbclient fails on it).
        self.answer.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/markdown": text, "text/plain": text}},)

    def show_message(self, text: str) -> None:
        """Show an error or notice under the log ("" clears it)."""
        self.message_text = text
        self.message.value = "" if not text else (
            f"<div style='color: var(--jp-error-color1, #c00)'>{html.escape(text)}</div>")

    def set_connection(self, state: str) -> None:
        """connecting | connected | reconnecting | disconnected."""
        self.connection = state
        if self.status in _FINAL:
            self.conn_label.layout.display = "none"
            return
        self.conn_label.value = f"<span style='opacity: 0.7'>{_CONN.get(state, state)}</span>"

    def stop_unavailable(self, reason: str) -> None:
        """Show Stop as unavailable, with why (a cell that blocks the kernel)."""
        self.stop_button.disabled = True
        self.stop_button.description = "Stop unavailable"
        self.stop_button.button_style = ""
        self.stop_button.tooltip = reason
        self.stop_note.value = (f"<span style='opacity: 0.75; font-size: 90%'>"
                                f"{html.escape(reason)}</span>")

    # rows --------------------------------------------------------------------
    @property
    def tool_row_list(self) -> list[ToolRow]:
        """The tool-call rows, oldest first."""
        return [row for row in self.rows if isinstance(row, ToolRow)]

    def _append(self, row: widgets.Widget) -> None:
        self.rows.append(row)
        if not self.pages or len(self.pages[-1].children) >= self.page_size:
            self.pages.append(widgets.VBox([row]))
            self._render_pages()
        else:
            page = self.pages[-1]
            page.children = (*page.children, row)

    def _render_pages(self) -> None:
        shown = self.pages if self.show_all else self.pages[-self.visible_pages:]
        hidden = sum(len(p.children) for p in self.pages[: len(self.pages) - len(shown)])
        self.pages_box.children = tuple(shown)
        self.earlier_button.description = f"show {hidden:,} earlier rows"
        self.earlier_button.layout.display = "" if hidden else "none"

    @property
    def rendered_rows(self) -> int:
        """How many rows are on screen now."""
        return sum(len(p.children) for p in self.pages_box.children)

    def show_earlier(self) -> None:
        """Put every row on screen."""
        self.show_all = True
        self._render_pages()

    # header ------------------------------------------------------------------
    def _render_header(self) -> None:
        self.header.value = header_html(self.info, self.status)

    # actions -----------------------------------------------------------------
    def stop(self) -> None:
        """Stop the task through the client (the Stop button)."""
        if self.client is None or self.task_id is None:
            return
        self.stop_button.disabled = True
        self.stop_button.description = "stopping…"
        try:
            self.apply_task(self.client.stop(self.task_id))
        except (OpenAgentError, ValueError) as exc:  # a widget callback shows, never raises
            self.stop_button.disabled = False
            self.stop_button.description = "Stop"
            self.show_message(f"could not stop the task: {exc}")

    def __repr__(self) -> str:
        return f"<TaskWidget {self.task_id} {self.status} ({len(self.tool_row_list)} tool calls)>"

    def attach(self, stream: Any) -> bool:
        """Take the stream that feeds this view; False when the view was closed already."""
        with self._lock:
            if not self.closed:
                self.stream = stream
            return not self.closed

    def close(self) -> None:
        """Close the view and all its parts: cancel its stream and show disconnected."""
        with self._lock:
            self.closed = True
            stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()
        self.set_connection(DISCONNECTED)
        for page in self.pages:  # pages scrolled out of view are no children any more
            close_tree(page)
        close_tree(self)
