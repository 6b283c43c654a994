"""Failures of the LLM endpoint: what is retried, how often, and what the user is told."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from open_agent_jupyter.exceptions import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    LLMConnectionError,
    LLMError,
    LLMServerError,
    LLMTimeoutError,
    ModelNotFoundError,
    PermissionDeniedError,
    StreamCutError,
)
from open_agent_jupyter.llm.client import LLMClient
from tests.fakellm import FakeLLM, Reply, cut, fault, midstream_error, text

MESSAGES = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}}]


def chat_count(fake_llm: FakeLLM) -> int:
    """How many chat-completion requests reached the server."""
    return len(fake_llm.chat_requests())


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The retry warnings logged by llm.retry."""
    return [r.getMessage() for r in caplog.records
            if r.name == "open_agent_jupyter.llm.retry"]


async def test_429_honours_retry_after_then_succeeds(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fake_llm.script(fault(429, "slow down", headers={"Retry-After": "1"}), text("ok"))
    told: list[tuple[int, int, str, float]] = []

    async def on_retry(attempt: int, most: int, error: LLMError, wait: float) -> None:
        told.append((attempt, most, error.message, wait))

    client = make_client()
    client.on_retry = on_retry
    completion = await client.complete(MESSAGES, TOOLS)
    assert completion.content == "ok"
    assert chat_count(fake_llm) == 2
    [line] = retry_logs(caplog)
    assert "HTTP 429" in line and "in 1.00s" in line  # not the 0.01 s backoff
    [(attempt, _, reason, wait)] = told
    assert attempt == 1 and "HTTP 429" in reason and wait == 1.0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # nothing on stderr


@pytest.mark.parametrize("stream", [True, False])
async def test_500_then_success(fake_llm: FakeLLM, make_client: Callable[..., LLMClient],
                                stream: bool) -> None:
    fake_llm.script(fault(500, "upstream hiccup"), fault(503), text("ok"))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert completion.content == "ok"
    assert chat_count(fake_llm) == 3
    assert completion.usage.llm_calls == 1


async def test_500_forever_gives_up_after_max_retries(
        make_client: Callable[..., LLMClient]) -> None:
    with FakeLLM(default=lambda body: fault(500, "down for good")) as down:
        client = make_client(base_url=down.base_url, max_retries=3)
        with pytest.raises(LLMServerError) as info:
            await client.complete(MESSAGES, TOOLS)
        assert chat_count(down) == 4  # the first try and 3 retries
    assert info.value.status == 500
    assert "down for good" in info.value.message


@pytest.mark.parametrize(("status", "error", "words"), [
    (401, AuthenticationError, "invalid API key (HTTP 401): check OPENROUTER_API_KEY"),
    (402, InsufficientCreditsError, "insufficient credits (HTTP 402)"),
    (403, PermissionDeniedError, "permission denied (HTTP 403)"),
    (404, ModelNotFoundError, "model not found: fake/model"),
])
@pytest.mark.parametrize("stream", [True, False])
async def test_fatal_statuses_are_not_retried(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient], status: int,
        error: type[LLMError], words: str, stream: bool) -> None:
    fake_llm.script(fault(status, "endpoint says no"), text("never reached"))
    with pytest.raises(error) as info:
        await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert words in str(info.value)
    assert info.value.status == status
    assert chat_count(fake_llm) == 1


async def test_400_naming_the_model_is_model_not_found(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient]) -> None:
    fake_llm.script(fault(400, "nobody/nothing is not a valid model ID"))
    with pytest.raises(ModelNotFoundError, match="model not found: nobody/nothing"):
        await make_client(model="nobody/nothing").complete(MESSAGES, TOOLS)
    assert chat_count(fake_llm) == 1


async def test_other_400_is_bad_request_with_the_endpoint_message(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient]) -> None:
    fake_llm.script(fault(400, "messages[0].content must not be empty"))
    with pytest.raises(BadRequestError, match="must not be empty"):
        await make_client().complete(MESSAGES, TOOLS)
    assert chat_count(fake_llm) == 1


async def test_cut_stream_is_retried(fake_llm: FakeLLM,
                                     make_client: Callable[..., LLMClient]) -> None:
    fake_llm.script(cut("the first half of an ans"), text("the whole answer"))
    completion = await make_client(stream=True).complete(MESSAGES, TOOLS)
    assert completion.content == "the whole answer"
    assert chat_count(fake_llm) == 2


async def test_cut_stream_forever_is_stream_cut_error(
        make_client: Callable[..., LLMClient]) -> None:
    with FakeLLM(default=lambda body: cut()) as flaky:
        with pytest.raises(StreamCutError):
            await make_client(base_url=flaky.base_url, max_retries=2).complete(MESSAGES, TOOLS)
        assert chat_count(flaky) == 3


async def test_connection_refused_after_retries(
        make_client: Callable[..., LLMClient], closed_port: int,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    client = make_client(base_url=f"http://127.0.0.1:{closed_port}/v1", max_retries=2)
    with pytest.raises(LLMConnectionError, match="could not reach the LLM endpoint"):
        await client.complete(MESSAGES, TOOLS)
    assert len(retry_logs(caplog)) == 2


@pytest.mark.parametrize("stream", [True, False])
async def test_silence_past_read_timeout_is_retried(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient], stream: bool) -> None:
    fake_llm.script(Reply(content="late", delay=0.6), text("on time"))
    completion = await make_client(stream=stream, read_timeout=0.2).complete(MESSAGES, TOOLS)
    assert completion.content == "on time"
    assert chat_count(fake_llm) == 2


async def test_silence_forever_is_timeout_error(make_client: Callable[..., LLMClient]) -> None:
    with FakeLLM(default=lambda body: Reply(content="late", delay=0.4)) as slow:
        client = make_client(base_url=slow.base_url, read_timeout=0.1, max_retries=1)
        with pytest.raises(LLMTimeoutError, match="silent"):
            await client.complete(MESSAGES, TOOLS)
        assert chat_count(slow) == 2


@pytest.mark.parametrize("stream", [True, False])
async def test_error_object_in_answer_is_retried_by_code(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient], stream: bool) -> None:
    fake_llm.script(midstream_error("server_error", "Provider disconnected"), text("ok"))
    completion = await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert completion.content == "ok"
    assert chat_count(fake_llm) == 2


@pytest.mark.parametrize("stream", [True, False])
async def test_fatal_error_object_in_answer_is_not_retried(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient], stream: bool) -> None:
    fake_llm.script(midstream_error(402, "Insufficient credits"), text("never reached"))
    with pytest.raises(InsufficientCreditsError, match="Insufficient credits"):
        await make_client(stream=stream).complete(MESSAGES, TOOLS)
    assert chat_count(fake_llm) == 1


async def test_a_huge_error_body_gives_a_short_message(
        fake_llm: FakeLLM, make_client: Callable[..., LLMClient]) -> None:
    fake_llm.script(Reply(status=401, error_body="<html>" + "x" * 500_000))
    with pytest.raises(AuthenticationError) as info:
        await make_client().complete(MESSAGES, TOOLS)
    assert "invalid API key" in info.value.message and len(info.value.message) < 500
