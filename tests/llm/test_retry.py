"""The retry table, Retry-After parsing and backoff, and the answer parsers."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from open_agent_jupyter.exceptions import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    LLMConnectionError,
    LLMServerError,
    LLMTimeoutError,
    LLMTransientError,
    ModelNotFoundError,
    RateLimitError,
    ResponseFormatError,
    StreamCutError,
)
from open_agent_jupyter.llm.response import StreamAssembler, decode_json, parse_completion
from open_agent_jupyter.llm.retry import (
    error_for_exception,
    error_for_object,
    error_for_status,
    parse_retry_after,
    retry_delay,
    with_retries,
)


@pytest.mark.parametrize(("status", "cls"), [
    (429, RateLimitError), (408, LLMTimeoutError), (500, LLMServerError),
    (502, LLMServerError), (529, LLMServerError), (401, AuthenticationError),
    (402, InsufficientCreditsError), (404, ModelNotFoundError), (422, BadRequestError),
])
def test_status_table(status: int, cls: type) -> None:
    assert type(error_for_status(status, "msg", "m/x")) is cls


def test_transient_errors_carry_retry_after() -> None:
    err = error_for_status(429, "", "m", retry_after=7.0)
    assert isinstance(err, LLMTransientError) and err.retry_after == 7.0


@pytest.mark.parametrize(("code", "cls"), [
    ("server_error", LLMServerError), ("rate_limit_exceeded", RateLimitError),
    ("invalid_api_key", AuthenticationError), ("model_not_found", ModelNotFoundError),
    (429, RateLimitError), ("502", LLMServerError), ("mystery", LLMServerError),
    (None, LLMServerError),
])
def test_error_objects_map_by_code(code: object, cls: type) -> None:
    assert type(error_for_object({"code": code, "message": "m"}, "x")) is cls


def test_error_object_metadata_is_quoted() -> None:
    err = error_for_object({"code": 400, "message": "Provider returned error",
                            "metadata": {"raw": "max_tokens too large"}}, "x")
    assert isinstance(err, BadRequestError) and "max_tokens too large" in err.message


def test_transport_errors() -> None:
    request = httpx.Request("POST", "http://127.0.0.1/")
    assert type(error_for_exception(httpx.ConnectError("refused", request=request))) \
        is LLMConnectionError
    assert type(error_for_exception(httpx.ReadTimeout("slow", request=request))) \
        is LLMTimeoutError
    assert type(error_for_exception(httpx.RemoteProtocolError("eof", request=request))) \
        is LLMConnectionError


def test_retry_after_seconds_date_cap_and_garbage() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "3600"})) == 60.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers()) is None
    future = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 15 <= parse_retry_after(httpx.Headers({"Retry-After": future})) <= 20
    past = email.utils.formatdate(time.time() - 20, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": past})) == 0.0


def test_backoff_grows_with_jitter_and_cap() -> None:
    assert 1.0 <= retry_delay(0, 1.0) <= 1.25
    assert 4.0 <= retry_delay(2, 1.0) <= 5.0
    assert retry_delay(20, 1.0) == 30.0
    assert retry_delay(0, 1.0, retry_after=9.0) == 9.0
    assert retry_delay(0, 1.0, retry_after=600.0) == 60.0


async def test_with_retries_stops_at_fatal_errors() -> None:
    attempts = []

    async def failing() -> None:
        attempts.append(1)
        raise AuthenticationError("no")

    with pytest.raises(AuthenticationError):
        await with_retries(failing, max_retries=5, backoff_base=0.001)
    assert len(attempts) == 1


async def test_with_retries_zero_retries() -> None:
    attempts = []

    async def failing() -> None:
        attempts.append(1)
        raise LLMServerError("down")

    with pytest.raises(LLMServerError):
        await with_retries(failing, max_retries=0, backoff_base=0.001)
    assert len(attempts) == 1


def test_non_json_and_malformed_answers() -> None:
    with pytest.raises(ResponseFormatError, match="non-JSON"):
        decode_json(b"<html>Bad gateway</html>")
    with pytest.raises(ResponseFormatError, match="without choices"):
        parse_completion({"id": "x"}, "m")
    with pytest.raises(ResponseFormatError, match="malformed tool call"):
        parse_completion({"choices": [{"message": {"tool_calls": [{"id": "1"}]}}]}, "m")


def test_content_parts_and_dict_arguments() -> None:
    reply = parse_completion({"choices": [{"finish_reason": "tool_calls", "message": {
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}}]}, "m")
    assert reply.completion.content == "ab"
    assert reply.completion.tool_calls[0].arguments == '{"x": 1}'
    assert reply.completion.tool_calls[0].id == "call_0"


def test_stream_assembler_tolerates_repeated_names_and_comments() -> None:
    asm = StreamAssembler("m")
    for line in [": OPENROUTER PROCESSING", "",
                 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1",'
                 '"function":{"name":"read_file","arguments":"{\\"pa"}}]}}]}',
                 'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
                 '"function":{"name":"read_file","arguments":"th\\": 1}"}}]}}]}',
                 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}']:
        asm.feed_line(line)
    [call] = asm.result().completion.tool_calls
    assert (call.id, call.name, call.arguments) == ("c1", "read_file", '{"path": 1}')


def test_stream_without_end_is_cut() -> None:
    asm = StreamAssembler("m")
    asm.feed_line('data: {"choices":[{"index":0,"delta":{"content":"par"}}]}')
    with pytest.raises(StreamCutError):
        asm.result()


def test_stream_finish_reason_error_is_server_error() -> None:
    asm = StreamAssembler("m")
    with pytest.raises(LLMServerError):
        asm.feed_line('data: {"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}')
