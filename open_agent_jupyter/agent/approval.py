"""The approval gate: each tool call passes it before it runs (DESIGN.md §9, §12.5).

``Gate.review`` asks the policy. ``allow`` runs the call; ``deny`` records a decided
approval (how ``rule``) and returns the denial the model reads; ``ask`` records a
pending approval at the desk, announces it as an ``approval`` log entry and waits for
an answer at most ``timeout`` seconds (0: no wait, an immediate denial). An answer, the
timeout, or a stop (cancellation) settles it: stored, then logged as a new entry.

A record is ``{"id", "call_id", "tool", "arguments", "reason", "status", "message",
"decided_by", "decided_at", "how", "created_at", "expires_at"}`` with ``status``
``pending|allowed|denied|expired|cancelled`` and ``how`` ``person|rule|timeout|stop``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from ..types import ApprovalDesk, LogSink
from .events import LogEntry, now_iso
from .policy import Policy

#: Who decided, for decisions nobody made by hand.
POLICY = "policy"


def new_record(call_id: str, tool: str, arguments: dict[str, Any], reason: str,
               timeout: float) -> dict[str, Any]:
    """A pending approval record."""
    now = datetime.now(timezone.utc)
    return {"id": str(uuid.uuid4()), "call_id": call_id, "tool": tool, "arguments": arguments,
            "reason": reason, "status": "pending", "message": None, "decided_by": None,
            "decided_at": None, "how": None, "created_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=timeout)).isoformat()}


def decided(record: dict[str, Any], status: str, how: str, by: str | None,
            message: str | None = None) -> dict[str, Any]:
    """A copy of ``record`` in its final state."""
    return {**record, "status": status, "how": how, "decided_by": by,
            "decided_at": now_iso(), "message": message}


def denial(record: dict[str, Any]) -> str:
    """What the model reads instead of the tool's result."""
    how, message = record.get("how"), record.get("message")
    if how == "person":
        said = f": {message}" if message else " (no reason given)"
        return f"Denied by the person reviewing this task's tool calls{said}. The call did not run."
    if how == "timeout":
        return ("Not approved in time (approval_timeout): nobody answered, so the call did "
                "not run. Do the task without it, or explain what is needed.")
    return (f"Denied by the approval policy ({record.get('reason')}); the call did not run. "
            "Do the task without it, or explain what is needed.")


def summary(record: dict[str, Any]) -> str:
    """One line for the log entry's content."""
    tool, status = record["tool"], record["status"]
    if status == "pending":
        return f"approval needed for {tool} ({record['reason']})"
    by = f" by {record['decided_by']}" if record.get("decided_by") else ""
    note = f": {record['message']}" if record.get("message") else ""
    return f"{tool} {status}{by} ({record.get('how')}){note}"


class Gate:
    """Reviews each call with ``policy``; asks at ``desk``; logs every change to ``sink``."""

    def __init__(self, policy: Policy, desk: ApprovalDesk, sink: LogSink,
                 timeout: float) -> None:
        self.policy, self.desk, self.sink, self.timeout = policy, desk, sink, timeout

    def allows_everything(self) -> bool:
        """Whether every call is allowed without looking (no rules, the ``auto`` preset)."""
        return self.policy.allows_everything()

    async def review(self, call_id: str, tool: str, arguments: dict[str, Any]) -> str | None:
        """None when the call may run; else the denial the model reads."""
        decision = self.policy.decide(tool, arguments)
        if decision.action == "allow":
            return None
        record = new_record(call_id, tool, arguments, decision.reason, self.timeout)
        if decision.action == "deny":
            await self._settle(decided(record, "denied", "rule", POLICY))
            return denial(record | {"how": "rule"})
        final = await self._ask(record)
        if final["status"] == "allowed":
            if final.get("remember"):
                self.policy.remember(decision.remember_key)
            return None
        return denial(final)

    async def _ask(self, record: dict[str, Any]) -> dict[str, Any]:
        await self.desk.opened(record)
        await self.sink(_entry(record))
        try:
            answer = await self.desk.wait(record, self.timeout) if self.timeout > 0 else None
        except asyncio.CancelledError:
            await self._settle(decided(record, "cancelled", "stop", None, "the task was stopped"))
            raise
        final = answer or decided(record, "expired", "timeout", POLICY)
        await self._settle(final)
        return final

    async def _settle(self, record: dict[str, Any]) -> None:
        stored = {k: v for k, v in record.items() if k != "remember"}
        await self.desk.settled(stored)
        await self.sink(_entry(stored))


def _entry(record: dict[str, Any]) -> LogEntry:
    return LogEntry("approval", summary(record), tool=record["tool"], call_id=record["call_id"],
                    approval=dict(record))
