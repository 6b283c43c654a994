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

Fan-out: for a task this server runs, the sink hands each entry to every stream at
once (``Subscription.on_push``); the frame is encoded once (``log_frame`` keeps the
last one) and written without waking a coroutine per stream. With more than ``CROWD``
streams on a task, each stream's frames are gathered for ``COALESCE_SECONDS`` (5 ms) and
written at once, which saves socket writes when entries come in bursts. What a client has not
read yet waits in its connection's write buffer, at most ``max_buffer`` bytes (past
the kernel's socket buffer); a client that falls further behind, or whose pending data
makes no progress for ``write_timeout`` seconds, is disconnected (it resumes with
``Last-Event-ID``). Every stream ends with its connection closed (``Connection:
close``): once ``done`` is sent, or ``write_timeout`` seconds later if it is not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamBufferFullError, StreamClosedError

from .handlers import OpenAgentHandler
from .validation import parse_last_event_id

if TYPE_CHECKING:
    from ..tasks.live import Subscription
    from ..tasks.manager import TaskManager

Event = tuple[str, dict[str, Any]]
#: Replayed frames are written in pieces of about this many bytes, each flushed in turn.
REPLAY_CHUNK = 64 * 1024
#: With more streams than this on one task, each stream's frames are gathered for
#: ``COALESCE_SECONDS`` and written at once: fewer socket writes, a little later.
CROWD = 16
COALESCE_SECONDS = 0.005


class Behind(Exception):
    """The client cannot keep up (its buffer is full or its writes make no progress)."""


