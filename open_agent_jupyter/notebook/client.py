"""Python clients for the Open Agent REST API (DESIGN §4): ``AgentClient`` and ``AsyncAgentClient``.

Both default to the server the kernel was started by (``OPEN_AGENT_URL`` and
``OPEN_AGENT_TOKEN``, exported by the server extension) and send
``Authorization: token T``. ``stream(task_id)`` follows a task's events and
reconnects on its own (see ``notebook.sse``)::

    from open_agent_jupyter import AgentClient

    client = AgentClient()                      # or AgentClient("http://127.0.0.1:8888/", "TOKEN")
    task_id = client.submit("Create hello.py that prints Hello World")["id"]
    for event, data in client.stream(task_id):
        print(event, data.get("entry_type"), data.get("content", "")[:80])
    print(client.get(task_id)["result"])

Errors: ``TaskNotFoundError`` for an unknown id, ``ApprovalNotFoundError`` /
``ApprovalAnsweredError`` for an unknown or already decided approval (``approve`` /
``deny``), ``APIError`` (with ``status``) for any other error answer, ``ServerUnreachableError`` when the server cannot be reached.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..exceptions import (
    ApprovalAnsweredError,
    ApprovalNotFoundError,
    ConfigError,
    TaskNotFoundError,
)
from .sse import APIError, EventStream, ServerUnreachableError, StateCallback, follow_async

__all__ = ["AgentClient", "AsyncAgentClient", "APIError", "ServerUnreachableError",
           "server_from_env"]


def server_from_env(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    """The server URL (ending in "/") and token: the arguments, else the environment.

    ``OPEN_AGENT_TOKEN`` is only sent to ``OPEN_AGENT_URL``'s server, never to another URL.
    """
    env_url = (os.environ.get("OPEN_AGENT_URL") or "").rstrip("/") + "/"
    base = (url or env_url).rstrip("/") + "/"
    if base == "/":
        raise ConfigError("no Open Agent server: pass url= or set OPEN_AGENT_URL")
    if token is None and base == env_url:
        token = os.environ.get("OPEN_AGENT_TOKEN") or None
    return base, token


def _options(url: str | None, token: str | None, timeout: float) -> dict[str, Any]:
    base, token = server_from_env(url, token)
    headers = {"Authorization": f"token {token}"} if token else {}
    # Reads wait longer than the server's 15 s keep-alive so a quiet stream is not cut.
    return {"base_url": base, "headers": headers,
            "timeout": httpx.Timeout(timeout, read=max(timeout, 45.0))}


def _body(task: str, overrides: dict[str, Any]) -> dict[str, Any]:
    return {"task": task, **{k: v for k, v in overrides.items() if v is not None}}


def _params(status: str | None, limit: int, offset: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        params["status"] = status
    return params


def _answer(decision: str, message: str | None, remember: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"decision": decision}
    if message is not None:
        body["message"] = message
    if remember:
        body["remember"] = True
    return body


def _log_param(log: bool) -> dict[str, str]:
    return {} if log else {"log": "false"}


def _decode(response: httpx.Response) -> Any:
    if response.status_code < 400:
        return response.json()
    try:
        message = response.json().get("error") or response.json().get("message")
    except ValueError:
        message = None
    message = message or response.reason_phrase or "error"
    path = response.request.url.path
    if "/approvals/" in path and response.status_code in (404, 409):
        error = ApprovalNotFoundError if response.status_code == 404 else ApprovalAnsweredError
        raise error(message)
    if response.status_code == 404 and "/api/task/" in path:
        raise TaskNotFoundError(message)
    raise APIError(f"HTTP {response.status_code}: {message}", response.status_code)


class _ClientBase:
    """What both clients share: the server URL, the HTTP client, the stream's backoff."""

    http_class: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 30.0, backoff_base: float = 1.0,
                 backoff_cap: float = 30.0) -> None:
        options = _options(url, token, timeout)
        self.url: str = options["base_url"]
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.http: Any = self.http_class(**options)


