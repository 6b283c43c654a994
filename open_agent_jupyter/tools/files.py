"""File tools: read_file, write_file, delete_file, list_directory.

All disk work runs in a worker thread (``asyncio.to_thread``) so the event loop
never waits on a slow disk. Decisions where the contract is silent:

- ``read_file`` numbers its lines (``cat -n`` style) and stops at a line boundary
  before the output limit, saying which lines to ask for next. Files over
  ``READ_LIMIT_BYTES`` are refused unless a line range is given; files with NUL
  bytes or that are not UTF-8 are refused as binary.
- ``delete_file`` removes files, symlinks and *empty* directories; a non-empty
  directory is refused (the model can use ``run_command`` with ``rm -r``).
- ``write_file``'s result carries ``created`` and, when it replaced a UTF-8 text file of
  at most ``DIFF_SOURCE_LIMIT`` bytes, ``diff`` (unified, capped at ``DIFF_LIMIT``); the
  model reads only the one-line summary.
- ``list_directory`` skips ``SKIPPED_DIRS`` (shown, not entered) and stops after
  ``MAX_ENTRIES`` entries with a note.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from pathlib import Path
from typing import Any

from .base import OUTPUT_LIMIT, Tool, ToolContext, ToolError, ToolResult, cap_text

#: Files larger than this are only read with an explicit line range.
READ_LIMIT_BYTES = 10 * 1024 * 1024
#: Directories listed but never entered.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
})
#: Characters of write_file's diff kept (head and tail); larger old files get no diff.
DIFF_LIMIT = 20_000
DIFF_SOURCE_LIMIT = 2 * 1024 * 1024
#: Entries shown by one list_directory call.
MAX_ENTRIES = 500
_SNIFF_BYTES = 8192
# Room kept under the registry's cap for the trailing note.
_READ_BUDGET = OUTPUT_LIMIT - 400


def _path_prop(what: str) -> dict[str, Any]:
    return {"type": "string", "description": what}


class ReadFile(Tool):
    """Read a text file, optionally a line range."""

    name = "read_file"
    description = ("Read a text file; lines are prefixed with their number. "
                   "Use start_line/end_line (1-based, inclusive) for big files.")
    parameters = {
        "type": "object",
        "properties": {
            "path": _path_prop("File path (relative to the working dir or absolute)"),
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
        },
        "required": ["path"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Read the file in a thread."""
        path = ctx.resolve(arguments["path"])
        start, end = arguments.get("start_line"), arguments.get("end_line")
        if start and end and end < start:
            raise ToolError(f"end_line ({end}) is before start_line ({start})")
        return await asyncio.to_thread(_read, path, start, end)


def _read(path: Path, start: int | None, end: int | None) -> ToolResult:
    if not path.exists():
        raise ToolError(f"no such file: {path} (list_directory or search_files can find it)")
    if path.is_dir():
        raise ToolError(f"{path} is a directory; use list_directory")
    size = path.stat().st_size
    if size > READ_LIMIT_BYTES and start is None and end is None:
        raise ToolError(f"{path} is {size:,} bytes (over {READ_LIMIT_BYTES:,}); read it "
                        "in parts with start_line/end_line, or use grep_search")
    with path.open("rb") as handle:
        if b"\0" in handle.read(_SNIFF_BYTES):
            raise ToolError(f"{path} looks binary (NUL bytes, {size:,} bytes); not shown")
        handle.seek(0)
        return _number_lines(path, handle, start or 1, end)


def _number_lines(path: Path, handle: Any, start: int, end: int | None) -> ToolResult:
    parts: list[str] = []
    used = 0
    number = 0
    for number, raw in enumerate(handle, start=1):  # noqa: B007 - number is used after the loop
        if number < start:
            continue
        if end is not None and number > end:
            return ToolResult(ok=True, output="".join(parts))
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise ToolError(f"{path} is not UTF-8 text (line {number}); "
                            "it may be binary or in another encoding") from None
        text = f"{number:6}\t{line}\n"
        if used + len(text) > _READ_BUDGET and parts:
            parts.append(f"[output limit reached at line {number - 1}; "
                         f"continue with start_line={number}]\n")
            return ToolResult(ok=True, output="".join(parts))
        parts.append(text)
        used += len(text)
    if number == 0:
        return ToolResult(ok=True, output=f"({path.name} is empty)")
    if start > number:
        raise ToolError(f"start_line {start} is past the end; {path.name} has {number} lines")
    return ToolResult(ok=True, output="".join(parts))


