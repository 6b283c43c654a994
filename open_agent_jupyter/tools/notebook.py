"""The notebook tools (DESIGN.md §5b): ``python``, ``list_variables``, ``read_notebook``,
``edit_notebook``.

They reach kernels and notebooks only through ``ctx.notebook`` (``types.NotebookContext``:
a ``KernelAccess`` and a ``NotebookAccess`` injected per task by the surface that runs it).
``python`` runs one call at a time per kernel; on timeout, and when the task is stopped, it
interrupts only that code (``KernelAccess.interrupt``): the kernel and its variables stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import weakref
from typing import Any

from ..exceptions import KernelError, NotebookError
from ..types import CodeRun, KernelAccess, NotebookContext, NotebookEdit
from .base import Tool, ToolContext, ToolError, ToolResult, cap_text
from .outputs import describe_run, error_text, joined

MAX_TIMEOUT = 3600
#: Seconds an interrupted run gets to end before the tool answers without it.
INTERRUPT_GRACE = 5.0
#: Characters of one cell's outputs shown by read_notebook.
CELL_OUTPUT_LIMIT = 2_000
_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def notebook_context(ctx: ToolContext) -> NotebookContext:
    """The task's notebook context, or a ToolError the model can read."""
    if ctx.notebook is None:
        raise ToolError("this task has no kernel or notebook (notebook tools are unavailable)")
    return ctx.notebook


def _lock(kernel: KernelAccess) -> asyncio.Lock:
    lock = _locks.get(kernel)
    if lock is None:
        lock = _locks[kernel] = asyncio.Lock()
    return lock


