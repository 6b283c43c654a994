"""Log entries: what a task records as it runs (DESIGN.md §4).

Entry types: ``thinking``, ``tool_call``, ``tool_result``, ``response``, ``error``;
``tool_output`` (a running call's output as it comes, see ``agent.output``) and
``notice`` (for the person, not the model: an LLM retry, a context elision, an
estimate update). The engine creates entries without ``seq``; the task layer numbers them as it
stores them. ``to_dict()`` is the JSON shape the API, the SSE stream and the
CLI's ``--json`` output share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

EntryType = Literal["thinking", "tool_call", "tool_result", "response", "error", "approval",
                    "tool_output", "notice"]
ENTRY_TYPES: tuple[str, ...] = ("thinking", "tool_call", "tool_result", "response", "error",
                                "approval", "tool_output", "notice")
#: Optional fields, in the order ``to_dict()`` writes them.
OPTIONAL_FIELDS = ("tool", "call_id", "arguments", "ok", "duration_ms", "outputs", "approval",
                   "created", "diff", "stream", "kind", "details")


def now_iso() -> str:
    """The current UTC time as ISO-8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat()


@dataclass
class LogEntry:
    """One thing that happened in a task."""

    entry_type: EntryType
    content: str
    timestamp: str = field(default_factory=now_iso)
    seq: int | None = None
    #: tool entries only
    tool: str | None = None
    call_id: str | None = None
    #: tool_call only
    arguments: dict[str, Any] | None = None
    #: tool_result only
    ok: bool | None = None
    duration_ms: float | None = None
    #: tool_result only: rich outputs (nbformat display_data/execute_result dicts)
    outputs: list[dict[str, Any]] | None = None
    #: approval only: the approval record (DESIGN.md §12.5) as it is after this change
    approval: dict[str, Any] | None = None
    #: write_file's tool_result only: whether the file is new, and the unified diff
    #: (capped) when it replaced a text file
    created: bool | None = None
    diff: str | None = None
    #: tool_output only: ``stdout`` / ``stderr`` (a command) or a kernel stream's name
    stream: str | None = None
    #: notice only: ``retry`` / ``elision`` / ``estimate``, and its figures
    kind: str | None = None
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready dict, leaving out fields that do not apply."""
        data: dict[str, Any] = {
            "seq": self.seq,
            "timestamp": self.timestamp,
            "entry_type": self.entry_type,
            "content": self.content,
        }
        for key in OPTIONAL_FIELDS:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogEntry:
        """Rebuild an entry from ``to_dict()`` output."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def notice(kind: str, content: str, **details: Any) -> LogEntry:
    """A ``notice``: something the person should know and the model need not."""
    return LogEntry("notice", content, kind=kind, details=details or None)