class WriteFile(Tool):
    """Create or overwrite a file."""

    name = "write_file"
    description = "Create or overwrite a text file with content; creates parent folders."
    parameters = {
        "type": "object",
        "properties": {
            "path": _path_prop("File path"),
            "content": {"type": "string", "description": "The whole new content"},
        },
        "required": ["path", "content"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Write the file in a thread."""
        path = ctx.resolve(arguments["path"], write=True)
        return await asyncio.to_thread(_write, path, arguments["content"])


def _write(path: Path, content: str) -> ToolResult:
    if path.is_dir():
        raise ToolError(f"{path} is a directory")
    existed = path.exists()
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate (JSON "\ud800") has no UTF-8 form
        raise ToolError(f"content has a character with no UTF-8 form at position {exc.start} "
                        f"({content[exc.start]!r}); nothing written") from None
    before = _old_text(path) if existed else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    verb = "Overwrote" if existed else "Created"
    extra: dict[str, Any] = {"created": not existed}
    if before is not None:
        extra["diff"] = cap_text(unified_diff(before, content, str(path)), DIFF_LIMIT)
    return ToolResult(ok=True, output=f"{verb} {path} ({len(data):,} bytes written)",
                      extra=extra)


def _old_text(path: Path) -> str | None:
    """The file's text before it is replaced, or None when it is not a (small) text file."""
    if not path.is_file() or path.stat().st_size > DIFF_SOURCE_LIMIT:
        return None
    raw = path.read_bytes()
    if b"\0" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified_diff(before: str, after: str, name: str) -> str:
    """A unified diff of a file's two texts (``--- a/name`` / ``+++ b/name``)."""
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=f"a/{name.lstrip('/')}", tofile=f"b/{name.lstrip('/')}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)


class DeleteFile(Tool):
    """Delete a file or an empty directory."""

    name = "delete_file"
    description = "Delete a file or an empty directory (non-empty directories are refused)."
    parameters = {
        "type": "object",
        "properties": {"path": _path_prop("Path to delete")},
        "required": ["path"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Delete in a thread."""
        return await asyncio.to_thread(_delete, ctx.resolve(arguments["path"], write=True))


def _delete(path: Path) -> ToolResult:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return ToolResult(ok=True, output=f"Deleted {path}")
    if path.is_dir():
        entries = sum(1 for _ in os.scandir(path))
        if entries:
            raise ToolError(f"{path} is a directory with {entries} entries; delete its "
                            "contents first (or run_command with rm -r if you are sure)")
        path.rmdir()
        return ToolResult(ok=True, output=f"Deleted empty directory {path}")
    if path.exists():
        raise ToolError(f"{path} is not a regular file or directory; not deleted")
    raise ToolError(f"no such file: {path}")


class ListDirectory(Tool):
    """Show a directory tree."""

    name = "list_directory"
    description = ("List a directory as a tree (dirs end with /, files show size). Does not "
                   "enter .git, node_modules, __pycache__, .venv and similar; "
                   f"at most {MAX_ENTRIES} entries.")
    parameters = {
        "type": "object",
        "properties": {
            "path": _path_prop("Directory"),
            "max_depth": {"type": "integer", "minimum": 1, "default": 3},
        },
        "required": ["path"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """List in a thread."""
        path = ctx.resolve(arguments["path"])
        return await asyncio.to_thread(_list, path, arguments.get("max_depth") or 3)


def _list(root: Path, max_depth: int) -> ToolResult:
    if not root.exists():
        raise ToolError(f"no such directory: {root}")
    if not root.is_dir():
        raise ToolError(f"{root} is a file, not a directory; use read_file")
    lines: list[str] = [f"{root}/"]
    complete = _walk(root, 1, max_depth, lines)
    if not complete:
        lines.append(f"[stopped after {MAX_ENTRIES} entries; list a subdirectory or "
                     "lower max_depth]")
    elif len(lines) == 1:
        lines.append("  (empty)")
    return ToolResult(ok=True, output="\n".join(lines))


def _walk(folder: Path, depth: int, max_depth: int, lines: list[str]) -> bool:
    """Append entries of ``folder``; False once MAX_ENTRIES is reached."""
    indent = "  " * depth
    try:
        entries = sorted(os.scandir(folder), key=lambda e: (not _is_dir(e), e.name.lower()))
    except PermissionError:
        lines.append(f"{indent}(permission denied)")
        return True
    for entry in entries:
        if len(lines) > MAX_ENTRIES:
            return False
        name = _printable(entry.name)
        if entry.is_symlink():
            lines.append(f"{indent}{name}@ -> {_printable(os.readlink(entry.path))}")
        elif _is_dir(entry):
            skipped = entry.name in SKIPPED_DIRS
            lines.append(f"{indent}{name}/" + ("  (skipped)" if skipped else ""))
            if not skipped and depth < max_depth and not _walk(
                    Path(entry.path), depth + 1, max_depth, lines):
                return False
        else:
            lines.append(f"{indent}{name}  ({_size(entry)})")
    return True


def _printable(name: str) -> str:
    """A file name as valid text (undecodable bytes become U+FFFD; results go to JSON)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _size(entry: os.DirEntry[str]) -> str:
    try:
        size = float(entry.stat(follow_symlinks=False).st_size)
    except OSError:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "?"
