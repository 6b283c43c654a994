"""The rows of the live log: one collapsible ``ToolRow`` per tool call, and text rows.

A row's details (full arguments, result) are built only when it is first opened, so a
task with hundreds of tool calls costs one small widget pair per call. While a call
runs, its row shows the last lines of its live output (``tool_output`` entries; "show
all" expands to everything received, up to ``OUTPUT_KEEP`` characters) and how long it
has run (``tick()``, called every second by the widget). A ``write_file`` row opens onto
the written content, highlighted by extension and folded when long, and, over an
existing file, the coloured diff; a ``git_diff`` result is coloured as a diff.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

import ipywidgets as widgets

from . import render

#: Results longer than this are folded; the rest is one click away.
FOLD_CHARS = 1200
#: Thinking text longer than this is shortened in the log.
TEXT_CHARS = 2000
#: Characters of a call's live output kept in its row (the newest).
OUTPUT_KEEP = 64_000

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
    """A row of model text (``thinking``), an error message (``error``) or a ``notice``."""
    shown = content if len(content) <= TEXT_CHARS else content[:TEXT_CHARS] + " …"
    style = {"error": "color: var(--jp-error-color1, #c00);",
             "notice": "color: var(--jp-warn-color1, #a60); font-size: 90%;"}.get(
                 kind, "opacity: 0.85;")
    icon = {"error": "⚠ ", "notice": "ⓘ "}.get(kind, "› ")
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
        self.result_entry: dict[str, Any] = {}
        self.folded = True
        self.unfinished = False
        self.started = time.monotonic()
        self.output_text = ""
        self.output_lines_cut = 0
        self.output_all = False
        self.live = widgets.HTML(layout=widgets.Layout(display="none", margin="0 0 0 36px"))
        self.live_button = widgets.Button(description="show all output",
                                          layout=widgets.Layout(width="auto", display="none",
                                                                margin="0 0 0 36px"))
        self.live_button.on_click(lambda _b: self.toggle_output())
        self.toggle = widgets.ToggleButton(value=False, description="▸", tooltip="show details",
                                           layout=widgets.Layout(width="28px", height="24px", padding="0"))
        self.summary = widgets.HTML(layout=widgets.Layout(min_width="0", flex="1 1 auto"))
        self.details: widgets.VBox | None = None
        #: The call's rich outputs (a plot the python tool made), shown under the summary.
        self.rich: widgets.Output | None = None
        self.toggle.observe(self._on_toggle, names="value")
        super().__init__([widgets.HBox([self.toggle, self.summary]), self.live,
                          self.live_button])
        self.add_class("open-agent-tool-row")
        self._render_summary()

    @property
    def expanded(self) -> bool:
        """Whether the details are shown."""
        return bool(self.toggle.value)

    def add_output(self, entry: dict[str, Any]) -> None:
        """Take a piece of the call's live output (a ``tool_output`` entry)."""
        text = str(entry.get("content") or "")
        if not text:
            return
        self.output_text += text
        if len(self.output_text) > OUTPUT_KEEP:
            cut = self.output_text[:-OUTPUT_KEEP]
            self.output_lines_cut += cut.count("\n")
            self.output_text = self.output_text[-OUTPUT_KEEP:]
        if self.ok is None:
            self._render_output()

    def _render_output(self) -> None:
        shown, earlier = (self.output_text, 0) if self.output_all else \
            render.tail_lines(self.output_text)
        earlier += self.output_lines_cut
        note = (f"<div style='opacity: 0.6; font-size: 90%'>… {earlier:,} earlier lines</div>"
                if earlier else "")
        self.live.value = note + render.pre(shown, "max-height: 24em; overflow-y: auto;")
        self.live.layout.display = ""
        self.live_button.layout.display = "" if (earlier or self.output_all) else "none"
        self.live_button.description = "last lines only" if self.output_all else \
            "show all output"

    def toggle_output(self) -> None:
        """Switch the live output between its last lines and all of it."""
        self.output_all = not self.output_all
        self._render_output()

    def tick(self) -> None:
        """Re-render how long a running call has run (the widget calls this every second)."""
        if self.ok is None and not self.unfinished:
            self._render_summary()

    def set_result(self, entry: dict[str, Any]) -> None:
        """Record the tool's result (ok, duration, text); the live output makes way for it."""
        self.ok = entry.get("ok")
        if self.ok is None:
            self.ok = True
        self.duration_ms = entry.get("duration_ms")
        self.result_text = str(entry.get("content") or "")
        self.result_entry = entry
        self.live.layout.display = "none"
        self.live_button.layout.display = "none"
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
            mark, color = f"… running {time.monotonic() - self.started:.0f} s", "inherit"
        elif self.ok:
            mark, color = "✔", "var(--jp-success-color1, #080)"
        else:
            mark, color = "✘ error", "var(--jp-error-color1, #c00)"
        took = f" · {self.duration_ms:,.0f} ms" if self.duration_ms is not None else ""
        self.summary.value = (
            f"<span style='{_MONO} overflow-wrap: anywhere'><b>{html.escape(self.tool)}</b> "
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
        parts: list[widgets.Widget] = [widgets.HTML(self._arguments_html())]
        if self.result_text is not None or self._long_content():
            self.result_html = widgets.HTML()
            parts.append(self.result_html)
            if self._long_content() or len(self.result_text or "") > FOLD_CHARS or \
                    len(str(self.result_entry.get("diff") or "").splitlines()) > \
                    render.FOLD_LINES:
                self.unfold_button = widgets.Button(
                    description=f"show all ({len(self.result_text or ''):,} chars)"
                    if self.tool != "write_file" else "show all",
                    layout=widgets.Layout(width="auto"))
                self.unfold_button.on_click(lambda _b: self.unfold())
                parts.append(self.unfold_button)
            self._render_result()
        self.details.children = tuple(parts)

    def _arguments_html(self) -> str:
        """The arguments; for ``write_file`` the path and the content, highlighted."""
        args = self.arguments
        if self.tool == "write_file" and isinstance(args, dict) and \
                isinstance(args.get("content"), str):
            path = str(args.get("path") or "")
            content, more = (args["content"], 0) if not self.folded else \
                render.fold_lines(args["content"])
            note = (f"<div style='opacity: 0.6'>… {more:,} more lines (show all)</div>"
                    if more else "")
            return (f"<b>{html.escape(path)}</b>" + render.code_html(content, path) + note)
        text = json.dumps(args, indent=2) if isinstance(args, dict) else str(args)
        return "<b>arguments</b>" + _PRE.format(html.escape(text, quote=False))

    def _render_result(self) -> None:
        if self.result_text is None:  # opened while running: the content only
            self.result_html.value = ""
            return
        text = self.result_text
        diff = self.result_entry.get("diff")
        if not diff and self.tool == "git_diff" and render.looks_like_diff(text):
            diff = text
        if diff:
            shown, more = (diff, 0) if not self.folded else render.fold_lines(diff)
            note = f"<div style='opacity: 0.6'>… {more:,} more lines</div>" if more else ""
            head = "" if self.tool == "git_diff" else \
                f"<b>result</b>{_PRE.format(html.escape(text, quote=False))}<b>changes</b>"
            self.result_html.value = head + render.diff_html(shown) + note
            return
        shown = text
        if self.folded and len(text) > FOLD_CHARS:
            shown = text[:FOLD_CHARS] + f"\n… ({len(text) - FOLD_CHARS:,} more characters)"
        self.result_html.value = "<b>result</b>" + _PRE.format(html.escape(shown, quote=False))

    def _long_content(self) -> bool:
        content = self.arguments.get("content") if isinstance(self.arguments, dict) else None
        return self.tool == "write_file" and isinstance(content, str) and \
            content.count("\n") > render.FOLD_LINES

    def unfold(self) -> None:
        """Show the whole result (and a written file's whole content)."""
        self.folded = False
        if self.details is not None:
            self.details.children[0].value = self._arguments_html()
        if self.details is not None and self.result_text is not None:
            self._render_result()
            if hasattr(self, "unfold_button"):
                self.unfold_button.layout.display = "none"
