"""The cells of an exported task: one builder per kind of tool call (see ``export``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from .export_outputs import python_outputs, shell_outputs, stream

#: Characters of a result shown in a Markdown note.
NOTE_CHARS = 300
#: Tool names exported like ``run_command`` / ``write_file`` (OpenCode's names included).
SHELL_TOOLS = {"run_command": "command", "bash": "command"}
WRITE_TOOLS = {"write_file": ("path", "content"), "write": ("filePath", "content")}
#: Lines IPython would strip as prompts before a cell magic sees them (doctest-style too).
_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)|^In \[\d+\]: |^\s*\.\.\.+: ", re.MULTILINE)
_PLAIN_PATH = re.compile(r"^[\w./+@:,=~-]+$")
_BACKTICKS = re.compile(r"`+")


def fence(text: str, lang: str = "") -> str:
    """``text`` in a fenced Markdown block whose fence no backtick run inside can close."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def short_text(value: Any, limit: int = NOTE_CHARS) -> str:
    """``value`` as text, cut to ``limit`` characters with an ellipsis."""
    text = str(value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_note(call: Mapping[str, Any] | None, result: Mapping[str, Any] | None) -> str:
    """A short note for a tool call without a cell of its own: tool, arguments, result."""
    source = call or result or {}
    tool = str(source.get("tool") or "tool")
    args = call.get("arguments") if call else None
    shown = ", ".join(f"{k}={_inline(v)}" for k, v in args.items()) if isinstance(
        args, dict) else ""
    line = f"🔧 **{tool}**" + (f" `{short_text(shown, 160)}`" if shown else "")
    if result is None:
        return line + " — no result (the task ended first)"
    mark = "✔" if result.get("ok", True) else "✘"
    text = short_text(result.get("content"))
    if not text:
        return f"{line} {mark}"
    return f"{line} {mark}\n\n" + fence(text)


def _inline(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return short_text(text.replace("\n", "⏎").replace("`", "'"), 60)


class Cells:
    """Collects notebook cells with unique ids; paths are made relative to ``working_dir``."""

    def __init__(self, working_dir: str) -> None:
        self.working_dir = working_dir.rstrip("/") if working_dir not in ("", "/") else working_dir
        self.cells: list[dict[str, Any]] = []
        self._ids: set[str] = set()

    def _id(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_-]", "-", hint)[:56] or "cell"
        cell_id, n = base, 1
        while cell_id in self._ids:
            n += 1
            cell_id = f"{base}-{n}"
        self._ids.add(cell_id)
        return cell_id

    def markdown(self, source: str, hint: str, meta: dict[str, Any] | None = None) -> None:
        """Append a Markdown cell."""
        self.cells.append({"cell_type": "markdown", "id": self._id(hint),
                           "metadata": _meta(meta), "source": source})

    def code(self, source: str, hint: str, outputs: list[dict[str, Any]],
             meta: dict[str, Any] | None = None, tags: list[str] | None = None) -> None:
        """Append a code cell (not executed here: its outputs are those the agent saw)."""
        metadata = _meta(meta)
        if tags:
            metadata["tags"] = tags
        self.cells.append({"cell_type": "code", "id": self._id(hint), "metadata": metadata,
                           "execution_count": None, "outputs": outputs, "source": source})

    def relative(self, path: str) -> str:
        """``path`` relative to the working dir when it lies inside it, else as it is."""
        wd = self.working_dir
        if wd and os.path.isabs(path) and (path == wd or path.startswith(wd.rstrip("/") + "/")):
            return os.path.relpath(path, wd)
        return path

    def tool_call(self, call: Mapping[str, Any], result: Mapping[str, Any] | None) -> None:
        """Append the cell(s) of one tool call and its result (``None``: it never ended)."""
        tool = str(call.get("tool") or "")
        args = call.get("arguments") if isinstance(call.get("arguments"), dict) else {}
        meta = {"seq": call.get("seq"), "tool": tool, "call_id": call.get("call_id")}
        if result is not None:
            meta.update(ok=result.get("ok"), duration_ms=result.get("duration_ms"))
        hint = f"seq-{call.get('seq')}"
        if result is not None and result.get("not_run"):  # not approved: nothing to redo
            self.markdown(markdown_note(call, result), hint, meta)
        elif tool == "python" and isinstance(args.get("code"), str):
            self._python(args["code"], result, hint, meta)
        elif tool in SHELL_TOOLS and isinstance(args.get(SHELL_TOOLS[tool]), str):
            self._shell(args, tool, result, hint, meta)
        elif (tool in WRITE_TOOLS and isinstance(args.get(WRITE_TOOLS[tool][0]), str)
              and isinstance(args.get(WRITE_TOOLS[tool][1]), str)
              and (result is None or result.get("ok", True))):
            path_key, content_key = WRITE_TOOLS[tool]
            self._write(args[path_key], args[content_key], hint, meta)
        else:
            self.markdown(markdown_note(call, result), hint, meta)

    def _python(self, code: str, result: Mapping[str, Any] | None, hint: str,
                meta: dict[str, Any]) -> None:
        failed = result is not None and result.get("ok") is False
        self.code(code, hint, python_outputs(result), meta, ["raises-exception"] if failed else None)

    def _shell(self, args: Mapping[str, Any], tool: str, result: Mapping[str, Any] | None,
               hint: str, meta: dict[str, Any]) -> None:
        lines = ["%%bash"]
        cwd = args.get("cwd") or args.get("workdir")
        if isinstance(cwd, str) and cwd and self.relative(cwd) != ".":
            lines.append(f"cd {_shell_quote(self.relative(cwd))}")
        lines.append(str(args[SHELL_TOOLS[tool]]).rstrip("\n"))
        self.code("\n".join(lines), hint, shell_outputs(result), meta)

    def _write(self, path: str, content: str, hint: str, meta: dict[str, Any]) -> None:
        path = self.relative(path)
        folder = os.path.dirname(path)
        exact = (_PLAIN_PATH.fullmatch(path) and content.endswith("\n") and "\r" not in content
                 and not _PROMPT.search(content))
        out = [stream("stdout", f"Writing {path}\n")]
        if not exact:
            source = ("# write_file, byte for byte (%%writefile cannot write this content)\n"
                      "from pathlib import Path\n\n"
                      f"Path({path!r}).parent.mkdir(parents=True, exist_ok=True)\n"
                      f"Path({path!r}).write_text({content!r}, encoding='utf-8')")
            self.code(source, hint, [], meta)
            return
        if folder:
            self.code(f"import os\n\nos.makedirs({folder!r}, exist_ok=True)",
                      hint + "-folder", [], meta)
        self.code(f"%%writefile {path}\n{content}", hint, out, meta)


def _meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    found = {k: v for k, v in (meta or {}).items() if v is not None}
    return {"open_agent": found} if found else {}


def _shell_quote(path: str) -> str:
    return path if _PLAIN_PATH.fullmatch(path) else "'" + path.replace("'", "'\\''") + "'"
