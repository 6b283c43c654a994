"""The in-kernel engine in a real kernel (nbclient): its news goes to the task's log only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.fakellm import FakeLLM, call, fault, text
from tests.notebook.conftest import engine_env


def run_cells(cells: list[str], cwd: Path, timeout: int = 120) -> Any:
    """Execute ``cells`` in a fresh python3 kernel; the executed notebook."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def streams(cell: Any, name: str) -> str:
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == name)


@pytest.fixture
def kernel_env(agent_llm: FakeLLM, work: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel inherits an environment that points the in-kernel engine at the fake LLM."""
    for name in ("OPEN_AGENT_URL", "OPEN_AGENT_TOKEN", "OPEN_AGENT_LOCAL_DB"):
        monkeypatch.delenv(name, raising=False)
    for key, value in engine_env(agent_llm, work).items():
        monkeypatch.setenv(key, value)
    return work


def test_the_in_kernel_engine_writes_nothing_to_stderr(agent_llm: FakeLLM,
                                                       kernel_env: Path) -> None:
    agent_llm.script(fault(429, "busy", headers={"Retry-After": "0"}),
                     call("run_command", {"command": "echo to-the-log >&2"}),
                     call("read_file", {"path": "missing.txt"}), text("all done"))
    nb = run_cells(["%load_ext open_agent_jupyter",
                    "r = %agent --local say hi",
                    "print(r.status, [e.get('kind') or e.get('stream') for e in r.log "
                    "if e['entry_type'] in ('notice', 'tool_output')][:2])"], kernel_env)
    assert [streams(cell, "stderr") for cell in nb.cells] == ["", "", ""]
    assert "completed ['retry', 'stderr']" in streams(nb.cells[2], "stdout")
