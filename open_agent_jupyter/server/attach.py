"""Attaching tasks to this server's kernels and notebooks (``kernel_id``, ``notebook``).

``check_attachment`` validates the two fields of ``POST /api/task`` (each bad one is a 400
naming it) and, for a kernel without a notebook, finds the notebook from the server's
sessions. ``notebook_tools(app)`` is the task manager's ``NotebookContextFactory``: a task
attached to a kernel runs its ``python`` calls in a subshell of that kernel; any other
task gets a kernel of its own at its first call (shut down at its end).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from ..access.subshell import SubshellKernel
from ..config import Settings
from ..exceptions import NotebookError
from ..types import NotebookContext
from .kernels import TaskKernel, UserKernel
from .notebooks import ServerNotebooks, api_path


async def check_attachment(app: Any, kernel_id: Any, notebook: Any) -> dict[str, str]:
    """The task's ``kernel_id`` and ``notebook`` (an API path), checked; 400 if bad."""
    found: dict[str, str] = {}
    serverapp = app.serverapp
    if kernel_id is not None:
        if not isinstance(kernel_id, str) or kernel_id not in serverapp.kernel_manager:
            raise web.HTTPError(400, f"'kernel_id': no kernel {kernel_id!r} runs on this server")
        found["kernel_id"] = kernel_id
    if notebook is None and kernel_id is not None:
        notebook = await _session_path(serverapp, kernel_id)
    if notebook is not None:
        found["notebook"] = await _notebook_path(serverapp, notebook)
    return found


async def _notebook_path(serverapp: Any, notebook: Any) -> str:
    if not isinstance(notebook, str) or not notebook.strip():
        raise web.HTTPError(400, "'notebook' must be a path under the server root")
    try:
        path = api_path(serverapp.root_dir, notebook)
    except NotebookError as exc:
        raise web.HTTPError(400, f"'notebook': {exc}") from None
    if not path.endswith(".ipynb"):
        raise web.HTTPError(400, f"'notebook': {notebook!r} is not a .ipynb file")
    if not await ensure_async(serverapp.contents_manager.file_exists(path)):
        raise web.HTTPError(400, f"'notebook': no notebook {path!r} under the server root")
    return path


async def _session_path(serverapp: Any, kernel_id: str) -> str | None:
    """The path of the notebook whose session uses ``kernel_id``, if any."""
    sessions = getattr(serverapp, "session_manager", None)
    if sessions is None:
        return None
    for session in await ensure_async(sessions.list_sessions()):
        if (session.get("kernel") or {}).get("id") == kernel_id and \
                str(session.get("path", "")).endswith(".ipynb"):
            return str(session["path"])
    return None


def notebook_tools(app: Any) -> Callable[..., NotebookContext]:
    """The ``NotebookContextFactory`` of this server."""

    def make(kernel_id: str | None, notebook: str | None, settings: Settings,
             task_id: str = "") -> NotebookContext:
        manager = app.serverapp.kernel_manager
        source: Any = (UserKernel(manager, kernel_id) if kernel_id else
                       TaskKernel(manager, os.path.expanduser(settings.working_dir)))
        return NotebookContext(SubshellKernel(source), ServerNotebooks(app, task_id),
                               notebook, attached=kernel_id is not None)

    return make
