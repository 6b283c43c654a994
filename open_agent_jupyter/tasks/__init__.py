"""The task layer: task records, their SQLite store, and the manager that runs them.

``TaskManager`` is what the surfaces (server, notebook, CLI) use; it runs each task's
backend as an asyncio task, stores tasks and logs in a ``TaskStore`` and fans log
entries out to subscribers as they happen.
"""

from .manager import TaskManager
from .models import FINAL, Task, TaskStatus
from .store import TaskStore

__all__ = ["FINAL", "Task", "TaskManager", "TaskStatus", "TaskStore"]
