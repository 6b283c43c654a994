"""Following a task's SSE stream: parsing, backoff and the reconnecting iterators.

A stream yields ``(event, data)`` pairs (``("log", entry)`` ... ``("done", {...})``) and
hides dropped connections: it reconnects with exponential backoff (``base`` seconds
doubling up to ``cap``, each delay shortened by a random jitter of up to half), resumes
with ``Last-Event-ID`` and drops any entry whose ``seq`` it has already yielded, so no
event is lost or shown twice. The backoff resets only after an event that is not an
``error`` event has arrived, so a server that accepts and drops at once is not hammered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ..exceptions import OpenAgentError, TaskNotFoundError

if TYPE_CHECKING:
    from .client import AgentClient, AsyncAgentClient

#: Connection states a stream reports through ``on_state``.
CONNECTING, CONNECTED, RECONNECTING, DISCONNECTED = (
    "connecting", "connected", "reconnecting", "disconnected")

StateCallback = Callable[[str], None]


class APIError(OpenAgentError):
    """The Open Agent server answered with an error; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachableError(APIError):
    """The Open Agent server could not be reached at all."""


@dataclass
class Backoff:
    """Exponential backoff with jitter; ``delays`` records every delay handed out."""

    base: float = 1.0
    cap: float = 30.0
    failures: int = 0
    delays: list[float] = field(default_factory=list)

    def next_delay(self) -> float:
        """The delay before the next attempt (and count one more failure)."""
        raw = min(self.cap, self.base * (2 ** self.failures))
        self.failures += 1
        delay = raw * (1.0 - 0.5 * random.random())
        self.delays.append(delay)
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (after a good event)."""
        self.failures = 0


@dataclass
class SSEEvent:
    """One dispatched server-sent event."""

    event: str = "message"
    data: str = ""
    id: str | None = None


class SSEParser:
    """Turns the lines of a ``text/event-stream`` into events (comments are skipped)."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> SSEEvent | None:
        """Take one line (without its newline); return an event when a blank line ends one."""
        if not line:
            if not self._data and self._event is None:
                return None
            event = SSEEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id = None, [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None


class _Cursor:
    """What both stream flavours share: the last seq seen, dedupe, backoff and state."""

    def __init__(self, after: int, backoff: Backoff, on_state: StateCallback | None) -> None:
        self.last_seq = after
        self.backoff = backoff
        self.on_state = on_state
        self.state = CONNECTING
        self.finished = False

    def set_state(self, state: str) -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    def headers(self) -> dict[str, str]:
        return {"Last-Event-ID": str(self.last_seq)} if self.last_seq else {}

    def accept(self, event: SSEEvent) -> tuple[str, dict[str, Any]] | None:
        """The pair to yield for ``event``, or None when it was seen before."""
        try:
            data = json.loads(event.data) if event.data else {}
        except json.JSONDecodeError:
            data = {"content": event.data}
        if event.event == "log":
            seq = int(data.get("seq") or 0)
            if seq and seq <= self.last_seq:
                return None
            self.last_seq = max(self.last_seq, seq)
        if event.event != "error":
            self.backoff.reset()
        if event.event == "done":
            self.finished = True
        return event.event, data

    def check(self, response: httpx.Response, task_id: str) -> None:
        """Raise for an answer that retrying cannot fix; return when it is worth reading."""
        if response.status_code == 404:
            raise TaskNotFoundError(f"no task with id {task_id}")
        if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
            raise APIError(f"stream refused: HTTP {response.status_code}", response.status_code)


class _Retry(Exception):
    """The connection ended or failed in a way worth retrying."""


class EventStream:
    """A blocking iterator over a task's events; ``close()`` (from any thread) ends it."""

    def __init__(self, client: AgentClient, task_id: str, after: int = 0,
                 on_state: StateCallback | None = None) -> None:
        self.client = client
        self.task_id = task_id
        self.cursor = _Cursor(after, Backoff(client.backoff_base, client.backoff_cap), on_state)
        self._closed = threading.Event()
        self._response: httpx.Response | None = None

    @property
    def backoff(self) -> Backoff:
        """The backoff in use (its ``delays`` show how it grew)."""
        return self.cursor.backoff

    @property
    def state(self) -> str:
        """connecting | connected | reconnecting | disconnected."""
        return self.cursor.state

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        try:
            while not self._closed.is_set() and not self.cursor.finished:
                with contextlib.suppress(_Retry):
                    yield from self._read_once()
                if self.cursor.finished or self._closed.is_set():
                    break
                self.cursor.set_state(RECONNECTING)
                self._closed.wait(self.cursor.backoff.next_delay())
        finally:
            self.cursor.set_state(DISCONNECTED)

    def _read_once(self) -> Iterator[tuple[str, dict[str, Any]]]:
        path = f"api/task/{self.task_id}/stream"
        try:
            with self.client.http.stream("GET", path, headers=self.cursor.headers()) as response:
                self._response = response
                if self._closed.is_set():  # close() came while connecting: it saw no response
                    return
                if response.status_code != 200:
                    self.cursor.check(response, self.task_id)
                    raise _Retry
                self.cursor.set_state(CONNECTED)
                parser = SSEParser()
                for line in response.iter_lines():
                    event = parser.feed(line)
                    pair = self.cursor.accept(event) if event else None
                    if pair is not None:
                        yield pair
                    if self.cursor.finished:
                        return
        except httpx.HTTPError as exc:
            if self._closed.is_set():
                return
            raise _Retry from exc
        finally:
            self._response = None

    def close(self) -> None:
        """Stop following: the iteration ends and the state becomes disconnected."""
        self._closed.set()
        response = self._response
        if response is not None:
            _shutdown(response)
        self.cursor.set_state(DISCONNECTED)


def _shutdown(response: httpx.Response) -> None:
    """Wake a thread blocked reading ``response`` by shutting its socket down."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


async def follow_async(client: AsyncAgentClient, task_id: str, after: int = 0,
                       on_state: StateCallback | None = None,
                       ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The asyncio flavour of ``EventStream``: cancel the consuming task to stop it."""
    cursor = _Cursor(after, Backoff(client.backoff_base, client.backoff_cap), on_state)
    path = f"api/task/{task_id}/stream"
    try:
        while not cursor.finished:
            try:
                async with client.http.stream("GET", path, headers=cursor.headers()) as response:
                    if response.status_code != 200:
                        cursor.check(response, task_id)
                    else:
                        cursor.set_state(CONNECTED)
                        parser = SSEParser()
                        async for line in response.aiter_lines():
                            event = parser.feed(line)
                            pair = cursor.accept(event) if event else None
                            if pair is not None:
                                yield pair
                            if cursor.finished:
                                return
            except httpx.HTTPError:
                pass
            cursor.set_state(RECONNECTING)
            await asyncio.sleep(cursor.backoff.next_delay())
    finally:
        cursor.set_state(DISCONNECTED)
