"""Backends run a task to its end: ``local`` (our own loop) or ``opencode`` (delegation)."""

from __future__ import annotations

from ..exceptions import ConfigError
from ..types import Backend


def make_backend(name: str) -> Backend:
    """The backend called ``name`` (``local`` or ``opencode``)."""
    if name == "local":
        from ..agent.loop import LocalBackend

        return LocalBackend()
    if name == "opencode":
        from .opencode import OpenCodeBackend

        return OpenCodeBackend()
    raise ConfigError(f"AGENT_BACKEND must be one of local, opencode, not {name!r}")
