"""The task record and its statuses (DESIGN.md §4).

A task moves ``pending → running → completed | failed | cancelled``; the last three
are final (``FINAL``). ``Task.to_dict()`` is the JSON shape of ``GET /api/task/{id}``;
``Task.summary()`` the shape of one row of ``GET /api/tasks``.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..agent.events import now_iso
from ..types import Usage

if TYPE_CHECKING:
    from ..config import Settings


class TaskStatus(str, Enum):
    """Where a task is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        """True for completed, failed and cancelled."""
        return self in FINAL


#: The statuses a task never leaves.
FINAL: frozenset[TaskStatus] = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
)
#: The keys of ``Task.summary()``, in the order the API shows them.
SUMMARY_KEYS = ("id", "status", "task", "model", "backend", "working_dir", "max_iterations",
                "budget_cents", "iterations", "result", "error", "estimate", "created_at",
                "started_at", "finished_at", "usage", "kernel_id", "notebook", "approval_policy",
                "approval_timeout", "submitted_by")


def new_task_id() -> str:
    """A fresh task id (uuid4 as text)."""
    return str(uuid.uuid4())


@dataclass(kw_only=True)
class Task:
    """One task: what was asked, with which settings, and how it went."""

    id: str = field(default_factory=new_task_id)
    task: str
    status: TaskStatus = TaskStatus.PENDING
    model: str
    backend: str = "local"
    working_dir: str = "."
    max_iterations: int = 50
    budget_cents: int = 1000
    iterations: int = 0
    result: str | None = None
    error: str | None = None
    created_at: str = field(default_factory=now_iso)
    started_at: str | None = None
    finished_at: str | None = None
    usage: Usage = field(default_factory=Usage)
    estimate: dict[str, Any] | None = None
    #: The kernel (of this server) and notebook (a path under its root) the task is attached to.
    kernel_id: str | None = None
    notebook: str | None = None
    #: The approval preset in force (``auto`` | ``ask`` | ``read-only``) and its timeout.
    approval_policy: str = "auto"
    approval_timeout: float = 300.0
    #: Who submitted it: the Jupyter user name (JupyterHub's user, or the server's local user).
    submitted_by: str | None = None

    @classmethod
    def from_settings(cls, task: str, settings: Settings, approval_policy: str = "auto") -> Task:
        """A new pending task that will run with ``settings``."""
        return cls(task=task, model=settings.model, backend=settings.backend,
                   working_dir=settings.working_dir, max_iterations=settings.max_iterations,
                   budget_cents=settings.budget_cents, approval_policy=approval_policy,
                   approval_timeout=settings.approval_timeout)

    @property
    def overrides(self) -> dict[str, Any]:
        """The per-task settings recorded with the task (to run it again after a restart)."""
        return {"model": self.model, "backend": self.backend, "working_dir": self.working_dir,
                "max_iterations": self.max_iterations, "budget_cents": self.budget_cents,
                "approvals": self.approval_policy, "approval_timeout": self.approval_timeout}

    def summary(self) -> dict[str, Any]:
        """The task as a JSON-ready dict without its log."""
        data = {key: getattr(self, key) for key in SUMMARY_KEYS}
        data["status"] = self.status.value
        data["usage"] = self.usage.to_dict()
        data["estimate"] = copy.deepcopy(self.estimate)
        return data

    def to_dict(self, log: list[dict[str, Any]] | None = None,
                approvals: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The API shape of a task: the summary plus ``approvals`` and ``log`` (entry dicts)."""
        data = self.summary()
        data["approvals"] = list(approvals or [])
        data["log"] = list(log or [])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Rebuild a task from ``summary()``/``to_dict()`` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["status"] = TaskStatus(values.get("status", TaskStatus.PENDING))
        values["usage"] = Usage.from_dict(values.get("usage"))
        return cls(**values)

    def snapshot(self) -> Task:
        """An independent copy (callers may keep it while the live task moves on)."""
        return copy.deepcopy(self)

    def done_info(self) -> dict[str, Any]:
        """The data of the ``done`` event that ends a stream."""
        return {"status": self.status.value, "result": self.result, "error": self.error,
                "iterations": self.iterations, "usage": self.usage.to_dict()}
