"""Secrets never reach a task's log, result or error: the last line of defence.

Commands do not see the LLM key or the Jupyter token in their environment, but a tool
can still meet them (``cat`` of a config file, a model that echoes one). Every entry
and final text is scrubbed here, where all of them pass, before anything is stored
or streamed. The masking itself (exact value, base64 and hex forms) is ``..redact``.
"""

from __future__ import annotations

import json
from typing import Any

from ..redact import MASK, MIN_SECRET_LENGTH, redact_text, secret_values

__all__ = ["MASK", "MIN_SECRET_LENGTH", "redact_entry", "redact_text", "secret_values"]


def redact_entry(data: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """A log entry dict with secrets masked in its content, diff and arguments (in place)."""
    if not secrets:
        return data
    data["content"] = redact_text(data["content"], secrets)
    if data.get("diff"):
        data["diff"] = redact_text(data["diff"], secrets)
    arguments = data.get("arguments")
    if arguments:
        encoded = json.dumps(arguments, ensure_ascii=False)
        masked = redact_text(encoded, secrets)
        if masked != encoded:
            data["arguments"] = json.loads(masked or "{}")
    return data
