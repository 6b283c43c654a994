"""Every task is a notebook: the exporter on real tasks (fake LLM) and on synthetic logs."""

from __future__ import annotations

import base64
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tasks.export import dumps, filename, task_notebook
from open_agent_jupyter.tasks.manager import TaskManager
from open_agent_jupyter.tasks.store import TaskStore
from tests.fakellm import FakeLLM, call, calls, text

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()


@pytest.fixture
async def local_manager(settings: Settings, tmp_path: Path) -> AsyncIterator[TaskManager]:
    """A manager running real local tasks against the fake LLM."""
    manager = TaskManager(settings, TaskStore(tmp_path / "tasks.sqlite"))
    await manager.start()
    yield manager
    await manager.close()


async def run_task(manager: TaskManager, task: str) -> dict[str, Any]:
    """Submit, wait, and return the task JSON with its log (as ``GET /api/task/{id}``)."""
    created = await manager.submit(task)
    final = await manager.wait(created.id)
    return final.to_dict(log=await manager.get_log(created.id))


def validated(task: dict[str, Any]) -> Any:
    """The export read back and validated by nbformat (4.5, cell ids)."""
    nb = nbformat.reads(dumps(task_notebook(task)), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids)
    return nb


def synthetic(entries: list[dict[str, Any]], **task: Any) -> dict[str, Any]:
    base = {"id": "0b3c5d6e-0000-4000-8000-000000000000", "status": "completed",
            "task": "Plot | the data", "model": "fake/model", "backend": "local",
            "working_dir": "/srv/work", "iterations": 3, "max_iterations": 50,
            "usage": {"prompt_tokens": 1200, "completion_tokens": 34, "cost_usd": 0.0123},
            "result": "The chart is made.", "error": None}
    base.update(task)
    for seq, entry in enumerate(entries, 1):
        entry.setdefault("seq", seq)
        entry.setdefault("timestamp", "2026-01-01T00:00:00+00:00")
    base["log"] = entries
    return base


def tool(call_id: str, name: str, arguments: dict[str, Any], content: str, ok: bool = True,
         **result: Any) -> list[dict[str, Any]]:
    return [{"entry_type": "tool_call", "tool": name, "call_id": call_id,
             "arguments": arguments, "content": f"{name}(...)"},
            {"entry_type": "tool_result", "tool": name, "call_id": call_id, "ok": ok,
             "duration_ms": 5.0, "content": content, **result}]


async def test_a_real_task_exports_as_a_valid_notebook(local_manager: TaskManager,
                                                       fake_llm: FakeLLM) -> None:
    fake_llm.script(
        call("write_file", {"path": "hello.py", "content": "print('hello')\n"},
             content="I will write the script."),
        calls([("run_command", {"command": "python3 hello.py"}),
               ("list_directory", {"path": "."})]),
        call("run_command", {"command": "echo oops >&2; exit 3"}),
        text("Done: **hello.py** prints hello."))
    task = await run_task(local_manager, "Create hello.py and run it")
    nb = validated(task)
    kinds = [(c.cell_type, c.source.splitlines()[0] if c.source else "") for c in nb.cells]
    assert kinds == [
        ("markdown", "# Open Agent task"), ("markdown", "I will write the script."),
        ("code", "%%writefile hello.py"), ("code", "%%bash"), ("markdown", kinds[4][1]),
        ("code", "%%bash"), ("markdown", "## Answer")]
    assert "list_directory" in nb.cells[4].source and "hello.py" in nb.cells[4].source
    header = nb.cells[0].source
    for needle in ("> Create hello.py and run it", "✔ completed", "`fake/model`", "$0.", task["id"]):
        assert needle in header
    assert nb.cells[3].outputs == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    assert [o["name"] for o in nb.cells[5].outputs] == ["stderr"]
    assert nb.cells[5].outputs[0]["text"] == "oops\n[exit code 3]\n"
    assert nb.cells[-1].source == "## Answer\n\nDone: **hello.py** prints hello."
    assert nb.metadata.open_agent.id == task["id"] and nb.metadata.kernelspec.name == "python3"
    assert nb.cells[2].metadata.open_agent.tool == "write_file"


