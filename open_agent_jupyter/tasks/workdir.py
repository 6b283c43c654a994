"""Checking a task's ``working_dir`` at submission (off the event loop)."""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any

from ..exceptions import ConfigError


async def check_working_dir(folder: Any) -> None:
    """``ConfigError`` naming ``working_dir`` unless ``folder`` (when given) is a directory."""
    if not isinstance(folder, str):
        return
    problem = await asyncio.to_thread(_folder_problem, folder)
    if problem:
        raise ConfigError(f"'working_dir' must be an existing directory: {folder!r} {problem}")


def _folder_problem(folder: str) -> str | None:
    """Why ``folder`` is not a usable directory, or None."""
    if "\x00" in folder:
        return "contains a NUL byte"
    try:
        if not stat.S_ISDIR(os.stat(os.path.expanduser(folder)).st_mode):
            return "is not a directory"
    except FileNotFoundError:
        return "does not exist"
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    return None
