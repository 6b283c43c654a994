"""notebooks/quickstart.ipynb executed end to end (nbclient) against the fake LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.fakellm import FakeLLM
from tests.notebook.conftest import ANSWER, JupyterProcess, engine_env

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def run_notebook(cwd: Path) -> Any:
    nb = nbformat.read(QUICKSTART, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif "data" in out:
            parts.append(out["data"].get("text/markdown") or out["data"].get("text/plain", ""))
    return "".join(parts)


def cell_with(nb: Any, needle: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and needle in c.source)


def test_quickstart_in_process(agent_llm: FakeLLM, work: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    nb = run_notebook(work)
    assert "this kernel (in-process engine)" in text_of(cell_with(nb, "tasks run on"))
    used = text_of(cell_with(nb, "print(result.status"))
    assert "completed after 3 iterations" in used
    assert "['write_file', 'run_command']" in used and ANSWER in used
    assert ANSWER in text_of(cell_with(nb, "explained.result"))
    assert "completed" in text_of(cell_with(nb, "job.wait()"))
    assert "No Open Agent server" in text_of(cell_with(nb, "AgentClient()"))
    assert (work / "hello.py").exists()
    assert len(agent_llm.chat_requests()) == 9  # three tasks, three turns each


def test_quickstart_against_a_server(jupyter_server: JupyterProcess, work: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPEN_AGENT_URL", jupyter_server.url)
    monkeypatch.setenv("OPEN_AGENT_TOKEN", jupyter_server.token)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", "unused-by-the-kernel")
    nb = run_notebook(work)
    assert jupyter_server.url in text_of(cell_with(nb, "tasks run on"))
    assert "completed after 3 iterations" in text_of(cell_with(nb, "print(result.status"))
    rest = text_of(cell_with(nb, "AgentClient()"))
    lines = rest.splitlines()
    assert lines[:3] == ["1 thinking I will write the script.", "2 tool_call write_file",
                         "3 tool_result write_file"]
    assert "done completed" in lines and lines[-2] == "completed"
    assert int(lines[-1].split()[0]) >= 4
