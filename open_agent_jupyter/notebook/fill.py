"""Filling ``{name}`` fields of a ``%agent`` task from the notebook's variables.

The rule: a brace group is filled only when it holds a Python name or expression
(``FIELD``); ``{{`` and ``}}`` are literal braces; any other brace group (JSON, code,
``{}``, spaces, quotes, a leading colon) stays exactly as written.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError


class _Namespace(Mapping[str, Any]):
    """The user's namespace for ``str.format``: a missing name is a usage error."""

    def __init__(self, ns: Mapping[str, Any]) -> None:
        self.ns = ns

    def __getitem__(self, key: str) -> Any:
        if key not in self.ns:
            raise UsageError(f"{{{key}}} in the task: no variable {key!r} in the notebook "
                             "(write {{ and }} for literal braces)")
        return self.ns[key]

    def __iter__(self) -> Any:
        return iter(self.ns)

    def __len__(self) -> int:
        return len(self.ns)


#: What ``{...}`` must hold to be filled: a name, then ``.attr`` / ``[key]`` parts, an
#: optional ``!r``/``!s``/``!a`` and ``:spec``; no spaces or quotes anywhere.
FIELD = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]\s{}'\"]+\])*(?:![rsa])?"
                   r"(?::[^\s{}'\"]*)?")


def fill_task(text: str, ns: Mapping[str, Any]) -> str:
    """Fill ``{name}`` fields from ``ns``; other braces (JSON, code) stay as written.

    ``{name}``, ``{name.attr}``, ``{d[key]}``, ``{x!r}``, ``{x:>8}`` are filled; ``{{`` and
    ``}}`` are literal braces; a brace group whose content is not such a field (quotes,
    spaces, a leading colon, nested braces: ``{"a": 1}``) is kept as written, braces and all.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("{{", "}}"), i):
            out.append(text[i])
            i += 2
        elif text[i] == "{":
            end = _closing(text, i)
            inner = text[i + 1:end] if end > 0 else ""
            if end > 0 and FIELD.fullmatch(inner):
                out.append(_fill_field(inner, ns))
            else:
                out.append(text[i:end + 1] if end > 0 else text[i:])
            i = end + 1 if end > 0 else len(text)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index of the brace closing the one at ``start`` (nesting counted), or -1."""
    depth = 0
    for j in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return j
    return -1


def _fill_field(field: str, ns: Mapping[str, Any]) -> str:
    try:
        return string.Formatter().vformat("{" + field + "}", (), _Namespace(ns))
    except (IndexError, KeyError, ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"cannot fill the task's {{{field}}} field: {exc} "
                         "(write {{ and }} for literal braces)") from None
