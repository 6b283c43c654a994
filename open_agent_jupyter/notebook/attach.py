"""What ``%agent`` attaches its task to: this kernel and the notebook it belongs to.

A kernel started by a Jupyter server learns its own id from its connection file's name
(``kernel-<id>.json``) and its notebook from ``JPY_SESSION_NAME`` (set by the server's
session manager; without it the server finds the notebook from its sessions). A server
that does not know this kernel answers 400 naming ``kernel_id`` (the kernel is another
server's, or was started by a script): the magic then submits the task without it, and
the task gets a kernel of its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_CONNECTION_FILE = re.compile(r"kernel-([0-9A-Za-z-]+)\.json")


def kernel_id() -> str | None:
    """This kernel's id on the server that started it, or None outside such a kernel."""
    try:
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return None
    if not IPKernelApp.initialized():
        return None
    match = _CONNECTION_FILE.fullmatch(os.path.basename(IPKernelApp.instance().connection_file))
    return match.group(1) if match else None


def session_notebook() -> str | None:
    """The notebook this kernel was started for (``JPY_SESSION_NAME``), if a notebook."""
    name = os.environ.get("JPY_SESSION_NAME", "")
    return name if name.endswith(".ipynb") else None


def local_notebook() -> str | None:
    """The session's notebook as a file path here (for the in-kernel engine), if it exists."""
    name = session_notebook()
    if name is None:
        return None
    path = Path(name)
    for candidate in (path, Path.cwd() / path.name):  # absolute, or an API path's file
        if candidate.is_absolute() and candidate.is_file():
            return str(candidate)
    return None


def attachment(local: bool) -> dict[str, str]:
    """The fields of ``POST /api/task`` (or the in-kernel submit) that attach the task."""
    if local:
        notebook = local_notebook()
        return {"notebook": notebook} if notebook else {}
    found = {"kernel_id": kernel_id(), "notebook": session_notebook()}
    return {k: v for k, v in found.items() if v}
