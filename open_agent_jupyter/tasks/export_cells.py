"""The cells of an exported task: one builder per kind of tool call (see ``export``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

#: Characters of a result shown in a Markdown note.
NOTE_CHARS = 300
#: Tool names exported like ``run_command`` / ``write_file`` (OpenCode's names included).
SHELL_TOOLS = {"run_command": "command", "bash": "command"}
WRITE_TOOLS = {"write_file": ("path", "content"), "write": ("filePath", "content")}
#: Lines IPython would strip as prompts before a cell magic sees them (doctest-style too).
_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)|^In \[\d+\]: |^\s*\.\.\.+: ", re.MULTILINE)
_PLAIN_PATH = re.compile(r"^[\w./+@:,=~-]+$")
_BACKTICKS = re.compile(r"`+")
_RUN_RESULT = re.compile(r"^Exit code: (-?\d+|None)\n(?:\(background [^\n]*\n)?stdout:\n")


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
        if tool == "python" and isinstance(args.get("code"), str):
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
        out = [_stream("stdout", f"Writing {path}\n")]
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


def python_outputs(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A ``python`` result as nbformat outputs: its ``outputs``, else its text as a stream."""
    if result is None:
        return []
    outputs: list[dict[str, Any]] = []
    rich = result.get("outputs") if isinstance(result.get("outputs"), list) else []
    if not any(isinstance(o, dict) and o.get("output_type") in ("stream", "error",
                                                                 "execute_result") for o in rich):
        text = str(result.get("content") or "")
        if text:
            name = "stdout" if result.get("ok", True) else "stderr"
            outputs.append(_stream(name, _ended(text)))
    for item in rich:
        output = _output(item)
        if output is not None:
            outputs.append(output)
    return outputs


def _output(item: Any) -> dict[str, Any] | None:
    """One nbformat output from an output dict or a bare MIME bundle; None when unusable."""
    if not isinstance(item, dict):
        return None
    kind = item.get("output_type")
    if kind == "stream":
        return _stream("stderr" if item.get("name") == "stderr" else "stdout",
                       _joined(item.get("text")))
    if kind == "error":
        return {"output_type": "error", "ename": str(item.get("ename") or "Error"),
                "evalue": str(item.get("evalue") or ""),
                "traceback": [str(t) for t in item.get("traceback") or []]}
    data = item.get("data") if kind in ("display_data", "execute_result") else item
    if not isinstance(data, dict):
        return None
    bundle = {str(k): (v if isinstance(v, (dict, list)) and k.endswith("json") else _joined(v))
              for k, v in data.items() if "/" in str(k)}
    if not bundle:
        return None
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    if kind == "execute_result":
        return {"output_type": "execute_result", "execution_count": None, "data": bundle,
                "metadata": metadata}
    return {"output_type": "display_data", "data": bundle, "metadata": metadata}


def shell_outputs(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A ``run_command`` result as stdout / stderr streams (the exit code noted when not 0)."""
    if result is None:
        return []
    text = str(result.get("content") or "")
    match = _RUN_RESULT.match(text)
    if match is None:  # a timeout, a refusal, another backend's text: show it as it is
        return [_stream("stdout" if result.get("ok", True) else "stderr", _ended(text))]
    out, _, err = text[match.end():].rpartition("\nstderr:\n")
    if not _:
        out, err = err, ""
    outputs = [] if out == "(empty)" else [_stream("stdout", _ended(out))]
    if match.group(1) != "0":
        err = (_ended(err) if err else "") + f"[exit code {match.group(1)}]"
    if err:
        outputs.append(_stream("stderr", _ended(err)))
    return outputs


def _stream(name: str, text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _joined(value: Any) -> str:
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


def _meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    found = {k: v for k, v in (meta or {}).items() if v is not None}
    return {"open_agent": found} if found else {}


def _shell_quote(path: str) -> str:
    return path if _PLAIN_PATH.fullmatch(path) else "'" + path.replace("'", "'\\''") + "'"
