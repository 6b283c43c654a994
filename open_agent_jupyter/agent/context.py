"""Keeps the conversation within the model's context by eliding old, large tool results.

Tool results are the bulk of an agent's context. Once the conversation's estimated
size passes the limit, the oldest large tool results (never those of the latest
turns) are replaced, in place, by a one-line note; the model can run the tool
again if it needs the text. Editing in place keeps earlier prefixes stable, which
is what prompt caching rewards.
"""

from __future__ import annotations

from typing import Any

from ..llm.tokens import CHARS_PER_TOKEN

#: Characters counted per message for its role, ids and JSON framing.
MESSAGE_OVERHEAD_CHARS = 16

#: Tool results shorter than this are never elided: they cost little and often matter.
MIN_ELIDED_CHARS = 1_000
#: The tool results of this many most recent assistant turns are always kept.
KEEP_RECENT_TURNS = 2


def elide_old_results(messages: list[dict[str, Any]], limit_tokens: int) -> int:
    """Elide old large tool results until ``messages`` fit ``limit_tokens``; return how many."""
    limit_chars = limit_tokens * CHARS_PER_TOKEN
    total = sum(_chars(m) for m in messages)  # runs every step: no JSON encoding of it all
    if total <= limit_chars:
        return 0
    elided = 0
    for message in _elidable(messages):
        content = message["content"]
        note = (f"[elided: {len(content)} characters of an earlier tool result, "
                "to keep the context small; run the tool again if you need it]")
        total -= len(content) - len(note)
        message["content"] = note
        elided += 1
        if total <= limit_chars:
            break
    return elided


def _chars(message: dict[str, Any]) -> int:
    content = message.get("content")
    size = len(content) if isinstance(content, str) else len(str(content or ""))
    for call in message.get("tool_calls") or ():
        size += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return size + MESSAGE_OVERHEAD_CHARS


def _elidable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assistant_turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    cutoff = assistant_turns[-KEEP_RECENT_TURNS] if len(assistant_turns) >= KEEP_RECENT_TURNS else 0
    return [
        m for m in messages[:cutoff]
        if m.get("role") == "tool" and isinstance(m.get("content"), str)
        and len(m["content"]) >= MIN_ELIDED_CHARS and not m["content"].startswith("[elided:")
    ]
