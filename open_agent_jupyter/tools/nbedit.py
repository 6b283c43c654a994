"""One notebook edit applied to nbformat-4 JSON (a dict), with DESIGN.md §12.2's semantics.

``insert`` goes after ``cell_id`` if given, else before ``index`` if given, else at the
end; ``replace``/``delete`` need ``cell_id`` or ``index`` (``cell_id`` wins); new cells
get fresh ids; a replaced code cell loses its outputs. Every ``NotebookAccess``
implementation uses ``apply_edit`` so the front ends and files agree.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..exceptions import NotebookError
from ..types import NotebookEdit


def new_cell_id() -> str:
    """A fresh cell id (8 hex digits, as JupyterLab makes)."""
    return uuid.uuid4().hex[:8]


def make_cell(cell_type: str, source: str) -> dict[str, Any]:
    """A new nbformat-4.5 cell."""
    cell: dict[str, Any] = {"id": new_cell_id(), "cell_type": cell_type, "metadata": {},
                            "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def find_cell(nb: dict[str, Any], cell_id: str | None, index: int | None) -> int:
    """The position of the cell named by ``cell_id`` (preferred) or ``index``."""
    cells = nb.get("cells", [])
    if cell_id is not None:
        for i, cell in enumerate(cells):
            if cell.get("id") == cell_id:
                return i
        known = ", ".join(str(c.get("id")) for c in cells[:20])
        raise NotebookError(f"no cell with id {cell_id!r} (ids: {known or 'none'})")
    if index is None:
        raise NotebookError("give cell_id or index")
    if not 0 <= index < len(cells):
        raise NotebookError(f"index {index} is out of range: the notebook has {len(cells)} "
                            "cells (0-based)")
    return index


def ensure_ids(nb: dict[str, Any]) -> None:
    """Give every cell an id (nbformat 4.5); an older notebook is moved to 4.5."""
    if nb.get("nbformat", 4) == 4 and nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
    for cell in nb.get("cells", []):
        if not cell.get("id"):
            cell["id"] = new_cell_id()


def apply_edit(nb: dict[str, Any], edit: NotebookEdit) -> tuple[int, str | None]:
    """Change ``nb`` in place; return (the position touched, the cell id touched)."""
    ensure_ids(nb)
    cells = nb.setdefault("cells", [])
    if edit.action == "insert":
        if edit.cell_id is not None:
            at = find_cell(nb, edit.cell_id, None) + 1
        elif edit.index is not None:
            if not 0 <= edit.index <= len(cells):
                raise NotebookError(f"index {edit.index} is out of range for an insert: "
                                    f"0..{len(cells)}")
            at = edit.index
        else:
            at = len(cells)
        cell = make_cell(edit.cell_type, edit.source or "")
        cells.insert(at, cell)
        return at, cell["id"]
    at = find_cell(nb, edit.cell_id, edit.index)
    if edit.action == "delete":
        return at, cells.pop(at).get("id")
    if edit.action == "replace":
        old = cells[at]
        cell = make_cell(edit.cell_type, edit.source or "")
        cell["id"] = old.get("id") or cell["id"]
        if old.get("cell_type") == edit.cell_type:
            cell["metadata"] = old.get("metadata", {})
        cells[at] = cell
        return at, cell["id"]
    raise NotebookError(f"unknown action {edit.action!r}: use insert, replace or delete")
