"""notebooks/analysis.ipynb executed end to end against the fake LLM: in process (nbclient)
and in a kernel of a real jupyter server (its cells sent over the kernel's websocket)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from tests.fakellm import FakeLLM
from tests.notebook.analysis_agent import ANSWER, CHART, analysis_agent
from tests.notebook.conftest import JupyterProcess, engine_env
from tests.notebook.kernelws import ServerKernel

ANALYSIS = Path(__file__).resolve().parents[2] / "notebooks" / "analysis.ipynb"


@pytest.fixture
def analysis_llm() -> Iterator[FakeLLM]:
    with FakeLLM(default=analysis_agent) as llm:
        yield llm


def check_results(results: list[dict[str, Any]], summary: str) -> None:
    listed, means, chart, edit = results
    assert "temperatures: dict (len=12)" in listed["content"]
    assert means["ok"] and "odd readings: [('2024-04', 48.0)]" in means["content"]
    assert chart["ok"] and "SVG image" in chart["content"]
    assert chart["outputs"][0]["data"]["image/svg+xml"].startswith("<svg")
    assert edit["ok"] and "inserted cell" in edit["content"]
    assert "completed after 5 iterations" in summary
    assert "monthly means: {'2024-01':" in summary


def saved_chart_cell(path: Path) -> Any:
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    assert saved.cells[-1].source == CHART
    return saved


def test_analysis_in_process(analysis_llm: FakeLLM, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(analysis_llm, tmp_path).items():
        monkeypatch.setenv(key, value)
    shutil.copy(ANALYSIS, tmp_path / "analysis.ipynb")
    nb = nbformat.read(tmp_path / "analysis.ipynb", as_version=4)
    probe = nbformat.v4.new_code_cell(  # no server to ask: the log is printed by the kernel
        "import json\nprint(json.dumps([e for e in _agent.log "
        "if e['entry_type'] == 'tool_result']))")
    nb.cells.append(probe)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = next(c for c in nb.cells if c.cell_type == "code" and "r = _agent" in c.source)
    summary = "".join(o.get("text", "") for o in last.outputs)
    check_results(json.loads(probe.outputs[0]["text"]), summary)
    saved_chart_cell(tmp_path / "analysis.ipynb")


async def test_analysis_in_a_server_kernel(analysis_llm: FakeLLM, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ANALYSIS, root / "analysis.ipynb")
    server = JupyterProcess(root, engine_env(analysis_llm, root))
    try:
        headers = server.headers
        session = httpx.post(server.url + "api/sessions", headers=headers, json={
            "path": "analysis.ipynb", "name": "analysis.ipynb", "type": "notebook",
            "kernel": {"name": "python3"}}).json()
        kernel = ServerKernel.attach(server.url, server.token, session["kernel"]["id"])
        nb = nbformat.read(root / "analysis.ipynb", as_version=4)
        out = ""
        for cell in (c for c in nb.cells if c.cell_type == "code"):
            text, errors = await kernel.run(cell.source)
            assert not errors, errors
            out = text
        tasks = httpx.get(server.url + "api/tasks", headers=headers).json()["tasks"]
        task = httpx.get(server.url + f"api/task/{tasks[0]['id']}", headers=headers).json()
        assert task["kernel_id"] == kernel.id and task["notebook"] == "analysis.ipynb"
        assert task["result"] == ANSWER
        check_results([e for e in task["log"] if e["entry_type"] == "tool_result"], out)
        saved_chart_cell(root / "analysis.ipynb")
    finally:
        server.close()
