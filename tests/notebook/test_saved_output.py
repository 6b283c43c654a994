"""A saved notebook keeps its timelines: ``%agent`` run by nbclient in a real kernel, then the
saved output read back as GitHub, nbviewer or a later JupyterLab session would see it."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from open_agent_jupyter.notebook.static import timeline_html
from tests.fakellm import FakeLLM, call, text
from tests.notebook.conftest import ANSWER, JupyterProcess, engine_env

TASK_MIME = "application/vnd.open-agent.task+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def run_agent_notebook(cwd: Path, agent_cell: str, *more: str) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)
                for source in ("%load_ext open_agent_jupyter", agent_cell, *more)]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    path = cwd / "saved.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def the_one_output(nb: Any) -> dict[str, Any]:
    outputs = nb.cells[1].outputs  # a bare %%agent's value does not show again (§12.3)
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs
    return outputs[0]["data"]


def check_finished(data: dict[str, Any]) -> None:
    assert WIDGET_MIME in data  # the live view stays for front ends with a kernel
    assert data[TASK_MIME]["status"] == "completed"
    page = data["text/html"]
    for needle in ("write_file", "run_command", "✔ completed", "hello.py"):
        assert needle in page
    assert html.escape(ANSWER) in page
    plain = data["text/plain"]
    assert plain.startswith("✔ completed · fake/model · 3 iterations · 2 tool calls")
    assert "tools: write_file ✔, run_command ✔" in plain and ANSWER in plain
    assert "pending" not in plain


def test_in_kernel_engine(agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    data = the_one_output(run_agent_notebook(work, "r = %agent Create hello.py and run it"))
    check_finished(data)
    assert data[TASK_MIME]["base_url"] is None


def test_through_a_server(jupyter_server: JupyterProcess, work: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_AGENT_URL", jupyter_server.url)
    monkeypatch.setenv("OPEN_AGENT_TOKEN", jupyter_server.token)
    data = the_one_output(run_agent_notebook(work, "%%agent\nCreate hello.py and run it"))
    check_finished(data)
    assert data[TASK_MIME]["base_url"] == jupyter_server.url


def test_the_static_timeline_escapes_everything() -> None:
    task = {"id": "t'1", "status": "failed", "task": "<script>alert(1)</script>",
            "error": "<img src=x onerror=alert(2)>", "log": [
                {"entry_type": "tool_call", "tool": "run_command", "call_id": "a",
                 "arguments": {"command": "echo '<b>'"}},
                {"entry_type": "tool_result", "tool": "run_command", "call_id": "a", "ok": False,
                 "content": "</div><script>x</script>", "duration_ms": 3}]}
    page = timeline_html(task)
    assert "<script" not in page and "<img" not in page and "<b>'" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "✘ error" in page
    assert "data-task-id='t&#x27;1'" in page and "<style" not in page


def test_a_background_task_updates_its_output_when_it_ends(
        agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    nb = run_agent_notebook(work, "r = %agent --background Create hello.py and run it", (
        "import threading\nr.wait()\n"
        "for t in threading.enumerate():  # the display's last update is sent from its thread\n"
        "    if t.name.startswith('open-agent-display'):\n"
        "        t.join()\nprint(r.status)"))
    check_finished(the_one_output(nb))
    assert nb.cells[2].outputs[0]["text"] == "completed\n"


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
           "RU5ErkJggg==")


def test_a_chart_the_agent_made_stays_in_the_saved_output(
        agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    code = ("import base64\nfrom IPython.display import Image, display\n"
            f"display(Image(data=base64.b64decode({PNG_1PX!r}), format='png'))")
    agent_llm.script(call("python", {"code": code}), text("Drew the chart."))
    data = the_one_output(run_agent_notebook(work, "r = %agent Draw a chart"))
    assert "python" in data["text/html"] and "Drew the chart." in data["text/html"]
    assert f"<img src='data:image/png;base64,{PNG_1PX}'" in data["text/html"]


def test_only_real_base64_images_are_inlined() -> None:
    outputs = [{"output_type": "display_data", "data": {"image/png": PNG_1PX}},
               {"output_type": "display_data", "data": {"image/png": "x' onerror='alert(1)"}}]
    page = timeline_html({"status": "completed", "log": [
        {"entry_type": "tool_call", "tool": "python", "call_id": "p", "arguments": {"code": "x"}},
        {"entry_type": "tool_result", "tool": "python", "call_id": "p", "ok": True,
         "content": "display: image/png image 1×1", "outputs": outputs}]})
    assert page.count("<img ") == 1 and "onerror" not in page


def test_a_closed_widget_leaves_the_static_renderings() -> None:
    from open_agent_jupyter.notebook.bundle import task_bundle
    from open_agent_jupyter.notebook.widgets import TaskWidget

    widget = TaskWidget(task_id="t1")
    task = {"id": "t1", "status": "completed", "result": "ok", "log": []}
    assert WIDGET_MIME in task_bundle(task, widget)
    widget.close()
    data = task_bundle(task, widget, "http://127.0.0.1:1/")
    assert WIDGET_MIME not in data
    assert data[TASK_MIME] == {"task_id": "t1", "base_url": "http://127.0.0.1:1/",
                               "status": "completed"}
    assert data["text/plain"].startswith("✔ completed") and "ok" in data["text/html"]
