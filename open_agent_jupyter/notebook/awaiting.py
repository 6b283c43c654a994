"""Keep the Stop button working while a ``%agent`` cell waits inside a Jupyter kernel.

A kernel handles widget (comm) messages only while its event loop runs. A cell that
blocks (``while not done: sleep``) keeps the loop from running, so a click on Stop
would wait until the cell ends. ipykernel (7.4+) dispatches comm messages while an
*async* cell awaits, so inside a kernel the magic waits by awaiting: an IPython input
transformer (``shell.input_transformers_post``, a documented hook) turns each
top-level ``%agent`` / ``%%agent`` statement of a cell, as IPython has already
translated it (``get_ipython().run_line_magic('agent', ...)``), into
``await <AgentMagics>.run_async(...)``; IPython then runs the cell as async code.

Only that one call is edited, in place, so line numbers (and tracebacks) stay the same.
Left alone (the magic then blocks as before, and Stop waits for the cell): a ``%agent``
inside a function or loop; cells run from within a running cell (``get_ipython().run_cell``,
``%run file.ipy``), which cannot await while the kernel's loop runs the outer cell; kernels
with ``%autoawait`` off or on trio; plain IPython (nothing is registered there). Cells that
do not parse are handed on untouched for IPython to report.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from typing import Any

#: What the rewritten statements call instead of ``get_ipython().run_line_magic`` etc.
HOOK = "get_ipython().magics_manager.registry['AgentMagics'].run_async"
_MAGIC_CALLS = ("run_line_magic", "run_cell_magic")
#: How often the awaiting cell looks whether the task's stream has ended (seconds).
POLL = 0.1
#: Where Python's tokenizer ends lines (``str.splitlines`` also splits at \f, \u2028 ...).
_LINE_END = re.compile(r"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)")


def _agent_call(node: ast.stmt) -> ast.Call | None:
    """The ``get_ipython().run_*_magic('agent', ...)`` call this statement consists of."""
    value = node.value if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return None
    func = value.func
    target = func.value
    if (func.attr not in _MAGIC_CALLS or not isinstance(target, ast.Call)
            or not isinstance(target.func, ast.Name) or target.func.id != "get_ipython"):
        return None
    first = value.args[0] if value.args else None
    if not isinstance(first, ast.Constant) or first.value != "agent":
        return None
    if func.lineno != func.end_lineno:
        return None
    return value


def await_agent_statements(lines: list[str]) -> list[str]:
    """Input transformer: top-level ``%agent`` statements become awaits (see module doc)."""
    code = "".join(lines)
    if ("'agent'" not in code or "get_ipython()" not in code or not awaits_on_asyncio()
            or _inside_a_cell()):
        return lines
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return lines
    edits = [call.func for node in tree.body if (call := _agent_call(node)) is not None]
    if not edits:
        return lines
    rows = [row for row in _LINE_END.split(code) if row]
    for func in reversed(edits):  # right to left keeps the earlier offsets valid
        row = rows[func.lineno - 1].encode()
        start, end = func.col_offset, func.end_col_offset
        rows[func.lineno - 1] = (row[:start] + f"await {HOOK}".encode() + row[end:]).decode()
    return rows


def _inside_a_cell() -> bool:
    """Whether a cell is executing now (this one is nested: ``run_cell``, ``%run x.ipy``)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "run_cell_async":  # IPython's cell runner, on any path
            return True
        frame = frame.f_back
    return False


def awaits_on_asyncio(shell: Any = None) -> bool:
    """Whether ``shell`` (default: the current one) is a kernel running async cells on asyncio."""
    from IPython import get_ipython
    from IPython.core.async_helpers import _asyncio_runner

    shell = shell if shell is not None else get_ipython()
    return (getattr(shell, "kernel", None) is not None and bool(getattr(shell, "autoawait", False))
            and getattr(shell, "loop_runner", None) is _asyncio_runner)


def install(shell: Any) -> bool:
    """Register the transformer in a kernel's shell (not in plain IPython); True if done."""
    if getattr(shell, "kernel", None) is None:
        return False
    if await_agent_statements not in shell.input_transformers_post:
        shell.input_transformers_post.append(await_agent_statements)
    return True


async def wait_async(follower: Any) -> bool:
    """Await the end of ``follower``'s stream; False when the cell was interrupted."""
    try:
        while not follower.done.is_set():
            await asyncio.sleep(POLL)
    except asyncio.CancelledError:
        # ipykernel turns a kernel interrupt of an async cell into this cancellation
        return False
    return True
