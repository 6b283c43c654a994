"""The outputs of exported code cells: what the agent saw, as nbformat outputs (see ``export``).

The ``python`` tool's result text (DESIGN §5b) is ``stdout:``, ``stderr:``, ``result:``,
``display:`` and ``error:`` sections; its ``outputs`` holds the rich outputs. Streams come
first, then the rich outputs, then a plain result and the error, as a notebook shows them.
``run_command``'s text is ``Exit code: N`` then ``stdout:`` and ``stderr:``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_RUN_RESULT = re.compile(r"^Exit code: (-?\d+|None)\n(?:\(background [^\n]*\n)?stdout:\n")
_SECTION = re.compile(r"^(stdout|stderr|result|display|error):(?: (.*))?$")


def python_outputs(result: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A ``python`` result as nbformat outputs: streams, rich outputs, plain result, error."""
    if result is None:
        return []
    rich = [o for o in map(_output, result.get("outputs") or []) if o is not None]
    if any(o["output_type"] in ("stream", "error") for o in rich):
        return rich  # the outputs are complete already
    sections = _sections(str(result.get("content") or ""))
    outputs = [stream(name, _ended("\n".join(lines))) for name, lines in sections
               if name in ("stdout", "stderr") and lines]
    outputs += rich
    for name, lines in sections:
        if name == "result" and lines and not any(o["output_type"] == "execute_result"
                                                  for o in rich):
            outputs.append({"output_type": "execute_result", "execution_count": None,
                            "data": {"text/plain": "\n".join(lines)}, "metadata": {}})
        elif name == "error" and lines:
            ename, _, evalue = lines[0].partition(": ")
            outputs.append({"output_type": "error", "ename": ename or "Error",
                            "evalue": evalue, "traceback": lines[1:]})
        elif name == "note" and lines:
            outputs.append(stream("stderr", _ended("\n".join(lines))))
    return outputs


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """The ``python`` tool's text cut at its section headers (text before them: ``note``)."""
    sections: list[tuple[str, list[str]]] = [("note", [])]
    for line in text.split("\n"):
        match = _SECTION.match(line)
        if match:
            first = match.group(2)
            sections.append((match.group(1), [first] if first else []))
        else:
            sections[-1][1].append(line)
    note = sections[0][1]
    if note == ["(no output)"] or not any(line.strip() for line in note):
        sections.pop(0)
    return sections


def _output(item: Any) -> dict[str, Any] | None:
    """One nbformat output from an output dict or a bare MIME bundle; None when unusable."""
    if not isinstance(item, dict):
        return None
    kind = item.get("output_type")
    if kind == "stream":
        return stream("stderr" if item.get("name") == "stderr" else "stdout",
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
        return [stream("stdout" if result.get("ok", True) else "stderr", _ended(text))]
    out, _, err = text[match.end():].rpartition("\nstderr:\n")
    if not _:
        out, err = err, ""
    outputs = [] if out == "(empty)" else [stream("stdout", _ended(out))]
    if match.group(1) != "0":
        err = (_ended(err) if err else "") + f"[exit code {match.group(1)}]"
    if err:
        outputs.append(stream("stderr", _ended(err)))
    return outputs


def stream(name: str, text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def _ended(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _joined(value: Any) -> str:
    return "".join(str(v) for v in value) if isinstance(value, list) else str(value or "")


