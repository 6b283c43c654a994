"""The OpenAI-compatible chat-completions client (OpenRouter by default).

``LLMClient(settings, http)`` implements ``types.ChatModel``. It takes its
``httpx.AsyncClient`` from the caller (who owns its lifetime) and:

- POSTs ``{base_url}/chat/completions`` with the model, the messages, the tools
  (``tools`` and ``tool_choice: "auto"`` are left out when there are no tools, since some
  endpoints reject ``tool_choice`` without tools), a Bearer key, and OpenRouter's optional
  app-attribution headers ``HTTP-Referer`` / ``X-Title`` (harmless elsewhere);
- streams (SSE) when ``settings.stream``, assembling text deltas and tool calls from their
  fragments by ``index``; an endpoint that answers plain JSON to a streamed request is read
  as JSON;
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

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from ..config import Settings
from ..exceptions import LLMServerError, ResponseFormatError, StreamCutError
from ..types import Completion, ToolCall, Usage
from .pricing import get_price
from .retry import (
    error_for_exception,
    error_for_object,
    error_for_status,
    parse_retry_after,
    with_retries,
)
from .tokens import estimate_tokens

APP_URL = "https://pypi.org/project/open-agent-jupyter/"
APP_TITLE = "Open Agent for Jupyter"


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
                 request_cost: bool | None = None, backoff_base: float = 1.0) -> None:
        self.settings = settings
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
                                   self.backoff_base)
        usage = reply.completion.usage
        if not reply.usage_reported:
            usage.prompt_tokens = estimate_tokens(body["messages"]) + estimate_tokens(tools)
            usage.completion_tokens = estimate_tokens(reply.completion.message())
        if not reply.cost_reported:
            price = await get_price(self.http, self.settings.base_url.rstrip("/"),
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

    async def _attempt(self, body: dict[str, Any]) -> _Reply:
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

    async def _read(self, response: httpx.Response) -> _Reply:
        model = self.settings.model
        if not response.is_success:
            raw = await response.aread()
            message = error_message(raw)
            raise error_for_status(response.status_code, message, model,
                                   parse_retry_after(response.headers))
        content_type = response.headers.get("content-type", "")
        if self.settings.stream and "json" not in content_type:
            return await read_stream(response, model)
        return parse_completion(decode_json(await response.aread()), model)


@dataclass
class _Reply:
    completion: Completion
    usage_reported: bool = False
    cost_reported: bool = False


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


def decode_json(raw: bytes) -> Any:
    """Parse a JSON answer or raise ``ResponseFormatError`` quoting its start."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        snippet = raw[:200].decode("utf-8", "replace")
        raise ResponseFormatError(f"the LLM endpoint answered non-JSON: {snippet!r}") from None


