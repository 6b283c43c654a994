"""Approvals in the task layer: the desk where a running task's approvals wait.

``TaskDesk`` is the ``ApprovalDesk`` of one live task: a pending record is stored in
the task store and gets a future; ``answer()`` (from ``POST
/api/task/{id}/approvals/{approval_id}``, the notebook client, the in-kernel engine)
resolves it with the decided record, which the gate then stores and logs.

``answer_stored`` covers an approval whose task is not waiting in this process: unknown
ids are ``ApprovalNotFoundError`` (404), decided ones ``ApprovalAnsweredError`` (409).
A record still ``pending`` there belongs to a task another server runs (DESIGN.md §12.4):
the answer is stored as an ``approval`` request that the owner carries out at its next
tick (if the approval is still pending then; a timeout may have come first).
``cancel_pending`` runs when a gone server's task is failed: its pending approvals end
``cancelled`` (how ``stop``) with the task's reason.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

from ..agent.approval import decided
from ..agent.events import LogEntry
from ..exceptions import ApprovalAnsweredError, ApprovalNotFoundError
from .store import TaskStore

DECISIONS = {"allow": "allowed", "deny": "denied"}


class TaskDesk:
    """Pending approvals of one running task, stored and answerable."""

    def __init__(self, task_id: str, store: TaskStore) -> None:
        self.task_id = task_id
        self.store = store
        self.pending: dict[str, tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = {}
        #: decided records whose write to the store may still be under way
        self.recent: dict[str, dict[str, Any]] = {}
        self._writes: set[asyncio.Future[None]] = set()

    async def opened(self, record: dict[str, Any]) -> None:
        """Store the pending record; from now on it can be answered."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[record["id"]] = (record, future)
        await self.store.put_approval(self.task_id, record)

    async def wait(self, record: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The answered record, or None after ``timeout`` seconds."""
        _, future = self.pending[record["id"]]
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self.pending.pop(record["id"], None)

    async def settled(self, record: dict[str, Any]) -> None:
        """Store the record's final state, without holding up the call (as log entries are
        written in the background); ``records`` shows it meanwhile."""
        self.pending.pop(record["id"], None)
        self.recent[record["id"]] = record
        write = asyncio.ensure_future(self.store.put_approval(self.task_id, record))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for the records' writes still under way."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def records(self, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The stored records with the decisions not written yet."""
        return [self.recent.get(r["id"], r) for r in stored]

    def answer(self, approval_id: str, decision: str, message: str | None, remember: bool,
               user: str | None) -> dict[str, Any] | None:
        """Decide a pending approval; None when it is not waiting here."""
        item = self.pending.get(approval_id)
        if item is None or item[1].done():
            return None
        record, future = item
        final = decided(record, DECISIONS[decision], "person", user, message)
        future.set_result({**final, "remember": bool(remember and decision == "allow")})
        return final


async def answer_stored(store: TaskStore, task_id: str, approval_id: str, decision: str,
                        message: str | None, user: str | None) -> dict[str, Any]:
    """For an approval not waiting in this process: the record as the answer will decide
    it when it is pending (its task runs on another server, which is sent the answer);
    else ``ApprovalNotFoundError`` / ``ApprovalAnsweredError``."""
    for record in await store.get_approvals(task_id):
        if record["id"] != approval_id:
            continue
        if record["status"] != "pending":
            raise ApprovalAnsweredError(
                f"approval {approval_id} was already decided: {record['status']} "
                f"({record.get('how')})")
        return decided(record, DECISIONS[decision], "person", user, message)
    raise ApprovalNotFoundError(f"task {task_id} has no approval with id {approval_id!r}")


def cancel_pending(db: sqlite3.Connection, task_id: str, reason: str, seq: int) -> int:
    """On the store's thread, in the caller's transaction: mark the task's pending
    approvals cancelled and log each change from ``seq`` on; the next free seq."""
    rows = db.execute("SELECT data FROM approvals WHERE task_id = ? AND status = 'pending' "
                      "ORDER BY num", (task_id,)).fetchall()
    for (data,) in rows:
        final = decided(json.loads(data), "cancelled", "stop", None, reason)
        db.execute("UPDATE approvals SET status = ?, data = ? WHERE id = ?",
                   (final["status"], json.dumps(final, default=str), final["id"]))
        entry = LogEntry("approval", f"{final['tool']} cancelled: {reason}", tool=final["tool"],
                         call_id=final["call_id"], approval=final, seq=seq)
        db.execute("INSERT OR IGNORE INTO log (task_id, seq, entry) VALUES (?, ?, ?)",
                   (task_id, seq, json.dumps(entry.to_dict(), default=str)))
        seq += 1
    return seq
