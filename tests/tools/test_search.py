"""search_files and grep_search through the real ripgrep binary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from open_agent_jupyter.tools import search


@pytest.fixture
def tree(work: Path) -> Path:
    """A small source tree with a .git folder and a hidden file."""
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "src" / "pkg" / "core.py").write_text("def Hello():\n    return 'World'\n")
    (work / "src" / "pkg" / "test_core.py").write_text("from core import hello\n")
    (work / "notes.md").write_text("hello from the notes\n-x flag\n")
    (work / ".hidden.py").write_text("HELLO = 1\n")
    (work / ".git").mkdir()
    (work / ".git" / "config.py").write_text("hello = 'inside git'\n")
    return work


def test_find_rg_prefers_the_one_next_to_python() -> None:
    rg = search.find_rg()
    assert Path(rg).name in ("rg", "rg.exe")
    beside = Path(sys.executable).parent / "rg"
    if beside.exists():
        assert Path(rg) == beside


async def test_search_files_glob(call, tree: Path) -> None:
    result = await call("search_files", pattern="*.py")
    assert result.ok
    found = set(result.output.splitlines()[1:])
    assert found == {"src/pkg/core.py", "src/pkg/test_core.py", ".hidden.py"}
    tests = await call("search_files", pattern="test_*", path="src")
    assert tests.output.splitlines()[1:] == ["pkg/test_core.py"]


async def test_search_files_none_and_missing_path(call, tree: Path) -> None:
    none = await call("search_files", pattern="*.rs")
    assert none.ok and "No files matching" in none.output
    missing = await call("search_files", pattern="*", path="nowhere")
    assert not missing.ok and "no such file or directory" in missing.output


async def test_search_files_caps_the_listing(call, work: Path) -> None:
    for n in range(search.MAX_LINES + 10):
        (work / f"f{n}.txt").write_text("")
    result = await call("search_files", pattern="*.txt")
    assert result.ok and "more exist" in result.output
    assert len(result.output.splitlines()) == search.MAX_LINES + 1


async def test_grep_is_case_insensitive_by_default(call, tree: Path) -> None:
    result = await call("grep_search", pattern="hello")
    assert result.ok
    hits = {line.split(":")[0] for line in result.output.splitlines()[1:]}
    assert hits == {"src/pkg/core.py", "src/pkg/test_core.py", "notes.md", ".hidden.py"}
    assert "src/pkg/core.py:1:def Hello():" in result.output


async def test_grep_case_sensitive_and_file_pattern(call, tree: Path) -> None:
    exact = await call("grep_search", pattern="Hello", case_sensitive=True)
    assert exact.output.splitlines()[1:] == ["src/pkg/core.py:1:def Hello():"]
    only_md = await call("grep_search", pattern="hello", file_pattern="*.md")
    assert only_md.output.splitlines()[1:] == ["notes.md:1:hello from the notes"]


async def test_grep_in_a_single_file_and_dash_pattern(call, tree: Path) -> None:
    result = await call("grep_search", pattern="-x", path="notes.md")
    assert result.ok and "notes.md:2:-x flag" in result.output


async def test_grep_no_match(call, tree: Path) -> None:
    result = await call("grep_search", pattern="zebra")
    assert result.ok and "No matches" in result.output


async def test_grep_bad_regex_reports_rg_message(call, tree: Path) -> None:
    result = await call("grep_search", pattern="(unclosed")
    assert not result.ok and "regex parse error" in result.output


async def test_grep_caps_matches_and_long_lines(call, work: Path) -> None:
    for n in range(20):
        (work / f"f{n}.txt").write_text("match\n" * 40)
    (work / "wide.txt").write_text("match " + "y" * 5000 + "\n")
    many = await call("grep_search", pattern="match")
    assert many.ok and "stopped after" in many.output
    assert len(many.output.splitlines()) <= search.MAX_LINES + 2
    wide = await call("grep_search", pattern="match", path="wide.txt")
    assert len(wide.output) < 1000 and "omitted" in wide.output
