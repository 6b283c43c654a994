"""HTML for what a tool row shows: a command's live output, a file's content, a diff.

Everything is escaped and styled inline with JupyterLab's theme variables (with plain
fallbacks), so it reads in light and dark themes. File content is highlighted with
Pygments (IPython's own dependency) by the file's extension; unknown extensions stay
plain text. Long text is folded: ``fold_lines`` keeps the first lines and says how
many more there are (the row's "show all" button renders the rest).
"""

from __future__ import annotations

import html

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_for_filename
from pygments.util import ClassNotFound

#: Lines of a file or diff shown before the rest is folded away.
FOLD_LINES = 40
#: Last lines of a running command's output shown in its row.
TAIL_LINES = 8
#: Characters of a file highlighted at all (larger ones are shown as plain text).
HIGHLIGHT_CHARS = 200_000

MONO = "font-family: var(--jp-code-font-family, monospace); font-size: 12px;"
PRE = (f"white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; padding: 4px 6px; "
       f"border-radius: 3px; background: var(--jp-layout-color2, #f6f8fa); {MONO}")
_DIFF_STYLES = {
    "+": "color: var(--jp-success-color0, #1a7f37); background: rgba(46, 160, 67, 0.15);",
    "-": "color: var(--jp-error-color0, #cf222e); background: rgba(248, 81, 73, 0.15);",
    "@": "color: var(--jp-brand-color1, #0969da);",
    "h": "font-weight: bold; opacity: 0.8;",
}


def fold_lines(text: str, limit: int = FOLD_LINES) -> tuple[str, int]:
    """The first ``limit`` lines of ``text`` and how many lines were left out."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= limit:
        return text, 0
    return "".join(lines[:limit]), len(lines) - limit


def tail_lines(text: str, limit: int = TAIL_LINES) -> tuple[str, int]:
    """The last ``limit`` lines of ``text`` and how many lines came before them."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= limit:
        return text, 0
    return "".join(lines[-limit:]), len(lines) - limit


def pre(text: str, extra_style: str = "") -> str:
    """Escaped preformatted text."""
    return f"<pre style='{PRE}{extra_style}'>{html.escape(text, quote=False)}</pre>"


def code_html(text: str, path: str) -> str:
    """``text`` highlighted as the language of ``path``'s extension (plain when unknown)."""
    try:
        lexer = get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return pre(text)
    if len(text) > HIGHLIGHT_CHARS:
        return pre(text)
    body = highlight(text, lexer, HtmlFormatter(nowrap=True, noclasses=True, style="friendly"))
    return f"<pre style='{PRE}'>{body}</pre>"


def diff_html(diff: str) -> str:
    """A unified diff with added, removed, hunk and header lines coloured."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            style = _DIFF_STYLES["h"]
        elif line[:1] in ("+", "-", "@"):
            style = _DIFF_STYLES[line[:1]]
        else:
            style = ""
        text = html.escape(line, quote=False) or " "
        out.append(f"<span style='display: block; {style}'>{text}</span>" if style
                   else f"<span style='display: block;'>{text}</span>")
    return f"<pre style='{PRE}'>{''.join(out)}</pre>"


def looks_like_diff(text: str) -> bool:
    """Whether ``text`` is a unified diff (``git diff`` output)."""
    head = text.lstrip()[:400]
    return head.startswith(("diff --git", "--- ")) or "\n@@ " in head or head.startswith("@@ ")
