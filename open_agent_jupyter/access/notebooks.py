"""Notebook files read and edited with nbformat: ``FileNotebooks`` and the checks it shares.

An edit reads the file, refuses a notebook that does not validate (the file is left as it
was), applies ``tools.nbedit.apply_edit``, validates the result and writes it to a
temporary file that replaces the original (so a failed write never leaves half a file).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from ..exceptions import NotebookError
from ..tools.nbedit import apply_edit
from ..types import NotebookEdit

#: A notebook larger than this is not read (the tool's answer would be capped anyway).
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
EDITOR_NOTE = ("if the notebook is open in an editor, revert it (File > Reload Notebook from "
               "Disk) to see the change")


def parse_notebook(text: str, path: str) -> Any:
    """A validated ``NotebookNode`` from ``text``; ``NotebookError`` saying what is wrong."""
    try:
        nb = nbformat.reads(text, as_version=4)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as exc:
        raise NotebookError(f"{path} is not a valid notebook (not JSON: {exc}); "
                            "it was not changed") from None
    except (nbformat.ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise NotebookError(f"{path} is not a valid notebook ({exc}); it was not changed"
                            ) from None
    check(nb, path, "is not a valid notebook")
    return nb


def check(nb: Any, path: str, what: str) -> None:
    """Raise ``NotebookError`` unless ``nb`` validates against the nbformat schema."""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise NotebookError(f"{path} {what} ({reason}); it was not changed") from None


def edited(nb: Any, edit: NotebookEdit, path: str) -> tuple[Any, str]:
    """``nb`` with ``edit`` applied and validated, and a sentence saying what changed."""
    at, cell_id = apply_edit(nb, edit)
    nb = nbformat.from_dict(nb)
    check(nb, path, "would not be a valid notebook after this edit")
    verb = {"insert": "inserted", "replace": "replaced", "delete": "deleted"}[edit.action]
    return nb, f"{verb} cell {cell_id} at index {at} of {path} ({len(nb.cells)} cells now)"


class FileNotebooks:
    """``NotebookAccess`` on files; relative paths resolve against ``base``."""

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base).expanduser()

    def resolve(self, path: str) -> Path:
        """The file ``path`` names."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base / candidate

    async def read(self, path: str) -> dict[str, Any]:
        """The notebook as a dict."""
        return await asyncio.to_thread(self._read, path)

    def _read(self, path: str) -> Any:
        file = self.resolve(path)
        try:
            if file.stat().st_size > MAX_NOTEBOOK_BYTES:
                raise NotebookError(f"{path} is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotebookError(f"no notebook at {file}") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL byte
            raise NotebookError(f"cannot read {file}: {exc}") from None
        return parse_notebook(text, path)

    async def edit(self, path: str, edit: NotebookEdit) -> str:
        """Apply the edit to the file (atomically)."""
        return await asyncio.to_thread(self._edit, path, edit)

    def _edit(self, path: str, edit: NotebookEdit) -> str:
        nb, message = edited(self._read(path), edit, path)
        write_atomic(self.resolve(path), nbformat.writes(nb) + "\n")
        return f"{message}; written to the file ({EDITOR_NOTE})"


def write_atomic(file: Path, text: str) -> None:
    """Write ``text`` to ``file`` through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, file.stat().st_mode & 0o7777)  # mkstemp made it private
        os.replace(tmp, file)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise NotebookError(f"cannot write {file}: {exc}") from None
