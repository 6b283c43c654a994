"""What the server allows a task: models, approval policy, and the day's spend (§9, §12.9).

Decisions the contract leaves open:

- The day is the UTC calendar day, and a task's spend counts on the day it was submitted
  (its ``created_at``). Today's spend is read from the store at start and kept in memory
  after (finished tasks added as they end, running ones at their live cost), so the check
  made on every log entry costs no disk access.
- A running task is stopped at the cap when its next log entry is recorded (entries
  follow every LLM call), and ends ``failed`` with the reason.
- ``allowed_models`` globs are ``fnmatch`` globs, case-sensitive, matched against the whole
  model id; the server's default model is checked like a requested one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from fnmatch import fnmatchcase

from ..agent.policy import Policy, configured_preset, parse_rules, task_policy
from ..config import Settings
from ..exceptions import ConfigError, DailyBudgetReached
from .models import Task


def check_model(settings: Settings) -> None:
    """``ConfigError`` naming ``model`` when ALLOWED_MODELS does not list the task's model."""
    globs = settings.model_globs
    if globs and not any(fnmatchcase(settings.model, glob) for glob in globs):
        raise ConfigError(f"'model' {settings.model!r} is not allowed on this server "
                          f"(allowed_models: {', '.join(globs)})")


def policy_for(server: Settings, task: Settings) -> Policy:
    """The approval policy of a task (``ConfigError`` naming ``approvals`` if too loose)."""
    base = configured_preset(server.approvals, task.backend, server.opencode_permissive)
    requested = task.approvals if task.approvals != server.approvals else None
    return task_policy(base, server.approvals_max, parse_rules(server.approval_rules), requested)


def today() -> str:
    """The start of today (UTC) as ISO-8601, comparable with ``created_at``."""
    now = datetime.now(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


class DailySpend:
    """Today's spend against ``daily_budget_cents`` (0: no cap)."""

    def __init__(self, cap_cents: int) -> None:
        self.cap_cents = cap_cents
        self.day = today()
        self.finished_usd = 0.0

    @property
    def cap_usd(self) -> float | None:
        """The cap in USD, or None without one."""
        return self.cap_cents / 100 if self.cap_cents else None

    def reset(self, day: str, stored_usd: float) -> None:
        """Start counting ``day`` from what the store holds for it."""
        self.day, self.finished_usd = day, stored_usd

    def finished(self, task: Task) -> None:
        """Count a task that has just ended."""
        self._roll()
        if task.created_at >= self.day:
            self.finished_usd += task.usage.cost_usd

    def spent(self, running: Iterable[Task]) -> float:
        """USD spent today: ended tasks plus the live cost of ``running`` ones."""
        self._roll()
        return self.finished_usd + sum(t.usage.cost_usd for t in running
                                       if t.created_at >= self.day)

    def reached(self, running: Iterable[Task]) -> str | None:
        """The reason to refuse or stop, once today's spend reached the cap; else None."""
        if not self.cap_cents:
            return None
        spent = self.spent(running)
        if spent * 100 < self.cap_cents:
            return None
        return (f"daily budget reached: ${spent:.4f} of ${self.cap_cents / 100:.2f} spent "
                "today (daily_budget_cents)")

    def check(self, running: Iterable[Task]) -> None:
        """Raise ``DailyBudgetReached`` when no new task may start today."""
        reason = self.reached(running)
        if reason:
            raise DailyBudgetReached(reason)

    def _roll(self) -> None:
        day = today()
        if day != self.day:  # a new day: nothing spent yet
            self.day, self.finished_usd = day, 0.0
