"""Fixtures of the task-layer tests: a scripted backend and a manager over a real file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.store import TaskStore
from tests.tasks.scripted import ScriptedBackend


@pytest.fixture
def backend() -> ScriptedBackend:
    """The scripted stand-in for an LLM-driven backend."""
    return ScriptedBackend()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's task database lives."""
    return tmp_path / "tasks.sqlite"


@pytest.fixture
def base_settings(tmp_path: Path) -> Settings:
    """Settings without any LLM (the scripted backend needs none)."""
    return Settings(model="scripted/model", working_dir=str(tmp_path))


@pytest.fixture
async def manager(base_settings: Settings, db_path: Path,
                  backend: ScriptedBackend) -> AsyncIterator[TaskManager]:
    """A started manager (two tasks at once) over a real SQLite file."""
    mgr = TaskManager(base_settings, TaskStore(db_path), max_running=2,
                      backend_factory=lambda name: backend)
    await mgr.start()
    yield mgr
    await mgr.close()
