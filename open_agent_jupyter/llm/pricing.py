"""Model prices from the endpoint's ``GET {base_url}/models`` (OpenRouter's format).

OpenRouter lists ``data[].id``, ``context_length`` and ``pricing.prompt`` /
``pricing.completion`` / ``pricing.input_cache_read`` as USD-per-token strings. The list is
fetched once per ``base_url`` and kept for the life of the process; an asyncio lock makes
concurrent first calls share one fetch. An endpoint that cannot be reached, answers
something else, or does not list the model yields ``None`` (cost then counts as 0) — pricing
never fails a task. A failed fetch is retried after ``FAILURE_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

FAILURE_TTL = 300.0
_TIMEOUT = httpx.Timeout(10.0)


@dataclass
class Price:
    """USD per token for one model; ``cached`` is the price of a cache-read prompt token."""

    prompt: float
    completion: float
    cached: float | None = None
    context_length: int | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """USD for one call (cached prompt tokens at the cache-read price when known)."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_price = self.prompt if self.cached is None else self.cached
        return ((prompt_tokens - cached) * self.prompt + cached * cached_price
                + completion_tokens * self.completion)


# base_url -> (prices by model id, or None after a failed fetch; time of the fetch)
_cache: dict[str, tuple[dict[str, Price] | None, float]] = {}
# Locks are tied to an event loop, so keep one set per loop (tests run many loops).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def clear_cache() -> None:
    """Forget every fetched price list."""
    _cache.clear()


async def get_price(http: httpx.AsyncClient, base_url: str, model: str,
                    api_key: str | None = None) -> Price | None:
    """The model's price from the endpoint's model list, or None when unknown; never raises."""
    prices = await get_prices(http, base_url, api_key)
    return None if prices is None else prices.get(model)


async def get_prices(http: httpx.AsyncClient, base_url: str,
                     api_key: str | None = None) -> dict[str, Price] | None:
    """Every listed price of the endpoint (cached per base_url), or None when unreachable."""
    key = base_url.rstrip("/")
    if (hit := _fresh(key)) is not None:
        return hit[0]
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault(key, asyncio.Lock()):
        if (hit := _fresh(key)) is not None:
            return hit[0]
        prices = await _fetch(http, key, api_key)
        _cache[key] = (prices, time.monotonic())
        return prices


def _fresh(key: str) -> tuple[dict[str, Price] | None] | None:
    entry = _cache.get(key)
    if entry is None:
        return None
    prices, fetched = entry
    if prices is None and time.monotonic() - fetched > FAILURE_TTL:
        return None
    return (prices,)


async def _fetch(http: httpx.AsyncClient, base_url: str,
                 api_key: str | None) -> dict[str, Price] | None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = await http.get(f"{base_url}/models", headers=headers, timeout=_TIMEOUT)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.info("no price list from %s/models: %s", base_url, exc)
        return None
    models = data.get("data") if isinstance(data, dict) else None
    if not isinstance(models, list):
        return None
    prices = {}
    for entry in models:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            price = parse_price(entry)
            if price is not None:
                prices[entry["id"]] = price
    return prices


def parse_price(entry: dict[str, Any]) -> Price | None:
    """A ``Price`` from one OpenRouter model entry, or None when it has no usable pricing."""
    pricing = entry.get("pricing")
    if not isinstance(pricing, dict):
        return None
    prompt = _per_token(pricing.get("prompt"))
    completion = _per_token(pricing.get("completion"))
    if prompt is None or completion is None:
        return None
    length = entry.get("context_length")
    return Price(prompt, completion, _per_token(pricing.get("input_cache_read")),
                 length if isinstance(length, int) else None)


def _per_token(value: Any) -> float | None:
    # OpenRouter writes "-1" for routers whose price is decided per request.
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None
