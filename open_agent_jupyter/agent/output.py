"""A running tool call's output, streamed into the task's log as ``tool_output`` entries.

The seam (how a tool streams what it produces while it runs):

- The loop gives every call its own ``CallOutput`` and runs the tool with
  ``ctx.with_output(output)``: the tool finds an ``OutputSink`` in ``ctx.output`` and awaits
  ``ctx.output(stream, text)`` for each piece of output as it comes (``run_command``:
  ``"stdout"`` / ``"stderr"``; the ``python`` notebook tool: the kernel stream's name, e.g.
  ``"stdout"`` / ``"stderr"``, with the text of each ``stream`` message). ``ctx.output`` is
  ``None`` when nobody listens (a tool run outside the loop): a tool checks before calling.
- Pieces are coalesced: an entry goes out once ``CHUNK_CHARS`` are buffered or
  ``INTERVAL`` seconds after the first unsent piece, so a chatty command costs at most a
  few entries a second. Past ``STREAM_LIMIT`` characters per call the live output stops
  with a note; the call's ``tool_result`` is still the whole (capped) answer the model reads.
- After the tool returns, the loop awaits ``close()`` (which sends what is buffered) and
  only then logs the ``tool_result``, so every ``tool_output`` of a call precedes its result.

Entries: ``{"entry_type": "tool_output", "tool", "call_id", "stream", "content"}``.
"""

from __future__ import annotations

import asyncio
import contextlib

from ..types import LogSink
from .events import LogEntry

#: Seconds an unsent piece may wait before it goes out.
INTERVAL = 0.1
#: Characters buffered that make an entry go out at once.
CHUNK_CHARS = 4096
#: Characters of live output per call; past it the rest is only in the result.
STREAM_LIMIT = 1_000_000
CUT_NOTE = ("\n[live output stopped after {limit:,} characters; the command keeps running "
            "and its result keeps the head and tail of its output]\n")


class CallOutput:
    """The ``OutputSink`` of one tool call: coalesces pieces into ``tool_output`` entries."""

    def __init__(self, sink: LogSink, tool: str, call_id: str, *,
                 limit: int = STREAM_LIMIT) -> None:
        self.sink, self.tool, self.call_id, self.limit = sink, tool, call_id, limit
        self.sent = 0
        self.cut = False
        self._parts: list[tuple[str, str]] = []
        self._size = 0
        self._timer: asyncio.Task[None] | None = None

    async def __call__(self, stream: str, text: str) -> None:
        """Take a piece of output; it reaches the log within ``INTERVAL`` seconds."""
        if self.cut or not text:
            return
        room = self.limit - self.sent - self._size
        if len(text) >= room:
            self.cut = True
            text = text[:max(room, 0)] + CUT_NOTE.format(limit=self.limit)
        self._add(stream, text)
        if self._size >= CHUNK_CHARS or self.cut:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())

    def _add(self, stream: str, text: str) -> None:
        if self._parts and self._parts[-1][0] == stream:
            self._parts[-1] = (stream, self._parts[-1][1] + text)
        else:
            self._parts.append((stream, text))
        self._size += len(text)

    async def _flush_later(self) -> None:
        await asyncio.sleep(INTERVAL)
        self._timer = None
        await self.flush()

    async def flush(self) -> None:
        """Send what is buffered now, one entry per run of the same stream."""
        parts, self._parts = self._parts, []
        self.sent += self._size
        self._size = 0
        for stream, text in parts:
            await self.sink(LogEntry("tool_output", text, tool=self.tool, call_id=self.call_id,
                                     stream=stream))

    async def close(self) -> None:
        """Send the rest; call once the tool has returned (or was cancelled)."""
        timer, self._timer = self._timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await self.flush()
