"""Fixtures of the backend tests: one real ``opencode serve`` and its fake LLM per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from open_agent_jupyter.config import Settings
from tests.backends.opencode_server import CACHE, MODEL, PROVIDER, OpenCodeServer, find_opencode
from tests.fakellm import FakeLLM

#: Server-wide rules: bash needs approval, so a non-permissive session gets asked.
SERVER_PERMISSION = {"bash": "ask"}


@pytest.fixture(scope="session")
def opencode_llm() -> Iterator[FakeLLM]:
    """The fake LLM the OpenCode server talks to (shared; re-scripted per test)."""
    with FakeLLM(model=f"{PROVIDER}/{MODEL}") as llm:
        yield llm


@pytest.fixture(scope="session")
def opencode_server(opencode_llm: FakeLLM,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenCodeServer]:
    """A real, isolated ``opencode serve`` (installed from npm when missing)."""
    try:
        find_opencode(CACHE)
    except FileNotFoundError as exc:  # neither opencode nor npm on this machine
        pytest.skip(str(exc))
    home = tmp_path_factory.mktemp("opencode-home")
    with OpenCodeServer(home, opencode_llm.base_url, SERVER_PERMISSION) as server:
        yield server


@pytest.fixture
def llm(opencode_llm: FakeLLM) -> Iterator[FakeLLM]:
    """The shared fake LLM with an empty script and request record for this test."""
    opencode_llm.reset()
    yield opencode_llm
    opencode_llm.reset()


@pytest.fixture
def oc_settings(opencode_server: OpenCodeServer, llm: FakeLLM, tmp_path: Path) -> Settings:
    """Settings for the opencode backend in a fresh working dir."""
    work = tmp_path / "work"
    work.mkdir()
    return Settings(backend="opencode", opencode_base_url=opencode_server.url,
                    model=f"{PROVIDER}/{MODEL}", working_dir=str(work),
                    opencode_idle_timeout=60.0)
