"""The approvals and daily-budget side of ``TaskManager``, as a mixin (DESIGN.md §9).

``get_approvals`` / ``answer_approval`` serve the API and the clients; an answer for a
task this process does not run is checked against the store and sent to its owner as an
``approval`` request (``shared``), carried out by ``_approval_request`` there. ``_capped``
wraps a running task's sink so the task stops once today's spend reaches the daily cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent.events import LogEntry
from .approvals import answer_stored

if TYPE_CHECKING:
    from .limits import DailySpend
    from .live import LiveTask
    from .models import Task
    from .store import TaskStore


class Approvals:
    """Answering approvals and capping the day's spend; mixed into ``TaskManager``."""

    store: TaskStore
    spend: DailySpend
    _active: dict[str, LiveTask]

    async def get(self, task_id: str) -> Task:
        raise NotImplementedError

    async def request(self, task_id: str, kind: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    async def get_approvals(self, task_id: str) -> list[dict[str, Any]]:
        """The task's approval records, oldest first."""
        stored = await self.store.get_approvals(task_id)
        live = self._active.get(task_id)
        return live.desk.records(stored) if live is not None and live.desk else stored

    async def answer_approval(self, task_id: str, approval_id: str, decision: str,
                              message: str | None = None, remember: bool = False,
                              user: str | None = None) -> dict[str, Any]:
        """Decide a pending approval (``decision`` allow | deny); the decided record.

        ``ApprovalNotFoundError`` for an unknown id, ``ApprovalAnsweredError`` when it
        was decided already; ``TaskNotFoundError`` for an unknown task.
        """
        live = self._active.get(task_id)
        if live is not None and live.desk is not None:
            record = live.desk.answer(approval_id, decision, message, remember, user)
            if record is not None:
                return record
        await self.get(task_id)  # raises for an unknown task
        record = await answer_stored(self.store, task_id, approval_id, decision, message, user)
        answer = {"approval_id": approval_id, "decision": decision, "message": message,
                  "remember": remember, "user": user}
        await self.request(task_id, "approval", answer)  # another server runs the task
        return record

    async def _approval_request(self, task_id: str, payload: dict[str, Any]) -> None:
        """An answer another server stored for a task of ours (ignored if decided since)."""
        live = self._active.get(task_id)
        if live is not None and live.desk is not None:
            live.desk.answer(payload["approval_id"], payload["decision"], payload.get("message"),
                             bool(payload.get("remember")), payload.get("user"))

    def _capped(self, live: LiveTask) -> Any:
        """``live``'s sink, stopping the task once today's spend reaches the daily cap."""

        async def sink(entry: LogEntry) -> None:
            await live.sink(entry)
            reason = self.spend.reached(self._running_tasks())
            if reason and not live.fail_reason and live.work is not None:
                live.fail_reason = reason
                live.work.cancel()

        return sink

    def _running_tasks(self) -> list[Task]:
        return [live.snapshot() for live in self._active.values() if live.started]
