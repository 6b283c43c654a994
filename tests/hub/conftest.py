"""A real JupyterHub (module-scoped: starting it and two servers takes seconds) and its fake LLM."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakellm import FakeLLM, Reply, call, text
from tests.hub.hubserver import Hub

needs_hub = pytest.mark.skipif(importlib.util.find_spec("jupyterhub") is None,
                               reason="jupyterhub is not installed")


def scripted(body: dict[str, Any]) -> Reply:
    """The fake LLM's answer by task: 'list' lists files, 'wait' runs a long command."""
    messages = body["messages"]
    task = next(m["content"] for m in messages if m["role"] == "user")
    if messages[-1]["role"] == "tool":
        return text(f"Done: {task}")
    if "list" in task:
        return call("list_directory", {"path": "."}, content="Looking around.")
    if "wait" in task:
        return call("run_command", {"command": "sleep 120"})
    return text("Done.")


@pytest.fixture(scope="module")
def hub_llm() -> Iterator[FakeLLM]:
    """One fake LLM for every user's server."""
    with FakeLLM(default=scripted) as llm:
        yield llm


@pytest.fixture(scope="module")
def hub(hub_llm: FakeLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A running hub with alice's and bob's servers started."""
    home: Path = tmp_path_factory.mktemp("hub")
    try:
        running = Hub(home, hub_llm.base_url)
    except FileNotFoundError as exc:  # no npm to install the proxy
        pytest.skip(str(exc))
    try:
        running.start()
        for user in ("alice", "bob"):
            running.start_server(user)
        yield running
    finally:
        running.stop()
