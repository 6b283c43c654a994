"""The header line of a task's live view: status, task, figures, elapsed time, estimate."""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any

COLORS = {"completed": "#080", "failed": "#c00", "cancelled": "#a60",
          "running": "#06c", "pending": "#888"}


def elapsed(start: str | None, end: str | None) -> str:
    if not start:
        return ""
    try:
        began = datetime.fromisoformat(start)
        ended = datetime.fromisoformat(end) if end else datetime.now(timezone.utc)
    except ValueError:
        return ""
    seconds = max(0.0, (ended - began).total_seconds())
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def estimate_text(estimate: dict[str, Any] | None) -> str:
    if not estimate:
        return ""
    parts = []
    if estimate.get("iterations") is not None:
        parts.append(f"≈{estimate['iterations']} iterations")
    if estimate.get("cost_usd") is not None:
        parts.append(f"≈${float(estimate['cost_usd']):.4f}")
    return "expected " + ", ".join(parts) if parts else ""


def header_html(info: dict[str, Any], status: str) -> str:
    """The header's HTML for the task JSON ``info`` (elapsed time up to now while running)."""
    usage = info.get("usage") or {}
    tokens = int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
    task = str(info.get("task") or "")
    task = task if len(task) <= 160 else task[:159] + "…"
    figures = [str(info.get("model") or ""),
               f"iteration {info.get('iterations') or 0}/{info.get('max_iterations') or '?'}",
               f"{tokens:,} tokens", f"${float(usage.get('cost_usd') or 0):.4f}",
               elapsed(info.get("started_at"), info.get("finished_at")),
               estimate_text(info.get("estimate"))]
    return (f"<div><b style='color: {COLORS.get(status, '#888')}'>● {status}</b> "
            f"<span>{html.escape(task)}</span><br><span style='opacity: 0.75'>"
            f"{html.escape(' · '.join(f for f in figures if f))}</span></div>")
