"""Translate an OpenCode session's events (and stored messages) into our log entries.

``Translator`` is fed the ``GET /event`` frames of one session as they come, and the
``GET /session/{id}/message`` records after a dropped stream; both go through the
same part handler, which remembers what it logged (tool calls and results by part
id, steps and usage by part id, text by part id), so nothing is logged twice.

Mapping (OpenCode 1.18):

- a ``text`` part (grown by the streamed deltas) is held back until something follows
  it in the session: a tool call or a new step makes it ``thinking``; the text still
  held when the turn ends is the ``response`` (and the task's result). OpenCode closes
  a text part only when its step ends, after the step's tool calls started, so waiting
  for the close would put the thought after the call;
- a ``reasoning`` part → ``thinking``, the same way;
- a ``tool`` part → ``tool_call`` once it runs (``arguments`` = its input, ``call_id`` =
  its ``callID``) and ``tool_result`` once it is ``completed`` or ``error``
  (``duration_ms`` from ``state.time``);
- ``step-start`` counts an iteration; ``step-finish`` adds its tokens and cost to the
  usage (prompt tokens include cache reads and writes, completion tokens include
  reasoning);
- ``session.error`` and an assistant message's ``info.error`` → one ``error`` entry;
- ``session.status`` ``retry`` → ``thinking`` (OpenCode retries its LLM call);
- ``busy`` then ``idle`` ends the turn (an idle before the first busy is ignored).
"""

from __future__ import annotations

import json
from typing import Any

from ..agent.events import LogEntry
from ..tools.base import cap_text
from ..types import RunState, Usage

#: Longest argument summary put into a tool_call entry's content.
SUMMARY_LIMIT = 200


class Translator:
    """Turns one session's events into log entries and run figures."""

    def __init__(self, session_id: str, state: RunState) -> None:
        self.session_id = session_id
        self.state = state
        self.busy_seen = False
        self.idle = False
        self.error: str | None = None
        self.result: str | None = None
        #: Whether the latest finished step ended with tool calls (another step follows).
        self.more_steps = False
        #: The message of OpenCode's latest retry of its LLM call, if any.
        self.last_retry: str | None = None
        self._held: dict[str, tuple[str, str]] = {}
        self._texts: set[str] = set()
        self._calls: set[str] = set()
        self._results: set[str] = set()
        self._steps: set[str] = set()
        self._finishes: set[str] = set()
        self._user_messages: set[str] = set()
        self._retries: set[Any] = set()
        self._errors: set[str] = set()

    def concerns(self, event: dict[str, Any]) -> bool:
        """Whether an event belongs to this session."""
        props = event.get("properties") or {}
        sid = props.get("sessionID") or (props.get("part") or {}).get("sessionID")
        if sid is None:
            sid = (props.get("info") or {}).get("sessionID")
        return sid == self.session_id

    def shows_progress(self, event: dict[str, Any]) -> bool:
        """Whether an event of this session is progress (status flips are not).

        While OpenCode retries a failing LLM call it flips between ``busy`` and
        ``retry`` forever; only real output (parts, messages, errors) counts.
        """
        return event.get("type") != "session.status"

    def handle(self, event: dict[str, Any]) -> list[LogEntry]:
        """Entries for one event of this session (often none)."""
        kind = event.get("type")
        props = event.get("properties") or {}
        if kind == "message.part.updated":
            return self.part(props.get("part") or {})
        if kind == "message.updated":
            return self.message_info(props.get("info") or {})
        if kind == "session.error":
            return self._error(props.get("error"))
        if kind == "session.status":
            return self._status(props.get("status") or {})
        if kind == "message.part.delta":
            self.delta(props)
        elif kind == "session.idle":
            self._go_idle()
        return []

    def reconcile(self, messages: list[dict[str, Any]]) -> list[LogEntry]:
        """Entries for whatever the stored messages show that was not logged yet."""
        entries: list[LogEntry] = []
        for message in messages:
            info = message.get("info") or {}
            entries += self.message_info(info)
            if info.get("role") != "user":
                for part in message.get("parts") or []:
                    entries += self.part(part)
        return entries

    def finish(self) -> list[LogEntry]:
        """Entries at the end of the turn: the held text becomes the response."""
        thoughts = [LogEntry("thinking", text.strip()) for kind, text in self._held.values()
                    if kind == "reasoning" and text.strip()]
        answer = "\n\n".join(t.strip() for k, t in self._held.values() if k == "text" and t.strip())
        self._texts.update(self._held)
        self._held.clear()
        if answer:
            self.result = answer
        return thoughts + ([LogEntry("response", answer)] if answer else [])

    def message_info(self, info: dict[str, Any]) -> list[LogEntry]:
        """Remember user messages; an assistant message's error ends the task as failed."""
        if info.get("role") == "user":
            self._user_messages.add(info.get("id", ""))
            return []
        if info.get("error"):
            return self._error(info["error"])
        return []

    def part(self, part: dict[str, Any]) -> list[LogEntry]:
        """Entries for one message part (an update of it, or its stored form)."""
        if part.get("messageID") in self._user_messages or part.get("synthetic"):
            return []
        kind = part.get("type")
        pid = part.get("id", "")
        if kind in ("text", "reasoning"):
            if pid not in self._texts:
                self._held[pid] = (kind, part.get("text") or "")
            return []
        if kind == "tool":
            return self._tool(part)
        if kind == "step-start" and pid not in self._steps:
            self._steps.add(pid)
            self.state.iterations = len(self._steps)
            return self.release()
        if kind == "step-finish" and pid not in self._finishes:
            self._finishes.add(pid)
            self.more_steps = part.get("reason") == "tool-calls"
            self.state.usage.add(step_usage(part))
        return []

    def delta(self, props: dict[str, Any]) -> None:
        """Streamed text: grow the held part it belongs to."""
        pid = props.get("partID", "")
        if pid in self._held and props.get("field") == "text":
            kind, text = self._held[pid]
            self._held[pid] = (kind, text + str(props.get("delta") or ""))

    def release(self) -> list[LogEntry]:
        """Held text that something followed: it was the model thinking aloud."""
        entries = [LogEntry("thinking", text.strip()) for _, text in self._held.values()
                   if text.strip()]
        self._texts.update(self._held)
        self._held.clear()
        return entries

    def _tool(self, part: dict[str, Any]) -> list[LogEntry]:
        state = part.get("state") or {}
        status = state.get("status")
        pid = part.get("id", "")
        tool = part.get("tool") or "tool"
        call_id = part.get("callID") or pid
        entries: list[LogEntry] = []
        if status in ("running", "completed", "error") and pid not in self._calls:
            self._calls.add(pid)
            args = state.get("input") if isinstance(state.get("input"), dict) else {}
            entries += self.release()
            entries.append(LogEntry("tool_call", f"{tool}: {summarize(state, args)}",
                                    tool=tool, call_id=call_id, arguments=args))
        if status in ("completed", "error") and pid not in self._results:
            self._results.add(pid)
            ok = status == "completed"
            text = str(state.get("output") if ok else state.get("error") or "")
            entries.append(LogEntry("tool_result", cap_text(text), tool=tool, call_id=call_id,
                                    ok=ok, duration_ms=duration_ms(state)))
        return entries

    def _error(self, error: Any) -> list[LogEntry]:
        text = describe_error(error)
        if text in self._errors:
            return []
        self._errors.add(text)
        # The first error is the cause; later ones are usually its consequences.
        self.error = self.error or text
        return self.release() + [LogEntry("error", text)]

    def _status(self, status: dict[str, Any]) -> list[LogEntry]:
        kind = status.get("type")
        if kind == "busy":
            self.busy_seen = True
        elif kind == "idle":
            self._go_idle()
        elif kind == "retry" and status.get("attempt") not in self._retries:
            self._retries.add(status.get("attempt"))
            self.last_retry = str(status.get("message") or "")
            return [LogEntry("thinking", f"OpenCode retries its LLM call (attempt "
                                         f"{status.get('attempt')}): {status.get('message', '')}")]
        return []

    def _go_idle(self) -> None:
        # An idle before the first busy is a start-up race, not the end of the turn.
        if self.busy_seen:
            self.idle = True


