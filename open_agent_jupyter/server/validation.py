"""Request checking for the REST handlers: every bad input becomes a 400/413, never a 500.

Decisions where DESIGN.md is silent: ``null`` for an optional field means "the server's
default"; unknown fields are refused (a typo such as ``max_iteration`` must not be
silently ignored); ``limit`` is 1..500 (default 50); ``offset`` and ``Last-Event-ID`` stop
at 2**63-1 (what SQLite can compare against).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tornado import web

from ..config import BACKENDS

#: A task longer than this is refused with 413.
MAX_TASK_CHARS = 100_000
MAX_LIMIT = 500
#: The largest integer SQLite stores: a bigger offset or Last-Event-ID is refused (400).
MAX_INT = 2**63 - 1
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
TASK_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_STRING_FIELDS = ("model", "working_dir", "backend")
_INT_FIELDS = {"max_iterations": 1, "budget_cents": 0}


def parse_task_body(body: bytes) -> tuple[str, dict[str, Any]]:
    """The task text and its overrides from a ``POST /api/task`` body."""
    try:
        data = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPError(400, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise web.HTTPError(400, "the body must be a JSON object")
    unknown = set(data) - {"task", *_STRING_FIELDS, *_INT_FIELDS}
    if unknown:
        raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        raise web.HTTPError(400, "'task' must be a non-empty string")
    if len(task) > MAX_TASK_CHARS:
        raise web.HTTPError(413, f"'task' is longer than {MAX_TASK_CHARS:,} characters")
    return task, _overrides(data)


def _overrides(data: dict[str, Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in _STRING_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise web.HTTPError(400, f"'{name}' must be a non-empty string")
        overrides[name] = value
    if "backend" in overrides and overrides["backend"] not in BACKENDS:
        raise web.HTTPError(400, f"'backend' must be one of {', '.join(BACKENDS)}")
    for name, minimum in _INT_FIELDS.items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise web.HTTPError(400, f"'{name}' must be a whole number >= {minimum}")
        overrides[name] = value
    return overrides


def parse_list_query(arg: Callable[..., str | None]) -> tuple[str | None, int, int]:
    """``status``, ``limit`` and ``offset`` of ``GET /api/tasks`` (``arg`` reads one)."""
    status = arg("status", None) or None
    if status is not None and status not in STATUSES:
        raise web.HTTPError(400, f"'status' must be one of {', '.join(STATUSES)}")
    limit = _int_arg(arg, "limit", 50, 1, MAX_LIMIT)
    offset = _int_arg(arg, "offset", 0, 0, MAX_INT)
    return status, limit, offset


def parse_flag(raw: str | None, name: str) -> bool:
    """A true/false query argument (``true``/``false``/``1``/``0``)."""
    text = (raw or "").strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise web.HTTPError(400, f"'{name}' must be true or false")
    return text in ("true", "1")


def parse_last_event_id(header: str | None, query: str | None) -> int:
    """The seq to resume after: the ``Last-Event-ID`` header, else ``?last_event_id=``."""
    raw = (header or query or "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_INT:
        raise web.HTTPError(400, f"Last-Event-ID must be a whole number between 0 and {MAX_INT}")
    return int(raw)


def _int_arg(arg: Callable[..., str | None], name: str, fallback: int, minimum: int,
             maximum: int) -> int:
    text = (arg(name, None) or "").strip()
    if not text:
        return fallback
    if not (text.isascii() and text.isdigit()):
        raise web.HTTPError(400, f"'{name}' must be a whole number")
    value = int(text)
    if not minimum <= value <= maximum:
        raise web.HTTPError(400, f"'{name}' must be between {minimum} and {maximum}")
    return value
