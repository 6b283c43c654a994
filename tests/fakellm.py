"""A real loopback HTTP server that speaks the OpenAI chat-completions protocol.

It is the LLM of every test and benchmark: it answers ``POST /v1/chat/completions``
streaming (SSE chunks, tool-call arguments split into fragments by index) or not,
from a script of replies, with injectable faults (an HTTP status, a stream cut
mid-way, a delay), and ``GET /v1/models`` with a price list. It runs in a thread,
so it serves a test's event loop, a jupyter server subprocess and ``opencode serve``
alike. Requests without ``tools`` (OpenCode's title generator) get a plain answer
and do not consume the script.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: USD per token, as OpenRouter's /models lists them.
PROMPT_PRICE = 0.000003
COMPLETION_PRICE = 0.000015
CACHE_READ_PRICE = 0.0000003


@dataclass
class Reply:
    """One scripted answer (or fault)."""

    content: str = ""
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    error_body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False
    delay: float = 0.0
    prompt_tokens: int = 100
    completion_tokens: int = 20
    cost: float | None = None
    #: Reported as ``usage.prompt_tokens_details.cached_tokens`` when > 0.
    cached_tokens: int = 0
    #: An ``{"error": ...}`` object sent in a 200 answer, or as a chunk mid-stream.
    error_in_body: Any = None
    #: False: answer without any ``usage`` (as some local servers do).
    report_usage: bool = True


def text(content: str, **kw: Any) -> Reply:
    """A final answer without tool calls."""
    return Reply(content=content, **kw)


def call(name: str, arguments: Any = None, content: str = "", **kw: Any) -> Reply:
    """One tool call; ``arguments`` is a dict (sent as JSON) or a raw string."""
    return Reply(content=content, tool_calls=[(name, arguments or {})], **kw)


def calls(pairs: Iterable[tuple[str, Any]], content: str = "", **kw: Any) -> Reply:
    """Several tool calls in one turn."""
    return Reply(content=content, tool_calls=list(pairs), **kw)


def fault(status: int, message: str = "fault", headers: dict[str, str] | None = None) -> Reply:
    """An HTTP error answer with an OpenAI-style error body."""
    body = {"error": {"message": message, "code": status}}
    return Reply(status=status, error_body=body, headers=headers or {})


def midstream_error(code: Any, message: str = "provider failed", content: str = "partial") -> Reply:
    """An error object inside a 200 answer (or a chunk after some streamed text), as OpenRouter sends."""
    return Reply(content=content, error_in_body={"code": code, "message": message})


def cut(content: str = "partial ans") -> Reply:
    """A streamed answer that stops before it is complete (connection closed)."""
    return Reply(content=content, cut=True)


class FakeLLM:
    """The server. Use as a context manager or call ``close()``."""

    def __init__(self, default: Callable[[dict[str, Any]], Reply] | None = None,
                 model: str = "fake/model") -> None:
        self.model = model
        self.default = default or (lambda body: text("Done."))
        self.requests: list[dict[str, Any]] = []
        #: How many times ``GET /v1/models`` was asked.
        self.models_requests = 0
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval so close() returns in ~50 ms instead of the default 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> FakeLLM:
        """Queue replies; they are served in order, then ``default`` answers."""
        with self._lock:
            self._script.extend(replies)
        return self

    def reset(self) -> None:
        """Forget the script, the recorded requests and a custom default answer."""
        with self._lock:
            self._script.clear()
        self.requests.clear()
        self.default = lambda body: text("Done.")

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._lock:
            return len(self._script)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the chat-completion requests that carried tools."""
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")
                and r["body"].get("tools")]

    def next_reply(self, body: dict[str, Any]) -> Reply:
        if not body.get("tools"):
            return text("A title")
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.default(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-answer (a stopped task, a cut test) are normal here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def _handler_for(llm: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                llm.models_requests += 1
                data = {"data": [{
                    "id": llm.model, "context_length": 200_000,
                    "pricing": {"prompt": str(PROMPT_PRICE), "completion": str(COMPLETION_PRICE),
                                "input_cache_read": str(CACHE_READ_PRICE)},
                }]}
                self._json(200, data)
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._json(400, {"error": {"message": "invalid JSON"}})
                return
            llm.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": "not found"}})
                return
            reply = llm.next_reply(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._json(reply.status, reply.error_body, reply.headers)
            elif reply.error_in_body is not None and not body.get("stream"):
                self._json(200, {"error": reply.error_in_body})
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._json(200, _completion(reply, body, llm.model))

        def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
            # Chunked transfer keeps the connection alive between calls, as real endpoints do;
            # a cut stream closes it without the final chunk.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in _chunks(reply, body, llm.model):
                self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            if reply.cut:
                self.close_connection = True
                return
            if reply.error_in_body is None:
                self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Handler


def _usage(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    if reply.cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cached_tokens}
    if (body.get("usage") or {}).get("include"):
        cost = reply.cost
        if cost is None:
            cost = reply.prompt_tokens * PROMPT_PRICE + reply.completion_tokens * COMPLETION_PRICE
        usage["cost"] = cost
    return usage


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _completion(reply: Reply, body: dict[str, Any], model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": _arguments(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        **({"usage": _usage(reply, body)} if reply.report_usage else {}),
    }


def _chunks(reply: Reply, body: dict[str, Any], model: str) -> Iterable[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                "created": int(time.time()),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    content = reply.content
    for start in range(0, len(content), 16):
        yield chunk({"content": content[start:start + 16]})
    if reply.error_in_body is not None:
        yield {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
               "created": int(time.time()), "error": reply.error_in_body,
               "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
        return
    if reply.cut:
        return
    for i, (name, args) in enumerate(reply.tool_calls):
        encoded = _arguments(args)
        half = len(encoded) // 2
        yield chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                     "function": {"name": name, "arguments": ""}}]})
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": encoded[:half]}}]})
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": encoded[half:]}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    options = body.get("stream_options") or {}
    wanted = options.get("include_usage") or (body.get("usage") or {}).get("include")
    if wanted and reply.report_usage:
        yield {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
               "created": int(time.time()), "choices": [], "usage": _usage(reply, body)}
