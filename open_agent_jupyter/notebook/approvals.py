"""``ApprovalRow``: one approval in the live view, with Allow / Deny while it is pending.

A row is made from the ``approval`` log entry that asks, and updated in place by the
entry that settles it (a person, a rule, the timeout, a stop). "Allow always" is
``remember``: the same tool and pattern are allowed for the rest of the task. The text
box's words go with a denial to the model. ``allow_button.click()`` /
``deny_button.click()`` work from code too (the tests use them).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..exceptions import OpenAgentError
from .rows import short_arguments

#: ``answer(approval_id, decision, message, remember)`` -> the decided record.
Answer = Callable[[str, str, "str | None", bool], dict[str, Any]]
_MARKS = {"allowed": "✔ allowed", "denied": "✘ denied", "expired": "⌛ expired",
          "cancelled": "■ cancelled"}


class ApprovalRow(widgets.VBox):
    """A pending tool call waiting for Allow / Deny, then its decision."""

    def __init__(self, record: dict[str, Any], answer: Answer) -> None:
        self.record = dict(record)
        self.answer_fn = answer
        self.summary = widgets.HTML()
        self.message = widgets.Text(placeholder="why (sent to the model with a denial)",
                                    layout=widgets.Layout(width="40%"))
        self.allow_button = self._button("Allow", "success", "run this call")
        self.always_button = self._button("Allow always", "",
                                          "allow this and the same calls for the rest of the task")
        self.deny_button = self._button("Deny", "danger", "do not run it; the model is told")
        self.allow_button.on_click(lambda _b: self.decide("allow"))
        self.always_button.on_click(lambda _b: self.decide("allow", remember=True))
        self.deny_button.on_click(lambda _b: self.decide("deny"))
        self.controls = widgets.HBox([self.allow_button, self.always_button, self.deny_button,
                                      self.message])
        self.error = widgets.HTML()
        super().__init__([self.summary, self.controls, self.error])
        self.add_class("open-agent-approval")
        self.update(record)

    @staticmethod
    def _button(label: str, style: str, tooltip: str) -> widgets.Button:
        return widgets.Button(description=label, button_style=style, tooltip=tooltip,
                              layout=widgets.Layout(width="auto"))

    @property
    def id(self) -> str:
        """The approval's id."""
        return str(self.record.get("id"))

    @property
    def pending(self) -> bool:
        """Whether it still waits for an answer."""
        return self.record.get("status") == "pending"

    def update(self, record: dict[str, Any]) -> None:
        """Show the record's latest state; the buttons go once it is decided."""
        self.record = dict(record)
        tool = html.escape(str(record.get("tool")))
        args = html.escape(short_arguments(record.get("arguments"), 160))
        if self.pending:
            state = f"<b>approval needed</b> · {html.escape(str(record.get('reason') or ''))}"
        else:
            by = f" by {record['decided_by']}" if record.get("decided_by") else ""
            note = f": {record['message']}" if record.get("message") else ""
            state = html.escape(f"{_MARKS.get(str(record.get('status')), record.get('status'))}"
                                f"{by} ({record.get('how')}){note}")
        self.summary.value = (f"<div style='margin: 2px 0;'>🔒 <code>{tool}({args})</code> "
                              f"{state}</div>")
        self.controls.layout.display = "" if self.pending else "none"

    def decide(self, decision: str, remember: bool = False) -> None:
        """Send the answer (a button's click); a refused answer is shown, never raised."""
        if not self.pending:
            return
        for button in (self.allow_button, self.always_button, self.deny_button):
            button.disabled = True
        try:
            record = self.answer_fn(self.id, decision, self.message.value.strip() or None,
                                    remember)
        except (OpenAgentError, ValueError) as exc:
            for button in (self.allow_button, self.always_button, self.deny_button):
                button.disabled = False
            self.error.value = ("<span style='color: var(--jp-error-color1, #c00)'>"
                                f"{html.escape(str(exc))}</span>")
            return
        self.error.value = ""
        self.update(record)