def step_usage(part: dict[str, Any]) -> Usage:
    """The usage one ``step-finish`` part reports."""
    tokens = part.get("tokens") or {}
    cache = tokens.get("cache") or {}
    cached = int(cache.get("read") or 0)
    return Usage(
        prompt_tokens=int(tokens.get("input") or 0) + cached + int(cache.get("write") or 0),
        completion_tokens=int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
        cached_tokens=cached,
        cost_usd=float(part.get("cost") or 0.0),
        llm_calls=1,
    )


def duration_ms(state: dict[str, Any]) -> float | None:
    """Milliseconds between a tool state's start and end, when both are known."""
    times = state.get("time") or {}
    if isinstance(times.get("start"), (int, float)) and isinstance(times.get("end"), (int, float)):
        return float(times["end"] - times["start"])
    return None


def summarize(state: dict[str, Any], args: dict[str, Any]) -> str:
    """A one-line description of a tool call for its log entry's content."""
    title = state.get("title")
    text = title if isinstance(title, str) and title else json.dumps(args, ensure_ascii=False)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."


def describe_error(error: Any) -> str:
    """A readable message for an OpenCode error object ``{name, data}``."""
    if not isinstance(error, dict):
        return f"OpenCode error: {error}"
    name = error.get("name") or "Error"
    data = error.get("data") or {}
    message = data.get("message") if isinstance(data, dict) else None
    if isinstance(message, str):  # OpenCode puts stack traces under the first line
        message = message.strip().splitlines()[0][:500] if message.strip() else None
    if name == "MessageAbortedError":
        return "the OpenCode session was aborted"
    status = data.get("statusCode") if isinstance(data, dict) else None
    detail = f" (HTTP {status})" if status else ""
    return f"OpenCode {name}{detail}: {message}" if message else f"OpenCode {name}{detail}"