def format_event(event: str, data: Any, event_id: int | None = None) -> str:
    """One SSE frame; JSON data stays on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


_last_frame: tuple[dict[str, Any] | None, bytes] = (None, b"")


def log_frame(entry: dict[str, Any]) -> bytes:
    """The frame of a log entry; every stream gets the same dict, so it is encoded once."""
    global _last_frame
    if _last_frame[0] is not entry:
        frame = format_event("log", entry, entry.get("seq"))
        if entry.get("entry_type") == "approval":
            # again without id (DESIGN.md §12.5): clients that only watch approvals
            frame += format_event("approval", entry.get("approval") or {})
        _last_frame = (entry, frame.encode())
    return _last_frame[1]


class TaskStreamHandler(OpenAgentHandler):
    """Live log of one task as SSE."""

    #: Seconds of silence before a keep-alive comment (tests shorten it).
    keepalive_interval: float = 15.0
    #: Seconds between progress frames while a call is in flight (DESIGN §12.7: at most 5).
    progress_interval: float = 2.0
    #: Seconds unsent data may wait without any progress before the client is dropped.
    write_timeout: float = 30.0
    #: Bytes unsent to one client at most; past that it is dropped (it resumes).
    max_buffer: int = 4 * 1024 * 1024
    #: Live entries held for a client while its replay is written.
    max_pending: int = 2000
    #: Streams open right now (all handlers); lets tests see subscriptions freed.
    open_streams: int = 0
    #: Streams closed because their client fell behind (all handlers, ever).
    dropped: int = 0

    _ended: asyncio.Event | None = None
    _gone = False
    _probe: asyncio.Future[None] | None = None
    _subscription: Subscription | None = None
    _timer: asyncio.TimerHandle | None = None
    _probe_at = 0.0

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        """Replay entries after Last-Event-ID, then push live ones, then ``done``."""
        manager, _ = await self.find_task(task_id)
        after = parse_last_event_id(self.request.headers.get("Last-Event-ID"),
                                    self.get_query_argument("last_event_id", None))
        self._ended, self._behind, self._done_sent = asyncio.Event(), False, False
        self._pending: list[bytes] = []
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.set_header("Connection", "close")
        self._in_flight: Callable[[], list[dict[str, Any]]] = \
            lambda: manager.in_flight(task_id)
        subscription = manager.watch(task_id, self.max_pending)
        TaskStreamHandler.open_streams += 1
        try:
            self._last_write = self._progressed = asyncio.get_running_loop().time()
            await self._flush_within()  # headers now, so the client knows the stream is open
            if subscription is None:
                await self._follow_store(manager, task_id, after)
            else:
                await self._follow_live(manager, task_id, after, subscription)
        except StreamClosedError:
            self._gone = True  # the client went away mid-write; nothing left to tell it
        except (Behind, StreamBufferFullError):
            TaskStreamHandler.dropped += 1
            self._close_connection()
        finally:
            if subscription is not None:
                subscription.close()
            if self._timer is not None:
                self._timer.cancel()
            TaskStreamHandler.open_streams -= 1
        if not self._gone:
            await self._finish_and_close()

    async def _finish_and_close(self) -> None:
        """End the response, then the connection: once sent, or after ``write_timeout``."""
        finished = self.finish(set_content_type="text/event-stream; charset=utf-8")
        with contextlib.suppress(asyncio.TimeoutError, StreamClosedError):
            await asyncio.wait_for(finished, self.write_timeout)
        # A stream is never reused for another request: a client that stopped reading
        # would otherwise hold the connection open after done.
        self.request.connection.stream.close()

    # -- a task this server runs: replay, then push ---------------------------------------

    async def _follow_live(self, manager: TaskManager, task_id: str, after: int,
                           subscription: Subscription) -> None:
        self._last = await self._replay(await manager.get_log(task_id, after), after)
        if subscription.overflowed:
            raise Behind
        waiting = subscription.take()
        self._subscription = subscription
        subscription.on_push = self._push  # from here the sink writes to us directly
        for item in waiting:
            self._push(item)
        await self._hold()

    def _push(self, item: Event) -> None:
        """Take one item as it is recorded (called by the task's sink, synchronously)."""
        assert self._ended is not None
        if self._ended.is_set():
            return
        kind, data = item
        if kind == "log":
            if data["seq"] > self._last:
                self._last = data["seq"]
                self._queue(log_frame(data))
            return
        if kind == "done":
            self._pending.append(format_event("done", data).encode())
            self._done_sent = True
        self._write_pending()
        self._ended.set()  # done, or the manager is closing (no done then)

    def _queue(self, frame: bytes) -> None:
        """Write now; in a crowd, gather ``COALESCE_SECONDS`` of frames into one write."""
        self._pending.append(frame)
        if self._subscription is None or self._subscription.peers() <= CROWD:
            self._write_pending()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(COALESCE_SECONDS,
                                                                 self._write_pending)

    def _write_pending(self) -> None:
        assert self._ended is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ended.is_set() or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            self._send(data)
        except StreamBufferFullError:
            self._behind = True
            self._ended.set()
        except StreamClosedError:
            self._gone = True
            self._ended.set()

    async def _hold(self) -> None:
        """Wait for the end; meanwhile keep-alives, and drop a client that stalls."""
        assert self._ended is not None
        check = min(self.keepalive_interval, self.progress_interval, 1.0)
        while not self._ended.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ended.wait(), check)
            if self._ended.is_set():
                break
            if self._stalled():
                raise Behind
            self._tick()
        if self._behind:
            raise Behind
        if self._gone:
            raise StreamClosedError

    # -- a finished task, or one another server runs: read the store ----------------------

    async def _follow_store(self, manager: TaskManager, task_id: str, after: int) -> None:
        async with aclosing(manager.subscribe(task_id, after)) as events:
            await self._pump(events)

    async def _pump(self, events: AsyncIterator[Event]) -> None:
        """Forward events until ``done``, the end of the stream or the client's exit."""
        assert self._ended is not None
        gone = asyncio.ensure_future(self._ended.wait())
        following: asyncio.Future[Event] | None = None
        try:
            while True:
                if following is None:
                    following = asyncio.ensure_future(anext(events))
                wait = min(self.progress_interval, self.keepalive_interval)
                done, _ = await asyncio.wait({following, gone}, timeout=wait,
                                             return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    raise StreamClosedError
                if not done:
                    self._tick()
                    await self._flush_within()
                    continue
                try:
                    event, data = following.result()
                except StopAsyncIteration:
                    return
                following = None
                if event not in ("log", "done"):
                    return  # the manager is shutting down: end the stream without done
                await self._send_within(log_frame(data) if event == "log" else
                                        format_event("done", data).encode())
                if event == "done":
                    self._done_sent = True
                    return
        finally:
            gone.cancel()
            if following is not None and not following.done():
                following.cancel()
                await asyncio.wait({following})

    # -- writing ------------------------------------------------------------------------

    def _tick(self) -> None:
        """Progress frames every ``progress_interval``; a keep-alive after a silence."""
        now = asyncio.get_running_loop().time()
        if now - self._progressed >= self.progress_interval:
            self._progressed = now
            frames = "".join(format_event("progress", call) for call in self._in_flight())
            if frames:
                self._send(frames.encode())
        if now - self._last_write >= self.keepalive_interval:
            self._send(b": keep-alive\n\n")

    async def _replay(self, entries: list[dict[str, Any]], after: int) -> int:
        """Write ``entries`` in flushed pieces; the last seq written."""
        last, piece = after, bytearray()
        for entry in entries:
            last = entry["seq"]
            piece += log_frame(entry)
            if len(piece) >= REPLAY_CHUNK:
                await self._send_within(bytes(piece))
                piece.clear()
        if piece:
            await self._send_within(bytes(piece))
        return last

    def _send(self, data: bytes) -> None:
        """Write without waiting; ``StreamBufferFullError`` if too far behind."""
        connection = self.request.connection
        stream = connection.stream
        self._last_write = asyncio.get_running_loop().time()
        # Tornado refuses a write once unsent + new > the limit: a frame bigger than the
        # bound still goes out; only a client with more than max_buffer unsent is refused.
        stream.max_write_buffer_size = self.max_buffer + len(data) + 32
        # The fan-out's hot path: straight to the socket's stream, framed as the connection
        # frames its body (chunked for HTTP/1.1), which saves about 40% of the CPU per
        # stream and entry. Should tornado stop exposing how it frames, the handler's own
        # write and flush do the same, only slower.
        chunked = getattr(connection, "_chunking_output", None)
        if not isinstance(chunked, bool):
            self.write(data)
            self.flush()
        elif chunked:
            stream.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            stream.write(data)

    async def _send_within(self, data: bytes) -> None:
        """Write and wait until sent; ``Behind`` after ``write_timeout`` without progress."""
        self._send(data)
        await self._flush_within()

    async def _flush_within(self) -> None:
        try:
            await asyncio.wait_for(self.flush(), self.write_timeout)
        except asyncio.TimeoutError:
            raise Behind from None

    def _stalled(self) -> bool:
        """Whether data written ``write_timeout`` seconds ago or more is still unsent.

        A probe (an empty write straight to the socket's stream) resolves once everything
        written before it is sent; a probe older than ``write_timeout`` means a stall.
        """
        now = asyncio.get_running_loop().time()
        if self._probe is not None and not self._probe.done():
            return now - self._probe_at > self.write_timeout
        stream = self.request.connection.stream
        self._probe = stream.write(b"") if stream.writing() else None
        self._probe_at = now
        return False

    def _close_connection(self) -> None:
        self._gone = True
        self.request.connection.stream.close()

    def on_connection_close(self) -> None:
        """The client left: stop waiting for events."""
        self._gone = True
        if self._ended is not None:
            self._ended.set()
        super().on_connection_close()
