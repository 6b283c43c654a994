"""``GET /api/task/{id}/notebook`` against a real jupyter server, checked against OpenAPI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from tests.fakellm import FakeLLM, call, text


async def test_a_finished_task_downloads_as_a_notebook(api: Any, jp_fetch: Any, extension: Any,
                                                       fake_llm: FakeLLM) -> None:
    fake_llm.script(call("run_command", {"command": "echo hi"}), text("Said hi."))
    _, created = await api("POST", "api/task", {"task": "Say hi in the shell"})
    await (await extension.ensure_started()).wait(created["id"])

    status, body = await api("GET", f"api/task/{created['id']}/notebook")
    assert status == 200
    response = await jp_fetch("api", "task", created["id"], "notebook")
    assert response.headers["Content-Type"] == "application/x-ipynb+json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="open-agent-say-hi-in-the-shell-{created["id"][:8]}.ipynb"')
    nb = nbformat.reads(response.body.decode(), as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert json.loads(response.body) == body
    assert [c.source for c in nb.cells[1:]] == ["%%bash\necho hi", "## Answer\n\nSaid hi."]
    assert nb.cells[1].outputs[0]["text"] == "hi\n"


async def test_an_unknown_task_is_404(api: Any) -> None:
    for task_id in ("00000000-0000-4000-8000-000000000000", "not-a-task"):
        status, body = await api("GET", f"api/task/{task_id}/notebook")
        assert (status, body["status"]) == (404, 404)
        assert task_id in body["error"]


async def test_a_python_task_exports_and_reproduces(api: Any, extension: Any, fake_llm: FakeLLM,
                                                    work_dir: Path, tmp_path: Path) -> None:
    """The real ``python`` tool (a kernel of the task's own): its calls become code cells with
    their outputs, and the notebook run in a copy of the folder as it was makes the same files."""
    (work_dir / "numbers.txt").write_text("3\n1\n2\n")
    before = tmp_path / "before"
    shutil.copytree(work_dir, before)
    fake_llm.script(
        call("python", {"code": "nums = [int(x) for x in open('numbers.txt')]\n"
                                "print('read', len(nums))\nsum(nums)"}),
        call("python", {"code": "from IPython.display import HTML, display\n"
                                "display(HTML('<b>table</b>'))\n"
                                "open('total.txt', 'w').write(str(sum(nums)))"}),
        call("python", {"code": "1/0"}),
        call("run_command", {"command": "cat total.txt > copy.txt"}),
        call("write_file", {"path": "notes/summary.md", "content": "# Total\n6\n"}),
        text("The total is 6."))
    _, created = await api("POST", "api/task", {"task": "Add the numbers"})
    await (await extension.ensure_started()).wait(created["id"])
    status, body = await api("GET", f"api/task/{created['id']}/notebook")
    assert status == 200 and body["metadata"]["open_agent"]["status"] == "completed"
    nb = nbformat.from_dict(body)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    first, second, third = code[:3]
    assert first.source.startswith("nums = [int(x)")
    assert [(o["output_type"], o.get("text") or o.get("data")) for o in first.outputs] == [
        ("stream", "read 3\n"), ("execute_result", {"text/plain": "6"})]
    assert second.outputs[0]["output_type"] == "display_data"
    assert second.outputs[0]["data"]["text/html"] == "<b>table</b>"
    assert third.metadata.tags == ["raises-exception"]
    error = third.outputs[-1]
    assert (error["output_type"], error["ename"]) == ("error", "ZeroDivisionError")

    path = before / "export.ipynb"
    nbformat.write(nb, path)
    client = NotebookClient(nbformat.read(path, as_version=4), timeout=60,
                            kernel_name="python3", resources={"metadata": {"path": str(before)}})
    await client.async_execute()
    path.unlink()
    assert files_of(before) == files_of(work_dir)
    assert sorted(files_of(work_dir)) == ["copy.txt", "notes/summary.md", "numbers.txt",
                                          "total.txt"]


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".ipynb_checkpoints" not in p.parts}
