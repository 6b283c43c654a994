"""The server's ``NotebookAccess``: notebooks through its contents manager (DESIGN.md §12.2).

Paths are API paths under the server root (an absolute path inside the root is turned
into one; one outside is refused). Reads go through the contents manager. An edit is
checked first on the saved file (a malformed notebook is refused, nothing written; the
edited notebook must validate), then written by exactly one writer:

1. jupyter-collaboration is active and the notebook has an open room: the shared document
   is edited, every open view shows the change, and the collaboration saves it;
2. else a front end with the notebook open applies it: ``event: notebook_edit`` on
   ``GET /api/tasks/stream``, answered within 3 s on ``POST /api/notebook_edits/{id}``;
3. else the contents manager writes the file, and the result says an open editor must
   revert to see it.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from jupyter_core.utils import ensure_async
from tornado import web

from ..access.notebooks import EDITOR_NOTE, edited, parse_notebook
from ..exceptions import NotebookError
from ..tools.nbedit import apply_edit
from ..types import NotebookEdit


def api_path(root: str, path: str) -> str:
    """``path`` as an API path under ``root``; NotebookError if it leaves the root."""
    if "\x00" in path:
        raise NotebookError("a path cannot contain a NUL byte")
    root = os.path.realpath(os.path.expanduser(root))
    candidate = os.path.expanduser(path)
    full = os.path.realpath(candidate if os.path.isabs(candidate) else os.path.join(root, path))
    if full != root and not full.startswith(root.rstrip(os.sep) + os.sep):
        raise NotebookError(f"{path} is outside the server's root directory ({root})")
    return os.path.relpath(full, root).replace(os.sep, "/")


class ServerNotebooks:
    """``NotebookAccess`` of one task on this server."""

    def __init__(self, app: Any, task_id: str) -> None:
        self.app, self.task_id = app, task_id

    @property
    def contents(self) -> Any:
        """The server's contents manager."""
        return self.app.serverapp.contents_manager

    def path(self, path: str) -> str:
        """The API path of ``path``."""
        return api_path(self.app.serverapp.root_dir, path)

    async def read(self, path: str) -> dict[str, Any]:
        """The notebook at ``path`` (as its contents manager reads it)."""
        model = await self._get(self.path(path), "notebook")
        return dict(model["content"])

    async def edit(self, path: str, edit: NotebookEdit) -> str:
        """Check the edit on the saved notebook, then let one writer apply it."""
        where = self.path(path)
        raw = await self._get(where, "file", format="text")
        nb, message = edited(parse_notebook(raw["content"], where), edit, where)
        if await self._edit_shared_document(where, edit):
            return f"{message}; applied to the shared document (every open view shows it)"
        answer = await self._ask_front_end(where, edit)
        if answer is not None:
            saved = ("and saved" if answer.get("saved") else
                     "not saved (it had unsaved changes): save it to keep the change")
            return (f"{edit.action} done in the notebook open in JupyterLab ({where}), {saved}")
        await ensure_async(self.contents.save({"type": "notebook", "format": "json",
                                               "content": nb}, where))
        return f"{message}; written through the server's contents manager ({EDITOR_NOTE})"

    async def _get(self, path: str, kind: str, **kw: Any) -> dict[str, Any]:
        try:
            return await ensure_async(self.contents.get(path, content=True, type=kind, **kw))
        except web.HTTPError as exc:
            reason = exc.log_message or exc.reason or f"HTTP {exc.status_code}"
            if exc.status_code == 404:
                raise NotebookError(f"no notebook at {path} (paths are under the server "
                                    "root)") from None
            raise NotebookError(f"{path} cannot be read: {reason}; it was not changed") from None

    async def _ask_front_end(self, path: str, edit: NotebookEdit) -> dict[str, Any] | None:
        hub = self.app.task_events
        if not hub.subscriber_count:
            return None
        data = {"task_id": self.task_id, "path": path, "action": edit.action,
                "cell_id": edit.cell_id, "index": edit.index, "source": edit.source,
                "cell_type": edit.cell_type}
        answer = await self.app.pending_edits.ask(hub, data)
        return answer if answer and answer.get("applied") else None

    async def _edit_shared_document(self, path: str, edit: NotebookEdit) -> bool:
        """Apply the edit to jupyter-collaboration's live document, if one is open."""
        # jupyter-collaboration keeps its extension app under this key of the web app's settings.
        ydoc_app = self.app.serverapp.web_app.settings.get("jupyter_server_ydoc")
        if ydoc_app is None:
            return False
        document = await ydoc_app.get_document(path=path, content_type="notebook",
                                               file_format="json", copy=False)
        if document is None:
            return False  # no open room: the contents manager writes it
        mirror_edit(document, edit)
        return True


def mirror_edit(document: Any, edit: NotebookEdit) -> None:
    """Apply ``edit`` to a jupyter_ydoc ``YNotebook`` (what ``apply_edit`` does to JSON)."""
    nb = copy.deepcopy(document.get())
    at, _ = apply_edit(nb, edit)
    if edit.action == "delete":
        del document.ycells[at]
    elif edit.action == "insert":
        document.ycells.insert(at, document.create_ycell(nb["cells"][at]))
    else:
        document.set_cell(at, nb["cells"][at])
