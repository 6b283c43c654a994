"""read_file, write_file, delete_file and list_directory on real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from open_agent_jupyter.tools import files


async def test_read_file_numbers_lines(call, work: Path) -> None:
    (work / "a.txt").write_text("alpha\nbeta\ngamma\n")
    result = await call("read_file", path="a.txt")
    assert result.ok
    assert result.output.splitlines() == ["     1\talpha", "     2\tbeta", "     3\tgamma"]


async def test_read_file_line_range_inclusive(call, work: Path) -> None:
    (work / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 21)))
    result = await call("read_file", path=str(work / "a.txt"), start_line=5, end_line=7)
    assert result.ok
    assert [line.split("\t")[1] for line in result.output.splitlines()] == \
        ["line 5", "line 6", "line 7"]


async def test_read_file_start_only_reads_to_end(call, work: Path) -> None:
    (work / "a.txt").write_text("1\n2\n3\n")
    result = await call("read_file", path="a.txt", start_line=3)
    assert result.ok and result.output.strip() == "3\t3"


@pytest.mark.parametrize(("start", "end", "message"), [(10, None, "has 3 lines"),
                                                       (3, 2, "before start_line")])
async def test_read_file_bad_range(call, work: Path, start, end, message) -> None:
    (work / "a.txt").write_text("1\n2\n3\n")
    args = {"start_line": start} | ({"end_line": end} if end else {})
    result = await call("read_file", path="a.txt", **args)
    assert not result.ok and message in result.output


async def test_read_file_missing_directory_and_empty(call, work: Path) -> None:
    missing = await call("read_file", path="nope.txt")
    assert not missing.ok and "no such file" in missing.output
    (work / "sub").mkdir()
    folder = await call("read_file", path="sub")
    assert not folder.ok and "list_directory" in folder.output
    (work / "empty.txt").write_text("")
    empty = await call("read_file", path="empty.txt")
    assert empty.ok and "empty" in empty.output


async def test_read_file_refuses_binary_and_non_utf8(call, work: Path) -> None:
    (work / "blob.bin").write_bytes(b"ELF\0\0\x01binary")
    binary = await call("read_file", path="blob.bin")
    assert not binary.ok and "binary" in binary.output
    (work / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    latin = await call("read_file", path="latin.txt")
    assert not latin.ok and "not UTF-8" in latin.output


async def test_read_file_size_cap_needs_a_range(call, work: Path, monkeypatch) -> None:
    # A smaller cap stands in for a 10 MB file so the test stays fast.
    monkeypatch.setattr(files, "READ_LIMIT_BYTES", 1000)
    (work / "big.log").write_text("".join(f"entry {n}\n" for n in range(500)))
    whole = await call("read_file", path="big.log")
    assert not whole.ok and "start_line/end_line" in whole.output
    part = await call("read_file", path="big.log", start_line=100, end_line=101)
    assert part.ok and "entry 99" in part.output and "entry 100" in part.output


async def test_read_file_stops_at_output_limit_on_a_line(call, work: Path) -> None:
    (work / "long.txt").write_text("".join(f"{n:08d} " + "x" * 90 + "\n" for n in range(2000)))
    result = await call("read_file", path="long.txt")
    assert result.ok
    assert "continue with start_line=" in result.output
    assert len(result.output) <= files.OUTPUT_LIMIT
    assert "characters cut" not in result.output  # cut by the tool, not the registry


async def test_write_file_creates_parents_and_counts_bytes(call, work: Path) -> None:
    result = await call("write_file", path="deep/er/new.txt", content="héllo\n")
    assert result.ok and "Created" in result.output and "7 bytes" in result.output
    assert (work / "deep/er/new.txt").read_text(encoding="utf-8") == "héllo\n"
    again = await call("write_file", path="deep/er/new.txt", content="x")
    assert again.ok and "Overwrote" in again.output
    assert (work / "deep/er/new.txt").read_text() == "x"


async def test_write_file_says_created_and_diffs_a_replaced_text_file(call, work: Path) -> None:
    first = await call("write_file", path="app.py", content="a = 1\nb = 2\n")
    assert first.extra == {"created": True}
    again = await call("write_file", path="app.py", content="a = 1\nb = 3\nc = 4")
    assert again.extra is not None and again.extra["created"] is False
    diff = again.extra["diff"].splitlines()
    name = str(work / "app.py").lstrip("/")
    assert diff[:2] == [f"--- a/{name}", f"+++ b/{name}"]
    assert "-b = 2" in diff and "+b = 3" in diff and "+c = 4" in diff
    assert diff[-1] == "\\ No newline at end of file"
    (work / "blob.bin").write_bytes(b"\0\1\2")
    binary = await call("write_file", path="blob.bin", content="text now")
    assert binary.extra == {"created": False}  # no diff of a binary file
    (work / "huge.txt").write_text("x\n" * (files.DIFF_SOURCE_LIMIT // 2 + 10))
    huge = await call("write_file", path="huge.txt", content="small")
    assert huge.extra == {"created": False}


async def test_write_file_onto_a_directory_fails(call, work: Path) -> None:
    (work / "folder").mkdir()
    result = await call("write_file", path="folder", content="x")
    assert not result.ok and "directory" in result.output


async def test_delete_file_and_empty_dir(call, work: Path) -> None:
    (work / "f.txt").write_text("x")
    (work / "empty").mkdir()
    assert (await call("delete_file", path="f.txt")).ok
    assert not (work / "f.txt").exists()
    assert (await call("delete_file", path="empty")).ok
    assert not (work / "empty").exists()


async def test_delete_file_refuses_non_empty_dir_and_missing(call, work: Path) -> None:
    (work / "full").mkdir()
    (work / "full" / "keep.txt").write_text("x")
    full = await call("delete_file", path="full")
    assert not full.ok and "1 entries" in full.output
    assert (work / "full" / "keep.txt").exists()
    missing = await call("delete_file", path="ghost.txt")
    assert not missing.ok and "no such file" in missing.output


async def test_list_directory_tree_depth_and_skips(call, work: Path) -> None:
    (work / "src" / "pkg" / "deeper").mkdir(parents=True)
    (work / "src" / "pkg" / "deeper" / "hidden_by_depth.py").write_text("")
    (work / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (work / "README.md").write_text("hi")
    (work / "node_modules" / "lib").mkdir(parents=True)
    (work / "node_modules" / "lib" / "index.js").write_text("")
    result = await call("list_directory", path=".", max_depth=2)
    assert result.ok
    lines = result.output.splitlines()
    assert "  src/" in lines and "    pkg/" in lines
    assert "  README.md  (2 B)" in lines
    assert "  node_modules/  (skipped)" in lines
    assert "index.js" not in result.output
    assert "mod.py" not in result.output  # depth 3
    deeper = await call("list_directory", path=".")
    assert "mod.py" in deeper.output and "hidden_by_depth.py" not in deeper.output


async def test_list_directory_caps_entries(call, work: Path) -> None:
    for n in range(files.MAX_ENTRIES + 20):
        (work / f"f{n:04d}.txt").write_text("")
    result = await call("list_directory", path=".")
    assert result.ok and f"stopped after {files.MAX_ENTRIES} entries" in result.output
    assert len(result.output.splitlines()) == files.MAX_ENTRIES + 2


async def test_list_directory_errors_and_empty(call, work: Path) -> None:
    assert "no such directory" in (await call("list_directory", path="nope")).output
    (work / "f.txt").write_text("")
    assert not (await call("list_directory", path="f.txt")).ok
    (work / "void").mkdir()
    empty = await call("list_directory", path="void")
    assert empty.ok and "(empty)" in empty.output


async def test_list_directory_undecodable_names_and_symlinks(call, work: Path) -> None:
    os.close(os.open(os.path.join(os.fsencode(work), b"caf\xe9.txt"), os.O_CREAT | os.O_WRONLY))
    (work / "link").symlink_to("target.txt")
    result = await call("list_directory", path=".")
    assert result.ok and "caf\ufffd.txt" in result.output
    assert "link@ -> target.txt" in result.output
    json.dumps(result.output)  # surrogate escapes would make the log entry unencodable


async def test_write_file_refuses_text_without_a_utf8_form(registry, ctx, work: Path) -> None:
    # A model's JSON may carry a lone surrogate escape; it must not end the task.
    result = await registry.execute("write_file", '{"path": "s/a.txt", "content": "x\\ud800y"}',
                                    ctx)
    assert not result.ok and "no UTF-8 form at position 1" in result.output
    assert not (work / "s").exists()
