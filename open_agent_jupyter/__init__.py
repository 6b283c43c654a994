"""Open Agent for Jupyter: an autonomous coding agent that lives inside Jupyter.

Importing this package has no side effects: the server extension, the magics
and the client are imported only when Jupyter or the user asks for them.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "AgentClient", "AsyncAgentClient", "load_ipython_extension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell jupyter-server where the extension app lives."""
    from .server.app import OpenAgent

    return [{"module": "open_agent_jupyter.server.app", "app": OpenAgent}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (``jupyter labextension develop`` links it)."""
    return [{"src": "labextension", "dest": "open-agent-jupyterlab"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext open_agent_jupyter``: register ``%agent``, ``%%agent`` and ``%agent_panel``."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    # The REST clients are imported on first use so that importing the package stays cheap.
    if name in ("AgentClient", "AsyncAgentClient"):
        from .notebook import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
