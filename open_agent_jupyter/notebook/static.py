"""The static renderings of a task that a saved notebook keeps (DESIGN §12.3).

``timeline_html(task)`` is the finished timeline as self-contained HTML: inline styles
only (no ``<style>``, no script, no external resource), every text escaped, so GitHub,
nbviewer and an untrusted notebook show it as it is. ``summary_text(task)`` is the
``text/plain`` summary. Images among the ``python`` calls' rich outputs (the charts the
agent made) are kept inline as ``data:`` URIs, each up to ``IMAGE_CHARS``. Both take the task JSON (``GET /api/task/{id}``, with or
without ``log``) and need no kernel, widget or server.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

#: Tool rows shown in full: the first ``HEAD_ROWS`` and the last ``TAIL_ROWS``.
HEAD_ROWS, TAIL_ROWS = 40, 160
#: Images (the ``python`` tool's charts) kept inline: each up to this many base64 characters.
IMAGE_CHARS = 400_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
RESULT_CHARS = 160
ANSWER_CHARS = 20_000
MARKS = {"completed": "✔", "failed": "✘", "cancelled": "■", "running": "◐", "pending": "○"}
COLORS = {"completed": "#080", "failed": "#c00", "cancelled": "#a60", "running": "#06c",
          "pending": "#888"}
_BOX = ("font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 13px; "
        "line-height: 1.45; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; "
        "margin: 2px 0;")
_MONO = "font-family: SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px;"
_DIM = "color: #57606a;"


def tool_rows(log: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per tool call in order: tool, arguments, ok, duration_ms, result (or None)."""
    rows: list[dict[str, Any]] = []
    pending: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        kind = entry.get("entry_type")
        if kind == "tool_call":
            row = {"tool": str(entry.get("tool") or "tool"), "arguments": entry.get("arguments"),
                   "ok": None, "duration_ms": None, "result": None}
            rows.append(row)
            pending.setdefault(str(entry.get("call_id")), []).append(row)
        elif kind == "tool_result":
            waiting = pending.get(str(entry.get("call_id")))
            row = waiting.pop(0) if waiting else None
            if row is None:  # a result without its call: a row of its own
                row = {"tool": str(entry.get("tool") or "tool"), "arguments": None}
                rows.append(row)
            row.update(ok=entry.get("ok", True), duration_ms=entry.get("duration_ms"),
                       result=str(entry.get("content") or ""), images=_images(entry))
    return rows


