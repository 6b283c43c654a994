"""A small HTTP client for ``opencode serve`` and its event stream.

Every call carries ``?directory=<abs path>`` (OpenCode scopes sessions and events by
directory) and a timeout. Failures become ``OpenCodeError`` whose message names
``OPENCODE_BASE_URL`` and the URL, so a task fails with a reason a user can act on.

``EventStream`` reads ``GET /event`` in a background task into a queue and reconnects
when the stream drops (or stays silent past ``STREAM_SILENCE``; OpenCode sends a
heartbeat every 10 s). After a reconnection it queues ``RECONNECTED`` so the reader
can reconcile from the stored messages; after ``MAX_RECONNECTS`` failed attempts in a
row it queues a ``StreamLost`` and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from ..exceptions import OpenCodeError

#: Timeout of an ordinary call (seconds): connect, then the whole answer.
CALL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
#: Seconds without any byte on the event stream before it counts as dropped.
STREAM_SILENCE = 30.0
#: Failed reconnection attempts in a row before the stream is given up.
MAX_RECONNECTS = 5

CONNECTED = "connected"
RECONNECTED = "reconnected"


@dataclass
class StreamLost:
    """The event stream could not be reopened; ``reason`` says why."""

    reason: str


class OpenCodeClient:
    """The calls the backend makes, scoped to one working directory."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, directory: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.directory = directory
        #: Timeout of each call; the backend shortens it for its clean-up calls.
        self.timeout = CALL_TIMEOUT

    def where(self) -> str:
        """The server's address as the user configured it."""
        return f"the OpenCode server at OPENCODE_BASE_URL={self.base_url}"

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; its JSON answer (None when empty). Raises OpenCodeError."""
        try:
            resp = await self.http.request(method, self.base_url + path, json=body,
                                           params={"directory": self.directory},
                                           timeout=self.timeout)
        except httpx.TimeoutException:
            raise OpenCodeError(f"{self.where()} did not answer {method} {path} in time") from None
        except httpx.HTTPError as exc:
            raise OpenCodeError(f"cannot reach {self.where()}: {exc or type(exc).__name__}") from None
        if resp.status_code >= 400:
            raise OpenCodeError(f"{self.where()} answered {resp.status_code} to {method} {path}: "
                                f"{resp.text[:300]}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise OpenCodeError(f"{self.where()} sent no JSON for {method} {path}") from None

    async def create_session(self, title: str, permission: list[dict[str, str]]) -> str:
        """A new session in the directory; its id."""
        data = await self.call("POST", "/session", {"title": title, "permission": permission})
        if not isinstance(data, dict) or not data.get("id"):
            raise OpenCodeError(f"{self.where()} created no session: {str(data)[:200]}")
        return str(data["id"])

    async def prompt(self, session_id: str, text: str, agent: str,
                     model: dict[str, str] | None) -> None:
        """Start the turn without waiting for it (``prompt_async``)."""
        body: dict[str, Any] = {"parts": [{"type": "text", "text": text}], "agent": agent}
        if model:
            body["model"] = model
        await self.call("POST", f"/session/{session_id}/prompt_async", body)

    async def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session's stored messages ``[{info, parts}]``."""
        data = await self.call("GET", f"/session/{session_id}/message")
        return data if isinstance(data, list) else []

    async def is_busy(self, session_id: str) -> bool:
        """Whether the session is working (``/session/status`` lists only busy ones)."""
        data = await self.call("GET", "/session/status")
        return isinstance(data, dict) and session_id in data

    async def abort(self, session_id: str) -> None:
        """Stop the session's turn."""
        await self.call("POST", f"/session/{session_id}/abort")

    async def reply_permission(self, request_id: str, reply: str, message: str | None) -> None:
        """Answer a permission request (``once``, ``always`` or ``reject``)."""
        body: dict[str, str] = {"reply": reply}
        if message:
            body["message"] = message
        await self.call("POST", f"/permission/{request_id}/reply", body)

    async def reject_question(self, request_id: str) -> None:
        """Refuse a question the agent asked (a headless task cannot answer)."""
        await self.call("POST", f"/question/{request_id}/reject")

    async def pending(self, kind: str, session_id: str) -> list[dict[str, Any]]:
        """The ``permission`` or ``question`` requests waiting for this session."""
        data = await self.call("GET", f"/{kind}")
        items = data if isinstance(data, list) else []
        return [i for i in items if isinstance(i, dict) and i.get("sessionID") == session_id]


class EventStream:
    """``GET /event`` read in the background into a queue, reconnecting when it drops."""

    def __init__(self, client: OpenCodeClient) -> None:
        self.client = client
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def open(self, timeout: float = 15.0) -> None:
        """Start reading and wait until the server confirmed the subscription."""
        self._task = asyncio.create_task(self._read_forever())
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            await self.close()
            raise OpenCodeError(f"{self.client.where()} did not open its event stream") from None
        if isinstance(first, StreamLost):
            await self.close()
            raise OpenCodeError(first.reason)

    async def get(self) -> Any:
        """The next event dict, ``RECONNECTED`` or a ``StreamLost``."""
        return await self.queue.get()

    async def close(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _read_forever(self) -> None:
        failures, opened = 0, False
        while True:
            try:
                async for event in self._events():
                    if event is CONNECTED:
                        failures = 0
                        await self.queue.put(RECONNECTED if opened else CONNECTED)
                        opened = True
                    else:
                        await self.queue.put(event)
                reason = "the event stream ended"
            except (httpx.HTTPError, OpenCodeError) as exc:
                reason = str(exc) or type(exc).__name__
            failures += 1
            if failures > MAX_RECONNECTS:
                await self.queue.put(StreamLost(
                    f"lost the event stream of {self.client.where()}: {reason}"))
                return
            await asyncio.sleep(min(0.1 * 2 ** failures, 3.0))

    async def _events(self) -> AsyncIterator[Any]:
        timeout = httpx.Timeout(STREAM_SILENCE, connect=5.0)
        url = self.client.base_url + "/event"
        async with self.client.http.stream("GET", url, timeout=timeout,
                                           params={"directory": self.client.directory}) as resp:
            if resp.status_code != 200:
                raise OpenCodeError(f"{self.client.where()} answered {resp.status_code} "
                                    f"to GET /event")
            announced = False
            async for event in parse_sse(resp.aiter_lines()):
                if not announced:
                    announced = True
                    yield CONNECTED
                yield event


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """Event dicts from the ``data:`` lines of a server-sent event stream."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line == "" and data:
            payload, data = "\n".join(data), []
            try:
                event = json.loads(payload)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event