async def _interrupt(kernel: KernelAccess, run: asyncio.Future[CodeRun]) -> bool:
    """Interrupt the run and wait briefly for it to end; True if it did."""
    with contextlib.suppress(KernelError):
        await kernel.interrupt()
    await asyncio.wait({run}, timeout=INTERRUPT_GRACE)
    if not run.done():
        run.add_done_callback(_retrieve)
        return False
    return True


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Python(Tool):
    """Run Python in the task's kernel."""

    name = "python"
    description = ("Run Python code in the task's Jupyter kernel (variables persist between "
                   "calls; in an attached notebook they are the user's). Returns stdout, "
                   "stderr, the last expression's value, errors, and a note per rich output "
                   "(plots are shown to you as images where supported).")
    parameters = {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "timeout_secs": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT,
                             "default": 120},
        },
        "required": ["code"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Run the code; interrupt it on timeout or stop (the kernel survives)."""
        kernel = notebook_context(ctx).kernel
        timeout = float(arguments.get("timeout_secs") or 120)
        async with _lock(kernel):
            # Stream output goes on to the log as tool_output entries as it comes (ctx.output).
            run = asyncio.ensure_future(kernel.run(arguments["code"], ctx.output))
            try:
                await asyncio.wait({run}, timeout=timeout)
            except asyncio.CancelledError:
                await asyncio.shield(_interrupt(kernel, run))
                raise
            note = None
            if not run.done():
                stopped = await _interrupt(kernel, run)
                note = (f"Timed out after {timeout:g} s: the code was interrupted (the kernel "
                        "and its variables are kept)." if stopped else
                        f"Timed out after {timeout:g} s and the code did not stop (a long call "
                        "in C?); it is still running in the kernel.")
                if not stopped:
                    return ToolResult.error(note)
        try:
            result = run.result()
        except KernelError as exc:
            raise ToolError(str(exc)) from None
        return _result(result, note)


def _result(run: CodeRun, note: str | None) -> ToolResult:
    text, rich, images = describe_run(run.outputs)
    if note:
        text = f"{note}\n{text}"
    ok = run.status == "ok" and note is None
    return ToolResult(ok=ok, output=text, outputs=rich or None, images=images or None)


class ListVariables(Tool):
    """The variables in the task's kernel."""

    name = "list_variables"
    description = ("List the variables in the task's kernel (the user's, in an attached "
                   "notebook): name, type, shape/length/dtype and a short repr.")
    parameters = {
        "type": "object",
        "properties": {"filter": {"type": "string",
                                  "description": "glob on names, e.g. 'df*'"}},
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """One line per variable matching the filter."""
        kernel = notebook_context(ctx).kernel
        pattern = arguments.get("filter") or "*"
        async with _lock(kernel):
            try:
                found = await kernel.variables()
            except KernelError as exc:
                raise ToolError(str(exc)) from None
        lines = [_variable_line(v) for v in found if fnmatch.fnmatchcase(v["name"], pattern)]
        if not lines:
            return ToolResult(True, f"no variables match {pattern!r}" if pattern != "*"
                              else "no user variables yet")
        return ToolResult(True, "\n".join(lines))


def _variable_line(item: dict[str, Any]) -> str:
    extra = [f"{key}={item[key]}" for key in ("shape", "len", "dtype") if key in item]
    details = f" ({', '.join(extra)})" if extra else ""
    return f"{item['name']}: {item['type']}{details} = {item.get('repr', '')}"


def _path(ctx: ToolContext, path: str | None) -> str:
    chosen = path or notebook_context(ctx).path
    if not chosen:
        raise ToolError("this task has no notebook: give path")
    return chosen


class ReadNotebook(Tool):
    """Read a notebook's cells."""

    name = "read_notebook"
    description = ("Read a notebook (default: the task's): each cell's index, id, type, "
                   "source, execution count and outputs as text, and the last error.")
    parameters = {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "include_outputs": {"type": "boolean", "default": True},
        },
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """The notebook as text."""
        path = _path(ctx, arguments.get("path"))
        context = notebook_context(ctx)
        try:
            nb = await context.notebooks.read(path)
        except NotebookError as exc:
            raise ToolError(str(exc)) from None
        text = notebook_text(nb, path, arguments.get("include_outputs", True))
        if context.attached and path == context.path:  # the notebook of the user's kernel
            text += await _kernel_error(context.kernel)
        return ToolResult(True, text)


async def _kernel_error(kernel: KernelAccess) -> str:
    """The kernel's last error as a closing line ('' when there is none or no answer)."""
    async with _lock(kernel):
        try:
            error = await asyncio.wait_for(kernel.last_error(), 10)
        except (KernelError, asyncio.TimeoutError):
            return ""
    return f"\n--- the kernel's last error: {error}" if error else ""


def notebook_text(nb: dict[str, Any], path: str, include_outputs: bool) -> str:
    """The cells of ``nb`` as text for the model, and the last error among the outputs."""
    cells = nb.get("cells", [])
    parts = [f"{path}: {len(cells)} cells"]
    last_error = None
    for i, cell in enumerate(cells):
        count = cell.get("execution_count")
        head = f"--- [{i}] id={cell.get('id')} {cell.get('cell_type')}"
        parts.append(head + (f" (In [{count}])" if count else ""))
        parts.append(joined(cell.get("source")))
        outputs = cell.get("outputs") or []
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors:
            last_error = (i, errors[-1])
        if include_outputs and outputs:
            text, _, _ = describe_run(outputs)
            parts.append("output:\n" + cap_text(text, CELL_OUTPUT_LIMIT))
    if last_error is not None:
        index, error = last_error
        parts.append(f"--- last error (cell [{index}]):\n"
                     + cap_text(error_text(error), CELL_OUTPUT_LIMIT))
    return "\n".join(parts)


class EditNotebook(Tool):
    """Insert, replace or delete a notebook cell."""

    name = "edit_notebook"
    description = ("Insert, replace or delete a cell of a notebook (default: the task's). "
                   "insert goes after cell_id, else before index, else at the end; replace "
                   "and delete need cell_id or index.")
    parameters = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["insert", "replace", "delete"]},
            "path": {"type": "string"},
            "cell_id": {"type": "string"},
            "index": {"type": "integer", "minimum": 0},
            "source": {"type": "string"},
            "cell_type": {"type": "string", "enum": ["code", "markdown"], "default": "code"},
        },
        "required": ["action"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Apply the edit through the task's NotebookAccess."""
        path = _path(ctx, arguments.get("path"))
        action = arguments["action"]
        if action != "insert" and arguments.get("cell_id") is None \
                and arguments.get("index") is None:
            raise ToolError(f"{action} needs cell_id or index")
        if action != "delete" and arguments.get("source") is None:
            raise ToolError(f"{action} needs source")
        edit = NotebookEdit(action=action, cell_id=arguments.get("cell_id"),
                            index=arguments.get("index"), source=arguments.get("source"),
                            cell_type=arguments.get("cell_type") or "code")
        try:
            message = await notebook_context(ctx).notebooks.edit(path, edit)
        except NotebookError as exc:
            raise ToolError(str(exc)) from None
        return ToolResult(True, message)


def notebook_tools() -> list[Tool]:
    """The four notebook tools, in the order of DESIGN.md §5b."""
    return [Python(), ListVariables(), ReadNotebook(), EditNotebook()]
