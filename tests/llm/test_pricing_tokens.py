"""Price lists (llm.pricing) and the token estimate (llm.tokens)."""

from __future__ import annotations

import httpx
import pytest

from open_agent_jupyter.llm.pricing import Price, get_price, parse_price
from open_agent_jupyter.llm.tokens import estimate_tokens
from tests.fakellm import CACHE_READ_PRICE, COMPLETION_PRICE, PROMPT_PRICE, FakeLLM


async def test_price_from_models(fake_llm: FakeLLM, http: httpx.AsyncClient) -> None:
    price = await get_price(http, fake_llm.base_url, fake_llm.model, "test-key")
    assert price == Price(PROMPT_PRICE, COMPLETION_PRICE, CACHE_READ_PRICE, 200_000)
    assert await get_price(http, fake_llm.base_url, "not/listed") is None
    assert fake_llm.models_requests == 1  # the second lookup used the cache


async def test_unreachable_endpoint_has_no_price(http: httpx.AsyncClient,
                                                 closed_port: int) -> None:
    assert await get_price(http, f"http://127.0.0.1:{closed_port}/v1", "any/model") is None


def test_parse_price_rejects_variable_and_missing_prices() -> None:
    assert parse_price({"id": "openrouter/auto",
                        "pricing": {"prompt": "-1", "completion": "-1"}}) is None
    assert parse_price({"id": "x"}) is None
    assert parse_price({"id": "x", "pricing": {"prompt": "0", "completion": "0"}}) \
        == Price(0.0, 0.0, None, None)


def test_cost_uses_cache_read_price() -> None:
    price = Price(prompt=1e-6, completion=2e-6, cached=1e-7)
    assert price.cost(1000, 100, cached_tokens=400) == pytest.approx(
        600 * 1e-6 + 400 * 1e-7 + 100 * 2e-6)
    assert Price(1e-6, 2e-6).cost(1000, 0, cached_tokens=400) == pytest.approx(1000 * 1e-6)


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 25) == 25
    assert estimate_tokens("a") == 1
    messages = [{"role": "user", "content": "x" * 400}]
    assert 100 < estimate_tokens(messages) < 120
