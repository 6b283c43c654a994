"""Every task is a notebook: a task (its summary and log) as a valid ``.ipynb`` (DESIGN §5b).

``task_notebook(task)`` builds an nbformat 4.5 notebook as a plain dict (cell ids
included; the engine does not import nbformat, the tests validate with it):

- a first Markdown cell with the task, its status, model, iterations, tokens and cost;
- the model's text (``thinking`` entries) as Markdown cells;
- each ``python`` call as a code cell with the outputs the agent saw (its streams, rich
  ``outputs``, plain result and error: ``export_outputs``); a failed one is tagged
  ``raises-exception`` so the notebook still runs top to bottom;
- each ``run_command`` as a ``%%bash`` cell (bash, as the tool runs it, and free of
  IPython's ``{}``/``$`` expansion of ``!``) with its output as stream outputs;
- each ``write_file`` as ``%%writefile path``; content that ``%%writefile`` cannot
  reproduce byte for byte (no final newline, lines IPython would take for prompts)
  becomes a Python cell that writes it exactly; a folder it needs is made first;
- every other tool call, error and unmatched result as a short Markdown note;
- the answer (or the reason of the failure) last.

Paths inside the task's working dir are written relative to it, so the notebook redoes
the task when run from a copy of that folder as it was. OpenCode's ``bash`` and
``write`` tools are exported like ``run_command`` and ``write_file``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .export_cells import Cells, fence, markdown_note, short_text

NBFORMAT, NBFORMAT_MINOR = 4, 5
#: Export media type and file suffix.
MEDIA_TYPE = "application/x-ipynb+json"
#: Approval outcomes after which a call did not run.
NOT_RUN = frozenset({"denied", "expired", "cancelled"})
_SLUG = re.compile(r"[^a-z0-9]+")
_MARKS = {"completed": "✔", "failed": "✘", "cancelled": "■", "running": "◐", "pending": "○"}


def task_notebook(task: Mapping[str, Any],
                  log: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The task (``GET /api/task/{id}`` JSON; ``log`` defaults to its own) as a notebook dict."""
    entries = list(task.get("log") or []) if log is None else list(log)
    cells = Cells(str(task.get("working_dir") or ""))
    cells.markdown(header(task), "task")
    results, orphans = pair_results(entries)
    answer = None
    for index, entry in enumerate(entries):
        kind = entry.get("entry_type")
        if kind == "tool_call":
            cells.tool_call(entry, results.get(index))
        elif kind == "tool_result" and index in orphans:
            cells.markdown(markdown_note(None, entry), f"seq-{entry.get('seq')}")
        elif kind == "thinking" and str(entry.get("content") or "").strip():
            cells.markdown(str(entry["content"]).strip(), f"seq-{entry.get('seq')}")
        elif kind == "error":
            cells.markdown(f"⚠ **error:** {short_text(entry.get('content'), 2000)}",
                           f"seq-{entry.get('seq')}")
        elif kind == "response":
            answer = str(entry.get("content") or "")
    cells.markdown(closing(task, answer), "answer")
    return {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR,
            "metadata": _metadata(task), "cells": cells.cells}


def pair_results(entries: Sequence[Mapping[str, Any]]
                 ) -> tuple[dict[int, Mapping[str, Any]], set[int]]:
    """Each call's result (by the call's index) and the results without a call.

    A result belongs to the earliest earlier call with its ``call_id`` that has none yet
    (some endpoints reuse ids such as ``call_0`` in every turn). A result whose call was
    denied, expired or cancelled at approval (DESIGN §12.5) comes marked ``not_run``.
    """
    pending: dict[str, list[int]] = {}
    decisions: dict[str, str] = {}
    results: dict[int, Mapping[str, Any]] = {}
    orphans: set[int] = set()
    for index, entry in enumerate(entries):
        kind, call_id = entry.get("entry_type"), str(entry.get("call_id"))
        if kind == "approval" and isinstance(entry.get("approval"), dict):
            record = entry["approval"]
            decisions[str(record.get("call_id", call_id))] = str(record.get("status"))
        elif kind == "tool_call":
            pending.setdefault(call_id, []).append(index)
        elif kind == "tool_result":
            if decisions.pop(call_id, None) in NOT_RUN:
                entry = {**entry, "not_run": True}
            waiting = pending.get(call_id)
            if waiting:
                results[waiting.pop(0)] = entry
            else:
                orphans.add(index)
    return results, orphans


def header(task: Mapping[str, Any]) -> str:
    """The first cell: the task quoted, then a table of its figures."""
    status = str(task.get("status") or "pending")
    usage = task.get("usage") or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(
        usage.get("completion_tokens") or 0)
    quoted = "\n".join("> " + line for line in str(task.get("task") or "").splitlines())
    rows = [("status", f"{_MARKS.get(status, '')} {status}"),
            ("model", f"`{task.get('model') or '?'}` ({task.get('backend') or 'local'})"),
            ("iterations", f"{task.get('iterations') or 0} of {task.get('max_iterations') or '?'}"),
            ("tokens", f"{prompt + completion:,} ({prompt:,} prompt + {completion:,} completion)"),
            ("cost", f"${float(usage.get('cost_usd') or 0):.4f}"),
            ("working dir", f"`{task.get('working_dir') or '.'}`"),
            ("started", str(task.get("started_at") or "—")),
            ("finished", str(task.get("finished_at") or "—")),
            ("submitted by", str(task.get("submitted_by") or "—")),
            ("task id", f"`{task.get('id') or ''}`")]
    table = "\n".join(f"| {name} | {_cell_text(value)} |" for name, value in rows)
    return (f"# Open Agent task\n\n{quoted}\n\n| | |\n|---|---|\n{table}\n\n"
            "Exported from the task's log. Run it from a copy of the working dir as it was "
            "before the task: the `%%bash` and `%%writefile` cells redo its commands and "
            "writes, and the code cells its Python.")


def closing(task: Mapping[str, Any], answer: str | None) -> str:
    """The last cell: the answer, or why the task ended without one."""
    status = str(task.get("status") or "pending")
    text = str(task.get("result") or answer or "").strip()
    if text:
        return f"## Answer\n\n{text}"
    if task.get("error"):
        return f"## {status.capitalize()}\n\n{fence(str(task['error']))}"
    return f"## No answer\n\nThe task is {status}."


def filename(task: Mapping[str, Any]) -> str:
    """A file name for the export: ``open-agent-<words of the task>-<id prefix>.ipynb``."""
    words = _SLUG.sub("-", str(task.get("task") or "").lower()).strip("-")[:40].strip("-")
    short_id = re.sub(r"[^A-Za-z0-9]", "", str(task.get("id") or ""))[:8]
    return "-".join(p for p in ("open-agent", words, short_id) if p) + ".ipynb"


def dumps(notebook: Mapping[str, Any]) -> str:
    """The notebook as ``.ipynb`` text (nbformat's own layout: indent 1, sorted keys)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def _metadata(task: Mapping[str, Any]) -> dict[str, Any]:
    return {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "open_agent": {key: task.get(key) for key in ("id", "status", "model", "backend",
                                                          "working_dir", "created_at")}}


def _cell_text(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")
