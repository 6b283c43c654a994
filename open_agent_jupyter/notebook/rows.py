"""The rows of the live log: one collapsible ``ToolRow`` per tool call, and text rows.

A row's details (full arguments, result) are built only when it is first opened, so a
task with hundreds of tool calls costs one small widget pair per call.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

#: Results longer than this are folded; the rest is one click away.
FOLD_CHARS = 1200
#: Thinking text longer than this is shortened in the log.
TEXT_CHARS = 2000

_MONO = "font-family: var(--jp-code-font-family, monospace); font-size: 12px;"
_PRE = f"<pre style='white-space: pre-wrap; margin: 2px 0; {_MONO}'>{{}}</pre>"


def short_arguments(arguments: Any, limit: int = 80) -> str:
    """``key=value, ...`` of a tool call's arguments, cut to ``limit`` characters."""
    if not isinstance(arguments, dict):
        text = str(arguments or "")
    else:
        parts = []
        for key, value in arguments.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            shown = shown.replace("\n", "⏎")
            parts.append(f"{key}={shown[:40] + '…' if len(shown) > 40 else shown}")
        text = ", ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_row(content: str, kind: str = "thinking") -> widgets.HTML:
    """A row of model text (``thinking``) or an error message (``error``)."""
    shown = content if len(content) <= TEXT_CHARS else content[:TEXT_CHARS] + " …"
    style = "color: var(--jp-error-color1, #c00);" if kind == "error" else "opacity: 0.85;"
    icon = "⚠ " if kind == "error" else "› "
    body = html.escape(shown).replace("\n", "<br>")
    row = widgets.HTML(f"<div style='{style} margin: 2px 0;'>{icon}{body}</div>")
    row.add_class(f"open-agent-{kind}")
    return row


class ToolRow(widgets.VBox):
    """One tool call: a summary line that opens onto its arguments and result."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.tool = str(entry.get("tool") or "tool")
        self.call_id = entry.get("call_id")
        self.arguments = entry.get("arguments")
        if self.arguments is None:
            self.arguments = entry.get("content", "")
        self.ok: bool | None = None
        self.duration_ms: float | None = None
        self.result_text: str | None = None
        self.folded = True
        self.unfinished = False
        self.toggle = widgets.ToggleButton(value=False, description="▸", tooltip="show details",
                                           layout=widgets.Layout(width="32px", height="24px"))
        self.summary = widgets.HTML()
        self.details: widgets.VBox | None = None
        #: The call's rich outputs (a plot the python tool made), shown under the summary.
        self.rich: widgets.Output | None = None
        self.toggle.observe(self._on_toggle, names="value")
        super().__init__([widgets.HBox([self.toggle, self.summary])])
        self.add_class("open-agent-tool-row")
        self._render_summary()

    @property
    def expanded(self) -> bool:
        """Whether the details are shown."""
        return bool(self.toggle.value)

    def set_result(self, entry: dict[str, Any]) -> None:
        """Record the tool's result (ok, duration, text)."""
        self.ok = entry.get("ok")
        if self.ok is None:
            self.ok = True
        self.duration_ms = entry.get("duration_ms")
        self.result_text = str(entry.get("content") or "")
        self._render_summary()
        if entry.get("outputs") and self.rich is None:
            self._show_outputs(entry["outputs"])
        if self.details is not None:
            self._fill_details()

    def _show_outputs(self, outputs: list[dict[str, Any]]) -> None:
        """Rich outputs inline in the row, rendered by the front end (its trust rules apply)."""
        self.rich = widgets.Output(layout=widgets.Layout(margin="0 0 4px 36px"))
        self.rich.outputs = tuple({"output_type": "display_data", "data": out.get("data", {}),
                                   "metadata": out.get("metadata", {})} for out in outputs)
        self.rich.add_class("open-agent-tool-outputs")
        first, *rest = self.children
        self.children = (first, self.rich, *rest)

    def mark_unfinished(self) -> None:
        """The task ended before this call returned (stopped, failed): say so, not "running"."""
        if self.ok is None and not self.unfinished:
            self.unfinished = True
            self._render_summary()

    def _render_summary(self) -> None:
        if self.unfinished and self.ok is None:
            mark, color = "⊘ no result", "var(--jp-warn-color1, #a60)"
        elif self.ok is None:
            mark, color = "… running", "inherit"
        elif self.ok:
            mark, color = "✔", "var(--jp-success-color1, #080)"
        else:
            mark, color = "✘ error", "var(--jp-error-color1, #c00)"
        took = f" · {self.duration_ms:,.0f} ms" if self.duration_ms is not None else ""
        self.summary.value = (
            f"<span style='{_MONO}'><b>{html.escape(self.tool)}</b> "
            f"{html.escape(short_arguments(self.arguments))}</span>"
            f" <span style='color: {color}'>{mark}</span>{took}")

    def _on_toggle(self, change: dict[str, Any]) -> None:
        self.toggle.description = "▾" if change["new"] else "▸"
        if change["new"] and self.details is None:
            self.details = widgets.VBox(layout=widgets.Layout(margin="0 0 4px 36px"))
            self._fill_details()
            self.children = (*self.children, self.details)
        if self.details is not None:
            self.details.layout.display = "" if change["new"] else "none"

    def _fill_details(self) -> None:
        assert self.details is not None
        args = (json.dumps(self.arguments, indent=2) if isinstance(self.arguments, dict)
                else str(self.arguments))
        parts: list[widgets.Widget] = [widgets.HTML("<b>arguments</b>" + _PRE.format(
            html.escape(args, quote=False)))]
        if self.result_text is not None:
            self.result_html = widgets.HTML()
            parts.append(self.result_html)
            if len(self.result_text) > FOLD_CHARS:
                self.unfold_button = widgets.Button(
                    description=f"show all ({len(self.result_text):,} chars)",
                    layout=widgets.Layout(width="auto"))
                self.unfold_button.on_click(lambda _b: self.unfold())
                parts.append(self.unfold_button)
            self._render_result()
        self.details.children = tuple(parts)

    def _render_result(self) -> None:
        text = self.result_text or ""
        shown = text
        if self.folded and len(text) > FOLD_CHARS:
            shown = text[:FOLD_CHARS] + f"\n… ({len(text) - FOLD_CHARS:,} more characters)"
        self.result_html.value = "<b>result</b>" + _PRE.format(html.escape(shown, quote=False))

    def unfold(self) -> None:
        """Show the whole result."""
        self.folded = False
        if self.details is not None and self.result_text is not None:
            self._render_result()
            if hasattr(self, "unfold_button"):
                self.unfold_button.layout.display = "none"
