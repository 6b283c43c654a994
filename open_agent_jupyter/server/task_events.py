"""``GET /api/tasks/stream``: the task list's changes as Server-Sent Events (DESIGN.md §12.7).

Frames (no ``id:``: there is nothing to resume; a client that reconnects reads
``GET /api/tasks`` again)::

    event: task
    data: <task summary, as one row of GET /api/tasks>

sent when a task is created or its status, iterations or cost change, and::

    event: notebook_edit
    data: {"edit_id", "task_id", "path", "action", "cell_id", "index", "source", "cell_type"}

published by the notebook tools for a front end that has the notebook open (§12.2).
A ``: keep-alive`` comment goes out after ``keepalive_interval`` seconds of silence.

``TaskEventHub`` fans the events out: ``OpenAgent.task_events.publish(event, data)``
(on the server's event loop). A subscriber that falls ``max_backlog`` events behind is
dropped (its stream ends) rather than let memory grow; the client reconnects and reads
the list again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .handlers import OpenAgentHandler
from .sse import format_event

Event = tuple[str, dict[str, Any]]
#: Queue item that ends a subscription (the subscriber fell too far behind, or the hub closed).
_END: Event = ("end", {})


class TaskEventHub:
    """Fans task-list events out to every open ``/api/tasks/stream``."""

    def __init__(self, max_backlog: int = 1000) -> None:
        self.max_backlog = max_backlog
        self._queues: set[asyncio.Queue[Event]] = set()

    def subscribe(self) -> asyncio.Queue[Event]:
        """A new queue that receives every event published from now on."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """Stop delivering to ``queue``."""
        self._queues.discard(queue)

    @property
    def subscriber_count(self) -> int:
        """How many streams are open now."""
        return len(self._queues)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Deliver ``event`` to every subscriber (never blocks)."""
        for queue in list(self._queues):
            if queue.qsize() >= self.max_backlog:
                self._queues.discard(queue)
                queue.put_nowait(_END)
            else:
                queue.put_nowait((event, data))

    def publish_task(self, task: Any) -> None:
        """Publish ``event: task`` with the summary of ``task`` (a manager listener)."""
        self.publish("task", task.summary())

    def close(self) -> None:
        """End every open stream."""
        for queue in list(self._queues):
            queue.put_nowait(_END)
        self._queues.clear()


class TasksStreamHandler(OpenAgentHandler):
    """The task list's live changes as SSE."""

    #: Seconds of silence before a keep-alive comment (tests shorten it).
    keepalive_interval: float = 15.0

    _gone: asyncio.Event | None = None

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Push ``task`` and ``notebook_edit`` events until the client leaves."""
        await self.task_manager()  # 503 while Open Agent is not configured
        hub = self.extension.task_events
        self._gone = gone = asyncio.Event()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        queue = hub.subscribe()
        try:
            await self.flush()  # headers now, so the client knows the stream is open
            await self._pump(queue, gone)
        except StreamClosedError:
            pass  # the client went away mid-write
        finally:
            hub.unsubscribe(queue)
        if not gone.is_set():
            self.finish()

    async def _pump(self, queue: asyncio.Queue[Event], client_gone: asyncio.Event) -> None:
        """Forward events until the hub ends the subscription or the client leaves."""
        gone = asyncio.ensure_future(client_gone.wait())
        following: asyncio.Future[Event] | None = None
        try:
            while True:
                if following is None:
                    following = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({following, gone}, timeout=self.keepalive_interval,
                                             return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    return
                if not done:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    continue
                event, data = following.result()
                following = None
                if event == _END[0]:
                    return
                self.write(format_event(event, data))
                await self.flush()
        finally:
            gone.cancel()
            if following is not None and not following.done():
                following.cancel()

    def on_connection_close(self) -> None:
        """The client left: stop waiting for events."""
        if self._gone is not None:
            self._gone.set()
        super().on_connection_close()