class AgentClient(_ClientBase):
    """Blocking client; ``backoff_base``/``backoff_cap`` tune the stream's reconnects."""

    http_class = httpx.Client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"cannot reach {self.url}: {exc}") from exc
        return _decode(response)

    def submit(self, task: str, **overrides: Any) -> dict[str, Any]:
        """Start a task (overrides: model, working_dir, max_iterations, budget_cents, backend)."""
        return self._call("POST", "api/task", json=_body(task, overrides))

    def get(self, task_id: str, log: bool = True) -> dict[str, Any]:
        """The task with its log (``log=False``: without it, a cheap poll)."""
        return self._call("GET", f"api/task/{task_id}", params=_log_param(log))

    def list(self, status: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{"tasks": [summary, ...], "total": N}``, newest first."""
        return self._call("GET", "api/tasks", params=_params(status, limit, offset))

    def stop(self, task_id: str) -> dict[str, Any]:
        """Stop a task; returns it (now cancelled, or already final)."""
        return self._call("POST", f"api/task/{task_id}/stop")

    def approve(self, task_id: str, approval_id: str, message: str | None = None,
                remember: bool = False) -> dict[str, Any]:
        """Allow a pending tool call (``remember``: and the same ones for the rest of the task)."""
        return self._call("POST", f"api/task/{task_id}/approvals/{approval_id}",
                          json=_answer("allow", message, remember))

    def deny(self, task_id: str, approval_id: str, message: str | None = None) -> dict[str, Any]:
        """Deny a pending tool call; ``message`` is what the model reads."""
        return self._call("POST", f"api/task/{task_id}/approvals/{approval_id}",
                          json=_answer("deny", message, False))

    def stats(self) -> dict[str, Any]:
        """Totals by status, total cost, success rate."""
        return self._call("GET", "api/stats")

    def health(self) -> dict[str, Any]:
        """The server's health record (no authentication needed)."""
        return self._call("GET", "api/health")

    def stream(self, task_id: str, after: int = 0,
               on_state: StateCallback | None = None) -> EventStream:
        """Follow the task's events (entries after ``after``), reconnecting as needed."""
        return EventStream(self, task_id, after, on_state)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAgentClient(_ClientBase):
    """The asyncio flavour of ``AgentClient`` (same methods, awaitable)."""

    http_class = httpx.AsyncClient

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"cannot reach {self.url}: {exc}") from exc
        return _decode(response)

    async def submit(self, task: str, **overrides: Any) -> dict[str, Any]:
        """Start a task (overrides: model, working_dir, max_iterations, budget_cents, backend)."""
        return await self._call("POST", "api/task", json=_body(task, overrides))

    async def get(self, task_id: str, log: bool = True) -> dict[str, Any]:
        """The task with its log (``log=False``: without it, a cheap poll)."""
        return await self._call("GET", f"api/task/{task_id}", params=_log_param(log))

    async def list(self, status: str | None = None, limit: int = 50,
                   offset: int = 0) -> dict[str, Any]:
        """``{"tasks": [summary, ...], "total": N}``, newest first."""
        return await self._call("GET", "api/tasks", params=_params(status, limit, offset))

    async def stop(self, task_id: str) -> dict[str, Any]:
        """Stop a task; returns it (now cancelled, or already final)."""
        return await self._call("POST", f"api/task/{task_id}/stop")

    async def approve(self, task_id: str, approval_id: str, message: str | None = None,
                      remember: bool = False) -> dict[str, Any]:
        """Allow a pending tool call (``remember``: and the same ones for the rest of the task)."""
        return await self._call("POST", f"api/task/{task_id}/approvals/{approval_id}",
                                json=_answer("allow", message, remember))

    async def deny(self, task_id: str, approval_id: str,
                   message: str | None = None) -> dict[str, Any]:
        """Deny a pending tool call; ``message`` is what the model reads."""
        return await self._call("POST", f"api/task/{task_id}/approvals/{approval_id}",
                                json=_answer("deny", message, False))

    async def stats(self) -> dict[str, Any]:
        """Totals by status, total cost, success rate."""
        return await self._call("GET", "api/stats")

    async def health(self) -> dict[str, Any]:
        """The server's health record (no authentication needed)."""
        return await self._call("GET", "api/health")

    def stream(self, task_id: str, after: int = 0,
               on_state: StateCallback | None = None) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Follow the task's events (``async for``), reconnecting as needed."""
        return follow_async(self, task_id, after, on_state)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def __aenter__(self) -> AsyncAgentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
