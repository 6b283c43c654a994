"""The agent's 13 tools (DESIGN.md §5), the notebook tools (§5b) and the default registry.

One small module per family: ``files``, ``search`` (ripgrep), ``shell``, ``web``,
``git`` (the only module importing GitPython) and ``notebook`` (through the Protocols of
``types``); the contract is in ``base``.
"""

from __future__ import annotations

from .base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from .files import DeleteFile, ListDirectory, ReadFile, WriteFile
from .git import GitCommit, GitDiff, GitLog, GitStatus
from .notebook import notebook_tools
from .search import GrepSearch, SearchFiles
from .shell import RunCommand
from .web import FetchUrl, WebSearch

__all__ = ["Tool", "ToolContext", "ToolError", "ToolRegistry", "ToolResult",
           "default_registry", "default_tools"]


def default_tools() -> list[Tool]:
    """The 13 tools, in the order of DESIGN.md §5."""
    return [ReadFile(), WriteFile(), DeleteFile(), ListDirectory(), SearchFiles(), RunCommand(),
            GrepSearch(), WebSearch(), FetchUrl(), GitStatus(), GitDiff(), GitCommit(), GitLog()]


def default_registry(notebook: bool = False) -> ToolRegistry:
    """A registry holding ``default_tools()``, and the notebook tools when ``notebook``."""
    return ToolRegistry([*default_tools(), *(notebook_tools() if notebook else [])])
