"""Request checking for the REST handlers: every bad input becomes a 400/413, never a 500.

Decisions where DESIGN.md is silent: ``null`` for an optional field means "the server's
default"; unknown fields are refused (a typo such as ``max_iteration`` must not be
silently ignored); ``limit`` is 1..500 (default 50); ``offset`` and ``Last-Event-ID`` stop
at 2**63-1 (what SQLite can compare against). Numbers are refused by their digit count
before ``int()`` reads them, and a body nested deeper than ``MAX_DEPTH`` is refused, so
neither Python's digit limit nor its recursion limit can turn a request into a 500.

The fields of ``POST /api/task`` are one table, ``TASK_FIELDS``: a new field is one
``Field`` row (``register_field``), checked the same way and named in its errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado import web

from ..config import BACKENDS, PRESETS

#: A task longer than this is refused with 413.
MAX_TASK_CHARS = 100_000
MAX_LIMIT = 500
MAX_MODEL_CHARS = 200
MAX_ITERATIONS = 10_000
#: 10,000,000 cents = 100,000 USD: past any real budget, well inside every integer type.
MAX_BUDGET_CENTS = 10_000_000
#: Longest path accepted (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096
#: The longest approval timeout a task may ask for (a week, in seconds).
MAX_APPROVAL_TIMEOUT = 7 * 24 * 3600
#: The largest integer SQLite stores: a bigger offset or Last-Event-ID is refused (400).
MAX_INT = 2**63 - 1
#: Digits read at most from a number in a body or a query (2**63-1 has 19).
MAX_DIGITS = 20
#: Deepest nesting of arrays/objects accepted in a body (the task body itself is depth 1).
MAX_DEPTH = 32
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
TASK_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _HugeNumber:
    """A JSON number with more than ``MAX_DIGITS`` digits, never converted to int."""

    def __repr__(self) -> str:
        return "<number with too many digits>"


@dataclass(frozen=True)
class Field:
    """One optional field of ``POST /api/task``: its type and bounds."""

    name: str
    kind: type  # str, int or float (any number)
    minimum: int = 0  # int: smallest value; str: shortest length after strip (1 = non-empty)
    maximum: int | None = None  # int: largest value; str: longest length
    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """``value`` if it fits, else a 400 naming the field (and the bound it broke)."""
        if self.kind is float:
            return _check_number(self, value)
        return _check_str(self, value) if self.kind is str else _check_int(self, value)


def _check_str(field: Field, value: Any) -> str:
    if not isinstance(value, str) or len(value.strip()) < field.minimum:
        raise web.HTTPError(400, f"'{field.name}' must be a non-empty string")
    if field.maximum is not None and len(value) > field.maximum:
        raise web.HTTPError(400, f"'{field.name}' must be at most {field.maximum:,} characters")
    if field.choices and value not in field.choices:
        raise web.HTTPError(400, f"'{field.name}' must be one of {', '.join(field.choices)}")
    return value


def _check_int(field: Field, value: Any) -> int:
    bounds = f"between {field.minimum:,} and {field.maximum:,}" if field.maximum is not None \
        else f">= {field.minimum}"
    if isinstance(value, _HugeNumber):
        raise web.HTTPError(400, f"'{field.name}' must be a whole number {bounds}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise web.HTTPError(400, f"'{field.name}' must be a whole number {bounds}")
    if value < field.minimum or (field.maximum is not None and value > field.maximum):
        raise web.HTTPError(400, f"'{field.name}' must be a whole number {bounds}")
    return value


def _check_number(field: Field, value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not field.minimum <= value <= (field.maximum or MAX_INT)):
        raise web.HTTPError(400, f"'{field.name}' must be a number between {field.minimum:,} "
                                 f"and {field.maximum or MAX_INT:,}")
    return float(value)


#: The optional fields of ``POST /api/task`` (the OpenAPI ``TaskRequest`` says the same).
TASK_FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("model", str, 1, MAX_MODEL_CHARS),
    Field("working_dir", str, 1, MAX_PATH_CHARS),
    Field("backend", str, 1, choices=BACKENDS),
    Field("max_iterations", int, 1, MAX_ITERATIONS),
    Field("budget_cents", int, 0, MAX_BUDGET_CENTS),
    # Checked against the server's kernels and contents by the handler (``attach``).
    Field("kernel_id", str, 1, MAX_MODEL_CHARS),
    Field("notebook", str, 1, MAX_PATH_CHARS),
    Field("approvals", str, 1, choices=PRESETS),
    Field("approval_timeout", float, 0, MAX_APPROVAL_TIMEOUT),
)}


def register_field(field: Field) -> None:
    """Accept (and check) one more optional field in ``POST /api/task``."""
    TASK_FIELDS[field.name] = field


def parse_task_body(body: bytes) -> tuple[str, dict[str, Any]]:
    """The task text and its overrides from a ``POST /api/task`` body."""
    data = parse_json_object(body)
    unknown = set(data) - {"task", *TASK_FIELDS}
    if unknown:
        raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    task = data.get("task")
    if not isinstance(task, str) or not task.strip():
        raise web.HTTPError(400, "'task' must be a non-empty string")
    if len(task) > MAX_TASK_CHARS:
        raise web.HTTPError(413, f"'task' is longer than {MAX_TASK_CHARS:,} characters")
    overrides = {name: field.check(data[name]) for name, field in TASK_FIELDS.items()
                 if data.get(name) is not None}
    return task, overrides


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object body; 400 for anything else, too deep or with giant numbers."""
    try:
        data = json.loads(body or b"", parse_int=_bounded_int)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPError(400, "the body must be a JSON object") from None
    except RecursionError:
        raise web.HTTPError(400, f"the body is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise web.HTTPError(400, "the body must be a JSON object")
    if _depth_exceeds(data, MAX_DEPTH):
        raise web.HTTPError(400, f"the body is nested more than {MAX_DEPTH} levels deep")
    return data


def _bounded_int(text: str) -> int | _HugeNumber:
    """``int(text)`` for JSON numbers of at most ``MAX_DIGITS`` digits."""
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else _HugeNumber()


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/dicts deeper than ``limit`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


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
    value = bounded_digits(raw)
    if value is None or value > MAX_INT:
        raise web.HTTPError(400, f"Last-Event-ID must be a whole number between 0 and {MAX_INT}")
    return value


def bounded_digits(text: str) -> int | None:
    """The value of ``text`` if it is ASCII digits only, at most ``MAX_DIGITS`` of them."""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    return int(text)


def _int_arg(arg: Callable[..., str | None], name: str, fallback: int, minimum: int,
             maximum: int) -> int:
    text = (arg(name, None) or "").strip()
    if not text:
        return fallback
    if not (text.isascii() and text.isdigit()):
        raise web.HTTPError(400, f"'{name}' must be a whole number")
    value = bounded_digits(text)
    if value is None or not minimum <= value <= maximum:
        raise web.HTTPError(400, f"'{name}' must be between {minimum} and {maximum}")
    return value


def parse_approval_body(body: bytes) -> tuple[str, str | None, bool]:
    """``decision``, ``message`` and ``remember`` of an approval answer."""
    data = parse_json_object(body)
    unknown = set(data) - {"decision", "message", "remember"}
    if unknown:
        raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
    decision, message = data.get("decision"), data.get("message")
    remember = data.get("remember") or False
    if decision not in ("allow", "deny"):
        raise web.HTTPError(400, "'decision' must be 'allow' or 'deny'")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_TASK_CHARS):
        raise web.HTTPError(400, f"'message' must be a string of at most {MAX_TASK_CHARS:,} "
                                 "characters")
    if not isinstance(remember, bool):
        raise web.HTTPError(400, "'remember' must be true or false")
    return decision, message, remember