def test_python_calls_become_code_cells_with_their_outputs() -> None:
    """Synthetic entries in the ``python`` tool's shape (its text sections, rich ``outputs``)."""
    entries = [
        *tool("c1", "python", {"code": "x = 41 + 1\nprint('hi')\nx"}, "stdout:\nhi\nresult:\n42"),
        *tool("c2", "python", {"code": "plot()"},
              "stdout:\nhello\nstderr:\nwarned\ndisplay: image/png image 2×2, 0 KB",
              outputs=[{"output_type": "display_data", "metadata": {},
                        "data": {"image/png": PNG, "text/plain": "<Figure>"}}]),
        *tool("c3", "python", {"code": "1/0"}, "error: ZeroDivisionError: division by zero\n"
              "Traceback (most recent call last):\n  1/0", ok=False),
        *tool("c5", "python", {"code": "df"}, "result: HTML table 2 rows × 1 columns",
              outputs=[{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                        "data": {"text/html": "<table/>", "text/plain": "df"}}]),
        *tool("c6", "python", {"code": "while True: pass"}, "Timed out after 1 s: the code was "
              "interrupted (the kernel and its variables are kept).\n(no output)", ok=False),
        {"entry_type": "tool_call", "tool": "python", "call_id": "c4",
         "arguments": {"code": "while True: pass"}, "content": "python"},
        {"entry_type": "thinking", "content": "Stopped."},
    ]
    nb = validated(synthetic(entries, status="cancelled", result=None, error="stopped"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["x = 41 + 1\nprint('hi')\nx", "plot()", "1/0", "df",
                                        "while True: pass", "while True: pass"]
    assert [(o["output_type"], o.get("text") or o.get("data")) for o in code[0].outputs] == [
        ("stream", "hi\n"), ("execute_result", {"text/plain": "42"})]
    assert [(o["output_type"], o.get("name")) for o in code[1].outputs] == [
        ("stream", "stdout"), ("stream", "stderr"), ("display_data", None)]
    assert code[1].outputs[2]["data"]["image/png"] == PNG
    assert code[2].metadata.tags == ["raises-exception"]
    assert code[2].outputs == [{"output_type": "error", "ename": "ZeroDivisionError",
                                "evalue": "division by zero",
                                "traceback": ["Traceback (most recent call last):", "  1/0"]}]
    assert [o["output_type"] for o in code[3].outputs] == ["execute_result"]
    assert code[3].outputs[0]["data"]["text/html"] == "<table/>"
    assert code[4].outputs[0]["text"].startswith("Timed out after 1 s")
    assert code[4].metadata.tags == ["raises-exception"] and code[5].outputs == []
    assert nb.cells[-1].source.startswith("## Cancelled\n\n```\nstopped")
    assert "■ cancelled" in nb.cells[0].source and "> Plot | the data\n" in nb.cells[0].source


def test_other_tools_errors_and_paths() -> None:
    content = "a ``` b\n" * 100
    entries = [
        *tool("r", "read_file", {"path": "notes.md"}, content),
        *tool("w", "write_file", {"path": "/srv/work/pkg/mod.py", "content": "x = 1\n"},
              "Created /srv/work/pkg/mod.py"),
        *tool("o", "write_file", {"path": "/etc/elsewhere.txt", "content": "no newline"},
              "Created"),
        *tool("f", "write_file", {"path": "nope/x", "content": "y\n"}, "denied", ok=False),
        *tool("b", "run_command", {"command": "ls", "cwd": "/srv/work/sub dir"},
              "Exit code: 0\nstdout:\n(empty)"),
        *tool("t", "run_command", {"command": "sleep 9"}, "Timed out after 1 s", ok=False),
        {"entry_type": "error", "content": "LLM said no"},
        {"entry_type": "tool_result", "tool": "git_status", "call_id": "z", "ok": True,
         "content": "clean", "duration_ms": 1.0},
    ]
    nb = validated(synthetic(entries))
    sources = [c.source for c in nb.cells]
    note = next(s for s in sources if "read_file" in s)
    assert "````\na ``` b" in note and len(note) < 500
    assert "import os\n\nos.makedirs('pkg', exist_ok=True)" in sources
    assert "%%writefile pkg/mod.py\nx = 1\n" in sources
    exact = next(s for s in sources if "/etc/elsewhere.txt" in s)
    assert "write_text('no newline'" in exact
    assert any("write_file" in s and "✘" in s and "denied" in s for s in sources)
    assert "%%bash\ncd 'sub dir'\nls" in sources
    timed_out = next(c for c in nb.cells if c.source == "%%bash\nsleep 9")
    assert timed_out.outputs[0]["text"].startswith("Timed out")
    assert any(s.startswith("⚠ **error:** LLM said no") for s in sources)
    assert any("git_status" in s and "clean" in s for s in sources)


def test_the_file_name_says_what_the_task_was() -> None:
    task = {"id": "0b3c5d6e-1234", "task": "Create hello.py, then RUN it!"}
    assert filename(task) == "open-agent-create-hello-py-then-run-it-0b3c5d6e.ipynb"
    assert filename({"id": "x"}) == "open-agent-x.ipynb"


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts}


async def test_the_exported_notebook_reproduces_the_files(
        local_manager: TaskManager, fake_llm: FakeLLM, settings: Settings,
        tmp_path: Path) -> None:
    work = Path(settings.working_dir)
    (work / "data.txt").write_text("3\n1\n2\n")
    before = tmp_path / "copy"
    shutil.copytree(work, before)  # the folder as it was before the task
    fake_llm.script(
        call("write_file", {"path": "sort_it.sh", "content": "sort -n data.txt > sorted.txt\n"}),
        call("run_command", {"command": "bash sort_it.sh && mkdir -p out && wc -l < data.txt"}),
        calls([("write_file", {"path": "out/report.md", "content": ">>> 6 lines\n... or 3"}),
               ("write_file", {"path": str(work / "deep/er/x y.txt"), "content": "$HOME {x}\n"})]),
        call("run_command", {"command": "cp ../sorted.txt copy.txt; ls", "cwd": str(work / "out")}),
        text("Sorted the data."))
    task = await run_task(local_manager, "Sort data.txt")
    assert task["status"] == "completed", task["error"]
    nb = validated(task)
    path = before / filename(task)
    path.write_text(dumps(task_notebook(task)))

    NotebookClient(nbformat.read(path, as_version=4), timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(before)}}).execute()
    assert files_of(before) == files_of(work)
    assert sorted(files_of(work)) == ["data.txt", "deep/er/x y.txt", "out/copy.txt",
                                      "out/report.md", "sort_it.sh", "sorted.txt"]
    assert any(c.source.startswith("%%writefile sort_it.sh") for c in nb.cells)


def test_a_call_that_was_not_approved_is_a_note_not_a_cell() -> None:
    def approval(call_id: str, status: str) -> dict[str, Any]:
        return {"entry_type": "approval", "content": status, "call_id": call_id,
                "approval": {"id": f"a-{call_id}", "call_id": call_id, "status": status}}

    entries = [
        approval("d", "pending"), approval("d", "denied"),
        *tool("d", "run_command", {"command": "rm -rf build"},
              "Denied by the person reviewing this task's tool calls. The call did not run.",
              ok=False),
        approval("p", "pending"), approval("p", "allowed"),
        *tool("p", "python", {"code": "print(1)"}, "stdout:\n1"),
        approval("w", "expired"),
        *tool("w", "write_file", {"path": "x.txt", "content": "x\n"}, "Not approved in time",
              ok=False),
    ]
    nb = validated(synthetic(entries))
    assert [c.source for c in nb.cells if c.cell_type == "code"] == ["print(1)"]
    notes = [c.source for c in nb.cells if "✘" in c.source]
    assert len(notes) == 2 and "rm -rf build" in notes[0] and "did not run" in notes[0]
