"""OpenCode's permission requests, decided by our approval policy (DESIGN.md §9, §12.5).

OpenCode names its permissions after its tools; ours are mapped (``bash`` →
``run_command``; ``edit`` / ``write`` / ``patch`` → ``write_file``; ``webfetch`` →
``fetch_url``) so the same presets and rules apply; any other permission keeps its
OpenCode name (a rule can still name it; the presets allow it, as a read).

The session's ruleset follows the policy: when it allows everything (``auto``, no rules)
the session is created allowing everything and OpenCode never asks; otherwise every
permission is asked, and each request goes through the task's approval gate (which may
ask a person). The ``question`` tool is denied in both: a delegated task has nobody
OpenCode could ask directly.
"""

from __future__ import annotations

from typing import Any

ALLOW_ALL = {"permission": "*", "pattern": "*", "action": "allow"}
ASK_ALL = {"permission": "*", "pattern": "*", "action": "ask"}
NO_QUESTIONS = {"permission": "question", "pattern": "*", "action": "deny"}
#: OpenCode permission → our tool name.
TOOL_NAMES = {"bash": "run_command", "edit": "write_file", "write": "write_file",
              "patch": "write_file", "webfetch": "fetch_url"}
#: Our tool → the argument its subject goes in (what rule patterns match).
_SUBJECT = {"run_command": "command", "write_file": "path", "fetch_url": "url"}
_METADATA = {"command": ("command",), "path": ("filepath", "filePath", "path"),
             "url": ("url",)}


def session_rules(allow_everything: bool) -> list[dict[str, str]]:
    """The session's permission rules (OpenCode applies the last matching rule)."""
    return [ALLOW_ALL if allow_everything else ASK_ALL, NO_QUESTIONS]


def as_tool_call(request: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(call_id, tool, arguments)`` of a ``permission.asked`` request, in our names."""
    permission = str(request.get("permission") or "?")
    tool = TOOL_NAMES.get(permission, permission)
    patterns = [str(p) for p in request.get("patterns") or []]
    metadata = request.get("metadata") or {}
    arguments: dict[str, Any] = {}
    key = _SUBJECT.get(tool)
    if key is not None:
        found = next((metadata[k] for k in _METADATA[key] if isinstance(metadata.get(k), str)),
                     None)
        arguments[key] = found if found is not None else " ".join(patterns)
    arguments["patterns"] = patterns
    call_id = (request.get("tool") or {}).get("callID") or str(request.get("id"))
    return str(call_id), tool, arguments
