"""Keeps the conversation within the model's context by eliding old, large tool results.

Tool results are the bulk of an agent's context. Once the conversation's estimated
size passes the limit, the oldest large tool results (never those of the latest
turns) are replaced, in place, by a one-line note; the model can run the tool
again if it needs the text. Editing in place keeps earlier prefixes stable, which
is what prompt caching rewards.
"""

from __future__ import annotations

from typing import Any

from ..llm.tokens import estimate_tokens

#: Tool results shorter than this are never elided: they cost little and often matter.
MIN_ELIDED_CHARS = 1_000
#: The tool results of this many most recent assistant turns are always kept.
KEEP_RECENT_TURNS = 2


def elide_old_results(messages: list[dict[str, Any]], limit_tokens: int) -> int:
    """Elide old large tool results until ``messages`` fit ``limit_tokens``; return how many."""
    total = estimate_tokens(messages)
    if total <= limit_tokens:
        return 0
    elided = 0
    for message in _elidable(messages):
        content = message["content"]
        note = (f"[elided: {len(content)} characters of an earlier tool result, "
                "to keep the context small; run the tool again if you need it]")
        total -= estimate_tokens(content) - estimate_tokens(note)
        message["content"] = note
        elided += 1
        if total <= limit_tokens:
            break
    return elided


def _elidable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assistant_turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    cutoff = assistant_turns[-KEEP_RECENT_TURNS] if len(assistant_turns) >= KEEP_RECENT_TURNS else 0
    return [
        m for m in messages[:cutoff]
        if m.get("role") == "tool" and isinstance(m.get("content"), str)
        and len(m["content"]) >= MIN_ELIDED_CHARS and not m["content"].startswith("[elided:")
    ]
