"""The agent's 13 tools (DESIGN.md §5) and the default registry.

One small module per family: ``files``, ``search`` (ripgrep), ``shell``, ``web``
and ``git`` (the only module importing GitPython); the contract is in ``base``.
"""

from __future__ import annotations

from .base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from .files import DeleteFile, ListDirectory, ReadFile, WriteFile
from .git import GitCommit, GitDiff, GitLog, GitStatus
from .search import GrepSearch, SearchFiles
from .shell import RunCommand
from .web import FetchUrl, WebSearch

__all__ = ["Tool", "ToolContext", "ToolError", "ToolRegistry", "ToolResult",
           "default_registry", "default_tools"]


def default_tools() -> list[Tool]:
    """The 13 tools, in the order of DESIGN.md §5."""
    return [ReadFile(), WriteFile(), DeleteFile(), ListDirectory(), SearchFiles(), RunCommand(),
            GrepSearch(), WebSearch(), FetchUrl(), GitStatus(), GitDiff(), GitCommit(), GitLog()]


def default_registry() -> ToolRegistry:
    """A registry holding ``default_tools()``."""
    return ToolRegistry(default_tools())
