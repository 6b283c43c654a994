"""Fixtures for the LLM client tests: a real httpx client and clients on the fake LLM."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from open_agent_jupyter.config import Settings
from open_agent_jupyter.llm import pricing
from open_agent_jupyter.llm.client import LLMClient

#: Tiny backoff so retries take milliseconds.
FAST = 0.01


@pytest.fixture(autouse=True)
def fresh_prices() -> Iterator[None]:
    """Each test starts without cached price lists (ports, hence base URLs, get reused)."""
    pricing.clear_cache()
    yield
    pricing.clear_cache()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A real client; ``trust_env=False`` so no proxy setting can route loopback elsewhere."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def make_client(settings: Settings, http: httpx.AsyncClient) -> Callable[..., LLMClient]:
    """Build an LLMClient on the fake LLM; keyword arguments override settings."""

    def make(request_cost: bool | None = None, **overrides: Any) -> LLMClient:
        return LLMClient(settings.with_overrides(**overrides), http,
                         request_cost=request_cost, backoff_base=FAST)

    return make


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
