"""Search tools over the real ripgrep binary: search_files and grep_search.

``rg`` comes from the PyPI ``ripgrep`` package (installed next to the Python
executable); ``PATH`` is the fallback. It runs as an async subprocess whose
output is read in chunks and cut at ``MAX_LINES`` lines (the process is then
killed), so a search never blocks the loop nor floods the context. Searches
include hidden files but skip ``.git`` and respect ``.gitignore`` like ``rg``
does; paths in the output are relative to the searched folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .base import Tool, ToolContext, ToolError, ToolResult

#: Output lines (paths or matches) kept per search.
MAX_LINES = 400
#: Matches kept per file, and the width of a shown match line.
MAX_PER_FILE = 50
MAX_COLUMNS = 300
#: Seconds a search may run.
SEARCH_TIMEOUT = 60.0
_COMMON = ("--hidden", "--glob", "!.git", "--color", "never", "--no-messages")


@functools.lru_cache(maxsize=1)
def find_rg() -> str:
    """The ripgrep executable: next to sys.executable first, then PATH."""
    here = Path(sys.executable).parent
    for name in ("rg", "rg.exe"):
        candidate = here / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("rg")
    if found:
        return found
    raise ToolError("ripgrep (rg) is not installed; install it with `pip install ripgrep`")


async def run_rg(args: list[str], cwd: Path, max_lines: int = MAX_LINES
                 ) -> tuple[int | None, list[str], str]:
    """Run rg; return (exit code or None when cut, up to max_lines lines, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        find_rg(), *args, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        stdout, cut = await asyncio.wait_for(_read_lines(proc, max_lines), SEARCH_TIMEOUT)
        if cut:
            _kill(proc)
        stderr = (await proc.stderr.read()).decode("utf-8", "replace")  # type: ignore[union-attr]
        code = await proc.wait()
    except asyncio.TimeoutError:
        _kill(proc)
        raise ToolError(f"search took longer than {SEARCH_TIMEOUT:.0f} s; "
                        "narrow the path or the file_pattern") from None
    except asyncio.CancelledError:
        _kill(proc)
        raise
    lines = stdout.decode("utf-8", "replace").splitlines()[:max_lines]
    return (None if cut else code), lines, stderr


async def _read_lines(proc: asyncio.subprocess.Process, max_lines: int) -> tuple[bytes, bool]:
    """Read stdout in chunks until EOF or past max_lines; True when cut."""
    data = bytearray()
    newlines = 0
    while True:
        chunk = await proc.stdout.read(1 << 16)  # type: ignore[union-attr]
        if not chunk:
            return bytes(data), False
        data += chunk
        newlines += chunk.count(b"\n")
        if newlines > max_lines:
            return bytes(data), True


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def _search_root(ctx: ToolContext, path: str | None) -> tuple[Path, list[str]]:
    """The cwd for rg and the path arguments (a file is searched from its folder)."""
    target = ctx.resolve(path)
    if target.is_dir():
        return target, []
    if target.exists():
        return target.parent, [target.name]
    raise ToolError(f"no such file or directory: {target}")


class SearchFiles(Tool):
    """Find files by name."""

    name = "search_files"
    description = "Find files whose name matches a glob (e.g. '*.py', 'test_*'); respects .gitignore."
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Glob on file names"},
            "path": {"type": "string", "description": "Folder (default: working dir)"},
        },
        "required": ["pattern"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """List matching files with ``rg --files``."""
        root, paths = await asyncio.to_thread(_search_root, ctx, arguments.get("path"))
        pattern = arguments["pattern"]
        code, lines, stderr = await run_rg(
            ["--files", *_COMMON, "--glob", pattern, *paths], root)
        if code == 2 and not lines:
            raise ToolError(f"rg failed: {stderr.strip() or 'exit code 2'}")
        if not lines:
            return ToolResult(ok=True, output=f"No files matching {pattern!r} under {root}")
        head = f"{len(lines)} file(s) matching {pattern!r} under {root}:"
        if code is None:
            head = f"First {len(lines)} files matching {pattern!r} under {root} (more exist; " \
                   "narrow the pattern or path):"
        return ToolResult(ok=True, output="\n".join([head, *sorted(lines)]))


class GrepSearch(Tool):
    """Search file contents with a regex."""

    name = "grep_search"
    description = ("Search file contents with a regex (ripgrep syntax); "
                   "prints path:line:text. Respects .gitignore.")
    parameters = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Regular expression"},
            "path": {"type": "string", "description": "File or folder (default: working dir)"},
            "file_pattern": {"type": "string", "description": "Glob on file names, e.g. '*.py'"},
            "case_sensitive": {"type": "boolean", "default": False},
        },
        "required": ["pattern"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Search with ``rg``."""
        root, paths = await asyncio.to_thread(_search_root, ctx, arguments.get("path"))
        args = ["--line-number", "--no-heading", "--with-filename", *_COMMON,
                "--max-columns", str(MAX_COLUMNS), "--max-columns-preview",
                "--max-count", str(MAX_PER_FILE),
                "--case-sensitive" if arguments.get("case_sensitive") else "--ignore-case"]
        if arguments.get("file_pattern"):
            args += ["--glob", arguments["file_pattern"]]
        args += ["--regexp", arguments["pattern"], "--", *paths]
        code, lines, stderr = await run_rg(args, root)
        if code == 2 and not lines:
            raise ToolError(f"rg failed: {stderr.strip() or 'exit code 2'}")
        if not lines:
            return ToolResult(ok=True, output=f"No matches for {arguments['pattern']!r} in {root}")
        notes = []
        if code is None:
            notes.append(f"[stopped after {len(lines)} matching lines; narrow the search]")
        if code == 2:
            notes.append(f"[some files could not be searched: {stderr.strip()[:300]}]")
        return ToolResult(ok=True, output="\n".join([f"Matches in {root}:", *lines, *notes]))
