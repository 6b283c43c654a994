"""``GET /api/task/{id}/stream``: Server-Sent Events pushed as entries are recorded.

Frames (DESIGN.md §4)::

    id: <seq>
    event: log
    data: <entry JSON>

an ``approval`` entry also as ``event: approval`` (no id, the record as data, live and
on replay), and a final ``event: done`` (no id) with the manager's done dict, then the stream
closes. While an LLM or tool call is in flight, ``event: progress`` frames (no id, not
stored) ``{"phase": "llm" | "tool", "call_id"?, "since"}`` go out every
``progress_interval`` seconds, one per call, so a client can tell a slow call from a dead
connection. Resume with the ``Last-Event-ID`` header (or ``?last_event_id=N`` for clients
that cannot set headers). A ``: keep-alive`` comment goes out every
``keepalive_interval`` seconds of silence. When the client goes away the handler
stops waiting at once (``on_connection_close``) and closes the subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .handlers import OpenAgentHandler
from .validation import parse_last_event_id


def format_event(event: str, data: Any, event_id: int | None = None) -> str:
    """One SSE frame; JSON data stays on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


class TaskStreamHandler(OpenAgentHandler):
    """Live log of one task as SSE."""

    #: Seconds of silence before a keep-alive comment (tests shorten it).
    keepalive_interval: float = 15.0
    #: Seconds between progress frames while a call is in flight (DESIGN §12.7: at most 5).
    progress_interval: float = 2.0
    #: Streams open right now (all handlers); lets tests see subscriptions freed.
    open_streams: int = 0

    _gone: asyncio.Event | None = None

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        """Replay entries after Last-Event-ID, then push live ones, then ``done``."""
        manager, _ = await self.find_task(task_id)
        after = parse_last_event_id(self.request.headers.get("Last-Event-ID"),
                                    self.get_query_argument("last_event_id", None))
        self._gone = gone = asyncio.Event()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        events = manager.subscribe(task_id, after)
        TaskStreamHandler.open_streams += 1
        try:
            await self.flush()  # headers now, so the client knows the stream is open
            await self._pump(events, gone, lambda: manager.in_flight(task_id))
        except StreamClosedError:
            pass  # the client went away mid-write; nothing left to tell it
        finally:
            with contextlib.suppress(RuntimeError):  # already closed by its own end
                await events.aclose()
            TaskStreamHandler.open_streams -= 1
        if not gone.is_set():
            self.finish(set_content_type="text/event-stream; charset=utf-8")

    async def _pump(self, events: AsyncIterator[tuple[str, dict[str, Any]]],
                    client_gone: asyncio.Event,
                    in_flight: Callable[[], list[dict[str, Any]]]) -> None:
        """Forward events until ``done``, the end of the stream or the client's exit."""
        gone = asyncio.ensure_future(client_gone.wait())
        following: asyncio.Future[tuple[str, dict[str, Any]]] | None = None
        clock = asyncio.get_running_loop().time
        wrote = progressed = clock()
        try:
            while True:
                if following is None:
                    following = asyncio.ensure_future(anext(events))
                wait = min(self.progress_interval, self.keepalive_interval)
                done, _ = await asyncio.wait({following, gone}, timeout=wait,
                                             return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    return
                if clock() - progressed >= self.progress_interval:
                    progressed = clock()
                    frames = [format_event("progress", call) for call in in_flight()]
                    if frames:
                        self.write("".join(frames))
                        wrote = progressed
                if not done:
                    if clock() - wrote >= self.keepalive_interval:
                        self.write(": keep-alive\n\n")
                        wrote = clock()
                    await self.flush()
                    continue
                wrote = clock()
                try:
                    event, data = following.result()
                except StopAsyncIteration:
                    return
                following = None
                if event not in ("log", "done"):
                    return  # the manager is shutting down: end the stream without done
                self.write(format_event(event, data, data.get("seq") if event == "log" else None))
                if event == "log" and data.get("entry_type") == "approval":
                    # again without id (DESIGN.md §12.5): clients that only watch approvals
                    self.write(format_event("approval", data.get("approval") or {}))
                await self.flush()
                if event == "done":
                    return
        finally:
            gone.cancel()
            if following is not None and not following.done():
                following.cancel()
                await asyncio.wait({following})

    def on_connection_close(self) -> None:
        """The client left: stop waiting for events."""
        if self._gone is not None:
            self._gone.set()
        super().on_connection_close()