def _images(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (MIME type, base64) of the images among a result's rich outputs."""
    found = []
    for output in entry.get("outputs") or []:
        data = output.get("data") if isinstance(output, dict) else None
        for mime in IMAGE_TYPES:
            value = data.get(mime) if isinstance(data, dict) else None
            text = "".join(value) if isinstance(value, list) else value
            if isinstance(text, str):
                text = "".join(text.split())
                if len(text) <= IMAGE_CHARS and _BASE64.fullmatch(text):
                    found.append((mime, text))
                break
    return found


def figures(task: Mapping[str, Any], calls: int | None = None) -> str:
    """``model · N iterations · tokens · $cost`` (and the tool-call count when given)."""
    usage = task.get("usage") or {}
    tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
    parts = [str(task.get("model") or ""), _count(int(task.get("iterations") or 0), "iteration")]
    if calls is not None:
        parts.append(_count(calls, "tool call"))
    parts += [f"{tokens:,} tokens", f"${float(usage.get('cost_usd') or 0):.4f}"]
    return " · ".join(p for p in parts if p)


def summary_text(task: Mapping[str, Any]) -> str:
    """The ``text/plain`` summary: status and figures, the task, then the answer or error."""
    status = str(task.get("status") or "pending")
    rows = tool_rows(task.get("log") or [])
    lines = [f"{MARKS.get(status, '')} {status} · {figures(task, len(rows))}".strip(),
             f"task: {_short(task.get('task'), 200)}"]
    if rows:
        lines.append("tools: " + _short(", ".join(_mark(r) for r in rows), 400))
    if task.get("result"):
        lines += ["", str(task["result"]).strip()[:ANSWER_CHARS]]
    elif task.get("error"):
        lines += ["", f"error: {task['error']}"]
    return "\n".join(lines)


def timeline_html(task: Mapping[str, Any]) -> str:
    """The timeline as self-contained, escaped HTML with inline styles only."""
    status = str(task.get("status") or "pending")
    rows = tool_rows(task.get("log") or [])
    head = (f"<div><b style='color: {COLORS.get(status, '#888')}'>"
            f"{MARKS.get(status, '')} {status}</b> {_esc(_short(task.get('task'), 300))}</div>"
            f"<div style='{_DIM}'>{_esc(figures(task, len(rows)))}</div>")
    body = _rows_html(rows)
    end = ""
    if task.get("result"):
        end = _block("Answer", str(task["result"])[:ANSWER_CHARS], "")
    elif task.get("error"):
        end = _block("Error", str(task["error"]), "color: #c00;")
    task_id = _esc(str(task.get("id") or ""))
    return (f"<div class='open-agent-static' data-task-id='{task_id}' style=\"{_BOX}\">"
            f"{head}{body}{end}</div>")


def _rows_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    shown: list[str] = [_row_html(r) for r in rows[:HEAD_ROWS]]
    hidden = len(rows) - HEAD_ROWS - TAIL_ROWS
    if hidden > 0:
        shown.append(f"<li style='list-style: none; {_DIM}'>… {hidden:,} more tool calls "
                     "(the task's notebook export has them all) …</li>")
        shown += [_row_html(r) for r in rows[-TAIL_ROWS:]]
    else:
        shown += [_row_html(r) for r in rows[HEAD_ROWS:]]
    return (f"<ol style='margin: 6px 0; padding-left: 24px; {_MONO}'>" + "".join(shown)
            + "</ol>")


def _row_html(row: Mapping[str, Any]) -> str:
    if row.get("ok") is None:
        mark = "<span style='color: #a60'>⊘ no result</span>"
    elif row["ok"]:
        mark = "<span style='color: #080'>✔</span>"
    else:
        mark = "<span style='color: #c00'>✘ error</span>"
    took = f" <span style='{_DIM}'>{row['duration_ms']:,.0f} ms</span>" if isinstance(
        row.get("duration_ms"), (int, float)) else ""
    result = row.get("result")
    pictures = "".join(
        f"<div><img src='data:{mime};base64,{data}' alt='output of {_esc(row['tool'])}' "
        "style='max-width: 100%; max-height: 360px; margin: 4px 0;'></div>"
        for mime, data in row.get("images") or [])
    shown = (f"<div style='{_DIM} white-space: pre-wrap; overflow-wrap: anywhere;'>"
             f"{_esc(_short(result, RESULT_CHARS))}</div>") if result else ""
    return (f"<li style='margin: 2px 0;'><b>{_esc(row['tool'])}</b> "
            f"{_esc(_arguments(row.get('arguments')))} {mark}{took}{shown}{pictures}</li>")


def _block(title: str, text: str, style: str) -> str:
    return (f"<div style='border-top: 1px solid #d0d7de; margin-top: 6px; padding-top: 6px;'>"
            f"<b>{title}</b><div style='white-space: pre-wrap; overflow-wrap: anywhere; {style}'>"
            f"{_esc(text.strip())}</div></div>")


def _arguments(arguments: Any, limit: int = 100) -> str:
    if not isinstance(arguments, dict):
        return _short(arguments, limit)
    parts = []
    for key, value in arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={_short(shown.replace(chr(10), '⏎'), 40)}")
    return _short(", ".join(parts), limit)


def _mark(row: Mapping[str, Any]) -> str:
    ok = row.get("ok")
    return f"{row['tool']} {'…' if ok is None else '✔' if ok else '✘'}"


def _short(value: Any, limit: int) -> str:
    text = " ".join(str(value or "").split()) if limit <= 400 else str(value or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
