"""Reading a chat-completions answer: plain JSON, or an SSE stream assembled by index.

Both give a ``Reply``: the ``Completion`` and whether the endpoint reported usage and
cost (the client estimates or prices what is missing). An ``{"error": {...}}`` object in
a 200 answer or mid-stream raises its typed error (``llm.retry.error_for_object``); a
stream that ends before ``[DONE]`` or a ``finish_reason`` raises ``StreamCutError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..exceptions import LLMServerError, ResponseFormatError, StreamCutError
from ..types import Completion, ToolCall, Usage
from .retry import error_for_object


@dataclass
class Reply:
    """One answer read from the endpoint, and which figures it reported itself."""

    completion: Completion
    usage_reported: bool = False
    cost_reported: bool = False


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


def parse_completion(data: Any, model: str) -> Reply:
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
    return Reply(completion, isinstance(data.get("usage"), dict), cost_reported)


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

    def result(self) -> Reply:
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
        return Reply(completion, self.usage is not None, cost_reported)


async def read_stream(response: httpx.Response, model: str) -> Reply:
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
