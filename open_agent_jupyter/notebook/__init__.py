"""Notebook surfaces: the ``%agent`` magics, the live task widget, the task panel, the clients.

Names are imported on first use so that ``from open_agent_jupyter import AgentClient``
does not load IPython or ipywidgets.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "AgentClient": "client", "AsyncAgentClient": "client", "APIError": "sse",
    "ServerUnreachableError": "sse", "AgentResult": "result", "TaskWidget": "widgets",
    "TaskPanel": "panel", "agent_panel": "panel", "follow": "follow",
    "AgentMagics": "magics", "load_ipython_extension": "magics", "LocalRunner": "local",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
