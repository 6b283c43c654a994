"""The OpenAI-compatible chat-completions client (OpenRouter by default).

``LLMClient(settings, http)`` implements ``types.ChatModel``. It takes its
``httpx.AsyncClient`` from the caller (who owns its lifetime) and:

- POSTs ``{base_url}/chat/completions`` with the model, the messages, the tools
  (``tools`` and ``tool_choice: "auto"`` are left out when there are no tools, since some
  endpoints reject ``tool_choice`` without tools), a Bearer key, and OpenRouter's optional
  app-attribution headers ``HTTP-Referer`` / ``X-Title`` (harmless elsewhere);
- streams (SSE) when ``settings.stream``, assembling text deltas and tool calls from their
  fragments by ``index``; an endpoint that answers plain JSON to a streamed request is read
  as JSON (both readers live in ``llm.response``);
- asks for usage (``stream_options.include_usage``) and, on OpenRouter only, for the cost
  (``usage: {"include": true}``): other endpoints may reject unknown fields, so
  ``request_cost=None`` sends it only when the base URL's host ends with ``openrouter.ai``;
  ``True``/``False`` force it. Without a reported cost, the cost comes from the
  endpoint's price list (``llm.pricing``), or is 0 when the model is not listed;
- marks the system prompt cacheable (``cache_control: ephemeral``) for Anthropic models,
  which only cache on request; OpenAI, DeepSeek and Gemini cache on their own;
- retries transient failures and maps every failure to a typed error (``llm.retry``).

When an endpoint reports no usage at all, prompt and completion tokens are estimated with
``llm.tokens.estimate_tokens`` so budgets still move.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import httpx

from ..config import Settings
from ..types import Completion
from .pricing import get_price
from .response import Reply, decode_json, error_message, parse_completion, read_stream
from .retry import (
    RetryCallback,
    error_for_exception,
    error_for_status,
    parse_retry_after,
    with_retries,
)
from .tokens import estimate_tokens

APP_URL = "https://pypi.org/project/open-agent-jupyter/"
APP_TITLE = "Open Agent for Jupyter"
#: Bytes of an error answer read for its message (a proxy may answer a whole HTML page).
ERROR_BODY_LIMIT = 64 * 1024


def is_openrouter(base_url: str) -> bool:
    """Whether the endpoint is OpenRouter (its host ends with ``openrouter.ai``)."""
    host = urlparse(base_url).hostname or ""
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def wants_cache_control(model: str) -> bool:
    """Whether the model needs explicit ``cache_control`` marks (Anthropic models)."""
    lowered = model.lower()
    return "anthropic/" in lowered or "claude" in lowered


class LLMClient:
    """A ``types.ChatModel`` over an OpenAI-compatible endpoint."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, *,
                 request_cost: bool | None = None, backoff_base: float = 1.0,
                 on_retry: RetryCallback | None = None) -> None:
        """``on_retry`` is told of each retry before its wait (``retry.with_retries``)."""
        self.settings = settings
        self.on_retry = on_retry
        self.http = http
        self.request_cost = is_openrouter(settings.base_url) if request_cost is None \
            else request_cost
        self.backoff_base = backoff_base
        self.timeout = httpx.Timeout(connect=settings.connect_timeout,
                                     read=settings.read_timeout, write=30.0, pool=30.0)

    async def complete(self, messages: list[dict[str, Any]],
                       tools: list[dict[str, Any]]) -> Completion:
        """One chat-completions call with retries; raises ``LLMError`` subclasses."""
        body = self.request_body(messages, tools)
        reply = await with_retries(lambda: self._attempt(body), self.settings.max_retries,
                                   self.backoff_base, self.on_retry)
        usage = reply.completion.usage
        if not reply.usage_reported:
            usage.prompt_tokens = estimate_tokens(body["messages"]) + estimate_tokens(tools)
            usage.completion_tokens = estimate_tokens(reply.completion.message())
        if not reply.cost_reported:
            price = await get_price(self.http, self.settings.base_url,
                                    self.settings.model, self.settings.api_key)
            if price is not None:
                usage.cost_usd = price.cost(usage.prompt_tokens, usage.completion_tokens,
                                            usage.cached_tokens)
        usage.llm_calls = 1
        return reply.completion

    def request_body(self, messages: list[dict[str, Any]],
                     tools: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON body of the chat-completions request."""
        if wants_cache_control(self.settings.model):
            messages = mark_system_cacheable(messages)
        body: dict[str, Any] = {"model": self.settings.model, "messages": messages,
                                "stream": self.settings.stream}
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        if self.settings.stream:
            body["stream_options"] = {"include_usage": True}
        if self.request_cost:
            body["usage"] = {"include": True}
        return body

    def headers(self) -> dict[str, str]:
        """Request headers (the key, OpenRouter's app attribution)."""
        headers = {"HTTP-Referer": APP_URL, "X-Title": APP_TITLE}
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        if self.settings.stream:
            headers["Accept"] = "text/event-stream"
        return headers

    async def _attempt(self, body: dict[str, Any]) -> Reply:
        url = f"{self.settings.base_url.rstrip('/')}/chat/completions"
        request = self.http.build_request("POST", url, json=body, headers=self.headers(),
                                          timeout=self.timeout)
        try:
            response = await self.http.send(request, stream=True)
            try:
                return await self._read(response)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise error_for_exception(exc, self.settings.base_url) from exc

    async def _read(self, response: httpx.Response) -> Reply:
        model = self.settings.model
        if not response.is_success:
            message = error_message(await read_head(response, ERROR_BODY_LIMIT))
            raise error_for_status(response.status_code, message, model,
                                   parse_retry_after(response.headers))
        content_type = response.headers.get("content-type", "")
        if self.settings.stream and "json" not in content_type:
            return await read_stream(response, model)
        return parse_completion(decode_json(await response.aread()), model)


def mark_system_cacheable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy whose first system message is one text block marked ``cache_control``."""
    out = list(messages)
    for i, msg in enumerate(out):
        if msg.get("role") == "system" and isinstance(msg.get("content"), str):
            block = {"type": "text", "text": msg["content"],
                     "cache_control": {"type": "ephemeral"}}
            out[i] = {**msg, "content": [block]}
            break
    return out


async def read_head(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a streamed response's body."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])
