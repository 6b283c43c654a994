"""Secrets never reach a task's log, result or error: the last line of defence.

Commands do not see the LLM key or the Jupyter token in their environment, but a tool
can still meet them (``cat`` of a config file, a model that echoes one). Every entry
and final text is scrubbed here, where all of them pass, before anything is stored
or streamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

#: What stands in for a secret.
MASK = "[redacted]"
#: Shorter values are not treated as secrets: masking them would garble ordinary text
#: (a local endpoint's placeholder key such as "x").
MIN_SECRET_LENGTH = 8


def secret_values(values: Iterable[str | None]) -> tuple[str, ...]:
    """The values worth masking, longest first (so no secret is cut by a shorter one)."""
    kept = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
    return tuple(sorted(kept, key=len, reverse=True))


def redact_text(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """``text`` with every secret replaced by ``MASK``."""
    if not text:
        return text
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_entry(data: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """A log entry dict with secrets masked in its content and arguments (in place)."""
    if not secrets:
        return data
    data["content"] = redact_text(data["content"], secrets)
    arguments = data.get("arguments")
    if arguments:
        encoded = json.dumps(arguments, ensure_ascii=False)
        if any(secret in encoded for secret in secrets):
            data["arguments"] = json.loads(redact_text(encoded, secrets) or "{}")
    return data
