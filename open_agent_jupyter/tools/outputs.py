"""Turning a kernel's outputs into what the model reads, the log keeps and the model sees.

``describe_run`` makes the ``python`` tool's text: stdout, stderr, the result's text, the
error with its traceback (ANSI codes stripped), and one short line per rich output (an
image's size, an HTML table's shape). Rich outputs go to the log as nbformat
``display_data``/``execute_result`` dicts; an image above ``IMAGE_LIMIT`` characters of
base64 is left out of them (its description stays). Images also go to the model.
"""

from __future__ import annotations

import base64
import re
import struct
from typing import Any

from .base import cap_text

#: Base64 characters of one image kept in the log and sent to the model (about 750 KB).
IMAGE_LIMIT = 1_000_000
#: Characters of each part of the text (stdout, stderr, result, error).
PART_LIMIT = 12_000
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_TEXT_TYPES = ("text/plain",)


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour and cursor codes."""
    return _ANSI.sub("", text)


def joined(value: Any) -> str:
    """nbformat keeps multi-line strings as lists of lines; this joins them."""
    return "".join(value) if isinstance(value, list) else str(value or "")


def describe_run(outputs: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]],
                                                         list[dict[str, str]]]:
    """(text for the model, rich outputs for the log, images for the model)."""
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    parts: list[str] = []
    rich: list[dict[str, Any]] = []
    images: list[dict[str, str]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            streams.setdefault(out.get("name", "stdout"), []).append(joined(out.get("text")))
        elif kind == "error":
            parts.append(error_text(out))
        elif kind in ("display_data", "execute_result"):
            line, kept, shown = describe_bundle(out)
            parts.append(line)
            if kept is not None:
                rich.append(kept)
            images.extend(shown)
    head = [f"{name}:\n{cap_text(''.join(chunks), PART_LIMIT)}"
            for name, chunks in streams.items() if chunks]
    text = "\n".join(head + parts) or "(no output)"
    return text, rich, images


def error_text(out: dict[str, Any]) -> str:
    """An error output as ``ename: evalue`` and its traceback, without ANSI codes."""
    trace = strip_ansi("\n".join(out.get("traceback") or []))
    head = f"error: {out.get('ename', 'Error')}: {strip_ansi(str(out.get('evalue', '')))}"
    return head + ("\n" + cap_text(trace, PART_LIMIT) if trace else "")


def describe_bundle(out: dict[str, Any]) -> tuple[str, dict[str, Any] | None,
                                                  list[dict[str, str]]]:
    """(a line for the model, the output to keep or None, its images for the model)."""
    data = dict(out.get("data") or {})
    label = "result" if out.get("output_type") == "execute_result" else "display"
    plain = joined(data.get("text/plain", ""))
    rich_types = [m for m in data if m not in _TEXT_TYPES]
    if not rich_types:
        return f"{label}:\n{cap_text(plain, PART_LIMIT)}", None, []
    notes, images = [], []
    for mime in rich_types:
        note = describe_mime(mime, data[mime])
        if mime in IMAGE_TYPES:
            encoded = joined(data[mime]).replace("\n", "")
            if len(encoded) > IMAGE_LIMIT:
                del data[mime]
                note += " (too large to keep: left out of the log)"
            else:
                images.append({"mime": mime, "data": encoded, "description": note})
        notes.append(note)
    line = f"{label}: " + "; ".join(notes)
    if plain and not plain.startswith("<"):
        line += f"\n{cap_text(plain, 2_000)}"
    kept = {"output_type": out.get("output_type", "display_data"), "data": data,
            "metadata": out.get("metadata") or {}}
    if out.get("output_type") == "execute_result":
        kept["execution_count"] = out.get("execution_count")
    return line, kept, images


def describe_mime(mime: str, value: Any) -> str:
    """One short phrase about a rich output: an image's size, an HTML table's shape."""
    text = joined(value)
    if mime in IMAGE_TYPES:
        size = image_size(mime, text)
        dims = f" {size[0]}×{size[1]}" if size else ""
        return f"{mime} image{dims}, {len(text) * 3 // 4 // 1024} KB"
    if mime == "text/html":
        shape = table_shape(text)
        return f"HTML table {shape[0]} rows × {shape[1]} columns" if shape else \
            f"HTML ({len(text)} characters)"
    if mime == "image/svg+xml":
        return f"SVG image ({len(text)} characters)"
    if mime == "text/markdown":
        return f"Markdown: {cap_text(text, 500)}"
    return f"{mime} ({len(text)} characters)"


def image_size(mime: str, encoded: str) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF or JPEG header, else None."""
    try:
        raw = base64.b64decode(encoded[:100_000] + "=" * (-len(encoded[:100_000]) % 4))
    except ValueError:
        return None
    if mime == "image/png" and raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        return struct.unpack(">II", raw[16:24])
    if mime == "image/gif" and raw[:4] == b"GIF8" and len(raw) >= 10:
        return struct.unpack("<HH", raw[6:10])
    if mime == "image/jpeg":
        return _jpeg_size(raw)
    return None


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(raw):
        if raw[i] != 0xFF:
            return None
        marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", raw[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


def table_shape(html: str) -> tuple[int, int] | None:
    """(data rows, columns) of the first ``<table>`` in ``html``, else None."""
    match = re.search(r"<table.*?</table>", html, re.S | re.I)
    if not match:
        return None
    rows = re.findall(r"<tr.*?</tr>", match.group(0), re.S | re.I)
    if not rows:
        return 0, 0
    columns = max(len(re.findall(r"<t[dh][\s>]", row, re.I)) for row in rows)
    body = [row for row in rows if re.search(r"<td[\s>]", row, re.I)]  # not header rows
    return len(body), columns
