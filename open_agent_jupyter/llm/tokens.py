"""A rough token count for budgeting context and estimating cost before a call.

It is a heuristic — about four characters of JSON text per token, which is close for
English prose and code with the common BPE tokenizers — because no model tokenizer can be
downloaded at run time (the package works offline and for any model). Use the ``usage``
the endpoint reports for real figures.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4


def estimate_tokens(obj: str | list[Any] | dict[str, Any]) -> int:
    """About ``len(json text) / 4`` tokens for a string, message list or message (≥ 1 if non-empty)."""
    text = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, default=str)
    if not text:
        return 0
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)
