"""Shared fixtures: the loopback fake LLM and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from open_agent_jupyter.config import Settings
from tests.fakellm import FakeLLM

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A scripted chat-completions server on 127.0.0.1."""
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def settings(fake_llm: FakeLLM, tmp_path: Path) -> Settings:
    """Settings that point the engine at the fake LLM and a fresh working dir."""
    work = tmp_path / "work"
    work.mkdir()
    return Settings(api_key="test-key", base_url=fake_llm.base_url, model=fake_llm.model,
                    working_dir=str(work), max_retries=3, read_timeout=10.0,
                    web_search_url="http://127.0.0.1:9/html/")