def error_message(raw: bytes) -> str:
    """The human message of an error body (``{"error": {"message"}}`` or its text)."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw[:300].decode("utf-8", "replace").strip()
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or json.dumps(error)[:300])
    if isinstance(error, str):
        return error
    return json.dumps(data)[:300]


def parse_usage(data: Any) -> tuple[Usage, bool]:
    """Usage from a ``usage`` object, and whether it carried a cost."""
    if not isinstance(data, dict):
        return Usage(), False
    details = data.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if cached is None:  # DeepSeek's own field
        cached = data.get("prompt_cache_hit_tokens")
    cost = data.get("cost")
    reported = isinstance(cost, (int, float)) and not isinstance(cost, bool)
    usage = Usage(prompt_tokens=_int(data.get("prompt_tokens")),
                  completion_tokens=_int(data.get("completion_tokens")),
                  cached_tokens=_int(cached), cost_usd=float(cost) if reported else 0.0)
    return usage, reported


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _arguments(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value if isinstance(value, str) and value else "{}"


def parse_completion(data: Any, model: str) -> _Reply:
    """A non-streamed chat completion, or the typed error it carries."""
    if isinstance(data, dict) and data.get("error"):
        raise error_for_object(data["error"], model)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ResponseFormatError("the LLM endpoint answered without choices")
    choice = choices[0]
    if choice.get("error"):
        raise error_for_object(choice["error"], model)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise ResponseFormatError("the LLM endpoint answered a choice without a message")
    calls = []
    for i, raw in enumerate(message.get("tool_calls") or []):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise ResponseFormatError("the LLM endpoint answered a malformed tool call")
        calls.append(ToolCall(id=str(raw.get("id") or f"call_{i}"), name=str(function["name"]),
                              arguments=_arguments(function.get("arguments"))))
    usage, cost_reported = parse_usage(data.get("usage"))
    completion = Completion(content=_text(message.get("content")), tool_calls=calls,
                            usage=usage, finish_reason=choice.get("finish_reason"))
    return _Reply(completion, isinstance(data.get("usage"), dict), cost_reported)


@dataclass
class StreamAssembler:
    """Builds one completion from chat-completion chunks."""

    model: str
    parts: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Any = None
    done: bool = False

    def feed_line(self, line: str) -> None:
        """Take one SSE line (``data: {...}``, ``data: [DONE]``; others are ignored)."""
        if not line.startswith("data:"):
            return  # comments (": OPENROUTER PROCESSING"), event names, blank lines
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
        elif payload:
            self.feed(decode_json(payload.encode()))

    def feed(self, chunk: Any) -> None:
        """Take one decoded chunk; an error chunk raises its typed error."""
        if not isinstance(chunk, dict):
            raise ResponseFormatError("the LLM endpoint streamed a chunk that is not an object")
        if chunk.get("error"):
            raise error_for_object(chunk["error"], self.model)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._feed_choice(choice)

    def _feed_choice(self, choice: dict[str, Any]) -> None:
        if choice.get("error"):
            raise error_for_object(choice["error"], self.model)
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            self.parts.append(delta["content"])
        for position, frag in enumerate(delta.get("tool_calls") or []):
            if not isinstance(frag, dict):
                raise ResponseFormatError("the LLM endpoint streamed a malformed tool call")
            slot = self.calls.setdefault(frag.get("index", position),
                                         {"id": "", "name": "", "arguments": ""})
            fn = frag.get("function") or {}
            slot["id"] = slot["id"] or str(frag.get("id") or "")
            name = fn.get("name") or ""
            # Most providers send the name once; some repeat it whole in every fragment.
            if name and name != slot["name"]:
                slot["name"] += name
            slot["arguments"] += _arguments(fn["arguments"]) if fn.get("arguments") else ""
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
            if self.finish_reason == "error":
                raise LLMServerError("the LLM provider failed mid-answer (finish_reason error)")

    def result(self) -> _Reply:
        """The assembled completion; raises ``StreamCutError`` when the stream was cut."""
        if not self.done and self.finish_reason is None:
            raise StreamCutError("the LLM stream ended before the answer was complete")
        calls = [ToolCall(id=c["id"] or f"call_{i}", name=c["name"],
                          arguments=c["arguments"] or "{}")
                 for i, c in sorted(self.calls.items())]
        if any(not c.name for c in calls):
            raise ResponseFormatError("the LLM endpoint streamed a tool call without a name")
        usage, cost_reported = parse_usage(self.usage)
        completion = Completion(content="".join(self.parts), tool_calls=calls, usage=usage,
                                finish_reason=self.finish_reason)
        return _Reply(completion, self.usage is not None, cost_reported)


async def read_stream(response: httpx.Response, model: str) -> _Reply:
    """Read an SSE chat-completions stream into one completion."""
    assembler = StreamAssembler(model)
    try:
        async for line in response.aiter_lines():
            assembler.feed_line(line)
            if assembler.done:
                break
    except httpx.TimeoutException:
        raise  # silence: the caller maps it to LLMTimeoutError
    except httpx.TransportError as exc:
        raise StreamCutError(f"the LLM stream was cut: {exc or type(exc).__name__}") from exc
    return assembler.result()
