"""Edits mirrored into jupyter-collaboration's shared notebook (a real jupyter_ydoc YNotebook)
end up as the same cells as the edit applied to the notebook's JSON."""

from __future__ import annotations

import copy

import nbformat
import pytest
from jupyter_ydoc import YNotebook

from open_agent_jupyter.server.notebooks import mirror_edit
from open_agent_jupyter.tools.nbedit import apply_edit
from open_agent_jupyter.types import NotebookEdit

EDITS = [NotebookEdit("insert", source="import os"),
         NotebookEdit("insert", cell_id="b", source="# note", cell_type="markdown"),
         NotebookEdit("insert", index=0, source="first"),
         NotebookEdit("replace", cell_id="a", source="a = 2"),
         NotebookEdit("replace", index=1, source="## now markdown", cell_type="markdown"),
         NotebookEdit("delete", cell_id="b"),
         NotebookEdit("delete", index=0)]


def cells(nb: dict) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: f"{e.action}-{e.cell_id}-{e.index}")
def test_mirrored_edit_matches_the_json_edit(edit: NotebookEdit) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1", id="a"),
                nbformat.v4.new_code_cell("b = 1", id="b")]
    document = YNotebook()
    document.set(copy.deepcopy(dict(nb)))
    expected = copy.deepcopy(dict(nb))
    apply_edit(expected, edit)
    mirror_edit(document, edit)
    assert cells(document.get()) == cells(expected)
    ids = [c["id"] for c in document.get()["cells"]]
    assert len(set(ids)) == len(ids)
    if edit.action == "replace":
        assert ids == [c["id"] for c in expected["cells"]]  # a replaced cell keeps its id
