"""The in-process engine's own thread: started and stopped with it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from open_agent_jupyter.notebook.local import LocalRunner


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "open-agent-local"]


def test_a_runner_that_cannot_start_leaves_no_thread(local_engine: Path) -> None:
    before = loop_threads()
    with pytest.raises(sqlite3.Error):
        LocalRunner(store_path=str(local_engine))  # a folder is no database file
    assert loop_threads() == before


def test_close_ends_the_loop_thread(local_engine: Path) -> None:
    runner = LocalRunner()
    assert runner._thread.is_alive()
    runner.close()
    assert not runner._thread.is_alive() and runner.loop.is_closed()
