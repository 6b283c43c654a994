"""LLMClient against the loopback fake LLM: text, tool calls, usage, cost, prompt caching."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from open_agent_jupyter.llm.client import LLMClient
from tests.fakellm import (
    CACHE_READ_PRICE,
    COMPLETION_PRICE,
    PROMPT_PRICE,
    FakeLLM,
    Reply,
    calls,
    text,
)

TOOLS = [{"type": "function", "function": {
    "name": "read_file", "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                   "required": ["path"]}}}]
MESSAGES = [{"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": "Say hello."}]
LONG = "Hello! This answer is long enough to arrive in several streamed deltas."


@pytest.mark.parametrize("stream", [True, False])
async def test_text_answer(fake_llm: FakeLLM, make_client: Callable[..., LLMClient],
                           stream: bool) -> None:
    fake_llm.script(text(LONG))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert completion.content == LONG
    assert completion.tool_calls == []
    assert completion.finish_reason == "stop"
    request = fake_llm.requests[-1]
    body = request["body"]
    assert body["model"] == fake_llm.model and body["messages"] == MESSAGES
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto"
    assert body["stream"] is stream
    assert ("stream_options" in body) is stream
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert request["headers"]["X-Title"] == "Open Agent for Jupyter"


@pytest.mark.parametrize("stream", [True, False])
async def test_several_tool_calls_assembled(fake_llm: FakeLLM,
                                            make_client: Callable[..., LLMClient],
                                            stream: bool) -> None:
    pairs = [("read_file", {"path": "a.py"}),
             ("run_command", {"command": "echo 'a much longer command line' | wc -c"}),
             ("git_status", {})]
    fake_llm.script(calls(pairs, content="Let me look."))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert completion.content == "Let me look."
    assert completion.finish_reason == "tool_calls"
    assert [c.id for c in completion.tool_calls] == ["call_0", "call_1", "call_2"]
    assert [c.name for c in completion.tool_calls] == [p[0] for p in pairs]
    assert [json.loads(c.arguments) for c in completion.tool_calls] == [p[1] for p in pairs]
    assert completion.message()["tool_calls"][1]["function"]["name"] == "run_command"


async def test_tools_left_out_when_empty(fake_llm: FakeLLM,
                                         make_client: Callable[..., LLMClient]) -> None:
    await make_client().complete(MESSAGES, [])
    body = fake_llm.requests[-1]["body"]
    assert "tools" not in body and "tool_choice" not in body


@pytest.mark.parametrize("stream", [True, False])
async def test_reported_cost_is_used(fake_llm: FakeLLM, make_client: Callable[..., LLMClient],
                                     stream: bool) -> None:
    fake_llm.script(text("ok", prompt_tokens=1234, completion_tokens=56, cost=0.0421,
                         cached_tokens=1000))
    completion = await make_client(stream=stream, request_cost=True).complete(MESSAGES, TOOLS)
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (1234, 56, 1000)
    assert usage.cost_usd == pytest.approx(0.0421)
    assert usage.llm_calls == 1
    assert fake_llm.requests[-1]["body"]["usage"] == {"include": True}
    assert fake_llm.models_requests == 0


@pytest.mark.parametrize("stream", [True, False])
async def test_cost_from_price_list(fake_llm: FakeLLM, make_client: Callable[..., LLMClient],
                                    stream: bool) -> None:
    fake_llm.script(text("ok", prompt_tokens=1000, completion_tokens=200, cached_tokens=600))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert "usage" not in fake_llm.requests[-1]["body"]  # not OpenRouter: not asked for
    expected = 400 * PROMPT_PRICE + 600 * CACHE_READ_PRICE + 200 * COMPLETION_PRICE
    assert completion.usage.cost_usd == pytest.approx(expected)
    assert completion.usage.cached_tokens == 600


async def test_price_list_fetched_once_for_concurrent_calls(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient]) -> None:
    client = make_client()
    results = await asyncio.gather(*(client.complete(MESSAGES, TOOLS) for _ in range(6)))
    await client.complete(MESSAGES, TOOLS)
    assert all(r.usage.cost_usd > 0 for r in results)
    assert fake_llm.models_requests == 1


async def test_unknown_model_costs_nothing(fake_llm: FakeLLM,
                                           make_client: Callable[..., LLMClient]) -> None:
    completion = await make_client(model="someone/unlisted").complete(MESSAGES, TOOLS)
    assert completion.content == "Done."
    assert completion.usage.prompt_tokens == 100
    assert completion.usage.cost_usd == 0.0


@pytest.mark.parametrize("model", ["anthropic/claude-sonnet-4.5", "claude-3-5-haiku-latest"])
async def test_cache_control_for_anthropic(fake_llm: FakeLLM,
                                           make_client: Callable[..., LLMClient],
                                           model: str) -> None:
    await make_client(model=model).complete(MESSAGES, TOOLS)
    sent = fake_llm.requests[-1]["body"]["messages"]
    assert sent[0] == {"role": "system", "content": [
        {"type": "text", "text": MESSAGES[0]["content"], "cache_control": {"type": "ephemeral"}}]}
    assert sent[1] == MESSAGES[1]
    assert MESSAGES[0]["content"] == "You are a coding agent."  # caller's list untouched


@pytest.mark.parametrize("model", ["openai/gpt-4o", "deepseek/deepseek-chat",
                                   "google/gemini-2.5-pro"])
async def test_no_cache_control_for_others(fake_llm: FakeLLM,
                                           make_client: Callable[..., LLMClient],
                                           model: str) -> None:
    await make_client(model=model).complete(MESSAGES, TOOLS)
    assert fake_llm.requests[-1]["body"]["messages"] == MESSAGES


async def test_openrouter_host_asks_for_cost(make_client: Callable[..., LLMClient]) -> None:
    # The body is built without sending anything: openrouter.ai is never contacted.
    client = make_client(base_url="https://openrouter.ai/api/v1")
    assert client.request_body(MESSAGES, TOOLS)["usage"] == {"include": True}
    assert "usage" not in make_client(request_cost=False,
                                      base_url="https://openrouter.ai/api/v1"
                                      ).request_body(MESSAGES, TOOLS)


@pytest.mark.parametrize("stream", [True, False])
async def test_missing_usage_is_estimated(fake_llm: FakeLLM,
                                          make_client: Callable[..., LLMClient],
                                          stream: bool) -> None:
    fake_llm.script(Reply(content="x" * 400, report_usage=False))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    usage = completion.usage
    assert usage.completion_tokens >= 100  # 400 characters ≈ 100 tokens
    assert usage.prompt_tokens > 0
    assert usage.cost_usd == pytest.approx(
        usage.prompt_tokens * PROMPT_PRICE + usage.completion_tokens * COMPLETION_PRICE)
