"""The widget's "Export as notebook" button (and, for a server's task, a download link).

The button writes the task as a ``.ipynb`` (``AgentResult.to_notebook``) into the kernel's
working directory — a notebook's own folder — and links to it, so JupyterLab opens it
beside the notebook. A task of a server also gets a link to ``GET /api/task/{id}/notebook``
on the page's own origin (the browser's Jupyter login carries it).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import ipywidgets as widgets

from ..exceptions import OpenAgentError
from .result import AgentResult

LOCAL_URL = "in-process"


def download_href(client_url: str, task_id: str) -> str | None:
    """The path of the task's notebook on its server (None for the in-kernel engine)."""
    if not client_url or client_url == LOCAL_URL:
        return None
    base = urlsplit(client_url).path.rstrip("/")
    return f"{base}/api/task/{quote(task_id, safe='')}/notebook"


class ExportBar(widgets.HBox):
    """"Export as notebook" and what it wrote; ``export()`` is what a click does."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.button = widgets.Button(description="Export as notebook", icon="download",
                                     tooltip="write this task as a .ipynb next to the notebook",
                                     layout=widgets.Layout(width="auto"))
        self.button.on_click(lambda _b: self.export())
        self.note = widgets.HTML()
        super().__init__([self.button, self.note], layout=widgets.Layout(align_items="center"))
        self.add_class("open-agent-export")
        self.show_link()

    def show_link(self) -> None:
        """Show the server's download link once the task id is known."""
        client, task_id = self.view.client, self.view.task_id
        href = download_href(getattr(client, "url", ""), task_id) if task_id else None
        if href and not self.note.value:
            self.note.value = (f"<a href='{html.escape(href)}' download "
                               "style='opacity: 0.8'>⤓ download .ipynb</a>")

    def export(self, folder: str | os.PathLike[str] | None = None) -> Path | None:
        """Write the notebook into ``folder`` (default: the current directory); its path."""
        if self.view.client is None or self.view.task_id is None:
            return None
        result = AgentResult(self.view.client, self.view.task_id)
        try:
            path = result.to_notebook(Path(folder) if folder is not None else Path.cwd())
        except (OpenAgentError, ValueError, OSError) as exc:  # a widget callback never raises
            self.note.value = ("<span style='color: var(--jp-error-color1, #c00)'>could not "
                               f"export: {html.escape(str(exc))}</span>")
            return None
        link = quote(path.name) if path.parent.resolve() == Path.cwd().resolve() else None
        name = html.escape(path.name)
        shown = f"<a href='{link}' target='_blank'>{name}</a>" if link else html.escape(str(path))
        self.note.value = f"saved {shown}"
        return path
